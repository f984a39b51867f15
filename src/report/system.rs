//! The report's system section: host, engine, images (with toolchain and devices),
//! models and the wall-time split. A pure function of the manifest.

use std::fmt::Write as _;

use crate::manifest::Manifest;
use crate::render::{Table, Text, markdown};

pub fn section(out: &mut String, m: &Manifest) {
    let _ = writeln!(out, "## System\n");
    for t in tables(m) {
        out.push_str(&markdown::table(&t));
        out.push('\n');
    }
    let _ = writeln!(out, "{}", wall_time(m));
}

/// Per backend: the device its cells were meant for (the Vulkan driver it
/// was given) and those llama.cpp put the model on, from the server logs.
fn devices(m: &Manifest) -> Option<Table> {
    use crate::host::devices::VulkanDriver;
    let mut rows: Vec<Vec<Text>> = Vec::new();
    for b in crate::backend::Backend::ALL {
        let starts: Vec<&crate::manifest::ServerStart> = m
            .cells
            .iter()
            .filter(|c| c.backend == *b)
            .filter_map(|c| c.server.as_ref())
            .collect();
        let Some(first) = starts.first() else {
            continue;
        };
        let meant = match first.passthrough.vulkan_driver {
            Some(VulkanDriver::Nvidia) => "NVIDIA's Vulkan driver",
            Some(VulkanDriver::Mesa) => "Mesa's Vulkan driver on the render nodes",
            Some(VulkanDriver::Software) => "llvmpipe (software: CPU numbers)",
            None if first.passthrough.devices.is_empty() => "the CPU",
            None => "the devices passed",
        };
        let mut used: Vec<String> = starts
            .iter()
            .flat_map(|s| crate::image::probe::named_devices(&s.devices_seen))
            .map(|(name, description)| format!("{name} ({description})"))
            .collect();
        used.sort();
        used.dedup();
        rows.push(vec![
            b.name().into(),
            meant.into(),
            if used.is_empty() {
                "none named (CPU)".into()
            } else {
                used.join("; ").into()
            },
        ]);
    }
    (!rows.is_empty())
        .then(|| Table::new(["backend", "meant for", "llama.cpp put the model on"]).with_rows(rows))
}

/// The host, images and models tables.
pub fn tables(m: &Manifest) -> Vec<Table> {
    let mut out = Vec::new();
    let h = &m.host;
    let gib = |b: u64| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64);
    let mut rows: Vec<Vec<Text>> = vec![
        vec!["OS".into(), h.os.clone().unwrap_or_default().into()],
        vec![
            "kernel".into(),
            h.kernel.release.clone().unwrap_or_default().into(),
        ],
        vec![
            "kernel command line".into(),
            Text::code(h.kernel.cmdline.clone().unwrap_or_default()),
        ],
        vec![
            "CPU".into(),
            format!(
                "{} ({} logical)",
                h.cpu.model.clone().unwrap_or_default(),
                h.cpu.logical_cpus
            )
            .into(),
        ],
        vec![
            "memory".into(),
            h.memory_bytes.map(gib).unwrap_or_default().into(),
        ],
    ];
    for g in &h.gpus {
        rows.push(vec![
            format!("GPU {}", g.card).into(),
            format!(
                "{} {} VRAM {} GTT {}",
                g.pci_id.clone().unwrap_or_default(),
                g.driver.clone().unwrap_or_default(),
                g.vram_total_bytes.map(gib).unwrap_or_else(|| "?".into()),
                g.gtt_total_bytes.map(gib).unwrap_or_else(|| "?".into())
            )
            .into(),
        ]);
    }
    if let Some(e) = &m.engine {
        rows.push(vec![
            "engine".into(),
            format!(
                "{:?} {} (API {}, runtime {})",
                e.kind,
                e.version,
                e.api_version,
                e.runtime.clone().unwrap_or_default()
            )
            .into(),
        ]);
    }
    out.push(Table::new(["host", ""]).with_rows(rows));

    if !m.images.is_empty() {
        let rows = m.images.iter().map(|i| {
            let tc: Vec<String> = ["compiler", "hip_compiler", "mesa", "rocm"]
                .iter()
                .filter_map(|k| i.toolchain.get(*k).map(|v| format!("{k} {v}")))
                .collect();
            let devices: Vec<String> = i
                .devices
                .iter()
                .filter_map(|d| {
                    d.get("deviceName")
                        .or_else(|| d.get("Marketing Name"))
                        .cloned()
                })
                .collect();
            let b = &i.base_image;
            let mut base = Text::plain(format!("{} (", b.reference)).then_code(&b.image_id);
            if let Some(d) = &b.digest {
                base = base.then(", digest ").then_code(d);
            }
            vec![
                format!("{}@{}", i.backend, i.source).into(),
                Text::code(&i.image_id),
                base.then(format!(", {})", b.origin)),
                i.llama_cpp.commit.clone().into(),
                i.llama_cpp.version_line().into(),
                tc.join("; ").into(),
                devices.join("; ").into(),
            ]
        });
        out.push(
            Table::new([
                "image",
                "id",
                "base",
                "llama.cpp commit",
                "llama-server --version",
                "toolchain",
                "devices",
            ])
            .with_rows(rows),
        );
    }
    let notes: Vec<Vec<Text>> = m
        .images
        .iter()
        .flat_map(|i| {
            i.build_notes()
                .into_iter()
                .map(move |n| vec![format!("{}@{}", i.backend, i.source).into(), n.into()])
        })
        .collect();
    if !notes.is_empty() {
        out.push(Table::new(["image", "build note (CMake options)"]).with_rows(notes));
    }
    if let Some(t) = devices(m) {
        out.push(t);
    }
    if !m.models.is_empty() {
        let rows = m.models.iter().map(|x| {
            vec![
                x.name.clone().into(),
                Text::code(&x.sha256),
                x.size_bytes.to_string().into(),
                x.gguf.architecture.clone().unwrap_or_default().into(),
                x.gguf.file_type_name.clone().unwrap_or_default().into(),
                x.gguf.parameter_count.to_string().into(),
            ]
        });
        out.push(
            Table::new([
                "model",
                "sha256",
                "bytes",
                "architecture",
                "type",
                "parameters",
            ])
            .with_rows(rows),
        );
    }
    out
}

/// The wall-time split, one sentence.
pub fn wall_time(m: &Manifest) -> String {
    let t = &m.timing;
    format!(
        "Wall time {:.1} s: fetch {:.1} s, images {:.1} s, model loads {:.1} s, warm-up requests {:.1} s, measured requests {:.1} s, everything else {:.1} s.",
        t.total_s,
        t.fetch_s,
        t.build_s,
        t.model_load_s,
        t.warmup_requests_s,
        t.measured_requests_s,
        t.other_s
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::devices::{Passthrough, VulkanDriver};
    use crate::manifest::{ServerStart, fixtures};

    fn start(driver: Option<VulkanDriver>, seen: &[&str]) -> ServerStart {
        ServerStart {
            container_name: "c".into(),
            host_port: 1,
            forwarded_from: None,
            load_seconds: 1.0,
            log: "logs/x.log".into(),
            props: None,
            passthrough: Passthrough {
                vulkan_driver: driver,
                ..Passthrough::default()
            },
            devices_seen: seen.iter().map(|s| s.to_string()).collect(),
            baseline: None,
            init: true,
        }
    }

    #[test]
    fn each_backend_says_what_it_was_meant_for_and_where_the_model_went() {
        let mut m = fixtures::manifest();
        assert!(devices(&m).is_none(), "no server start, no table");
        let mut cpu = fixtures::cell(31, "default", fixtures::gen_runs(&[10.0]), None);
        cpu.server = Some(start(None, &["system_info: n_threads = 2"]));
        let mut vk = cpu.clone();
        vk.backend = crate::backend::Backend::Vulkan;
        vk.server = Some(start(
            Some(VulkanDriver::Nvidia),
            &[
                "llama_model_load_from_file_impl: using device Vulkan0 (NVIDIA H200) (0000:00:06.0) - 142857 MiB free",
            ],
        ));
        let mut vk2 = vk.clone();
        vk2.prompt_tokens = 461;
        m.cells = vec![cpu, vk, vk2];
        let t = markdown::table(&devices(&m).unwrap());
        // Cells as words, without the padding.
        let t: String = t
            .lines()
            .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>().join(" | "))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(t.contains(" | cpu | the CPU | none named (CPU) | "), "{t}");
        assert!(
            t.contains(" | vulkan | NVIDIA's Vulkan driver | Vulkan0 (NVIDIA H200) | "),
            "one line for both starts: {t}"
        );
    }
}
