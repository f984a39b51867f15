//! The run directory on disk: `manifest.json`, `logs/`, the reports. The manifest
//! is rewritten after every finished run through a synced temporary file and a
//! rename, so a crash or a kill leaves the last complete version, never a torn one.

use std::path::{Path, PathBuf};

use super::{Manifest, integrity};
use crate::hash::write_atomic;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{dir} already holds a run (manifest.json); choose another --out, or remove it to start over"
    )]
    Occupied { dir: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error(
        "{path}: no space left on the filesystem that holds {dir}. The manifest on disk is the \
         last complete one (it verifies: `rigbench verify {dir}`); free space there and go on \
         with `rigbench run --resume {dir}`"
    )]
    Full { path: String, dir: String },
}

/// A run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Creates `root` (and `logs/`) for a new run; refuses a directory that
    /// already holds a manifest, so nothing recorded is overwritten.
    pub fn create(root: &Path) -> Result<Self, StoreError> {
        if root.join("manifest.json").exists() {
            return Err(StoreError::Occupied {
                dir: root.display().to_string(),
            });
        }
        let dir = RunDir {
            root: root.to_path_buf(),
        };
        std::fs::create_dir_all(dir.logs()).map_err(|e| StoreError::Io {
            path: dir.logs().display().to_string(),
            message: e.to_string(),
        })?;
        Ok(dir)
    }

    /// An existing run directory (for `report`).
    pub fn open(root: &Path) -> Self {
        RunDir {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.root.join("manifest.json")
    }

    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Seals and writes the manifest.
    pub fn save(&self, m: &mut Manifest) -> Result<(), StoreError> {
        let path = self.manifest_path();
        let io = |message: String| StoreError::Io {
            path: path.display().to_string(),
            message,
        };
        m.updated_at = super::now_rfc3339();
        m.integrity.sha256 = integrity::compute(m).map_err(|e| io(e.to_string()))?;
        let mut bytes = serde_json::to_vec_pretty(m).map_err(|e| io(e.to_string()))?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes).map_err(|e| {
            if e.kind() == std::io::ErrorKind::StorageFull {
                StoreError::Full {
                    path: path.display().to_string(),
                    dir: self.root.display().to_string(),
                }
            } else {
                io(e.to_string())
            }
        })
    }

    /// Reads and verifies the manifest.
    pub fn load(&self) -> Result<Manifest, StoreError> {
        let path = self.manifest_path();
        let io = |message: String| StoreError::Io {
            path: path.display().to_string(),
            message,
        };
        let bytes = std::fs::read(&path).map_err(|e| io(e.to_string()))?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| io(format!("not valid JSON: {e}")))?;
        integrity::verify(&value).map_err(io)?;
        serde_json::from_value(value).map_err(|e| io(format!("not a rigbench manifest: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::probe;

    /// Regression: without serde_json's `float_roundtrip`, some floats parsed back
    /// from manifest.json differed in the last bit and the integrity check failed.
    #[test]
    fn integrity_survives_the_float_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(&dir.path().join("r")).unwrap();
        let plan = crate::plan::builtin(2).unwrap();
        let mut m = Manifest::new("r1", plan, probe(Path::new("/nonexistent")), None);
        m.timing.total_s = 0.1 + 0.2;
        m.timing.fetch_s = 2.0 / 3.0;
        m.timing.build_s = 44_145.712_345_678_9;
        m.timing.other_s = 1e-7 / 3.0;
        m.timing.model_load_s = 0.449_127_593_000_000_03;
        run.save(&mut m).unwrap();
        let back = run.load().unwrap();
        assert_eq!(back, m);
    }

    /// A new run directory with a fresh manifest saved in it.
    fn saved_run() -> (tempfile::TempDir, RunDir) {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(&dir.path().join("r")).unwrap();
        let mut m = Manifest::new(
            "r1",
            crate::plan::builtin(2).unwrap(),
            probe(Path::new("/x")),
            None,
        );
        run.save(&mut m).unwrap();
        (dir, run)
    }

    #[test]
    fn a_status_that_is_no_status_is_refused_with_the_file_and_the_words_it_may_be() {
        let (_dir, run) = saved_run();
        // Re-sealed, so that the integrity check passes and the type decides.
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.manifest_path()).unwrap()).unwrap();
        v["status"] = "finished".into();
        v["integrity"]["sha256"] = integrity::hash_value(&v).unwrap().into();
        std::fs::write(run.manifest_path(), serde_json::to_vec(&v).unwrap()).unwrap();
        let err = run.load().unwrap_err().to_string();
        assert!(err.contains("manifest.json"), "{err}");
        assert!(
            err.contains("unknown variant `finished`") && err.contains("`complete`"),
            "{err}"
        );
    }

    /// A manifest written before the statuses and failure modes became types
    /// (the H200 run of 2026-12-01, with failed llama-bench records) reads and
    /// writes back byte for byte: the types changed nothing on disk.
    #[test]
    fn a_manifest_written_before_the_typed_vocabulary_writes_back_byte_identical() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/h200-2026-12/a");
        let m = RunDir::open(&path).load().unwrap();
        assert!(m.llama_bench.iter().any(|r| r.failure.is_some()));
        let mut bytes = serde_json::to_vec_pretty(&m).unwrap();
        bytes.push(b'\n');
        let original = std::fs::read(path.join("manifest.json")).unwrap();
        assert!(
            bytes == original,
            "the manifest did not write back as it was"
        );
    }

    #[test]
    fn a_tampered_manifest_is_refused() {
        let (_dir, run) = saved_run();
        let text = std::fs::read_to_string(run.manifest_path()).unwrap();
        std::fs::write(
            run.manifest_path(),
            text.replace("\"running\"", "\"complete\""),
        )
        .unwrap();
        let err = run.load().unwrap_err().to_string();
        assert!(err.contains("the manifest was changed"), "{err}");
    }

    #[test]
    fn a_directory_holding_a_run_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let mut m = Manifest::new(
            "r1",
            crate::plan::builtin(2).unwrap(),
            probe(Path::new("/x")),
            None,
        );
        run.save(&mut m).unwrap();
        let err = RunDir::create(dir.path()).unwrap_err().to_string();
        assert!(err.contains("already holds a run"), "{err}");
    }
}
