//! `rigbench run --on NAME[,NAME…]`: one plan on several hosts at once, each
//! a Podman connection (its own engine over SSH, its facts, devices and CPUs
//! read there, its plan loaded for it), each host's cells one at a time on
//! that host; one run directory per host under the run directory
//! (`DIR/NAME`), one progress view (a bar and `[NAME]` lines per host), and
//! each host's fate its own: a host that cannot be reached or whose engine is
//! lost fails (`engine_lost`) alone, the others finish. `--resume DIR` takes
//! up each host's run that is not complete, on its host. With two or more
//! hosts' runs, `DIR/summary.md` sets them side by side (`rigbench summary`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{EngineFlags, Globals, default_out};
use crate::cli::RunArgs;
use crate::image::Rebuild;
use crate::manifest::store::RunDir;
use crate::status::RunStatus;

pub async fn run_on(g: &Globals, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let names = hosts(&g.engine, &args.on)?;
    // Every name read from Podman's list before any work: an unknown one is
    // an error that lists the known.
    for name in &names {
        let flags = flags_for(g, name);
        tokio::task::spawn_blocking(move || flags.target())
            .await
            .map_err(|e| anyhow::anyhow!("reading Podman's connections failed: {e}"))??;
    }
    let base = match (&args.resume, &args.out) {
        (Some(dir), _) => dir.clone(),
        (None, Some(out)) => out.clone(),
        (None, None) => {
            // The plan read for its name alone: each host loads it for
            // itself (its CPUs, its devices), so no CPU count here limits it.
            let mut any =
                crate::host::view::HostView::read(Path::new("/"), &|k| std::env::var(k).ok());
            any.facts.cpu.logical_cpus = NAMING_CPUS;
            any.available = crate::backend::Backend::ALL.to_vec();
            default_out(&super::run_plan::plan_on(args, &any)?.0)
        }
    };
    // Each host's run a task of its own, on the runtime's threads: one host's
    // blocking work (a manifest's fsync, a report) never holds up the clock
    // of another's streamed request.
    let shared = std::sync::Arc::new(args.clone());
    let runs: Vec<_> = names
        .iter()
        .map(|name| {
            let g = Globals {
                engine: flags_for(g, name),
                cache: g.cache.clone(),
            };
            let dir = base.join(name);
            let args = shared.clone();
            tokio::spawn(crate::progress::on_host(name.clone(), async move {
                let r = match args.resume.is_some() {
                    true => resume_one(&g, &dir).await,
                    false => fresh_one(&g, &args, &dir).await,
                };
                if let Err(e) = &r {
                    log::info!("failed: {e:#}");
                }
                r
            }))
        })
        .collect();
    let results: Vec<anyhow::Result<ExitCode>> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .map(|j| j.unwrap_or_else(|e| Err(anyhow::anyhow!("the host's task ended: {e}"))))
        .collect();
    let mut code = ExitCode::SUCCESS;
    let mut failed = Vec::new();
    println!("runs on {} host(s) in {}:", names.len(), base.display());
    for (name, r) in names.iter().zip(results) {
        let dir = base.join(name);
        match r {
            Ok(c) => {
                println!("  {name}: {} ({})", state_of(&dir), dir.display());
                if c != ExitCode::SUCCESS && code == ExitCode::SUCCESS {
                    code = c;
                }
            }
            Err(e) => {
                println!("  {name}: failed: {e:#} ({})", dir.display());
                failed.push(name.as_str());
            }
        }
    }
    summary(&base, &names)?;
    if !failed.is_empty() {
        anyhow::bail!("{}", go_on(&base, &names, &failed, args));
    }
    Ok(code)
}

/// CPUs the plan is read with to name the run directory (no host's).
const NAMING_CPUS: u32 = 4096;

/// What failed and how to go on: a host whose run was started resumes; one
/// that never started (it could not be reached or read) is started anew
/// into the same directory.
fn go_on(base: &Path, names: &[String], failed: &[&str], args: &RunArgs) -> String {
    let (started, never): (Vec<&str>, Vec<&str>) = failed
        .iter()
        .partition(|n| RunDir::open(&base.join(n)).manifest_path().exists());
    let mut s = format!(
        "the run failed on {} of {} host(s): {}",
        failed.len(),
        names.len(),
        failed.join(", ")
    );
    if !started.is_empty() {
        s.push_str(&format!(
            "; resume {} with `rigbench run --on {} --resume {}`",
            started.join(", "),
            names.join(","),
            base.display()
        ));
    }
    if !never.is_empty() {
        let plan = match &args.plan {
            Some(p) => format!(" --plan {}", p.display()),
            None if args.resume.is_some() => " --plan PLAN".to_string(),
            None => String::new(),
        };
        s.push_str(&format!(
            "; {} never started: once reachable, `rigbench run --on {}{plan} --out {}` runs the plan there into the same directory",
            never.join(", "),
            never.join(","),
            base.display()
        ));
    }
    s
}

/// The hosts named, each once; `--on` takes the engine from Podman's list,
/// so no other engine flag goes with it.
fn hosts(e: &EngineFlags, on: &[String]) -> anyhow::Result<Vec<String>> {
    if e.socket.is_some() || e.host.is_some() || e.connection.is_some() {
        anyhow::bail!(
            "--on names the hosts as Podman connections: leave out --socket, --host and --connection"
        );
    }
    let mut names: Vec<String> = Vec::new();
    for n in on {
        let n = n.trim();
        if n.is_empty() || n.contains('/') || n.starts_with('.') {
            anyhow::bail!(
                "--on {n:?}: not a connection name (`podman system connection list` shows them)"
            );
        }
        if names.iter().any(|m| m == n) {
            anyhow::bail!("--on names {n} twice: each host runs the plan once");
        }
        names.push(n.to_string());
    }
    Ok(names)
}

/// The engine flags of the connection `name`, with the `ssh` config asked for.
fn flags_for(g: &Globals, name: &str) -> EngineFlags {
    EngineFlags {
        connection: Some(name.to_string()),
        ssh_config: g.engine.ssh_config.clone(),
        ..EngineFlags::default()
    }
}

/// The plan run on one host: read there, loaded for it, run into `dir`.
async fn fresh_one(g: &Globals, args: &RunArgs, dir: &Path) -> anyhow::Result<ExitCode> {
    let remote = super::launch::remote(g)
        .await?
        .ok_or_else(|| anyhow::anyhow!("--on needs a remote engine"))?;
    let (plan, _) = super::run_plan::plan_on(args, &remote.seen.view)?;
    super::launch::fresh(g, plan, dir, Rebuild::No, Some(remote)).await
}

/// One host's run taken up where it stopped; a complete one is left alone,
/// and one never started (no manifest: its host could not be reached) is
/// said so, not made.
async fn resume_one(g: &Globals, dir: &Path) -> anyhow::Result<ExitCode> {
    if !RunDir::open(dir).manifest_path().exists() {
        anyhow::bail!(
            "{}: no run was started on this host: nothing to resume",
            dir.display()
        );
    }
    super::launch::resume(g, dir).await
}

/// A host's run's state as its manifest says.
fn state_of(dir: &Path) -> String {
    match RunDir::open(dir).load() {
        Ok(m) => m.status.to_string(),
        Err(e) => format!("no manifest ({e})"),
    }
}

/// `base/summary.md`: the hosts' runs side by side, where two or more have a
/// manifest; said where it is.
fn summary(base: &Path, names: &[String]) -> anyhow::Result<()> {
    let runs: Vec<(String, crate::manifest::Manifest)> = names
        .iter()
        .filter_map(|n| Some((n.clone(), RunDir::open(&base.join(n)).load().ok()?)))
        .filter(|(_, m)| m.status != RunStatus::Running)
        .collect();
    if runs.len() < 2 {
        return Ok(());
    }
    let named: Vec<(String, &crate::manifest::Manifest)> =
        runs.iter().map(|(n, m)| (n.clone(), m)).collect();
    let text = super::summary::markdown(&named);
    let path: PathBuf = base.join("summary.md");
    crate::hash::write_atomic(&path, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    println!("summary: {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_host_once_and_no_other_engine_flag() {
        let none = EngineFlags::default();
        assert_eq!(
            hosts(&none, &names(&["gpu1", " w7900 "])).unwrap(),
            ["gpu1", "w7900"]
        );
        let e = hosts(&none, &names(&["gpu1", "gpu1"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--on names gpu1 twice: each host runs the plan once"
        );
        let e = hosts(&none, &names(&["gpu1", ""])).unwrap_err();
        assert!(e.to_string().contains("not a connection name"), "{e}");
        let e = hosts(&none, &names(&["../x"])).unwrap_err();
        assert!(
            e.to_string().contains("\"../x\": not a connection name"),
            "{e}"
        );
        let with_host = EngineFlags {
            host: Some("ssh://a/b.sock".into()),
            ..EngineFlags::default()
        };
        let e = hosts(&with_host, &names(&["gpu1"])).unwrap_err();
        assert!(
            e.to_string()
                .contains("leave out --socket, --host and --connection"),
            "{e}"
        );
    }

    #[test]
    fn each_host_reached_through_its_connection_with_the_ssh_config_asked_for() {
        let g = Globals {
            engine: EngineFlags {
                ssh_config: Some("/home/u/.ssh/lab".into()),
                ..EngineFlags::default()
            },
            cache: crate::cache::Cache::locate(Some("/tmp/c".into())),
        };
        let f = flags_for(&g, "gpu1");
        assert_eq!(f.connection.as_deref(), Some("gpu1"));
        assert_eq!(f.ssh_config.as_deref(), Some(Path::new("/home/u/.ssh/lab")));
        assert!(f.remote());
    }
}
