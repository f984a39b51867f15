//! Benchmark (run by hand, not a test): rigbench's file hashing against coreutils'
//! `sha256sum` on the same file, alternating, in one process; then the cached
//! verification through the (device, inode, size, mtime) hash cache.
//!
//! cargo run --release --example hash_bench -- FILE [ROUNDS]

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = PathBuf::from(args.next().ok_or("usage: hash_bench FILE [ROUNDS]")?);
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(5);
    let size = std::fs::metadata(&file)?.len() as f64;
    // One read of each first, so both start from the page cache.
    rigbench::hash::sha256_file(&file)?;
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let a = rigbench::hash::sha256_file(&file)?;
        ours.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let out = Command::new("sha256sum").arg(&file).output()?;
        theirs.push(t.elapsed().as_secs_f64());
        let b = String::from_utf8_lossy(&out.stdout);
        if !b.starts_with(&a) {
            return Err(format!("hashes differ: {a} vs {b}").into());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (o, s) = (median(&mut ours), median(&mut theirs));
    println!(
        "file {} ({:.0} MB), {rounds} rounds, medians:",
        file.display(),
        size / 1e6
    );
    println!(
        "  rigbench sha256_file  {:.3} s  {:.0} MB/s",
        o,
        size / o / 1e6
    );
    println!(
        "  sha256sum             {:.3} s  {:.0} MB/s",
        s,
        size / s / 1e6
    );
    println!("  speed-up              {:.2}x", s / o);

    let dir = tempfile::tempdir()?;
    let mut cache = rigbench::hash::HashCache::open(&dir.path().join("hashes.json"));
    let t = Instant::now();
    cache.sha256(&file)?;
    let first = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (_, origin) = cache.sha256(&file)?;
    let second = t.elapsed().as_secs_f64();
    println!(
        "  hash cache: first verification {first:.3} s, second {:.6} s ({origin:?})",
        second
    );
    Ok(())
}
