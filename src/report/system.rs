//! The report's system section: host, engine, images (with toolchain and devices),
//! models and the wall-time split. A pure function of the manifest.

use std::fmt::Write as _;

use super::markdown::table;
use crate::manifest::Manifest;

/// A table: header and rows (cells may hold `code` spans).
pub type Rows = (Vec<String>, Vec<Vec<String>>);

pub fn section(out: &mut String, m: &Manifest) {
    let _ = writeln!(out, "## System\n");
    for (header, rows) in tables(m) {
        out.push_str(&table(header, rows));
        out.push('\n');
    }
    let _ = writeln!(out, "{}", wall_time(m));
}

/// The host, images and models tables.
pub fn tables(m: &Manifest) -> Vec<Rows> {
    let mut out = Vec::new();
    let h = &m.host;
    let gib = |b: u64| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64);
    let mut rows = vec![
        vec!["OS".to_string(), h.os.clone().unwrap_or_default()],
        vec![
            "kernel".to_string(),
            h.kernel.release.clone().unwrap_or_default(),
        ],
        vec![
            "kernel command line".to_string(),
            format!("`{}`", h.kernel.cmdline.clone().unwrap_or_default()),
        ],
        vec![
            "CPU".to_string(),
            format!(
                "{} ({} logical)",
                h.cpu.model.clone().unwrap_or_default(),
                h.cpu.logical_cpus
            ),
        ],
        vec![
            "memory".to_string(),
            h.memory_bytes.map(gib).unwrap_or_default(),
        ],
    ];
    for g in &h.gpus {
        rows.push(vec![
            format!("GPU {}", g.card),
            format!(
                "{} {} VRAM {} GTT {}",
                g.pci_id.clone().unwrap_or_default(),
                g.driver.clone().unwrap_or_default(),
                g.vram_total_bytes.map(gib).unwrap_or_else(|| "?".into()),
                g.gtt_total_bytes.map(gib).unwrap_or_else(|| "?".into())
            ),
        ]);
    }
    if let Some(e) = &m.engine {
        rows.push(vec![
            "engine".to_string(),
            format!(
                "{:?} {} (API {}, runtime {})",
                e.kind,
                e.version,
                e.api_version,
                e.runtime.clone().unwrap_or_default()
            ),
        ]);
    }
    out.push((vec!["host".into(), "".into()], rows));

    if !m.images.is_empty() {
        let rows = m
            .images
            .iter()
            .map(|i| {
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
                vec![
                    format!("{}@{}", i.backend, i.source),
                    format!("`{}`", i.image_id),
                    format!(
                        "{} (`{}`{}, {})",
                        i.base_image.reference,
                        i.base_image.image_id,
                        i.base_image
                            .digest
                            .as_ref()
                            .map(|d| format!(", digest `{d}`"))
                            .unwrap_or_default(),
                        i.base_image.origin
                    ),
                    i.llama_cpp.commit.clone(),
                    i.llama_cpp.version_line().to_string(),
                    tc.join("; "),
                    devices.join("; "),
                ]
            })
            .collect();
        out.push((
            vec![
                "image".into(),
                "id".into(),
                "base".into(),
                "llama.cpp commit".into(),
                "llama-server --version".into(),
                "toolchain".into(),
                "devices".into(),
            ],
            rows,
        ));
    }
    if !m.models.is_empty() {
        let rows = m
            .models
            .iter()
            .map(|x| {
                vec![
                    x.name.clone(),
                    format!("`{}`", x.sha256),
                    x.size_bytes.to_string(),
                    x.gguf.architecture.clone().unwrap_or_default(),
                    x.gguf.file_type_name.clone().unwrap_or_default(),
                    x.gguf.parameter_count.to_string(),
                ]
            })
            .collect();
        out.push((
            vec![
                "model".into(),
                "sha256".into(),
                "bytes".into(),
                "architecture".into(),
                "type".into(),
                "parameters".into(),
            ],
            rows,
        ));
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
