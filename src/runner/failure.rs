//! Classifying a failed server or run from what it left behind: the container's
//! state and exit code, and its log matched against known signatures (kept as data
//! below). Pure functions; the runner gathers the inputs.

use crate::engine::ContainerState;
use crate::manifest::{Cell, Failure};
use crate::status::FailureMode;

/// Log signatures: a name, a regular expression matched against each log line,
/// the failure mode it points to. Data, in priority order: when several match,
/// the mode of the first in this list wins (a HIP graph that fails to
/// instantiate reports "out of memory" with memory to spare: the study's crash).
pub const SIGNATURES: &[(&str, &str, FailureMode)] = &[
    (
        "hip-graph",
        r"(?i)hipGraphInstantiate|hipGraphExec",
        FailureMode::Crash,
    ),
    // CUDA: the same graph code as HIP's (ggml-cuda is compiled for both).
    (
        "cuda-graph",
        r"(?i)cudaGraphInstantiate|cudaGraphExecUpdate|cudaGraphLaunch",
        FailureMode::Crash,
    ),
    (
        "cuda-illegal-access",
        r"an illegal memory access was encountered|cudaErrorIllegalAddress",
        FailureMode::Crash,
    ),
    (
        "cuda-no-device",
        r"no CUDA-capable device is detected|cudaErrorNoDevice",
        FailureMode::LoadFailed,
    ),
    (
        "cuda-driver-too-old",
        r"CUDA driver version is insufficient for CUDA runtime version|cudaErrorInsufficientDriver",
        FailureMode::LoadFailed,
    ),
    (
        "cuda-wrong-architecture",
        r"no kernel image is available for execution on the device|cudaErrorNoKernelImageForDevice",
        FailureMode::LoadFailed,
    ),
    (
        "vk-device-lost",
        r"vk::DeviceLostError|ErrorDeviceLost|VK_ERROR_DEVICE_LOST",
        FailureMode::Crash,
    ),
    (
        "gpu-hang",
        r"(?i)GPU Hang|HW Exception|amdgpu.*ring .* timeout",
        FailureMode::Crash,
    ),
    (
        "no-code-objects",
        r"(?i)No compatible code objects",
        FailureMode::LoadFailed,
    ),
    (
        "model-load",
        r"(?i)failed to load model|error loading model",
        FailureMode::LoadFailed,
    ),
    (
        "out-of-memory",
        r"(?i)out of memory|ErrorOutOfDeviceMemory|cudaMalloc failed",
        FailureMode::Oom,
    ),
    (
        "failed-to-allocate",
        r"(?i)failed to allocate",
        FailureMode::Oom,
    ),
    ("rocm-error", r"ROCm error|HIP error", FailureMode::Crash),
    ("cuda-error", r"CUDA error", FailureMode::Crash),
    ("ggml-assert", r"GGML_ASSERT|GGML_ABORT", FailureMode::Crash),
    (
        "signal",
        r"(?i)Segmentation fault|core dumped|Aborted",
        FailureMode::Crash,
    ),
];

/// The compiled signatures (a pattern that does not compile is dropped; a unit
/// test checks that none does).
fn compiled() -> &'static [(regex::Regex, FailureMode)] {
    static SIGS: std::sync::LazyLock<Vec<(regex::Regex, FailureMode)>> =
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
pub fn matching_lines(log: &str, max: usize) -> (Vec<String>, Option<FailureMode>) {
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

/// What an exit code says beyond its number: 128 + N is the shell's and the
/// engines' way of reporting that the process was ended by signal N.
pub fn exit_meaning(code: i64) -> String {
    let name = match code - 128 {
        1 => "SIGHUP",
        2 => "SIGINT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        n if (1..=64).contains(&n) => return format!(" (killed by signal {n})"),
        _ => return String::new(),
    };
    format!(" (killed by {name}, signal {})", code - 128)
}

/// One run's counts and the checks it failed, for a failure's evidence.
fn checks_failed(r: &crate::manifest::Run) -> String {
    let mut failed = Vec::new();
    if !r.checks.cache_n_zero {
        failed.push("cache_n == 0");
    }
    if !r.checks.prompt_n_matches {
        failed.push("prompt count");
    }
    if !r.checks.predicted_n_matches {
        failed.push("generated count");
    }
    format!(
        "run {}: prompt_n {}, predicted_n {}, {} tokens streamed, cache_n {}, stop {}: failed {}",
        r.index + 1,
        r.prompt_n,
        r.predicted_n,
        r.token_ids.len(),
        r.cache_n,
        r.stop_type.as_deref().unwrap_or("?"),
        failed.join(", ")
    )
}

/// The failure of a cell whose measured runs all completed but none passed its
/// checks (so it has no number to show), naming the check and why; `None` when
/// at least one measured run counts, or none has run. A generated count cut
/// short where prompt + generated reached the context is `context_exceeded`.
pub fn uncounted(cell: &Cell) -> Option<Failure> {
    let measured: Vec<&crate::manifest::Run> = cell.runs.iter().filter(|r| !r.warmup).collect();
    if measured.is_empty() || measured.iter().any(|r| r.checks.all()) {
        return None;
    }
    // The context the server really had (it raises small ones), else the plan's.
    let ctx = cell
        .server
        .as_ref()
        .and_then(|s| s.props.as_ref())
        .and_then(|p| p["default_generation_settings"]["n_ctx"].as_u64())
        .unwrap_or(u64::from(cell.variant.ctx_size));
    let want_prompt = u64::from(cell.prompt_tokens);
    let want_gen = u64::from(cell.n_predict);
    let evidence = measured.iter().map(|r| checks_failed(r)).collect();
    let n = measured.len();
    let first = measured[0];
    let (mode, message) = if measured.iter().all(|r| !r.checks.predicted_n_matches) {
        let got = first.predicted_n.max(first.token_ids.len() as u64);
        if first.prompt_n + got >= ctx {
            (
                FailureMode::ContextExceeded,
                format!(
                    "all {n} measured runs stopped at {got} of {want_gen} generated tokens: the context filled ({} prompt + {got} generated = {} of {ctx})",
                    first.prompt_n,
                    first.prompt_n + got
                ),
            )
        } else {
            (
                FailureMode::ChecksFailed,
                format!(
                    "all {n} measured runs generated {got} of {want_gen} tokens (stop: {})",
                    first.stop_type.as_deref().unwrap_or("?")
                ),
            )
        }
    } else if measured.iter().all(|r| !r.checks.prompt_n_matches) {
        (
            FailureMode::ChecksFailed,
            format!(
                "all {n} measured runs: the server processed {} prompt tokens, not the planned {want_prompt}",
                first.prompt_n
            ),
        )
    } else if measured.iter().all(|r| !r.checks.cache_n_zero) {
        (
            FailureMode::ChecksFailed,
            format!(
                "all {n} measured runs took tokens from the prompt cache (cache_n {})",
                first.cache_n
            ),
        )
    } else {
        (
            FailureMode::ChecksFailed,
            format!("all {n} measured runs failed a check (see the evidence)"),
        )
    };
    Some(Failure {
        mode,
        message,
        evidence,
    })
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
        Some(s) if s.oom_killed => FailureMode::Oom,
        Some(s) if !s.running => match sig_mode {
            Some(FailureMode::Oom) => FailureMode::Oom,
            _ => FailureMode::LoadFailed,
        },
        _ => FailureMode::LoadFailed,
    };
    failure(mode, why, state, log, sig_lines)
}

/// A failure with its evidence: the container's state, the signature lines, the
/// log's tail.
fn failure(
    mode: FailureMode,
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
                .map(|c| format!(", exit code {c}{}", exit_meaning(c)))
                .unwrap_or_default()
        ));
    }
    evidence.extend(sig_lines);
    evidence.extend(tail(log, 8).into_iter().map(|l| format!("log: {l}")));
    Failure {
        mode,
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
    let code = state.and_then(|s| s.exit_code);
    let mode =
        if state.is_some_and(|s| s.oom_killed) || (died && sig_mode == Some(FailureMode::Oom)) {
            FailureMode::Oom
        } else if died && sig_mode.is_none() && matches!(code, Some(0 | 130 | 143)) {
            // Shut down on request (SIGTERM from `podman stop`, systemd, a
            // supervisor; SIGINT), or a clean exit mid-run: not a crash of its own.
            FailureMode::Stopped
        } else if died {
            FailureMode::Crash
        } else if stalled {
            FailureMode::Hang
        } else if timed_out {
            FailureMode::Timeout
        } else if CONTEXT_SIGNATURES.iter().any(|sig| why.contains(sig)) {
            FailureMode::ContextExceeded
        } else {
            FailureMode::RequestFailed
        };
    if mode == FailureMode::Stopped && stalled {
        // llama-server on SIGTERM stops sending, then exits once the client lets
        // go of the stream: a shutdown, not a hang.
        let why = format!(
            "{why}; the server then exited: it was shutting down (SIGTERM or SIGINT), not hung"
        );
        return failure(mode, &why, state, log, sig_lines);
    }
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
        assert_eq!(f.mode, FailureMode::Crash);
        assert!(
            f.evidence
                .iter()
                .any(|e| e.contains("ROCm error: out of memory"))
        );
        assert!(f.evidence.iter().any(|e| e.contains("hipGraphInstantiate")));
        assert!(
            f.evidence
                .iter()
                .any(|e| e == "container exited, exit code 134 (killed by SIGABRT, signal 6)"),
            "{:?}",
            f.evidence
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
        assert_eq!(f.mode, FailureMode::Crash);
    }

    #[test]
    fn a_live_server_that_stops_sending_is_a_hang() {
        let f = run(Some(&state(true, 0, false)), "", "no token", true, false);
        assert_eq!(f.mode, FailureMode::Hang);
        let f = run(Some(&state(true, 0, false)), "", "slow", false, true);
        assert_eq!(f.mode, FailureMode::Timeout);
    }

    #[test]
    fn a_prompt_larger_than_the_context_is_context_exceeded() {
        // llama-server 0c1e57098's answer, as the client reports it.
        let why = "run 1 of 3: POST /completion: HTTP 400: {\"error\":{\"code\":400,\"message\":\"request (461 tokens) exceeds the available context size (128 tokens), try increasing it\",\"type\":\"exceed_context_size_error\"}}";
        let f = run(Some(&state(true, 0, false)), "", why, false, false);
        assert_eq!(f.mode, FailureMode::ContextExceeded);
        let f = run(
            Some(&state(true, 0, false)),
            "",
            "HTTP 500: other",
            false,
            false,
        );
        assert_eq!(f.mode, FailureMode::RequestFailed);
    }

    #[test]
    fn an_allocation_failure_without_graphs_is_oom() {
        let log = "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 40960.00 MiB on device 0: cudaMalloc failed: out of memory\n\
                   alloc_tensor_range: failed to allocate ROCm0 buffer of size 42949672960\n";
        let f = server_start(Some(&state(false, 1, false)), log, "exited");
        assert_eq!(f.mode, FailureMode::Oom);
        let (lines, mode) = matching_lines("ggml_vulkan: vk::DeviceLostError\nout of memory\n", 1);
        assert_eq!(mode, Some(FailureMode::Crash));
        assert_eq!(lines, ["ggml_vulkan: vk::DeviceLostError"]);
        assert_eq!(matching_lines("all is well\n", 5), (vec![], None));
    }

    #[test]
    fn kernel_oom_kill_wins() {
        let f = run(Some(&state(false, 137, true)), "", "x", false, false);
        assert_eq!(f.mode, FailureMode::Oom);
        let f = server_start(Some(&state(false, 137, true)), "", "x");
        assert_eq!(f.mode, FailureMode::Oom);
    }

    #[test]
    fn a_server_that_exits_while_loading_is_load_failed_with_the_reason() {
        let log = "llama_model_load: error loading model: tensor data is not within file bounds\n\
                   main: exiting due to model loading error\n";
        let f = server_start(Some(&state(false, 1, false)), log, "exited before healthy");
        assert_eq!(f.mode, FailureMode::LoadFailed);
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
    fn a_server_that_shuts_down_on_term_is_stopped_not_a_hang_or_a_crash() {
        for code in [143, 130, 0] {
            let f = run(
                Some(&state(false, code, false)),
                "main: shutting down\n",
                "stream ended",
                false,
                false,
            );
            assert_eq!(f.mode, FailureMode::Stopped, "exit {code}");
        }
        // A signature in the log still says what happened.
        let f = run(
            Some(&state(false, 0, false)),
            "CUDA error: an illegal memory access\n",
            "x",
            false,
            false,
        );
        assert_eq!(f.mode, FailureMode::Crash);
        let f = run(Some(&state(false, 139, false)), "", "x", false, false);
        assert_eq!(f.mode, FailureMode::Crash);
        assert_eq!(
            f.evidence[0],
            "container exited, exit code 139 (killed by SIGSEGV, signal 11)"
        );
    }

    #[test]
    fn exit_codes_above_128_name_their_signal() {
        assert_eq!(exit_meaning(137), " (killed by SIGKILL, signal 9)");
        assert_eq!(exit_meaning(134), " (killed by SIGABRT, signal 6)");
        assert_eq!(exit_meaning(143), " (killed by SIGTERM, signal 15)");
        assert_eq!(exit_meaning(162), " (killed by signal 34)");
        assert_eq!(exit_meaning(1), "");
        assert_eq!(exit_meaning(0), "");
        assert_eq!(exit_meaning(255), "");
    }

    fn cut_short(predicted: u64, prompt: u64) -> crate::manifest::Run {
        let mut r = crate::manifest::fixtures::run(50.0, 500.0, 40.0, false);
        r.prompt_n = prompt;
        r.predicted_n = predicted;
        r.checks.predicted_n_matches = false;
        r
    }

    #[test]
    fn a_cell_whose_every_run_filled_the_context_is_context_exceeded_with_the_sum() {
        // The issue's case: 461 + 64 in 512; the server stopped after 51 tokens.
        let mut c = crate::manifest::fixtures::cell(461, "ctx512", vec![], None);
        c.variant.ctx_size = 512;
        c.n_predict = 64;
        c.runs = vec![
            crate::manifest::fixtures::run(50.0, 500.0, 40.0, true),
            cut_short(51, 461),
            cut_short(51, 461),
        ];
        let f = uncounted(&c).unwrap();
        assert_eq!(f.mode, FailureMode::ContextExceeded);
        assert_eq!(
            f.message,
            "all 2 measured runs stopped at 51 of 64 generated tokens: the context filled (461 prompt + 51 generated = 512 of 512)"
        );
        assert_eq!(f.evidence.len(), 2);
        assert!(
            f.evidence[0].ends_with("failed generated count"),
            "{}",
            f.evidence[0]
        );
    }

    #[test]
    fn other_failed_checks_are_checks_failed_and_one_counted_run_is_enough() {
        let mut c = crate::manifest::fixtures::cell(31, "v", vec![], None);
        c.n_predict = 64;
        c.runs = vec![cut_short(20, 31), cut_short(20, 31)];
        let f = uncounted(&c).unwrap();
        assert_eq!(f.mode, FailureMode::ChecksFailed);
        assert_eq!(
            f.message,
            "all 2 measured runs generated 20 of 64 tokens (stop: limit)"
        );

        let mut cached = crate::manifest::fixtures::run(50.0, 500.0, 40.0, false);
        cached.cache_n = 30;
        cached.checks.cache_n_zero = false;
        c.runs = vec![cached.clone(), cached.clone()];
        let f = uncounted(&c).unwrap();
        assert_eq!(
            f.message,
            "all 2 measured runs took tokens from the prompt cache (cache_n 30)"
        );

        c.runs
            .push(crate::manifest::fixtures::run(50.0, 500.0, 40.0, false));
        assert_eq!(uncounted(&c), None);
        // Warm-ups alone (or nothing) are not judged.
        c.runs = vec![crate::manifest::fixtures::run(50.0, 500.0, 40.0, true)];
        assert_eq!(uncounted(&c), None);
    }

    /// CUDA failures as llama.cpp prints them: `ggml_cuda_error` in
    /// ggml/src/ggml-cuda/ggml-cuda.cu writes "CUDA error: <cudaGetErrorString>",
    /// then the device and the function; the messages are the CUDA runtime's own
    /// error strings (CUDA Runtime API, cudaError_t).
    #[test]
    fn cuda_failures_land_in_their_classes() {
        let cases = [
            (
                "CUDA error: out of memory\n  current device: 0, in function ggml_backend_cuda_buffer_type_alloc_buffer at ggml-cuda.cu:752\n  cudaMalloc(&ptr, size)\n",
                "oom",
            ),
            (
                "CUDA error: operation failed due to a previous error during capture\n  current device: 0, in function ggml_cuda_graph_evaluate_and_capture at ggml-cuda.cu:3581\n  cudaGraphInstantiate(&cuda_ctx->cuda_graph->instance, cuda_ctx->cuda_graph->graph, NULL, NULL, 0)\n",
                "crash",
            ),
            (
                "CUDA error: an illegal memory access was encountered\n  current device: 0, in function ggml_backend_cuda_synchronize at ggml-cuda.cu:2760\n  cudaStreamSynchronize(cuda_ctx->stream())\n",
                "crash",
            ),
            (
                "ggml_cuda_init: failed to initialize CUDA: no CUDA-capable device is detected\n",
                "load_failed",
            ),
            (
                "ggml_cuda_init: failed to initialize CUDA: CUDA driver version is insufficient for CUDA runtime version\n",
                "load_failed",
            ),
            (
                "CUDA error: no kernel image is available for execution on the device\n  current device: 0, in function ggml_cuda_op_mul_mat at ggml-cuda.cu:1709\n",
                "load_failed",
            ),
        ];
        for (log, mode) in cases {
            let (lines, got) = matching_lines(log, 5);
            assert_eq!(got.map(FailureMode::name), Some(mode), "{log}");
            assert!(!lines.is_empty());
        }
        // A dead server's CUDA OOM is oom; a graph failure that says "out of
        // memory" is the graph's crash, as with HIP.
        let f = run(
            Some(&state(false, 134, false)),
            cases[0].0,
            "x",
            false,
            false,
        );
        assert_eq!(f.mode, FailureMode::Oom);
        let graph_oom = "CUDA error: out of memory\n  in function cudaGraphInstantiate\n";
        assert_eq!(matching_lines(graph_oom, 5).1, Some(FailureMode::Crash));
    }

    #[test]
    fn tail_skips_blank_lines() {
        assert_eq!(tail("a\n\nb\n \nc\n", 2), ["b", "c"]);
        assert!(tail("", 3).is_empty());
    }
}
