//! A cell's precision bookkeeping: which target metrics are still too wide and
//! whether it wants another run.

use super::fixtures::{cell, gen_runs, run};
use crate::metric::Metric;
use crate::plan::{Bench, Precision};

fn bench(runs: u32, precision: Option<Precision>) -> Bench {
    let plan = crate::plan::parse(crate::plan::DEFAULT_PLAN_TOML, "default", 2).unwrap();
    Bench {
        runs,
        precision,
        ..plan.bench
    }
}

fn target(max_runs: u32, pct: f64, metrics: &[Metric]) -> Precision {
    Precision {
        max_runs,
        target_ci_pct: pct,
        metrics: metrics.to_vec(),
    }
}

#[test]
fn imprecise_names_each_wide_metric_with_its_half_width() {
    // gen 99, 100, 101: half-width 2.484138 % of 100 (t(0.975, 2) = 4.302653,
    // sd 1, / sqrt(3)); pp 500 three times: 0 %.
    let c = cell(31, "v", gen_runs(&[99.0, 100.0, 101.0]), None);
    let wide = c.imprecise(&target(8, 2.0, &[Metric::GenTps, Metric::PpTps]));
    assert_eq!(wide.len(), 1);
    assert_eq!(wide[0].0, Metric::GenTps);
    assert!((wide[0].1.unwrap() - 2.484_138).abs() < 1e-5);
    // At a 2.5 % target nothing is too wide.
    assert!(
        c.imprecise(&target(8, 2.5, &[Metric::GenTps, Metric::PpTps]))
            .is_empty()
    );
    // One counted value has no interval: too wide, with no number.
    let one = cell(31, "v", vec![run(1.0, 1.0, 1.0, false)], None);
    assert_eq!(
        one.imprecise(&target(8, 2.0, &[Metric::TtftMs])),
        [(Metric::TtftMs, None)]
    );
}

#[test]
fn wants_more_until_runs_then_until_precise_or_max_runs() {
    let noisy = |n: usize| {
        let runs = (0..n)
            .map(|i| run(90.0 + 10.0 * (i % 2) as f64, 500.0, 50.0, false))
            .collect();
        cell(31, "v", runs, None)
    };
    let steady = |n: usize| cell(31, "v", vec![run(100.0, 500.0, 50.0, false); n], None);
    // No target: exactly `runs` measured runs (warm-ups do not count).
    let b = bench(3, None);
    assert!(noisy(2).wants_more(&b));
    assert!(!noisy(3).wants_more(&b));
    let mut warm = noisy(2);
    warm.runs.push(run(1.0, 1.0, 1.0, true));
    assert!(warm.wants_more(&b));
    // With a 1 % target: the steady cell stops at `runs`, the noisy one goes
    // on to max_runs and no further.
    let b = bench(3, Some(target(6, 1.0, &[Metric::GenTps])));
    assert!(steady(2).wants_more(&b));
    assert!(!steady(3).wants_more(&b));
    assert!(noisy(3).wants_more(&b));
    assert!(noisy(5).wants_more(&b));
    assert!(!noisy(6).wants_more(&b));
    // A run that failed its checks takes its turn but gives no value.
    let mut bad = steady(3);
    bad.runs[2].checks.cache_n_zero = false;
    assert_eq!(bad.measured_runs(), 3);
    assert_eq!(bad.values(Metric::GenTps).len(), 2);
}
