//! SHA-256 of files, and the cache that spares rehashing a file already hashed.
//!
//! A file is identified by (device, inode, size, modification time in ns): if all
//! four match an entry, its recorded hash is returned without reading the file. Any
//! change to the file changes the size or the mtime, and a replaced file has a new
//! inode. The cache is a JSON file written atomically; a corrupt one is started anew.
//!
//! Hashing reads on one thread and hashes on the calling one, with two 4 MiB buffers
//! in flight, so reading a cold file overlaps the hashing; `sha2` picks the CPU's SHA
//! extensions at run time where it has them.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const CHUNK: usize = 4 << 20;

/// Hex SHA-256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hex SHA-256 of the file at `path`, reading it in full.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let (full_tx, full_rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(2);
    let (empty_tx, empty_rx) = mpsc::sync_channel::<Vec<u8>>(2);
    for _ in 0..2 {
        // The channel holds two buffers and nothing has been sent: cannot fail.
        let _ = empty_tx.send(vec![0u8; CHUNK]);
    }
    std::thread::scope(|scope| {
        scope.spawn(move || {
            while let Ok(mut buf) = empty_rx.recv() {
                buf.resize(CHUNK, 0);
                match read_full(&mut file, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if full_tx.send(Ok(buf)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = full_tx.send(Err(e));
                        break;
                    }
                }
            }
        });
        let mut hasher = Sha256::new();
        for chunk in full_rx {
            let buf = chunk?;
            hasher.update(&buf);
            // The reader may have stopped after its last chunk; nothing is lost then.
            let _ = empty_tx.send(buf);
        }
        drop(empty_tx);
        Ok(hex::encode(hasher.finalize()))
    })
}

/// Fills `buf` as far as the file allows; returns the bytes read (0 at the end).
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// One remembered hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    sha256: String,
    /// Where the file was when it was hashed (for people reading the cache).
    path: PathBuf,
}

/// Where a hash came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HashOrigin {
    /// The file was read and hashed now.
    Computed,
    /// The (device, inode, size, mtime) matched an earlier hash.
    Cached,
}

/// The persistent (device, inode, size, mtime) → SHA-256 cache.
#[derive(Debug)]
pub struct HashCache {
    path: PathBuf,
    entries: BTreeMap<String, Entry>,
}

impl HashCache {
    /// Opens the cache stored at `path` (created on first save).
    pub fn open(path: &Path) -> Self {
        let entries = fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        HashCache {
            path: path.to_path_buf(),
            entries,
        }
    }

    fn key(meta: &fs::Metadata) -> String {
        format!(
            "{}:{}:{}:{}.{:09}",
            meta.dev(),
            meta.ino(),
            meta.size(),
            meta.mtime(),
            meta.mtime_nsec()
        )
    }

    /// The SHA-256 of `file`, from the cache when its identity is unchanged.
    pub fn sha256(&mut self, file: &Path) -> io::Result<(String, HashOrigin)> {
        let meta = fs::metadata(file)?;
        let key = Self::key(&meta);
        if let Some(e) = self.entries.get(&key) {
            return Ok((e.sha256.clone(), HashOrigin::Cached));
        }
        let sha = sha256_file(file)?;
        self.remember(file, &sha)?;
        Ok((sha, HashOrigin::Computed))
    }

    /// Records that `file`, as it is now, has hash `sha256` (computed elsewhere,
    /// for example while downloading it).
    pub fn remember(&mut self, file: &Path, sha256: &str) -> io::Result<()> {
        let meta = fs::metadata(file)?;
        self.entries.insert(
            Self::key(&meta),
            Entry {
                sha256: sha256.to_string(),
                path: file.to_path_buf(),
            },
        );
        self.save()
    }

    fn save(&self) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.entries).map_err(io::Error::other)?;
        write_atomic(&self.path, &bytes)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, synced
/// and renamed into place, so a reader sees the old or the new file, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // FIPS 180-2 examples.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        fs::write(&empty, b"").unwrap();
        assert_eq!(
            sha256_file(&empty).unwrap(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn multi_chunk_file_matches_one_shot_hash() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big");
        let data: Vec<u8> = (0..(CHUNK * 2 + 12345)).map(|i| (i % 251) as u8).collect();
        fs::write(&f, &data).unwrap();
        assert_eq!(sha256_file(&f).unwrap(), sha256_hex(&data));
    }

    #[test]
    fn cache_answers_for_unchanged_file_and_rehashes_changed_one() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("model.gguf");
        fs::write(&f, b"abc").unwrap();
        let cache_path = dir.path().join("hashes.json");
        let mut cache = HashCache::open(&cache_path);
        let (a, origin) = cache.sha256(&f).unwrap();
        assert_eq!(origin, HashOrigin::Computed);
        assert_eq!(a, sha256_hex(b"abc"));

        let mut reopened = HashCache::open(&cache_path);
        assert_eq!(reopened.sha256(&f).unwrap(), (a, HashOrigin::Cached));

        fs::write(&f, b"abcd").unwrap();
        let (b, origin) = reopened.sha256(&f).unwrap();
        assert_eq!(origin, HashOrigin::Computed);
        assert_eq!(b, sha256_hex(b"abcd"));
    }

    #[test]
    fn corrupt_cache_file_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        let cache_path = dir.path().join("hashes.json");
        fs::write(&cache_path, b"{not json").unwrap();
        let f = dir.path().join("x");
        fs::write(&f, b"x").unwrap();
        let mut cache = HashCache::open(&cache_path);
        assert_eq!(cache.sha256(&f).unwrap().1, HashOrigin::Computed);
    }
}
