//! Bundles of a real (hand-made, verifiable) run directory, and crafted hostile
//! archives, each refused with nothing written.

use std::path::Path;

use super::read::{import, open};
use super::*;
use crate::manifest::Manifest;
use crate::manifest::store::RunDir;
use crate::status::RunStatus;

/// A verifiable run directory with a log in a subdirectory.
fn run_dir(root: &Path) -> std::path::PathBuf {
    let dir = root.join("run");
    let d = RunDir::create(&dir).unwrap();
    let plan = crate::plan::builtin(2).unwrap();
    let host = crate::host::probe(Path::new("/nonexistent"));
    let mut m = Manifest::new("abc123", plan, host, None);
    m.status = RunStatus::Complete;
    d.save(&mut m).unwrap();
    std::fs::write(dir.join("report.md"), "# report\n").unwrap();
    std::fs::write(dir.join("logs/cpu.log"), "main: server is listening\n").unwrap();
    dir
}

#[test]
fn the_same_run_bundles_to_the_same_bytes_and_round_trips() {
    let t = tempfile::tempdir().unwrap();
    let dir = run_dir(t.path());
    let a = t.path().join("a.tar.gz");
    let b = t.path().join("b.tar.gz");
    assert_eq!(write(&dir, &a).unwrap(), "rigbench-abc123");
    // Touch the files: mtimes must not matter.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let log = std::fs::read(dir.join("logs/cpu.log")).unwrap();
    std::fs::write(dir.join("logs/cpu.log"), log).unwrap();
    write(&dir, &b).unwrap();
    let (ba, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(sha256_hex(&ba), sha256_hex(&bb));

    let opened = open(&a).unwrap();
    let names: Vec<&str> = opened.files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["SHA256SUMS", "logs/cpu.log", "manifest.json", "report.md"]
    );
    assert_eq!(opened.integrity.len(), 64);

    let into = t.path().join("imported");
    let (written, _) = import(&a, Some(&into)).unwrap();
    assert_eq!(written, into);
    for f in ["manifest.json", "report.md", "logs/cpu.log"] {
        assert_eq!(
            std::fs::read(into.join(f)).unwrap(),
            std::fs::read(dir.join(f)).unwrap(),
            "{f}"
        );
    }
    // The imported run loads and verifies as a run directory.
    RunDir::open(&into).load().unwrap();
    // Importing again into the same place is refused.
    let err = import(&a, Some(&into)).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
}

/// A crafted entry: path, type, data, and the size the header claims if not
/// the data's.
type RawEntry<'a> = (&'a str, tar::EntryType, &'a [u8], Option<u64>);

/// Writes a .tar.gz whose entries are raw headers (name written byte for byte,
/// no checks), each with its data.
fn raw_archive(path: &Path, entries: &[RawEntry]) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut b = tar::Builder::new(gz);
    for (name, kind, data, claimed) in entries {
        let mut h = tar::Header::new_ustar();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_size(claimed.unwrap_or(data.len() as u64));
        if matches!(kind, tar::EntryType::Symlink | tar::EntryType::Link) {
            h.set_link_name("/etc/passwd").unwrap();
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
}

#[test]
fn hostile_archives_are_refused_and_nothing_is_written() {
    use tar::EntryType as E;
    let t = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<RawEntry>, &str)> = vec![
        (
            "absolute",
            vec![("/tmp/rigbench-evil", E::Regular, b"x", None)],
            "an absolute entry path",
        ),
        (
            "dotdot",
            vec![("r/../../evil", E::Regular, b"x", None)],
            "\"..\" in an entry path",
        ),
        (
            "symlink",
            vec![("r/link", E::Symlink, b"", None)],
            "a symbolic link",
        ),
        (
            "hardlink",
            vec![("r/link", E::Link, b"", None)],
            "a hard link",
        ),
        ("device", vec![("r/dev", E::Char, b"", None)], "a device"),
        ("fifo", vec![("r/fifo", E::Fifo, b"", None)], "a FIFO"),
        (
            "duplicate",
            vec![
                ("r/manifest.json", E::Regular, b"{}", None),
                ("r/manifest.json", E::Regular, b"{}", None),
            ],
            "appears twice",
        ),
        (
            "two-tops",
            vec![
                ("r/a", E::Regular, b"x", None),
                ("s/b", E::Regular, b"x", None),
            ],
            "outside the bundle's one top directory r",
        ),
        (
            "oversize",
            vec![("r/huge", E::Regular, b"", Some(2 << 30))],
            "more than the 1073741824 a bundle entry may have",
        ),
        (
            "no-sums",
            vec![("r/a", E::Regular, b"x", None)],
            "no SHA256SUMS",
        ),
    ];
    for (name, entries, expect) in cases {
        let path = t.path().join(format!("{name}.tar.gz"));
        raw_archive(&path, &entries);
        let into = t.path().join(format!("into-{name}"));
        let err = import(&path, Some(&into)).unwrap_err().to_string();
        assert!(err.contains(expect), "{name}: {err}");
        assert!(!into.exists(), "{name}: the target was written");
    }
    assert!(!Path::new("/tmp/rigbench-evil").exists());
    // Nothing but the crafted archives in the directory: no staging left over.
    let left: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".tar.gz"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_tampered_manifest_is_refused_whether_or_not_the_sums_were_redone() {
    let t = tempfile::tempdir().unwrap();
    let dir = run_dir(t.path());
    let good = t.path().join("good.tar.gz");
    write(&dir, &good).unwrap();
    let b = open(&good).unwrap();
    let mut files = b.files.clone();
    let text = String::from_utf8(files["manifest.json"].clone()).unwrap();
    let forged = text.replacen("\"complete\"", "\"forged\"", 1).into_bytes();
    assert_ne!(forged, files["manifest.json"]);
    files.insert("manifest.json".into(), forged);

    // 1. The file changed, the sums not.
    let pack = |files: &std::collections::BTreeMap<String, Vec<u8>>, path: &Path| {
        let owned: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(n, d)| (format!("{}/{n}", b.top), d.clone()))
            .collect();
        let entries: Vec<RawEntry> = owned
            .iter()
            .map(|(n, d)| (n.as_str(), tar::EntryType::Regular, d.as_slice(), None))
            .collect();
        raw_archive(path, &entries);
    };
    let p1 = t.path().join("t1.tar.gz");
    pack(&files, &p1);
    let err = open(&p1).unwrap_err().to_string();
    assert!(
        err.contains("manifest.json: sha256") && err.contains("the file was changed"),
        "{err}"
    );

    // 2. The sums redone to match: the manifest's own integrity hash catches it.
    let entries: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter(|(n, _)| n.as_str() != SUMS)
        .map(|(n, d)| (n.clone(), d.clone()))
        .collect();
    files.insert(SUMS.into(), sums_text(&entries).into_bytes());
    let p2 = t.path().join("t2.tar.gz");
    pack(&files, &p2);
    let err = open(&p2).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: manifest.json:", p2.display())),
        "{err}"
    );
    assert!(err.contains("integrity"), "{err}");
}
