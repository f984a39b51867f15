//! Each backend's image as this host will build it: the plan's base image and
//! build arguments, with those whose `auto` depends on the host made explicit
//! (`Backend::host_build_args`: `CUDA_ARCHITECTURES` from the compute
//! capability of the host's NVIDIA GPUs, else the documented fallback).
//! Resolved once, in `Matrix::on_host` (and for `model synth`'s quantizing
//! image alone): the dry run prints them, `build` and the run build from
//! them, and `image::inputs` hashes them. One `ImagePlan` is built once per
//! source of the plan.

use std::collections::BTreeMap;

use super::{AutoOr, Plan};
use crate::backend::{Backend, HostBuildArg, Resolved};
use crate::host::HostFacts;

/// One backend's image inputs as the plan and this host decide them (the
/// source and base image id join them when the image is built).
#[derive(Debug, Clone, PartialEq)]
pub struct ImagePlan {
    pub backend: Backend,
    /// `auto` (the pinned base, else the local one) or an image reference.
    pub base_image: AutoOr<String>,
    /// The plan's build arguments, each host `auto` replaced by its value.
    pub build_args: BTreeMap<String, String>,
    /// The arguments that were `auto` and what this host made of them.
    pub from_auto: Vec<(HostBuildArg, Resolved)>,
}

/// The image of each of `plan`'s backends, in plan order, its host `auto`
/// arguments resolved from `host` (probed only where one is `auto`).
pub fn image_plans(plan: &Plan, host: impl FnOnce() -> HostFacts) -> Vec<ImagePlan> {
    let mut host = Some(host);
    let mut facts: Option<HostFacts> = None;
    let mut out = Vec::new();
    for bp in &plan.backends {
        let mut build_args = bp.build_args.clone();
        let mut from_auto = Vec::new();
        for &arg in bp.backend.host_build_args() {
            if build_args.get(arg.name()).map(String::as_str) != Some("auto") {
                continue;
            }
            if facts.is_none() {
                facts = host.take().map(|h| h());
            }
            if let Some(f) = &facts {
                let r = f.build_arg(arg);
                build_args.insert(arg.name().into(), r.value.clone());
                from_auto.push((arg, r));
            }
        }
        out.push(ImagePlan {
            backend: bp.backend,
            base_image: bp.base_image.clone(),
            build_args,
            from_auto,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(name: &str) -> HostFacts {
        crate::host::probe(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/hosts")
                .join(name),
        )
    }

    #[test]
    fn cuda_architectures_come_from_the_host_s_gpus_else_the_fallback() {
        let plan = crate::plan::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/h200-study.toml"),
            16,
        )
        .unwrap();
        let on = |host: &str| image_plans(&plan, || fixture(host));
        let cuda = |v: &[ImagePlan]| {
            v.iter()
                .find(|i| i.backend == Backend::Cuda)
                .cloned()
                .unwrap()
        };
        // The H200 fixture's GPU is compute capability 9.0.
        let h200 = cuda(&on("nvidia-h200"));
        assert_eq!(h200.build_args["CUDA_ARCHITECTURES"], "90");
        assert_eq!(h200.from_auto.len(), 1);
        assert_eq!(h200.from_auto[0].0, HostBuildArg::CudaArchitectures);
        assert!(h200.from_auto[0].1.from_host);
        // A host without NVIDIA GPUs builds for the documented list.
        let none = cuda(&on("no-gpu"));
        assert_eq!(
            none.build_args["CUDA_ARCHITECTURES"],
            crate::backend::CUDA_ARCHITECTURES_FALLBACK
        );
        assert!(!none.from_auto[0].1.from_host);
        // The other backends have no host argument; nothing else changes.
        let vulkan = on("nvidia-h200")
            .into_iter()
            .find(|i| i.backend == Backend::Vulkan)
            .unwrap();
        let planned = &plan
            .backends
            .iter()
            .find(|b| b.backend == Backend::Vulkan)
            .unwrap();
        assert_eq!(vulkan.build_args, planned.build_args);
        assert!(vulkan.from_auto.is_empty());
    }

    #[test]
    fn the_host_is_not_probed_where_no_argument_is_auto() {
        let plan = crate::plan::builtin(2).unwrap();
        let images = image_plans(&plan, || panic!("probed the host for a cpu-only plan"));
        assert_eq!(images.len(), plan.backends.len());
        assert_eq!(images[0].build_args, plan.backends[0].build_args);
        // A cuda plan that names its architectures keeps them, unprobed.
        let mut plan = crate::plan::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/h200-study.toml"),
            16,
        )
        .unwrap();
        for bp in &mut plan.backends {
            if bp.backend == Backend::Cuda {
                bp.build_args
                    .insert("CUDA_ARCHITECTURES".into(), "89".into());
            }
        }
        let images = image_plans(&plan, || {
            panic!("probed the host for explicit architectures")
        });
        let cuda = images.iter().find(|i| i.backend == Backend::Cuda).unwrap();
        assert_eq!(cuda.build_args["CUDA_ARCHITECTURES"], "89");
        assert!(cuda.from_auto.is_empty());
    }
}
