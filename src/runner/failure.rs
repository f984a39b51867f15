//! Classifying a failed server or run from what it left behind: the container's
//! state and exit code, and its log matched against known signatures (kept as data
//! below). Pure functions; the runner gathers the inputs.

use crate::engine::ContainerState;
use crate::manifest::Failure;

/// Log signatures: a name, a regular expression matched against each log line,
/// the failure mode it points to. Data, in priority order: when several match,
/// the mode of the first in this list wins (a HIP graph that fails to
/// instantiate reports "out of memory" with memory to spare: the study's crash).
pub const SIGNATURES: &[(&str, &str, &str)] = &[
    (
        "hip-graph",
        r"(?i)hipGraphInstantiate|hipGraphExec",
        "crash",
    ),
    ("cuda-graph", r"(?i)cudaGraphInstantiate", "crash"),
    (
        "vk-device-lost",
        r"vk::DeviceLostError|ErrorDeviceLost|VK_ERROR_DEVICE_LOST",
        "crash",
    ),
    (
        "gpu-hang",
        r"(?i)GPU Hang|HW Exception|amdgpu.*ring .* timeout",
        "crash",
    ),
    (
        "no-code-objects",
        r"(?i)No compatible code objects",
        "load_failed",
    ),
    (
        "model-load",
        r"(?i)failed to load model|error loading model",
        "load_failed",
    ),
    (
        "out-of-memory",
        r"(?i)out of memory|ErrorOutOfDeviceMemory|cudaMalloc failed",
        "oom",
    ),
    ("failed-to-allocate", r"(?i)failed to allocate", "oom"),
    ("rocm-error", r"ROCm error|HIP error", "crash"),
    ("cuda-error", r"CUDA error", "crash"),
    ("ggml-assert", r"GGML_ASSERT|GGML_ABORT", "crash"),
    (
        "signal",
        r"(?i)Segmentation fault|core dumped|Aborted",
        "crash",
    ),
];

/// The compiled signatures (a pattern that does not compile is dropped; a unit
/// test checks that none does).
fn compiled() -> &'static [(regex::Regex, &'static str)] {
    static SIGS: std::sync::LazyLock<Vec<(regex::Regex, &'static str)>> =
        std::sync::LazyLock::new(|| {
            SIGNATURES
                .iter()
                .filter_map(|(_, p, mode)| Some((regex::Regex::new(p).ok()?, *mode)))
                .collect()
        });
    &SIGS
}

/// Log lines that match a signature (at most `max`), and the mode of the
/// highest-priority signature that matched any line.
pub fn matching_lines(log: &str, max: usize) -> (Vec<String>, Option<&'static str>) {
    let sigs = compiled();
    let mut lines = Vec::new();
    let mut best: Option<usize> = None;
    for line in log.lines() {
        if let Some(i) = sigs.iter().position(|(re, _)| re.is_match(line)) {
            best = Some(best.map_or(i, |b| b.min(i)));
            if lines.len() < max {
                lines.push(line.trim().to_string());
            }
        }
    }
    (lines, best.map(|i| sigs[i].1))
}

/// What llama-server answers when a request does not fit the slot's context,
/// matched in the client's error (the server stays healthy).
pub const CONTEXT_SIGNATURES: &[&str] = &[
    "exceed_context_size_error",
    "exceeds the available context size",
    "is larger than the max context size",
    "Context size has been exceeded",
];

/// The lines of a server log that say which devices and CPU features it uses:
/// ggml's Vulkan and HIP device lists and llama.cpp's system_info line.
pub fn device_lines(log: &str) -> Vec<String> {
    log.lines()
        .map(str::trim)
        .filter(|l| {
            (l.starts_with("ggml_vulkan:") && l.contains(" = "))
                || l.contains("no usable GPU found")
                || l.starts_with("ggml_cuda_init:")
                || (l.starts_with("Device ") && l.contains("compute capability"))
                || l.starts_with("system_info:")
        })
        .map(str::to_string)
        .collect()
}

/// Whether a GPU backend's server said it found no device to offload to (it then
/// runs on the CPU, and its numbers would be CPU numbers under a GPU label).
pub fn fell_back_to_cpu(log: &str) -> bool {
    log.contains("no usable GPU found")
}

/// The last `n` non-empty lines of a log.
pub fn tail(log: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.trim().to_string())
        .collect()
}

/// The failure of a server that never became healthy.
pub fn server_start(state: Option<&ContainerState>, log: &str, why: &str) -> Failure {
    let (sig_lines, sig_mode) = matching_lines(log, 10);
    let mode = match state {
        Some(s) if s.oom_killed => "oom",
        Some(s) if !s.running => match sig_mode {
            Some("oom") => "oom",
            _ => "load_failed",
        },
        _ => "load_failed",
    };
    failure(mode, why, state, log, sig_lines)
}

/// A failure with its evidence: the container's state, the signature lines, the
/// log's tail.
fn failure(
    mode: &str,
    why: &str,
    state: Option<&ContainerState>,
    log: &str,
    sig_lines: Vec<String>,
) -> Failure {
    let mut evidence = Vec::new();
    if let Some(s) = state {
        evidence.push(format!(
            "container {}{}",
            s.status,
            s.exit_code
                .filter(|_| !s.running)
                .map(|c| format!(", exit code {c}"))
                .unwrap_or_default()
        ));
    }
    evidence.extend(sig_lines);
    evidence.extend(tail(log, 8).into_iter().map(|l| format!("log: {l}")));
    Failure {
        mode: mode.to_string(),
        message: why.to_string(),
        evidence,
    }
}

/// The failure of a run on a server that had been healthy. `stalled` and
/// `timed_out` say how the client gave up; the container state says whether the
/// server died.
pub fn run(
    state: Option<&ContainerState>,
    log: &str,
    why: &str,
    stalled: bool,
    timed_out: bool,
) -> Failure {
    let (sig_lines, sig_mode) = matching_lines(log, 10);
    let died = state.is_some_and(|s| !s.running);
    let mode = if state.is_some_and(|s| s.oom_killed) || (died && sig_mode == Some("oom")) {
        "oom"
    } else if died {
        "crash"
    } else if stalled {
        "hang"
    } else if timed_out {
        "timeout"
    } else if CONTEXT_SIGNATURES.iter().any(|sig| why.contains(sig)) {
        "context_exceeded"
    } else {
        "request_failed"
    };
    failure(mode, why, state, log, sig_lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(running: bool, code: i64, oom: bool) -> ContainerState {
        ContainerState {
            running,
            status: if running { "running" } else { "exited" }.to_string(),
            exit_code: Some(code),
            oom_killed: oom,
        }
    }

    const HIP_OOM: &str = "load_tensors: done\n\
        ggml_cuda_compute_forward: ROCm error: out of memory\n  in function hipGraphInstantiate at ggml-cuda.cu:4423\n";

    #[test]
    fn every_signature_compiles() {
        assert_eq!(compiled().len(), SIGNATURES.len());
    }

    #[test]
    fn the_studys_rocm_crash_is_a_crash_with_its_lines_as_evidence() {
        // "out of memory" in hipGraphInstantiate with ~90 GB free: the graph
        // signature outranks the memory one.
        let f = run(
            Some(&state(false, 134, false)),
            HIP_OOM,
            "stream ended",
            false,
            false,
        );
        assert_eq!(f.mode, "crash");
        assert!(
            f.evidence
                .iter()
                .any(|e| e.contains("ROCm error: out of memory"))
        );
        assert!(f.evidence.iter().any(|e| e.contains("hipGraphInstantiate")));
        assert!(
            f.evidence
                .iter()
                .any(|e| e == "container exited, exit code 134")
        );
    }

    #[test]
    fn a_dead_server_without_signature_is_a_crash() {
        let f = run(
            Some(&state(false, 139, false)),
            "decoding\n",
            "x",
            false,
            false,
        );
        assert_eq!(f.mode, "crash");
    }

    #[test]
    fn a_live_server_that_stops_sending_is_a_hang() {
        let f = run(Some(&state(true, 0, false)), "", "no token", true, false);
        assert_eq!(f.mode, "hang");
        let f = run(Some(&state(true, 0, false)), "", "slow", false, true);
        assert_eq!(f.mode, "timeout");
    }

    #[test]
    fn a_prompt_larger_than_the_context_is_context_exceeded() {
        // llama-server 0c1e57098's answer, as the client reports it.
        let why = "run 1 of 3: POST /completion: HTTP 400: {\"error\":{\"code\":400,\"message\":\"request (461 tokens) exceeds the available context size (128 tokens), try increasing it\",\"type\":\"exceed_context_size_error\"}}";
        let f = run(Some(&state(true, 0, false)), "", why, false, false);
        assert_eq!(f.mode, "context_exceeded");
        let f = run(
            Some(&state(true, 0, false)),
            "",
            "HTTP 500: other",
            false,
            false,
        );
        assert_eq!(f.mode, "request_failed");
    }

    #[test]
    fn an_allocation_failure_without_graphs_is_oom() {
        let log = "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 40960.00 MiB on device 0: cudaMalloc failed: out of memory\n\
                   alloc_tensor_range: failed to allocate ROCm0 buffer of size 42949672960\n";
        let f = server_start(Some(&state(false, 1, false)), log, "exited");
        assert_eq!(f.mode, "oom");
        let (lines, mode) = matching_lines("ggml_vulkan: vk::DeviceLostError\nout of memory\n", 1);
        assert_eq!(mode, Some("crash"));
        assert_eq!(lines, ["ggml_vulkan: vk::DeviceLostError"]);
        assert_eq!(matching_lines("all is well\n", 5), (vec![], None));
    }

    #[test]
    fn kernel_oom_kill_wins() {
        let f = run(Some(&state(false, 137, true)), "", "x", false, false);
        assert_eq!(f.mode, "oom");
        let f = server_start(Some(&state(false, 137, true)), "", "x");
        assert_eq!(f.mode, "oom");
    }

    #[test]
    fn a_server_that_exits_while_loading_is_load_failed_with_the_reason() {
        let log = "llama_model_load: error loading model: tensor data is not within file bounds\n\
                   main: exiting due to model loading error\n";
        let f = server_start(Some(&state(false, 1, false)), log, "exited before healthy");
        assert_eq!(f.mode, "load_failed");
        assert!(
            f.evidence
                .iter()
                .any(|e| e.contains("not within file bounds"))
        );
        assert!(
            f.evidence
                .contains(&"container exited, exit code 1".to_string())
        );
    }

    #[test]
    fn device_lines_from_vulkan_and_hip_logs() {
        let log = "ggml_vulkan: Found 1 Vulkan devices:\n\
                   ggml_vulkan: 0 = llvmpipe (LLVM 19.1.7, 256 bits) (llvmpipe) | uma: 0 | fp16: 1\n\
                   ggml_cuda_init: found 1 ROCm devices:\n\
                   Device 0: AMD Radeon Graphics, gfx1151 (0x1151), VMM: no, Wave Size: 32, compute capability 11.5\n\
                   system_info: n_threads = 2 | CPU : AVX2 = 1 | AVX512 = 1\n\
                   main: server is listening\n";
        assert_eq!(
            device_lines(log),
            [
                "ggml_vulkan: 0 = llvmpipe (LLVM 19.1.7, 256 bits) (llvmpipe) | uma: 0 | fp16: 1",
                "ggml_cuda_init: found 1 ROCm devices:",
                "Device 0: AMD Radeon Graphics, gfx1151 (0x1151), VMM: no, Wave Size: 32, compute capability 11.5",
                "system_info: n_threads = 2 | CPU : AVX2 = 1 | AVX512 = 1",
            ]
        );
    }

    #[test]
    fn tail_skips_blank_lines() {
        assert_eq!(tail("a\n\nb\n \nc\n", 2), ["b", "c"]);
        assert!(tail("", 3).is_empty());
    }
}
