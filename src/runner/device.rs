//! Whether a server runs on the device its cell was meant for. llama-server
//! says nothing of its devices at its default verbosity, so the runner asks
//! the same image, with the same devices and environment, which devices
//! llama.cpp sees (`llama-server --list-devices`): the server puts the model on
//! those. A vulkan cell meant for a GPU (NVIDIA's driver, or Mesa's on a
//! render node) whose devices are llvmpipe, lavapipe, another vendor's device
//! or none fails before its server starts, with the listed devices as
//! evidence: its numbers would be another device's under the GPU's name. A
//! cell meant for the software driver is what the test suite runs on purpose.
//! llama-bench names its devices in its results (`gpu_info`). Pure functions.

use crate::host::devices::VulkanDriver;

/// Descriptions of Vulkan devices that are the CPU under a Vulkan name.
const SOFTWARE: &[&str] = &["llvmpipe", "lavapipe", "SwiftShader"];

/// Why the server would not run on the GPU its cell was meant for, given
/// the devices llama.cpp lists (`image::probe::named_devices`), or `None` when it would (or when
/// no GPU was meant).
pub fn off_device(driver: Option<VulkanDriver>, listed: &[(String, String)]) -> Option<String> {
    let driver = driver.filter(|d| d.is_gpu())?;
    let vulkan: Vec<&(String, String)> = listed
        .iter()
        .filter(|(n, _)| n.starts_with("Vulkan"))
        .collect();
    if vulkan.is_empty() {
        return Some(format!(
            "meant for {driver}'s Vulkan driver on a GPU, but llama.cpp sees no Vulkan device{}",
            if listed.is_empty() {
                " (it would run on the CPU)".to_string()
            } else {
                format!(
                    " (only {})",
                    listed
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    for (name, description) in vulkan {
        if let Some(s) = SOFTWARE.iter().find(|s| description.contains(**s)) {
            return Some(format!(
                "meant for {driver}'s Vulkan driver on a GPU, but llama.cpp's {name} is {s}, the CPU under a Vulkan name ({description})"
            ));
        }
        if driver == VulkanDriver::Nvidia && !description.contains("NVIDIA") {
            return Some(format!(
                "meant for NVIDIA's Vulkan driver, but llama.cpp's {name} is {description}"
            ));
        }
    }
    None
}

/// The same for llama-bench, which keeps llama.cpp's log to itself: each of
/// its results names the device in `gpu_info` ("NVIDIA H200", "llvmpipe
/// (LLVM 19.1.7, 256 bits)", empty on the CPU).
pub fn off_device_bench(
    driver: Option<VulkanDriver>,
    results: &[serde_json::Value],
) -> Option<String> {
    let driver = driver.filter(|d| d.is_gpu())?;
    for r in results {
        let gpu = r.get("gpu_info").and_then(|g| g.as_str()).unwrap_or("");
        let test = r
            .get("n_gen")
            .map_or(String::new(), |n| format!(" (n_gen {n})"));
        if gpu.is_empty() {
            return Some(format!(
                "meant for {driver}'s Vulkan driver on a GPU, but llama-bench{test} names no GPU (it ran on the CPU)"
            ));
        }
        if let Some(s) = SOFTWARE.iter().find(|s| gpu.contains(**s)) {
            return Some(format!(
                "meant for {driver}'s Vulkan driver on a GPU, but llama-bench{test} ran on {s}, the CPU under a Vulkan name ({gpu})"
            ));
        }
        if driver == VulkanDriver::Nvidia && !gpu.contains("NVIDIA") {
            return Some(format!(
                "meant for NVIDIA's Vulkan driver, but llama-bench{test} ran on {gpu}"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::probe::named_devices;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const H200: &str = "Vulkan0: NVIDIA H200 (143155 MiB, 142629 MiB free)";
    const LLVMPIPE: &str = "Vulkan0: llvmpipe (LLVM 19.1.7, 256 bits) (24105 MiB, 23540 MiB free)";
    const RADV: &str = "Vulkan0: AMD Radeon Graphics (RADV GFX1151) (98304 MiB, 97000 MiB free)";

    fn on(line: &str) -> Vec<(String, String)> {
        named_devices(&lines(&[line]))
    }

    #[test]
    fn devices_are_read_with_parentheses_in_their_description() {
        assert_eq!(on(H200), [("Vulkan0".into(), "NVIDIA H200".into())]);
        assert_eq!(
            on(LLVMPIPE),
            [("Vulkan0".into(), "llvmpipe (LLVM 19.1.7, 256 bits)".into())]
        );
        assert_eq!(
            on(
                "llama_model_load_from_file_impl: using device Vulkan0 (llvmpipe (LLVM 19.1.7, 256 bits)) (unknown id) - 23540 MiB free"
            ),
            [("Vulkan0".into(), "llvmpipe (LLVM 19.1.7, 256 bits)".into())]
        );
        assert_eq!(
            on(
                "llama_model_load_from_file_impl: using device CUDA0 (NVIDIA H200) (0000:00:06.0) - 142629 MiB free"
            ),
            [("CUDA0".into(), "NVIDIA H200".into())]
        );
        assert!(
            named_devices(&lines(&[
                "system_info: n_threads = 2 | CPU : AVX2 = 1",
                "warning: no usable GPU found, --gpu-layers option will be ignored",
            ]))
            .is_empty()
        );
    }

    #[test]
    fn a_gpu_cell_on_its_gpu_passes() {
        assert_eq!(off_device(Some(VulkanDriver::Nvidia), &on(H200)), None);
        assert_eq!(off_device(Some(VulkanDriver::Mesa), &on(RADV)), None);
    }

    #[test]
    fn a_gpu_cell_on_llvmpipe_or_the_cpu_fails_and_says_why() {
        let why = off_device(Some(VulkanDriver::Nvidia), &on(LLVMPIPE)).unwrap();
        assert!(
            why.contains("is llvmpipe, the CPU under a Vulkan name"),
            "{why}"
        );
        let why = off_device(Some(VulkanDriver::Mesa), &[]).unwrap();
        assert!(
            why.contains("sees no Vulkan device (it would run on the CPU)"),
            "{why}"
        );
        let why = off_device(Some(VulkanDriver::Nvidia), &on(RADV)).unwrap();
        assert!(
            why.contains("NVIDIA's Vulkan driver, but llama.cpp's Vulkan0 is AMD Radeon Graphics (RADV GFX1151)"),
            "{why}"
        );
    }

    #[test]
    fn software_and_other_backends_are_not_checked() {
        assert_eq!(
            off_device(Some(VulkanDriver::Software), &on(LLVMPIPE)),
            None
        );
        assert_eq!(off_device(None, &[]), None);
    }

    #[test]
    fn llama_bench_results_name_their_device() {
        let r =
            |gpu: &str| serde_json::json!({"gpu_info": gpu, "n_gen": 128, "backends": "Vulkan"});
        let nvidia = Some(VulkanDriver::Nvidia);
        assert_eq!(off_device_bench(nvidia, &[r("NVIDIA H200")]), None);
        let why = off_device_bench(
            nvidia,
            &[r("NVIDIA H200"), r("llvmpipe (LLVM 19.1.7, 256 bits)")],
        )
        .unwrap();
        assert!(
            why.contains("llama-bench (n_gen 128) ran on llvmpipe"),
            "{why}"
        );
        let why = off_device_bench(Some(VulkanDriver::Mesa), &[r("")]).unwrap();
        assert!(why.contains("names no GPU (it ran on the CPU)"), "{why}");
        assert!(off_device_bench(nvidia, &[r("AMD Radeon Graphics (RADV GFX1151)")]).is_some());
        assert_eq!(
            off_device_bench(
                Some(VulkanDriver::Software),
                &[r("llvmpipe (LLVM 19.1.7, 256 bits)")]
            ),
            None
        );
    }
}
