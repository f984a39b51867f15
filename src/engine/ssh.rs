//! A remote host's engine over SSH: the target (`ssh://user@host[:port]/path/to/podman.sock`,
//! as `--host`, `CONTAINER_HOST` or a Podman connection gives it), the tunnel that
//! forwards the remote API socket to a local one, and the port forwards that reach a
//! llama-server published on the remote host's loopback.
//!
//! The tunnel is OpenSSH's own (`ssh -N -L LOCAL.sock:REMOTE.sock`), the forwarding of a
//! remote unix socket that Podman's remote client also makes: it dials the socket on
//! the remote host itself, so it needs nothing there but sshd and the service. So the
//! user's `ssh` does the work with the user's agent, keys, `~/.ssh/config` (jump hosts,
//! ports, aliases) and `known_hosts`. Host keys are always checked: rigbench passes
//! `BatchMode=yes` (no prompt, so an unknown or changed host key is an error, never a
//! question) and `StrictHostKeyChecking=yes` on the command line, which no config file
//! can loosen; the host goes after `--`, and one that looks like an option is refused.
//! bollard's own SSH transport was not used: it runs `docker system dial-stdio` on the
//! remote host, which Podman hosts lack, and ignores the socket's path.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the SSH connection and the forward may take to come up.
const TUNNEL_TIMEOUT: Duration = Duration::from_secs(30);
/// `ssh`'s own limit on the TCP connection.
const CONNECT_TIMEOUT_S: u32 = 10;

/// Where a remote engine is: a host reached by SSH and its API socket's path there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// The API socket's path on the remote host.
    pub socket: String,
    /// The key to offer (a Podman connection's `Identity`), beside the agent's.
    pub identity: Option<PathBuf>,
    /// The Podman connection it was read from, if any.
    pub connection: Option<String>,
}

/// Why an SSH target could not be used; each names the target and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    #[error(
        "{0}: not an SSH address: write ssh://[USER@]HOST[:PORT]/PATH/TO/podman.sock (rootful Podman: /run/podman/podman.sock; a user's: /run/user/UID/podman/podman.sock)"
    )]
    Malformed(String),
    #[error(
        "{target}: the host's key is not in known_hosts, and rigbench never skips that check. Check its fingerprint with the host's owner, then add it to ~/.ssh/known_hosts (or the UserKnownHostsFile your ssh config names):\n  ssh-keyscan{port} {host} >> ~/.ssh/known_hosts\n(or connect once with ssh and answer yes)"
    )]
    UnknownHostKey {
        target: String,
        host: String,
        port: String,
    },
    #[error(
        "{target}: the host's key has CHANGED since it was added to known_hosts: someone may be in between, or the host was reinstalled. Ask its owner; if the change is expected, remove the old key with ssh-keygen -R '{host}' (and -f FILE where your ssh config names another UserKnownHostsFile)"
    )]
    ChangedHostKey { target: String, host: String },
    #[error(
        "{target}: the host refused the key{identity} ({detail}). Add the public key to the remote user's ~/.ssh/authorized_keys, or load the right key into the agent (ssh-add); rigbench cannot ask for a passphrase"
    )]
    KeyRefused {
        target: String,
        identity: String,
        detail: String,
    },
    #[error("{target}: the host cannot be reached: {detail}")]
    Unreachable { target: String, detail: String },
    #[error(
        "{target}: there is no socket at {socket} on {host}. Start the API service there (systemctl --user enable --now podman.socket, or as root systemctl enable --now podman.socket) or correct the path (`podman info --format '{{{{.Host.RemoteSocket.Path}}}}'` on the host prints it)"
    )]
    NoSocket {
        target: String,
        host: String,
        socket: String,
    },
    #[error(
        "{target}: {socket} cannot be used by the user logged in (the socket or its folder is another user's). Log in as the socket's owner (a user's Podman socket under /run/user/UID is UID's; root's needs root or its group)"
    )]
    SocketHidden { target: String, socket: String },
    #[error("{target}: {detail}")]
    Other { target: String, detail: String },
}

impl SshTarget {
    /// Reads `ssh://[USER@]HOST[:PORT]/PATH`. The path is absolute (Podman writes
    /// `ssh://core@host:22/run/user/1000/podman/podman.sock`).
    pub fn parse(uri: &str) -> Result<Self, SshError> {
        let bad = || SshError::Malformed(uri.to_string());
        let rest = uri.strip_prefix("ssh://").ok_or_else(bad)?;
        let slash = rest.find('/').ok_or_else(bad)?;
        let (authority, path) = rest.split_at(slash);
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
            Some(_) => return Err(bad()),
            None => (None, authority),
        };
        let (host, port) = split_port(hostport).ok_or_else(bad)?;
        // A host or user that `ssh` could read as an option (`-oProxyCommand=…`)
        // or that holds blanks or control characters is no host.
        let odd =
            |s: &str| s.starts_with('-') || s.chars().any(|c| c.is_whitespace() || c.is_control());
        if host.is_empty()
            || odd(host)
            || user.as_deref().is_some_and(odd)
            || path.len() < 2
            || path.chars().any(char::is_control)
        {
            return Err(bad());
        }
        Ok(SshTarget {
            user,
            host: host.to_string(),
            port,
            socket: path.to_string(),
            identity: None,
            connection: None,
        })
    }

    /// The address as Podman writes it: `ssh://user@host:port/path`.
    pub fn uri(&self) -> String {
        let user = self
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("ssh://{user}{host}{port}{}", self.socket)
    }

    /// How rigbench's messages name it: the connection's name and its address.
    pub fn named(&self) -> String {
        match &self.connection {
            Some(c) => format!("connection {c} ({})", self.uri()),
            None => self.uri(),
        }
    }

    /// `ssh`'s arguments up to the destination: no prompts, the port, the
    /// identity, the config file asked for (`--ssh-config`).
    fn ssh_args(&self, config: Option<&Path>) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        if let Some(f) = config {
            a.extend(["-F".into(), f.display().to_string()]);
        }
        a.extend([
            // Command-line options win over every config file: no config can
            // turn the host-key check into accept-new or off.
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            format!("ConnectTimeout={CONNECT_TIMEOUT_S}"),
            "-o".into(),
            // A dead tunnel is found within a minute, not at the next TCP timeout.
            "ServerAliveInterval=15".into(),
        ]);
        if let Some(p) = self.port {
            a.extend(["-p".into(), p.to_string()]);
        }
        if let Some(i) = &self.identity {
            a.extend(["-i".into(), i.display().to_string()]);
        }
        if let Some(u) = &self.user {
            a.extend(["-l".into(), u.clone()]);
        }
        a
    }

    /// Turns what `ssh` wrote on a failure into the error that says what to do.
    fn classify(&self, stderr: &str) -> SshError {
        let target = self.named();
        let last = stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("ssh failed without saying why")
            .to_string();
        if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
            return SshError::ChangedHostKey {
                target,
                // known_hosts writes a host on another port as [host]:port.
                host: match self.port {
                    Some(p) if p != 22 => format!("[{}]:{p}", self.host),
                    _ => self.host.clone(),
                },
            };
        }
        if stderr.contains("Host key verification failed")
            || stderr.contains("No ED25519 host key is known")
            || stderr.contains("host key is known for")
        {
            return SshError::UnknownHostKey {
                target,
                host: self.host.clone(),
                port: self.port.map(|p| format!(" -p {p}")).unwrap_or_default(),
            };
        }
        if stderr.contains("Permission denied")
            || stderr.contains("Too many authentication failures")
        {
            return SshError::KeyRefused {
                target,
                identity: self
                    .identity
                    .as_ref()
                    .map(|i| format!(" {}", i.display()))
                    .unwrap_or_else(|| "s offered (the agent's and ~/.ssh's)".to_string()),
                detail: last,
            };
        }
        if [
            "Could not resolve hostname",
            "Connection refused",
            "Connection timed out",
            "No route to host",
            "Network is unreachable",
            "Connection closed by",
        ]
        .iter()
        .any(|s| stderr.contains(s))
        {
            return SshError::Unreachable {
                target,
                detail: last,
            };
        }
        SshError::Other {
            target,
            detail: last,
        }
    }

    /// Runs `script` on the remote host with `sh -c` (stdout returned); an
    /// exit of 255 is `ssh`'s own failure, classified.
    pub fn exec(&self, config: Option<&Path>, script: &str) -> Result<Output, SshError> {
        let out = Command::new("ssh")
            .args(self.ssh_args(config))
            .arg("--")
            .arg(&self.host)
            .arg(format!("sh -c {}", shell_quote(script)))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| SshError::Other {
                target: self.named(),
                detail: format!("cannot run ssh ({e}): install OpenSSH's client"),
            })?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.code() == Some(255) {
            return Err(self.classify(&stderr));
        }
        Ok(Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        })
    }

    /// The owner (uid) of the remote socket, which also proves the host can be
    /// reached, the key is accepted and the socket exists: each a clear error.
    pub fn socket_owner(&self, config: Option<&Path>) -> Result<u32, SshError> {
        // Exit 1: nothing there; 3: there, but this login may not connect to it
        // (its folder cannot be searched, or the socket is not writable to it).
        let script = format!(
            "p={}; d=$(dirname \"$p\"); \
             if [ -S \"$p\" ]; then [ -w \"$p\" ] || exit 3; stat -c %u \"$p\"; \
             elif [ -d \"$d\" ] && ! [ -x \"$d\" ]; then exit 3; else exit 1; fi",
            shell_quote(&self.socket)
        );
        let out = self.exec(config, &script)?;
        let other = |detail: String| SshError::Other {
            target: self.named(),
            detail,
        };
        match out.code {
            Some(0) => out.stdout.trim().parse().map_err(|_| {
                other(format!(
                    "stat of {} printed {:?}, not a user id",
                    self.socket,
                    out.stdout.trim()
                ))
            }),
            Some(1) => Err(SshError::NoSocket {
                target: self.named(),
                host: self.host.clone(),
                socket: self.socket.clone(),
            }),
            Some(3) => Err(SshError::SocketHidden {
                target: self.named(),
                socket: self.socket.clone(),
            }),
            _ => Err(other(format!(
                "checking {} there failed: {}",
                self.socket,
                out.stderr.trim()
            ))),
        }
    }

    /// Opens the tunnel (the remote socket forwarded to a local one) and waits
    /// until the local end accepts a connection. `ssh` runs under `setpriv
    /// --pdeathsig KILL` where util-linux's setpriv is installed, so that it
    /// ends with the thread that started it even when rigbench is killed:
    /// call it from the runtime's own threads, not a blocking task's (which
    /// end when idle).
    pub async fn open(&self, config: Option<&Path>) -> Result<Tunnel, SshError> {
        let (forward, local) = self
            .forward_socket(config, "podman.sock", &self.socket)
            .await?;
        Ok(Tunnel { forward, local })
    }

    /// Forwards a port of this machine's loopback to `remote_port` on the
    /// remote host's loopback, where a container's published port is: a
    /// llama-server there is then reached as if it ran here. `ssh -N -L
    /// DIR/port.sock:127.0.0.1:REMOTE` (a connection of its own) listens on a
    /// unix socket in a private folder, so that the forward found up is this
    /// one's; rigbench binds the TCP port itself (kept while the forward
    /// lives: no other process can take it) and relays each connection to
    /// that socket. Call it from the runtime's threads, as `open`.
    pub async fn forward_port(
        &self,
        config: Option<&Path>,
        remote_port: u16,
    ) -> Result<PortForward, SshError> {
        let other = |detail: String| SshError::Other {
            target: self.named(),
            detail,
        };
        let remote = format!("127.0.0.1:{remote_port}");
        let (forward, sock) = self.forward_socket(config, "port.sock", &remote).await?;
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| {
                other(format!(
                    "no port here to forward to port {remote_port}: {e}"
                ))
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| other(format!("the forward's port here: {e}")))?
            .port();
        let relay = tokio::spawn(relay(listener, sock));
        Ok(PortForward {
            forward,
            port,
            relay,
        })
    }

    /// `ssh -N -L DIR/NAME:REMOTE` (`REMOTE` a socket's path or `HOST:PORT`
    /// there) in a private folder DIR, waited for until the local socket
    /// accepts a connection (listening, not only bound).
    async fn forward_socket(
        &self,
        config: Option<&Path>,
        name: &str,
        remote: &str,
    ) -> Result<(Forward, PathBuf), SshError> {
        let dir = self.forward_dir()?;
        let sock = dir.path().join(name);
        let spec = format!("{}:{remote}", sock.display());
        let forward = self.spawn_forward(config, &spec, dir)?;
        let up = || std::os::unix::net::UnixStream::connect(&sock).is_ok();
        match self.wait_up(&forward, up).await? {
            true => Ok((forward, sock)),
            false => Err(SshError::Unreachable {
                target: self.named(),
                detail: format!(
                    "the forward to {remote} did not come up within {} s: {}",
                    TUNNEL_TIMEOUT.as_secs(),
                    forward.log().trim()
                ),
            }),
        }
    }

    /// A private folder for a forward's log (and socket).
    fn forward_dir(&self) -> Result<tempfile::TempDir, SshError> {
        tempfile::Builder::new()
            .prefix("rigbench-ssh-")
            .tempdir()
            .map_err(|e| SshError::Other {
                target: self.named(),
                detail: format!("cannot make a directory for the SSH forward: {e}"),
            })
    }

    /// Starts `ssh -N -L SPEC` (under `setpriv --pdeathsig KILL` where there
    /// is one), its stderr to `dir`'s ssh.log.
    fn spawn_forward(
        &self,
        config: Option<&Path>,
        spec: &str,
        dir: tempfile::TempDir,
    ) -> Result<Forward, SshError> {
        let other = |detail: String| SshError::Other {
            target: self.named(),
            detail,
        };
        let log_path = dir.path().join("ssh.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| other(format!("cannot create {}: {e}", log_path.display())))?;
        let mut cmd = match which("setpriv") {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "KILL", "--", "ssh"]);
                c
            }
            None => Command::new("ssh"),
        };
        let child = cmd
            .args(self.ssh_args(config))
            .args([
                "-N",
                // Its own connection: a user's ControlMaster would hold the
                // forward beyond this process.
                "-o",
                "ControlPath=none",
                "-o",
                "ExitOnForwardFailure=yes",
                "-o",
                "StreamLocalBindUnlink=yes",
                "-L",
            ])
            .arg(spec)
            .arg("--")
            .arg(&self.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| other(format!("cannot run ssh ({e}): install OpenSSH's client")))?;
        Ok(Forward {
            child: std::sync::Mutex::new(child),
            dir,
        })
    }

    /// Waits until `up` says the local end accepts connections (true), the
    /// time runs out (false) or `ssh` ends (its failure, classified).
    async fn wait_up(&self, f: &Forward, up: impl Fn() -> bool) -> Result<bool, SshError> {
        let deadline = Instant::now() + TUNNEL_TIMEOUT;
        while Instant::now() < deadline {
            if !f.alive() {
                return Err(self.classify(&f.log()));
            }
            if up() {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(false)
    }
}

/// The program `name` on `PATH`, if there is one.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// What a remote command printed.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// A running `ssh -N -L` process and the folder of its log; the process
/// ends when this is dropped.
struct Forward {
    child: std::sync::Mutex<Child>,
    dir: tempfile::TempDir,
}

impl Forward {
    fn alive(&self) -> bool {
        self.child
            .lock()
            .is_ok_and(|mut c| matches!(c.try_wait(), Ok(None)))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ssh.log")).unwrap_or_default()
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        if let Ok(c) = self.child.get_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The remote API socket forwarded to a local one; closed when dropped.
pub struct Tunnel {
    forward: Forward,
    local: PathBuf,
}

impl Tunnel {
    /// The local end of the forwarded socket.
    pub fn socket(&self) -> &Path {
        &self.local
    }

    /// Whether the `ssh` process still runs.
    pub fn alive(&mut self) -> bool {
        self.forward.alive()
    }

    /// What `ssh` wrote so far (why a forward broke).
    pub fn log(&self) -> String {
        self.forward.log()
    }
}

/// A local port forwarded to one on the remote host's loopback; closed when
/// dropped.
pub struct PortForward {
    forward: Forward,
    pub port: u16,
    relay: tokio::task::JoinHandle<()>,
}

impl PortForward {
    /// What `ssh` wrote so far.
    pub fn log(&self) -> String {
        self.forward.log()
    }

    /// Whether the `ssh` process still runs.
    pub fn alive(&self) -> bool {
        self.forward.alive()
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        self.relay.abort();
    }
}

/// Relays each connection `listener` accepts to the unix socket `sock`
/// (the SSH forward's local end), both ways, until aborted.
async fn relay(listener: tokio::net::TcpListener, sock: PathBuf) {
    loop {
        let Ok((mut tcp, _)) = listener.accept().await else {
            // Out of file descriptors, say: not a busy loop.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let sock = sock.clone();
        tokio::spawn(async move {
            // A forward that cannot connect closes the connection: the
            // request then fails as the server's would.
            if let Ok(mut unix) = tokio::net::UnixStream::connect(&sock).await {
                let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
            }
        });
    }
}

/// `HOST` or `HOST:PORT` (IPv6 in brackets); `None` for a port that is not a number.
fn split_port(hostport: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(p) => Some((host, Some(p.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match hostport.split_once(':') {
        Some((h, p)) => Some((h, Some(p.parse().ok()?))),
        None => Some((hostport, None)),
    }
}

/// `s` in single quotes for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_podmans_addresses() {
        let t = SshTarget::parse("ssh://core@gpu1.lan:2222/run/user/1000/podman/podman.sock")
            .expect("valid");
        assert_eq!(t.user.as_deref(), Some("core"));
        assert_eq!(t.host, "gpu1.lan");
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.socket, "/run/user/1000/podman/podman.sock");
        assert_eq!(
            t.uri(),
            "ssh://core@gpu1.lan:2222/run/user/1000/podman/podman.sock"
        );
        let t = SshTarget::parse("ssh://box/run/podman/podman.sock").expect("valid");
        assert_eq!((t.user, t.port), (None, None));
        let t = SshTarget::parse("ssh://root@[::1]:22/run/podman/podman.sock").expect("valid");
        assert_eq!(t.host, "::1");
        assert_eq!(t.uri(), "ssh://root@[::1]:22/run/podman/podman.sock");
    }

    #[test]
    fn rejects_what_is_not_an_ssh_address_and_says_the_form() {
        for bad in [
            "unix:///run/podman/podman.sock",
            "ssh://host",
            "ssh://host/",
            "ssh://@host/x.sock",
            "ssh://host:port/x.sock",
            "ssh:///x.sock",
            "ssh://-oProxyCommand=touch pwned/x.sock",
            "ssh://-oProxyCommand=x/x.sock",
            "ssh://-l@host/x.sock",
            "ssh://host/x\n.sock",
        ] {
            let e = SshTarget::parse(bad).expect_err(bad).to_string();
            assert!(e.starts_with(bad), "{e}");
            assert!(e.contains("ssh://[USER@]HOST[:PORT]/PATH"), "{e}");
        }
    }

    #[test]
    fn never_disables_host_key_checks_and_never_prompts() {
        let mut t = SshTarget::parse("ssh://u@h:2/s.sock").expect("valid");
        t.identity = Some(PathBuf::from("/k/id"));
        let a = t.ssh_args(Some(Path::new("/c/config"))).join(" ");
        assert!(a.contains("BatchMode=yes"), "{a}");
        assert!(a.contains("-o StrictHostKeyChecking=yes"), "{a}");
        assert!(!a.contains("StrictHostKeyChecking=no"), "{a}");
        assert!(!a.contains("accept-new"), "{a}");
        assert!(!a.contains("UserKnownHostsFile"), "{a}");
        assert!(
            a.starts_with("-F /c/config") && a.contains("-p 2") && a.contains("-i /k/id"),
            "{a}"
        );
    }

    #[test]
    fn ssh_failures_become_errors_that_say_what_to_do() {
        let t = SshTarget::parse("ssh://u@h:2222/s.sock").expect("valid");
        let e = t.classify("Host key verification failed.\r\n");
        assert!(matches!(e, SshError::UnknownHostKey { .. }), "{e:?}");
        assert!(e.to_string().contains("ssh-keyscan -p 2222 h"), "{e}");
        let e = t.classify("u@h: Permission denied (publickey).\n");
        assert!(matches!(e, SshError::KeyRefused { .. }), "{e:?}");
        assert!(e.to_string().contains("authorized_keys"), "{e}");
        let e = t.classify("@@@\n@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @\nHost key verification failed.\n");
        assert!(matches!(e, SshError::ChangedHostKey { .. }), "{e:?}");
        let e = t.classify("ssh: connect to host h port 2222: Connection refused\n");
        assert!(matches!(e, SshError::Unreachable { .. }), "{e:?}");
        assert!(e.to_string().contains("Connection refused"), "{e}");
    }

    #[test]
    fn quotes_for_the_remote_shell() {
        assert_eq!(
            shell_quote("/run/a b/it's.sock"),
            "'/run/a b/it'\\''s.sock'"
        );
    }
}
