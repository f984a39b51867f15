//! scripts/setup.sh on other hosts, as far as this machine allows: its dry mode
//! (`RIGBENCH_SETUP_DRY_RUN=1`, nothing changed, each change printed) given
//! Fedora's, Ubuntu's and Arch's os-release (tests/fixtures/os-release) and a
//! PATH without Podman, and on this machine once setup has prepared it (a
//! host that needs nothing is not changed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::repo;

/// A directory of links to the tools setup.sh uses, Podman and the package
/// managers left out: a host where those are missing.
fn bare_path(dir: &Path) -> String {
    for tool in [
        "bash", "awk", "grep", "stat", "id", "cat", "tr", "cut", "getent", "uname", "mktemp",
        "timeout", "sed", "head", "env", "sudo",
    ] {
        if let Ok(p) = which(tool) {
            std::os::unix::fs::symlink(p, dir.join(tool)).unwrap();
        }
    }
    dir.to_string_lossy().into_owned()
}

fn which(tool: &str) -> Result<String, ()> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map_err(|_| ())?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && p.starts_with('/') {
        Ok(p)
    } else {
        Err(())
    }
}

/// Runs setup.sh in dry mode with `os_release` and `path`; (exit code, stderr).
fn dry_run(os_release: &str, path: &str, extra: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(repo().join("scripts/setup.sh"));
    cmd.env("RIGBENCH_SETUP_DRY_RUN", "1")
        .env("RIGBENCH_OS_RELEASE", os_release)
        .env("PATH", path);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("--- setup.sh ({os_release})\n{err}");
    (out.status.code(), err)
}

fn fixture(name: &str) -> String {
    repo()
        .join("tests/fixtures/os-release")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn on_fedora_it_would_install_with_dnf_and_prepare_a_rootless_user() {
    let bin = tempfile::tempdir().unwrap();
    let path = bare_path(bin.path());
    let user = ("RIGBENCH_ROOTLESS_USER", "rigbench-no-such-user");
    let (code, err) = dry_run(&fixture("fedora-43"), &path, &[user]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("package manager: dnf"), "{err}");
    assert!(err.contains("would: dnf install -y -q podman"), "{err}");
    assert!(
        err.contains("would: useradd -m -s /bin/bash rigbench-no-such-user"),
        "{err}"
    );
    // newuidmap is Fedora's shadow-utils.
    assert!(
        err.contains("would: dnf install -y -q shadow-utils"),
        "{err}"
    );
    assert!(
        err.contains("would: append rigbench-no-such-user:")
            && err.contains(":65536 to /etc/subuid"),
        "{err}"
    );
    assert!(!err.contains("apt-get"), "{err}");
    assert!(err.contains("dry run done: nothing was changed"), "{err}");
}

#[test]
fn on_ubuntu_it_would_use_apt_and_elsewhere_it_says_what_to_install() {
    let bin = tempfile::tempdir().unwrap();
    let path = bare_path(bin.path());
    let (code, err) = dry_run(&fixture("ubuntu-24.04"), &path, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("would: env DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman"),
        "{err}"
    );

    let (code, err) = dry_run(&fixture("arch"), &path, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("this script knows apt-get (Debian, Ubuntu) and dnf (Fedora, RHEL)")
            && err.contains("pacman -S podman"),
        "{err}"
    );
}

#[test]
#[ignore = "needs the host prepared by scripts/setup.sh: scripts/test.sh runs it"]
fn a_prepared_host_needs_nothing() {
    let path = std::env::var("PATH").unwrap();
    let (code, err) = dry_run("/etc/os-release", &path, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        !err.contains("would:"),
        "a prepared host was to be changed:\n{err}"
    );
}
