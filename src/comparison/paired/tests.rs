use super::*;
use crate::backend::Backend;
use crate::manifest::fixtures::{ab_of_variants, cell, manifest, run};

fn arm(variant: &str) -> CellSelector {
    CellSelector {
        variant: Some(variant.into()),
        ..CellSelector::default()
    }
}

fn ab(arms: Vec<CellSelector>) -> Ab {
    Ab {
        arms,
        ..ab_of_variants(&[])
    }
}

/// A cell whose measured runs have these generation speeds, one per round,
/// after a warm-up that must not count.
fn rounds(prompt: u32, variant: &str, speeds: &[f64]) -> Cell {
    let mut runs = vec![run(1.0, 1.0, 1.0, true)];
    for (i, g) in speeds.iter().enumerate() {
        let mut r = run(*g, 500.0, 50.0, false);
        r.round = i as u32;
        runs.push(r);
    }
    cell(prompt, variant, runs, None)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn paired_by_round_with_the_sequence_deciding() {
    let a = [50.0, 52.0, 48.0, 51.0, 49.0, 50.0];
    // p31: B = A · e^d, d = .01 .03 .02 .01 .03 .02 (mean .02, ss .0004).
    let d = [0.01, 0.03, 0.02, 0.01, 0.03, 0.02];
    let b31: Vec<f64> = a.iter().zip(d).map(|(x, d)| x * f64::exp(d)).collect();
    // p461: d = ±.001, ±.002, 0, 0 (mean 0, ss .00001).
    let e = [0.001, -0.001, 0.002, -0.002, 0.0, 0.0];
    let b461: Vec<f64> = a.iter().zip(e).map(|(x, d)| x * f64::exp(d)).collect();
    let mut m = manifest();
    m.cells = vec![
        rounds(31, "a", &a),
        rounds(461, "a", &a),
        rounds(31, "b", &b31),
        rounds(461, "b", &b461),
    ];
    let p = paired(&m, &ab(vec![arm("a"), arm("b")]));
    assert!(p.unpaired.is_empty());
    // Two intervals decided together: each at α/2.
    assert!(close(p.alpha_each, 0.025));
    let c31 = &p.cells[0];
    assert_eq!(
        (c31.a.as_str(), c31.b.as_str()),
        ("cpu.m.a.p31", "cpu.m.b.p31")
    );
    assert_eq!(c31.rounds, 6);
    assert!(close(c31.ratio.unwrap(), 0.02f64.exp()));
    // Fixed n: .02 ± t(.975, 5) · √(.0004/5)/√6 = .02 ± .009386.
    let f = c31.fixed.unwrap();
    assert!(close(f.low, 1.010670) && close(f.high, 1.029822), "{f:?}");
    // Sequence at α = .025, n = 6: c = (40 √7)^(1/3) = 4.730093,
    // a = 6 (1 − c/7) = 1.945635, half = √(3.730093 · .0004 / a) = .027692.
    let s = c31.sequence.unwrap();
    assert!(close(s.low, 0.992337) && close(s.high, 1.048848), "{s:?}");
    // It straddles 1 and the band: not decided, though the fixed-n interval
    // alone would have called B faster.
    assert_eq!(c31.verdict, Verdict::Inconclusive);
    // p461: half = √(3.730093 · .00001 / 1.945635) = .004379, inside ±2 %.
    let c461 = &p.cells[1];
    let s = c461.sequence.unwrap();
    assert!(close(s.low, 0.995631) && close(s.high, 1.004388), "{s:?}");
    assert_eq!(c461.verdict, Verdict::Same);
    assert!(!p.all_decided());
    assert_eq!(p.undecided_cells(), ["cpu.m.a.p31", "cpu.m.b.p31"]);
    // Welch on the same runs, unpaired, is far wider than the paired interval.
    let w = c461.welch.unwrap();
    assert!((w.ci95_high / w.ci95_low).ln() > 5.0 * c461.fixed.unwrap().width_log());
}

#[test]
fn rounds_without_both_sides_and_runs_that_failed_their_checks_do_not_pair() {
    let mut m = manifest();
    let a = rounds(31, "a", &[50.0, 50.0, 50.0]);
    let mut b = rounds(31, "b", &[51.0, 49.0, 50.0, 50.0]);
    b.runs[2].checks.cache_n_zero = false;
    m.cells = vec![a, b, rounds(461, "b", &[50.0, 50.0])];
    let p = paired(&m, &ab(vec![arm("a"), arm("b")]));
    // Rounds 0 and 2 pair (round 1 of B failed its checks, round 3 has no A).
    assert_eq!(p.cells.len(), 1);
    assert_eq!(p.cells[0].rounds, 2);
    assert!(close(p.cells[0].ratio.unwrap(), (51.0f64 / 50.0).sqrt()));
    assert_eq!(p.unpaired, ["cpu.m.b.p461"]);
    // Two rounds: a fixed-n interval, no sequence yet.
    assert!(p.cells[0].fixed.is_some());
    assert!(p.cells[0].sequence.is_none());
    assert_eq!(p.cells[0].verdict, Verdict::Inconclusive);
}

#[test]
fn arms_by_backend_pair_on_the_variant_and_every_later_arm_meets_the_baseline() {
    let mut m = manifest();
    let on = |b: Backend, mut c: Cell| {
        c.id = c.id.replacen("cpu", b.name(), 1);
        c.backend = b;
        c
    };
    let slow: Vec<f64> = (0..8).map(|i| 40.0 + f64::from(i % 2)).collect();
    let fast: Vec<f64> = slow.iter().map(|x| x * 1.25).collect();
    m.cells = vec![
        rounds(31, "default", &slow),
        on(Backend::Vulkan, rounds(31, "default", &fast)),
        on(Backend::Cuda, rounds(31, "default", &slow)),
    ];
    let arms = ["cpu", "vulkan", "cuda"]
        .map(|b| CellSelector {
            backend: Some(b.into()),
            ..CellSelector::default()
        })
        .to_vec();
    let p = paired(&m, &ab(arms));
    assert_eq!(p.cells.len(), 2);
    assert_eq!(p.cells[0].arm, 1);
    // Exactly 1.25 every round: no spread, a point interval, faster.
    assert!(close(p.cells[0].ratio.unwrap(), 1.25));
    assert_eq!(p.cells[0].verdict, Verdict::Faster);
    assert_eq!(p.cells[1].b, "cuda.m.default.p31");
    assert_eq!(p.cells[1].verdict, Verdict::Same);
    assert!(p.all_decided());
}
