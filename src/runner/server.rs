//! One llama-server in its container: start it with its port published on the
//! engine's host's loopback (a port the engine picks) and reached from here,
//! wait for `/health` while watching the container, and stop it, keeping its log.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::bench::{Health, ServerClient};
use crate::engine::{
    ContainerSpec, ContainerState, Engine, EngineError, LABEL_MANAGED, LABEL_ROLE, LABEL_RUN,
    Publish, Reach,
};
use crate::fetch::ModelFiles;
use crate::host::devices::Passthrough;
use crate::manifest::CellVariant;
pub use crate::plan::settings::CONTAINER_PORT;

/// How often the container is checked while waiting for health.
const POLL: Duration = Duration::from_millis(50);

/// What is needed to start one server.
pub struct ServerSpec<'a> {
    pub name: String,
    pub run_id: &'a str,
    pub image_id: &'a str,
    pub model_files: &'a ModelFiles,
    pub model_file: &'a str,
    pub variant: &'a CellVariant,
    pub passthrough: &'a Passthrough,
    /// The backend's `read_only_root`.
    pub read_only_root: bool,
}

/// A started server container.
pub struct Server {
    pub id: String,
    pub name: String,
    /// Its port on the engine's host and here (the same, or an SSH forward's).
    pub reach: Reach,
    pub client: ServerClient,
}

/// Why a server did not become healthy.
pub enum StartFailure {
    Engine(EngineError),
    /// The container ended before it was healthy.
    Exited(ContainerState),
    /// Still not healthy when the timeout passed.
    Timeout {
        waited_s: u64,
        last: String,
    },
}

/// The devices llama.cpp sees in the server's image with the server's
/// devices and environment (`llama-server --list-devices` in a short-lived
/// container): those the server puts the model on. Lines as printed
/// (`Vulkan0: NVIDIA H200 (143155 MiB, 142629 MiB free)`), and the Vulkan
/// loader's errors where it printed any (`image::probe::DeviceList`).
pub async fn list_devices<E: Engine>(
    engine: &E,
    spec: &ServerSpec<'_>,
) -> Result<crate::image::probe::DeviceList, EngineError> {
    let cs = spec.passthrough.onto(ContainerSpec {
        name: format!("{}-devices", spec.name),
        image: spec.image_id.to_string(),
        cmd: vec!["--list-devices".to_string()],
        env: spec.variant.env.clone(),
        labels: BTreeMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_RUN.to_string(), spec.run_id.to_string()),
            (LABEL_ROLE.to_string(), "probe".to_string()),
        ]),
        read_only_root: spec.read_only_root,
        tmpfs: if spec.read_only_root {
            crate::engine::scratch_dirs()
        } else {
            Vec::new()
        },
        ..ContainerSpec::default()
    });
    let done = crate::engine::run_to_completion(engine, &cs).await?;
    Ok(crate::image::probe::DeviceList::parse(
        &String::from_utf8_lossy(&done.output),
    ))
}

impl Server {
    /// Creates and starts the container with its port published on the
    /// engine's host's loopback (a port the engine picks: no race for it),
    /// then reaches that port from here (`Engine::reach`: itself, or an SSH
    /// forward to another host).
    pub async fn start<E: Engine>(
        engine: &E,
        spec: &ServerSpec<'_>,
    ) -> Result<Server, EngineError> {
        let cs = spec.passthrough.onto(ContainerSpec {
            name: spec.name.clone(),
            image: spec.image_id.to_string(),
            entrypoint: None,
            cmd: spec.variant.server_argv.clone(),
            // The plan's own settings; the host's device selection is
            // added where the plan does not set it.
            env: spec.variant.env.clone(),
            binds: spec.model_files.binds(),
            publish: Some(Publish {
                host_ip: Ipv4Addr::LOCALHOST,
                host_port: 0,
                container_port: CONTAINER_PORT,
            }),
            labels: BTreeMap::from([
                (LABEL_MANAGED.to_string(), "true".to_string()),
                (LABEL_RUN.to_string(), spec.run_id.to_string()),
                (LABEL_ROLE.to_string(), "server".to_string()),
            ]),
            // So that signals reach the server as they would on a host
            // (see `ContainerSpec::init`); recorded as `ServerStart::init`.
            init: true,
            read_only_root: spec.read_only_root,
            tmpfs: if spec.read_only_root {
                crate::engine::scratch_dirs()
            } else {
                Vec::new()
            },
            nano_cpus: spec.variant.cpus.map(|c| (c * 1e9).round() as i64),
            cpuset_cpus: spec.variant.cpuset_cpus.clone(),
            ..ContainerSpec::default()
        });
        let id = engine.create(&cs).await?;
        let reached = async {
            engine.start(&id).await?;
            let there = engine.published_port(&id, CONTAINER_PORT).await?;
            engine.reach(there).await
        };
        let reach = match reached.await {
            Ok(r) => r,
            Err(e) => {
                let _ = engine.remove(&id).await;
                return Err(e);
            }
        };
        let client = match ServerClient::new(reach.port) {
            Ok(c) => c,
            Err(e) => {
                let _ = engine.remove(&id).await;
                return Err(EngineError::Api {
                    op: "HTTP client",
                    message: e.to_string(),
                });
            }
        };
        Ok(Server {
            id,
            name: spec.name.clone(),
            reach,
            client,
        })
    }

    /// Waits until `/health` answers 200; returns the seconds it took.
    pub async fn wait_healthy<E: Engine>(
        &self,
        engine: &E,
        timeout: Duration,
    ) -> Result<f64, StartFailure> {
        let t0 = Instant::now();
        let mut last = String::from("no answer yet");
        let mut polls = 0u32;
        while t0.elapsed() < timeout {
            match self.client.health().await {
                Health::Ready => return Ok(t0.elapsed().as_secs_f64()),
                Health::Loading(code) => last = format!("/health answered HTTP {code}"),
                Health::Unreachable(e) => last = e,
            }
            // The container is checked every tenth poll (every ~0.5 s).
            if polls % 10 == 0 {
                let state = engine.state(&self.id).await.map_err(StartFailure::Engine)?;
                if !state.running {
                    return Err(StartFailure::Exited(state));
                }
            }
            polls += 1;
            tokio::time::sleep(POLL).await;
        }
        Err(StartFailure::Timeout {
            waited_s: timeout.as_secs(),
            last,
        })
    }

    /// Stops and removes the container, writing its log to `log`. Returns the
    /// log, and the engine's error when the container could not be removed.
    pub async fn stop<E: Engine>(&self, engine: &E, log: &Path) -> (String, Option<EngineError>) {
        let _ = engine.stop(&self.id, 10).await;
        let text = save_log(engine, &self.id, log).await;
        let removed = engine.remove(&self.id).await.err();
        (text, removed)
    }
}

/// Writes the container's log to `path` (appending, so restarts add to it); returns it.
pub async fn save_log<E: Engine>(engine: &E, id: &str, path: &Path) -> String {
    let bytes = engine
        .logs(id)
        .await
        .unwrap_or_else(|e| format!("(no log: {e})\n").into_bytes());
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let header = format!("==== container {id} ====\n");
    let _ = append(path, header.as_bytes()).and_then(|_| append(path, &bytes));
    text
}

fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(bytes)
}

/// The log file of a server group, relative to the run directory and absolute.
pub fn log_paths(run_dir: &Path, group: &str) -> (String, PathBuf) {
    let rel = format!("logs/{group}.log");
    let abs = run_dir.join(&rel);
    (rel, abs)
}
