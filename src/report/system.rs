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
