//! Two real runs at once on one machine (two plans, two run directories), and
//! `rigbench cleanup` called while they run: both complete, each with its own
//! containers, ports and API service, and cleanup leaves every container of a
//! live run, saying which.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{read_manifest, repo, rigbench, start_run_until};
use rigbench::status::{CellStatus, RunStatus};

#[test]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
fn two_runs_at_once_and_cleanup_leaves_live_runs_alone() {
    let work = tempfile::tempdir().unwrap();
    // Plan B: the e2e plan under another name, one prompt length.
    let text = std::fs::read_to_string(repo().join("tests/plans/e2e.toml")).unwrap();
    let b_text = text
        .replace("name = \"e2e\"", "name = \"e2e-b\"")
        .replace("prompt_tokens = [31, 461]", "prompt_tokens = [31]");
    assert_ne!(text, b_text);
    let plan_b = work.path().join("b.toml");
    std::fs::write(&plan_b, b_text).unwrap();
    let out_a = work.path().join("a");
    let out_b = work.path().join("b");

    let (mut a, _) = start_run_until(&repo().join("tests/plans/e2e.toml"), &out_a, 1, false);
    let (mut b, _) = start_run_until(&plan_b, &out_b, 1, false);

    // Both are between runs or measuring now: each has a live server.
    let cleaned = rigbench(&["cleanup"], work.path());
    assert!(cleaned.status.success());
    let said = String::from_utf8_lossy(&cleaned.stdout);
    let left: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("left container"))
        .collect();
    assert!(
        left.iter()
            .any(|l| l.contains(&format!("rigbench pid {}", a.id())))
            && left
                .iter()
                .any(|l| l.contains(&format!("rigbench pid {}", b.id()))),
        "cleanup did not leave both live runs' containers: {said}"
    );
    assert!(
        !said.contains("removed container"),
        "cleanup removed a container of a live run: {said}"
    );
    assert!(said.contains("of live runs left"), "{said}");

    assert_eq!(a.wait().unwrap().code(), Some(0), "run A failed");
    assert_eq!(b.wait().unwrap().code(), Some(0), "run B failed");
    let ma = read_manifest(&out_a.join("manifest.json")).unwrap();
    let mb = read_manifest(&out_b.join("manifest.json")).unwrap();
    for (m, out) in [(&ma, &out_a), (&mb, &out_b)] {
        rigbench::manifest::integrity::verify(&common::manifest_json(out)).unwrap();
        assert_eq!(m.status, RunStatus::Complete);
        for c in &m.cells {
            assert_eq!(c.status, CellStatus::Ok, "{} cell {}", m.plan.name, c.id);
        }
    }
    assert_eq!(ma.cells.len(), 2);
    assert_eq!(mb.cells.len(), 1);
    assert_ne!(ma.run_id, mb.run_id);
    // Their own containers and ports.
    let names = |m: &rigbench::manifest::Manifest| -> BTreeSet<String> {
        m.cells
            .iter()
            .filter_map(|c| c.server.as_ref())
            .map(|s| s.container_name.clone())
            .collect()
    };
    assert!(names(&ma).is_disjoint(&names(&mb)));
    let ports = |m: &rigbench::manifest::Manifest| -> BTreeSet<u16> {
        m.cells
            .iter()
            .filter_map(|c| c.server.as_ref())
            .map(|s| s.host_port)
            .collect()
    };
    eprintln!("ports: A {:?}, B {:?}", ports(&ma), ports(&mb));
    // Their own API service, where rigbench started one.
    let service = |m: &rigbench::manifest::Manifest| m.engine.as_ref().and_then(|e| e.service_pid);
    if let (Some(sa), Some(sb)) = (service(&ma), service(&mb)) {
        assert_ne!(sa, sb, "the two runs shared one API service");
    }
    eprintln!("services: A {:?}, B {:?}", service(&ma), service(&mb));

    // Once both ended, nothing of theirs is left for cleanup.
    let after = rigbench(&["cleanup"], work.path());
    let said = String::from_utf8_lossy(&after.stdout);
    assert!(!said.contains("left container"), "{said}");
}
