//! End to end on the CPU image through real Podman and the real Gemma 3 270M model:
//! `rigbench run` with a small plan builds (or reuses) the image, serves the model,
//! measures, and writes a manifest whose facts are checked against the engine and
//! the plan.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{COMMIT, MODEL_SHA256, manifest_json, repo, shared_run};
use rigbench::engine::{Engine, EngineKind, LABEL_RUN};
use rigbench::metric::Metric;
use rigbench::status::{CellStatus, RunStatus};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
async fn small_plan_runs_end_to_end_in_a_real_container() {
    let (_work, out, m) = shared_run("e2e.toml");
    // The manifest validates against the published schema.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schema/manifest.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let json = manifest_json(&out);
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:?}");
    assert_eq!(m.schema_version, "rigbench.manifest/2");
    assert_eq!(m.status, RunStatus::Complete);
    assert!(
        m.host
            .kernel
            .release
            .as_ref()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(
        m.host
            .kernel
            .cmdline
            .as_ref()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(m.engine.as_ref().unwrap().kind, EngineKind::Podman);

    // The image id in the manifest is what the engine reports for the tag.
    let image = &m.images[0];
    let connected = common::engine().await;
    let facts = connected
        .client
        .image(&image.tag)
        .await
        .unwrap()
        .expect("the image exists");
    assert_eq!(image.image_id, facts.id);
    assert!(facts.id.starts_with("sha256:"));

    // llama-server --version in the image names the commit passed to cmake.
    let version = &image.llama_cpp.version_output;
    assert!(version.contains(COMMIT), "{version}");
    assert_eq!(image.build_args["LLAMA_COMMIT"], COMMIT);
    assert!(image.llama_cpp.source_pinned);
    assert_eq!(image.containerfile_sha256.len(), 64);
    assert!(image.base_image.image_id.starts_with("sha256:"));

    let model = &m.models[0];
    assert_eq!(model.sha256, MODEL_SHA256);
    assert_eq!(model.size_bytes, 253_113_024);
    assert_eq!(model.gguf.architecture.as_deref(), Some("gemma3"));
    assert_eq!(model.gguf.file_type_name.as_deref(), Some("Q4_K_M"));

    let prompts: Vec<u32> = m.cells.iter().map(|c| c.prompt_tokens).collect();
    assert_eq!(prompts, [31, 461]);
    for c in &m.cells {
        assert_eq!(c.status, CellStatus::Ok, "{}", c.id);
        // The server ran without its host prompt cache, as recorded.
        assert!(
            c.variant
                .server_argv
                .windows(2)
                .any(|w| w == ["--cache-ram", "0"]),
            "{:?}",
            c.variant.server_argv
        );
        let runs = &c.runs;
        assert_eq!(runs.len(), 3);
        for r in runs {
            // Exactly the planned prompt, nothing from the prompt cache.
            assert_eq!(r.prompt_n, u64::from(c.prompt_tokens));
            assert_eq!(
                r.timings["prompt_n"].as_u64(),
                Some(u64::from(c.prompt_tokens))
            );
            assert_eq!(r.cache_n, 0);
            assert_eq!(r.predicted_n, 32);
            assert_eq!(r.token_ids.len(), 32);
            assert!(r.gen_tps > 0.0);
            for k in ["predicted_per_second", "predicted_ms", "prompt_ms"] {
                assert!(
                    r.timings[k].as_f64().is_some_and(|v| v > 0.0),
                    "timings.{k}"
                );
            }
        }
        assert_eq!(c.stats[&Metric::GenTps].n, 2);
        // Telemetry on a host without GPU: unavailable, MemAvailable still recorded;
        // no edge sensor, so no cool-down wait before the measured runs.
        for r in runs {
            let t = r.telemetry.as_ref().unwrap();
            assert!(!t.available, "{t:?}");
            assert!(t.mem_available_drop_bytes.is_some(), "{t:?}");
            if !r.warmup {
                let cool = r.cooldown.as_ref().unwrap();
                assert_eq!(cool.waited_s, 0.0);
                assert!(
                    cool.note
                        .as_deref()
                        .unwrap()
                        .contains("no GPU edge temperature sensor")
                );
            } else {
                assert!(r.cooldown.is_none());
            }
        }
        // Greedy decoding of the same prompt gives the same tokens every run.
        assert_eq!(runs[1].token_ids, runs[2].token_ids);
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("| prompt tokens | cpu/small"), "{report}");
    assert!(out.join("logs/cpu.gemma-3-270m-q4_k_m.small.log").exists());
    // And the server took it: with no host cache, this source's llama-server
    // turns off caching idle slots too, and says so.
    let server_log =
        std::fs::read_to_string(out.join("logs/cpu.gemma-3-270m-q4_k_m.small.log")).unwrap();
    assert!(
        server_log.contains("--cache-idle-slots requires --cache-ram, disabling"),
        "{server_log}"
    );

    // No container of this run is left behind.
    let run_id = &m.run_id;
    let left = connected
        .client
        .list_labelled(&[format!("{LABEL_RUN}={run_id}")])
        .await
        .unwrap();
    assert!(left.is_empty(), "containers of run {run_id} left: {left:?}");
}
