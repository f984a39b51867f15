//! Another host's telemetry stream: what `emit` writes, how the lines are
//! read back, and the sampler that keeps them on this machine's clock.

use std::time::Duration;

use super::sampler::Sampler;
use super::stream::{Header, Line, Offset, emit, parse, take_lines};
use super::tests::fixture;
use super::*;

#[test]
fn emit_writes_a_header_then_the_samples_one_json_line_each() {
    let probe = Probe::discover_with(&fixture("strix-halo"), false);
    let mut out = Vec::new();
    emit(&probe, Duration::from_millis(1), Some(3), &mut out).unwrap();
    let mut buf = out.clone();
    let lines = take_lines(&mut buf);
    assert!(buf.is_empty(), "every line ends with a newline");
    assert_eq!(lines.len(), 4);
    match parse(&lines[0]).unwrap() {
        Line::Header(h) => {
            assert!(h.has_gpus && h.has_edge_sensor && !h.has_nvml);
            assert_eq!(h.power_sources[0].scope, "SoC");
        }
        l => panic!("{l:?}"),
    }
    let mut last = -1.0;
    for l in &lines[1..] {
        let Line::Sample(s) = parse(l).unwrap() else {
            panic!("not a sample")
        };
        // The fixture's readings, on the emitter's own clock, in order.
        assert_eq!(s.cards[0].edge_c, Some(45.0));
        assert_eq!(s.cards[0].power_w, Some(18.0));
        assert!(s.at_ms > last);
        last = s.at_ms;
    }
}

#[test]
fn lines_split_across_chunks_are_joined_and_blank_ones_dropped() {
    let mut buf = b"{\"a\":1}\n\n{\"b\"".to_vec();
    assert_eq!(take_lines(&mut buf), [b"{\"a\":1}".to_vec()]);
    assert_eq!(buf, b"{\"b\"");
    buf.extend_from_slice(b":2}\n");
    assert_eq!(take_lines(&mut buf), [b"{\"b\":2}".to_vec()]);
    assert!(buf.is_empty());
    let err = parse(b"not json").unwrap_err();
    assert!(err.contains("\"not json\""), "{err}");
}

#[test]
fn the_offset_is_the_quickest_delivery_seen() {
    let mut o = Offset::default();
    assert_eq!(o.here(5.0), None);
    // Stamped 0 there, seen at 1000 here: offset 1000 so far.
    o.observe(0.0, 1000.0);
    assert_eq!(o.here(500.0), Some(1500.0));
    // Stamped 500, seen at 1300: delivered quicker, offset 800.
    o.observe(500.0, 1300.0);
    assert_eq!(o.here(500.0), Some(1300.0));
    // A slower delivery changes nothing.
    o.observe(1000.0, 2500.0);
    assert_eq!(o.here(0.0), Some(800.0));
}

fn sample_line(at_ms: f64, edge: f64, vram: u64) -> Vec<u8> {
    let s = Sample {
        at_ms,
        cards: vec![CardSample {
            card: "card1".into(),
            vram_used_bytes: Some(vram),
            vram_total_bytes: None,
            gtt_used_bytes: None,
            gtt_total_bytes: None,
            busy_percent: None,
            edge_c: Some(edge),
            junction_c: None,
            power_w: None,
            sm_clock_mhz: None,
            memory_clock_mhz: None,
            processes_memory_bytes: None,
        }],
        mem_available_bytes: Some(1 << 30),
    };
    let mut l = serde_json::to_vec(&Line::Sample(s)).unwrap();
    l.push(b'\n');
    l
}

fn header_line() -> Vec<u8> {
    let h = Header {
        has_gpus: true,
        has_nvml: false,
        has_edge_sensor: true,
        power_sources: vec![PowerSource {
            file: "/sys/x/power1_average".into(),
            scope: "GPU".into(),
        }],
    };
    let mut l = serde_json::to_vec(&Line::Header(h)).unwrap();
    l.push(b'\n');
    l
}

#[tokio::test]
async fn a_stream_becomes_samples_on_this_clock_until_it_ends() {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    // The header and the first sample, split in the middle of a line.
    let mut first = header_line();
    first.extend(sample_line(10_000.0, 70.0, 100));
    let (a, b) = first.split_at(first.len() - 7);
    tx.send(Ok(a.to_vec())).await.unwrap();
    tx.send(Ok(b.to_vec())).await.unwrap();
    let s = Sampler::streamed(rx, Duration::from_millis(20), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(s.has_gpus());
    assert_eq!(s.power_sources()[0].file, "/sys/x/power1_average");
    // The first sample arrived about now: its stamp maps to about now.
    let now = s.sample_now();
    assert!((now.at_ms - s.now_ms()).abs() < 1000.0, "{}", now.at_ms);
    assert_eq!(now.edge_c(), Some(70.0));
    // Two more, 500 ms apart on the emitter's clock, sent at once: mapped
    // 500 and 1000 ms after the first (the quickest delivery set the offset).
    tx.send(Ok([
        sample_line(10_500.0, 60.0, 300),
        sample_line(11_000.0, 40.0, 200),
    ]
    .concat()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let all = s.window(-1e9, 1e9);
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].at_ms - all[0].at_ms, 500.0);
    assert_eq!(all[2].at_ms - all[0].at_ms, 1000.0);
    // A window by this clock takes the samples taken in it.
    let mid = s.window(all[1].at_ms - 1.0, all[1].at_ms + 1.0);
    assert_eq!(mid.len(), 1);
    assert_eq!(mid[0].cards[0].vram_used_bytes, Some(300));
    // The newest is what "now" reads, and cool-down sees it below 50 °C.
    assert_eq!(s.sample_now().edge_c(), Some(40.0));
    let c = s.cool_down(50.0, Duration::from_secs(5)).await;
    assert!(c.reached && c.waited_s < 1.0, "{c:?}");
    assert_eq!(s.ended(), None);
    // Settling waits for a sample taken after now: the one sent 100 ms on
    // (the quickest delivery yet: mapped to its arrival, after now).
    let sender = tx.clone();
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sender
            .send(Ok(sample_line(14_000.0, 41.0, 200)))
            .await
            .unwrap();
    });
    let before = s.now_ms();
    s.settle().await;
    assert!(s.sample_now().at_ms >= before);
    assert_eq!(s.sample_now().edge_c(), Some(41.0));
    later.await.unwrap();
    // The engine's error ends it: said, and cool-down no longer waits.
    tx.send(Err("engine gone".to_string())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(s.ended().as_deref(), Some("engine gone"));
    let c = s.cool_down(10.0, Duration::from_secs(5)).await;
    assert!(!c.reached && c.waited_s == 0.0);
    assert_eq!(
        c.note.as_deref(),
        Some("the telemetry stream ended (engine gone): no cool-down")
    );
    // What came before the end is kept; settling no longer waits.
    assert_eq!(s.window(-1e9, 1e9).len(), 4);
    let t = std::time::Instant::now();
    s.settle().await;
    assert!(t.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn a_stream_without_a_first_sample_is_an_error_saying_why() {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(Ok(header_line())).await.unwrap();
    drop(tx);
    let err = Sampler::streamed(rx, Duration::from_millis(20), Duration::from_secs(5))
        .await
        .err()
        .unwrap();
    assert_eq!(err, "the stream ended before its first sample");

    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(Ok(header_line())).await.unwrap();
    let err = Sampler::streamed(rx, Duration::from_millis(20), Duration::from_millis(200))
        .await
        .err()
        .unwrap();
    assert_eq!(err, "no sample within 0.2 s");
    drop(tx);

    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(Ok(sample_line(0.0, 1.0, 1))).await.unwrap();
    let err = Sampler::streamed(rx, Duration::from_millis(20), Duration::from_secs(5))
        .await
        .err()
        .unwrap();
    assert!(err.starts_with("unexpected first lines: Sample"), "{err}");
}

#[tokio::test]
async fn an_unavailable_sampler_says_why_and_has_nothing() {
    let s = Sampler::unavailable("the telemetry container on ssh://x gave no samples".into());
    assert!(!s.has_gpus());
    assert!(s.window(-1e9, 1e9).is_empty());
    assert!(s.sample_now().cards.is_empty());
    assert_eq!(
        s.ended().as_deref(),
        Some("the telemetry container on ssh://x gave no samples")
    );
    let c = s.cool_down(50.0, Duration::from_secs(5)).await;
    assert_eq!(
        c.note.as_deref(),
        Some("no GPU edge temperature sensor: no cool-down")
    );
}
