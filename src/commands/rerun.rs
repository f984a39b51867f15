//! `rigbench rerun BUNDLE_OR_RUN`: rebuild the images of a recorded run from its
//! recorded sources, build arguments and base images (no cached layer), run its
//! recorded plan on the engine's host (this machine, or another's through
//! `--connection`/`--host`), compare the new run with the original, and record
//! whether the rebuilt binaries are bit-identical. An input that host cannot
//! provide as recorded stops the rerun, unless `--allow-substitutes` says to go
//! on with what is there (then each substitute is recorded).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::Globals;
use crate::manifest::store::RunDir;
use crate::manifest::{BinaryCheck, ImageRecord, Manifest, RerunOf};
use crate::plan::Plan;

/// The recorded plan pinned to what the original run used: each backend's base
/// image by the reference it resolved to, each source to the archive it came
/// from with its recorded sha256, each model to its recorded sha256, the
/// vulkan backend to the Vulkan driver its cells ran on.
pub fn pinned_plan(m: &Manifest) -> Plan {
    let mut plan = m.plan.clone();
    for bp in &mut plan.backends {
        if let Some(img) = m.images.iter().find(|i| i.backend == bp.backend) {
            bp.base_image = crate::plan::AutoOr::Value(img.base_image.reference.clone());
        }
        if bp.vulkan_driver.is_none() {
            bp.vulkan_driver = m
                .cells
                .iter()
                .filter(|c| c.backend == bp.backend)
                .find_map(|c| c.server.as_ref()?.passthrough.vulkan_driver);
        }
    }
    for src in &mut plan.sources {
        if let Some(img) = m.images.iter().find(|i| i.source == src.name) {
            let mut a = img.llama_cpp.source_archive.clone();
            set_archive_sha(&mut a, &img.llama_cpp.source_sha256);
            src.archives = vec![a];
        }
    }
    for model in &mut plan.models {
        if let Some(r) = m.models.iter().find(|r| r.name == model.name) {
            model.sha256 = Some(r.sha256.clone());
            // A synthetic model is remade by the generator that made it.
            if let (Some(p), [crate::plan::ModelSourceFile::Synthetic { recipe }]) =
                (&r.synthetic, model.sources.as_mut_slice())
            {
                recipe.generator = Some(p.recipe.generator);
            }
        }
    }
    plan
}

fn set_archive_sha(a: &mut crate::plan::ArchiveFile, sha: &str) {
    use crate::plan::ArchiveFile as A;
    match a {
        A::Url { sha256, .. }
        | A::Path { sha256, .. }
        | A::Github { sha256, .. }
        | A::PypiSdist { sha256, .. } => *sha256 = Some(sha.to_string()),
    }
}

/// The binaries of each original image against the rebuilt image's.
pub fn binary_checks(orig: &[ImageRecord], new: &[ImageRecord]) -> Vec<BinaryCheck> {
    let mut out = Vec::new();
    for o in orig {
        let n = new
            .iter()
            .find(|n| n.backend == o.backend && n.source == o.source);
        let mut differing = Vec::new();
        if let Some(n) = n {
            let mut diff = |what: &str, a: String, b: String| {
                if a != b {
                    differing.push(format!("{what}: {a} → {b}"));
                }
            };
            diff(
                "Containerfile sha256",
                o.containerfile_sha256.clone(),
                n.containerfile_sha256.clone(),
            );
            diff(
                "base image",
                o.base_image.image_id.clone(),
                n.base_image.image_id.clone(),
            );
            diff(
                "source sha256",
                o.llama_cpp.source_sha256.clone(),
                n.llama_cpp.source_sha256.clone(),
            );
            diff(
                "build args",
                format!("{:?}", o.build_args),
                format!("{:?}", n.build_args),
            );
            for (k, v) in &o.toolchain {
                diff(
                    &format!("toolchain {k}"),
                    v.clone(),
                    n.toolchain.get(k).cloned().unwrap_or_default(),
                );
            }
        }
        for (binary, sha) in &o.binaries_sha256 {
            let rebuilt = n.and_then(|n| n.binaries_sha256.get(binary).cloned());
            let identical = rebuilt.as_deref() == Some(sha.as_str());
            out.push(BinaryCheck {
                image: format!("{}@{}", o.backend, o.source),
                binary: binary.clone(),
                original: sha.clone(),
                rebuilt,
                identical,
                differing_inputs: if identical {
                    Vec::new()
                } else {
                    differing.clone()
                },
            });
        }
    }
    out
}

/// How a rebuilt image's objects were compiled, from its build info's
/// `compiler_cache` (images/build-info.sh): anew, or how many came from the
/// compiler cache (then "bit-identical" shows the link, not a fresh compile).
pub fn compiled_how(build_info: &serde_json::Value) -> String {
    let cc = &build_info["compiler_cache"];
    match cc["state"].as_str() {
        Some("on") => {
            let hits = cc["hits"].as_u64().unwrap_or(0);
            let total = hits + cc["misses"].as_u64().unwrap_or(0);
            format!(
                "{hits} of {total} compilations from the compiler cache ({}); a match shows the recorded inputs link to the same binaries",
                cc["tool"].as_str().unwrap_or("ccache")
            )
        }
        Some("off") => "every object anew (compiler cache off)".to_string(),
        Some("none") => "every object anew (no compiler cache in the image)".to_string(),
        _ => {
            "not recorded (an image built before rigbench recorded its compiler cache)".to_string()
        }
    }
}

pub async fn rerun(
    g: &Globals,
    input: &Path,
    out: Option<&Path>,
    rebuild: crate::image::Rebuild,
    allow_substitutes: bool,
) -> anyhow::Result<ExitCode> {
    let orig = super::load_run(input)?;
    let plan = pinned_plan(&orig);
    log::info!(
        "rerun of run {} ({}, plan {}, {} cells)",
        orig.run_id,
        orig.created_at,
        orig.plan.name,
        orig.cells.len()
    );

    // On another host's engine the rerun is that host's (its facts, its
    // images); here, this machine's.
    let remote = super::launch::remote(g).await?;
    let substitutes = match &remote {
        Some(r) => base_substitutes(&r.connected.client, &orig).await?,
        None => {
            let here = g.connect().await?;
            base_substitutes(&here.client, &orig).await?
        }
    };
    if !substitutes.is_empty() {
        for s in &substitutes {
            log::info!("cannot be had as recorded: {s}");
        }
        if !allow_substitutes {
            anyhow::bail!(
                "{} input(s) cannot be had as recorded (above); pass --allow-substitutes to rerun with what the engine's host has",
                substitutes.len()
            );
        }
    }

    let out = out.map_or_else(
        || {
            let mut p = super::default_out(&plan).into_os_string();
            p.push("-rerun");
            PathBuf::from(p)
        },
        Path::to_path_buf,
    );
    let code = super::launch::fresh(g, plan, &out, rebuild, remote).await?;

    let dir = RunDir::open(&out);
    let mut new = dir.load()?;
    let binaries = binary_checks(&orig.images, &new.images);
    new.rerun_of = Some(RerunOf {
        run_id: orig.run_id.clone(),
        integrity: orig.integrity.sha256.clone(),
        created_at: orig.created_at.clone(),
        substitutes,
        binaries: binaries.clone(),
    });
    dir.save(&mut new)?;

    let c = crate::comparison::compare(
        &format!("original run {} ({})", orig.run_id, input.display()),
        &orig,
        &format!("rerun {} ({})", new.run_id, out.display()),
        &new,
        crate::stats::compare::DEFAULT_BAND,
    );
    let mut text = crate::comparison::render::markdown(&c);
    text.push_str(&rebuilt_section(&binaries, &new.images));
    crate::hash::write_atomic(&out.join("rerun.md"), text.as_bytes())?;
    print!("{text}");
    println!("\nrerun: {}", out.join("rerun.md").display());
    Ok(code)
}

/// The original's base images that the engine's host lacks or holds with
/// another id: each a line saying so.
async fn base_substitutes<E: crate::engine::Engine>(
    engine: &E,
    orig: &Manifest,
) -> anyhow::Result<Vec<String>> {
    // Base images: the recorded reference must be there with the recorded id.
    let mut substitutes = Vec::new();
    for img in &orig.images {
        let b = &img.base_image;
        match engine.image(&b.reference).await? {
            None => substitutes.push(format!(
                "{} base image {}: not on the engine's host (recorded id {})",
                img.backend, b.reference, b.image_id
            )),
            Some(f) if f.id != b.image_id => substitutes.push(format!(
                "{} base image {}: id {} here, {} in the original",
                img.backend, b.reference, f.id, b.image_id
            )),
            Some(_) => {}
        }
    }
    Ok(substitutes)
}

/// rerun.md's last section: each binary against the original's, and how the
/// images built now were compiled.
fn rebuilt_section(binaries: &[BinaryCheck], images: &[ImageRecord]) -> String {
    let mut text = String::from("## Rebuilt binaries\n\n");
    for b in binaries {
        text.push_str(&format!(
            "- {} {}: {} (original {}, rebuilt {})\n",
            b.image,
            b.binary,
            if b.identical {
                "bit-identical"
            } else {
                "differs"
            },
            &b.original[..b.original.len().min(16)],
            b.rebuilt
                .as_deref()
                .map_or("none", |r| &r[..r.len().min(16)])
        ));
        for d in &b.differing_inputs {
            text.push_str(&format!("  - {d}\n"));
        }
    }
    for img in images.iter().filter(|i| i.built_now) {
        text.push_str(&format!(
            "- {}@{} compiled: {}\n",
            img.backend,
            img.source,
            compiled_how(&img.build_info)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn how_a_rebuilt_image_was_compiled_is_said_from_its_build_info() {
        let on = serde_json::json!({"compiler_cache": {"state": "on", "tool": "ccache version 4.11.2", "hits": 290, "misses": 10}});
        assert_eq!(
            compiled_how(&on),
            "290 of 300 compilations from the compiler cache (ccache version 4.11.2); a match shows the recorded inputs link to the same binaries"
        );
        let off = serde_json::json!({"compiler_cache": {"state": "off"}});
        assert_eq!(compiled_how(&off), "every object anew (compiler cache off)");
        let none = serde_json::json!({"compiler_cache": {"state": "none"}});
        assert!(compiled_how(&none).contains("no compiler cache"));
        assert!(compiled_how(&serde_json::json!({})).starts_with("not recorded"));
    }

    #[test]
    fn the_plan_is_pinned_to_what_the_original_used() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/default.toml"),
        )
        .unwrap();
        let plan = crate::plan::parse(&text, "default", 2).unwrap();
        let host = crate::host::probe(Path::new("/nonexistent"));
        let mut m = Manifest::new("r", plan, host, None);
        m.models.push(crate::manifest::ModelRecord {
            name: "gemma-3-270m-q4_k_m".into(),
            file: "gemma-3-270m-q4_k_m.gguf".into(),
            size_bytes: 1,
            sha256: "ab".repeat(32),
            sha256_pinned: true,
            source: m.plan.models[0].sources[0].clone(),
            hash_seconds: 0.0,
            hash_origin: crate::hash::HashOrigin::Computed,
            gguf: crate::gguf::parse(
                &mut &b"GGUF\x03\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"[..],
                "x",
            )
            .unwrap(),
            shards: vec![],
            synthetic: None,
        });
        let p = pinned_plan(&m);
        assert_eq!(
            p.models[0].sha256.as_deref(),
            Some("ab".repeat(32).as_str())
        );
        // No image recorded: bases and archives stay as planned.
        assert_eq!(p.backends[0].base_image, crate::plan::AutoOr::Auto);
        assert_eq!(p.sources[0].archives.len(), 2);
    }

    #[test]
    fn a_synthetic_model_is_pinned_to_its_hash_and_generator() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans/synthetic.toml"),
        )
        .unwrap();
        let plan = crate::plan::parse(&text, "synthetic", 2).unwrap();
        let host = crate::host::probe(Path::new("/nonexistent"));
        let mut m = Manifest::new("r", plan, host, None);
        m.models.push(crate::manifest::fixtures::synthetic_record(
            "synthetic-small",
        ));
        let p = pinned_plan(&m);
        let small = p
            .models
            .iter()
            .find(|x| x.name == "synthetic-small")
            .unwrap();
        assert_eq!(small.sha256.as_deref(), Some("cd".repeat(32).as_str()));
        match small.sources.as_slice() {
            [crate::plan::ModelSourceFile::Synthetic { recipe }] => {
                assert_eq!(recipe.generator, Some(crate::synth::values::GENERATOR));
            }
            other => panic!("{other:?}"),
        }
        // Not recorded: as planned.
        let big = p
            .models
            .iter()
            .find(|x| x.name == "synthetic-gemma3-270m")
            .unwrap();
        assert_eq!(big.sha256, None);
    }
}
