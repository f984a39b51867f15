//! rigbench under rootless Podman, for real: as the unprivileged user
//! scripts/setup.sh prepared (`RIGBENCH_ROOTLESS_USER`, subordinate ids; the
//! test command sets it), with that user's own image store, cache and run
//! directory. `doctor` and a run through the private API service rigbench
//! starts as the user; the user's own service found at
//! `$XDG_RUNTIME_DIR/podman/podman.sock`; a run killed with `kill -9` and
//! resumed; `cleanup`; `list`. The CPU image the suite builds (as root) is
//! copied into the user's store with `podman save | podman load` (the same
//! bytes, so the run reuses it by its inputs label), and the model and source
//! are copied into the user's cache: a rootless image build of the CPU image
//! takes minutes (335 s measured here) and is not repeated by every suite run.
//! The user's store is reset at the end, so the suite does not grow it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{manifest_json, read_manifest, repo, rigbench_ok, runs_of};
use rigbench::status::{CellStatus, RunStatus};

/// The prepared user: name, uid, gid, home.
struct User {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

/// The user to run as: `RIGBENCH_ROOTLESS_USER` when the test runs as root,
/// else the user running it (the whole suite is rootless then).
fn user() -> User {
    let name = if rustix::process::geteuid().is_root() {
        std::env::var("RIGBENCH_ROOTLESS_USER").expect(
            "RIGBENCH_ROOTLESS_USER names the user scripts/setup.sh prepared for rootless Podman (scripts/test.sh sets it)",
        )
    } else {
        let out = Command::new("id").arg("-un").output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let id = |flag: &str| {
        let out = Command::new("id").args([flag, &name]).output().unwrap();
        assert!(
            out.status.success(),
            "no user {name}: run scripts/setup.sh with RIGBENCH_ROOTLESS_USER={name}"
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u32>()
            .unwrap()
    };
    let passwd = Command::new("getent")
        .args(["passwd", &name])
        .output()
        .unwrap();
    let home = String::from_utf8_lossy(&passwd.stdout)
        .trim()
        .split(':')
        .nth(5)
        .unwrap()
        .to_string();
    User {
        uid: id("-u"),
        gid: id("-g"),
        home: PathBuf::from(home),
        name,
    }
}

impl User {
    /// Where a login would put `XDG_RUNTIME_DIR` (setup.sh makes it).
    fn runtime_dir(&self) -> PathBuf {
        PathBuf::from(format!("/run/user/{}", self.uid))
    }

    /// `args` run as the user with a clean login-like environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = if rustix::process::geteuid().is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", &self.name, "--", "env", "-i"]);
            c
        } else {
            let mut c = Command::new("env");
            c.arg("-i");
            c
        };
        cmd.arg(format!("HOME={}", self.home.display()))
            .arg(format!("USER={}", self.name))
            .arg(format!("LOGNAME={}", self.name))
            .arg("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .arg(format!("XDG_RUNTIME_DIR={}", self.runtime_dir().display()));
        cmd.args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        eprintln!(
            "$ ({}) {}\n--- stdout\n{}--- stderr\n{}--- {}",
            self.name,
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status
        );
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "as {}: {} failed",
            self.name,
            args.join(" ")
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    fn chown(&self, path: &Path) {
        if !rustix::process::geteuid().is_root() {
            return;
        }
        let status = Command::new("chown")
            .args(["-R", &format!("{}:{}", self.uid, self.gid)])
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// `podman save IMAGE | podman load` into the user's store.
fn copy_image(u: &User, image: &str) {
    common::save_into(image, &mut u.command(&["podman", "load", "-q"]));
}

fn exists_as_root(image: &str) -> bool {
    Command::new("podman")
        .args(["image", "exists", image])
        .status()
        .is_ok_and(|s| s.success())
}

/// Copies `from` (a file in root's cache) to the same place under `to`.
fn copy_into(from: &Path, root_cache: &Path, to: &Path) {
    let dest = to.join(from.strip_prefix(root_cache).unwrap());
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(from, &dest).unwrap();
}

#[test]
#[ignore = "needs root, Podman, a user prepared for rootless Podman and the model: scripts/test.sh runs it"]
fn rootless_doctor_run_kill_resume_cleanup_and_list() {
    let u = user();
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    // As root: the e2e plan's image, model and source, as the other tests have them.
    let plan_src = repo().join("tests/plans/e2e.toml");
    let built = rigbench_ok(
        &["build", "--plan", plan_src.to_str().unwrap()],
        work.path(),
    );
    let table = String::from_utf8_lossy(&built.stdout);
    let image = regex::Regex::new(r"localhost/rigbench/llama-cpu:[0-9a-f]+")
        .unwrap()
        .find(&table)
        .expect("build printed the image tag")
        .as_str()
        .to_string();
    let plan = rigbench::plan::load(&plan_src, 2).unwrap();
    let root_cache = rigbench::cache::Cache::locate(None);
    let (model, source) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut f = rigbench::fetch::Fetcher::new(&root_cache).unwrap();
        let model = f.model(&plan.models[0]).await.unwrap().path;
        let source = f.source(&plan.sources[0]).await.unwrap().path;
        (model, source)
    });

    // The user's copy: binary, plan, cache (model and source), image and base.
    let bin = work.path().join("rigbench");
    std::fs::copy(env!("CARGO_BIN_EXE_rigbench"), &bin).unwrap();
    let user_plan = work.path().join("e2e.toml");
    std::fs::copy(&plan_src, &user_plan).unwrap();
    let cache = work.path().join("cache");
    copy_into(&model, root_cache.root(), &cache);
    copy_into(&source, root_cache.root(), &cache);
    u.chown(work.path());
    // What an earlier, failed run of this test may have left: the user's API
    // service, containers, images.
    let _ = Command::new("pkill")
        .args([
            "-KILL",
            "-u",
            &u.uid.to_string(),
            "-f",
            "podman system service",
        ])
        .status();
    let _ = std::fs::remove_file(u.runtime_dir().join("podman/podman.sock"));
    u.ok(&["podman", "system", "reset", "--force"]);
    for base in [
        "localhost/rigbench/debian:trixie",
        rigbench::backend::PINNED_DEBIAN,
    ] {
        if exists_as_root(base) {
            copy_image(&u, base);
        }
    }
    copy_image(&u, &image);

    let rb = bin.to_str().unwrap();
    let cache_arg = cache.to_str().unwrap();
    let runs = work.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    u.chown(&runs);
    let out_a = runs.join("a");
    let flags = ["--runs", "2", "--rounds", "1"];

    // 1. doctor and a run through the private service rigbench starts as the user.
    let doctor = u.ok(&[rb, "--cache-dir", cache_arg, "doctor"]);
    assert!(
        doctor.contains("API service started by rigbench"),
        "{doctor}"
    );
    assert!(doctor.contains(", rootless"), "{doctor}");
    let mut args = vec![rb, "--cache-dir", cache_arg, "run", "--plan"];
    args.extend([
        user_plan.to_str().unwrap(),
        "--out",
        out_a.to_str().unwrap(),
    ]);
    args.extend(flags);
    let ran = u.ok(&args);
    assert!(ran.contains(&format!("reusing {image}")), "{ran}");
    assert!(
        ran.contains("rootless at unix:///tmp/rigbench-podman-"),
        "{ran}"
    );
    rigbench::manifest::integrity::verify(&manifest_json(&out_a)).unwrap();
    let m = read_manifest(&out_a.join("manifest.json")).unwrap();
    let engine = m.engine.as_ref().unwrap();
    assert_eq!(engine.rootless, Some(true));
    assert!(engine.service_started_by_rigbench);
    assert_eq!(m.status, RunStatus::Complete);
    assert!(m.cells.iter().all(|c| c.status == CellStatus::Ok));
    // Written by the user, not root.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(out_a.join("manifest.json"))
            .unwrap()
            .uid(),
        u.uid
    );

    // 2. The user's own API service, found at $XDG_RUNTIME_DIR/podman/podman.sock.
    let sock = u.runtime_dir().join("podman/podman.sock");
    u.ok(&[
        "mkdir",
        "-p",
        u.runtime_dir().join("podman").to_str().unwrap(),
    ]);
    let mut service = u
        .command(&[
            "podman",
            "system",
            "service",
            "--time=0",
            &format!("unix://{}", sock.display()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // In a group of its own, so that the end kills the service itself:
        // runuser does not pass SIGKILL on to it.
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sock.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let doctor = u.ok(&[rb, "--cache-dir", cache_arg, "doctor"]);
    assert!(
        doctor.contains(&format!("at unix://{}", sock.display())),
        "{doctor}"
    );
    assert!(!doctor.contains("started by rigbench"), "{doctor}");

    // 3. kill -9 mid-run (through the user's service), then resume.
    let out_b = runs.join("b");
    let mut args = vec![rb, "--cache-dir", cache_arg, "run", "--plan"];
    args.extend([
        user_plan.to_str().unwrap(),
        "--out",
        out_b.to_str().unwrap(),
    ]);
    args.extend(flags);
    let mut child = u
        .command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let n = read_manifest(&out_b.join("manifest.json")).map_or(0, |m| runs_of(&m).len());
        if n >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run recorded {n} runs in 300 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pgid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL).unwrap();
    child.wait().unwrap();
    let killed = read_manifest(&out_b.join("manifest.json")).unwrap();
    assert_eq!(killed.status, RunStatus::Running);
    let resumed = u.ok(&[
        rb,
        "--cache-dir",
        cache_arg,
        "run",
        "--resume",
        out_b.to_str().unwrap(),
    ]);
    assert!(
        resumed.contains("resumed: 1 leftover container(s) removed"),
        "{resumed}"
    );
    let m = read_manifest(&out_b.join("manifest.json")).unwrap();
    assert_eq!(m.status, RunStatus::Complete);
    assert_eq!(m.resumes.len(), 1);
    assert!(
        m.cells
            .iter()
            .all(|c| c.status == CellStatus::Ok && c.measured_runs() == 2)
    );

    // 4. cleanup leaves no rigbench container in the user's store; list shows both.
    let cleaned = u.ok(&[rb, "cleanup"]);
    eprintln!("{cleaned}");
    let ps = u.ok(&[
        "podman",
        "ps",
        "-a",
        "-q",
        "--filter",
        "label=io.rigbench.run",
    ]);
    assert!(ps.trim().is_empty(), "containers left: {ps}");
    let listed = u.ok(&[rb, "list", runs.to_str().unwrap()]);
    for dir in [&out_a, &out_b] {
        let line = listed
            .lines()
            .find(|l| l.contains(&format!("| {} ", dir.display())))
            .unwrap_or_else(|| panic!("{} not listed: {listed}", dir.display()));
        assert!(
            line.contains("| complete |") && line.contains("| ok "),
            "{line}"
        );
    }
    eprintln!("{listed}");

    // The user's service stopped, its store reset: the suite leaves nothing.
    if let Some(group) = i32::try_from(service.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = service.wait();
    u.ok(&["podman", "system", "reset", "--force"]);
}
