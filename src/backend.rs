//! Backends: what differs between the CPU, Vulkan, ROCm and CUDA images (Containerfile,
//! base image, build arguments and those resolved from the host, devices and the
//! tool that lists them, environment, server defaults, build-time estimate,
//! llama.cpp's names for them, the runtime facts their images record). Each
//! difference is a method with its reason, each an exhaustive `match` on the
//! backend, so no other module branches on the backend and a new one is a
//! compile error here until every question is answered.

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

/// Where an image's build base came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BaseOrigin {
    /// The registry image rigbench pins for the backend (pulled where absent).
    Pinned,
    /// Made on this machine with no registry (scripts/setup.sh, scripts/offline/).
    Local,
    /// Named by the plan's `base_image`.
    Plan,
}

impl BaseOrigin {
    pub fn name(self) -> &'static str {
        match self {
            BaseOrigin::Pinned => "pinned",
            BaseOrigin::Local => "local",
            BaseOrigin::Plan => "plan",
        }
    }
}

impl std::fmt::Display for BaseOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

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
/// Debian sid, made by scripts/setup.sh (`RIGBENCH_EXTRA_BASES=sid`) from apt's
/// own mirror: it packages ROCm 6.4, and experimental ROCm 7.2.4.
pub const LOCAL_SID: &str = "localhost/rigbench/debian:sid";
/// NVIDIA's CUDA 13.0.1 development image (Ubuntu 24.04: nvcc 13.0.88, cuBLAS),
/// pinned by its index digest; the build stage only (the image rigbench makes
/// carries just the binaries and the libraries they load).
pub const PINNED_CUDA: &str = "nvidia/cuda:13.0.1-devel-ubuntu24.04@sha256:7d2f6a8c2071d911524f95061a0db363e24d27aa51ec831fcccf9e76eb72bc92";
/// The base `scripts/cuda-base.sh` makes from the host's own CUDA toolkit and
/// root filesystem, for hosts that reach no registry.
pub const LOCAL_CUDA: &str = "localhost/rigbench/cuda:host";
/// The base `scripts/offline/vulkan-base.sh` makes for the vulkan image where no
/// registry and no package archive answer: the host-made toolchain base with
/// Debian's Vulkan loader, headers, glslc and libglvnd carried in (no Mesa: it
/// serves NVIDIA's driver, mounted from the host).
pub const LOCAL_VULKAN: &str = "localhost/rigbench/vulkan:host";

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

/// A tool the image ships that lists the GPUs it sees with the backend's
/// devices passed; `image::probe` runs and parses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceTool {
    /// `vulkaninfo --summary` (the Vulkan image installs vulkan-tools).
    VulkaninfoSummary,
    /// `rocminfo` (the ROCm images install it).
    Rocminfo,
}

/// A build argument whose default `auto` depends on the host: resolved from
/// the host's facts (`host::HostFacts::build_arg`) with the rest of the
/// image's inputs (`plan::images::image_plans`, in `Matrix::on_host`;
/// recorded in the image's build arguments), printed by the dry run and shown
/// by `rigbench doctor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostBuildArg {
    /// `CUDA_ARCHITECTURES`: the compute capabilities of the host's NVIDIA GPUs,
    /// else `CUDA_ARCHITECTURES_FALLBACK`.
    CudaArchitectures,
}

/// A host build argument's value on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub value: String,
    /// Whether it came from the host (false: the documented fallback).
    pub from_host: bool,
}

impl HostBuildArg {
    /// The build argument's name, as the Containerfile declares it.
    pub fn name(self) -> &'static str {
        match self {
            HostBuildArg::CudaArchitectures => "CUDA_ARCHITECTURES",
        }
    }

    /// What `rigbench doctor` says the image would be built with here.
    pub fn doctor_note(self, r: &Resolved) -> String {
        match self {
            HostBuildArg::CudaArchitectures if r.from_host => format!(
                "image built for CUDA architectures {} (this host's GPUs)",
                r.value
            ),
            HostBuildArg::CudaArchitectures => format!(
                "image built for CUDA architectures {} (the GPUs' compute capability is unknown)",
                r.value
            ),
        }
    }
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
        self.llama_cpp_names()[0]
    }

    /// Every name in llama-bench's `backends` field that means this backend,
    /// its registry name first: the CPU's also `BLAS` (a BLAS library doing the
    /// CPU backend's matrix products, registered beside it), ROCm's also `HIP`
    /// (its build option's name, `GGML_HIP`), read the same way.
    pub fn llama_cpp_names(self) -> &'static [&'static str] {
        match self {
            Backend::Cpu => &["CPU", "BLAS"],
            Backend::Vulkan => &["Vulkan"],
            Backend::Rocm6 | Backend::Rocm7 => &["ROCm", "HIP"],
            Backend::Cuda => &["CUDA"],
        }
    }

    /// The backends a name in llama-bench's `backends` field may mean, in
    /// `ALL`'s order: none for a backend rigbench does not build, several
    /// where rigbench builds llama.cpp's backend more than one way (`ROCm`:
    /// rocm6 or rocm7).
    pub fn from_llama_cpp_name(name: &str) -> Vec<Backend> {
        Self::ALL
            .iter()
            .copied()
            .filter(|b| b.llama_cpp_names().contains(&name))
            .collect()
    }

    /// Whether it runs on a GPU: the CPU backend has no device to offload to,
    /// list or lose (a GPU backend that falls back to the CPU fails), and reads
    /// the weights from the host's memory.
    pub fn is_gpu(self) -> bool {
        match self {
            Backend::Cpu => false,
            Backend::Vulkan | Backend::Rocm6 | Backend::Rocm7 | Backend::Cuda => true,
        }
    }

    /// Whether its greedy output is the reference the others' is compared with
    /// (`agreement`): ggml's CPU backend is the one llama.cpp's own
    /// `test-backend-ops` checks every other backend against.
    pub fn is_agreement_reference(self) -> bool {
        match self {
            Backend::Cpu => true,
            Backend::Vulkan | Backend::Rocm6 | Backend::Rocm7 | Backend::Cuda => false,
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
    pub fn base_candidates(self) -> &'static [(&'static str, BaseOrigin)] {
        use BaseOrigin::{Local, Pinned};
        match self {
            Backend::Cpu => &[(PINNED_DEBIAN, Pinned), (LOCAL_DEBIAN, Local)],
            // The study's Vulkan ran on Fedora 43's Mesa; Debian's Mesa serves
            // offline, and on a GPU host with no package archive the base made
            // for NVIDIA's driver.
            Backend::Vulkan => &[
                (PINNED_FEDORA, Pinned),
                (LOCAL_DEBIAN, Local),
                (LOCAL_VULKAN, Local),
            ],
            // Fedora 43 packages ROCm 6.4.4 itself, as the study used; Debian
            // sid packages 6.4 too.
            Backend::Rocm6 => &[(PINNED_FEDORA, Pinned), (LOCAL_SID, Local)],
            // ROCm 7.x with a rocWMMA that knows gfx1151 comes from AMD's own
            // image; Debian's experimental ROCm 7.2.4 builds without rocWMMA.
            Backend::Rocm7 => &[(PINNED_ROCM7, Pinned), (LOCAL_SID, Local)],
            // NVIDIA's toolkit image, or one made from the host's own toolkit.
            Backend::Cuda => &[(PINNED_CUDA, Pinned), (LOCAL_CUDA, Local)],
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
            // rocWMMA 7.x knows gfx1151: `auto` turns WMMA flash attention on
            // where the source has the option and rocWMMA's headers are whole
            // (AMD's image), off with the reason otherwise (Debian's 7.2.4, a
            // source from late 2026); OFF gives the A/B build.
            Backend::Rocm7 => &[
                ("GPU_TARGETS", "gfx1151"),
                ("ROCWMMA_FATTN", "auto"),
                ("HIP_NO_VMM", "ON"),
                ("APT_CHECK_VALID_UNTIL", "true"),
            ],
            // `auto`: the architectures of the host's GPUs, resolved with the
            // image's inputs (`plan::images`, recorded in the image's build
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

    /// Whether its driver keeps compiled pipelines in Mesa's shader cache
    /// (RADV, and llvmpipe's lavapipe where there is no GPU), which rigbench
    /// then shares between containers. HIP and CUDA keep their own caches for
    /// JIT code, which these images do not need (their GPU code is compiled at
    /// build time); the CPU compiles no shaders.
    pub fn uses_mesa_shader_cache(self) -> bool {
        match self {
            Backend::Vulkan => true,
            Backend::Cpu | Backend::Rocm6 | Backend::Rocm7 | Backend::Cuda => false,
        }
    }

    /// The tool in its image that lists the GPUs it sees, if there is one.
    /// The CPU has no GPU to list; the CUDA image starts from scratch and
    /// ships no such tool (llama.cpp's own `--list-devices` names its GPUs).
    pub fn device_tool(self) -> Option<DeviceTool> {
        match self {
            Backend::Cpu | Backend::Cuda => None,
            Backend::Vulkan => Some(DeviceTool::VulkaninfoSummary),
            Backend::Rocm6 | Backend::Rocm7 => Some(DeviceTool::Rocminfo),
        }
    }

    /// Its build arguments whose default `auto` is resolved from the host
    /// (each is in `build_arg_defaults` with the default `auto`). CUDA
    /// compiles device code per architecture, so it is built for the host's
    /// GPUs; the others take fixed targets (ROCm's `GPU_TARGETS`) or compile
    /// for the machine they build on (`GGML_NATIVE`).
    pub fn host_build_args(self) -> &'static [HostBuildArg] {
        match self {
            Backend::Cpu | Backend::Vulkan | Backend::Rocm6 | Backend::Rocm7 => &[],
            Backend::Cuda => &[HostBuildArg::CudaArchitectures],
        }
    }

    /// Seconds its image took to build from scratch, alone, and on how many
    /// cores, for `run --dry-run`'s estimate (`plan::estimate` scales it to the
    /// host's cores): cpu 282 s, rocm6 1010 s and vulkan about 600 s on 2 cores
    /// here (rocm7 taken as rocm6); cuda (one architecture) 288 s on 16 cores
    /// of an H200 host.
    pub fn measured_build(self) -> (f64, u32) {
        match self {
            Backend::Cpu => (282.0, 2),
            Backend::Vulkan => (600.0, 2),
            Backend::Rocm6 | Backend::Rocm7 => (1010.0, 2),
            Backend::Cuda => (288.0, 16),
        }
    }

    /// The runtime facts a published reference may check (`check = "mesa"`)
    /// that its image records in its toolchain, under the same key: the
    /// runtime its GPU code runs on. Mesa's Vulkan drivers for Vulkan, the
    /// ROCm release for ROCm, the CUDA runtime and cuBLAS for CUDA; the CPU
    /// runs on the compiler's code alone.
    pub fn runtime_facts(self) -> &'static [&'static str] {
        match self {
            Backend::Cpu => &[],
            Backend::Vulkan => &["mesa"],
            Backend::Rocm6 | Backend::Rocm7 => &["rocm"],
            Backend::Cuda => &["cuda_runtime", "cublas"],
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
    fn llama_cpp_names_lead_back_to_their_backends() {
        assert_eq!(Backend::from_llama_cpp_name("CPU"), [Backend::Cpu]);
        assert_eq!(Backend::from_llama_cpp_name("BLAS"), [Backend::Cpu]);
        assert_eq!(Backend::from_llama_cpp_name("Vulkan"), [Backend::Vulkan]);
        assert_eq!(Backend::from_llama_cpp_name("CUDA"), [Backend::Cuda]);
        assert_eq!(
            Backend::from_llama_cpp_name("ROCm"),
            [Backend::Rocm6, Backend::Rocm7]
        );
        assert_eq!(
            Backend::from_llama_cpp_name("HIP"),
            [Backend::Rocm6, Backend::Rocm7]
        );
        assert!(Backend::from_llama_cpp_name("Metal").is_empty());
        assert!(Backend::from_llama_cpp_name("cuda").is_empty());
        for b in Backend::ALL {
            assert!(Backend::from_llama_cpp_name(b.llama_cpp_name()).contains(b));
        }
        assert_eq!(Backend::Rocm7.llama_cpp_name(), "ROCm");
    }

    #[test]
    fn the_gpu_backends_are_those_that_need_devices() {
        for b in Backend::ALL {
            assert_eq!(b.is_gpu(), b.device_needs() != DeviceNeeds::None, "{b}");
        }
        assert!(!Backend::Cpu.is_gpu());
        assert!(Backend::Cuda.is_gpu());
    }

    #[test]
    fn only_the_cpu_is_the_agreement_reference_and_only_vulkan_uses_mesas_cache() {
        let refs: Vec<_> = Backend::ALL
            .iter()
            .filter(|b| b.is_agreement_reference())
            .collect();
        assert_eq!(refs, [&Backend::Cpu]);
        let mesa: Vec<_> = Backend::ALL
            .iter()
            .filter(|b| b.uses_mesa_shader_cache())
            .collect();
        assert_eq!(mesa, [&Backend::Vulkan]);
    }

    #[test]
    fn a_device_tool_only_where_the_image_ships_one() {
        assert_eq!(Backend::Cpu.device_tool(), None);
        assert_eq!(Backend::Cuda.device_tool(), None);
        assert_eq!(
            Backend::Vulkan.device_tool(),
            Some(DeviceTool::VulkaninfoSummary)
        );
        assert_eq!(Backend::Rocm6.device_tool(), Some(DeviceTool::Rocminfo));
        assert_eq!(Backend::Rocm7.device_tool(), Some(DeviceTool::Rocminfo));
    }

    #[test]
    fn the_host_build_args_are_the_auto_defaults() {
        for b in Backend::ALL {
            let auto: Vec<&str> = b
                .build_arg_defaults()
                .iter()
                // ROCWMMA_FATTN's auto is decided inside the build, from the
                // source and rocWMMA's headers (images/cmake-options.sh).
                .filter(|(a, d)| *d == "auto" && *a != "ROCWMMA_FATTN")
                .map(|(a, _)| *a)
                .collect();
            let host: Vec<&str> = b.host_build_args().iter().map(|a| a.name()).collect();
            assert_eq!(auto, host, "{b}");
        }
        assert_eq!(
            Backend::Cuda.host_build_args(),
            [HostBuildArg::CudaArchitectures]
        );
    }

    #[test]
    fn doctor_says_whether_the_cuda_architectures_came_from_the_host() {
        let arg = HostBuildArg::CudaArchitectures;
        let r = Resolved {
            value: CUDA_ARCHITECTURES_FALLBACK.into(),
            from_host: false,
        };
        assert_eq!(
            arg.doctor_note(&r),
            "image built for CUDA architectures 75;80;86;89;90;100;120 (the GPUs' compute capability is unknown)"
        );
        let here = Resolved {
            value: "90".into(),
            from_host: true,
        };
        assert_eq!(
            arg.doctor_note(&here),
            "image built for CUDA architectures 90 (this host's GPUs)"
        );
    }

    #[test]
    fn estimates_and_runtime_facts_by_hand() {
        let secs: Vec<(f64, u32)> = Backend::ALL.iter().map(|b| b.measured_build()).collect();
        assert_eq!(
            secs,
            [
                (282.0, 2),
                (600.0, 2),
                (1010.0, 2),
                (1010.0, 2),
                (288.0, 16)
            ]
        );
        assert!(Backend::Cpu.runtime_facts().is_empty());
        assert_eq!(Backend::Vulkan.runtime_facts(), ["mesa"]);
        assert_eq!(Backend::Rocm6.runtime_facts(), ["rocm"]);
        assert_eq!(Backend::Rocm7.runtime_facts(), ["rocm"]);
        assert_eq!(Backend::Cuda.runtime_facts(), ["cuda_runtime", "cublas"]);
    }

    #[test]
    fn every_containerfile_defaults_to_its_first_pinned_base() {
        for b in Backend::ALL {
            let (pinned, origin) = b.base_candidates()[0];
            assert_eq!(origin, BaseOrigin::Pinned);
            assert!(
                b.containerfile_text()
                    .contains(&format!("ARG BASE_IMAGE={pinned}")),
                "{}",
                b.containerfile()
            );
        }
    }
}
