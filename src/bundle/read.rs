//! Opening a bundle that may come from anyone: every entry is checked before a
//! byte is written. Only regular files and directories under one top directory;
//! absolute paths, `..`, symlinks, hard links, devices, FIFOs, duplicate names,
//! oversize entries or archives, files missing from or not matching
//! `SHA256SUMS`, and a manifest whose integrity hash fails are refused, each
//! with the entry named. `import` writes into a new directory beside the target
//! and renames it into place, so a refused bundle leaves nothing behind.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path};

use super::{BundleError, SUMS, sums_text};
use crate::hash::sha256_hex;

/// Largest single entry accepted.
pub const MAX_ENTRY_BYTES: u64 = 1 << 30;
/// Largest total of all entries.
pub const MAX_TOTAL_BYTES: u64 = 4 << 30;
/// The most reserved ahead for one entry; a larger one grows as it is read.
const PREALLOC_BYTES: u64 = 1 << 20;
/// Most entries accepted.
pub const MAX_ENTRIES: usize = 100_000;

/// A checked bundle in memory.
#[derive(Debug)]
pub struct Bundle {
    /// The one top-level directory.
    pub top: String,
    /// Files by path below the top directory.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The manifest's integrity hash.
    pub integrity: String,
}

fn refused(msg: impl Into<String>) -> BundleError {
    BundleError::Refused(msg.into())
}

/// Splits an entry path into its top directory and the rest, refusing anything
/// that could leave the target.
fn split(path: &Path) -> Result<(String, String), BundleError> {
    let shown = path.display().to_string();
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => parts.push(
                s.to_str()
                    .ok_or_else(|| refused(format!("{shown}: not a UTF-8 name")))?
                    .to_string(),
            ),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(refused(format!("{shown}: \"..\" in an entry path")));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(refused(format!("{shown}: an absolute entry path")));
            }
        }
    }
    let Some((top, rest)) = parts.split_first() else {
        return Err(refused(format!("{shown}: an empty entry path")));
    };
    Ok((top.clone(), rest.join("/")))
}

/// Reads and checks the bundle at `path`; a refusal names the bundle's file
/// and the entry.
pub fn open(path: &Path) -> Result<Bundle, BundleError> {
    read_checked(path).map_err(|e| match e {
        BundleError::Refused(m) => BundleError::Refused(format!("{}: {m}", path.display())),
        other => other,
    })
}

fn read_checked(path: &Path) -> Result<Bundle, BundleError> {
    let file = std::fs::File::open(path).map_err(super::io(path))?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut top: Option<String> = None;
    let mut files = BTreeMap::new();
    let mut dirs = std::collections::BTreeSet::new();
    let mut total = 0u64;
    let mut count = 0usize;
    for entry in ar.entries().map_err(super::io(path))? {
        let mut entry = entry.map_err(super::io(path))?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(refused(format!("more than {MAX_ENTRIES} entries")));
        }
        let p = entry.path().map_err(super::io(path))?.into_owned();
        let shown = p.display().to_string();
        let kind = entry.header().entry_type();
        let is_dir = kind.is_dir();
        if !(kind.is_file() || is_dir) {
            let what = if kind.is_symlink() {
                "a symbolic link"
            } else if kind.is_hard_link() {
                "a hard link"
            } else if kind.is_character_special() || kind.is_block_special() {
                "a device"
            } else if kind.is_fifo() {
                "a FIFO"
            } else {
                "not a regular file or directory"
            };
            return Err(refused(format!(
                "{shown}: {what}; a bundle holds only files and directories"
            )));
        }
        let (t, rest) = split(&p)?;
        match &top {
            None => top = Some(t),
            Some(x) if *x != t => {
                return Err(refused(format!(
                    "{shown}: outside the bundle's one top directory {x}"
                )));
            }
            Some(_) => {}
        }
        if is_dir {
            dirs.insert(rest);
            continue;
        }
        if rest.is_empty() {
            return Err(refused(format!(
                "{shown}: a file where the top directory should be"
            )));
        }
        let size = entry.header().size().map_err(super::io(path))?;
        if size > MAX_ENTRY_BYTES {
            return Err(refused(format!(
                "{shown}: {size} bytes, more than the {MAX_ENTRY_BYTES} a bundle entry may have"
            )));
        }
        total += size;
        if total > MAX_TOTAL_BYTES {
            return Err(refused(format!(
                "the entries add up to more than {MAX_TOTAL_BYTES} bytes"
            )));
        }
        // Room for what the header claims only up to a bound: a forged
        // header may claim a gigabyte in an archive of a few bytes.
        let claimed = usize::try_from(size.min(PREALLOC_BYTES)).unwrap_or(0);
        let mut data = Vec::with_capacity(claimed);
        (&mut entry)
            .take(size)
            .read_to_end(&mut data)
            .map_err(super::io(path))?;
        if files.insert(rest.clone(), data).is_some() {
            return Err(refused(format!("{shown}: appears twice in the bundle")));
        }
    }
    for d in &dirs {
        if files.contains_key(d) {
            return Err(refused(format!("{d}: both a file and a directory")));
        }
    }
    let top = top.ok_or_else(|| refused("the bundle is empty"))?;
    let integrity = check(&files)?;
    Ok(Bundle {
        top,
        files,
        integrity,
    })
}

/// Checks `SHA256SUMS` against the files and the manifest's integrity hash;
/// returns that hash.
fn check(files: &BTreeMap<String, Vec<u8>>) -> Result<String, BundleError> {
    let sums = files
        .get(SUMS)
        .ok_or_else(|| refused(format!("no {SUMS} in the bundle")))?;
    let sums = std::str::from_utf8(sums).map_err(|_| refused(format!("{SUMS} is not text")))?;
    let mut listed = BTreeMap::new();
    for (i, line) in sums.lines().enumerate() {
        let Some((sha, name)) = line.split_once("  ") else {
            return Err(refused(format!(
                "{SUMS} line {}: not \"<sha256>  <path>\"",
                i + 1
            )));
        };
        listed.insert(name.to_string(), sha.to_string());
    }
    for (name, data) in files {
        if name == SUMS {
            continue;
        }
        match listed.get(name) {
            None => return Err(refused(format!("{name}: not listed in {SUMS}"))),
            Some(sha) if *sha != sha256_hex(data) => {
                return Err(refused(format!(
                    "{name}: sha256 {} but {SUMS} says {sha}: the file was changed",
                    sha256_hex(data)
                )));
            }
            Some(_) => {}
        }
    }
    for name in listed.keys() {
        if !files.contains_key(name) {
            return Err(refused(format!("{name}: listed in {SUMS} but missing")));
        }
    }
    // The sums are canonical: the same text `bundle` writes.
    let entries: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter(|(n, _)| n.as_str() != SUMS)
        .map(|(n, d)| (n.clone(), d.clone()))
        .collect();
    if sums_text(&entries) != sums {
        return Err(refused(format!("{SUMS} is not in rigbench's form")));
    }
    let manifest = files
        .get("manifest.json")
        .ok_or_else(|| refused("no manifest.json in the bundle"))?;
    let value: serde_json::Value = serde_json::from_slice(manifest)
        .map_err(|e| refused(format!("manifest.json: not valid JSON: {e}")))?;
    crate::manifest::integrity::verify(&value)
        .map_err(|e| refused(format!("manifest.json: {e}")))?;
    Ok(value["integrity"]["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// Unpacks a checked bundle into `into` (which must not exist yet); returns the
/// directory written.
pub fn import(
    path: &Path,
    into: Option<&Path>,
) -> Result<(std::path::PathBuf, Bundle), BundleError> {
    let b = open(path)?;
    let target = into.map_or_else(|| Path::new(".").join(&b.top), Path::to_path_buf);
    if target.exists() {
        return Err(refused(format!(
            "{}: already exists; name a new directory with --into",
            target.display()
        )));
    }
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(super::io(parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".rigbench-import-")
        .tempdir_in(parent)
        .map_err(super::io(parent))?;
    for (name, data) in &b.files {
        let dest = staging.path().join(name);
        if let Some(d) = dest.parent() {
            std::fs::create_dir_all(d).map_err(super::io(d))?;
        }
        std::fs::write(&dest, data).map_err(super::io(&dest))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, &target).map_err(super::io(&target))?;
    Ok((target, b))
}
