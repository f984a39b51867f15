//! What a backend's container gets from the host, least privilege: only the device
//! nodes it needs (Vulkan: the DRM render nodes for Mesa's drivers, or on an
//! NVIDIA host the GPU nodes with NVIDIA's Vulkan driver, its ICD file and the
//! libraries it loads, read-only; ROCm: /dev/kfd and the render nodes; CUDA:
//! the NVIDIA nodes, and the driver's libraries mounted read-only),
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
    /// The Vulkan driver the vulkan backend's cells are meant to run on
    /// (`None` for the other backends, and in manifests written before it
    /// was recorded); a cell that runs elsewhere fails (`runner::device`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulkan_driver: Option<VulkanDriver>,
    /// What the user should know (for example: no render node, software Vulkan).
    pub notes: Vec<String>,
}

impl std::fmt::Display for VulkanDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which Vulkan driver a vulkan cell runs on; a plan's `[[backends]]` entry
/// names one with `driver`, else the host decides (`auto`: NVIDIA's where
/// it is usable, else Mesa's on the render nodes, else Mesa's software one).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VulkanDriver {
    /// NVIDIA's own driver (its ICD file and libraries from the host).
    Nvidia,
    /// Mesa's driver for the GPU behind the DRM render nodes (RADV on AMD).
    Mesa,
    /// Mesa's software driver, llvmpipe: the CPU under a Vulkan name.
    Software,
}

impl VulkanDriver {
    pub const ALL: &'static [VulkanDriver] = &[
        VulkanDriver::Nvidia,
        VulkanDriver::Mesa,
        VulkanDriver::Software,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VulkanDriver::Nvidia => "nvidia",
            VulkanDriver::Mesa => "mesa",
            VulkanDriver::Software => "software",
        }
    }

    /// A plan's word for it; `auto` is `None` (the host decides).
    pub fn parse(s: &str) -> Result<Option<VulkanDriver>, String> {
        if s == "auto" {
            return Ok(None);
        }
        Self::ALL
            .iter()
            .copied()
            .find(|d| d.name() == s)
            .map(Some)
            .ok_or_else(|| format!("{s:?} is not a Vulkan driver: auto, nvidia, mesa or software"))
    }

    /// Whether it drives a GPU (a cell on llvmpipe or the CPU instead fails).
    pub fn is_gpu(self) -> bool {
        match self {
            VulkanDriver::Nvidia | VulkanDriver::Mesa => true,
            VulkanDriver::Software => false,
        }
    }
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
                // The host's own driver files: never relabelled (as CDI's
                // mounts are not).
                relabel: false,
                recursive: true,
            }));
        if let Some(dir) = &self.shader_cache {
            spec.binds.push(crate::engine::Bind {
                host: dir.into(),
                container: SHADER_CACHE_IN_CONTAINER.to_string(),
                read_only: false,
                relabel: true,
                recursive: true,
            });
            spec.env
                .entry("MESA_SHADER_CACHE_DIR".to_string())
                .or_insert_with(|| SHADER_CACHE_IN_CONTAINER.to_string());
            // NVIDIA's driver keeps its own pipeline cache (`GLCache/` inside).
            if self.vulkan_driver == Some(VulkanDriver::Nvidia) {
                spec.env
                    .entry("__GL_SHADER_DISK_CACHE_PATH".to_string())
                    .or_insert_with(|| SHADER_CACHE_IN_CONTAINER.to_string());
            }
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
/// (`Backend::uses_mesa_shader_cache` says which and why).
pub fn uses_mesa_shader_cache(backend: Backend) -> bool {
    backend.uses_mesa_shader_cache()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} needs {what}, which this host does not have: {fix}", .backend.name())]
pub struct MissingDevice {
    pub backend: Backend,
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

/// The GPU backends this host can run, for the built-in plan, by what each
/// needs (`Backend::device_needs`): a Vulkan driver where there is a render
/// node or NVIDIA's Vulkan driver is usable, /dev/kfd and the render nodes
/// (the ROCm images), NVIDIA's device nodes (CUDA). A backend that needs no
/// device is in every plan already.
pub fn available_backends(root: &Path) -> Vec<Backend> {
    let render = !render_nodes(root).is_empty();
    let nvidia = crate::host::nvidia::probe(root);
    let nvidia_vulkan = nvidia.usable() && crate::host::vulkan::nvidia(root, &nvidia).is_ok();
    let kfd = has_kfd(root);
    Backend::ALL
        .iter()
        .copied()
        .filter(|b| match b.device_needs() {
            DeviceNeeds::None => false,
            DeviceNeeds::Vulkan => render || nvidia_vulkan,
            DeviceNeeds::KfdAndRenderNodes => render && kfd,
            DeviceNeeds::Nvidia => nvidia.usable(),
        })
        .collect()
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

/// Decides a backend's passthrough on the host under `root` with the host
/// choosing the Vulkan driver; `env` reads the host's environment.
pub fn passthrough(
    backend: Backend,
    root: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Passthrough, MissingDevice> {
    passthrough_with(backend, None, root, env)
}

/// The same, with the Vulkan driver a plan names (`None`: the host decides).
pub fn passthrough_with(
    backend: Backend,
    vulkan_driver: Option<VulkanDriver>,
    root: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Passthrough, MissingDevice> {
    let render = render_nodes(root);
    let mut p = Passthrough::default();
    match backend.device_needs() {
        DeviceNeeds::None => {}
        DeviceNeeds::Vulkan => vulkan(backend, vulkan_driver, root, render, env, &mut p)?,
        DeviceNeeds::KfdAndRenderNodes => {
            if !has_kfd(root) {
                return Err(MissingDevice {
                    backend,
                    what: "/dev/kfd".to_string(),
                    fix: "load the amdgpu driver with KFD (ROCm compute) support; `rigbench doctor` shows what it finds"
                        .to_string(),
                });
            }
            if render.is_empty() {
                return Err(MissingDevice {
                    backend,
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
        backend,
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

/// The vulkan backend's share. NVIDIA's driver: the GPU nodes and
/// /dev/nvidiactl (not the unified-memory nodes CUDA needs), the ICD file
/// mounted where `VK_DRIVER_FILES` points the loader (so no other driver,
/// llvmpipe included, is listed), the library it names and the driver's
/// libraries that library loads (`host::vulkan::DRIVER_LIBS`), and the
/// driver's EGL part (glvnd's vendor file where
/// `__EGL_VENDOR_LIBRARY_FILENAMES` points, `libEGL_nvidia` and its core),
/// read-only, on `LD_LIBRARY_PATH`; the image carries the loader and libglvnd
/// (libGLdispatch and libEGL). Mesa's: the
/// render nodes. Software: nothing, with ggml told to take the CPU-type device.
fn vulkan(
    backend: Backend,
    want: Option<VulkanDriver>,
    root: &Path,
    render: Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
    p: &mut Passthrough,
) -> Result<(), MissingDevice> {
    use crate::host::nvidia::{CONTAINER_LIB_DIR, ReadOnlyMount, library_mounts};
    let missing = |what: &str, fix: String| MissingDevice {
        backend,
        what: what.to_string(),
        fix,
    };
    let host = crate::host::nvidia::probe(root);
    let nvidia =
        (host.usable() || host.cdi.is_some()).then(|| crate::host::vulkan::nvidia(root, &host));
    let driver = match want {
        Some(d) => d,
        None => match (&nvidia, render.is_empty()) {
            (Some(Ok(_)), _) => VulkanDriver::Nvidia,
            (_, false) => VulkanDriver::Mesa,
            (_, true) => VulkanDriver::Software,
        },
    };
    match driver {
        VulkanDriver::Nvidia => {
            let v = match nvidia {
                Some(Ok(v)) => v,
                Some(Err(e)) => return Err(missing("NVIDIA's Vulkan driver", e.to_string())),
                None => {
                    return Err(missing(
                        "an NVIDIA GPU (/dev/nvidia0 and /dev/nvidiactl)",
                        "install NVIDIA's driver, or name another driver (driver = \"mesa\" or \"software\"); `rigbench doctor` shows what it finds".to_string(),
                    ));
                }
            };
            let nodes = match &host.cdi {
                Some(cdi) => &cdi.device_nodes,
                None => &host.device_nodes,
            };
            p.devices = nodes
                .iter()
                .filter(|d| !d.starts_with("/dev/nvidia-uvm"))
                .cloned()
                .collect();
            let all = v.all_libraries();
            p.mounts = library_mounts(root, &all);
            p.mounts.push(ReadOnlyMount {
                host: v.icd.clone(),
                container: crate::host::vulkan::CONTAINER_ICD.to_string(),
            });
            p.mounts.push(ReadOnlyMount {
                host: v.egl.vendor_file.clone(),
                container: crate::host::vulkan::CONTAINER_EGL_VENDOR.to_string(),
            });
            // A file that names its library by absolute path finds it there.
            for (named, host_lib) in [
                (&v.library_path, &v.libraries[0]),
                (&v.egl.library_path, &v.egl.libraries[0]),
            ] {
                if named.starts_with('/') {
                    p.mounts.push(ReadOnlyMount {
                        host: host_lib.clone(),
                        container: named.clone(),
                    });
                }
            }
            p.env.insert(
                "VK_DRIVER_FILES".to_string(),
                crate::host::vulkan::CONTAINER_ICD.to_string(),
            );
            p.env.insert(
                "__EGL_VENDOR_LIBRARY_FILENAMES".to_string(),
                crate::host::vulkan::CONTAINER_EGL_VENDOR.to_string(),
            );
            // The loader's errors (a driver that creates no instance says
            // why only so) go to the log and to a no_device failure's evidence.
            if env("VK_LOADER_DEBUG").is_none() {
                p.env
                    .insert("VK_LOADER_DEBUG".to_string(), "error".to_string());
            }
            p.env
                .insert("LD_LIBRARY_PATH".to_string(), CONTAINER_LIB_DIR.to_string());
            p.notes.push(format!(
                "NVIDIA's Vulkan driver: {} ({}, Vulkan {}), its EGL part {} ({}), and {} of the driver's libraries, read-only",
                v.icd,
                v.library_path,
                v.api_version.as_deref().unwrap_or("?"),
                v.egl.vendor_file,
                v.egl.library_path,
                all.len()
            ));
            let gpus = p
                .devices
                .iter()
                .filter(|d| {
                    d.strip_prefix("/dev/nvidia")
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                })
                .count();
            if gpus > 1 && env("GGML_VK_VISIBLE_DEVICES").is_none() {
                p.notes.push(format!(
                    "{gpus} NVIDIA GPUs are passed: llama.cpp's Vulkan backend splits the model across all of them unless GGML_VK_VISIBLE_DEVICES names one (here, or in a variant's env; the manifest records it and the devices each server start used)"
                ));
            }
        }
        VulkanDriver::Mesa => {
            if render.is_empty() {
                return Err(missing(
                    "a DRM render node (/dev/dri/renderD*) for Mesa's Vulkan driver",
                    "load the GPU's kernel driver (amdgpu, i915, xe), or name another driver (driver = \"nvidia\" or \"software\"); `rigbench doctor` shows what it finds".to_string(),
                ));
            }
            p.devices = render;
        }
        VulkanDriver::Software => {
            let why = match (&nvidia, render.is_empty(), want) {
                (_, _, Some(_)) => "the plan names it".to_string(),
                (Some(Err(e)), true, None) => format!(
                    "an NVIDIA GPU is here but its Vulkan driver is not usable ({e}); name driver = \"nvidia\" to make that an error"
                ),
                _ => "no DRM render node and no NVIDIA Vulkan driver".to_string(),
            };
            p.notes.push(format!(
                "Vulkan runs on Mesa's software driver (llvmpipe), so these are CPU numbers: {why}"
            ));
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
    }
    p.vulkan_driver = Some(driver);
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
        assert_eq!(p.mounts.len(), 7, "{:?}", p.mounts);
        assert!(!p.mounts.iter().any(|m| m.host.contains("nvidia-smi")));

        let err = passthrough(Backend::Cuda, &fixtures.join("no-gpu"), &no_env).unwrap_err();
        assert!(
            err.to_string().starts_with("cuda needs an NVIDIA GPU"),
            "{err}"
        );
        assert_eq!(
            available_backends(&fixtures.join("nvidia-h200")),
            [Backend::Vulkan, Backend::Cuda]
        );
        assert_eq!(
            available_backends(&fixtures.join("nvidia-no-vulkan")),
            [Backend::Cuda]
        );
        assert!(available_backends(&fixtures.join("nvidia-no-nodes")).is_empty());
    }

    #[test]
    fn vulkan_on_nvidia_gets_its_driver_and_nothing_the_cuda_share_lacks() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts");
        let h200 = fixtures.join("nvidia-h200");
        let p = passthrough(Backend::Vulkan, &h200, &no_env).unwrap();
        assert_eq!(p.vulkan_driver, Some(VulkanDriver::Nvidia));
        assert_eq!(p.devices, ["/dev/nvidia0", "/dev/nvidiactl"]);
        let d = "/usr/local/nvidia/lib64";
        let mounts: Vec<(&str, &str)> = p
            .mounts
            .iter()
            .map(|m| (m.host.as_str(), m.container.as_str()))
            .collect();
        assert_eq!(
            mounts,
            [
                (
                    "/usr/local/nvidia/lib64/libGLX_nvidia.so.580.159.04",
                    "/usr/local/nvidia/lib64/libGLX_nvidia.so.0"
                ),
                (
                    "/usr/local/nvidia/lib64/libnvidia-glcore.so.580.159.04",
                    "/usr/local/nvidia/lib64/libnvidia-glcore.so.580.159.04"
                ),
                (
                    "/usr/local/nvidia/lib64/libnvidia-glvkspirv.so.580.159.04",
                    "/usr/local/nvidia/lib64/libnvidia-glvkspirv.so.580.159.04"
                ),
                (
                    "/usr/local/nvidia/lib64/libnvidia-gpucomp.so.580.159.04",
                    "/usr/local/nvidia/lib64/libnvidia-gpucomp.so.580.159.04"
                ),
                (
                    "/usr/local/nvidia/lib64/libnvidia-glsi.so.580.159.04",
                    "/usr/local/nvidia/lib64/libnvidia-glsi.so.580.159.04"
                ),
                (
                    "/usr/local/nvidia/lib64/libnvidia-tls.so.580.159.04",
                    "/usr/local/nvidia/lib64/libnvidia-tls.so.580.159.04"
                ),
                (
                    "/usr/local/nvidia/lib64/libEGL_nvidia.so.580.159.04",
                    "/usr/local/nvidia/lib64/libEGL_nvidia.so.0"
                ),
                (
                    "/usr/local/nvidia/lib64/libnvidia-eglcore.so.580.159.04",
                    "/usr/local/nvidia/lib64/libnvidia-eglcore.so.580.159.04"
                ),
                (
                    "/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json",
                    "/etc/rigbench/vulkan/nvidia_icd.json"
                ),
                (
                    "/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json",
                    "/etc/rigbench/vulkan/10_nvidia.json"
                ),
            ]
        );
        assert_eq!(
            p.env["VK_DRIVER_FILES"],
            "/etc/rigbench/vulkan/nvidia_icd.json"
        );
        assert_eq!(
            p.env["__EGL_VENDOR_LIBRARY_FILENAMES"],
            "/etc/rigbench/vulkan/10_nvidia.json"
        );
        assert_eq!(p.env["VK_LOADER_DEBUG"], "error");
        assert_eq!(p.env["LD_LIBRARY_PATH"], d);
        assert!(!p.env.contains_key("GGML_VK_VISIBLE_DEVICES"));
        // Never broader than cuda's: its device nodes and its libraries'
        // files (plus the ICD and EGL vendor files, libGLX_nvidia and
        // libEGL_nvidia, which CUDA does not load).
        let cuda = passthrough(Backend::Cuda, &h200, &no_env).unwrap();
        assert!(p.devices.iter().all(|n| cuda.devices.contains(n)));
        let beyond: Vec<&str> = p
            .mounts
            .iter()
            .filter(|m| !cuda.mounts.iter().any(|c| c.host == m.host))
            .map(|m| m.host.as_str())
            .collect();
        assert_eq!(
            beyond,
            [
                "/usr/local/nvidia/lib64/libGLX_nvidia.so.580.159.04",
                "/usr/local/nvidia/lib64/libEGL_nvidia.so.580.159.04",
                "/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json",
                "/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json",
            ]
        );
        // A device chosen on the host reaches the container.
        let chosen = |k: &str| (k == "GGML_VK_VISIBLE_DEVICES").then(|| "1".to_string());
        let p = passthrough(Backend::Vulkan, &h200, &chosen).unwrap();
        assert_eq!(p.env["GGML_VK_VISIBLE_DEVICES"], "1");

        // A CDI spec: its nodes less the unified-memory ones, its ICD file.
        let p = passthrough(Backend::Vulkan, &fixtures.join("nvidia-cdi"), &no_env).unwrap();
        assert_eq!(p.devices, ["/dev/nvidiactl", "/dev/nvidia0"]);
        for (host, container) in [
            (
                "/usr/share/vulkan/icd.d/nvidia_icd.json",
                "/etc/rigbench/vulkan/nvidia_icd.json",
            ),
            (
                "/usr/share/glvnd/egl_vendor.d/10_nvidia.json",
                "/etc/rigbench/vulkan/10_nvidia.json",
            ),
            (
                "/usr/lib/x86_64-linux-gnu/libEGL_nvidia.so.570.133.20",
                "/usr/local/nvidia/lib64/libEGL_nvidia.so.0",
            ),
        ] {
            assert!(
                p.mounts
                    .iter()
                    .any(|m| m.host == host && m.container == container),
                "{host} → {container} in {:?}",
                p.mounts
            );
        }
    }

    #[test]
    fn a_named_vulkan_driver_that_is_not_here_is_an_error_before_anything_runs() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts");
        let no_vulkan = fixtures.join("nvidia-no-vulkan");
        let nvidia = Some(VulkanDriver::Nvidia);
        let e = passthrough_with(Backend::Vulkan, nvidia, &no_vulkan, &no_env).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "vulkan needs NVIDIA's Vulkan driver, which this host does not have: no ICD file"
            ),
            "{e}"
        );
        let e = passthrough_with(
            Backend::Vulkan,
            nvidia,
            &fixtures.join("strix-halo"),
            &no_env,
        )
        .unwrap_err();
        assert!(e.to_string().contains("an NVIDIA GPU"), "{e}");
        let mesa = Some(VulkanDriver::Mesa);
        let e = passthrough_with(
            Backend::Vulkan,
            mesa,
            &fixtures.join("nvidia-h200"),
            &no_env,
        )
        .unwrap_err();
        assert!(e.to_string().contains("a DRM render node"), "{e}");
        // Auto on a driver without its Vulkan part: software, and it says why.
        let p = passthrough(Backend::Vulkan, &no_vulkan, &no_env).unwrap();
        assert_eq!(p.vulkan_driver, Some(VulkanDriver::Software));
        assert!(
            p.notes[0].contains("an NVIDIA GPU is here but its Vulkan driver is not usable"),
            "{:?}",
            p.notes
        );
        // Software by name, on a host with a GPU: no devices, the plan's reason.
        let software = Some(VulkanDriver::Software);
        let p = passthrough_with(
            Backend::Vulkan,
            software,
            &fixtures.join("strix-halo"),
            &no_env,
        )
        .unwrap();
        assert!(p.devices.is_empty());
        assert!(p.notes[0].ends_with("the plan names it"), "{:?}", p.notes);
        // On an AMD host, auto is Mesa's.
        let p = passthrough(Backend::Vulkan, &fixtures.join("strix-halo"), &no_env).unwrap();
        assert_eq!(p.vulkan_driver, Some(VulkanDriver::Mesa));
        // The plan's words.
        assert_eq!(VulkanDriver::parse("auto"), Ok(None));
        assert_eq!(VulkanDriver::parse("nvidia"), Ok(nvidia));
        assert!(
            VulkanDriver::parse("radv")
                .unwrap_err()
                .contains("auto, nvidia, mesa or software")
        );
    }

    #[test]
    fn nvidias_pipeline_cache_goes_to_the_shared_shader_cache() {
        let p = Passthrough {
            shader_cache: Some("/cache/shader-cache".into()),
            vulkan_driver: Some(VulkanDriver::Nvidia),
            ..Passthrough::default()
        };
        let spec = p.onto(crate::engine::ContainerSpec::default());
        assert_eq!(
            spec.env["__GL_SHADER_DISK_CACHE_PATH"],
            SHADER_CACHE_IN_CONTAINER
        );
        let mesa = Passthrough {
            vulkan_driver: Some(VulkanDriver::Mesa),
            ..p
        };
        let spec = mesa.onto(crate::engine::ContainerSpec::default());
        assert!(!spec.env.contains_key("__GL_SHADER_DISK_CACHE_PATH"));
    }

    #[test]
    fn several_nvidia_gpus_for_vulkan_say_how_to_pick_one() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts");
        let dir = tempfile::tempdir().unwrap();
        let copied = std::process::Command::new("cp")
            .arg("-a")
            .arg(fixtures.join("nvidia-h200"))
            .arg(dir.path().join("host"))
            .status()
            .unwrap();
        assert!(copied.success());
        let root = dir.path().join("host");
        let one = passthrough(Backend::Vulkan, &root, &no_env).unwrap();
        assert!(
            !one.notes.iter().any(|n| n.contains("GPUs are passed")),
            "{:?}",
            one.notes
        );
        node(&root, "dev/nvidia1", 195);
        let two = passthrough(Backend::Vulkan, &root, &no_env).unwrap();
        assert!(
            two.devices.contains(&"/dev/nvidia1".to_string()),
            "{:?}",
            two.devices
        );
        assert!(
            two.notes
                .iter()
                .any(|n| n.starts_with("2 NVIDIA GPUs are passed")
                    && n.contains("GGML_VK_VISIBLE_DEVICES")),
            "{:?}",
            two.notes
        );
        let chosen = |k: &str| (k == "GGML_VK_VISIBLE_DEVICES").then(|| "1".to_string());
        let picked = passthrough(Backend::Vulkan, &root, &chosen).unwrap();
        assert_eq!(picked.env["GGML_VK_VISIBLE_DEVICES"], "1");
        assert!(!picked.notes.iter().any(|n| n.contains("GPUs are passed")));
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
