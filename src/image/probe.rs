//! Reading the GPU devices an image sees, from the tools the images ship
//! (`backend::DeviceTool`, which `Backend::device_tool` chooses):
//! `vulkaninfo --summary` and `rocminfo`. Each tool's command and a pure parser
//! of its text; `image::ensure` runs the tools in a container with the
//! backend's devices. A backend without such a tool (the CUDA image starts
//! from scratch) has llama.cpp's own `--list-devices` name its GPUs, read
//! here too (`DeviceList`, and `named_devices`, which the runner's device check
//! and the report's system section share).

use std::collections::BTreeMap;

use crate::backend::DeviceTool;

/// The command (entrypoint and arguments) that runs a device tool.
pub fn command(tool: DeviceTool) -> (Vec<String>, Vec<String>) {
    match tool {
        DeviceTool::VulkaninfoSummary => (vec!["vulkaninfo".into()], vec!["--summary".into()]),
        DeviceTool::Rocminfo => (vec!["rocminfo".into()], vec![]),
    }
}

/// Devices in a device tool's output, each as the fields that identify it.
pub fn parse(tool: DeviceTool, text: &str) -> Vec<BTreeMap<String, String>> {
    match tool {
        DeviceTool::VulkaninfoSummary => vulkaninfo_summary(text),
        DeviceTool::Rocminfo => rocminfo_gpus(text),
    }
}

/// The devices in `llama-server --list-devices` output ("Vulkan0: llvmpipe …").
pub fn list_devices(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.starts_with("Available devices:"))
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "(none)")
        .map(str::to_string)
        .collect()
}

/// What `llama-server --list-devices` said: the devices, and the Vulkan
/// loader's errors where it printed any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceList {
    /// The devices, as printed (`list_devices`).
    pub devices: Vec<String>,
    /// The Vulkan loader's errors and warnings, each once (`loader_errors`).
    pub loader: Vec<String>,
}

impl DeviceList {
    pub fn parse(text: &str) -> DeviceList {
        DeviceList {
            devices: list_devices(text),
            loader: loader_errors(text),
        }
    }
}

/// (name, description) of each device in `lines`: `--list-devices` lines
/// (`Vulkan0: NVIDIA H200 (143155 MiB, 142629 MiB free)`) or, in a verbose
/// server log, `llama_model_load_from_file_impl: using device Vulkan0 (NVIDIA
/// H200) (0000:00:06.0) - 142629 MiB free`.
pub fn named_devices(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let l = l.trim();
            if let Some((_, rest)) = l.split_once(": using device ") {
                let (name, rest) = rest.split_once(" (")?;
                // The description may hold parentheses ("llvmpipe (LLVM
                // 19.1.7, 256 bits)"): it ends where ") (" begins the id.
                let end = rest.find(") (").or_else(|| rest.rfind(')'))?;
                return Some((name.to_string(), rest[..end].to_string()));
            }
            let (name, rest) = l.split_once(": ")?;
            // A device's name: a backend's and its index (`Vulkan0`, `CUDA1`).
            let is_device = name.ends_with(|c: char| c.is_ascii_digit())
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric());
            if !is_device {
                return None;
            }
            let description = match rest.rfind(" (") {
                Some(i) if rest[i..].contains("MiB") => &rest[..i],
                _ => rest,
            };
            Some((name.to_string(), description.to_string()))
        })
        .collect()
}

/// The Vulkan loader's errors and warnings in a program's output (printed
/// where `VK_LOADER_DEBUG` asks for them, as the NVIDIA passthrough does),
/// each once, without the loader's padding: why a driver gave no device.
pub fn loader_errors(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in text.lines() {
        let Some(rest) = l.trim().strip_prefix("[Vulkan Loader]") else {
            continue;
        };
        let Some((level, message)) = rest.split_once(':') else {
            continue;
        };
        if !(level.contains("ERROR") || level.contains("WARNING")) {
            continue;
        }
        let line = format!(
            "Vulkan loader {}: {}",
            level.trim(),
            message.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        if !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

const VULKAN_KEYS: &[&str] = &[
    "deviceName",
    "deviceType",
    "driverName",
    "driverInfo",
    "driverID",
    "apiVersion",
    "conformanceVersion",
    "vendorID",
    "deviceID",
];

/// `vulkaninfo --summary`: one map per `GPUn:` section.
pub fn vulkaninfo_summary(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut out: Vec<BTreeMap<String, String>> = Vec::new();
    let mut in_devices = false;
    for line in text.lines() {
        let t = line.trim();
        if t == "Devices:" {
            in_devices = true;
            continue;
        }
        if !in_devices {
            continue;
        }
        if t.starts_with("GPU") && t.ends_with(':') {
            out.push(BTreeMap::new());
            continue;
        }
        if let (Some(dev), Some((k, v))) = (out.last_mut(), t.split_once('=')) {
            let k = k.trim();
            if VULKAN_KEYS.contains(&k) {
                dev.insert(k.to_string(), v.trim().to_string());
            }
        }
    }
    out
}

const ROCM_KEYS: &[&str] = &[
    "Name",
    "Marketing Name",
    "Vendor Name",
    "Compute Unit",
    "Chip ID",
];

/// `rocminfo`: one map per agent whose `Device Type` is GPU.
pub fn rocminfo_gpus(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut agents: Vec<BTreeMap<String, String>> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("Agent ") && t[6..].chars().all(|c| c.is_ascii_digit()) {
            agents.push(BTreeMap::new());
            continue;
        }
        let (Some(agent), Some((k, v))) = (agents.last_mut(), t.split_once(':')) else {
            continue;
        };
        let k = k.trim();
        // Only the agent's own header fields, not the pool/ISA subsections'.
        if (ROCM_KEYS.contains(&k) || k == "Device Type") && !agent.contains_key(k) {
            agent.insert(k.to_string(), v.trim().to_string());
        }
    }
    agents
        .into_iter()
        .filter(|a| a.get("Device Type").map(String::as_str) == Some("GPU"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VULKANINFO: &str = "==========\nVULKANINFO\n==========\n\nVulkan Instance Version: 1.4.309\n\n\nInstance Extensions: count = 24\n-------------------------------\nVK_EXT_debug_report : extension revision 10\n\nDevices:\n========\nGPU0:\n\tapiVersion         = 1.4.305\n\tdriverVersion      = 25.0.7\n\tvendorID           = 0x10005\n\tdeviceID           = 0x0000\n\tdeviceType         = PHYSICAL_DEVICE_TYPE_CPU\n\tdeviceName         = llvmpipe (LLVM 19.1.7, 256 bits)\n\tdriverID           = DRIVER_ID_MESA_LLVMPIPE\n\tdriverName         = llvmpipe\n\tdriverInfo         = Mesa 25.0.7-2 (LLVM 19.1.7)\n\tconformanceVersion = 1.3.1.1\n";

    #[test]
    fn vulkaninfo_summary_devices() {
        let d = vulkaninfo_summary(VULKANINFO);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0]["deviceName"], "llvmpipe (LLVM 19.1.7, 256 bits)");
        assert_eq!(d[0]["driverName"], "llvmpipe");
        assert_eq!(d[0]["driverInfo"], "Mesa 25.0.7-2 (LLVM 19.1.7)");
        assert_eq!(d[0]["deviceType"], "PHYSICAL_DEVICE_TYPE_CPU");
        assert!(!d[0].contains_key("driverVersion"));
    }

    const ROCMINFO: &str = "ROCk module is loaded\n=====================\nHSA Agents\n==========\n*******\nAgent 1\n*******\n  Name:                    AMD RYZEN AI MAX+ 395 w/ Radeon 8060S\n  Marketing Name:          AMD RYZEN AI MAX+ 395 w/ Radeon 8060S\n  Vendor Name:             CPU\n  Device Type:             CPU\n*******\nAgent 2\n*******\n  Name:                    gfx1151\n  Uuid:                    GPU-XX\n  Marketing Name:          AMD Radeon Graphics\n  Vendor Name:             AMD\n  Device Type:             GPU\n  Chip ID:                 5510(0x1586)\n  Compute Unit:            40\n  ISA Info:\n    ISA 1\n      Name:                    amdgcn-amd-amdhsa--gfx1151\n";

    #[test]
    fn llama_list_devices() {
        let out = "ggml_vulkan: Warning: Device type is CPU.\nAvailable devices:\n  Vulkan0: llvmpipe (LLVM 19.1.7, 256 bits) (24105 MiB, 23540 MiB free)\n";
        assert_eq!(
            list_devices(out),
            ["Vulkan0: llvmpipe (LLVM 19.1.7, 256 bits) (24105 MiB, 23540 MiB free)"]
        );
        assert!(list_devices("Available devices:\n  (none)\n").is_empty());
    }

    #[test]
    fn the_loaders_errors_once_each() {
        // As the loader printed them in the vulkan image on the H100 when
        // NVIDIA's EGL part was not passed (VK_LOADER_DEBUG=error,warn,driver).
        let out = "[Vulkan Loader] DRIVER:         Found ICD manifest file /etc/rigbench/vulkan/nvidia_icd.json, version 1.0.1\n\
[Vulkan Loader] DEBUG | DRIVER: Searching for ICD drivers named libGLX_nvidia.so.0\n\
[Vulkan Loader] ERROR:          loader_scanned_icd_add: Could not get 'vkCreateInstance' via 'vk_icdGetInstanceProcAddr' for ICD libGLX_nvidia.so.0\n\
[Vulkan Loader] ERROR:          loader_scanned_icd_add: Could not get 'vkCreateInstance' via 'vk_icdGetInstanceProcAddr' for ICD libGLX_nvidia.so.0\n\
[Vulkan Loader] ERROR | DRIVER: vkCreateInstance: Found no drivers!\n\
Available devices:\n  (none)\n";
        assert_eq!(
            loader_errors(out),
            [
                "Vulkan loader ERROR: loader_scanned_icd_add: Could not get 'vkCreateInstance' via 'vk_icdGetInstanceProcAddr' for ICD libGLX_nvidia.so.0",
                "Vulkan loader ERROR | DRIVER: vkCreateInstance: Found no drivers!",
            ]
        );
        assert!(list_devices(out).is_empty());
        assert!(
            loader_errors(
                "Available devices:\n  Vulkan0: NVIDIA H100 80GB HBM3 (81559 MiB, 81062 MiB free)\n"
            )
            .is_empty()
        );
    }

    #[test]
    fn rocminfo_gpu_agents_only() {
        let g = rocminfo_gpus(ROCMINFO);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0]["Name"], "gfx1151");
        assert_eq!(g[0]["Marketing Name"], "AMD Radeon Graphics");
        assert_eq!(g[0]["Compute Unit"], "40");
    }
}
