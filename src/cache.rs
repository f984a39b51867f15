//! rigbench's cache directory: where fetched sources and models, the file-hash cache
//! and build contexts live. Chosen by `--cache-dir`, else `RIGBENCH_CACHE`, else
//! `$XDG_CACHE_HOME/rigbench`, else `~/.cache/rigbench`.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn new(root: PathBuf) -> Self {
        Cache { root }
    }

    /// The cache directory for this user, from the flag or the environment.
    pub fn locate(explicit: Option<PathBuf>) -> Self {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let root = explicit
            .or_else(|| env("RIGBENCH_CACHE"))
            .or_else(|| env("XDG_CACHE_HOME").map(|p| p.join("rigbench")))
            .or_else(|| env("HOME").map(|p| p.join(".cache").join("rigbench")))
            .unwrap_or_else(|| PathBuf::from(".rigbench-cache"));
        Cache { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// llama.cpp source archives: `<sha256>.tar.gz`, or `unpinned/<key>.tar.gz`.
    pub fn sources(&self) -> PathBuf {
        self.root.join("sources")
    }

    /// Models: `<sha256>/<file>`, or `unpinned/<key>/<file>`.
    pub fn models(&self) -> PathBuf {
        self.root.join("models")
    }

    /// Synthetic models: `<recipe key>/<file>` and `made.json` beside it.
    pub fn synthetic(&self) -> PathBuf {
        self.root.join("synthetic")
    }

    /// Partial downloads and pip's scratch space; emptied of a file once it is done.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The GPU driver's shader cache shared by rigbench's containers
    /// (`host::devices::Passthrough::shader_cache`).
    pub fn shader_cache(&self) -> PathBuf {
        self.root.join("shader-cache")
    }

    /// The temporary directory (`TMPDIR`) of the Podman service rigbench starts:
    /// its build scratch and the build's cache mounts, among them the compiler
    /// cache (`buildah-cache/rigbench-ccache`, images/build-llama.sh). Kept with
    /// the other caches: Podman's default, /var/tmp, is cleaned by hosts and CI
    /// machines that keep the image store, and a rebuild then compiles anew.
    pub fn engine_tmp(&self) -> PathBuf {
        self.root.join("engine-tmp")
    }

    /// Build contexts assembled for the engine.
    pub fn contexts(&self) -> PathBuf {
        self.root.join("contexts")
    }

    /// The (device, inode, size, mtime) → SHA-256 cache.
    pub fn hashes(&self) -> PathBuf {
        self.root.join("hashes.json")
    }
}
