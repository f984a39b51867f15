//! Finding the engine's API socket: `--socket`, then `CONTAINER_HOST`, `DOCKER_HOST`,
//! the rootless and rootful Podman paths and Docker's. If none answers but `podman`
//! is installed, rigbench starts `podman system service --time=0` on a private socket
//! for the duration of the command and stops it when `Connected` is dropped. A remote
//! host's engine (`--host ssh://…`, `--connection NAME`, or an `ssh://` address in
//! `--socket` or `CONTAINER_HOST`) is reached through an SSH tunnel (`ssh.rs`), which
//! `Connected` keeps open.

use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::client::{Client, RemoteEnd};
use super::ssh::{SshTarget, Tunnel};
use super::{Engine, EngineError};

/// How long one socket may take to answer a ping.
const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a service rigbench started may take to open its socket.
const SERVICE_START_TIMEOUT: Duration = Duration::from_secs(30);

/// A connected engine, and the API service rigbench started for it, if any.
pub struct Connected {
    pub client: Client,
    /// Kept alive for as long as the client is used; stopped on drop.
    pub service: Option<Service>,
    /// The SSH forward to a remote host's socket; closed on drop.
    pub tunnel: Option<Tunnel>,
}

/// Which engine a command uses.
#[derive(Debug, Clone, Default)]
pub enum Target {
    /// This machine's: the `--socket` given (which may be an `ssh://` address),
    /// else the first that answers.
    #[default]
    Found,
    Socket(String),
    /// A remote host's, over SSH, with the `ssh` config file to read (`--ssh-config`).
    Ssh {
        target: SshTarget,
        config: Option<PathBuf>,
    },
}

/// A `podman system service` process rigbench started; stopped on drop.
pub struct Service {
    child: Child,
    dir: tempfile::TempDir,
}

impl Service {
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("podman.sock")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // SIGTERM lets the service close cleanly; SIGKILL if it has not after 5 s.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stops an API service a killed rigbench left running, if `pid` still is one
/// (its command line names `podman system service` on a rigbench socket).
/// Returns whether it sent the signal.
pub fn stop_stale_service(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    if !(cmdline.contains("system service") && cmdline.contains("rigbench-podman-")) {
        return false;
    }
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok()
}

/// Where a candidate socket came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub origin: String,
    pub address: String,
}

/// The sockets to try, in order. `explicit` (`--socket`) alone when given.
pub fn candidates(
    explicit: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    uid: u32,
) -> Vec<Candidate> {
    if let Some(s) = explicit {
        return vec![Candidate {
            origin: "--socket".to_string(),
            address: s.to_string(),
        }];
    }
    let mut out = Vec::new();
    for var in ["CONTAINER_HOST", "DOCKER_HOST"] {
        if let Some(v) = env(var).filter(|v| !v.is_empty()) {
            out.push(Candidate {
                origin: var.to_string(),
                address: v,
            });
        }
    }
    let runtime_dir = env("XDG_RUNTIME_DIR").unwrap_or_else(|| format!("/run/user/{uid}"));
    if uid != 0 {
        out.push(Candidate {
            origin: "rootless Podman".to_string(),
            address: format!("unix://{runtime_dir}/podman/podman.sock"),
        });
    }
    out.push(Candidate {
        origin: "rootful Podman".to_string(),
        address: "unix:///run/podman/podman.sock".to_string(),
    });
    out.push(Candidate {
        origin: "Docker".to_string(),
        address: "unix:///var/run/docker.sock".to_string(),
    });
    out
}

/// The filesystem path of a `unix://` address (or a bare path).
fn unix_path(address: &str) -> Option<&str> {
    if let Some(p) = address.strip_prefix("unix://") {
        return Some(p);
    }
    address.starts_with('/').then_some(address)
}

/// Connects to the remote engine over SSH: the host reached, the key accepted
/// and the socket present (`SshTarget::socket_owner`), each a clear error before
/// any work, then the tunnel and the API.
pub async fn connect_ssh(
    target: &SshTarget,
    config: Option<&Path>,
) -> Result<Connected, EngineError> {
    let (t, c) = (target.clone(), config.map(Path::to_path_buf));
    let socket_uid = tokio::task::spawn_blocking(move || t.socket_owner(c.as_deref()))
        .await
        .map_err(|e| EngineError::Api {
            op: "connect",
            message: format!("the SSH task failed: {e}"),
        })??;
    // Started here, on the runtime's thread (see `SshTarget::open`).
    let tunnel = target.open(config).await?;
    let local = tunnel.socket().display().to_string();
    let client = Client::connect_unix(&local, None)
        .await
        .map_err(|e| EngineError::Api {
            op: "connect",
            message: format!(
                "{}: the tunnel is up but the engine did not answer through it: {}{}",
                target.named(),
                match e {
                    EngineError::Api { message, .. } => message,
                    other => other.to_string(),
                },
                match tunnel.log().trim() {
                    "" => String::new(),
                    said => format!(" (ssh: {said})"),
                }
            ),
        })?
        .with_remote(RemoteEnd {
            uri: target.uri(),
            ssh: target.clone(),
            config: config.map(Path::to_path_buf),
            engine: super::RemoteEngine {
                connection: target.connection.clone(),
                socket_uid,
            },
        });
    Ok(Connected {
        client,
        service: None,
        tunnel: Some(tunnel),
    })
}

/// Connects to `target`: a remote one over SSH, else the first local
/// candidate that answers, else Podman's service started with `service_tmp` as
/// its temporary directory (`Cache::engine_tmp`).
pub async fn connect(target: &Target, service_tmp: &Path) -> Result<Connected, EngineError> {
    let explicit = match target {
        Target::Ssh { target, config } => return connect_ssh(target, config.as_deref()).await,
        Target::Socket(s) => Some(s.as_str()),
        Target::Found => None,
    };
    let uid = rustix::process::getuid().as_raw();
    let env = |k: &str| std::env::var(k).ok();
    let mut tried = String::new();
    for c in candidates(explicit, &env, uid) {
        if c.address.starts_with("ssh://") {
            // `--socket` and CONTAINER_HOST are made a `Target::Ssh` before this
            // (`commands::EngineFlags::target`); DOCKER_HOST's ssh:// is Docker's
            // (no socket path: `docker system dial-stdio`), so it is passed over.
            let _ = writeln!(
                tried,
                "  {} ({}): Docker's ssh:// form; for Podman over SSH use --host or CONTAINER_HOST with the socket's path",
                c.address, c.origin
            );
            continue;
        }
        match try_socket(&c.address).await {
            Ok(client) => {
                return Ok(Connected {
                    client,
                    service: None,
                    tunnel: None,
                });
            }
            Err(why) => {
                let _ = writeln!(tried, "  {} ({}): {}", c.address, c.origin, why);
            }
        }
    }
    if explicit.is_some() {
        return Err(EngineError::Unreachable {
            tried,
            hint: "Check the --socket value, or leave it out to let rigbench look for one."
                .to_string(),
        });
    }
    match start_service(service_tmp).await {
        Ok(connected) => Ok(connected),
        Err(why) => {
            let _ = writeln!(tried, "  starting `podman system service`: {why}");
            Err(EngineError::Unreachable {
                tried,
                hint: "Install Podman (scripts/setup.sh does) or start its API service:\n  \
                       podman system service --time=0 unix:///run/podman/podman.sock &\n\
                       and pass --socket unix:///run/podman/podman.sock"
                    .to_string(),
            })
        }
    }
}

async fn try_socket(address: &str) -> Result<Client, String> {
    let Some(path) = unix_path(address) else {
        return Err("only unix:// and ssh:// addresses are supported".to_string());
    };
    if !Path::new(path).exists() {
        return Err("no such socket".to_string());
    }
    let client = Client::connect_unix(path, None)
        .await
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(PING_TIMEOUT, client.info()).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", PING_TIMEOUT.as_secs())),
    }
}

async fn start_service(service_tmp: &Path) -> Result<Connected, String> {
    std::fs::create_dir_all(service_tmp).map_err(|e| {
        format!(
            "cannot make its temporary directory {}: {e}",
            service_tmp.display()
        )
    })?;
    let dir = tempfile::Builder::new()
        .prefix("rigbench-podman-")
        .tempdir()
        .map_err(|e| format!("cannot make a directory for the socket: {e}"))?;
    let socket = dir.path().join("podman.sock");
    let log = std::fs::File::create(dir.path().join("service.log"))
        .map_err(|e| format!("cannot create the service log: {e}"))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("cannot create the service log: {e}"))?;
    // Its own process group: a Ctrl-C at the terminal reaches rigbench, which then
    // still needs the service to remove its containers.
    let child = Command::new("podman")
        .process_group(0)
        .args(["system", "service", "--time=0"])
        .arg(format!("unix://{}", socket.display()))
        // Build scratch and cache mounts (the compiler cache) live here.
        .env("TMPDIR", service_tmp)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("podman is not installed or cannot run ({e})"))?;
    let mut service = Service { child, dir };
    let deadline = Instant::now() + SERVICE_START_TIMEOUT;
    let mut last = String::from("socket never appeared");
    while Instant::now() < deadline {
        if let Ok(Some(status)) = service.child.try_wait() {
            let log =
                std::fs::read_to_string(service.dir.path().join("service.log")).unwrap_or_default();
            return Err(format!("it exited with {status}: {}", log.trim()));
        }
        if socket.exists() {
            match Client::connect_unix(&socket.display().to_string(), Some(service.child.id()))
                .await
            {
                Ok(client) => match client.info().await {
                    Ok(_) => {
                        return Ok(Connected {
                            client,
                            service: Some(service),
                            tunnel: None,
                        });
                    }
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Dropping the service stops the process.
    service.child.try_wait().ok();
    Err(format!(
        "it did not answer within {} s: {last}",
        SERVICE_START_TIMEOUT.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn explicit_socket_is_the_only_candidate() {
        let c = candidates(
            Some("unix:///x.sock"),
            &env_of(&[("DOCKER_HOST", "unix:///d")]),
            1000,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].origin, "--socket");
    }

    #[test]
    fn environment_comes_before_well_known_paths() {
        let c = candidates(
            None,
            &env_of(&[
                ("CONTAINER_HOST", "unix:///a.sock"),
                ("DOCKER_HOST", "unix:///b.sock"),
                ("XDG_RUNTIME_DIR", "/run/user/1000"),
            ]),
            1000,
        );
        let addrs: Vec<_> = c.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(
            addrs,
            [
                "unix:///a.sock",
                "unix:///b.sock",
                "unix:///run/user/1000/podman/podman.sock",
                "unix:///run/podman/podman.sock",
                "unix:///var/run/docker.sock",
            ]
        );
    }

    #[test]
    fn root_skips_the_rootless_path() {
        let c = candidates(None, &env_of(&[]), 0);
        assert!(c.iter().all(|c| c.origin != "rootless Podman"));
    }

    #[test]
    fn unix_addresses_and_bare_paths() {
        assert_eq!(unix_path("unix:///run/x.sock"), Some("/run/x.sock"));
        assert_eq!(unix_path("/run/x.sock"), Some("/run/x.sock"));
        assert_eq!(unix_path("tcp://1.2.3.4:2375"), None);
    }

    #[tokio::test]
    async fn missing_explicit_socket_names_it_and_says_what_to_do() {
        let err = match connect(
            &Target::Socket("unix:///nonexistent/rigbench.sock".to_string()),
            Path::new("/nonexistent"),
        )
        .await
        {
            Err(e) => e.to_string(),
            Ok(_) => panic!("connected to a socket that does not exist"),
        };
        assert!(
            err.contains("/nonexistent/rigbench.sock (--socket): no such socket"),
            "{err}"
        );
        assert!(err.contains("--socket"), "{err}");
    }
}
