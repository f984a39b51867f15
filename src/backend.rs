//! Backends: what differs between the CPU, Vulkan, ROCm and CUDA images (Containerfile,
//! base image, build arguments, devices, environment, server defaults). Each
//! difference is a method with its reason, so no other module branches on the
//! backend.

use serde::{Deserialize, Serialize};

/// A llama.cpp backend with an image of its own.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Cpu,
    Vulkan,
    Rocm6,
    Rocm7,
    Cuda,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

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

/// Debian trixie slim, pinned by digest (the 2026-08-24 rebuild of the index).
/// Short names only: the engine's own short-name table resolves them (Podman maps
/// `debian` and `fedora` to their official registries).
pub const PINNED_DEBIAN: &str =
    "debian:trixie-slim@sha256:d7e12182ce18b85b93007c1dedf31f2d29e01ccf3182cc4017c709b6259bc132";
/// Fedora 43, pinned by digest: the distribution the study ran Vulkan and ROCm 6.4.4 on.
pub const PINNED_FEDORA: &str =
    "fedora:43@sha256:3d1253e53dd506962656b0dc6c2b6116ffc67e4d146dc17a9aaa6cf7cfe42e82";
/// AMD's ROCm 7.2.4 development image (Ubuntu 24.04, ROCm with rocWMMA), pinned.
pub const PINNED_ROCM7: &str = "rocm/dev-ubuntu-24.04:7.2.4-complete@sha256:92f309c51b52cef8762867848f1529dee821624f23cd5df38455e819538f762f";
/// The base scripts/setup.sh builds from apt's own mirror when no registry answers.
pub const LOCAL_DEBIAN: &str = "localhost/rigbench/debian:trixie";
/// NVIDIA's CUDA 13.0.1 development image (Ubuntu 24.04: nvcc 13.0.88, cuBLAS),
/// pinned by its index digest; the build stage only (the image rigbench makes
/// carries just the binaries and the libraries they load).
pub const PINNED_CUDA: &str = "nvidia/cuda:13.0.1-devel-ubuntu24.04@sha256:7d2f6a8c2071d911524f95061a0db363e24d27aa51ec831fcccf9e76eb72bc92";
/// The base `scripts/cuda-base.sh` makes from the host's own CUDA toolkit and
/// root filesystem, for hosts that reach no registry.
pub const LOCAL_CUDA: &str = "localhost/rigbench/cuda:host";

/// What a backend needs from the host's devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceNeeds {
    None,
    /// A Vulkan driver: NVIDIA's (device nodes, ICD file and libraries), or
    /// Mesa's on the DRM render nodes, or Mesa's software one (llvmpipe).
    Vulkan,
    /// /dev/kfd and the DRM render nodes; nothing runs without them.
    KfdAndRenderNodes,
    /// NVIDIA's device nodes and driver libraries (or a CDI spec naming them).
    Nvidia,
}

/// `CMAKE_CUDA_ARCHITECTURES` where the host's GPUs are unknown: Turing, Ampere
/// (A100, consumer), Ada, Hopper and Blackwell (data centre, consumer), real
/// code for each (llama.cpp's own list for release builds, less the PTX).
pub const CUDA_ARCHITECTURES_FALLBACK: &str = "75;80;86;89;90;100;120";

/// The `CMAKE_CUDA_ARCHITECTURES` value for GPUs of these compute capabilities
/// (`9.0` → `90`), deduplicated and sorted; `None` when none parses.
pub fn cuda_architectures(capabilities: &[String]) -> Option<String> {
    let mut archs: Vec<u32> = capabilities
        .iter()
        .filter_map(|c| {
            let (major, minor) = c.trim().split_once('.')?;
            Some(major.parse::<u32>().ok()? * 10 + minor.parse::<u32>().ok()?)
        })
        .collect();
    archs.sort_unstable();
    archs.dedup();
    (!archs.is_empty()).then(|| {
        archs
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(";")
    })
}

impl Backend {
    pub const ALL: &'static [Backend] = &[
        Backend::Cpu,
        Backend::Vulkan,
        Backend::Rocm6,
        Backend::Rocm7,
        Backend::Cuda,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Vulkan => "vulkan",
            Backend::Rocm6 => "rocm6",
            Backend::Rocm7 => "rocm7",
            Backend::Cuda => "cuda",
        }
    }

    /// The name llama.cpp's backend registry gives it, as llama-bench writes it
    /// in its `backends` field (HIP registers as `ROCm`).
    pub fn llama_cpp_name(self) -> &'static str {
        match self {
            Backend::Cpu => "CPU",
            Backend::Vulkan => "Vulkan",
            Backend::Rocm6 | Backend::Rocm7 => "ROCm",
            Backend::Cuda => "CUDA",
        }
    }

    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|b| b.name()).collect()
    }

    pub fn parse(s: &str) -> Option<Backend> {
        Self::ALL.iter().copied().find(|b| b.name() == s)
    }

    /// The Containerfile at the repository's top level that builds this backend.
    pub fn containerfile(self) -> &'static str {
        match self {
            Backend::Cpu => "Containerfile.cpu",
            Backend::Vulkan => "Containerfile.vulkan",
            Backend::Rocm6 => "Containerfile.rocm6",
            Backend::Rocm7 => "Containerfile.rocm7",
            Backend::Cuda => "Containerfile.cuda",
        }
    }

    /// The Containerfile's text, embedded so rigbench builds from any directory.
    pub fn containerfile_text(self) -> &'static str {
        match self {
            Backend::Cpu => include_str!("../Containerfile.cpu"),
            Backend::Vulkan => include_str!("../Containerfile.vulkan"),
            Backend::Rocm6 => include_str!("../Containerfile.rocm6"),
            Backend::Rocm7 => include_str!("../Containerfile.rocm7"),
            Backend::Cuda => include_str!("../Containerfile.cuda"),
        }
    }

    /// Bases `base_image = "auto"` tries, in order, with the origin recorded for
    /// each: the pinned registry image, then (where one exists) the local Debian
    /// base that scripts/setup.sh makes on machines with no registry.
    pub fn base_candidates(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Backend::Cpu => &[(PINNED_DEBIAN, "pinned"), (LOCAL_DEBIAN, "local")],
            // The study's Vulkan ran on Fedora 43's Mesa; Debian's Mesa serves offline.
            Backend::Vulkan => &[(PINNED_FEDORA, "pinned"), (LOCAL_DEBIAN, "local")],
            // Fedora 43 packages ROCm 6.4.4 itself, as the study used.
            Backend::Rocm6 => &[(PINNED_FEDORA, "pinned")],
            // ROCm 7.x with a rocWMMA that knows gfx1151 comes from AMD's own image.
            Backend::Rocm7 => &[(PINNED_ROCM7, "pinned")],
            // NVIDIA's toolkit image, or one made from the host's own toolkit.
            Backend::Cuda => &[(PINNED_CUDA, "pinned"), (LOCAL_CUDA, "local")],
        }
    }

    /// Build arguments the Containerfile takes beyond rigbench's own, with their
    /// defaults; a plan's `build_args` may set these (and only these).
    pub fn build_arg_defaults(self) -> &'static [(&'static str, &'static str)] {
        match self {
            // Native: the image is built on the machine it runs on.
            Backend::Cpu | Backend::Vulkan => &[("GGML_NATIVE", "ON")],
            // Fedora's rocWMMA 6.4.0 does not know gfx1151 (static_assert in the
            // build), so WMMA flash attention stays off, as in the study.
            Backend::Rocm6 => &[
                ("GPU_TARGETS", "gfx1151"),
                ("ROCWMMA_FATTN", "OFF"),
                ("HIP_NO_VMM", "ON"),
                ("APT_CHECK_VALID_UNTIL", "true"),
            ],
            // rocWMMA 7.x knows gfx1151; ROCWMMA_FATTN=OFF gives the A/B build.
            Backend::Rocm7 => &[
                ("GPU_TARGETS", "gfx1151"),
                ("ROCWMMA_FATTN", "ON"),
                ("HIP_NO_VMM", "ON"),
            ],
            // `auto`: the architectures of the host's GPUs, resolved when the
            // image is built (`image::ensure`, recorded in the image's build
            // arguments), else `CUDA_ARCHITECTURES_FALLBACK`, which is also the
            // Containerfile's own default. Graphs on, as llama.cpp ships;
            // FA_ALL_QUANTS off (its default: only f16/q8_0/q4_0 K/V pairs get
            // flash-attention kernels, the rest fall back).
            Backend::Cuda => &[
                ("CUDA_ARCHITECTURES", "auto"),
                ("CUDA_GRAPHS", "ON"),
                ("CUDA_FA_ALL_QUANTS", "OFF"),
            ],
        }
    }

    /// Layers offloaded when a variant says `auto`: none on the CPU (there is
    /// nowhere to offload to), all of them on a GPU backend.
    pub fn default_gpu_layers(self) -> u32 {
        match self {
            Backend::Cpu => 0,
            Backend::Vulkan | Backend::Rocm6 | Backend::Rocm7 | Backend::Cuda => 999,
        }
    }

    /// Whether its server runs with a read-only root filesystem (a tmpfs on
    /// /tmp and on HOME, where runtimes keep caches). CPU and Vulkan
    /// (llvmpipe) run so in the test suite; the ROCm and CUDA images have not
    /// been run read-only on their hardware yet, so they keep a writable root.
    pub fn read_only_root(self) -> bool {
        match self {
            Backend::Cpu | Backend::Vulkan => true,
            Backend::Rocm6 | Backend::Rocm7 | Backend::Cuda => false,
        }
    }

    /// The devices the container needs (see `host::devices::passthrough`).
    pub fn device_needs(self) -> DeviceNeeds {
        match self {
            Backend::Cpu => DeviceNeeds::None,
            Backend::Vulkan => DeviceNeeds::Vulkan,
            Backend::Rocm6 | Backend::Rocm7 => DeviceNeeds::KfdAndRenderNodes,
            Backend::Cuda => DeviceNeeds::Nvidia,
        }
    }

    /// Host environment variables passed into the server container when set, so a
    /// user's device selection and overrides apply inside as outside.
    pub fn passthrough_env(self) -> &'static [&'static str] {
        match self {
            Backend::Cpu => &[],
            Backend::Vulkan => &["GGML_VK_VISIBLE_DEVICES", "AMD_VULKAN_ICD"],
            Backend::Rocm6 | Backend::Rocm7 => &[
                "HSA_OVERRIDE_GFX_VERSION",
                "HIP_VISIBLE_DEVICES",
                "ROCR_VISIBLE_DEVICES",
            ],
            Backend::Cuda => &["CUDA_VISIBLE_DEVICES", "GGML_CUDA_DISABLE_GRAPHS"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in Backend::ALL {
            assert_eq!(Backend::parse(b.name()), Some(*b));
        }
        assert_eq!(Backend::parse("cuda"), Some(Backend::Cuda));
        assert_eq!(Backend::parse("metal"), None);
    }

    #[test]
    fn every_build_arg_default_is_declared_in_its_containerfile() {
        for b in Backend::ALL {
            for (arg, default) in b.build_arg_defaults() {
                // `auto` is resolved by rigbench; the Containerfile has a real value.
                let decl = if *default == "auto" {
                    format!("ARG {arg}=")
                } else {
                    format!("ARG {arg}={default}")
                };
                assert!(
                    b.containerfile_text().contains(&decl),
                    "{} lacks `{decl}`",
                    b.containerfile()
                );
            }
        }
    }

    #[test]
    fn cuda_architectures_from_compute_capabilities() {
        let caps = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(cuda_architectures(&caps(&["9.0"])).as_deref(), Some("90"));
        assert_eq!(
            cuda_architectures(&caps(&["8.9", "9.0", "8.9"])).as_deref(),
            Some("89;90")
        );
        assert_eq!(cuda_architectures(&caps(&["12.0"])).as_deref(), Some("120"));
        assert_eq!(cuda_architectures(&caps(&["", "x.y"])), None);
    }

    #[test]
    fn every_containerfile_defaults_to_its_first_pinned_base() {
        for b in Backend::ALL {
            let (pinned, origin) = b.base_candidates()[0];
            assert_eq!(origin, "pinned");
            assert!(
                b.containerfile_text()
                    .contains(&format!("ARG BASE_IMAGE={pinned}")),
                "{}",
                b.containerfile()
            );
        }
    }
}
