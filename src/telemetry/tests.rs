//! Telemetry against the host fixture trees, and run summaries worked out by hand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::sampler::Sampler;
use super::*;

pub(super) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hosts")
        .join(name)
}

#[test]
fn strix_halo_reads_memory_busy_edge_and_soc_power() {
    let p = Probe::discover(&fixture("strix-halo"));
    assert!(p.has_gpus() && p.has_edge_sensor());
    let s = p.read(0.0);
    let c = &s.cards[0];
    assert_eq!(c.card, "card1");
    assert_eq!(c.vram_used_bytes, Some(268_435_456));
    assert_eq!(c.vram_total_bytes, Some(536_870_912));
    assert_eq!(c.gtt_used_bytes, Some(1_073_741_824));
    assert_eq!(c.busy_percent, Some(3.0));
    assert_eq!(c.edge_c, Some(45.0));
    assert_eq!(
        c.junction_c, None,
        "the APU reports no junction temperature"
    );
    assert_eq!(c.power_w, Some(18.0));
    assert_eq!(s.vram_gtt_used(), Some(268_435_456 + 1_073_741_824));
    assert_eq!(
        s.mem_available_bytes,
        Some((131_072_000 - 4_000_000) * 1024)
    );
    let src = &p.power_sources()[0];
    assert_eq!(src.scope, "SoC");
    assert_eq!(
        src.file,
        "/sys/class/drm/card1/device/hwmon/hwmon5/power1_input"
    );
}

#[test]
fn discrete_gpu_has_junction_and_board_power() {
    let p = Probe::discover(&fixture("discrete-rx7900xtx"));
    let c = &p.read(0.0).cards[0];
    assert_eq!(c.edge_c, Some(41.0));
    assert_eq!(c.junction_c, Some(48.0));
    assert_eq!(c.power_w, Some(34.0));
    assert_eq!(p.power_sources()[0].scope, "GPU");
    assert!(p.power_sources()[0].file.ends_with("power1_average"));
}

#[test]
fn no_gpu_means_unavailable_and_the_run_goes_on() {
    let p = Probe::discover(&fixture("no-gpu"));
    assert!(!p.has_gpus());
    let s = p.read(0.0);
    assert!(s.cards.is_empty());
    assert!(s.mem_available_bytes.is_some());
    let t = summarize(Some(&s), std::slice::from_ref(&s), vec![]);
    assert!(!t.available);
    assert_eq!(t.mem_available_drop_bytes, Some(0));
    assert!(t.note.unwrap().contains("no amdgpu card and no NVIDIA GPU"));
}

fn sample(at_ms: f64, vram: u64, gtt: u64, avail: u64, edge: f64, power: f64, busy: f64) -> Sample {
    Sample {
        at_ms,
        cards: vec![CardSample {
            card: "card1".into(),
            vram_used_bytes: Some(vram),
            vram_total_bytes: Some(1 << 29),
            gtt_used_bytes: Some(gtt),
            gtt_total_bytes: Some(96 << 30),
            busy_percent: Some(busy),
            edge_c: Some(edge),
            junction_c: None,
            power_w: Some(power),
            sm_clock_mhz: None,
            memory_clock_mhz: None,
            processes_memory_bytes: None,
        }],
        mem_available_bytes: Some(avail),
    }
}

const GIB: u64 = 1 << 30;

#[test]
fn run_summary_by_hand() {
    // Before the server: 0.25 + 1 GiB used, 100 GiB available. During the run GTT
    // rises to 25 GiB and then 26 GiB: peak 26.25 GiB, delta 25 GiB; available
    // falls to 74 GiB: drop 26 GiB. 25 GiB is not far below 26: no anomaly.
    let base = sample(0.0, GIB / 4, GIB, 100 * GIB, 40.0, 10.0, 0.0);
    let run = [
        sample(500.0, GIB / 4, 25 * GIB, 75 * GIB, 50.0, 80.0, 90.0),
        sample(1000.0, GIB / 4, 26 * GIB, 74 * GIB, 58.5, 95.5, 100.0),
    ];
    let t = summarize(Some(&base), &run, vec![]);
    assert!(t.available);
    assert_eq!(t.samples, 2);
    assert_eq!(t.baseline_vram_gtt_bytes, Some(GIB / 4 + GIB));
    assert_eq!(t.peak_vram_gtt_bytes, Some(GIB / 4 + 26 * GIB));
    assert_eq!(t.peak_delta_bytes, Some(25 * GIB as i64));
    assert_eq!(t.mem_available_drop_bytes, Some(26 * GIB as i64));
    assert!(!t.accounting_anomaly);
    assert_eq!(t.max_edge_c, Some(58.5));
    assert_eq!(t.max_power_w, Some(95.5));
    assert_eq!(t.mean_busy_percent, Some(95.0));
}

#[test]
fn memory_hidden_from_the_drm_counters_is_an_anomaly() {
    // The study's ROCm case: mem_info_vram_used stays at 3.86 GB while 26 GB of
    // system memory disappear.
    let hidden = 3_860_000_000u64;
    let base = sample(0.0, hidden, GIB / 2, 100 * GIB, 40.0, 10.0, 0.0);
    let run = [sample(500.0, hidden, GIB / 2, 74 * GIB, 50.0, 80.0, 90.0)];
    let t = summarize(Some(&base), &run, vec![]);
    assert_eq!(t.peak_delta_bytes, Some(0));
    assert_eq!(t.mem_available_drop_bytes, Some(26 * GIB as i64));
    assert!(t.accounting_anomaly);
}

#[tokio::test]
async fn the_sampler_samples_and_windows_and_cool_down_reads_the_edge_sensor() {
    let sampler = Sampler::start(
        Probe::discover(&fixture("strix-halo")),
        Duration::from_millis(20),
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    let w = sampler.window(0.0, sampler.now_ms());
    assert!(w.len() >= 3, "{} samples", w.len());
    assert!(w.windows(2).all(|p| p[0].at_ms <= p[1].at_ms));
    // 45 °C in the fixture: below 60 at once, above 40 until the timeout.
    let c = sampler.cool_down(60.0, Duration::from_secs(5)).await;
    assert!(c.reached);
    assert_eq!(c.edge_c_at_start, Some(45.0));
    let c = sampler.cool_down(40.0, Duration::from_millis(60)).await;
    assert!(!c.reached);
    assert!(c.waited_s >= 0.06);
    assert!(c.note.unwrap().contains("still 45 °C"));
}

#[tokio::test]
async fn no_sensor_no_wait() {
    let sampler = Sampler::start(
        Probe::discover(&fixture("no-gpu")),
        Duration::from_millis(20),
    );
    let c = sampler.cool_down(60.0, Duration::from_secs(30)).await;
    assert_eq!(c.waited_s, 0.0);
    assert!(c.note.unwrap().contains("no GPU edge temperature sensor"));
}

/// An H200 as NVML would report it, with `used` GiB in use and the server's
/// process holding `proc_gib`.
fn h200(used: u64, proc_gib: Option<u64>, temp: f64, power: f64, sm: u32) -> crate::nvml::Reading {
    crate::nvml::Reading {
        index: 0,
        memory_used_bytes: Some(used * GIB),
        memory_total_bytes: Some(143771 << 20),
        utilization_percent: Some(97.0),
        temperature_c: Some(temp),
        power_w: Some(power),
        sm_clock_mhz: Some(sm),
        memory_clock_mhz: Some(3201),
        processes_memory_bytes: proc_gib.map(|g| g * GIB),
    }
}

#[test]
fn nvml_readings_become_card_samples_and_a_run_summary() {
    let fake = crate::nvml::Fake {
        gpus: vec![crate::nvml::NvidiaGpu {
            index: 0,
            name: "NVIDIA H200".into(),
            uuid: None,
            pci_bus_id: None,
            memory_total_bytes: Some(143771 << 20),
            compute_capability: Some("9.0".into()),
            source: "nvml".into(),
        }],
        readings: vec![h200(2, None, 31.0, 75.0, 345)],
        ..Default::default()
    };
    let probe = Probe::discover(Path::new("/nonexistent")).with_nvidia(std::sync::Arc::new(fake));
    assert!(probe.has_gpus() && probe.has_nvml() && probe.has_edge_sensor());
    assert_eq!(
        probe.power_sources()[0].file,
        "NVML nvmlDeviceGetPowerUsage (GPU 0: NVIDIA H200)"
    );
    let base = probe.read(0.0);
    assert_eq!(base.cards[0].card, "nvidia0");
    assert_eq!(
        base.vram_gtt_used(),
        Some(2 * GIB),
        "no GTT on a discrete card"
    );
    assert_eq!(base.edge_c(), Some(31.0));

    // During the run: 3 GiB more in use (the server: 3 GiB of its own), hotter,
    // more power, the SM clock up from idle.
    let mk = |at: f64, r: crate::nvml::Reading| Sample {
        at_ms: at,
        cards: vec![CardSample::from_nvml(&r)],
        mem_available_bytes: None,
    };
    let run = [
        mk(500.0, h200(5, Some(3), 38.0, 310.5, 1980)),
        mk(1000.0, h200(4, Some(2), 36.0, 250.0, 1755)),
    ];
    let t = summarize(Some(&base), &run, probe.power_sources());
    assert!(t.available);
    assert_eq!(t.peak_vram_gtt_bytes, Some(5 * GIB));
    assert_eq!(t.peak_delta_bytes, Some(3 * GIB as i64));
    assert_eq!(t.peak_processes_memory_bytes, Some(3 * GIB));
    assert_eq!(t.max_edge_c, Some(38.0));
    assert_eq!(t.max_power_w, Some(310.5));
    assert_eq!(t.max_sm_clock_mhz, Some(1980));
    assert_eq!(t.max_memory_clock_mhz, Some(3201));
    assert_eq!(t.mean_busy_percent, Some(97.0));
}
