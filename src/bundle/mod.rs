//! Run bundles: one `.tar.gz` holding a run directory, byte-for-byte the same
//! each time the same run is bundled, with `SHA256SUMS` beside the files;
//! `read` opens a bundle safely and checks it. The only module that reads or
//! writes tar archives of runs.
//!
//! Determinism: entries sorted by path under one top directory
//! `rigbench-<run id>/`, regular files only (mode 0644, owner 0:0, no user or
//! group names, mtime fixed at 2000-01-01), ustar headers, a gzip header with
//! mtime 0, no file name and OS "unknown", compression level 9.

pub mod read;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::hash::sha256_hex;
use crate::manifest::store::RunDir;

/// The mtime of every entry: 2000-01-01T00:00:00Z.
pub const FIXED_MTIME: u64 = 946_684_800;
/// The checksum file's name inside the top directory.
pub const SUMS: &str = "SHA256SUMS";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Refused(String),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BundleError + '_ {
    move |e| BundleError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Every regular file under `root`, as sorted relative paths with `/`.
/// A symlink or other special file in the run directory is refused.
fn files(root: &Path) -> Result<Vec<String>, BundleError> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io(&path))?;
            let name = rel.join(entry.file_name());
            if kind.is_dir() {
                stack.push(name);
            } else if kind.is_file() {
                let s = name.to_str().ok_or_else(|| {
                    BundleError::Refused(format!("{}: not a UTF-8 file name", path.display()))
                })?;
                out.push(s.replace('\\', "/"));
            } else {
                return Err(BundleError::Refused(format!(
                    "{}: not a regular file or directory; a run directory holds only those",
                    path.display()
                )));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `SHA256SUMS` text: "<sha256>  <path>" per file, sorted by path.
pub fn sums_text(entries: &[(String, Vec<u8>)]) -> String {
    entries
        .iter()
        .map(|(p, data)| format!("{}  {p}\n", sha256_hex(data)))
        .collect()
}

/// Writes the bundle of the run in `dir` to `out`; returns the top directory's
/// name. The manifest must verify; an existing `out` is replaced atomically.
pub fn write(dir: &Path, out: &Path) -> Result<String, BundleError> {
    let run = RunDir::open(dir);
    let m = run
        .load()
        .map_err(|e| BundleError::Refused(format!("{e}; only a verifiable run is bundled")))?;
    let top = format!("rigbench-{}", m.run_id);
    let mut entries = Vec::new();
    for rel in files(dir)? {
        if rel == SUMS {
            continue;
        }
        let path = dir.join(&rel);
        let data = std::fs::read(&path).map_err(io(&path))?;
        entries.push((rel, data));
    }
    let sums = sums_text(&entries);
    entries.push((SUMS.to_string(), sums.into_bytes()));
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(parent).map_err(io(parent))?;
    {
        let gz = flate2::GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(tmp.as_file(), flate2::Compression::best());
        let mut tar = tar::Builder::new(gz);
        tar.mode(tar::HeaderMode::Deterministic);
        for (rel, data) in &entries {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(FIXED_MTIME);
            h.set_size(data.len() as u64);
            tar.append_data(&mut h, format!("{top}/{rel}"), data.as_slice())
                .map_err(io(out))?;
        }
        let gz = tar.into_inner().map_err(io(out))?;
        let mut f = gz.finish().map_err(io(out))?;
        f.flush().map_err(io(out))?;
    }
    tmp.as_file().sync_all().map_err(io(out))?;
    tmp.persist(out).map_err(|e| BundleError::Io {
        path: out.display().to_string(),
        message: e.error.to_string(),
    })?;
    Ok(top)
}

#[cfg(test)]
mod tests;
