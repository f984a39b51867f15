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
    // Vulkan, as ggml/src/ggml-vulkan prints it (llama.cpp 0c1e57098). Failures
    // there are vulkan.hpp exceptions: `vk::<Result>Error`, whose what() is
    // "<call>: <Result>" (e.g. "vk::Device::allocateMemory: ErrorOutOfDeviceMemory"),
    // printed by ggml as "ggml_vulkan: <what()>" or, when none catches it, by the
    // C++ runtime as "terminate called after throwing an instance of 'vk::…'" and
    // "  what():  <what()>". A what() in parentheses is a warning ggml recovered
    // from (pinned host memory falling back to a CPU buffer): the Vulkan
    // signatures leave it to the generic ones below, after "model-load".
    //
    // ggml-vulkan.cpp: ggml_vk_print_device_lost_info ("device lost on %s", with
    // ", likely caused by previous submission (nodes %d to %d):"),
    // ggml_backend_vk_graph_compute ("device lost on %s waiting for submission"),
    // ggml_vk_print_device_fault_info ("device fault on %s: %s"); vulkan.hpp's
    // vk::DeviceLostError ("vk::Queue::submit: ErrorDeviceLost"). Outranks the
    // memory signatures: a lost device is the crash, whatever else it says.
    (
        "vk-device-lost",
        r"vk::DeviceLostError|ErrorDeviceLost|VK_ERROR_DEVICE_LOST|ggml_vulkan: device lost on |ggml_vulkan: device fault on ",
        FailureMode::Crash,
    ),
    // ggml-vulkan-buffers.cpp: ggml_vk_create_buffer throws
    // vk::OutOfDeviceMemoryError("Requested buffer size exceeds device buffer size
    // limit"), printed as "ggml_vulkan: <what()>" by ggml_vk_create_buffer_device.
    (
        "vk-buffer-size-limit",
        r"ggml_vulkan: Requested buffer size exceeds device buffer size limit",
        FailureMode::Oom,
    ),
    // ggml-vulkan-buffers.cpp: ggml_vk_create_buffer throws
    // vk::OutOfDeviceMemoryError("No suitable memory type found"), printed as
    // "ggml_vulkan: <what()>" by ggml_vk_create_buffer_device.
    (
        "vk-no-memory-type",
        r"ggml_vulkan: No suitable memory type found",
        FailureMode::Oom,
    ),
    // ggml-vulkan-buffers.cpp: ggml_vk_create_buffer_device ("Device memory
    // allocation of size %zu failed.") and ggml_vk_create_buffer_check ("Memory
    // allocation of size %zu failed."), each followed by "ggml_vulkan: <what()>".
    (
        "vk-allocation-failed",
        r"ggml_vulkan: (?:Device m|M)emory allocation of size \d+ failed",
        FailureMode::Oom,
    ),
    // vulkan.hpp's vk::OutOfDeviceMemoryError, what() "<call>: ErrorOutOfDeviceMemory"
    // (ggml-vulkan-buffers.cpp: ggml_vk_create_buffer_device/_check print it;
    // ggml-vulkan-types.h: VK_CHECK prints "ggml_vulkan: %s error %s at %s:%d").
    (
        "vk-out-of-device-memory",
        r"vk::OutOfDeviceMemoryError|VK_ERROR_OUT_OF_DEVICE_MEMORY|ErrorOutOfDeviceMemory(?: at |\s*$)",
        FailureMode::Oom,
    ),
    // vulkan.hpp's vk::OutOfHostMemoryError, what() "<call>: ErrorOutOfHostMemory",
    // surfacing as the device-memory one does.
    (
        "vk-out-of-host-memory",
        r"vk::OutOfHostMemoryError|VK_ERROR_OUT_OF_HOST_MEMORY|ErrorOutOfHostMemory(?: at |\s*$)",
        FailureMode::Oom,
    ),
    // ggml-vulkan.cpp: ggml_vk_create_pipeline_func ("Compute pipeline creation
    // failed for %s", then "ggml_vulkan: <what()>"): the driver could not build
    // a shader for this device. After the memory ones: a pipeline that failed
    // for want of memory is out of memory.
    (
        "vk-pipeline-creation",
        r"ggml_vulkan: Compute pipeline creation failed for ",
        FailureMode::LoadFailed,
    ),
    // A device or driver ggml cannot use. ggml-vulkan.cpp: ggml_vk_instance_init
    // ("Error: Vulkan 1.2 required."), ggml_vk_get_device ("device %s%zu does not
    // support 16-bit storage."), ggml_vk_find_queue_family_index ("No suitable
    // queue family index found."), ggml_vk_load_shaders ("Error: Shared memory
    // size too small for matrix multiplication.").
    (
        "vk-unsupported-device",
        r"ggml_vulkan: Error: Vulkan 1\.2 required|ggml_vulkan: device \S+ does not support 16-bit storage|ggml_vulkan: No suitable queue family index found|ggml_vulkan: Error: Shared memory size too small for matrix multiplication",
        FailureMode::LoadFailed,
    ),
    // No Vulkan device to run on. ggml-vulkan.cpp: ggml_vk_instance_init ("No
    // devices found.", "Invalid device index %zu in GGML_VK_VISIBLE_DEVICES."),
    // ggml_vk_get_device and ggml_vk_print_gpu_info ("Device with index %zu does
    // not exist.").
    (
        "vk-no-device",
        r"ggml_vulkan: No devices found|ggml_vulkan: Invalid device index \d+ in GGML_VK_VISIBLE_DEVICES|ggml_vulkan: Device with index \d+ does not exist",
        FailureMode::NoDevice,
    ),
    // Other errors ggml-vulkan reports. ggml-vulkan.cpp: ggml_vk_op_f32 and
    // ggml_vk_multi_add ("Error: Missing op: …", "Error: Missing multi_add"),
    // ggml_vk_wait_for_fence ("error %s at %s:%d"), ggml_backend_vk_graph_compute
    // ("waitForFences error during serialized submission"); ggml-vulkan-types.h:
    // VK_CHECK ("%s error %s at %s:%d").
    (
        "vk-error",
        r"ggml_vulkan: Error: |ggml_vulkan: (?:.+ )?error \w+ at \S+:\d+|ggml_vulkan: waitForFences error",
        FailureMode::Crash,
    ),
    // Any other vulkan.hpp exception that nothing caught (ggml rethrows what it
    // logs with `throw e;`, so the type is often plain vk::SystemError): the C++
    // runtime's terminate handler, which ggml.cpp's ggml_uncaught_exception calls.
    (
        "vk-uncaught-exception",
        r"terminate called after throwing an instance of 'vk::\w+'",
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
/// ggml's Vulkan and HIP device lists, the devices llama.cpp put the model on
/// (`using device …`) and llama.cpp's system_info line.
pub fn device_lines(log: &str) -> Vec<String> {
    log.lines()
        .map(str::trim)
        .filter(|l| {
            (l.starts_with("ggml_vulkan:") && l.contains(" = "))
                || l.contains("no usable GPU found")
                || l.starts_with("ggml_cuda_init:")
                || (l.starts_with("Device ") && l.contains("compute capability"))
                || l.contains(": using device ")
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
                   llama_model_load_from_file_impl: using device ROCm0 (AMD Radeon Graphics) (0000:c5:00.0) - 98304 MiB free\n\
                   system_info: n_threads = 2 | CPU : AVX2 = 1 | AVX512 = 1\n\
                   main: server is listening\n";
        assert_eq!(
            device_lines(log),
            [
                "ggml_vulkan: 0 = llvmpipe (LLVM 19.1.7, 256 bits) (llvmpipe) | uma: 0 | fp16: 1",
                "ggml_cuda_init: found 1 ROCm devices:",
                "Device 0: AMD Radeon Graphics, gfx1151 (0x1151), VMM: no, Wave Size: 32, compute capability 11.5",
                "llama_model_load_from_file_impl: using device ROCm0 (AMD Radeon Graphics) (0000:c5:00.0) - 98304 MiB free",
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

    /// The name of the first signature that matches a line.
    fn signature_of(line: &str) -> Option<&'static str> {
        SIGNATURES
            .iter()
            .find(|(_, p, _)| regex::Regex::new(p).unwrap().is_match(line))
            .map(|(name, _, _)| *name)
    }

    /// Vulkan failures as ggml-vulkan (llama.cpp 0c1e57098) prints them, each
    /// built from its format string (see the comments on the signatures), with
    /// the signature that must claim it and the mode.
    #[test]
    fn vulkan_failures_land_in_their_classes() {
        let cases = [
            // Device lost.
            (
                "ggml_vulkan: device lost on NVIDIA H200",
                "vk-device-lost",
                "crash",
            ),
            (
                "ggml_vulkan: device lost on NVIDIA H200, likely caused by previous submission (nodes 120 to 183):",
                "vk-device-lost",
                "crash",
            ),
            (
                "ggml_vulkan: device lost on AMD Radeon Graphics (RADV GFX1151) waiting for submission (nodes 0 to 63):",
                "vk-device-lost",
                "crash",
            ),
            (
                "ggml_vulkan: device fault on AMD Radeon Graphics (RADV GFX1151): VM fault",
                "vk-device-lost",
                "crash",
            ),
            (
                "terminate called after throwing an instance of 'vk::DeviceLostError'",
                "vk-device-lost",
                "crash",
            ),
            (
                "  what():  vk::Queue::submit: ErrorDeviceLost",
                "vk-device-lost",
                "crash",
            ),
            // Out of memory.
            (
                "ggml_vulkan: Requested buffer size exceeds device buffer size limit: ErrorOutOfDeviceMemory",
                "vk-buffer-size-limit",
                "oom",
            ),
            (
                "ggml_vulkan: No suitable memory type found: ErrorOutOfDeviceMemory",
                "vk-no-memory-type",
                "oom",
            ),
            (
                "ggml_vulkan: Device memory allocation of size 42949672960 failed.",
                "vk-allocation-failed",
                "oom",
            ),
            (
                "ggml_vulkan: Memory allocation of size 268435456 failed.",
                "vk-allocation-failed",
                "oom",
            ),
            (
                "ggml_vulkan: vk::Device::allocateMemory: ErrorOutOfDeviceMemory",
                "vk-out-of-device-memory",
                "oom",
            ),
            (
                "terminate called after throwing an instance of 'vk::OutOfDeviceMemoryError'",
                "vk-out-of-device-memory",
                "oom",
            ),
            (
                "  what():  vk::Device::allocateMemory: ErrorOutOfDeviceMemory",
                "vk-out-of-device-memory",
                "oom",
            ),
            (
                "ggml_vulkan: dst->device->device.waitForFences({ dst->device->fence }, true, UINT64_MAX) error ErrorOutOfDeviceMemory at /app/ggml/src/ggml-vulkan/ggml-vulkan-buffers.cpp:528",
                "vk-out-of-device-memory",
                "oom",
            ),
            (
                "ggml_vulkan: vk::Device::allocateMemory: ErrorOutOfHostMemory",
                "vk-out-of-host-memory",
                "oom",
            ),
            (
                "terminate called after throwing an instance of 'vk::OutOfHostMemoryError'",
                "vk-out-of-host-memory",
                "oom",
            ),
            // The driver cannot build a shader, or ggml cannot use the device.
            (
                "ggml_vulkan: Compute pipeline creation failed for mul_mat_vec_q4_k_f32_f32",
                "vk-pipeline-creation",
                "load_failed",
            ),
            (
                "ggml_vulkan: Error: Vulkan 1.2 required.",
                "vk-unsupported-device",
                "load_failed",
            ),
            (
                "ggml_vulkan: device Vulkan0 does not support 16-bit storage.",
                "vk-unsupported-device",
                "load_failed",
            ),
            (
                "ggml_vulkan: No suitable queue family index found.",
                "vk-unsupported-device",
                "load_failed",
            ),
            (
                "ggml_vulkan: Error: Shared memory size too small for matrix multiplication.",
                "vk-unsupported-device",
                "load_failed",
            ),
            // No device.
            (
                "ggml_vulkan: No devices found.",
                "vk-no-device",
                "no_device",
            ),
            (
                "ggml_vulkan: Invalid device index 2 in GGML_VK_VISIBLE_DEVICES.",
                "vk-no-device",
                "no_device",
            ),
            (
                "ggml_vulkan: Device with index 1 does not exist.",
                "vk-no-device",
                "no_device",
            ),
            // Other errors.
            (
                "ggml_vulkan: Error: Missing op: ROPE for f16 and i32 to f16",
                "vk-error",
                "crash",
            ),
            (
                "ggml_vulkan: error ErrorUnknown at /app/ggml/src/ggml-vulkan/ggml-vulkan.cpp:367",
                "vk-error",
                "crash",
            ),
            (
                "ggml_vulkan: dst->device->device.waitForFences({ dst->device->fence }, true, UINT64_MAX) error Timeout at /app/ggml/src/ggml-vulkan/ggml-vulkan-buffers.cpp:528",
                "vk-error",
                "crash",
            ),
            (
                "ggml_vulkan: waitForFences error during serialized submission",
                "vk-error",
                "crash",
            ),
            (
                "terminate called after throwing an instance of 'vk::SystemError'",
                "vk-uncaught-exception",
                "crash",
            ),
            (
                "terminate called after throwing an instance of 'vk::InitializationFailedError'",
                "vk-uncaught-exception",
                "crash",
            ),
        ];
        for (line, name, mode) in cases {
            assert_eq!(signature_of(line), Some(name), "{line}");
            let (lines, got) = matching_lines(&format!("main: loading model\n{line}\n"), 5);
            assert_eq!(got.map(FailureMode::name), Some(mode), "{line}");
            assert_eq!(lines, [line.trim()], "{line}");
        }
    }

    /// Whole Vulkan failures: the lines ggml and llama.cpp print together.
    #[test]
    fn vulkan_failures_in_context() {
        // A model too large for the device: OOM, not the load failure it causes.
        let load = "ggml_vulkan: Device memory allocation of size 42949672960 failed.\n\
                    ggml_vulkan: vk::Device::allocateMemory: ErrorOutOfDeviceMemory\n\
                    alloc_tensor_range: failed to allocate Vulkan0 buffer of size 42949672960\n\
                    llama_model_load: error loading model: unable to allocate Vulkan0 buffer\n\
                    llama_model_load_from_file_impl: failed to load model\n";
        let f = server_start(Some(&state(false, 1, false)), load, "exited");
        assert_eq!(f.mode, FailureMode::Oom);
        assert_eq!(matching_lines(load, 10).0.len(), 5);
        // Mid-run, a scratch buffer that does not fit: ggml rethrows it as
        // vk::SystemError; the memory lines still say OOM.
        let run_oom = "ggml_vulkan: Device memory allocation of size 8589934592 failed.\n\
                       ggml_vulkan: vk::Device::allocateMemory: ErrorOutOfDeviceMemory\n\
                       terminate called after throwing an instance of 'vk::SystemError'\n  \
                       what():  vk::Device::allocateMemory: ErrorOutOfDeviceMemory\n";
        let f = run(Some(&state(false, 134, false)), run_oom, "x", false, false);
        assert_eq!(f.mode, FailureMode::Oom);
        // A lost device is a crash even when memory is mentioned too.
        let lost = "ggml_vulkan: device lost on NVIDIA H200\n\
                    ggml_vulkan: vk::Device::allocateMemory: ErrorOutOfDeviceMemory\n";
        assert_eq!(matching_lines(lost, 5).1, Some(FailureMode::Crash));
        // A pipeline that failed for want of memory is out of memory; otherwise
        // the driver's failure to build it.
        let pipeline =
            "ggml_vulkan: Compute pipeline creation failed for mul_mat_vec_q4_k_f32_f32\n";
        assert_eq!(
            matching_lines(
                &format!("{pipeline}ggml_vulkan: vk::Device::createComputePipeline: ErrorOutOfDeviceMemory\n"),
                5
            )
            .1,
            Some(FailureMode::Oom)
        );
        assert_eq!(
            matching_lines(
                &format!(
                    "{pipeline}ggml_vulkan: vk::Device::createComputePipeline: ErrorUnknown\n"
                ),
                5
            )
            .1,
            Some(FailureMode::LoadFailed)
        );
        // Pinned host memory that fell back to a CPU buffer is a warning: the
        // Vulkan signatures leave it, so a later load error still ranks first.
        let pinned = "ggml_vulkan: Failed to allocate pinned memory (vk::Device::allocateMemory: ErrorOutOfHostMemory)\n\
                      ggml_vulkan: Failed to allocate pinned memory (Requested buffer size exceeds device buffer size limit: ErrorOutOfDeviceMemory)\n";
        for line in pinned.lines() {
            assert!(
                !signature_of(line).unwrap_or("").starts_with("vk-"),
                "{line}"
            );
        }
        let log = format!(
            "{pinned}llama_model_load: error loading model: tensor data is not within file bounds\n"
        );
        assert_eq!(matching_lines(&log, 5).1, Some(FailureMode::LoadFailed));
    }

    /// A healthy Vulkan server's start matches no signature.
    #[test]
    fn a_healthy_vulkan_log_matches_nothing() {
        let log = "ggml_vulkan: Found 1 Vulkan devices:\n\
            ggml_vulkan: 0 = NVIDIA H200 (NVIDIA) | uma: 0 | fp16: 1 | bf16: 1 | fp4: 0 | warp size: 32 | shared memory: 49152 | int dot: 1 | matrix cores: NV_coopmat2\n\
            ggml_vulkan: 0 = NVIDIA H200 (NVIDIA) | uma: 0 | fp16: 1 | bf16: 1 | warp size: 32 | shared memory: 49152 | int dot: 1 | matrix cores: NV_coopmat2\n\
            ggml_vulkan: 0 = AMD Radeon Graphics (RADV GFX1151) (radv) | uma: 1 | fp16: 1 | bf16: 0 | fp4: 0 | warp size: 64 | shared memory: 65536 | int dot: 1 | matrix cores: KHR_coopmat\n\
            llama_model_load_from_file_impl: using device Vulkan0 (NVIDIA H200) (0000:00:06.0) - 142857 MiB free\n\
            load_tensors: offloaded 29/29 layers to GPU\n\
            load_tensors:      Vulkan0 model buffer size =  1918.35 MiB\n\
            load_tensors:  Vulkan_Host model buffer size =   308.23 MiB\n\
            llama_kv_cache:    Vulkan0 KV buffer size =   224.00 MiB\n\
            llama_context:    Vulkan0 compute buffer size =   300.75 MiB\n\
            llama_context: Vulkan_Host compute buffer size =    13.01 MiB\n\
            main: server is listening on http://0.0.0.0:8080\n\
            srv  update_slots: all slots are idle\n";
        assert_eq!(matching_lines(log, 20), (vec![], None));
    }

    #[test]
    fn tail_skips_blank_lines() {
        assert_eq!(tail("a\n\nb\n \nc\n", 2), ["b", "c"]);
        assert!(tail("", 3).is_empty());
    }
}
