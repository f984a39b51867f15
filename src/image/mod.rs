//! Backend images: resolve the base, hash every build input, reuse an image whose
//! inputs label matches or build one from a context rigbench assembles, then read
//! back what the image holds (build info, `llama-server --version`) for the manifest.

pub mod base;
pub mod context;
pub mod probe;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde_json::json;

use crate::cache::Cache;
use crate::engine::{
    ContainerSpec, Engine, EngineError, LABEL_INPUTS, LABEL_MANAGED, LABEL_ROLE, run_to_completion,
};
use crate::fetch::FetchedSource;
use crate::hash::sha256_hex;
use crate::host::devices::Passthrough;
use crate::manifest::{ImageRecord, LlamaCpp};
use crate::plan::{BackendPlan, Source};

/// Build arguments rigbench sets itself; a plan's `build_args` may not name them.
pub const MANAGED_BUILD_ARGS: &[&str] = &[
    "BASE_IMAGE",
    "LLAMA_ARCHIVE",
    "LLAMA_SRC_DIR",
    "LLAMA_COMMIT",
    "LLAMA_BUILD_NUMBER",
    COMPILER_CACHE_ARG,
];

/// The build argument that lets a build compile through rigbench's compiler
/// cache (`1`) or compiles every object anew (`0`); images/build-llama.sh.
/// It is not a build input: ccache gives the bytes the compiler gives, so it is
/// left out of the inputs hash and of the recorded build arguments, and what the
/// cache gave is recorded in the image's build info (`compiler_cache`).
pub const COMPILER_CACHE_ARG: &str = "RIGBENCH_CCACHE";

/// How `ensure` has an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rebuild {
    /// Reuse an image with the same inputs, else build it (layers and compiled
    /// objects from the caches where they match).
    No,
    /// Build again with no cached layer and every object compiled anew: what a
    /// rerun needs to show that the recorded inputs give the same binaries.
    Clean,
    /// Build again with no cached layer, but objects from the compiler cache
    /// where their inputs match (`rerun --compiler-cache`): the binaries are
    /// linked anew from objects compiled earlier on this machine.
    FromCompilerCache,
}

impl Rebuild {
    fn no_cache(self) -> bool {
        self != Rebuild::No
    }

    fn compiler_cache(self) -> &'static str {
        match self {
            Rebuild::No | Rebuild::FromCompilerCache => "1",
            Rebuild::Clean => "0",
        }
    }
}

/// Build arguments whose value `auto` depends on this host, made explicit:
/// `CUDA_ARCHITECTURES` from the compute capability of the host's NVIDIA GPUs,
/// else the documented list (`backend::CUDA_ARCHITECTURES_FALLBACK`).
fn resolve_auto_args(backend: crate::backend::Backend, args: &mut BTreeMap<String, String>) {
    if backend != crate::backend::Backend::Cuda {
        return;
    }
    if args.get("CUDA_ARCHITECTURES").map(String::as_str) == Some("auto") {
        let caps: Vec<String> = crate::host::probe(Path::new("/"))
            .nvidia
            .iter()
            .flat_map(|n| n.gpus.iter().filter_map(|g| g.compute_capability.clone()))
            .collect();
        let archs = crate::backend::cuda_architectures(&caps)
            .unwrap_or_else(|| crate::backend::CUDA_ARCHITECTURES_FALLBACK.to_string());
        crate::progress::note(format!("cuda: CUDA_ARCHITECTURES=auto → {archs}"));
        args.insert("CUDA_ARCHITECTURES".into(), archs);
    }
}

/// The build arguments a build is asked with: the recorded ones (the inputs)
/// and whether it may compile through the compiler cache.
fn request_build_args(
    recorded: &BTreeMap<String, String>,
    rebuild: Rebuild,
) -> BTreeMap<String, String> {
    let mut args = recorded.clone();
    args.insert(
        COMPILER_CACHE_ARG.to_string(),
        rebuild.compiler_cache().to_string(),
    );
    args
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Base(#[from] base::BaseError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{backend} image: {message}")]
    Other {
        backend: crate::backend::Backend,
        message: String,
    },
}

/// Builds (or reuses) the image for one backend and reads its facts.
/// Where and how images are built.
pub struct BuildPlace<'a> {
    pub cache: &'a Cache,
    /// Build logs go here.
    pub logs: &'a Path,
    /// Whether to build even when an image with the same inputs exists.
    pub rebuild: Rebuild,
}

pub async fn ensure<E: Engine>(
    engine: &E,
    bp: &BackendPlan,
    plan_source: &Source,
    source: &FetchedSource,
    place: &BuildPlace<'_>,
    passthrough: &Passthrough,
) -> Result<ImageRecord, ImageError> {
    let (cache, logs) = (place.cache, place.logs);
    let backend = bp.backend;
    let other = |message: String| ImageError::Other { backend, message };
    let started = Instant::now();
    let base = base::resolve(engine, backend, &bp.base_image).await?;

    let mut build_args = bp.build_args.clone();
    resolve_auto_args(backend, &mut build_args);
    build_args.insert("BASE_IMAGE".into(), base.reference.clone());
    build_args.insert("LLAMA_ARCHIVE".into(), context::ARCHIVE_NAME.into());
    build_args.insert("LLAMA_SRC_DIR".into(), source.dir.clone());
    build_args.insert("LLAMA_COMMIT".into(), plan_source.commit.clone());
    build_args.insert(
        "LLAMA_BUILD_NUMBER".into(),
        plan_source.build_number.unwrap_or(0).to_string(),
    );
    let containerfile_text = backend.containerfile_text();
    let containerfile_sha256 = sha256_hex(containerfile_text.as_bytes());
    let inputs = json!({
        "containerfile": backend.containerfile(),
        "containerfile_sha256": containerfile_sha256,
        "images": context::image_files_sha256(),
        "source_sha256": source.sha256,
        "build_args": build_args,
        "base_image_id": base.image_id,
    });
    let inputs_sha256 = sha256_hex(crate::manifest::integrity::canonical(&inputs).as_bytes());
    let tag = format!(
        "localhost/rigbench/llama-{}:{}",
        backend.name(),
        &inputs_sha256[..16]
    );

    let existing = engine.image(&tag).await?;
    let reusable = existing
        .as_ref()
        .is_some_and(|img| img.labels.get(LABEL_INPUTS) == Some(&inputs_sha256));
    let built_now = !reusable || place.rebuild.no_cache();
    if built_now {
        crate::progress::note(format!("building {tag} from {}", backend.containerfile()));
        std::fs::create_dir_all(cache.contexts())
            .map_err(|e| other(format!("cannot create {}: {e}", cache.contexts().display())))?;
        let ctx = tempfile::Builder::new()
            .suffix(".tar")
            .tempfile_in(cache.contexts())
            .map_err(|e| other(format!("cannot create a build context: {e}")))?;
        let ctx_path = ctx.path().to_path_buf();
        let cf_name = backend.containerfile();
        let archive = source.path.clone();
        tokio::task::spawn_blocking(move || {
            context::write(&ctx_path, cf_name, containerfile_text, &archive)
        })
        .await
        .map_err(|e| other(format!("assembling the build context: {e}")))?
        .map_err(|e| other(format!("assembling the build context: {e}")))?;
        let labels = BTreeMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_INPUTS.to_string(), inputs_sha256.clone()),
            (
                "io.rigbench.backend".to_string(),
                backend.name().to_string(),
            ),
            (
                "io.rigbench.llama-commit".to_string(),
                plan_source.commit.clone(),
            ),
        ]);
        let request_args = request_build_args(&build_args, place.rebuild);
        let req = crate::engine::BuildRequest {
            context_tar: ctx.path().to_path_buf(),
            containerfile: cf_name.to_string(),
            tag: tag.clone(),
            build_args: request_args,
            labels,
            target: None,
            log: logs.join(format!("build-{}-{}.log", backend.name(), plan_source.name)),
            no_cache: place.rebuild.no_cache(),
        };
        let bar = crate::progress::line(&format!("build {}", backend.name()));
        let shown = bar.clone();
        let result = engine
            .build(&req, &move |line: &str| shown.set_message(line.to_string()))
            .await;
        bar.finish_and_clear();
        result?;
    } else {
        crate::progress::note(format!("reusing {tag} (same build inputs)"));
    }
    let facts = engine
        .image(&tag)
        .await?
        .ok_or_else(|| other(format!("{tag} vanished after the build")))?;

    let probe = |cmd: Vec<String>, entrypoint: Option<Vec<String>>| ContainerSpec {
        name: format!(
            "rigbench-probe-{}-{}",
            backend.name(),
            crate::engine::unique_suffix()
        ),
        image: facts.id.clone(),
        entrypoint,
        cmd,
        labels: BTreeMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_ROLE.to_string(), "probe".to_string()),
        ]),
        ..ContainerSpec::default()
    };
    let read_json = |file: &'static str| {
        let spec = probe(vec![file.into()], Some(vec!["cat".into()]));
        async move {
            let done = run_to_completion(engine, &spec).await?;
            if done.status.code != 0 {
                return Err(other(format!(
                    "reading {file} exited with {}",
                    done.status.code
                )));
            }
            serde_json::from_slice::<serde_json::Value>(&done.output)
                .map_err(|e| other(format!("{file} is not JSON: {e}")))
        }
    };
    let build_info = read_json("/opt/llama/build-info.json").await?;
    let runtime_info = read_json("/opt/llama/runtime-info.json").await?;
    // The binary may need the GPU driver's libraries just to start (CUDA's
    // llama-server links libcuda.so.1), so it gets the backend's passthrough.
    let version_spec = passthrough.onto(probe(vec!["--version".into()], None));
    let version = run_to_completion(engine, &version_spec).await?;
    let version_output = String::from_utf8_lossy(&version.output).trim().to_string();
    if version.status.code != 0 {
        return Err(other(format!(
            "llama-server --version exited with {}: {version_output}",
            version.status.code
        )));
    }
    let (devices, device_probe) = match probe::command(backend) {
        None => (Vec::new(), None),
        Some((entrypoint, cmd)) => {
            let spec = passthrough.onto(probe(cmd, Some(entrypoint.clone())));
            match run_to_completion(engine, &spec).await {
                Ok(done) => {
                    let text = String::from_utf8_lossy(&done.output).into_owned();
                    let found = probe::parse(backend, &text);
                    let note = if done.status.code == 0 {
                        text
                    } else {
                        format!(
                            "{} exited with {}:\n{text}",
                            entrypoint[0], done.status.code
                        )
                    };
                    (found, Some(note))
                }
                Err(e) => (
                    Vec::new(),
                    Some(format!("{} could not run: {e}", entrypoint[0])),
                ),
            }
        }
    };

    let llama_devices = if backend == crate::backend::Backend::Cpu {
        Vec::new()
    } else {
        let spec = passthrough.onto(probe(vec!["--list-devices".into()], None));
        let done = run_to_completion(engine, &spec).await?;
        probe::list_devices(&String::from_utf8_lossy(&done.output))
    };
    if backend != crate::backend::Backend::Cpu && llama_devices.is_empty() {
        crate::progress::note(format!(
            "warning: llama.cpp sees no {} device in {tag}; its cells will fail as no_device",
            backend.name()
        ));
    }

    let text = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .filter(|x| !x.is_empty())
            .map(str::to_string)
    };
    let mut toolchain = BTreeMap::new();
    for (key, from, field) in [
        ("compiler", &build_info, "compiler"),
        ("hip_compiler", &build_info, "hip_compiler"),
        ("cmake", &build_info, "cmake"),
        ("os", &runtime_info, "os"),
        ("mesa", &runtime_info, "mesa_vulkan_drivers"),
        ("vulkan_loader", &runtime_info, "vulkan_loader"),
        ("rocm", &runtime_info, "rocm"),
        ("nvcc", &build_info, "nvcc"),
        ("cuda_architectures", &build_info, "cuda_architectures"),
        ("cuda_runtime", &runtime_info, "cuda_runtime"),
        ("cublas", &runtime_info, "cublas"),
    ] {
        if let Some(v) = text(from, field) {
            toolchain.insert(key.to_string(), v);
        }
    }
    let binaries_sha256 = build_info
        .get("binaries")
        .and_then(|b| b.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default();

    Ok(ImageRecord {
        backend,
        source: plan_source.name.clone(),
        tag,
        image_id: facts.id,
        containerfile: backend.containerfile().to_string(),
        containerfile_sha256,
        build_args,
        base_image: base,
        llama_cpp: LlamaCpp {
            commit: plan_source.commit.clone(),
            build_number: plan_source.build_number,
            source_sha256: source.sha256.clone(),
            source_pinned: source.verification.pinned,
            source_archive: source.archive.clone(),
            source_dir: source.dir.clone(),
            version_output,
        },
        toolchain,
        binaries_sha256,
        inputs_sha256,
        built_now,
        build_seconds: started.elapsed().as_secs_f64(),
        build_info,
        runtime_info,
        devices,
        device_probe,
        llama_devices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_clean_rebuild_compiles_every_object_anew() {
        let recorded = BTreeMap::from([("GGML_NATIVE".to_string(), "ON".to_string())]);
        let arg = |r: Rebuild| request_build_args(&recorded, r)[COMPILER_CACHE_ARG].clone();
        assert_eq!(arg(Rebuild::Clean), "0");
        assert_eq!(arg(Rebuild::No), "1");
        assert_eq!(arg(Rebuild::FromCompilerCache), "1");
        // Every rebuild skips the layer cache; only `No` may reuse an image.
        assert!(!Rebuild::No.no_cache());
        assert!(Rebuild::Clean.no_cache() && Rebuild::FromCompilerCache.no_cache());
        // The recorded arguments are passed on unchanged.
        assert_eq!(
            request_build_args(&recorded, Rebuild::No)["GGML_NATIVE"],
            "ON"
        );
        assert_eq!(request_build_args(&recorded, Rebuild::No).len(), 2);
        // A plan cannot set it: rigbench manages it.
        assert!(MANAGED_BUILD_ARGS.contains(&COMPILER_CACHE_ARG));
    }
}
