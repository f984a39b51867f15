//! The container engine: the only part of rigbench that talks to Podman (or Docker),
//! and the only user of bollard. `connect` finds or starts the API socket, `client`
//! implements `Engine` over it; everything else uses the `Engine` trait and the plain
//! types below, so tests can put a fake in its place.

pub mod client;
pub mod connect;
pub mod connections;
pub mod owner;
pub mod ssh;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use client::Client;
pub use connect::{Connected, connect};

/// Every container and image rigbench creates carries this label (value `true`).
pub const LABEL_MANAGED: &str = "io.rigbench.managed";
/// The run directory's id, on containers.
pub const LABEL_RUN: &str = "io.rigbench.run";
/// What a container is for: `server` or `probe`.
pub const LABEL_ROLE: &str = "io.rigbench.role";
/// On containers: the process that created it (`owner::this_process`).
pub const LABEL_OWNER: &str = "io.rigbench.owner";
/// On images: the hash of every build input (see `image::inputs`).
pub const LABEL_INPUTS: &str = "io.rigbench.inputs";
/// On volumes: the sha256 of the file they hold (a model's first, rigbench's).
pub const LABEL_SHA256: &str = "io.rigbench.sha256";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    Podman,
    Docker,
}

/// What the manifest records of the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EngineInfo {
    pub kind: EngineKind,
    /// The engine's own version (Podman's, not the compat API's).
    pub version: String,
    /// The API version negotiated with it.
    pub api_version: String,
    /// The OCI runtime containers run under (`runc`, `crun`).
    pub runtime: Option<String>,
    /// The cgroup version the engine reports.
    pub cgroup_version: Option<String>,
    /// The socket used.
    pub socket: String,
    /// Whether rigbench started the API service itself for this command.
    pub service_started_by_rigbench: bool,
    /// That service's process id (so a resume can stop one a killed run left).
    pub service_pid: Option<u32>,
    /// Whether the engine runs rootless (as the user, in a user namespace);
    /// absent in manifests from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootless: Option<bool>,
    /// Set when the engine is another host's, reached over SSH (`socket` is then
    /// its `ssh://` address); absent for this machine's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteEngine>,
}

/// What the manifest records of a remote engine beside its `ssh://` address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RemoteEngine {
    /// The Podman connection named (`--connection`), if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// The remote socket's owner (0: a rootful service).
    pub socket_uid: u32,
}

impl EngineInfo {
    /// The engine as rigbench's lines name it: kind and version, and
    /// " rootless" where it runs so (`Podman 4.3.1 rootless`).
    pub fn named(&self) -> String {
        format!(
            "{:?} {}{}",
            self.kind,
            self.version,
            if self.rootless == Some(true) {
                " rootless"
            } else {
                ""
            }
        )
    }

    /// The OCI runtime, or `?` where the engine did not say.
    pub fn runtime_named(&self) -> &str {
        self.runtime.as_deref().unwrap_or("?")
    }
}

/// An image as the engine reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageFacts {
    /// `sha256:…`
    pub id: String,
    pub repo_digests: Vec<String>,
    pub tags: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub created: Option<String>,
    pub size_bytes: Option<i64>,
}

/// An image build: context tar file, Containerfile inside it, tag and arguments.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub context_tar: PathBuf,
    pub containerfile: String,
    pub tag: String,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Build only up to this stage of a multi-stage Containerfile.
    pub target: Option<String>,
    /// Where the whole build output is written.
    pub log: PathBuf,
    /// Build every step again, using no cached layer.
    pub no_cache: bool,
}

/// A bind mount of a host path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// A host path, or a named volume's name.
    pub host: PathBuf,
    pub container: String,
    pub read_only: bool,
    /// Relabelled for the container on SELinux hosts (`z`): for files
    /// rigbench owns; never for a host's own files (the host probe's `/` and
    /// /usr, a GPU driver's libraries), which Podman refuses to relabel or must not.
    pub relabel: bool,
    /// With the mounts below it (Podman's default; `bind` instead of `rbind`
    /// where not). A read-only bind's mounts below stay writable.
    pub recursive: bool,
}

/// A container port published on a host address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish {
    pub host_ip: std::net::Ipv4Addr,
    pub host_port: u16,
    pub container_port: u16,
}

/// Everything needed to create a container; least privilege by default: all
/// capabilities dropped, `no-new-privileges`, only the listed devices.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub binds: Vec<Bind>,
    pub publish: Option<Publish>,
    pub labels: BTreeMap<String, String>,
    /// Device nodes, the same path inside as outside.
    pub devices: Vec<String>,
    /// Supplementary groups (numeric ids) of the container process.
    pub group_add: Vec<String>,
    /// Run the command under the engine's init (Podman's catatonit, Docker's
    /// tini) as PID 1. Without one, the command is its namespace's init, and the
    /// kernel drops every signal whose action is the default for it (SEGV, ABRT,
    /// and TERM when the program has no handler): the server could not be
    /// crashed or stopped by a signal as it would be on a host.
    pub init: bool,
    /// The most processes and threads the container may have (`PIDS_LIMIT`
    /// when `None`): a runaway stops there, not at the host's limit.
    pub pids_limit: Option<i64>,
    /// The root filesystem mounted read-only; `tmpfs` lists where the
    /// program may still write (each a small tmpfs).
    pub read_only_root: bool,
    pub tmpfs: Vec<String>,
    /// CPU time the container may use, in billionths of a CPU (a CFS quota:
    /// 1.5 CPUs is 1_500_000_000); `None`: no limit.
    pub nano_cpus: Option<i64>,
    /// The CPUs its processes may run on (`0-3`, `0,2`); `None`: any.
    pub cpuset_cpus: Option<String>,
    /// In the host's UTS namespace (its hostname), not one of its own.
    pub uts_host: bool,
    /// No network at all (no interface but loopback).
    pub network_none: bool,
}

/// Where a container with a read-only root may still write: /tmp, and HOME
/// (/root in rigbench's images), where runtimes keep caches.
pub fn scratch_dirs() -> Vec<String> {
    vec!["/tmp".to_string(), "/root".to_string()]
}

/// The process limit of every container rigbench creates, unless its spec
/// sets one: far above what llama-server's thread pools and a GPU runtime's
/// threads need (tens to a few hundred), far below a host's.
pub const PIDS_LIMIT: i64 = 4096;

/// How a container was confined, as the engine reports it (`Client::security`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Security {
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub security_opt: Vec<String>,
    /// `host` when it shares the host's network namespace.
    pub network_mode: String,
    /// `host` when it shares the host's PID namespace.
    pub pid_mode: String,
    pub read_only_root: bool,
    pub pids_limit: Option<i64>,
    /// Its CPU quota in billionths of a CPU, when it has one.
    pub nano_cpus: Option<i64>,
    /// The CPUs it is pinned to, when it is.
    pub cpuset_cpus: Option<String>,
    /// The host addresses its published ports are bound to.
    pub port_host_ips: Vec<String>,
    /// Each mount: its path inside and whether it is writable.
    pub mounts: Vec<(String, bool)>,
    /// Paths with a tmpfs.
    pub tmpfs: Vec<String>,
    /// Its first process's id on the host, while it runs (for reading
    /// /proc/PID/status, the capabilities the kernel actually gave it).
    pub pid: Option<i64>,
}

/// How a container ended. A non-zero code is a result, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    pub code: i64,
    pub oom_killed: bool,
}

/// A container's state now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    pub running: bool,
    pub status: String,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
}

/// A container found by label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labelled {
    pub id: String,
    pub name: String,
    pub state: String,
    pub labels: BTreeMap<String, String>,
}

/// Engine failures; each names what it was doing and to which image or container.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no container engine answered. Tried:\n{tried}\n{hint}")]
    Unreachable { tried: String, hint: String },
    /// A remote engine's host could not be used (before any work).
    #[error(transparent)]
    Ssh(#[from] ssh::SshError),
    #[error(transparent)]
    Connection(#[from] connections::ConnectionError),
    #[error("engine: {op}: {message}")]
    Api { op: &'static str, message: String },
    #[error("image {reference}: {op}: {message}")]
    Image {
        op: &'static str,
        reference: String,
        message: String,
    },
    #[error("building {tag} failed: {message} (full log: {log})")]
    Build {
        tag: String,
        message: String,
        log: String,
    },
    #[error("container {container}: {op}: {message}")]
    Container {
        op: &'static str,
        container: String,
        message: String,
    },
    #[error("container {container}: host port {port} is already in use")]
    PortInUse { container: String, port: u16 },
    /// The engine stopped answering: its socket is gone or refuses, or the
    /// connection broke (the API service died or was stopped).
    #[error("the engine at {socket} does not answer ({op} {container}: {message})")]
    Lost {
        socket: String,
        op: &'static str,
        container: String,
        message: String,
    },
}

impl EngineError {
    /// The engine itself is gone, not one request refused.
    pub fn is_lost(&self) -> bool {
        matches!(self, EngineError::Lost { .. })
    }
}

/// The operations rigbench needs from a container engine.
pub trait Engine: Send + Sync {
    fn info(&self) -> impl Future<Output = Result<EngineInfo, EngineError>> + Send;
    /// The image, or `None` when the engine has no such image.
    fn image(
        &self,
        reference: &str,
    ) -> impl Future<Output = Result<Option<ImageFacts>, EngineError>> + Send;
    fn pull(&self, reference: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Builds and returns the new image's id; `progress` gets each output line.
    fn build(
        &self,
        req: &BuildRequest,
        progress: &(dyn Fn(&str) + Sync),
    ) -> impl Future<Output = Result<String, EngineError>> + Send;
    /// Removes the image (or, by a tag, that tag, and the image with its last):
    /// never forced, so one a container uses is refused, not taken from it.
    fn remove_image(&self, reference: &str)
    -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Removes the dangling images (untagged, no image built on them: what a
    /// rebuild under the same tag leaves, and unused build stages) that carry
    /// all of `labels`; returns their ids and the bytes freed.
    fn prune_images(
        &self,
        labels: &[String],
    ) -> impl Future<Output = Result<(Vec<String>, u64), EngineError>> + Send;
    /// Images carrying all of `labels` (`key=value` or `key`).
    fn list_labelled_images(
        &self,
        labels: &[String],
    ) -> impl Future<Output = Result<Vec<ImageFacts>, EngineError>> + Send;
    /// Creates the container and returns its id.
    fn create(
        &self,
        spec: &ContainerSpec,
    ) -> impl Future<Output = Result<String, EngineError>> + Send;
    fn start(&self, id: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Puts the file `file` (here) into the container `id` (created, not
    /// necessarily started) as `dir/name` with permissions `mode`, streamed
    /// through the API as a one-file tar archive: how files reach a host whose
    /// disk is not this one's (into a volume where `dir` is one's mount).
    fn upload_file(
        &self,
        id: &str,
        dir: &str,
        name: &str,
        file: &std::path::Path,
        mode: u32,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Waits until the container ends.
    fn wait(&self, id: &str) -> impl Future<Output = Result<ExitStatus, EngineError>> + Send;
    fn state(&self, id: &str) -> impl Future<Output = Result<ContainerState, EngineError>> + Send;
    /// Everything the container wrote so far, stdout and stderr interleaved.
    fn logs(&self, id: &str) -> impl Future<Output = Result<Vec<u8>, EngineError>> + Send;
    /// What the container wrote to stdout alone.
    fn stdout(&self, id: &str) -> impl Future<Output = Result<Vec<u8>, EngineError>> + Send;
    /// The started container's stdout as it is written, chunk by chunk
    /// (from its start), until it exits or the engine is gone: the last item
    /// is the error, where one ended it. Read by a task of its own.
    fn follow_stdout(&self, id: &str) -> tokio::sync::mpsc::Receiver<Result<Vec<u8>, EngineError>>;
    /// Stops the container: SIGTERM, then SIGKILL after `grace_s` seconds.
    fn stop(&self, id: &str, grace_s: u32) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Sends `signal` (`KILL`, `STOP`, `TERM`...) to the container's main process
    /// (its init, when it has one: see `ContainerSpec::init`).
    fn signal(
        &self,
        id: &str,
        signal: &str,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Sends `signal` to every process named `process` inside the container, from
    /// inside it, as `kill` on a host would: the way to reach a program that runs
    /// under an init, which forwards only some signals (catatonit and tini keep
    /// SEGV, ABRT and the other synchronous signals, and cannot pass on STOP).
    /// Returns what the sending said; an error when no such process was found.
    fn signal_process(
        &self,
        id: &str,
        process: &str,
        signal: &str,
    ) -> impl Future<Output = Result<String, EngineError>> + Send;
    /// Removes the container, running or not.
    fn remove(&self, id: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Makes the named volume with `labels`; one of that name already there is
    /// kept as it is. Whether this call made it.
    fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<bool, EngineError>> + Send;
    /// Removes the named volume (none of that name: nothing to do).
    fn remove_volume(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// The names of the volumes carrying all of `labels`.
    fn list_labelled_volumes(
        &self,
        labels: &[String],
    ) -> impl Future<Output = Result<Vec<String>, EngineError>> + Send;
    /// Containers (running or not) carrying all of `labels` (`key=value` or `key`).
    fn list_labelled(
        &self,
        labels: &[String],
    ) -> impl Future<Output = Result<Vec<Labelled>, EngineError>> + Send;
    /// The port of the engine's host that the started container `id` has
    /// for its `container_port` (published with host port 0: the engine
    /// picked a free one, so there is no race for it).
    fn published_port(
        &self,
        id: &str,
        container_port: u16,
    ) -> impl Future<Output = Result<u16, EngineError>> + Send;
    /// A port of this machine's loopback that reaches `port` on the engine's
    /// host's loopback: `port` itself for an engine here; for another host's,
    /// an SSH forward, open while the `Reach` lives.
    fn reach(&self, port: u16) -> impl Future<Output = Result<Reach, EngineError>> + Send;
}

/// Where this process reaches a port of the engine's host (`Engine::reach`).
pub struct Reach {
    /// The port here.
    pub port: u16,
    /// The port on the engine's host.
    pub there: u16,
    /// The SSH forward between the two, for a remote engine; closed on drop.
    pub forward: Option<ssh::PortForward>,
}

impl Reach {
    /// The engine's host is this one: the port as it is.
    pub fn here(port: u16) -> Reach {
        Reach {
            port,
            there: port,
            forward: None,
        }
    }
}

/// A suffix that makes names unique across processes and time: the process id
/// and the clock, in hex (for container names and run ids).
pub fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", std::process::id(), nanos % (1u128 << 40))
}

/// What a short-lived container printed and how it ended.
#[derive(Debug, Clone)]
pub struct Completed {
    pub status: ExitStatus,
    /// stdout and stderr interleaved.
    pub output: Vec<u8>,
    /// stdout alone.
    pub stdout: Vec<u8>,
}

/// Runs a container to its end, collects its output and removes it.
pub async fn run_to_completion<E: Engine>(
    engine: &E,
    spec: &ContainerSpec,
) -> Result<Completed, EngineError> {
    let id = engine.create(spec).await?;
    let outcome = async {
        engine.start(&id).await?;
        let status = engine.wait(&id).await?;
        let output = engine.logs(&id).await?;
        let stdout = engine.stdout(&id).await?;
        Ok::<_, EngineError>(Completed {
            status,
            output,
            stdout,
        })
    }
    .await;
    let removed = engine.remove(&id).await;
    let completed = outcome?;
    removed?;
    Ok(completed)
}
