//! The commands: each turns parsed arguments into validated objects, drives the
//! modules below, prints for the user and returns an exit code. Only `main` prints
//! errors and exits.

pub mod build;
pub mod bundle;
pub mod cleanup;
pub mod compare;
pub mod doctor;
mod doctor_host;
pub mod dry_run;
pub mod export;
pub mod history;
mod host_view;
pub mod launch;
pub mod model;
mod on;
pub mod reference;
pub mod report;
pub mod rerun;
pub mod run;
mod run_plan;
pub mod shell;
pub mod summary;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cache::Cache;
use crate::cli::{Cli, Command};
use crate::engine::connect::Target;
use crate::plan::Plan;

/// Settings every command shares.
pub struct Globals {
    pub engine: EngineFlags,
    pub cache: Cache,
}

/// Where the engine is, as the command line says (clap lets at most one of
/// `socket`, `host` and `connection` through).
#[derive(Debug, Clone, Default)]
pub struct EngineFlags {
    pub socket: Option<String>,
    pub host: Option<String>,
    pub connection: Option<String>,
    pub ssh_config: Option<PathBuf>,
}

/// The engine the flags and `CONTAINER_HOST` name, before anything is read.
enum Choice<'a> {
    Connection(&'a str),
    Ssh(String),
    Socket(&'a str),
    Found,
}

impl EngineFlags {
    /// What the flags ask for: `--connection`, `--host`, an `ssh://` `--socket`,
    /// another `--socket`, else `CONTAINER_HOST` where it is an `ssh://` address.
    fn choice(&self) -> Choice<'_> {
        match (&self.connection, &self.host, &self.socket) {
            (Some(name), _, _) => Choice::Connection(name),
            (None, Some(uri), _) => Choice::Ssh(uri.clone()),
            (None, None, Some(s)) if s.starts_with("ssh://") => Choice::Ssh(s.clone()),
            (None, None, Some(s)) => Choice::Socket(s),
            (None, None, None) => container_host_ssh().map_or(Choice::Found, Choice::Ssh),
        }
    }

    /// Whether the engine asked for is another host's.
    pub fn remote(&self) -> bool {
        matches!(self.choice(), Choice::Connection(_) | Choice::Ssh(_))
    }

    /// Refuses, before any work, what cannot yet run on a remote engine.
    pub fn local_only(&self, what: &str) -> anyhow::Result<()> {
        if self.remote() {
            anyhow::bail!(
                "{what} on another host's engine is not built yet. On a remote host rigbench can `doctor` it, `build` a plan's images, `model prepare` its models (as volumes there) and `run` a plan (and `run --resume` it); do this on that host itself meanwhile"
            );
        }
        Ok(())
    }

    /// The engine asked for: a remote host's (a connection read from Podman's
    /// list), the socket given, or the first found.
    pub fn target(&self) -> Result<Target, crate::engine::EngineError> {
        let ssh = |target| Target::Ssh {
            target,
            config: self.ssh_config.clone(),
        };
        Ok(match self.choice() {
            Choice::Connection(name) => ssh(crate::engine::connections::lookup(name)?),
            Choice::Ssh(uri) => ssh(crate::engine::ssh::SshTarget::parse(&uri)?),
            Choice::Socket(s) => Target::Socket(s.to_string()),
            Choice::Found => Target::Found,
        })
    }
}

/// `CONTAINER_HOST` where it is an `ssh://` address (Podman's remote form).
fn container_host_ssh() -> Option<String> {
    std::env::var("CONTAINER_HOST")
        .ok()
        .filter(|v| v.starts_with("ssh://"))
}

impl Globals {
    /// The engine: a remote host's, the socket asked for, one found, or a
    /// Podman service rigbench starts with its temporary directory in the cache.
    pub async fn connect(
        &self,
    ) -> Result<crate::engine::connect::Connected, crate::engine::EngineError> {
        // Reading Podman's connection list runs `podman`: off the runtime's threads.
        let flags = self.engine.clone();
        let target = tokio::task::spawn_blocking(move || flags.target())
            .await
            .map_err(|e| crate::engine::EngineError::Api {
                op: "connect",
                message: format!("resolving the engine failed: {e}"),
            })??;
        crate::engine::connect::connect(&target, &self.cache.engine_tmp()).await
    }
}

/// Runs the command the user asked for.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    crate::progress::init(cli.quiet);
    let g = Globals {
        engine: EngineFlags {
            socket: cli.socket,
            host: cli.host,
            connection: cli.connection,
            ssh_config: cli.ssh_config,
        },
        cache: Cache::locate(cli.cache_dir),
    };
    match cli.command {
        Command::Run(args) => run::run(&g, &args).await,
        Command::Build(args) => build::build(&g, &args).await,
        Command::Doctor { host_root, json } => doctor::doctor(&g, &host_root, json).await,
        Command::HostView { root } => {
            let env = |k: &str| std::env::var(k).ok();
            let view = crate::host::view::HostView::read(&root, &env);
            println!("{}", serde_json::to_string(&view)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::TelemetryStream {
            root,
            interval_ms,
            samples,
        } => {
            let probe = crate::telemetry::Probe::discover_with(&root, true);
            let interval = std::time::Duration::from_millis(interval_ms.max(1));
            let mut out = std::io::stdout().lock();
            match crate::telemetry::stream::emit(&probe, interval, samples, &mut out) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                // The reader went away: the end it asked for.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
                Err(e) => Err(anyhow::anyhow!("writing the telemetry stream: {e}")),
            }
        }
        Command::SynthWrite {
            recipe,
            vocab,
            quant,
            out,
        } => {
            let text = std::fs::read(&recipe)
                .map_err(|e| anyhow::anyhow!("--recipe {}: {e}", recipe.display()))?;
            let recipe: crate::synth::Recipe = serde_json::from_slice(&text)
                .map_err(|e| anyhow::anyhow!("--recipe {}: {e}", recipe.display()))?;
            let quant =
                crate::synth::Quant::parse(&quant).map_err(|e| anyhow::anyhow!("--quant: {e}"))?;
            let written = crate::synth::there::write(&recipe, vocab.as_deref(), quant, &out)?;
            println!("{}", serde_json::to_string(&written)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::ModelFacts { file } => {
            if !file.exists() {
                eprintln!("{}: not there", file.display());
                return Ok(ExitCode::from(crate::session::remote_files::NOT_THERE));
            }
            let facts = crate::synth::there::facts(&file)
                .map_err(|e| anyhow::anyhow!("{}: {e:#}", file.display()))?;
            println!("{}", serde_json::to_string(&facts)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sha256 { file } => match crate::hash::sha256_file(&file) {
            Ok(hex) => {
                println!("{hex}");
                Ok(ExitCode::SUCCESS)
            }
            // Not there: its own code, so that the rigbench which asked can
            // tell a missing file from one it could not read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("{}: {e}", file.display());
                Ok(ExitCode::from(crate::session::remote_files::NOT_THERE))
            }
            Err(e) => Err(anyhow::anyhow!("{}: {e}", file.display())),
        },
        Command::Report { dir } => report::report(&dir),
        Command::Compare(args) => compare::compare(&args),
        Command::Summary(args) => summary::summary(&args),
        Command::Export(args) => export::export(&args),
        Command::Reference { action } => reference::reference(&action),
        Command::Rerun {
            input,
            out,
            reuse_images,
            compiler_cache,
            allow_substitutes,
        } => {
            let rebuild = match (reuse_images, compiler_cache) {
                (true, _) => crate::image::Rebuild::No,
                (false, true) => crate::image::Rebuild::FromCompilerCache,
                (false, false) => crate::image::Rebuild::Clean,
            };
            rerun::rerun(&g, &input, out.as_deref(), rebuild, allow_substitutes).await
        }
        Command::Bundle { dir, out } => bundle::bundle(&dir, &out),
        Command::Verify { file } => bundle::verify(&file),
        Command::Import { file, into } => bundle::import(&file, into.as_deref()),
        Command::Completions { shell } => shell::completions(shell),
        Command::Man { out } => shell::man(out.as_deref()),
        Command::List { dir, json } => history::list(dir.as_deref(), json),
        Command::Show { run, json } => history::show(&run, json),
        Command::Model { action } => model::model(&g, &action).await,
        Command::Cleanup {
            images,
            dangling_images,
            model_volumes,
        } => {
            let also = cleanup::Also {
                images,
                dangling: dangling_images,
                model_volumes,
            };
            cleanup::cleanup(&g, also).await
        }
    }
}

/// The plan at `path`, or the built-in default for the GPUs this host has.
pub fn load_plan(path: Option<&Path>, cpus: u32) -> anyhow::Result<Plan> {
    load_plan_on(path, cpus, Path::new("/"))
}

/// The same for the host under `root`.
pub fn load_plan_on(path: Option<&Path>, cpus: u32, root: &Path) -> anyhow::Result<Plan> {
    let found = crate::host::devices::available_backends(root);
    let none = crate::plan::overrides::Overrides::default();
    Ok(crate::plan::load_with(path, cpus, &found, &none)?.0)
}

/// The default run directory: rigbench-runs/<UTC time>-<plan name>.
/// A recorded run: from a bundle (checked), a run directory or its
/// manifest.json (verified).
pub fn load_run(input: &Path) -> anyhow::Result<crate::manifest::Manifest> {
    if input.is_file() && input.file_name().is_some_and(|n| n != "manifest.json") {
        let b = crate::bundle::read::open(input)?;
        let bytes = b
            .files
            .get("manifest.json")
            .ok_or_else(|| anyhow::anyhow!("{}: no manifest.json", input.display()))?;
        return Ok(serde_json::from_slice(bytes)?);
    }
    let dir = if input.is_file() {
        input
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    } else {
        input.to_path_buf()
    };
    Ok(crate::manifest::store::RunDir::open(&dir).load()?)
}

pub fn default_out(plan: &Plan) -> PathBuf {
    let stamp = crate::manifest::now_rfc3339()
        .replace([':', '.'], "-")
        .trim_end_matches('Z')
        .to_string();
    let name: String = plan
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from("rigbench-runs").join(format!("{stamp}-{name}"))
}
