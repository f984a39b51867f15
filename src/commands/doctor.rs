//! `rigbench doctor` (first version): the container engine (reachable, version,
//! runtime), the base images, pip for PyPI sources, the cache, and the host facts
//! the manifest records. Ends with what is missing and how to fix it.

use std::path::Path;
use std::process::ExitCode;

use super::Globals;
use crate::engine::{Engine, connect};
use crate::image::base::{LOCAL_DEBIAN, PINNED_DEBIAN};

pub async fn doctor(g: &Globals) -> anyhow::Result<ExitCode> {
    let mut missing: Vec<String> = Vec::new();
    let h = crate::host::probe(Path::new("/"));
    println!("host");
    println!("  os:        {}", h.os.as_deref().unwrap_or("?"));
    println!(
        "  kernel:    {}",
        h.kernel.release.as_deref().unwrap_or("?")
    );
    println!(
        "  cmdline:   {}",
        h.kernel.cmdline.as_deref().unwrap_or("?")
    );
    println!(
        "  cpu:       {} ({} logical; {})",
        h.cpu.model.as_deref().unwrap_or("?"),
        h.cpu.logical_cpus,
        h.cpu.flags.join(" ")
    );
    println!(
        "  memory:    {:.1} GiB",
        h.memory_bytes.unwrap_or(0) as f64 / (1u64 << 30) as f64
    );
    if h.gpus.is_empty() {
        println!("  gpus:      none (the CPU backend runs anyway)");
    }
    for gpu in &h.gpus {
        println!(
            "  gpu {}: {} driver {} VRAM {} GTT {}",
            gpu.card,
            gpu.pci_id.as_deref().unwrap_or("?"),
            gpu.driver.as_deref().unwrap_or("?"),
            gpu.vram_total_bytes.map_or("?".into(), |b| b.to_string()),
            gpu.gtt_total_bytes.map_or("?".into(), |b| b.to_string())
        );
    }

    println!("engine");
    match connect(g.socket.as_deref()).await {
        Ok(c) => {
            let info = c.client.info().await?;
            println!(
                "  {:?} {} at {}{}",
                info.kind,
                info.version,
                info.socket,
                if info.service_started_by_rigbench {
                    " (API service started by rigbench for this command)"
                } else {
                    ""
                }
            );
            println!(
                "  API {}, runtime {}, cgroups {}",
                info.api_version,
                info.runtime.as_deref().unwrap_or("?"),
                info.cgroup_version.as_deref().unwrap_or("?")
            );
            let pinned = c.client.image(PINNED_DEBIAN).await?;
            let local = c.client.image(LOCAL_DEBIAN).await?;
            for (name, img) in [(PINNED_DEBIAN, &pinned), (LOCAL_DEBIAN, &local)] {
                println!(
                    "  base {name}: {}",
                    img.as_ref().map_or("absent".to_string(), |i| i.id.clone())
                );
            }
            if pinned.is_none() && local.is_none() {
                missing.push(
                    "no base image: run scripts/setup.sh (it pulls the pinned one or builds the local one)"
                        .to_string(),
                );
            }
        }
        Err(e) => {
            println!("  unreachable");
            missing.push(e.to_string());
        }
    }

    println!("tools");
    let pip = std::process::Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output();
    match pip {
        Ok(o) if o.status.success() => {
            println!("  pip:       {}", String::from_utf8_lossy(&o.stdout).trim());
        }
        _ => {
            println!("  pip:       absent");
            missing.push(
                "pip (python3 -m pip) is needed for PyPI sources such as the default model: install python3-pip"
                    .to_string(),
            );
        }
    }
    println!("cache");
    println!("  {}", g.cache.root().display());

    if missing.is_empty() {
        println!("\nready");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\nmissing:");
        for m in &missing {
            println!("  - {}", m.replace('\n', "\n    "));
        }
        Ok(ExitCode::FAILURE)
    }
}
