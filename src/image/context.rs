//! The build context rigbench assembles for the engine: the backend's Containerfile,
//! the shared `images/` scripts (both embedded in the binary, so rigbench builds from
//! any directory) and the llama.cpp source archive, as one tar file. Entries are
//! written in a fixed order with fixed owners and times, so the same inputs give the
//! same bytes.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use crate::hash::sha256_hex;

/// The name the source archive has inside the context (`LLAMA_ARCHIVE`).
pub const ARCHIVE_NAME: &str = "llama-src.tar.gz";

/// The shared scripts under `images/`, as shipped.
pub const IMAGE_FILES: &[(&str, &str)] = &[
    (
        "images/build-info.sh",
        include_str!("../../images/build-info.sh"),
    ),
    (
        "images/build-llama.sh",
        include_str!("../../images/build-llama.sh"),
    ),
    (
        "images/cmake-options.sh",
        include_str!("../../images/cmake-options.sh"),
    ),
    (
        "images/collect-runtime.sh",
        include_str!("../../images/collect-runtime.sh"),
    ),
    (
        "images/install-deps.sh",
        include_str!("../../images/install-deps.sh"),
    ),
];

/// SHA-256 of each shared script, by path.
pub fn image_files_sha256() -> Vec<(String, String)> {
    IMAGE_FILES
        .iter()
        .map(|(p, text)| (p.to_string(), sha256_hex(text.as_bytes())))
        .collect()
}

fn header(path: &str, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    // Paths here are short ASCII constants; set_path only fails on longer ones.
    let _ = h.set_path(path);
    h.set_cksum();
    h
}

/// Writes the context tar to `dest`.
pub fn write(
    dest: &Path,
    containerfile_name: &str,
    containerfile_text: &str,
    archive: &Path,
) -> io::Result<()> {
    let out = BufWriter::with_capacity(1 << 20, File::create(dest)?);
    let mut tar = tar::Builder::new(out);
    let cf = containerfile_text.as_bytes();
    tar.append(&header(containerfile_name, cf.len() as u64, 0o644), cf)?;
    for (path, text) in IMAGE_FILES {
        let bytes = text.as_bytes();
        tar.append(&header(path, bytes.len() as u64, 0o755), bytes)?;
    }
    let src = File::open(archive)?;
    let len = src.metadata()?.len();
    tar.append(&header(ARCHIVE_NAME, len, 0o644), src)?;
    tar.into_inner()?.into_inner().map_err(|e| e.into_error())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_holds_everything_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("src.tar.gz");
        std::fs::write(&archive, b"pretend archive").unwrap();
        let a = dir.path().join("a.tar");
        let b = dir.path().join("b.tar");
        write(&a, "Containerfile.cpu", "FROM x\n", &archive).unwrap();
        write(&b, "Containerfile.cpu", "FROM x\n", &archive).unwrap();
        let bytes = std::fs::read(&a).unwrap();
        assert_eq!(bytes, std::fs::read(&b).unwrap());

        let mut t = tar::Archive::new(bytes.as_slice());
        let mut names = Vec::new();
        for e in t.entries().unwrap() {
            let e = e.unwrap();
            names.push((
                e.path().unwrap().display().to_string(),
                e.header().mode().unwrap(),
                e.header().mtime().unwrap(),
            ));
        }
        assert_eq!(
            names,
            [
                ("Containerfile.cpu".to_string(), 0o644, 0),
                ("images/build-info.sh".to_string(), 0o755, 0),
                ("images/build-llama.sh".to_string(), 0o755, 0),
                ("images/cmake-options.sh".to_string(), 0o755, 0),
                ("images/collect-runtime.sh".to_string(), 0o755, 0),
                ("images/install-deps.sh".to_string(), 0o755, 0),
                (ARCHIVE_NAME.to_string(), 0o644, 0),
            ]
        );
    }

    #[test]
    fn every_script_in_images_is_shipped() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("images");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| format!("images/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        on_disk.sort();
        let shipped: Vec<String> = IMAGE_FILES.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(on_disk, shipped);
    }
}
