//! Records the git commit rigbench is built from (`RIGBENCH_GIT_COMMIT`: the
//! full hash, with `-dirty` when tracked files differ from it, or `unknown`
//! outside a git checkout, as from a crates.io archive), for `--version` and
//! the manifest's `tool.commit`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    // A commit, a checkout or a staged change moves HEAD or the index; an edit
    // to a source file reruns this through `src`.
    for path in [
        ".git/HEAD",
        ".git/index",
        ".git/refs",
        ".git/packed-refs",
        "src",
        "build.rs",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
    let commit = match git(&["rev-parse", "HEAD"]) {
        Some(c) if !c.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            format!("{c}{}", if dirty { "-dirty" } else { "" })
        }
        _ => "unknown".to_string(),
    };
    println!("cargo:rustc-env=RIGBENCH_GIT_COMMIT={commit}");
}
