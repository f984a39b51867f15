//! Benchmark (run by hand, not a test): the CPU time the telemetry sampler costs per
//! second of sampling, from this process's utime+stime (/proc/self/stat), sampling
//! for a while and idling for as long, in one run.
//!
//! cargo run --release --example sampler_overhead -- ROOT [SECONDS] [INTERVAL_MS]

use std::path::PathBuf;
use std::time::Duration;

use rigbench::telemetry::Probe;
use rigbench::telemetry::sampler::Sampler;

/// utime + stime of this process, in clock ticks (100 per second on Linux).
fn cpu_ticks() -> Result<u64, Box<dyn std::error::Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after = stat.rsplit(')').next().ok_or("odd /proc/self/stat")?;
    let f: Vec<&str> = after.split_whitespace().collect();
    Ok(f[11].parse::<u64>()? + f[12].parse::<u64>()?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(
        args.next()
            .ok_or("usage: sampler_overhead ROOT [SECONDS] [INTERVAL_MS]")?,
    );
    let secs: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let interval: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(500);

    let t0 = cpu_ticks()?;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let idle = cpu_ticks()? - t0;

    let probe = Probe::discover(&root);
    let cards = probe.read(0.0).cards.len();
    let t1 = cpu_ticks()?;
    let sampler = Sampler::start(probe, Duration::from_millis(interval));
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let n = sampler.window(0.0, sampler.now_ms()).len();
    drop(sampler);
    let busy = cpu_ticks()? - t1;

    let ms_per_s = (busy.saturating_sub(idle)) as f64 * 10.0 / secs as f64;
    println!(
        "root {} ({cards} amdgpu card(s)), {secs} s at {interval} ms: {n} samples",
        root.display()
    );
    println!("  CPU ticks idle {idle}, sampling {busy} (10 ms each)");
    println!(
        "  sampler cost: {ms_per_s:.3} ms of CPU per second of sampling ({:.4} %)",
        ms_per_s / 10.0
    );
    // Also: the cost of one read, averaged over many.
    let probe = Probe::discover(&root);
    let t = std::time::Instant::now();
    for i in 0..2000 {
        std::hint::black_box(probe.read(i as f64));
    }
    println!(
        "  one read: {:.1} µs (wall, mean of 2000)",
        t.elapsed().as_secs_f64() * 1e6 / 2000.0
    );
    Ok(())
}
