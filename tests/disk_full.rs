//! The disk fills during a real run: the run directory is on a 4 MiB tmpfs that
//! a filler file takes up once the first run is on disk. rigbench stops with an
//! error naming the manifest and the filesystem and saying how to go on, no
//! container of the run is left, the manifest on disk still verifies with every
//! run it held, and once the filler is gone `run --resume` completes the run.
//! Needs root (it mounts a tmpfs), as the suite has on the machines it runs on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{read_manifest, repo, rigbench, rigbench_ok, runs_of};
use rigbench::manifest::store::RunDir;
use rigbench::status::{CellStatus, RunStatus};

/// A tmpfs mounted on a directory of its own, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "mounting a tmpfs needs root: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Tmpfs(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

/// Writes `path` until the filesystem is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0xa5u8; 4096];
    loop {
        match f.write_all(&block) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    let _ = f.sync_all();
}

#[test]
#[ignore = "needs Podman, the model and root: scripts/test.sh runs it"]
fn a_full_disk_stops_the_run_cleanly_and_resume_completes_it() {
    let fs = Tmpfs::mount("4m");
    let out = fs.path().join("run");
    let cwd = tempfile::tempdir().unwrap();
    let plan = repo().join("tests/plans/e2e.toml");
    rigbench_ok(&["build", "--plan", plan.to_str().unwrap()], cwd.path());
    let stderr = cwd.path().join("run.stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rigbench"))
        .args(["run", "--plan", plan.to_str().unwrap(), "--out"])
        .arg(&out)
        .current_dir(cwd.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    // The first run on disk, then the disk is full.
    let deadline = Instant::now() + Duration::from_secs(300);
    let before = loop {
        if let Some(m) = read_manifest(&out.join("manifest.json"))
            && !runs_of(&m).is_empty()
        {
            break runs_of(&m).len();
        }
        assert!(Instant::now() < deadline, "no run recorded in 300 s");
        assert!(child.try_wait().unwrap().is_none(), "rigbench ended early");
        std::thread::sleep(Duration::from_millis(20));
    };
    let filler = fs.path().join("filler");
    fill(&filler);
    let status = child.wait().unwrap();
    let said = std::fs::read_to_string(&stderr).unwrap();
    eprintln!("--- the run on a full disk ({status}):\n{said}");
    assert!(!status.success());
    let manifest = out.join("manifest.json");
    assert!(
        said.contains(&format!(
            "rigbench: error: {}: no space left on the filesystem that holds {}",
            manifest.display(),
            out.display()
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!("rigbench run --resume {}", out.display())),
        "{said}"
    );
    // No temporary file of a torn write is left, and the manifest verifies.
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".tmp")), "{names:?}");
    let verified = rigbench_ok(&["verify", out.to_str().unwrap()], cwd.path());
    assert!(String::from_utf8_lossy(&verified.stdout).contains(": ok: manifest integrity"));
    let m = RunDir::open(&out).load().unwrap();
    assert!(runs_of(&m).len() >= before);
    assert_ne!(m.status, RunStatus::Complete);
    // Nothing of the run goes on running.
    let ps = Command::new("podman")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.rigbench.run={}", m.run_id),
        ])
        .output()
        .unwrap();
    assert!(
        ps.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&ps.stdout)
    );

    // Space freed: the run goes on where its manifest stopped.
    std::fs::remove_file(&filler).unwrap();
    let r = rigbench(&["run", "--resume", out.to_str().unwrap()], cwd.path());
    let resumed = String::from_utf8_lossy(&r.stderr);
    eprintln!("--- run --resume:\n{resumed}");
    assert!(r.status.success(), "{resumed}");
    let m = RunDir::open(&out).load().unwrap();
    assert_eq!(m.status, RunStatus::Complete);
    for c in &m.cells {
        assert_eq!(c.status, CellStatus::Ok, "{}: {:?}", c.id, c.failure);
    }
    assert_eq!(m.resumes.len(), 1);
}
