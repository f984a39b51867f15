//! A run's manifest while the runner writes it. The runner reads it through
//! `Deref` and changes it only through these methods, each of which saves it
//! (`RunDir::save`: a temporary file renamed over `manifest.json`) before it
//! returns: a kill between two changes leaves the last whole record, never a
//! half-written one, and no caller has a `&mut Manifest` to forget a save with.

use std::ops::Deref;

use super::store::{RunDir, StoreError};
use super::{Cell, Failure, LlamaBenchRecord, Manifest, Run, ServerStart, Timing};
use crate::status::CellStatus;

pub struct Recorder<'a> {
    dir: &'a RunDir,
    m: &'a mut Manifest,
}

impl Deref for Recorder<'_> {
    type Target = Manifest;

    fn deref(&self) -> &Manifest {
        self.m
    }
}

impl<'a> Recorder<'a> {
    /// Records into `m`, saved in `dir`.
    pub fn new(dir: &'a RunDir, m: &'a mut Manifest) -> Self {
        Recorder { dir, m }
    }

    fn cell_mut(&mut self, id: &str) -> Option<&mut Cell> {
        self.m.cells.iter_mut().find(|c| c.id == id)
    }

    fn save(&mut self) -> Result<(), StoreError> {
        self.dir.save(self.m)
    }

    /// The server start that serves cell `id` from now on.
    pub fn serve(&mut self, id: &str, start: &ServerStart) -> Result<(), StoreError> {
        if let Some(c) = self.cell_mut(id) {
            c.server = Some(start.clone());
        }
        self.save()
    }

    /// A run of cell `id` (warm-up or measured), and the cell's statistics
    /// with it.
    pub fn record_run(&mut self, id: &str, run: Run) -> Result<(), StoreError> {
        if let Some(c) = self.cell_mut(id) {
            c.runs.push(run);
            c.summarize();
        }
        self.save()
    }

    /// Cells `ids` failed, for `f`.
    pub fn fail_cells<'i>(
        &mut self,
        ids: impl IntoIterator<Item = &'i str>,
        f: &Failure,
    ) -> Result<(), StoreError> {
        for id in ids {
            if let Some(c) = self.cell_mut(id) {
                c.status = CellStatus::Failed;
                c.failure = Some(f.clone());
            }
        }
        self.save()
    }

    /// Cell `id` has the runs it wants.
    pub fn finish(&mut self, id: &str) -> Result<(), StoreError> {
        if let Some(c) = self.cell_mut(id) {
            c.status = CellStatus::Ok;
        }
        self.save()
    }

    /// One llama-bench run's record.
    pub fn record_llama_bench(&mut self, r: LlamaBenchRecord) -> Result<(), StoreError> {
        self.m.llama_bench.push(r);
        self.save()
    }

    /// Seconds spent, added to the run's timing by `f`: written with the next
    /// change (each is followed by one: the run it timed, the start it loaded),
    /// so a kill loses at most the seconds since.
    pub fn add_time(&mut self, f: impl FnOnce(&mut Timing)) {
        f(&mut self.m.timing);
    }

    /// A change to the run as a whole (the cells settled after the last
    /// round, the A/B's record, cells reopened for an added round), saved with
    /// the rest.
    pub fn change(&mut self, f: impl FnOnce(&mut Manifest)) -> Result<(), StoreError> {
        f(self.m);
        self.save()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::fixtures;

    #[test]
    fn every_change_is_on_disk_when_it_returns() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::create(&tmp.path().join("run")).unwrap();
        let mut m = fixtures::manifest();
        m.cells = vec![fixtures::cell(31, "default", vec![], None)];
        let id = m.cells[0].id.clone();
        let on_disk = || RunDir::open(dir.root()).load().unwrap();
        let mut rec = Recorder::new(&dir, &mut m);
        let run = fixtures::run(80.0, 400.0, 90.0, false);
        rec.record_run(&id, run.clone()).unwrap();
        assert_eq!(on_disk().cells[0].runs, vec![run]);
        assert_eq!(rec.cells[0].runs.len(), 1);
        let f = Failure {
            mode: crate::status::FailureMode::Timeout,
            message: "no answer".into(),
            evidence: Vec::new(),
        };
        rec.fail_cells([id.as_str(), "no-such-cell"], &f).unwrap();
        let saved = on_disk();
        assert_eq!(saved.cells[0].status, CellStatus::Failed);
        assert_eq!(saved.cells[0].failure.as_ref(), Some(&f));
        rec.finish(&id).unwrap();
        assert_eq!(on_disk().cells[0].status, CellStatus::Ok);
        rec.change(|m| m.error = Some("stopped".into())).unwrap();
        assert_eq!(on_disk().error.as_deref(), Some("stopped"));
    }
}
