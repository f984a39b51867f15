//! Whether a healthy server runs on the device its cell was meant for. A
//! vulkan cell meant for a GPU (NVIDIA's driver, or Mesa's on a render node)
//! whose llama.cpp model went to llvmpipe, lavapipe, a CPU-type Vulkan device,
//! another vendor's device or no device at all fails, with the server log's
//! lines as evidence: its numbers would be another device's under the GPU's
//! name. A cell meant for the software driver is what the test suite runs on
//! purpose. Pure functions over the log text.

use crate::host::devices::VulkanDriver;

/// The devices llama.cpp put the model on, from its
/// `llama_model_load_from_file_impl: using device Vulkan0 (NVIDIA H200) (…) - N MiB free`
/// lines: (name, description).
pub fn used_devices(log: &str) -> Vec<(String, String)> {
    log.lines()
        .filter_map(|l| {
            let rest = l.split_once(": using device ")?.1;
            let (name, rest) = rest.split_once(" (")?;
            // The description may hold parentheses ("llvmpipe (LLVM 19.1.7,
            // 256 bits)"): it ends where ") (" begins the device id.
            let end = rest.find(") (").or_else(|| rest.rfind(')'))?;
            Some((name.to_string(), rest[..end].to_string()))
        })
        .collect()
}

/// Descriptions of Vulkan devices that are the CPU under a Vulkan name.
const SOFTWARE: &[&str] = &["llvmpipe", "lavapipe", "SwiftShader"];

/// Why the server is not on the GPU its cell was meant for, or `None` when it
/// is (or when no GPU was meant).
pub fn off_device(driver: Option<VulkanDriver>, log: &str) -> Option<String> {
    let driver = driver.filter(|d| d.is_gpu())?;
    let used = used_devices(log);
    let vulkan: Vec<&(String, String)> = used
        .iter()
        .filter(|(n, _)| n.starts_with("Vulkan"))
        .collect();
    if vulkan.is_empty() {
        return Some(format!(
            "meant for {driver}'s Vulkan driver on a GPU, but llama.cpp put the model on no Vulkan device{}",
            if used.is_empty() {
                " (it runs on the CPU)".to_string()
            } else {
                format!(
                    " (it used {})",
                    used.iter()
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

/// The lines that show which device a server used, for a failure's evidence.
pub fn evidence(log: &str) -> Vec<String> {
    log.lines()
        .map(str::trim)
        .filter(|l| {
            l.contains(": using device ")
                || (l.starts_with("ggml_vulkan:") && (l.contains(" = ") || l.contains("Found")))
                || l.contains("Device type is CPU")
                || l.contains("no usable GPU found")
        })
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H200: &str = "ggml_vulkan: Found 1 Vulkan devices:\n\
        ggml_vulkan: 0 = NVIDIA H200 (NVIDIA) | uma: 0 | fp16: 1 | bf16: 1 | warp size: 32 | shared memory: 49152 | int dot: 1 | matrix cores: NV_coopmat2\n\
        main: loading model\n\
        llama_model_load_from_file_impl: using device Vulkan0 (NVIDIA H200) (0000:00:06.0) - 142857 MiB free\n";
    const LLVMPIPE: &str = "ggml_vulkan: Found 1 Vulkan devices:\n\
        ggml_vulkan: 0 = llvmpipe (LLVM 19.1.7, 256 bits) (llvmpipe) | uma: 0 | fp16: 1 | bf16: 0 | warp size: 8 | shared memory: 32768 | int dot: 0 | matrix cores: none\n\
        llama_model_load_from_file_impl: using device Vulkan0 (llvmpipe (LLVM 19.1.7, 256 bits)) (unknown id) - 23540 MiB free\n";
    const NONE: &str =
        "main: loading model\nload_tensors: CPU_Mapped model buffer size = 241.41 MiB\n";

    #[test]
    fn the_used_device_is_read_with_parentheses_in_its_description() {
        assert_eq!(
            used_devices(H200),
            [("Vulkan0".to_string(), "NVIDIA H200".to_string())]
        );
        assert_eq!(
            used_devices(LLVMPIPE),
            [(
                "Vulkan0".to_string(),
                "llvmpipe (LLVM 19.1.7, 256 bits)".to_string()
            )]
        );
        assert!(used_devices(NONE).is_empty());
    }

    #[test]
    fn a_gpu_cell_on_its_gpu_passes() {
        assert_eq!(off_device(Some(VulkanDriver::Nvidia), H200), None);
        assert_eq!(off_device(Some(VulkanDriver::Mesa), H200), None);
    }

    #[test]
    fn a_gpu_cell_on_llvmpipe_or_the_cpu_fails_and_says_why() {
        let why = off_device(Some(VulkanDriver::Nvidia), LLVMPIPE).unwrap();
        assert!(
            why.contains("is llvmpipe, the CPU under a Vulkan name"),
            "{why}"
        );
        let why = off_device(Some(VulkanDriver::Mesa), NONE).unwrap();
        assert!(
            why.contains("on no Vulkan device (it runs on the CPU)"),
            "{why}"
        );
        let radv = "llama_model_load_from_file_impl: using device Vulkan0 (AMD Radeon Graphics (RADV GFX1151)) (0000:c5:00.0) - 98304 MiB free\n";
        assert_eq!(off_device(Some(VulkanDriver::Mesa), radv), None);
        let why = off_device(Some(VulkanDriver::Nvidia), radv).unwrap();
        assert!(
            why.contains("NVIDIA's Vulkan driver, but llama.cpp's Vulkan0 is AMD Radeon Graphics (RADV GFX1151)"),
            "{why}"
        );
    }

    #[test]
    fn software_and_other_backends_are_not_checked() {
        assert_eq!(off_device(Some(VulkanDriver::Software), LLVMPIPE), None);
        assert_eq!(off_device(None, NONE), None);
    }

    #[test]
    fn the_evidence_is_the_device_lines() {
        assert_eq!(
            evidence(LLVMPIPE),
            [
                "ggml_vulkan: Found 1 Vulkan devices:",
                "ggml_vulkan: 0 = llvmpipe (LLVM 19.1.7, 256 bits) (llvmpipe) | uma: 0 | fp16: 1 | bf16: 0 | warp size: 8 | shared memory: 32768 | int dot: 0 | matrix cores: none",
                "llama_model_load_from_file_impl: using device Vulkan0 (llvmpipe (LLVM 19.1.7, 256 bits)) (unknown id) - 23540 MiB free",
            ]
        );
    }
}
