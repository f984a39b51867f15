//! `rigbench doctor`: the host and its GPUs (with the known traps), what each
//! backend would get from the host, the container engine (reachable, version,
//! runtime, base images), pip for PyPI sources, and the cache. Ends with what is
//! missing and how to fix it; exits non-zero when something needed is missing.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::ExitCode;

use super::Globals;
use crate::backend::Backend;
use crate::engine::{Engine, connect};
use crate::host::diagnose::{Context, Level, diagnose};
use crate::host::{HostFacts, devices};

const GIB: f64 = (1u64 << 30) as f64;

fn gib(b: Option<u64>) -> String {
    b.map_or("?".to_string(), |b| format!("{:.1} GiB", b as f64 / GIB))
}

fn print_host(h: &HostFacts) {
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
    println!("  memory:    {}", gib(h.memory_bytes));
    for (k, v) in &h.module_params {
        println!("  {k} = {v}");
    }
    for g in &h.gpus {
        println!(
            "gpu {}: {} {} driver {} render {} VRAM {} GTT {}",
            g.card,
            g.pci_id.as_deref().unwrap_or("?"),
            g.gfx_target.as_deref().unwrap_or("(no KFD target)"),
            g.driver.as_deref().unwrap_or("?"),
            g.render_node.as_deref().unwrap_or("none"),
            gib(g.vram_total_bytes),
            gib(g.gtt_total_bytes)
        );
        if let Some(v) = &g.vbios_version {
            println!("  vbios {v}");
        }
        if !g.firmware.is_empty() {
            let fw: Vec<String> = g.firmware.iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!("  firmware {}", fw.join(", "));
        }
    }
    if let Some(n) = &h.nvidia {
        println!(
            "nvidia driver {} (CUDA {}), device nodes: {}",
            n.driver_version.as_deref().unwrap_or("?"),
            n.cuda_version.as_deref().unwrap_or("? (NVML not read)"),
            if n.device_nodes.is_empty() {
                "none".to_string()
            } else {
                n.device_nodes.join(" ")
            }
        );
        for g in &n.gpus {
            println!(
                "gpu nvidia{}: {} compute capability {} memory {} bus {} ({})",
                g.index,
                g.name,
                g.compute_capability.as_deref().unwrap_or("?"),
                gib(g.memory_total_bytes),
                g.pci_bus_id.as_deref().unwrap_or("?"),
                g.source
            );
        }
        match &n.cdi_spec {
            Some(f) => println!("  CDI spec for nvidia.com/gpu: {f}"),
            None => println!(
                "  no CDI spec for nvidia.com/gpu (/etc/cdi, /var/run/cdi): rigbench passes the device nodes and the driver's libraries itself; to make one: nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"
            ),
        }
    }
}

/// For the cuda backend: the architectures its image would be built for here.
fn cuda_arch_note(b: Backend, h: &HostFacts) -> Option<String> {
    if b != Backend::Cuda {
        return None;
    }
    let caps: Vec<String> = h
        .nvidia
        .iter()
        .flat_map(|n| n.gpus.iter().filter_map(|g| g.compute_capability.clone()))
        .collect();
    Some(match crate::backend::cuda_architectures(&caps) {
        Some(a) => format!("image built for CUDA architectures {a} (this host's GPUs)"),
        None => format!(
            "image built for CUDA architectures {} (the GPUs' compute capability is unknown)",
            crate::backend::CUDA_ARCHITECTURES_FALLBACK
        ),
    })
}

/// Group name of `gid` from `root`/etc/group.
fn group_name(root: &Path, gid: u32) -> Option<String> {
    let text = std::fs::read_to_string(root.join("etc/group")).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _ = f.next();
        (f.next()?.parse::<u32>().ok()? == gid).then(|| name.to_string())
    })
}

fn context(root: &Path, models: Vec<(String, u64)>) -> Context {
    let render = devices::render_nodes(root);
    let mut nodes = render.clone();
    if devices::has_kfd(root) {
        nodes.insert(0, "/dev/kfd".to_string());
    }
    let device_groups = nodes
        .iter()
        .filter_map(|d| {
            let gid = std::fs::metadata(root.join(d.trim_start_matches('/')))
                .ok()?
                .gid();
            (gid != 0).then(|| (d.clone(), gid, group_name(root, gid)))
        })
        .collect();
    let mut user_groups: Vec<u32> = rustix::process::getgroups()
        .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default();
    user_groups.push(rustix::process::getgid().as_raw());
    Context {
        has_kfd: devices::has_kfd(root),
        render_nodes: render,
        device_groups,
        user_groups,
        is_root: rustix::process::getuid().is_root(),
        models,
    }
}

pub async fn doctor(g: &Globals, root: &Path) -> anyhow::Result<ExitCode> {
    let mut missing: Vec<String> = Vec::new();
    let h = crate::host::probe(root);
    print_host(&h);

    let plan = crate::plan::builtin_for(
        h.cpu.logical_cpus.max(1),
        &devices::available_backends(root),
    )?;
    let models = plan
        .models
        .iter()
        .filter_map(|m| Some((m.name.clone(), m.size_bytes?)))
        .collect();
    println!("backends on this host");
    let env = |k: &str| std::env::var(k).ok();
    for b in Backend::ALL {
        match devices::passthrough(*b, root, &env) {
            Ok(p) => {
                let devs = if p.devices.is_empty() {
                    "no devices".to_string()
                } else {
                    p.devices.join(" ")
                };
                let groups = if p.group_add.is_empty() {
                    String::new()
                } else {
                    format!(", groups {}", p.group_add.join(" "))
                };
                println!("  {:<7} ok: {devs}{groups}", b.name());
                if !p.mounts.is_empty() {
                    println!(
                        "          read-only: {}",
                        p.mounts
                            .iter()
                            .map(|m| {
                                if m.host
                                    .ends_with(m.container.rsplit('/').next().unwrap_or_default())
                                {
                                    m.container.clone()
                                } else {
                                    format!("{} (from {})", m.container, m.host)
                                }
                            })
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                }
                if let Some(arch) = cuda_arch_note(*b, &h) {
                    println!("          {arch}");
                }
                for n in &p.notes {
                    println!("          note: {n}");
                }
            }
            Err(e) => println!("  {:<7} unavailable: {e}", b.name()),
        }
    }
    let names: Vec<&str> = plan.backends.iter().map(|b| b.backend.name()).collect();
    println!("  the default plan here runs: {}", names.join(", "));

    println!("diagnosis");
    let found = diagnose(&h, &context(root, models));
    for d in &found {
        let tag = match d.level {
            Level::Info => "info",
            Level::Warn => "warn",
        };
        println!("  {tag}: {}", d.message);
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
                "  API {}, runtime {}, cgroups {}{}",
                info.api_version,
                info.runtime.as_deref().unwrap_or("?"),
                info.cgroup_version.as_deref().unwrap_or("?"),
                if info.rootless == Some(true) {
                    ", rootless"
                } else {
                    ", rootful"
                }
            );
            let mut gpus: std::collections::BTreeMap<_, _> = Backend::ALL
                .iter()
                .filter_map(|b| Some((*b, devices::passthrough(*b, root, &env).ok()?)))
                .collect();
            let mine = crate::host::rootless::my_groups();
            for n in crate::host::rootless::adjust_groups(&mut gpus, &info, &mine) {
                println!("  note: {n}");
            }
            for bp in &plan.backends {
                let mut any = false;
                for (reference, origin) in bp.backend.base_candidates() {
                    let img = c.client.image(reference).await?;
                    any |= img.is_some();
                    println!(
                        "  {} base ({origin}) {reference}: {}",
                        bp.backend.name(),
                        img.map_or("absent".to_string(), |i| i.id)
                    );
                }
                if !any {
                    println!(
                        "    (absent bases are pulled at the first build where a registry answers)"
                    );
                    if bp.backend == Backend::Cpu {
                        missing.push(
                            "no base image for cpu and no registry may answer: run scripts/setup.sh (it pulls the pinned one or builds the local one)"
                                .to_string(),
                        );
                    }
                }
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

    let warnings = found.iter().filter(|d| d.level == Level::Warn).count();
    if missing.is_empty() {
        println!(
            "\nready{}",
            if warnings > 0 {
                format!(" ({warnings} warning(s) above)")
            } else {
                String::new()
            }
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\nmissing:");
        for m in &missing {
            println!("  - {}", m.replace('\n', "\n    "));
        }
        Ok(ExitCode::FAILURE)
    }
}
