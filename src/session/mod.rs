//! A run's pipeline, library-side: fetch the sources and models (checking, on
//! a resume, that they are the files already measured), build or reuse the
//! images, run the matrix and llama-bench, saving the manifest after each
//! step, and close the manifest's timing. `commands::run` keeps what is the
//! command's: arguments, signals, exit codes and what is printed.

pub mod host_probe;
pub mod prepare;
pub mod remote_files;
pub mod remote_synth;
pub mod remote_telemetry;
pub mod synthetic;

use std::path::Path;
use std::time::Instant;

use crate::cache::Cache;
use crate::engine::Engine;
use crate::fetch::{FetchedModel, FetchedSource, Fetcher, ModelFiles};
use crate::image::{BuildPlace, Rebuild};
use crate::manifest::recorder::Recorder;
use crate::manifest::store::RunDir;
use crate::manifest::{Manifest, ModelRecord};
use crate::plan::matrix::Matrix;
use crate::runner::{Prepared, Runner};
use crate::telemetry::sampler::Sampler;

/// Held while a run fetches or makes its sources and models into the cache.
static FETCHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Everything a run's pipeline works with besides its manifest.
pub struct Session<'a, E: Engine> {
    pub engine: &'a E,
    pub cache: &'a Cache,
    pub dir: &'a RunDir,
    pub matrix: &'a Matrix,
    /// Whether images are built again (`rerun`).
    pub rebuild: Rebuild,
    pub sampler: Option<&'a Sampler>,
    /// For another host's engine: what puts the models there.
    pub there: Option<&'a There>,
}

/// Another host's engine as the models' copies there need it: how it is
/// named, and this rigbench (which checks each copy's sha256 there).
pub struct There {
    pub engine: String,
    pub binary: std::path::PathBuf,
}

impl There {
    pub async fn of<E: Engine>(engine: &E) -> anyhow::Result<There> {
        Ok(There {
            engine: engine.info().await?.socket,
            binary: std::env::current_exe().map_err(|e| {
                anyhow::anyhow!("cannot find this rigbench's executable to run on that host: {e}")
            })?,
        })
    }
}

impl<E: Engine> Session<'_, E> {
    /// Fetches, builds (or reuses) and runs what the manifest still lacks.
    pub async fn run(&self, m: &mut Manifest) -> anyhow::Result<()> {
        let m = &mut Recorder::new(self.dir, m);
        let t = Instant::now();
        let mut fetcher = Fetcher::new(self.cache)?;
        // One run at a time fetches into the cache (`run --on` runs several):
        // the next finds the files there instead of writing the same ones.
        let fetching = FETCHING.lock().await;
        let sources = prepare::sources(&mut fetcher, &m.plan).await?;
        let needed = self.matrix.models_needed(&m.plan);
        let there = self.there.is_some();
        let obtained = prepare::models(&mut fetcher, self.cache, &m.plan, &needed, there).await?;
        drop(fetching);
        m.add_time(|x| x.fetch_s += t.elapsed().as_secs_f64());
        self.images(m, &sources).await?;
        let models = self
            .record_models(m, &mut fetcher, obtained, &sources)
            .await?;
        let t = Instant::now();
        let files = self.model_files(&m.plan, &models).await?;
        m.add_time(|x| x.fetch_s += t.elapsed().as_secs_f64());
        self.measure(m, files).await
    }

    /// Each model's files as its containers mount them: from here, or, on
    /// another host's engine, from the volume there its files are copied
    /// into (once; checked by sha256 there).
    async fn model_files(
        &self,
        plan: &crate::plan::Plan,
        models: &[Option<FetchedModel>],
    ) -> anyhow::Result<Vec<ModelFiles>> {
        let mut out = Vec::new();
        // A model needed only for a synthetic one's vocabulary is not copied.
        let measured = self.matrix.models_measured(plan);
        for ((spec, f), used) in plan.models.iter().zip(models).zip(measured) {
            let Some(f) = f.as_ref().filter(|_| used) else {
                // An unused model's files: none (no group or llama-bench run names it).
                out.push(ModelFiles::default());
                continue;
            };
            let mut files = f.files();
            if let Some(made) = &f.there {
                // Made there, in its volume.
                files.volume = Some(made.volume.clone());
            } else if let Some(there) = self.there {
                let (volume, placed) = remote_files::fetched_model_volume(
                    self.engine,
                    &there.engine,
                    f,
                    &there.binary,
                )
                .await?;
                log::info!(
                    "model {}: on {} in volume {volume} ({}; sha256 checked there)",
                    spec.name,
                    there.engine,
                    placed.said()
                );
                files.volume = Some(volume);
            }
            out.push(files);
        }
        Ok(out)
    }

    /// The models made ready (synthetic ones that llama-quantize makes, in
    /// the images now built) and recorded in the manifest.
    async fn record_models(
        &self,
        m: &mut Recorder<'_>,
        fetcher: &mut Fetcher,
        obtained: Vec<prepare::Obtained>,
        sources: &[FetchedSource],
    ) -> anyhow::Result<Vec<Option<FetchedModel>>> {
        let t = Instant::now();
        let fetched = prepare::finish_models(
            self.engine,
            self.there,
            fetcher,
            self.cache,
            &m.plan,
            &m.images,
            &self.matrix.passthroughs,
            obtained,
        )
        .await?;
        let records = prepare::model_records(&m.plan, &fetched).await?;
        check_same_inputs(m, &records, sources)?;
        m.change(|m| {
            m.models = kept_records(&m.plan, &m.models, records);
            m.timing.fetch_s += t.elapsed().as_secs_f64();
        })?;
        Ok(fetched)
    }

    /// The images of every backend this host can run, recorded in the manifest;
    /// on a resume, an image that changed since is noted.
    async fn images(&self, m: &mut Recorder<'_>, sources: &[FetchedSource]) -> anyhow::Result<()> {
        let t = Instant::now();
        let backends: Vec<_> = (self.matrix.images.iter())
            .filter_map(|i| Some((i, self.matrix.passthroughs.get(&i.backend)?)))
            .collect();
        let place = BuildPlace {
            cache: self.cache,
            logs: &self.dir.logs(),
            rebuild: self.rebuild,
        };
        let images = prepare::images(self.engine, &m.plan, &backends, sources, &place).await?;
        for img in &images {
            let before = m
                .images
                .iter()
                .find(|o| o.backend == img.backend && o.source == img.source);
            if let Some(old) = before.filter(|o| o.image_id != img.image_id) {
                log::info!(
                    "warning: the {} ({}) image is {} now, {} before the resume",
                    img.backend,
                    img.source,
                    img.image_id,
                    old.image_id
                );
            }
        }
        m.change(|m| {
            m.images = images;
            m.timing.build_s += t.elapsed().as_secs_f64();
        })?;
        Ok(())
    }

    /// The matrix's cells and llama-bench, in the recorded images.
    async fn measure(
        &self,
        m: &mut Recorder<'_>,
        model_files: Vec<ModelFiles>,
    ) -> anyhow::Result<()> {
        let run_id = m.run_id.clone();
        let sources = &m.plan.sources;
        let backends = m
            .images
            .iter()
            .filter_map(|i| {
                let si = sources.iter().position(|s| s.name == i.source)?;
                let prepared = Prepared {
                    image_id: i.image_id.clone(),
                    passthrough: self.matrix.passthroughs.get(&i.backend)?.clone(),
                };
                Some(((i.backend, si), prepared))
            })
            .collect();
        let runner = Runner {
            engine: self.engine,
            dir: self.dir,
            run_id: &run_id,
            backends,
            model_files,
            sampler: self.sampler,
            rates: crate::report::roofline::estimate_rates(&m.plan, &m.host),
        };
        let planned = match &m.plan.llama_bench {
            Some(s) => self
                .matrix
                .llama_bench
                .iter()
                .map(|r| crate::manifest::PlannedLlamaBench {
                    backend: r.backend,
                    source: r.source_name.clone(),
                    model: r.model_name.clone(),
                    argv: crate::llama_bench::planned_argv(s, r),
                })
                .collect(),
            None => Vec::new(),
        };
        m.change(|m| m.llama_bench_planned = planned)?;
        runner.run(m, self.matrix).await?;
        runner.run_llama_bench(m, self.matrix).await?;
        Ok(())
    }
}

/// Closes the manifest's wall time: `total_s` gains this process's time since
/// `started`, and `other_s` is what no step accounts for.
pub fn close_timing(m: &mut Manifest, started: Instant) {
    let t = &mut m.timing;
    t.total_s += started.elapsed().as_secs_f64();
    t.other_s = (t.total_s
        - t.fetch_s
        - t.build_s
        - t.model_load_s
        - t.warmup_requests_s
        - t.measured_requests_s
        - t.cooldown_s)
        .max(0.0);
}

/// Starts the telemetry sampler for this host at the plan's interval, saying
/// when no GPU can be read.
pub fn sampler(m: &Manifest) -> Sampler {
    let sampler = Sampler::start(
        crate::telemetry::Probe::discover(Path::new("/")),
        std::time::Duration::from_millis(m.plan.bench.telemetry_interval_ms),
    );
    if !sampler.has_gpus() {
        log::info!(
            "no amdgpu card and no NVIDIA GPU through NVML: GPU telemetry unavailable (MemAvailable is still recorded)"
        );
    }
    sampler
}

/// The models' records after a (resumed) run prepared `new`: those, and each
/// recorded before that this host did not prepare now (a model only a backend
/// missing here used: its finished cells keep their model's facts), in plan
/// order.
fn kept_records(
    plan: &crate::plan::Plan,
    old: &[ModelRecord],
    new: Vec<ModelRecord>,
) -> Vec<ModelRecord> {
    let mut all = new;
    for o in old {
        if !all.iter().any(|n| n.name == o.name) {
            all.push(o.clone());
        }
    }
    let at = |r: &ModelRecord| plan.models.iter().position(|p| p.name == r.name);
    all.sort_by_key(|r| at(r));
    all
}

/// On a resume, the source and models must be the very files the finished runs
/// used (an unpinned download may have changed since).
fn check_same_inputs(
    m: &Manifest,
    models: &[ModelRecord],
    sources: &[FetchedSource],
) -> anyhow::Result<()> {
    for old in &m.models {
        if let Some(new) = models.iter().find(|n| n.name == old.name) {
            if new.sha256 != old.sha256 {
                anyhow::bail!(
                    "model {}: sha256 {} now, {} in the runs already recorded; start a new run instead of resuming",
                    old.name,
                    new.sha256,
                    old.sha256
                );
            }
        }
    }
    for (src, now) in m.plan.sources.iter().zip(sources) {
        if let Some(old) = m.images.iter().find(|i| i.source == src.name) {
            if old.llama_cpp.source_sha256 != now.sha256 {
                anyhow::bail!(
                    "llama.cpp source {}: sha256 {} now, {} in the runs already recorded; start a new run instead of resuming",
                    src.name,
                    now.sha256,
                    old.llama_cpp.source_sha256
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::fixtures::synthetic_record;

    #[test]
    fn a_resume_keeps_the_records_of_models_it_did_not_prepare_in_plan_order() {
        let text = include_str!("../../plans/h200-study.toml");
        let plan = crate::plan::parse(text, "h200-study.toml", 16).unwrap();
        let names: Vec<&str> = plan.models.iter().map(|m| m.name.as_str()).collect();
        // Recorded before: the first and the third; prepared now: the fourth
        // and the first again (its new record wins).
        let old = vec![synthetic_record(names[0]), synthetic_record(names[2])];
        let mut again = synthetic_record(names[0]);
        again.sha256 = "new".into();
        let new = vec![synthetic_record(names[3]), again];
        let kept = kept_records(&plan, &old, new);
        let got: Vec<(&str, &str)> = kept
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    if r.sha256 == "new" { "remade" } else { "as is" },
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (names[0], "remade"),
                (names[2], "as is"),
                (names[3], "as is")
            ]
        );
    }
}
