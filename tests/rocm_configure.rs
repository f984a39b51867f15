//! What can be checked of the ROCm images without an AMD GPU: the build stage of
//! Containerfile.rocm6 on a Debian sid base (Debian packages ROCm 6.4: HIP 6.4.3,
//! rocBLAS and hipBLAS 6.4.4, hipcc 7.0.2) installs its dependencies and configures
//! llama.cpp with HIP for gfx1151 (CONFIGURE_ONLY=1: a full HIP build takes hours on
//! these machines, and nothing here could run it). scripts/test.sh makes the sid
//! base with debootstrap. The toolchain stage (`deps`, ROCm's packages) is kept
//! under a tag of its own, so that a later run takes it from the layer cache and
//! only the configure step, the thing checked, runs again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use rigbench::backend::Backend;
use rigbench::engine::{BuildRequest, Engine, LABEL_MANAGED};

const SID_BASE: &str = "localhost/rigbench/debian:sid";

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Podman and the Debian sid base: scripts/test.sh runs it"]
async fn rocm6_build_stage_configures_hip_for_gfx1151_on_debian_rocm() {
    let c = common::engine().await;
    let e = &c.client;
    assert!(
        e.image(SID_BASE).await.unwrap().is_some(),
        "{SID_BASE} is missing: scripts/test.sh makes it"
    );
    let cache = rigbench::cache::Cache::locate(None);
    let plan = rigbench::plan::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans/e2e.toml"),
        2,
    )
    .unwrap();
    let source = rigbench::fetch::Fetcher::new(&cache)
        .unwrap()
        .source(&plan.sources[0])
        .await
        .unwrap();

    let work = tempfile::tempdir().unwrap();
    let ctx = work.path().join("context.tar");
    rigbench::image::context::write(
        &ctx,
        Backend::Rocm6.containerfile(),
        Backend::Rocm6.containerfile_text(),
        &source.path,
    )
    .unwrap();
    let request = |target: &str, tag: &str, log: &std::path::Path| BuildRequest {
        context_tar: ctx.clone(),
        containerfile: Backend::Rocm6.containerfile().to_string(),
        tag: tag.to_string(),
        build_args: BTreeMap::from([
            ("BASE_IMAGE".to_string(), SID_BASE.to_string()),
            ("LLAMA_SRC_DIR".to_string(), source.dir.clone()),
            ("LLAMA_COMMIT".to_string(), plan.sources[0].commit.clone()),
            ("CONFIGURE_ONLY".to_string(), "1".to_string()),
            // The mirror here is a snapshot: sid's Release file has expired.
            ("APT_CHECK_VALID_UNTIL".to_string(), "false".to_string()),
        ]),
        labels: BTreeMap::from([(LABEL_MANAGED.to_string(), "true".to_string())]),
        target: Some(target.to_string()),
        no_cache: false,
        log: log.to_path_buf(),
    };
    // The toolchain, kept (tagged) between runs: a rebuild with the same inputs
    // is all cache hits; changed inputs replace it, and the old one, untagged,
    // goes with rigbench's dangling images.
    let deps_log = work.path().join("deps.log");
    let deps = e
        .build(
            &request("deps", "localhost/rigbench/rocm6-deps-test:sid", &deps_log),
            &|_: &str| {},
        )
        .await;
    let deps_text = std::fs::read_to_string(&deps_log).unwrap_or_default();
    deps.unwrap_or_else(|err| panic!("{err}\n{deps_text}"));

    // The build stage on top of it: configured anew each run, since its image
    // is removed below and the layer cache then has no configure step to give.
    let log = work.path().join("build.log");
    let tag = format!(
        "localhost/rigbench/rocm6-configure-test:{}",
        std::process::id()
    );
    let built = e.build(&request("build", &tag, &log), &|_: &str| {}).await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = e.remove_image(&tag).await;
    built.unwrap_or_else(|err| panic!("{err}\n{text}"));
    for expect in [
        "-DGGML_HIP=ON",
        "-DGPU_TARGETS=gfx1151",
        "The HIP compiler identification is Clang",
        "HIP and hipBLAS found",
        "-- Configuring done",
        "CONFIGURE_ONLY=1, stopping after cmake configure",
    ] {
        assert!(text.contains(expect), "build log lacks {expect:?}:\n{text}");
    }
}
