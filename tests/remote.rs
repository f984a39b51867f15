//! Another host's Podman over real SSH: an OpenSSH server on 127.0.0.1 (started
//! here on a free port, with a host key and user keys made for the test; the
//! test command installs openssh-server) in front of two "hosts" on this
//! machine: root's Podman API service on a socket of its own, and the rootless
//! user's (scripts/setup.sh's `RIGBENCH_ROOTLESS_USER`) under its
//! `/run/user/UID`. rigbench reaches each through its own `ssh` (`--host`, and
//! `--connection` read from Podman's connection list) and reports that host's
//! engine; every bad input is an error naming it before any work; the e2e
//! plan runs on both hosts at once (`run --on`), the rootless host's service
//! killed with `kill -9` mid-run is `engine_lost` there alone, `--resume`
//! finishes it, and the hosts' summary renders.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{repo, rigbench};

/// A process started in a process group of its own, the whole group killed
/// (SIGKILL) and the process reaped when dropped: `runuser` does not pass a
/// SIGKILL on to the command it started.
struct Reaped(Child);

impl Reaped {
    fn spawn(cmd: &mut Command) -> Reaped {
        use std::os::unix::process::CommandExt;
        Reaped(cmd.process_group(0).spawn().unwrap())
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let group = i32::try_from(self.0.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw);
        if let Some(g) = group {
            let _ = rustix::process::kill_process_group(g, rustix::process::Signal::KILL);
        }
        let _ = self.0.wait();
    }
}

fn sh(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn keygen(path: &Path) -> String {
    sh(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path));
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(path: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{what} did not appear at {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A locked account unlocked for key logins, locked again when dropped.
struct Unlocked(String);

impl Unlocked {
    fn new(user: &str) -> Unlocked {
        sh(Command::new("usermod").args(["-p", "*", user]));
        Unlocked(user.to_string())
    }
}

impl Drop for Unlocked {
    fn drop(&mut self) {
        let _ = Command::new("usermod").args(["-p", "!", &self.0]).status();
    }
}

/// The test's SSH server, its keys and the client config files.
struct Sshd {
    dir: PathBuf,
    port: u16,
    _server: Reaped,
}

impl Sshd {
    fn start(dir: &Path) -> Sshd {
        let host_key = keygen(&dir.join("host_key"));
        let user_key = keygen(&dir.join("id"));
        keygen(&dir.join("other"));
        std::fs::write(dir.join("authorized_keys"), format!("{user_key}\n")).unwrap();
        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nPidFile {d}/sshd.pid\n\
                 UsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nAllowStreamLocalForwarding yes\n",
                d = dir.display()
            ),
        )
        .unwrap();
        // Its privilege-separation directory, which a package install may not make.
        std::fs::create_dir_all("/run/sshd").unwrap();
        assert!(
            Path::new("/usr/sbin/sshd").exists(),
            "no /usr/sbin/sshd: the test command installs openssh-server"
        );
        let server = Reaped::spawn(
            Command::new("/usr/sbin/sshd")
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap()),
        );
        // Known hosts: the right key, and none (for the unknown-host-key case).
        std::fs::write(
            dir.join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_key}\n"),
        )
        .unwrap();
        std::fs::write(dir.join("known_hosts_empty"), "").unwrap();
        for (name, key, known) in [
            ("config", "id", "known_hosts"),
            ("config_refused", "other", "known_hosts"),
            ("config_unknown", "id", "known_hosts_empty"),
        ] {
            std::fs::write(
                dir.join(name),
                format!(
                    "Host *\n  UserKnownHostsFile {d}/{known}\n  IdentityFile {d}/{key}\n  IdentitiesOnly yes\n",
                    d = dir.display()
                ),
            )
            .unwrap();
        }
        // Known hosts alone, offering the key that sshd refuses: a login then
        // needs the key a Podman connection names (`Identity`, passed as -i).
        std::fs::write(
            dir.join("config_known"),
            format!(
                "Host *\n  UserKnownHostsFile {d}/known_hosts\n  IdentityFile {d}/other\n",
                d = dir.display()
            ),
        )
        .unwrap();
        // Up when it accepts a connection.
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Sshd {
            dir: dir.to_path_buf(),
            port,
            _server: server,
        }
    }

    fn config(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn uri(&self, user: &str, socket: &Path) -> String {
        format!("ssh://{user}@127.0.0.1:{}{}", self.port, socket.display())
    }
}

/// The rootless user's Podman API service on `sock` (under its runtime
/// directory `run_dir`), up when the socket is there.
fn user_service_on(user: &str, run_dir: &Path, sock: &Path) -> Reaped {
    let _ = std::fs::remove_file(sock);
    let service = Reaped::spawn(
        Command::new("runuser")
            .args(["-u", user, "--", "env"])
            .arg(format!("XDG_RUNTIME_DIR={}", run_dir.display()))
            .args(["podman", "system", "service", "--time=0"])
            .arg(format!("unix://{}", sock.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for(sock, "the rootless user's API socket");
    service
}

/// The two hosts as `run --on` reaches them.
struct Hosts<'a> {
    conf: &'a Path,
    config: &'a str,
    user: &'a str,
    uid: u32,
    run_dir: &'a Path,
    user_sock: &'a Path,
    root_uri: &'a str,
    user_uri: &'a str,
}

impl Hosts<'_> {
    /// `podman ARGS` as the rootless user.
    fn user_podman(&self, args: &[&str]) -> Output {
        Command::new("runuser")
            .args(["-u", self.user, "--", "env"])
            .arg(format!("XDG_RUNTIME_DIR={}", self.run_dir.display()))
            .arg("podman")
            .args(args)
            .output()
            .unwrap()
    }

    /// `rigbench --ssh-config CONFIG run ARGS` with the test's connections.
    fn run(&self, args: &[&str], cwd: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rigbench"));
        cmd.env("CONTAINERS_CONF", self.conf)
            .current_dir(cwd)
            .args(["--ssh-config", self.config, "run"])
            .args(args);
        cmd
    }
}

/// `podman save IMAGE` here, `podman load` into the rootless user's store.
fn copy_to_user(h: &Hosts, image: &str) {
    common::save_into(
        image,
        Command::new("runuser")
            .args(["-u", h.user, "--", "env"])
            .arg(format!("XDG_RUNTIME_DIR={}", h.run_dir.display()))
            .args(["podman", "load", "-q"]),
    );
}

/// No `ssh` of rigbench's (its API tunnels, its servers' port forwards, all
/// with the test's config) outlives the command.
fn no_forward_left(h: &Hosts) {
    let left = Command::new("pgrep")
        .args(["-a", "-f"])
        .arg(format!("ssh -F {} ", h.config))
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "ssh processes left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

/// The e2e plan on root's and the rootless user's engines at once through
/// `--on`, the user's service killed mid-run and started again (returned),
/// the run resumed; each host's manifest says it is that host's.
fn two_hosts_at_once(h: &Hosts, dir: &Path, cwd: &Path, user_service: Reaped) -> Reaped {
    let t = Instant::now();
    let phase =
        |what: &str| eprintln!("two hosts: {what} after {:.1} s", t.elapsed().as_secs_f64());
    // The e2e image (built here as the other tests have it) and its base in
    // the user's store: a rootless build takes minutes. The model goes there
    // through the API, as any remote host gets it.
    let plan = repo().join("tests/plans/e2e.toml");
    let plan = plan.to_str().unwrap();
    let built = common::rigbench_ok(&["build", "--plan", plan], cwd);
    let image = regex::Regex::new(r"localhost/rigbench/llama-cpu:[0-9a-f]+")
        .unwrap()
        .find(&String::from_utf8_lossy(&built.stdout))
        .expect("build printed the image tag")
        .as_str()
        .to_string();
    for base in [
        "localhost/rigbench/debian:trixie",
        rigbench::backend::PINNED_DEBIAN,
    ] {
        let here = Command::new("podman")
            .args(["image", "exists", base])
            .status()
            .is_ok_and(|s| s.success());
        if here {
            copy_to_user(h, base);
        }
    }
    copy_to_user(h, &image);
    phase("images in the user's store");

    // Both "hosts" are this machine: each server gets one thread, so that
    // the two (llama.cpp's threads spin while they wait) do not fight over
    // the same cores (two servers of 2 threads on 2 cores measured 1-4 t/s
    // here instead of 60). The variant is the plan's last table.
    // A synthetic model beside the real one, made on each host where it is
    // used: written there by rigbench as Q8_0, then Q4_K_M by llama-quantize
    // in the image there.
    let e2e = std::fs::read_to_string(plan).unwrap();
    let plan = dir.join("two-hosts.toml");
    std::fs::write(
        &plan,
        format!(
            "{e2e}threads = 1\n\n[[models]]\nname = \"synthetic-tiny\"\n\
             synthetic = {{ shape = {{ base = \"gemma3-270m\", block_count = 1, vocab_size = 1024 }}, quant = \"q4_k_m\" }}\n"
        ),
    )
    .unwrap();
    let plan = plan.to_str().unwrap();
    let out = dir.join("on");
    let out_arg = out.to_str().unwrap();
    let t0 = Instant::now();
    let mut run = h
        .run(
            &[
                "--on",
                "gpu-root,gpu-user",
                "--plan",
                plan,
                "--runs",
                "2",
                "--out",
                out_arg,
            ],
            cwd,
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The user's service killed (SIGKILL, as a crash) once that host has
    // measured a run: the service, not the server containers (conmon keeps
    // them), as when a host's Podman dies.
    let user_manifest = out.join("gpu-user/manifest.json");
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let measured = common::read_manifest(&user_manifest)
            .is_some_and(|m| m.cells.iter().any(|c| !c.runs.is_empty()));
        if measured {
            break;
        }
        assert!(
            Instant::now() < deadline && run.try_wait().unwrap().is_none(),
            "the rootless host measured nothing"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let killed = Command::new("pkill")
        .args(["-KILL", "-u", &h.uid.to_string(), "-f"])
        .arg(format!(
            "system service --time=0 unix://{}",
            h.user_sock.display()
        ))
        .status()
        .unwrap();
    assert!(killed.success(), "the user's service was running");
    let done = run.wait_with_output().unwrap();
    phase("run --on");
    let stdout = String::from_utf8_lossy(&done.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
    eprintln!(
        "run --on: {:.0} s\n{stdout}{stderr}",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("[gpu-user] model gemma-3-270m-q4_k_m: on ")
            && stderr
                .contains("rigbench-model-a5fd3b62230aa5ec (already there; sha256 checked there)"),
        "the model `model prepare` put on the user's host is used as it is: {stderr}"
    );
    assert!(
        stderr.contains("the run failed on 1 of 2 host(s): gpu-user")
            && stderr.contains(&format!("--resume {out_arg}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("[gpu-root] ") && stderr.contains("[gpu-user] "),
        "{stderr}"
    );
    assert!(stdout.contains("gpu-root: complete"), "{stdout}");
    let root_run = common::manifest_json(&out.join("gpu-root"));
    let lost = common::manifest_json(&out.join("gpu-user"));
    assert_eq!(root_run["status"], "complete");
    assert_ne!(lost["status"], "complete");
    let modes: Vec<&str> = (lost["cells"].as_array().unwrap().iter())
        .filter_map(|c| c["failure"]["mode"].as_str())
        .collect();
    assert_eq!(modes, ["engine_lost"], "the cell in flight alone");
    // The server it was measuring left there (its service gone, conmon
    // keeps it), named with Podman's remote client's command.
    assert!(
        stderr.contains(&format!("podman --url {} rm -f --ignore", h.user_uri)),
        "{stderr}"
    );
    no_forward_left(h);

    // The service back, the run resumed: the lost host's run finishes, the
    // complete one is left as it is.
    drop(user_service);
    let user_service = user_service_on(h.user, h.run_dir, h.user_sock);
    let resumed = h
        .run(&["--on", "gpu-root,gpu-user", "--resume", out_arg], cwd)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&resumed.stdout).into_owned();
    phase("resume");
    assert!(
        resumed.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(stdout.contains("gpu-root: complete") && stdout.contains("gpu-user: complete"));
    no_forward_left(h);
    assert_eq!(common::manifest_json(&out.join("gpu-root")), root_run);
    let user_run = common::manifest_json(&out.join("gpu-user"));
    assert_eq!(user_run["status"], "complete");
    assert!(
        (user_run["cells"].as_array().unwrap().iter()).all(|c| c["status"] == "ok"),
        "{user_run}"
    );
    assert!(
        user_run["resumes"][0]["note"]
            .as_str()
            .is_some_and(|n| n.contains("1 cell(s) the lost engine stopped run again")),
        "{}",
        user_run["resumes"]
    );

    // Each manifest is its host's: its engine, socket, user; its facts read
    // there (this machine here); its servers reached through SSH forwards.
    let here = Command::new(env!("CARGO_BIN_EXE_rigbench"))
        .arg("host-view")
        .output()
        .unwrap();
    let here: serde_json::Value = serde_json::from_slice(&here.stdout).unwrap();
    for (run, uri, rootless, conn, owner) in [
        (&root_run, h.root_uri, false, "gpu-root", 0),
        (&user_run, h.user_uri, true, "gpu-user", h.uid),
    ] {
        let e = &run["engine"];
        assert_eq!(e["socket"], uri, "{e}");
        assert_eq!(e["rootless"], rootless, "{e}");
        assert_eq!(e["remote"]["connection"], conn, "{e}");
        assert_eq!(e["remote"]["socket_uid"], owner, "{e}");
        // Read there by the probe (the same machine here: the same facts).
        assert!(
            run["host_read"]
                .as_str()
                .is_some_and(|r| r.starts_with(&format!("read on {uri} by a probe container of "))),
            "{}",
            run["host_read"]
        );
        for fact in ["hostname", "kernel", "cpu", "os"] {
            assert_eq!(run["host"][fact], here["facts"][fact], "{fact}");
        }
        // Telemetry read there by its container and streamed here: this
        // machine has no GPU, so memory alone, and said so. On the host
        // whose service was killed, a request that finished after (its
        // server lived on) says the stream ended with the engine.
        let (mut streamed, mut cut) = (0, 0);
        for r in
            (run["cells"].as_array().unwrap().iter()).flat_map(|c| c["runs"].as_array().unwrap())
        {
            let t = &r["telemetry"];
            assert_eq!(t["available"], false, "{t}");
            let note = t["note"].as_str().unwrap_or_default();
            if t["samples"].as_u64().is_some_and(|n| n > 0) {
                assert!(t["mem_available_drop_bytes"].is_i64(), "{t}");
                assert!(note.contains("no amdgpu card and no NVIDIA GPU"), "{t}");
                streamed += 1;
            } else {
                let lost = format!(
                    "no telemetry from the engine's host: the engine at {uri} does not answer"
                );
                assert!(note.starts_with(&lost), "{t}");
                cut += 1;
            }
        }
        assert!(streamed >= 6, "{streamed} runs with telemetry on {conn}");
        assert!(cut <= usize::from(rootless), "{cut} runs cut off on {conn}");
        let server = &run["cells"][0]["server"];
        assert!(
            server["forwarded_from"].as_u64().is_some_and(|p| p > 0)
                && server["host_port"].as_u64().is_some_and(|p| p > 0),
            "{server}"
        );
    }
    // The synthetic model made on each host, there: the same bytes on both
    // (the same recipe, the same image's llama-quantize); the resumed run
    // found it in its volume; never made here; no scratch volume left.
    let synthetic = |run: &serde_json::Value| {
        (run["models"].as_array().unwrap().iter())
            .find(|m| m["name"] == "synthetic-tiny")
            .cloned()
            .unwrap_or_else(|| panic!("no synthetic-tiny in {}", run["models"]))
    };
    let (on_root, on_user) = (synthetic(&root_run), synthetic(&user_run));
    assert_eq!(on_root["sha256"], on_user["sha256"], "{on_root}\n{on_user}");
    assert_eq!(on_root["synthetic"]["made_now"], true, "{on_root}");
    assert_eq!(
        on_user["synthetic"]["made_now"], false,
        "found there on resume: {on_user}"
    );
    let q = &on_root["synthetic"]["quantize"];
    assert!(
        q["command"][0]
            .as_str()
            .is_some_and(|c| c.ends_with("llama-quantize"))
            && q["input_sha256"].as_str().is_some_and(|s| s.len() == 64),
        "{q}"
    );
    assert_eq!(on_root["gguf"]["architecture"], "gemma3", "{on_root}");
    let key = on_root["synthetic"]["key"].as_str().unwrap();
    let cache = rigbench::cache::Cache::locate(None);
    assert!(
        !rigbench::synth::cached::dir(&cache, key).exists(),
        "the model was made here too"
    );
    let synth_volume = format!("rigbench-synth-{}", &key[..16]);
    for volumes in [
        Command::new("podman")
            .args(["volume", "ls", "--format", "{{.Name}}"])
            .output()
            .unwrap(),
        h.user_podman(&["volume", "ls", "--format", "{{.Name}}"]),
    ] {
        let names = String::from_utf8_lossy(&volumes.stdout).into_owned();
        assert!(names.contains(&synth_volume), "{names}");
        assert!(
            !names.contains("rigbench-synth-q8-"),
            "a scratch volume is left: {names}"
        );
    }
    for cell in (user_run["cells"].as_array().unwrap().iter())
        .chain(root_run["cells"].as_array().unwrap())
        .filter(|c| c["model"] == "synthetic-tiny")
    {
        assert_eq!(cell["status"], "ok", "{cell}");
    }
    // The hosts side by side.
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("## Generation, tokens/s")
            && summary.contains("`gpu-root`")
            && summary.contains("`gpu-user`")
            && summary.contains("rootless via gpu-user"),
        "{summary}"
    );
    // Nothing left: no container on either host; the model's volumes and the
    // user's copies go (the user's store as it was: reset).
    let volume = "rigbench-model-a5fd3b62230aa5ec";
    let left = Command::new("podman")
        .args(["ps", "-aq", "--filter", "label=io.rigbench.managed"])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "no container left on root's host");
    let left = h.user_podman(&["ps", "-aq", "--filter", "label=io.rigbench.managed"]);
    assert!(
        left.stdout.is_empty(),
        "no container left on the user's host"
    );
    // The model's volume on root's host removed by `cleanup --model-volumes`
    // through its engine (as from another machine).
    let cleaned = common::rigbench_ok(
        &[
            "--host",
            h.root_uri,
            "--ssh-config",
            h.config,
            "cleanup",
            "--model-volumes",
        ],
        cwd,
    );
    let said = String::from_utf8_lossy(&cleaned.stdout);
    assert!(said.contains(&format!("removed volume {volume}")), "{said}");
    assert!(
        said.contains(&format!("removed volume {synth_volume}")),
        "{said}"
    );
    assert!(said.contains(", 2 model volume(s) removed"), "{said}");
    let gone = Command::new("podman")
        .args(["volume", "exists", volume])
        .status()
        .unwrap();
    assert!(!gone.success(), "{volume} is still on root's host");
    phase("cleanup");
    user_service
}

/// The rootless user scripts/setup.sh prepared: name, uid.
fn rootless_user() -> (String, u32) {
    let name = std::env::var("RIGBENCH_ROOTLESS_USER").expect(
        "RIGBENCH_ROOTLESS_USER names the user scripts/setup.sh prepared (scripts/test.sh sets it)",
    );
    let out = sh(Command::new("id").args(["-u", &name]));
    let uid = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (name, uid)
}

/// `doctor --json` with `args` before it; doctor exits 1 where something is
/// missing (a GPU here), its JSON whole either way.
fn doctor_json(args: &[&str], cwd: &Path, conf: Option<&Path>) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rigbench"));
    if let Some(c) = conf {
        cmd.env("CONTAINERS_CONF", c);
    }
    let out = cmd
        .current_dir(cwd)
        .args(args)
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("doctor --json prints JSON")
}

/// `--host URI --ssh-config CONFIG build --plan PLAN`: a command that must fail
/// at the engine, before any build.
fn build_on<'a>(uri: &'a str, config: &'a str, plan: &'a str) -> [&'a str; 7] {
    [
        "--host",
        uri,
        "--ssh-config",
        config,
        "build",
        "--plan",
        plan,
    ]
}

fn fails_saying(args: &[&str], cwd: &Path, says: &[&str]) -> String {
    let out = rigbench(args, cwd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for s in says {
        assert!(stderr.contains(s), "expected {s:?} in: {stderr}");
    }
    stderr
}

#[test]
#[ignore = "needs root, OpenSSH's server and Podman; scripts/test.sh runs it"]
fn remote_engines_over_ssh() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the SSH test runs as root: it logs in as root and as the rootless user"
    );
    let t0 = Instant::now();
    let lap = |what: &str| eprintln!("remote: {what} after {:.1} s", t0.elapsed().as_secs_f64());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sshd = Sshd::start(dir);

    // Host 1: root's Podman, its API on a socket of its own.
    let root_sock = dir.join("root-podman.sock");
    let _root_service = Reaped::spawn(
        Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", root_sock.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for(&root_sock, "root's API socket");

    // Host 2: the rootless user's Podman, under its runtime directory.
    let (user, uid) = rootless_user();
    // useradd leaves the account locked ("!" for a password), and sshd refuses
    // a locked account even a key; "*" allows key logins and no password.
    let shadow = std::fs::read_to_string("/etc/shadow").unwrap();
    let _unlocked = shadow
        .lines()
        .any(|l| l.starts_with(&format!("{user}:!")))
        .then(|| Unlocked::new(&user));
    let run_dir = PathBuf::from(format!("/run/user/{uid}"));
    let user_sock = run_dir.join("podman/rigbench-remote-test.sock");
    let _ = std::fs::remove_file(&user_sock);
    sh(Command::new("runuser")
        .args(["-u", &user, "--", "mkdir", "-p"])
        .arg(run_dir.join("podman")));
    let user_service = user_service_on(&user, &run_dir, &user_sock);

    // Podman's own connection list, in a config of the test's (CONTAINERS_CONF).
    let conf = dir.join("containers.conf");
    std::fs::write(
        &conf,
        format!(
            "[engine]\nactive_service = \"gpu-root\"\n\
             [engine.service_destinations.gpu-root]\nuri = \"{}\"\nidentity = \"{}\"\n\
             [engine.service_destinations.gpu-user]\nuri = \"{}\"\nidentity = \"{}\"\n",
            sshd.uri("root", &root_sock),
            dir.join("id").display(),
            sshd.uri(&user, &user_sock),
            dir.join("id").display()
        ),
    )
    .unwrap();
    let cwd = repo();
    let config = sshd.config("config");
    let root_uri = sshd.uri("root", &root_sock);

    lap("hosts up");
    // 1. --host: root's engine over SSH, the same engine as through its socket.
    let via_ssh = doctor_json(&["--host", &root_uri, "--ssh-config", &config], &cwd, None);
    let engine = &via_ssh["engine"]["info"];
    assert_eq!(engine["socket"], root_uri.as_str(), "{engine}");
    assert_eq!(engine["rootless"], false, "{engine}");
    assert_eq!(engine["remote"]["socket_uid"], 0, "{engine}");
    let direct = doctor_json(
        &["--socket", &format!("unix://{}", root_sock.display())],
        &cwd,
        None,
    );
    assert!(direct["engine"]["info"]["remote"].is_null());
    assert!(
        via_ssh["engine"]["bases"]
            .as_array()
            .is_some_and(|b| !b.is_empty())
    );
    assert_eq!(
        via_ssh["engine"]["bases"], direct["engine"]["bases"],
        "the base images seen through the tunnel are the host's"
    );
    // The host's facts and devices were read there, by a probe container
    // (here "there" is this machine: the same facts as read directly).
    let here = Command::new(env!("CARGO_BIN_EXE_rigbench"))
        .arg("host-view")
        .output()
        .unwrap();
    let here: serde_json::Value = serde_json::from_slice(&here.stdout).unwrap();
    let how = via_ssh["host_read"].as_str().unwrap_or_default();
    assert!(
        how.starts_with(&format!("read on {root_uri} by a probe container of ")),
        "{via_ssh}"
    );
    assert_eq!(
        via_ssh["host"], here["facts"],
        "the probe reads the host's own files"
    );
    assert!(direct["host_read"].is_null(), "{direct}");
    assert_eq!(direct["host"], here["facts"]);
    let backends = |d: &serde_json::Value| d["backends"].clone();
    assert_eq!(backends(&via_ssh), backends(&direct));
    let probes = Command::new("podman")
        .args(["ps", "-aq", "--filter", "label=io.rigbench.role=host-probe"])
        .output()
        .unwrap();
    assert!(probes.stdout.is_empty(), "no probe container is left");

    lap("--host");
    // 2. --connection: the rootless user's engine, read from Podman's list.
    let doc = doctor_json(
        &[
            "--connection",
            "gpu-user",
            "--ssh-config",
            &sshd.config("config_known"),
        ],
        &cwd,
        Some(&conf),
    );
    let engine = &doc["engine"]["info"];
    assert_eq!(
        engine["socket"],
        sshd.uri(&user, &user_sock).as_str(),
        "{engine}"
    );
    assert_eq!(engine["rootless"], true, "{engine}");
    assert_eq!(engine["remote"]["connection"], "gpu-user", "{engine}");
    assert_eq!(engine["remote"]["socket_uid"], uid, "{engine}");
    // The rootless user's engine reads the host too (its probe unprivileged).
    assert!(
        doc["host_read"]
            .as_str()
            .is_some_and(|h| h.contains("by a probe container of")),
        "{doc}"
    );
    assert_eq!(doc["host"]["kernel"], here["facts"]["kernel"]);
    assert_eq!(doc["host"]["hostname"], here["facts"]["hostname"]);
    assert_eq!(doc["host"]["cpu"], here["facts"]["cpu"]);

    lap("--connection");
    // The plan's model put on the rootless user's host as a volume, copied
    // through the API and checked by its sha256 there; again: already there.
    let user_uri = sshd.uri(&user, &user_sock);
    let hosts = Hosts {
        conf: &conf,
        config: &config,
        user: &user,
        uid,
        run_dir: &run_dir,
        user_sock: &user_sock,
        root_uri: &root_uri,
        user_uri: &user_uri,
    };
    let user_podman = |args: &[&str]| hosts.user_podman(args);
    let volume = "rigbench-model-a5fd3b62230aa5ec";
    let _ = user_podman(&["volume", "rm", "-f", volume]);
    let prepare_plan = |plan: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_rigbench"))
            .env("CONTAINERS_CONF", &conf)
            .current_dir(&cwd)
            .args([
                "--connection",
                "gpu-user",
                "--ssh-config",
                &sshd.config("config_known"),
            ])
            .args(["model", "prepare", "--plan", plan])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let prepare = || prepare_plan("plans/default.toml");
    let first = prepare();
    let said = format!(
        "gemma-3-270m-q4_k_m: on {} in volume {volume} as gemma-3-270m-q4_k_m.gguf (copied through the API; sha256 checked there)",
        sshd.uri(&user, &user_sock)
    );
    assert!(first.contains(&said), "{first}");
    assert!(prepare().contains("(already there; sha256 checked there)"));
    let labels = user_podman(&["volume", "inspect", volume, "--format", "{{.Labels}}"]);
    assert!(
        String::from_utf8_lossy(&labels.stdout)
            .contains("a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"),
        "{labels:?}"
    );
    let leftovers = user_podman(&["ps", "-aq", "--filter", "label=io.rigbench.managed"]);
    assert!(leftovers.stdout.is_empty(), "no helper container is left");
    // The volume stays for the run below, which finds the model there.

    // A synthetic model of a type rigbench writes (Q8_0) made there, not
    // here: the same bytes as `model synth` makes here; again: already there.
    let shape = dir.join("tiny-shape.toml");
    std::fs::write(
        &shape,
        "base = \"gemma3-270m\"\nblock_count = 1\nvocab_size = 1024\n",
    )
    .unwrap();
    let here = dir.join("tiny-q8_0.gguf");
    common::rigbench_ok(
        &[
            "model",
            "synth",
            "--shape",
            shape.to_str().unwrap(),
            "--quant",
            "q8_0",
            "--out",
            here.to_str().unwrap(),
        ],
        &cwd,
    );
    let sha = rigbench::hash::sha256_file(&here).unwrap();
    let default = std::fs::read_to_string(cwd.join("plans/default.toml")).unwrap();
    let with_synthetic = dir.join("with-synthetic.toml");
    std::fs::write(
        &with_synthetic,
        format!(
            "{default}\n[[models]]\nname = \"synthetic-q8\"\n\
             synthetic = {{ shape = {{ base = \"gemma3-270m\", block_count = 1, vocab_size = 1024 }}, quant = \"q8_0\" }}\n"
        ),
    )
    .unwrap();
    // None made there before (a run cut short leaves them).
    let before = user_podman(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        "label=io.rigbench.synthetic",
    ]);
    for v in String::from_utf8_lossy(&before.stdout).split_whitespace() {
        let _ = user_podman(&["volume", "rm", "-f", v]);
    }
    let made = prepare_plan(with_synthetic.to_str().unwrap());
    let in_volume = |made: &str, how: &str| {
        let key_line = made
            .lines()
            .find(|l| l.starts_with("synthetic-q8: on "))
            .unwrap_or_else(|| panic!("{made}"))
            .to_string();
        assert!(
            key_line.contains(&format!("({how}; sha256 {sha} checked there)"))
                && key_line.contains(" in volume rigbench-synth-")
                && key_line.contains(&user_uri),
            "{key_line}"
        );
    };
    in_volume(&made, "made there");
    in_volume(
        &prepare_plan(with_synthetic.to_str().unwrap()),
        "already there",
    );

    lap("model prepare");
    // CONTAINER_HOST in Podman's ssh:// form is the same remote engine, read
    // with --ssh-config; DOCKER_HOST's ssh:// (Docker's, no path) is passed
    // over for this machine's engine.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rigbench"));
    let out = cmd
        .env("CONTAINER_HOST", &root_uri)
        .current_dir(&cwd)
        .args(["--ssh-config", &config, "doctor", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["engine"]["info"]["socket"], root_uri.as_str(), "{doc}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rigbench"));
    let out = cmd
        .env("DOCKER_HOST", "ssh://someone@docker-host")
        .env_remove("CONTAINER_HOST")
        .current_dir(&cwd)
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let local = &doc["engine"]["info"];
    assert!(
        local["socket"].as_str().unwrap().starts_with("unix://"),
        "{doc}"
    );
    assert!(local["remote"].is_null(), "{doc}");

    lap("CONTAINER_HOST");
    // 3. Bad input: each an error naming it and saying what to do, before any work.
    let plan = repo().join("plans/default.toml");
    let plan = plan.to_str().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rigbench"));
    let out = cmd
        .env("CONTAINERS_CONF", &conf)
        .current_dir(&cwd)
        .args(["--connection", "w7900", "build", "--plan", plan])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--connection w7900: Podman knows no connection of that name")
            && stderr.contains("gpu-root (default), gpu-user")
            && stderr.contains("podman system connection add w7900"),
        "{stderr}"
    );
    fails_saying(
        &build_on(&root_uri, &sshd.config("config_refused"), plan),
        &cwd,
        &[&root_uri, "refused the key", "authorized_keys"],
    );
    fails_saying(
        &build_on(&root_uri, &sshd.config("config_unknown"), plan),
        &cwd,
        &[
            &root_uri,
            "not in known_hosts",
            "never skips that check",
            &format!("ssh-keyscan -p {} 127.0.0.1", sshd.port),
        ],
    );
    let missing = sshd.uri("root", &dir.join("no-such/podman.sock"));
    fails_saying(
        &build_on(&missing, &config, plan),
        &cwd,
        &[&missing, "there is no socket at", "no-such/podman.sock"],
    );
    let hidden = sshd.uri(&user, &root_sock);
    fails_saying(
        &build_on(&hidden, &config, plan),
        &cwd,
        &[
            &hidden,
            "cannot be used by the user logged in",
            "socket's owner",
        ],
    );
    fails_saying(
        &[
            "--host",
            "ssh://-oProxyCommand=true/x.sock",
            "build",
            "--plan",
            plan,
        ],
        &cwd,
        &["not an SSH address"],
    );
    fails_saying(
        &["--host", "ssh://127.0.0.1", "build", "--plan", plan],
        &cwd,
        &[
            "ssh://127.0.0.1: not an SSH address",
            "ssh://[USER@]HOST[:PORT]/PATH",
        ],
    );

    lap("bad input");
    // 4. One plan on both hosts at once; the rootless host's service killed
    // mid-run: engine_lost there alone, and --resume finishes it.
    let user_service = two_hosts_at_once(&hosts, dir, &cwd, user_service);
    drop(user_service);
    // The copies and the model's volume gone: the user's store reset, as
    // tests/rootless.rs leaves it.
    assert!(
        hosts
            .user_podman(&["system", "reset", "--force"])
            .status
            .success()
    );
    let _ = std::fs::remove_file(&user_sock);
}
