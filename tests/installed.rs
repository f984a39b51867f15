//! rigbench as an installed binary, away from any checkout: built-in plans and
//! references by name, the shell completions and the man pages it generates
//! (bash's tried for real; zsh's and fish's checked by those shells where the
//! test command installed them; the pages rendered by man).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary copied into a directory with nothing else: no plans/, no
/// references/, no images/ beside it or under the working directory.
fn installed(dir: &Path) -> PathBuf {
    let bin = dir.join("bin/rigbench");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_rigbench"), &bin).unwrap();
    // Another test thread's fork may briefly hold the copy open for writing
    // (until its exec closes it): executing it then fails with ETXTBSY.
    for _ in 0..100 {
        match Command::new(&bin).arg("--version").output() {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            _ => break,
        }
    }
    bin
}

fn run(bin: &Path, args: &[&str], cwd: &Path) -> Output {
    common::run_binary(bin, args, cwd)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn built_in_plans_and_references_by_name_need_no_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let bin = installed(dir.path());
    let cwd = dir.path();
    let o = run(
        &bin,
        &["run", "--plan", "strix-halo-2026-05", "--dry-run"],
        cwd,
    );
    assert!(o.status.success());
    assert!(
        stdout(&o).starts_with(
            "plan strix-halo-2026-05 (built-in strix-halo-2026-05 (plans/strix-halo-2026-05.toml))"
        ),
        "{}",
        stdout(&o)
    );
    let o = run(&bin, &["reference", "show", "strix-halo-2026-05"], cwd);
    assert!(o.status.success());
    assert!(stdout(&o).contains("rerun with: rigbench run --plan strix-halo-2026-05\n"));
    let o = run(&bin, &["reference", "show", "h200-gemma3-270m"], cwd);
    assert!(stdout(&o).contains("rerun with: rigbench run --plan h200-cuda\n"));
    // Every plan a reference names is built in.
    let o = run(&bin, &["run", "--plan", "h200-cuda", "--print-plan"], cwd);
    assert!(o.status.success() && stdout(&o).contains("name = \"h200-cuda\""));
    // A name that is neither a file nor built in: the names, and what to give.
    let o = run(&bin, &["run", "--plan", "strix-halo", "--dry-run"], cwd);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("plan strix-halo: --plan: no such file, and not a built-in plan (built-in: default, strix-halo-2026-05, h200-cuda)"),
        "{err}"
    );
    // A file of that name here wins over the built-in.
    let text = std::fs::read_to_string(common::repo().join("tests/plans/e2e.toml")).unwrap();
    std::fs::write(cwd.join("h200-cuda"), text).unwrap();
    let o = run(&bin, &["run", "--plan", "h200-cuda", "--dry-run"], cwd);
    assert!(
        stdout(&o).starts_with("plan e2e (h200-cuda)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bash_completes_subcommands_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let bin = installed(dir.path());
    let o = run(&bin, &["completions", "bash"], dir.path());
    assert!(o.status.success());
    let script = dir.path().join("rigbench.bash");
    std::fs::write(&script, &o.stdout).unwrap();
    let complete = |words: &str, cword: usize| {
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; _rigbench rigbench \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let subs = complete("rigbench co", 1);
    for s in ["compare", "completions"] {
        assert!(subs.lines().any(|l| l == s), "{s} not offered: {subs}");
    }
    let opts = complete("rigbench compare --fa", 2);
    assert!(opts.lines().any(|l| l == "--fail-on"), "{opts}");
    let values = complete("rigbench compare a b --fail-on ''", 5);
    for v in ["slower", "changed", "any"] {
        assert!(values.lines().any(|l| l == v), "{v} not offered: {values}");
    }
}

#[test]
fn the_man_pages_render() {
    let dir = tempfile::tempdir().unwrap();
    let bin = installed(dir.path());
    let man1 = dir.path().join("man1");
    let o = run(&bin, &["man", "--out", man1.to_str().unwrap()], dir.path());
    assert!(o.status.success());
    let mut pages: Vec<String> = std::fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert!(
        pages.contains(&"rigbench.1".to_string()) && pages.contains(&"rigbench-list.1".to_string())
    );
    for page in ["rigbench.1", "rigbench-run.1"] {
        let out = Command::new("man")
            .args(["--warnings", "-l", "-P", "cat"])
            .arg(man1.join(page))
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && warnings.trim().is_empty(),
            "{page}: {warnings}"
        );
        assert!(
            text.contains("NAME") && text.contains("OPTIONS"),
            "{page}: {text}"
        );
    }
    let top =
        String::from_utf8_lossy(&std::fs::read(man1.join("rigbench.1")).unwrap()).into_owned();
    assert!(
        top.contains("130  interrupted"),
        "the exit codes are in rigbench(1)"
    );
}

#[test]
#[ignore = "needs zsh and fish: scripts/test.sh installs them"]
fn zsh_and_fish_read_their_completions() {
    let dir = tempfile::tempdir().unwrap();
    let bin = installed(dir.path());
    for (shell, check) in [("zsh", vec!["-n"]), ("fish", vec!["--no-execute"])] {
        let o = run(&bin, &["completions", shell], dir.path());
        let file = dir.path().join(format!("rigbench.{shell}"));
        std::fs::write(&file, &o.stdout).unwrap();
        let out = Command::new(shell)
            .args(&check)
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // fish completes from the script for real.
    let script = dir.path().join("rigbench.fish");
    let out = Command::new("fish")
        .args([
            "-c",
            &format!(
                "source {}; complete -C 'rigbench compare a b --fail-on '",
                script.display()
            ),
        ])
        .output()
        .unwrap();
    let offered = String::from_utf8_lossy(&out.stdout);
    for v in ["slower", "changed", "any"] {
        assert!(offered.lines().any(|l| l.starts_with(v)), "{v}: {offered}");
    }
}

#[test]
fn dry_run_and_references_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let bin = installed(dir.path());
    let host = common::repo().join("tests/fixtures/hosts/strix-halo");
    let o = run(
        &bin,
        &[
            "run",
            "--plan",
            "strix-halo-2026-05",
            "--dry-run",
            "--json",
            "--host-root",
            host.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["plan"]["name"], "strix-halo-2026-05");
    let starts = v["server_starts"].as_array().unwrap();
    let cells: usize = starts
        .iter()
        .map(|s| s["cells"].as_array().unwrap().len())
        .sum();
    assert_eq!(v["cells"].as_u64(), Some(cells as u64));
    assert!(cells > 0);
    assert!(
        starts
            .iter()
            .all(|s| s["server_argv"].as_array().is_some_and(|a| !a.is_empty()))
    );
    assert!(v["estimate_s"]["total"].as_f64().unwrap() > 0.0);
    assert_eq!(
        v["passthroughs"]["rocm6"]["devices"],
        serde_json::json!(["/dev/kfd", "/dev/dri/renderD128"])
    );

    let o = run(&bin, &["reference", "list", "--json"], dir.path());
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["strix-halo-2026-05", "h200-gemma3-270m", "h100-study"]
    );
    let o = run(
        &bin,
        &["reference", "show", "strix-halo-2026-05", "--json"],
        dir.path(),
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["plan"], "strix-halo-2026-05");
    assert_eq!(
        r["cells"].as_array().unwrap().len(),
        list[0]["cells"].as_u64().unwrap() as usize
    );
}
