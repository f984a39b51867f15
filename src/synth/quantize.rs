//! The file types rigbench does not write (Q4_K_M, Q5_K_M, …) are made by
//! llama.cpp's own `llama-quantize`, inside the pinned image, from the Q8_0
//! file rigbench wrote (`--allow-requantize`: the values are on Q8_0's grid
//! already, and random, so nothing is lost that mattered). The image's
//! llama-quantize chooses every tensor's type, as for a real model. Its
//! output is the same wherever the same binary runs; an image compiled for
//! another CPU (`GGML_NATIVE`) may round its float code differently, so the
//! record names the image, and a mismatch says so.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::Quant;
use crate::engine::{Bind, ContainerSpec, Engine, run_to_completion};

/// Where the container sees the input and writes the output.
pub const IN: &str = "/rigbench/in";
pub const OUT: &str = "/rigbench/out";

/// How llama-quantize made a file: recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QuantizeRecord {
    /// The image it ran in (tag and id).
    pub image: String,
    pub image_id: String,
    /// The llama.cpp commit the image was built from.
    pub llama_cpp_commit: String,
    /// The command, as run in the container.
    pub command: Vec<String>,
    /// The file it started from (rigbench's Q8_0), by SHA-256.
    pub input_sha256: String,
    /// Wall-clock seconds it took.
    pub seconds: f64,
}

/// The command that makes `file` in `q` from `input`, on `threads` threads.
pub fn command(input: &str, file: &str, q: Quant, threads: usize) -> Vec<String> {
    vec![
        "/opt/llama/bin/llama-quantize".to_string(),
        "--allow-requantize".to_string(),
        format!("{IN}/{input}"),
        format!("{OUT}/{file}"),
        q.name().to_string(),
        threads.to_string(),
    ]
}

/// The image llama-quantize runs in.
pub struct Quantizer<'a> {
    pub image: &'a str,
    pub image_id: &'a str,
    pub commit: &'a str,
    pub labels: std::collections::BTreeMap<String, String>,
    /// A GPU image's own devices, driver libraries and environment: its
    /// llama-quantize links the GPU runtime (libcuda.so.1 from the host's
    /// driver) even though it computes on the CPU, and without them does not
    /// start. `None` for a CPU image.
    pub passthrough: Option<&'a crate::host::devices::Passthrough>,
}

/// One file to make.
pub struct Job<'a> {
    /// The file rigbench wrote, and its SHA-256.
    pub input: &'a Path,
    pub input_sha256: &'a str,
    /// Where the made file goes, under what name.
    pub out_dir: &'a Path,
    pub file: &'a str,
    pub quant: Quant,
    pub threads: usize,
}

/// Runs llama-quantize for `job`, writing `out_dir/file`; the file appears
/// there whole or not at all (written in a temporary folder in `out_dir`
/// first).
pub async fn run<E: Engine>(
    engine: &E,
    q: &Quantizer<'_>,
    job: &Job<'_>,
) -> Result<(PathBuf, QuantizeRecord), String> {
    let t0 = Instant::now();
    let Job {
        input,
        input_sha256,
        out_dir,
        file,
        quant,
        threads,
    } = *job;
    let in_dir = input.parent().unwrap_or(Path::new("."));
    let in_name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let work = tempfile::Builder::new()
        .prefix(".rigbench-quantize-")
        .tempdir_in(out_dir)
        .map_err(|e| format!("cannot write in {}: {e}", out_dir.display()))?;
    let cmd = command(&in_name, file, quant, threads);
    let input = Bind {
        host: in_dir.to_path_buf(),
        container: IN.to_string(),
        read_only: true,
        relabel: true,
        recursive: true,
    };
    let output = Bind {
        host: work.path().to_path_buf(),
        container: OUT.to_string(),
        read_only: false,
        relabel: true,
        recursive: true,
    };
    let done = run_to_completion(engine, &spec(q, &cmd, input, output))
        .await
        .map_err(|e| format!("llama-quantize in {}: {e}", q.image))?;
    let made = work.path().join(file);
    if done.status.code != 0 || !made.is_file() {
        return Err(failure(q, &done));
    }
    let dest = out_dir.join(file);
    std::fs::rename(&made, &dest)
        .map_err(|e| format!("cannot move {} into place: {e}", made.display()))?;
    Ok((
        dest,
        record(q, cmd, input_sha256, t0.elapsed().as_secs_f64()),
    ))
}

/// The container that runs `cmd` (`command`'s) in `q`'s image, with its
/// passthrough: the input's folder (or volume) bound at IN read-only, the
/// output's at OUT.
pub fn spec(q: &Quantizer<'_>, cmd: &[String], input: Bind, output: Bind) -> ContainerSpec {
    let spec = ContainerSpec {
        name: format!("rigbench-quantize-{}", crate::engine::unique_suffix()),
        image: q.image_id.to_string(),
        entrypoint: Some(vec![cmd[0].clone()]),
        cmd: cmd[1..].to_vec(),
        binds: vec![
            Bind {
                container: IN.to_string(),
                read_only: true,
                ..input
            },
            Bind {
                container: OUT.to_string(),
                read_only: false,
                ..output
            },
        ],
        labels: q.labels.clone(),
        ..Default::default()
    };
    match q.passthrough {
        Some(p) => p.onto(spec),
        None => spec,
    }
}

/// What a llama-quantize that failed said: its exit and its last lines.
pub fn failure(q: &Quantizer<'_>, done: &crate::engine::Completed) -> String {
    let out = String::from_utf8_lossy(&done.output);
    let tail: Vec<&str> = out.lines().rev().take(15).collect();
    format!(
        "llama-quantize in {} exited with {}{}:\n{}",
        q.image,
        done.status.code,
        if done.status.oom_killed {
            " (killed: out of memory)"
        } else {
            ""
        },
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )
}

/// The record of a llama-quantize that made a file from `input_sha256`'s.
pub fn record(
    q: &Quantizer<'_>,
    command: Vec<String>,
    input_sha256: &str,
    seconds: f64,
) -> QuantizeRecord {
    QuantizeRecord {
        image: q.image.to_string(),
        image_id: q.image_id.to_string(),
        llama_cpp_commit: q.commit.to_string(),
        command,
        input_sha256: input_sha256.to_string(),
        seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::engine::FakeEngine;
    use crate::host::devices::Passthrough;

    /// llama-quantize in a GPU image gets that backend's devices, groups and
    /// driver libraries (a CUDA build's binaries need libcuda.so.1 to start:
    /// on an H100 without them it exited 127); in a CPU image, none.
    #[tokio::test]
    async fn a_gpu_image_quantizes_with_its_passthrough_and_a_cpu_image_without() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("m.q8_0.gguf");
        std::fs::write(&input, b"GGUF").unwrap();
        let gpu = Passthrough {
            devices: vec!["/dev/nvidia0".into(), "/dev/nvidiactl".into()],
            group_add: vec!["44".into()],
            // The fake container exits at once with this code: no file made.
            env: [("FAKE_EXIT_ON_START".to_string(), "1".to_string())].into(),
            mounts: vec![crate::host::nvidia::ReadOnlyMount {
                host: "/usr/lib/x86_64-linux-gnu/libcuda.so.1".into(),
                container: "/usr/lib/x86_64-linux-gnu/libcuda.so.1".into(),
            }],
            ..Default::default()
        };
        let job = Job {
            input: &input,
            input_sha256: "00",
            out_dir: dir.path(),
            file: "m.gguf",
            quant: Quant::Q4KM,
            threads: 2,
        };
        let engine = FakeEngine::default();
        for passthrough in [Some(&gpu), None] {
            let q = Quantizer {
                image: "localhost/rigbench/llama-cuda:x",
                image_id: "sha256:1",
                commit: "c",
                labels: Default::default(),
                passthrough,
            };
            // No file comes out of the fake: an error either way.
            assert!(run(&engine, &q, &job).await.is_err());
        }
        let specs = engine.specs.lock().unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].devices, ["/dev/nvidia0", "/dev/nvidiactl"]);
        assert_eq!(specs[0].group_add, ["44"]);
        let libcuda: Vec<_> = specs[0]
            .binds
            .iter()
            .filter(|b| b.container.ends_with("libcuda.so.1"))
            .collect();
        assert_eq!(libcuda.len(), 1);
        assert!(libcuda[0].read_only);
        // The model's folder and the output folder first, as before.
        assert_eq!(specs[0].binds[0].container, IN);
        assert_eq!(specs[0].binds[1].container, OUT);
        assert!(specs[1].devices.is_empty() && specs[1].group_add.is_empty());
        assert_eq!(specs[1].binds.len(), 2);
    }

    #[test]
    fn the_command_requantizes_the_written_file() {
        assert_eq!(
            command("m.q8_0.gguf", "m.gguf", Quant::Q4KM, 2),
            [
                "/opt/llama/bin/llama-quantize",
                "--allow-requantize",
                "/rigbench/in/m.q8_0.gguf",
                "/rigbench/out/m.gguf",
                "Q4_K_M",
                "2"
            ]
        );
    }
}
