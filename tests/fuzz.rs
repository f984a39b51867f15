//! Fuzzed inputs (property tests): plan files, references, manifests, GGUF
//! headers and bundle archives, arbitrary and mutated from real ones. Whatever
//! the bytes, parsing never panics, never allocates more than a bound (by
//! kind of input, below) above what the test itself holds (the global allocator is capped during each
//! case: going past the cap aborts the test binary), every error names the
//! file, and an import never writes outside its target (a refused bundle
//! leaves nothing behind at all).
//!
//! Case counts: `CASES` per property (PROPTEST_CASES overrides them all).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::alloc::System;
use std::path::Path;
use std::sync::Mutex;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[global_allocator]
static ALLOC: cap::Cap<System> = cap::Cap::new(System, usize::MAX);

/// The most a parser may allocate for one input, by kind: plan files and
/// references (under 64 KiB), GGUF headers (under 16 KiB), manifests (under
/// 200 KiB) and bundles (1.5 MB unpacked, held in memory whole).
const TEXT_BOUND: usize = 4 << 20;
const GGUF_BOUND: usize = 1 << 20;
const MANIFEST_BOUND: usize = 16 << 20;
const BUNDLE_BOUND: usize = 64 << 20;

/// One test at a time, from its first allocation to its last: the allocation
/// cap is process-wide, so another test's thread allocating while a case runs
/// capped would spend that case's bound (or fail itself).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `f` with the allocator capped at what is allocated now plus `bound`.
/// The cap is lifted however `f` ends: a panic inside it still has the memory
/// to report itself (a panic under the cap once hung the test binary, its
/// backtrace's allocation failing while it held the backtrace lock).
fn capped<T>(bound: usize, f: impl FnOnce() -> T) -> T {
    struct Lift;
    impl Drop for Lift {
        fn drop(&mut self) {
            let _ = ALLOC.set_limit(usize::MAX);
        }
    }
    ALLOC.set_limit(ALLOC.allocated() + bound).unwrap();
    let _lift = Lift;
    f()
}

fn cases(n: u32) -> Config {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Byte-level mutations of a seed: flips, overwrites, insertions, deletions
/// and a truncation, at random places.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let one = prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, v)| Edit::Insert(i, v)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    prop::collection::vec(one, 1..8)
}

fn mutate(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for e in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match e {
            Edit::Flip(i, b) if !v.is_empty() => {
                let i = at(*i, v.len());
                v[i] ^= b;
            }
            Edit::Set(i, b) if !v.is_empty() => {
                let i = at(*i, v.len());
                v[i] = *b;
            }
            Edit::Insert(i, bytes) => {
                let i = at(*i, v.len() + 1);
                v.splice(i..i, bytes.iter().copied());
            }
            Edit::Delete(i, n) if !v.is_empty() => {
                let i = at(*i, v.len());
                let end = (i + n).min(v.len());
                v.drain(i..end);
            }
            Edit::Truncate(i) => {
                let i = at(*i, v.len() + 1);
                v.truncate(i);
            }
            _ => {}
        }
    }
    v
}

/// Seeds, mutated, or arbitrary bytes.
fn inputs(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    prop_oneof![
        3 => (0..n, edits()).prop_map(move |(i, e)| mutate(&seeds[i], &e)),
        1 => prop::collection::vec(any::<u8>(), 0..2048),
    ]
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn seeds_in(dir: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(common::repo().join(dir)).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            out.push(std::fs::read(p).unwrap());
        }
    }
    assert!(!out.is_empty(), "no seeds in {dir}");
    out
}

fn run(config: Config, strategy: impl Strategy<Value = Vec<u8>>, check: impl Fn(&[u8])) -> u32 {
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |input| {
        check(&input);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    cases
}

#[test]
fn plan_files() {
    let _one = serial();
    let mut seeds = seeds_in("plans");
    seeds.extend(seeds_in("tests/plans"));
    let n = run(cases(3000), inputs(seeds), |bytes| {
        let t = text(bytes);
        if let Err(e) = capped(TEXT_BOUND, || rigbench::plan::parse(&t, "fuzzed.toml", 2)) {
            let msg = e.to_string();
            assert!(
                msg.contains("fuzzed.toml"),
                "the error names no file: {msg}"
            );
        }
    });
    eprintln!("plan files: {n} cases");
}

#[test]
fn references() {
    let _one = serial();
    let n = run(cases(3000), inputs(seeds_in("references")), |bytes| {
        let t = text(bytes);
        if let Err(e) = capped(TEXT_BOUND, || {
            rigbench::reference::parse(&t, "fuzzed-ref.toml")
        }) {
            let msg = e.to_string();
            assert!(
                msg.contains("fuzzed-ref.toml"),
                "the error names no file: {msg}"
            );
        }
    });
    eprintln!("references: {n} cases");
}

/// A small real manifest: the H200 run's, cut to its first two cells and
/// sealed again.
fn small_manifest() -> serde_json::Value {
    let bytes = std::fs::read(common::repo().join("results/h200-2026-12/a/manifest.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["cells"].as_array_mut().unwrap().truncate(2);
    seal(&mut v);
    v
}

/// Seals `v` again where its integrity block and schema still allow it (a
/// mutation may have replaced either).
fn seal(v: &mut serde_json::Value) {
    if !v["integrity"].is_object() {
        return;
    }
    if let Ok(hash) = rigbench::manifest::integrity::hash_value(v) {
        v["integrity"]["sha256"] = serde_json::Value::String(hash);
    }
}

/// Loads `bytes` as a run directory's manifest.json; an error must name it.
fn load_manifest(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest.json");
    std::fs::write(&path, bytes).unwrap();
    let run = rigbench::manifest::store::RunDir::open(dir.path());
    if let Err(e) = capped(MANIFEST_BOUND, || run.load()) {
        let msg = e.to_string();
        assert!(
            msg.contains(&path.display().to_string()),
            "the error names no file: {msg}"
        );
    }
}

#[test]
fn manifests_mutated_bytes() {
    let _one = serial();
    let seed = serde_json::to_vec_pretty(&small_manifest()).unwrap();
    let n = run(cases(400), inputs(vec![seed]), load_manifest);
    eprintln!("manifests, mutated bytes: {n} cases");
}

/// A JSON value anywhere in the manifest replaced by another (arbitrary or
/// extreme), then sealed again, so that the integrity check passes and the
/// reading of the fields themselves is tried.
#[test]
fn manifests_mutated_values() {
    let _one = serial();
    let seed = small_manifest();
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::String),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        Just(serde_json::json!(1e308)),
        Just(serde_json::json!(-0.0)),
    ];
    let strategy = (prop::collection::vec((any::<usize>(), leaf), 1..4)).prop_map(move |edits| {
        let mut v = seed.clone();
        for (at, new) in edits {
            replace_nth(&mut v, at, new);
        }
        seal(&mut v);
        serde_json::to_vec(&v).unwrap()
    });
    let n = run(cases(300), strategy, load_manifest);
    eprintln!("manifests, mutated values: {n} cases");
}

/// Replaces the `n % count`-th node (depth first) of `v` by `new`.
fn replace_nth(v: &mut serde_json::Value, n: usize, new: serde_json::Value) {
    fn count(v: &serde_json::Value) -> usize {
        1 + match v {
            serde_json::Value::Array(a) => a.iter().map(count).sum(),
            serde_json::Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }
    fn walk(v: &mut serde_json::Value, k: &mut usize, new: &serde_json::Value) -> bool {
        if *k == 0 {
            *v = new.clone();
            return true;
        }
        *k -= 1;
        match v {
            serde_json::Value::Array(a) => a.iter_mut().any(|x| walk(x, k, new)),
            serde_json::Value::Object(o) => o.values_mut().any(|x| walk(x, k, new)),
            _ => false,
        }
    }
    // Never the root, nor the integrity block (it is sealed after).
    let total = count(v);
    let mut k = 1 + n % (total - 1);
    walk(v, &mut k, &new);
    if !v.is_object() {
        *v = serde_json::json!({});
    }
}

/// A valid GGUF v3 header: a few keys of each kind, an array, two tensors.
fn gguf_seed() -> Vec<u8> {
    fn s(out: &mut Vec<u8>, t: &str) {
        out.extend((t.len() as u64).to_le_bytes());
        out.extend(t.as_bytes());
    }
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(2u64.to_le_bytes()); // tensors
    b.extend(5u64.to_le_bytes()); // keys
    s(&mut b, "general.architecture");
    b.extend(8u32.to_le_bytes());
    s(&mut b, "llama");
    s(&mut b, "general.file_type");
    b.extend(4u32.to_le_bytes());
    b.extend(15u32.to_le_bytes());
    s(&mut b, "llama.context_length");
    b.extend(10u32.to_le_bytes());
    b.extend(4096u64.to_le_bytes());
    s(&mut b, "tokenizer.ggml.tokens");
    b.extend(9u32.to_le_bytes());
    b.extend(8u32.to_le_bytes());
    b.extend(2u64.to_le_bytes());
    s(&mut b, "<s>");
    s(&mut b, "</s>");
    s(&mut b, "general.alignment");
    b.extend(4u32.to_le_bytes());
    b.extend(32u32.to_le_bytes());
    for (name, offset) in [
        ("tok_embd.weight", 0u64),
        ("blk.0.ffn_up_exps.weight", 4096),
    ] {
        s(&mut b, name);
        b.extend(2u32.to_le_bytes());
        b.extend(64u64.to_le_bytes());
        b.extend(32u64.to_le_bytes());
        b.extend(12u32.to_le_bytes());
        b.extend(offset.to_le_bytes());
    }
    b.resize(b.len().div_ceil(32) * 32 + 8192, 0);
    b
}

#[test]
fn gguf_headers() {
    let _one = serial();
    let seed = gguf_seed();
    let facts = rigbench::gguf::parse(&mut seed.as_slice(), "seed.gguf").unwrap();
    assert_eq!(facts.tensor_count, 2);
    assert_eq!(facts.context_length, Some(4096));
    let n = run(cases(5000), inputs(vec![seed]), |bytes| {
        let size = Some(bytes.len() as u64);
        let parsed = capped(GGUF_BOUND, || {
            rigbench::gguf::parse_sized(&mut &bytes[..], "fuzzed.gguf", size)
        });
        if let Err(e) = parsed {
            let msg = e.to_string();
            assert!(
                msg.contains("fuzzed.gguf"),
                "the error names no file: {msg}"
            );
        }
        // The whole header (arrays kept), and a vocabulary copied from it,
        // as `--vocab-from` and `vocab = { model = … }` read a file.
        let whole = capped(GGUF_BOUND, || {
            rigbench::gguf::header::parse(&mut &bytes[..], "fuzzed.gguf").map(|h| {
                let _ = rigbench::synth::vocab::from_header(&h, "fuzzed.gguf", 512);
            })
        });
        if let Err(e) = whole {
            let msg = e.to_string();
            assert!(
                msg.contains("fuzzed.gguf"),
                "the error names no file: {msg}"
            );
        }
    });
    eprintln!("GGUF headers: {n} cases");
}

/// Headers that claim the most: every length field at its largest accepted
/// value, in a file of a few bytes. Nothing may be allocated for what the
/// file does not hold.
#[test]
fn gguf_claims_beyond_the_file() {
    let _one = serial();
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(u64::MAX.to_le_bytes());
    b.extend(1u64.to_le_bytes());
    b.extend((16u64 << 20).to_le_bytes()); // a 16 MiB key
    b.extend(b"general");
    for _ in 0..64 {
        let copy = b.clone();
        let e = capped(GGUF_BOUND, || {
            rigbench::gguf::parse(&mut copy.as_slice(), "claims.gguf")
        })
        .unwrap_err();
        assert!(
            e.to_string().contains("claims.gguf: corrupt GGUF header"),
            "{e}"
        );
    }
}

/// The H200 run's directory as a bundle, unpacked to its tar bytes.
fn bundle_tar() -> Vec<u8> {
    use std::io::Read;
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("b.tar.gz");
    rigbench::bundle::write(&common::repo().join("results/h200-2026-12/a"), &out).unwrap();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&out).unwrap())
        .read_to_end(&mut tar)
        .unwrap();
    tar
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Imports `archive` into a fresh directory: it either succeeds and writes
/// only the target, or fails naming the archive and leaves nothing.
fn import_checked(archive: &[u8]) {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("fuzzed.tar.gz");
    std::fs::write(&file, archive).unwrap();
    let parent = work.path().join("into");
    std::fs::create_dir(&parent).unwrap();
    let target = parent.join("run");
    let result = capped(BUNDLE_BOUND, || {
        rigbench::bundle::read::import(&file, Some(&target))
    });
    let left: Vec<String> = std::fs::read_dir(&parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut around: Vec<String> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    around.sort();
    assert_eq!(
        around,
        ["fuzzed.tar.gz", "into"],
        "written beside the target"
    );
    match result {
        Ok(_) => assert_eq!(left, ["run"], "written beside the target"),
        Err(e) => {
            assert!(left.is_empty(), "a refused bundle left {left:?}");
            let msg = e.to_string();
            assert!(
                msg.contains(&file.display().to_string()),
                "the error names no file: {msg}"
            );
        }
    }
}

#[test]
fn bundles_mutated_archives() {
    let _one = serial();
    let tar = bundle_tar();
    let strategy = (edits(), any::<bool>()).prop_map(move |(e, gz)| {
        let mutated = mutate(&tar, &e);
        if gz { gzip(&mutated) } else { mutated }
    });
    let n = run(cases(120), strategy, import_checked);
    eprintln!("bundles, mutated archives: {n} cases");
}

/// Archives built entry by entry with hostile names, kinds and sizes.
#[test]
fn bundles_hostile_entries() {
    let _one = serial();
    let name = prop_oneof![
        Just("r/manifest.json".to_string()),
        Just("r/SHA256SUMS".to_string()),
        Just("r/logs/a.log".to_string()),
        Just("r/../escape".to_string()),
        Just("../escape".to_string()),
        Just("/tmp/escape".to_string()),
        Just("other/x".to_string()),
        Just("r".to_string()),
        Just("./r/./x".to_string()),
        "[a-z./]{1,24}",
    ];
    let kind = prop_oneof![
        Just(tar::EntryType::Regular),
        Just(tar::EntryType::Directory),
        Just(tar::EntryType::Symlink),
        Just(tar::EntryType::Link),
        Just(tar::EntryType::Char),
        Just(tar::EntryType::Fifo),
    ];
    let size = prop_oneof![
        Just(None),
        Just(Some(1u64 << 30)),
        Just(Some(u64::MAX >> 4)),
        (0u64..4096).prop_map(Some),
    ];
    let entry = (name, kind, size, prop::collection::vec(any::<u8>(), 0..64));
    let strategy = prop::collection::vec(entry, 1..6).prop_map(|entries| {
        let mut out = Vec::new();
        for (name, kind, claimed, data) in entries {
            let mut h = tar::Header::new_gnu();
            // Written raw, so that names the tar crate would refuse get in too.
            let bytes = name.as_bytes();
            let n = bytes.len().min(99);
            h.as_old_mut().name[..n].copy_from_slice(&bytes[..n]);
            h.set_entry_type(kind);
            h.set_mode(0o644);
            h.set_size(claimed.unwrap_or(data.len() as u64));
            if kind == tar::EntryType::Symlink || kind == tar::EntryType::Link {
                h.set_link_name("/etc/passwd").unwrap();
            }
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(&data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend([0u8; 1024]);
        gzip(&out)
    });
    let n = run(cases(1500), strategy, import_checked);
    eprintln!("bundles, hostile entries: {n} cases");
}

#[test]
fn a_real_bundle_imports() {
    let _one = serial();
    let archive = gzip(&bundle_tar());
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("real.tar.gz");
    std::fs::write(&file, archive).unwrap();
    let target = work.path().join("run");
    capped(BUNDLE_BOUND, || {
        rigbench::bundle::read::import(&file, Some(&target))
    })
    .unwrap();
    assert!(Path::new(&target.join("manifest.json")).exists());
}
