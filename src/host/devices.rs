//! What a backend's container gets from the host, least privilege: only the device
//! nodes it needs (Vulkan: the DRM render nodes; ROCm: /dev/kfd and the render
//! nodes; CUDA: the NVIDIA nodes, and the driver's libraries mounted read-only),
//! the numeric groups owning those nodes (so the container process may
//! open them without running privileged), and the host's device-selection
//! variables. Decided before anything is built: a missing device is an error now,
//! not a failed run later.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, DeviceNeeds};

/// The devices, groups and environment a backend's server container gets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Passthrough {
    /// Device nodes, the same path inside as outside.
    pub devices: Vec<String>,
    /// Numeric group ids of those nodes, added to the container process.
    pub group_add: Vec<String>,
    /// Host variables passed through because they were set.
    pub env: BTreeMap<String, String>,
    /// Host files mounted read-only (the NVIDIA driver's libraries).
    #[serde(default)]
    pub mounts: Vec<crate::host::nvidia::ReadOnlyMount>,
    /// The CDI spec the devices and libraries were taken from, if any.
    #[serde(default)]
    pub cdi: Option<String>,
    /// The host directory mounted read-write as the GPU driver's shader cache
    /// (Mesa's, for Vulkan: `MESA_SHADER_CACHE_DIR`), kept between containers
    /// and runs as a user's own `~/.cache/mesa_shader_cache` is, so that a
    /// pipeline compiled once is not compiled again at every container start or
    /// inside a measured request. A plan turns it off with the variant
    /// environment `MESA_SHADER_CACHE_DISABLE = "true"`. Absent from the JSON
    /// when there is none, as in manifests written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shader_cache: Option<String>,
    /// What the user should know (for example: no render node, software Vulkan).
    pub notes: Vec<String>,
}

impl Passthrough {
    /// `spec` with this backend's share added: its devices, their groups, its
    /// read-only mounts after `spec`'s own binds, and its environment where
    /// `spec` does not set the variable itself (a plan's own settings win).
    pub fn onto(&self, mut spec: crate::engine::ContainerSpec) -> crate::engine::ContainerSpec {
        spec.devices.extend(self.devices.iter().cloned());
        spec.group_add.extend(self.group_add.iter().cloned());
        spec.binds
            .extend(self.mounts.iter().map(|m| crate::engine::Bind {
                host: m.host.clone().into(),
                container: m.container.clone(),
                read_only: true,
            }));
        if let Some(dir) = &self.shader_cache {
            spec.binds.push(crate::engine::Bind {
                host: dir.into(),
                container: SHADER_CACHE_IN_CONTAINER.to_string(),
                read_only: false,
            });
            spec.env
                .entry("MESA_SHADER_CACHE_DIR".to_string())
                .or_insert_with(|| SHADER_CACHE_IN_CONTAINER.to_string());
        }
        for (k, v) in &self.env {
            spec.env.entry(k.clone()).or_insert_with(|| v.clone());
        }
        spec
    }
}

/// Where a backend's shader cache is mounted inside its containers.
pub const SHADER_CACHE_IN_CONTAINER: &str = "/var/cache/rigbench-shader-cache";

/// Whether a backend's driver keeps compiled pipelines in Mesa's shader cache
/// (RADV, and llvmpipe's lavapipe where there is no GPU). HIP and CUDA keep
/// their own caches for JIT code, which these images do not need (their GPU
/// code is compiled at build time).
pub fn uses_mesa_shader_cache(backend: crate::backend::Backend) -> bool {
    use crate::backend::Backend;
    match backend {
        Backend::Vulkan => true,
        Backend::Cpu | Backend::Rocm6 | Backend::Rocm7 | Backend::Cuda => false,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{backend} needs {what}, which this host does not have: {fix}")]
pub struct MissingDevice {
    pub backend: String,
    pub what: String,
    pub fix: String,
}

/// The render nodes under `root`/dev/dri, as absolute paths on the host.
pub fn render_nodes(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join("dev/dri"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("renderD"))
                .map(|n| format!("/dev/dri/{n}"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Whether `root`/dev/kfd exists.
pub fn has_kfd(root: &Path) -> bool {
    root.join("dev/kfd").exists()
}

/// The GPU backends this host can run, for the built-in plan: Vulkan where there
/// is a render node, the ROCm images where there is also /dev/kfd, CUDA where
/// there are NVIDIA's device nodes.
pub fn available_backends(root: &Path) -> Vec<Backend> {
    let mut found = Vec::new();
    if !render_nodes(root).is_empty() {
        found.push(Backend::Vulkan);
        if has_kfd(root) {
            found.extend([Backend::Rocm6, Backend::Rocm7]);
        }
    }
    if crate::host::nvidia::probe(root).usable() {
        found.push(Backend::Cuda);
    }
    found
}

/// The non-root group owning each device (numeric, sorted, deduplicated).
fn owning_groups(root: &Path, devices: &[String]) -> Vec<String> {
    let gids: BTreeSet<u32> = devices
        .iter()
        .filter_map(|d| std::fs::metadata(root.join(d.trim_start_matches('/'))).ok())
        .map(|m| m.gid())
        .filter(|g| *g != 0)
        .collect();
    gids.into_iter().map(|g| g.to_string()).collect()
}

/// Decides a backend's passthrough on the host under `root`; `env` reads the
/// host's environment.
pub fn passthrough(
    backend: Backend,
    root: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Passthrough, MissingDevice> {
    let render = render_nodes(root);
    let mut p = Passthrough::default();
    match backend.device_needs() {
        DeviceNeeds::None => {}
        DeviceNeeds::RenderNodesOrSoftware => {
            if render.is_empty() {
                p.notes.push(
                    "no DRM render node: Vulkan runs on Mesa's software driver (llvmpipe), so these are CPU numbers"
                        .to_string(),
                );
                // ggml skips CPU-type Vulkan devices unless one is named.
                if env("GGML_VK_VISIBLE_DEVICES").is_none() {
                    p.env
                        .insert("GGML_VK_VISIBLE_DEVICES".to_string(), "0".to_string());
                    p.notes.push(
                        "GGML_VK_VISIBLE_DEVICES=0 set: ggml ignores CPU-type Vulkan devices unless one is named"
                            .to_string(),
                    );
                }
            }
            p.devices = render;
        }
        DeviceNeeds::KfdAndRenderNodes => {
            if !has_kfd(root) {
                return Err(MissingDevice {
                    backend: backend.name().to_string(),
                    what: "/dev/kfd".to_string(),
                    fix: "load the amdgpu driver with KFD (ROCm compute) support; `rigbench doctor` shows what it finds"
                        .to_string(),
                });
            }
            if render.is_empty() {
                return Err(MissingDevice {
                    backend: backend.name().to_string(),
                    what: "a DRM render node (/dev/dri/renderD*)".to_string(),
                    fix: "load the amdgpu driver; `rigbench doctor` shows what it finds"
                        .to_string(),
                });
            }
            p.devices = std::iter::once("/dev/kfd".to_string())
                .chain(render)
                .collect();
        }
        DeviceNeeds::Nvidia => nvidia(backend, root, &mut p)?,
    }
    p.group_add = owning_groups(root, &p.devices);
    for var in backend.passthrough_env() {
        if let Some(v) = env(var) {
            p.env.insert(var.to_string(), v);
        }
    }
    Ok(p)
}

/// The cuda backend's share: from the CDI spec where the NVIDIA Container Toolkit
/// wrote one (its device nodes and driver libraries; its hooks are not run, the
/// image's LD_LIBRARY_PATH finds the libraries instead), else the NVIDIA device
/// nodes and the driver's libraries found on the host. Never more: no other
/// mount, no capability, no `--privileged`.
fn nvidia(backend: Backend, root: &Path, p: &mut Passthrough) -> Result<(), MissingDevice> {
    let host = crate::host::nvidia::probe(root);
    let missing = |what: &str, fix: &str| MissingDevice {
        backend: backend.name().to_string(),
        what: what.to_string(),
        fix: fix.to_string(),
    };
    let (devices, libraries) = match &host.cdi {
        Some(cdi) => {
            p.cdi = Some(format!("{} ({}=all)", cdi.file, cdi.kind));
            p.notes.push(format!(
                "devices and driver libraries from the CDI spec {}; its hooks are not run (the image's LD_LIBRARY_PATH finds the libraries)",
                cdi.file
            ));
            (cdi.device_nodes.clone(), cdi.libraries.clone())
        }
        None => {
            if !host.usable() {
                return Err(missing(
                    "an NVIDIA GPU (/dev/nvidia0 and /dev/nvidiactl)",
                    "install NVIDIA's driver (nvidia-smi should list the GPU); `rigbench doctor` shows what it finds",
                ));
            }
            (host.device_nodes.clone(), host.libraries.clone())
        }
    };
    if libraries.is_empty() {
        return Err(missing(
            "the NVIDIA driver's libcuda.so.1",
            "install the driver's user-space libraries (or write a CDI spec: `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`)",
        ));
    }
    p.devices = devices;
    p.mounts = crate::host::nvidia::library_mounts(root, &libraries);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::chown;

    fn node(root: &Path, rel: &str, gid: u32) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"").unwrap();
        chown(&p, None, Some(gid)).unwrap();
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_shader_cache_is_mounted_writable_and_a_plan_may_point_mesa_elsewhere() {
        let p = Passthrough {
            shader_cache: Some("/root/.cache/rigbench/shader-cache".into()),
            ..Passthrough::default()
        };
        let spec = p.onto(crate::engine::ContainerSpec::default());
        assert_eq!(spec.binds.len(), 1);
        assert_eq!(
            spec.binds[0].host,
            std::path::PathBuf::from("/root/.cache/rigbench/shader-cache")
        );
        assert_eq!(spec.binds[0].container, SHADER_CACHE_IN_CONTAINER);
        assert!(!spec.binds[0].read_only);
        assert_eq!(spec.env["MESA_SHADER_CACHE_DIR"], SHADER_CACHE_IN_CONTAINER);
        // The spec's own setting (a plan's variant environment) wins.
        let mut own = crate::engine::ContainerSpec::default();
        own.env
            .insert("MESA_SHADER_CACHE_DIR".into(), "/tmp/elsewhere".into());
        assert_eq!(p.onto(own).env["MESA_SHADER_CACHE_DIR"], "/tmp/elsewhere");
        // No cache, no mount.
        assert!(
            Passthrough::default()
                .onto(crate::engine::ContainerSpec::default())
                .binds
                .is_empty()
        );
        assert!(uses_mesa_shader_cache(crate::backend::Backend::Vulkan));
        assert!(!uses_mesa_shader_cache(crate::backend::Backend::Cuda));
    }

    #[test]
    fn rocm_gets_kfd_render_nodes_their_groups_and_the_overrides() {
        let dir = tempfile::tempdir().unwrap();
        node(dir.path(), "dev/kfd", 105);
        node(dir.path(), "dev/dri/renderD128", 106);
        node(dir.path(), "dev/dri/card1", 44);
        let env = |k: &str| (k == "HSA_OVERRIDE_GFX_VERSION").then(|| "11.5.1".to_string());
        let p = passthrough(Backend::Rocm6, dir.path(), &env).unwrap();
        assert_eq!(p.devices, ["/dev/kfd", "/dev/dri/renderD128"]);
        assert_eq!(p.group_add, ["105", "106"]);
        assert_eq!(
            p.env.get("HSA_OVERRIDE_GFX_VERSION").map(String::as_str),
            Some("11.5.1")
        );
        assert!(p.notes.is_empty());
    }

    #[test]
    fn rocm_without_kfd_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        node(dir.path(), "dev/dri/renderD128", 106);
        let err = passthrough(Backend::Rocm7, dir.path(), &no_env).unwrap_err();
        assert_eq!(err.what, "/dev/kfd");
        assert!(err.to_string().starts_with("rocm7 needs /dev/kfd"), "{err}");
    }

    #[test]
    fn vulkan_takes_render_nodes_only_and_says_when_it_falls_back_to_software() {
        let dir = tempfile::tempdir().unwrap();
        node(dir.path(), "dev/kfd", 105);
        node(dir.path(), "dev/dri/renderD129", 106);
        node(dir.path(), "dev/dri/renderD128", 106);
        let p = passthrough(Backend::Vulkan, dir.path(), &no_env).unwrap();
        assert_eq!(p.devices, ["/dev/dri/renderD128", "/dev/dri/renderD129"]);
        assert_eq!(p.group_add, ["106"]);

        let empty = tempfile::tempdir().unwrap();
        let p = passthrough(Backend::Vulkan, empty.path(), &no_env).unwrap();
        assert!(p.devices.is_empty());
        assert!(p.notes[0].contains("llvmpipe"), "{:?}", p.notes);
        assert_eq!(p.env["GGML_VK_VISIBLE_DEVICES"], "0");
        let chosen = |k: &str| (k == "GGML_VK_VISIBLE_DEVICES").then(|| "1".to_string());
        let p = passthrough(Backend::Vulkan, empty.path(), &chosen).unwrap();
        assert_eq!(
            p.env["GGML_VK_VISIBLE_DEVICES"], "1",
            "the user's choice stands"
        );
    }

    #[test]
    fn the_default_plan_adds_what_each_fixture_host_can_run() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts");
        assert_eq!(
            available_backends(&fixtures.join("strix-halo")),
            [Backend::Vulkan, Backend::Rocm6, Backend::Rocm7]
        );
        assert!(available_backends(&fixtures.join("no-gpu")).is_empty());
        let plan = crate::plan::builtin_for(32, &available_backends(&fixtures.join("strix-halo")))
            .unwrap();
        let names: Vec<_> = plan.backends.iter().map(|b| b.backend.name()).collect();
        assert_eq!(names, ["cpu", "vulkan", "rocm6", "rocm7"]);
        assert_eq!(plan.backends[2].build_args["GPU_TARGETS"], "gfx1151");
    }

    #[test]
    fn cuda_gets_the_nvidia_nodes_and_read_only_driver_libraries_and_nothing_else() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts");
        let cuda_visible = |k: &str| (k == "CUDA_VISIBLE_DEVICES").then(|| "0".to_string());
        let p = passthrough(Backend::Cuda, &fixtures.join("nvidia-h200"), &cuda_visible).unwrap();
        assert_eq!(
            p.devices,
            [
                "/dev/nvidia0",
                "/dev/nvidia-uvm",
                "/dev/nvidia-uvm-tools",
                "/dev/nvidiactl"
            ]
        );
        assert!(
            p.mounts
                .iter()
                .all(|m| m.container.starts_with("/usr/local/nvidia/lib64/"))
        );
        assert!(
            p.mounts
                .iter()
                .any(|m| m.container.ends_with("/libcuda.so.1"))
        );
        assert_eq!(p.cdi, None);
        assert_eq!(p.env["CUDA_VISIBLE_DEVICES"], "0");

        let p = passthrough(Backend::Cuda, &fixtures.join("nvidia-cdi"), &no_env).unwrap();
        assert_eq!(
            p.cdi.as_deref(),
            Some("/etc/cdi/nvidia.yaml (nvidia.com/gpu=all)")
        );
        assert_eq!(p.devices.len(), 4);
        assert_eq!(p.mounts.len(), 6, "{:?}", p.mounts);
        assert!(!p.mounts.iter().any(|m| m.host.contains("nvidia-smi")));

        let err = passthrough(Backend::Cuda, &fixtures.join("no-gpu"), &no_env).unwrap_err();
        assert!(
            err.to_string().starts_with("cuda needs an NVIDIA GPU"),
            "{err}"
        );
        assert_eq!(
            available_backends(&fixtures.join("nvidia-h200")),
            [Backend::Cuda]
        );
        assert!(available_backends(&fixtures.join("nvidia-no-nodes")).is_empty());
    }

    #[test]
    fn cpu_gets_nothing() {
        let dir = tempfile::tempdir().unwrap();
        node(dir.path(), "dev/kfd", 105);
        assert_eq!(
            passthrough(Backend::Cpu, dir.path(), &no_env).unwrap(),
            Passthrough::default()
        );
    }
}
