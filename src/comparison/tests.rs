//! Two hand-made runs compared. The statistics themselves are checked in
//! `stats::compare::tests`; here the matching, the Holm family, the verdicts per
//! metric direction, failures against successes, and the setup differences.

use super::*;
use crate::manifest::Failure;
use crate::manifest::fixtures::{cell, run};
use crate::status::FailureMode;

fn manifest(cells: Vec<Cell>) -> Manifest {
    let plan = crate::plan::builtin(2).unwrap();
    let host = crate::host::probe(std::path::Path::new("/nonexistent"));
    let mut m = Manifest::new("r", plan, host, None);
    m.cells = cells;
    m
}

/// Measured runs (plus a warm-up that must be ignored) with generation `generation`,
/// prompt processing 800 and TTFT `ttft`.
fn runs(generation: &[f64], ttft: &[f64]) -> Vec<crate::manifest::Run> {
    let mut v = vec![run(1.0, 1.0, 9999.0, true)];
    v.extend(
        generation
            .iter()
            .zip(ttft)
            .map(|(g, t)| run(*g, 800.0, *t, false)),
    );
    v
}

#[test]
fn same_slower_and_failed_cells_with_holm_across_the_cells() {
    let a = manifest(vec![
        // Quiet and unchanged: same (see stats tests for these numbers).
        cell(
            31,
            "default",
            runs(&[80.0, 80.4, 79.8, 80.2], &[40.0, 41.0, 40.5, 40.2]),
            None,
        ),
        // B much slower: 55.6 → 42 (the study's Vulkan → ROCm numbers).
        cell(
            461,
            "default",
            runs(&[55.6, 55.5, 55.7, 55.6], &[40.0, 41.0, 40.5, 40.2]),
            None,
        ),
        // Ran in A, crashed in B.
        cell(
            3799,
            "default",
            runs(&[60.0, 60.1, 60.2, 60.0], &[90.0, 91.0, 90.0, 90.0]),
            None,
        ),
        // Only in A.
        cell(11205, "default", runs(&[50.0, 50.0], &[900.0, 901.0]), None),
    ]);
    let mut b_cells = vec![
        cell(
            31,
            "default",
            runs(&[80.3, 80.1, 80.5, 79.9], &[40.1, 40.9, 40.6, 40.3]),
            None,
        ),
        cell(
            461,
            "default",
            runs(&[42.1, 47.9, 37.0, 41.4], &[30.0, 30.5, 30.2, 30.1]),
            None,
        ),
        cell(
            3799,
            "default",
            vec![],
            Some(Failure {
                mode: FailureMode::Crash,
                message: "x".into(),
                evidence: vec![],
            }),
        ),
    ];
    b_cells.push(cell(31, "q8", runs(&[1.0, 1.0], &[1.0, 1.0]), None));
    let mut b = manifest(b_cells);
    b.plan.bench.n_predict = 64;

    let c = compare("A", &a, "B", &b, 0.02);
    assert_eq!(c.cells.len(), 3);
    assert_eq!(c.only_in_a, ["cpu.m.default.p11205"]);
    assert_eq!(c.only_in_b, ["cpu.m.q8.p31"]);

    let generation = |i: usize| &c.cells[i].metrics[0];
    // Holm over the two cells that ran on both sides: p = 0.6036 and 0.00913;
    // adjusted 0.00913 · 2 = 0.01826 and max(0.6036 · 1, 0.01826) = 0.6036.
    assert!((generation(1).p_adjusted.unwrap() - 2.0 * 0.009_128_793_598).abs() < 1e-8);
    assert!((generation(0).p_adjusted.unwrap() - 0.603_645_056_5).abs() < 1e-8);
    assert_eq!(generation(0).verdict, Some(Verdict::Same));
    assert_eq!(generation(1).verdict, Some(Verdict::Slower));
    // TTFT fell from about 40.4 to 30.2 ms on the 461 cell: lower is better, so
    // B is faster there.
    assert_eq!(c.cells[1].metrics[2].verdict, Some(Verdict::Faster));
    // A failure against a success: no statistics, both outcomes.
    assert_eq!(c.cells[2].a.text(), "ok 4/4");
    assert_eq!(c.cells[2].b.text(), "crash 0/4");
    assert!(generation(2).welch.is_none() && generation(2).verdict.is_none());

    // The setup: n_predict changed and nothing else.
    let fields: Vec<_> = c.setup.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, ["plan.bench.n_predict"]);
    assert_eq!(c.setup[0].a.as_deref(), Some("128"));
    assert_eq!(c.setup[0].b.as_deref(), Some("64"));

    let md = render::markdown(&c);
    assert!(md.contains("| plan.bench.n_predict | 128 | 64 |"), "{md}");
    assert!(md.contains("A: ok 4/4, B: crash 0/4"), "{md}");
    assert!(md.contains("| 0.757 (0.639–0.897) |"), "{md}");
    assert!(md.contains("## Only in A\n\ncpu.m.default.p11205"), "{md}");

    // The same comparison as a page: a forest plot per metric, the slower
    // cell's square in vermilion, the crashed cell's note in black, the setup
    // table, and nothing that loads or runs anything.
    let page = html::html(&c);
    assert_eq!(page.matches("<svg").count(), METRICS.len());
    assert!(
        page.contains("fill=\"#D55E00\"><title>0.757 (0.639–0.897)</title>"),
        "{page}"
    );
    assert!(page.contains("fill=\"#000000\">A: ok 4/4, B: crash 0/4</text>"));
    assert!(page.contains("<td>plan.bench.n_predict</td><td>128</td><td>64</td>"));
    assert!(page.contains("<h2>Only in A</h2>\n<p>cpu.m.default.p11205</p>"));
    assert!(!page.contains("<script"));
    assert_eq!(
        page.matches("http").count(),
        page.matches("http://www.w3.org/2000/svg").count(),
        "only the SVG namespace may name an address"
    );
    assert!(!page.contains("**"), "Markdown emphasis left in the page");
}

#[test]
fn a_slow_first_measured_run_is_warned_about() {
    let a = manifest(vec![cell(
        31,
        "default",
        runs(&[40.0, 55.5, 55.6, 55.7], &[1.0, 1.0, 1.0, 1.0]),
        None,
    )]);
    let c = compare("A", &a, "B", &a.clone(), 0.02);
    // Modified z −104.9 (worked out in stats::compare::tests), on both sides.
    assert_eq!(c.cells[0].warnings.len(), 2);
    assert!(c.cells[0].warnings[0].starts_with(
        "A: the first measured run's generation (40.0 t/s) is an outlier (modified z -104.9)"
    ));
    assert!(c.setup.is_empty());
}

#[test]
fn an_inconclusive_cell_says_how_many_runs_would_decide_it() {
    // Generation 100, 102, 98, 100 on both sides: ratio 1, sd √(8/3) = 1.63299
    // so cv² = 0.000266667 a side; n = 4: se = √(0.000533333 / 4) = 0.011547,
    // t(0.975, 6) = 2.446912, half-width 0.028254 > ln 1.02 = 0.0198026:
    // inconclusive. n = 6: t(0.975, 10) = 2.228139 · √(0.000533333 / 6) =
    // 0.021007 > 0.0198026; n = 7: t(0.975, 12) = 2.178813 · 0.0087287 =
    // 0.019018 ≤ it. So 7 runs a side.
    let values = [100.0, 102.0, 98.0, 100.0];
    let ttft = [40.0, 40.0, 40.0, 40.0];
    let a = manifest(vec![cell(31, "default", runs(&values, &ttft), None)]);
    let b = manifest(vec![cell(31, "default", runs(&values, &ttft), None)]);
    let c = compare("A", &a, "B", &b, 0.02);
    let g = &c.cells[0].metrics[0];
    assert_eq!(g.verdict, Some(Verdict::Inconclusive));
    assert_eq!(g.runs_to_decide, Some(7));
    // TTFT without spread on either side: same, nothing to add.
    let t = &c.cells[0].metrics[2];
    assert_eq!((t.verdict, t.runs_to_decide), (Some(Verdict::Same), None));
    let md = render::markdown(&c);
    assert!(md.contains("| inconclusive (≈7 runs a side) |"), "{md}");
}

#[test]
fn a_synthetic_cell_never_meets_a_real_models_cell_of_the_same_name() {
    use crate::manifest::fixtures::synthetic_record;
    let cells = || {
        vec![cell(
            31,
            "default",
            runs(&[70.0, 71.0], &[40.0, 41.0]),
            None,
        )]
    };
    let real = manifest(cells());
    let mut synth = manifest(cells());
    // The cell's model, gemma-3-270m-q4_k_m, is synthetic in this run.
    synth.models.push(synthetic_record("gemma-3-270m-q4_k_m"));
    let c = compare("real", &real, "synth", &synth, 2.0);
    assert!(c.cells.is_empty());
    assert_eq!(c.only_in_a, ["cpu.m.default.p31"]);
    assert_eq!(c.only_in_b, ["cpu.m.default.p31"]);
    // Two runs of the same recipe do meet.
    let c = compare("synth", &synth, "again", &synth.clone(), 2.0);
    assert_eq!(c.cells.len(), 1);
    assert!(
        c.cells[0]
            .key
            .model
            .starts_with("gemma-3-270m-q4_k_m (synthetic #")
    );
}

#[test]
fn a_server_argument_rigbench_added_by_itself_shows_in_the_setup() {
    // The same plan run by two rigbench versions: the second starts every
    // server with `--cache-ram 0`, which no plan setting says.
    let with = |argv: &[&str]| {
        let mut c = cell(31, "default", runs(&[70.0, 71.0], &[40.0, 41.0]), None);
        c.variant.server_argv = argv.iter().map(|s| s.to_string()).collect();
        let mut m = manifest(vec![c.clone(), cell(461, "default", c.runs.clone(), None)]);
        m.cells[1].variant.server_argv = c.variant.server_argv.clone();
        m
    };
    let a = with(&["--fit", "off"]);
    let b = with(&["--fit", "off", "--cache-ram", "0"]);
    let c = compare("a", &a, "b", &b, 2.0);
    // One row for the server group, not one per prompt length.
    let rows: Vec<_> = c
        .setup
        .iter()
        .filter(|d| d.field.starts_with("cell["))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0].field,
        "cell[cpu@default/gemma-3-270m-q4_k_m/default].server_argv.--cache-ram"
    );
    assert_eq!(
        (rows[0].a.as_deref(), rows[0].b.as_deref()),
        (None, Some("0"))
    );
    // The same argv on both sides: no row.
    assert!(compare("a", &a, "a2", &a.clone(), 2.0).setup.is_empty());
}

#[test]
fn an_argument_list_is_read_as_flags_and_their_values() {
    let argv: Vec<String> = [
        "serve",
        "--model",
        "/m.gguf",
        "-ngl",
        "99",
        "--no-mmap",
        "--override-kv",
        "a=1",
        "b=2",
        "--seed",
        "-1",
        "--cache-ram",
        "0",
        "--cache-ram",
        "8192",
        "--override-kv",
        "c=3",
    ]
    .map(String::from)
    .to_vec();
    let f = setup::argv_flags(&argv);
    let got: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        got,
        [
            ("--cache-ram", "0 ; 8192"),
            ("--model", "/m.gguf"),
            ("--no-mmap", "(set)"),
            ("--override-kv", "a=1 b=2 ; c=3"),
            ("--seed", "-1"),
            ("-ngl", "99"),
            ("args", "serve"),
        ]
    );
}

#[test]
fn a_flag_that_differs_in_every_server_group_is_one_row() {
    let group = |variant: &str, argv: &[&str]| {
        let mut c = cell(31, variant, runs(&[70.0, 71.0], &[40.0, 41.0]), None);
        c.variant.server_argv = argv.iter().map(|s| s.to_string()).collect();
        c
    };
    let a = manifest(vec![
        group("default", &["--fit", "off"]),
        group("q8", &["--fit", "off", "-ctk", "q8_0"]),
    ]);
    // --cache-ram in both groups, -ctk changed in one.
    let b = manifest(vec![
        group("default", &["--fit", "off", "--cache-ram", "0"]),
        group("q8", &["--fit", "off", "-ctk", "q4_0", "--cache-ram", "0"]),
    ]);
    let c = compare("a", &a, "b", &b, 2.0);
    let rows: Vec<_> = c
        .setup
        .iter()
        .map(|d| (d.field.as_str(), d.a.as_deref(), d.b.as_deref()))
        .collect();
    assert_eq!(
        rows,
        [
            (
                "cell[cpu@default/gemma-3-270m-q4_k_m/q8].server_argv.-ctk",
                Some("q8_0"),
                Some("q4_0")
            ),
            ("cell[every group].server_argv.--cache-ram", None, Some("0")),
        ]
    );
}
