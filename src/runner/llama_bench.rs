//! llama-bench in the same images as the server cells: one container per run
//! the matrix holds (a backend's source on a model it has cells of), its flags mapped to what that image's llama-bench accepts, its raw
//! JSON kept in the manifest. A failure is recorded and the next run goes on.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::RunError;
use super::{Runner, failure};
use crate::engine::{
    ContainerSpec, Engine, LABEL_MANAGED, LABEL_ROLE, LABEL_RUN, run_to_completion,
};
use crate::llama_bench::{Flags, Settings, args, parse_output};
use crate::manifest::recorder::Recorder;
use crate::manifest::{Failure, LlamaBenchRecord};
use crate::plan::llama_bench::Run;
use crate::plan::matrix::Matrix;
use crate::status::{CellStatus, FailureMode};

impl<E: Engine> Runner<'_, E> {
    /// Runs each of the matrix's llama-bench runs whose backend was prepared
    /// and that has no record yet (a resume), saving the manifest after each.
    pub async fn run_llama_bench(
        &self,
        m: &mut Recorder<'_>,
        matrix: &Matrix,
    ) -> Result<(), RunError> {
        let Some(settings) = m.plan.llama_bench.clone() else {
            return Ok(());
        };
        for what in &matrix.llama_bench {
            let Some(prepared) = self.backends.get(&(what.backend, what.source)) else {
                continue;
            };
            // Already run (before a resume): not again.
            if m.llama_bench
                .iter()
                .any(|r| r.is_of(what.backend, &what.source_name, &what.model_name))
            {
                continue;
            }
            log::info!("llama-bench {}", what.name);
            self.bench_model(m, &settings, what, prepared).await?;
        }
        Ok(())
    }

    /// llama-bench of one backend's image (of one source) on one model: its
    /// flags read from that image's `--help`, the run, its record and log.
    async fn bench_model(
        &self,
        m: &mut Recorder<'_>,
        settings: &Settings,
        what: &Run,
        prepared: &super::Prepared,
    ) -> Result<(), RunError> {
        let labels = BTreeMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_RUN.to_string(), self.run_id.to_string()),
            (LABEL_ROLE.to_string(), "llama-bench".to_string()),
        ]);
        let base = ContainerSpec {
            name: format!("rigbench-{}-bench-{}", self.run_id, what.name),
            image: prepared.image_id.clone(),
            entrypoint: Some(vec!["/opt/llama/bin/llama-bench".to_string()]),
            cmd: vec!["--help".to_string()],
            labels,
            read_only_root: what.backend.read_only_root(),
            tmpfs: if what.backend.read_only_root() {
                crate::engine::scratch_dirs()
            } else {
                Vec::new()
            },
            ..ContainerSpec::default()
        };
        let help = self.help(&base, prepared).await;
        let container_model = format!("/models/{}", what.model_file);
        let (argv, notes) = args(
            settings,
            Flags::from_help(&help),
            &container_model,
            what.gpu_layers,
        );
        let spec = prepared.passthrough.onto(ContainerSpec {
            cmd: argv.clone(),
            binds: self.model_files[what.model].binds(),
            init: true,
            ..base
        });
        let log_rel = format!("logs/llama-bench.{}.log", what.name);
        let t = Instant::now();
        let driver = prepared.passthrough.vulkan_driver;
        let (status, failure, results, log) =
            judged(driver, self.bench_once(&spec, settings.timeout_s).await);
        let _ = std::fs::write(self.dir.root().join(&log_rel), &log);
        Ok(m.record_llama_bench(LlamaBenchRecord {
            backend: what.backend,
            source: what.source_name.clone(),
            model: what.model_name.clone(),
            argv,
            notes,
            status,
            failure,
            results,
            seconds: t.elapsed().as_secs_f64(),
            log: log_rel,
        })?)
    }

    /// llama-bench's `--help` in the image, with the backend's devices and
    /// driver libraries: CUDA's llama-bench does not even start without
    /// libcuda.so.1, and an empty help maps every flag wrong (seen on the
    /// H200: llama-bench printed its usage and exited 1).
    async fn help(&self, base: &ContainerSpec, prepared: &super::Prepared) -> String {
        run_to_completion(
            self.engine,
            &prepared.passthrough.onto(ContainerSpec {
                name: format!("{}-help", base.name),
                ..base.clone()
            }),
        )
        .await
        .map(|c| String::from_utf8_lossy(&c.output).into_owned())
        .unwrap_or_default()
    }

    /// One llama-bench container: its JSON results and log, or a failure and log.
    async fn bench_once(
        &self,
        spec: &ContainerSpec,
        timeout_s: u64,
    ) -> Result<(Vec<serde_json::Value>, String), (Failure, String)> {
        let fail = |mode: FailureMode, message: String, log: String| {
            (
                Failure {
                    mode,
                    message: message.clone(),
                    evidence: failure::tail(&log, 8),
                },
                log,
            )
        };
        let id = self
            .engine
            .create(spec)
            .await
            .map_err(|e| fail(FailureMode::LoadFailed, e.to_string(), String::new()))?;
        let result = async {
            self.engine
                .start(&id)
                .await
                .map_err(|e| fail(FailureMode::LoadFailed, e.to_string(), String::new()))?;
            let waited =
                tokio::time::timeout(Duration::from_secs(timeout_s), self.engine.wait(&id)).await;
            let log = self
                .engine
                .logs(&id)
                .await
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let status = match waited {
                Err(_) => {
                    return Err(fail(
                        FailureMode::Timeout,
                        format!("llama-bench took longer than {timeout_s} s"),
                        log,
                    ));
                }
                Ok(Err(e)) => return Err(fail(FailureMode::Crash, e.to_string(), log)),
                Ok(Ok(s)) => s,
            };
            if status.code != 0 {
                let state = self.engine.state(&id).await.ok();
                let mut f = failure::run(
                    state.as_ref(),
                    &log,
                    &format!("llama-bench exited with {}", status.code),
                    false,
                    false,
                );
                if status.oom_killed {
                    f.mode = FailureMode::Oom;
                }
                return Err((f, log));
            }
            let stdout = self
                .engine
                .stdout(&id)
                .await
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            match parse_output(&stdout) {
                Ok(results) => Ok((results, log)),
                Err(e) => Err(fail(FailureMode::RequestFailed, e, log)),
            }
        }
        .await;
        let _ = self.engine.remove(&id).await;
        result
    }
}
/// A llama-bench container's outcome as recorded: its results, or none with
/// the failure. Figures from another device than the one meant (`driver`'s)
/// are not kept under its name.
fn judged(
    driver: Option<crate::host::devices::VulkanDriver>,
    outcome: Result<(Vec<serde_json::Value>, String), (Failure, String)>,
) -> (CellStatus, Option<Failure>, Vec<serde_json::Value>, String) {
    match outcome {
        Ok((results, log)) => match super::device::off_device_bench(driver, &results) {
            None => (CellStatus::Ok, None, results, log),
            Some(why) => {
                let evidence = results
                    .iter()
                    .filter_map(|r| Some(format!("gpu_info: {}", r.get("gpu_info")?)))
                    .collect();
                let f = Failure {
                    mode: FailureMode::NoDevice,
                    message: why,
                    evidence,
                };
                (CellStatus::Failed, Some(f), Vec::new(), log)
            }
        },
        Err((f, log)) => (CellStatus::Failed, Some(f), Vec::new(), log),
    }
}
