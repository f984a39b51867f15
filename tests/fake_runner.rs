//! The runner through rigbench's public API against its fakes (the `fakes`
//! feature, on for every test build): a plan of two variants, one healthy and
//! one whose server's output collapses onto a loop, run without Podman or a
//! model, and the manifest read back through the `Manifest` type. Fast, so
//! plain `cargo test` runs it; the real path is `e2e_cpu`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use rigbench::backend::Backend;
use rigbench::fake::engine::FakeEngine;
use rigbench::host::devices::Passthrough;
use rigbench::manifest::Manifest;
use rigbench::manifest::store::RunDir;
use rigbench::metric::Metric;
use rigbench::runner::{Prepared, Runner, pending_cells};
use rigbench::status::{CellStatus, FailureMode};

/// tests/plans/fake.toml with 3 measured runs, 32 tokens (enough to see a
/// loop) and two variants.
fn plan() -> String {
    let base = include_str!("plans/fake.toml")
        .replace("runs = 2\n", "runs = 3\n")
        .replace("n_predict = 8\n", "n_predict = 32\n");
    format!(
        "{base}[[variants]]\nname = \"healthy\"\n[[variants]]\nname = \"looping\"\nenv = {{ FAKE_LOOP = \"1\" }}\n"
    )
}

#[tokio::test]
async fn a_healthy_and_a_collapsing_variant_through_the_public_api() {
    let plan = rigbench::plan::parse(&plan(), "fake.toml", 2).unwrap();
    let matrix = rigbench::plan::matrix::expand(&plan);
    let work = tempfile::tempdir().unwrap();
    let dir = RunDir::create(&work.path().join("run")).unwrap();
    let host = rigbench::host::probe(std::path::Path::new("/nonexistent"));
    let mut m = Manifest::new("fake1", plan.clone(), host, None);
    m.cells = pending_cells(&plan, &matrix);
    dir.save(&mut m).unwrap();
    let engine = FakeEngine::default();
    let runner = Runner {
        engine: &engine,
        dir: &dir,
        run_id: "fake1",
        backends: BTreeMap::from([(
            (Backend::Cpu, 0),
            Prepared {
                image_id: "sha256:fake".to_string(),
                passthrough: Passthrough::default(),
            },
        )]),
        model_files: vec![rigbench::fetch::ModelFiles::one(
            work.path().join("m.gguf"),
            "m.gguf",
        )],
        sampler: None,
        rates: rigbench::plan::estimate::Rates::assumed(),
    };
    let mut rec = rigbench::manifest::recorder::Recorder::new(&dir, &mut m);
    runner.run(&mut rec, &matrix).await.unwrap();

    // What was saved is what a reader gets, through the type.
    let saved = dir.load().unwrap();
    assert_eq!(saved.cells.len(), 4);
    for c in saved.cells.iter().filter(|c| c.variant.name == "healthy") {
        assert_eq!(c.status, CellStatus::Ok, "{}", c.id);
        assert_eq!(c.runs.iter().filter(|r| r.warmup).count(), 1);
        assert_eq!(c.measured_runs(), 3);
        assert_eq!(c.stats[&Metric::GenTps].n, 3);
        assert!(c.stats[&Metric::TtftMs].mean > 0.0);
    }
    for c in saved.cells.iter().filter(|c| c.variant.name == "looping") {
        assert_eq!(c.status, CellStatus::Failed, "{}", c.id);
        let f = c.failure.as_ref().unwrap();
        assert_eq!(f.mode, FailureMode::DegenerateOutput);
        // The warm-up already showed the loop: it is kept, nothing more ran.
        assert_eq!(c.runs.len(), 1);
        assert_eq!(c.measured_runs(), 0);
        assert_eq!(c.runs[0].degenerate.as_ref().unwrap().unit, [236855, 715]);
    }
    // One server start per variant: the collapsed cell's server went on to the
    // next cell of its group.
    assert_eq!(engine.created.lock().unwrap().len(), 2);
    assert_eq!(engine.live_containers(), 0);
    rigbench::manifest::integrity::verify(
        &serde_json::from_str(&std::fs::read_to_string(dir.manifest_path()).unwrap()).unwrap(),
    )
    .unwrap();
}
