//! `rigbench rerun` of a real bundle: the CPU image rebuilt with no cached layer,
//! the plan rerun, the runs compared, the binaries' sha256 checked and recorded.
//! The rebuild takes its objects from the compiler cache (`--compiler-cache`):
//! a rebuild that compiles everything anew differs from it only in the one
//! build argument (unit test `image::tests::only_a_clean_rebuild_…`) and costs
//! a full compile (6.5 minutes here); what it found is in
//! docs/backends-and-images.md ("The compiler cache"). When the cache held none
//! of the objects (emptied while the images were kept), a second rerun checks
//! that the first filled it.
//! The image the rebuild replaced, and the build stages it left, are removed.
//! And a run whose base image cannot be had as recorded is refused before
//! anything is built.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{rigbench, rigbench_ok, shared_run};
use rigbench::manifest::store::RunDir;

#[test]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
fn a_bundle_reruns_with_rebuilt_images_and_the_binaries_are_checked() {
    let (work, orig, m) = shared_run("e2e.toml");
    let bundle = work.path().join("orig.tar.gz");
    rigbench_ok(
        &[
            "bundle",
            orig.to_str().unwrap(),
            "-o",
            bundle.to_str().unwrap(),
        ],
        work.path(),
    );

    // A forged copy: the base image id the run recorded is not on this machine.
    let forged = work.path().join("forged");
    std::fs::create_dir_all(forged.join("logs")).unwrap();
    let mut fm = RunDir::open(&orig).load().unwrap();
    fm.images[0].base_image.image_id = format!("sha256:{}", "0".repeat(64));
    RunDir::open(&forged).save(&mut fm).unwrap();
    let refused = rigbench(
        &[
            "rerun",
            forged.to_str().unwrap(),
            "--out",
            work.path().join("never").to_str().unwrap(),
        ],
        work.path(),
    );
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("cannot be had as recorded") && err.contains("--allow-substitutes"),
        "{err}"
    );
    assert!(
        !work.path().join("never").exists(),
        "a refused rerun wrote a run"
    );

    // The real rerun, from the bundle.
    let out = work.path().join("rerun");
    let r = rigbench(
        &[
            "rerun",
            bundle.to_str().unwrap(),
            "--compiler-cache",
            "--out",
            out.to_str().unwrap(),
        ],
        work.path(),
    );
    assert!(r.status.success());
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains("building localhost/rigbench/llama-cpu"),
        "no rebuild: {stderr}"
    );
    let new = RunDir::open(&out).load().unwrap();
    assert_eq!(new.status, rigbench::status::RunStatus::Complete);
    // Disk hygiene: the image the rebuild replaced under its tag is gone, and
    // no dangling rigbench image (build stage) is left.
    let old_id = &m.images[0].image_id;
    assert_ne!(
        &new.images[0].image_id, old_id,
        "the rebuild made no new image"
    );
    assert!(
        stderr.contains("removed the image localhost/rigbench/llama-cpu"),
        "{stderr}"
    );
    let exists = std::process::Command::new("podman")
        .args(["image", "exists", old_id])
        .status()
        .unwrap();
    assert!(
        !exists.success(),
        "the replaced image {old_id} is still there"
    );
    let dangling = common::dangling_rigbench_images();
    assert!(
        dangling.is_empty(),
        "dangling rigbench images left: {dangling}"
    );
    // The plan was pinned to what the original used: its base image and hashes.
    assert_eq!(
        new.plan.models[0].sha256.as_deref(),
        Some(m.models[0].sha256.as_str())
    );
    assert_eq!(
        new.plan.backends[0].base_image,
        rigbench::plan::AutoOr::Value(m.images[0].base_image.reference.clone())
    );
    assert_eq!(
        new.images[0].base_image.image_id,
        m.images[0].base_image.image_id
    );
    let of = new.rerun_of.as_ref().unwrap();
    assert_eq!(of.run_id, m.run_id);
    assert!(of.substitutes.is_empty());
    let server = of
        .binaries
        .iter()
        .find(|b| b.binary == "llama-server")
        .unwrap();
    assert_eq!(server.image, "cpu@default");
    assert_eq!(
        server.identical,
        server.rebuilt.as_deref() == Some(server.original.as_str())
    );
    eprintln!(
        "llama-server: original {} rebuilt {:?} identical {} differing {:?}",
        server.original, server.rebuilt, server.identical, server.differing_inputs
    );
    let text = std::fs::read_to_string(out.join("rerun.md")).unwrap();
    assert!(text.contains("## Generation, tokens/s"));
    assert!(text.contains("## Rebuilt binaries"));
    assert!(text.contains("cpu@default llama-server: "));
    // What the rebuild compiled anew and what it took from the compiler cache
    // is recorded with the rebuilt image and said in the report.
    let cc = compiler_cache(&new, &text);
    if cc.0 == 0 {
        // The cache held none of these objects (a machine whose cache was
        // emptied while its images were kept): this rebuild filled it, so the
        // next one takes every object from it.
        eprintln!("the compiler cache was cold ({} misses): rerunning", cc.1);
        let again = work.path().join("rerun-again");
        let r = rigbench(
            &[
                "rerun",
                bundle.to_str().unwrap(),
                "--compiler-cache",
                "--out",
                again.to_str().unwrap(),
            ],
            work.path(),
        );
        assert!(r.status.success());
        let m2 = RunDir::open(&again).load().unwrap();
        let text2 = std::fs::read_to_string(again.join("rerun.md")).unwrap();
        let (hits, misses) = compiler_cache(&m2, &text2);
        assert!(hits > 0 && hits >= cc.1 / 2, "{hits} hits, {misses} misses");
    }
}

/// The compiler cache's hits and misses the rerun's image records, checked
/// against what its report says.
fn compiler_cache(new: &rigbench::manifest::Manifest, text: &str) -> (u64, u64) {
    let cc = &new.images[0].build_info["compiler_cache"];
    assert_eq!(cc["state"], "on", "{cc}");
    let hits = cc["hits"].as_u64().unwrap();
    let misses = cc["misses"].as_u64().unwrap();
    assert!(hits + misses > 0, "{cc}");
    let line = format!(
        "cpu@default compiled: {hits} of {} compilations from the compiler cache",
        hits + misses
    );
    assert!(text.contains(&line), "no {line:?} in {text}");
    (hits, misses)
}
