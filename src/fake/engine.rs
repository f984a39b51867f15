//! A fake engine: "containers" are fake llama-servers on the published port. A
//! container's environment steers it: `FAKE_EXIT_ON_START=<code>` makes it exit at
//! once with a model-loading error in its log, `FAKE_STALL_AFTER=<n>` makes its
//! server stop sending after n tokens, `FAKE_NO_GPU` logs llama.cpp's warning that
//! it found no GPU, `FAKE_LOOP` makes its server repeat two tokens (the study's
//! collapsed Gemma output), `FAKE_MAX_PREDICTED=<n>` makes it stop after n tokens
//! (a context that filled), `FAKE_SIGNALS_NO_EFFECT` makes it ignore every signal,
//! `FAKE_TOKEN_DELAY_MS=<ms>` sets the time between its tokens (2 ms otherwise);
//! a list (`10,14,8`) gives the n-th container created the n-th delay, round
//! robin (a planted start-to-start spread).
//! Signals to its process end its streams and leave it exited 128 + the signal's
//! number (KILL 137, SEGV 139, ABRT 134, TERM 143); STOP makes it stop sending;
//! every signal is recorded in `signals`. A published port 0 gets a free one at
//! create, as Podman gives it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::llama_server::{Behaviour, serve};
use crate::engine::{
    BuildRequest, ContainerSpec, ContainerState, Engine, EngineError, EngineInfo, EngineKind,
    ExitStatus, ImageFacts, Labelled,
};

struct FakeContainer {
    spec: ContainerSpec,
    state: ContainerState,
    log: String,
    task: Option<tokio::task::JoinHandle<()>>,
    /// Shared with the fake server: set by a deadly signal.
    killed: std::sync::Arc<AtomicBool>,
    /// Shared with the fake server: set by SIGSTOP.
    stopped: std::sync::Arc<AtomicBool>,
    /// The port its fake server listens on, once started.
    port: Option<u16>,
}

/// A file put into a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub container: String,
    /// Its path in the container.
    pub path: String,
    pub mode: u32,
    pub bytes: Vec<u8>,
}

#[derive(Default)]
pub struct FakeEngine {
    containers: Mutex<BTreeMap<String, FakeContainer>>,
    /// Names of every container ever created, in order.
    pub created: Mutex<Vec<String>>,
    /// The spec of every container ever created, in order.
    pub specs: Mutex<Vec<ContainerSpec>>,
    /// Every signal delivered: (container id, signal).
    pub signals: Mutex<Vec<(String, String)>>,
    /// The images it holds (none unless a test sets them): `image`,
    /// `remove_image` and `list_labelled_images` answer from them.
    pub images: Mutex<Vec<ImageFacts>>,
    /// Images a container outside the engine's list holds (an interrupted
    /// build's): removing one fails, and a prune of dangling images then
    /// fails as a whole, as Podman's does.
    pub held_images: Mutex<std::collections::BTreeSet<String>>,
    /// The engine is lost at this container-state call (1-based; 0: never):
    /// it and every call after it fail as a dead API service's would.
    pub lose_at_state_call: AtomicUsize,
    /// Its volumes: name → labels.
    pub volumes: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    /// Every file uploaded, in order.
    pub uploads: Mutex<Vec<Upload>>,
    state_calls: AtomicUsize,
    lost: AtomicBool,
}

impl FakeEngine {
    /// Holds an image tagged `tag` (id `sha256:00`, no labels) from now on.
    pub fn add_image(&self, tag: &str) {
        self.images.lock().unwrap().push(ImageFacts {
            id: "sha256:00".into(),
            repo_digests: vec![],
            tags: vec![tag.to_string()],
            labels: BTreeMap::new(),
            created: None,
            size_bytes: None,
        });
    }

    pub fn live_containers(&self) -> usize {
        self.containers.lock().unwrap().len()
    }

    fn answer(&self, op: &'static str, container: &str) -> Result<(), EngineError> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(EngineError::Lost {
                socket: "unix:///fake/podman.sock".to_string(),
                op,
                container: container.to_string(),
                message: "Connection refused (os error 111)".to_string(),
            });
        }
        Ok(())
    }
}

fn unsupported(op: &'static str) -> EngineError {
    EngineError::Api {
        op,
        message: "not supported by the fake engine".to_string(),
    }
}

impl FakeEngine {
    /// A signal as a process would take it: recorded; then, unless the container
    /// ignores signals, STOP pauses its streams and the deadly ones end it with
    /// 128 + the signal's number.
    fn deliver(&self, id: &str, signal: &str) {
        self.signals
            .lock()
            .unwrap()
            .push((id.to_string(), signal.to_string()));
        let mut all = self.containers.lock().unwrap();
        let Some(c) = all.get_mut(id) else {
            return;
        };
        if c.spec.env.contains_key("FAKE_SIGNALS_NO_EFFECT") {
            return;
        }
        let number = match signal {
            "STOP" => {
                c.stopped.store(true, Ordering::SeqCst);
                return;
            }
            "KILL" => 9,
            "SEGV" => 11,
            "ABRT" => 6,
            "TERM" => 15,
            "INT" => 2,
            _ => return,
        };
        c.killed.store(true, Ordering::SeqCst);
        if let Some(t) = c.task.take() {
            t.abort();
        }
        c.state = ContainerState {
            running: false,
            status: "exited".to_string(),
            exit_code: Some(128 + number),
            oom_killed: false,
        };
    }
}

/// The delay `FAKE_TOKEN_DELAY_MS` gives the `nth` container created: its one
/// value, or the list's value at `nth` modulo its length.
fn token_delay(v: &str, nth: usize) -> Option<std::time::Duration> {
    let ms: Vec<u64> = v
        .split(',')
        .map(|x| x.trim().parse().ok())
        .collect::<Option<_>>()?;
    // `split` yields at least one item, so the list is never empty here.
    ms.get(nth % ms.len())
        .map(|&m| std::time::Duration::from_millis(m))
}

impl Engine for FakeEngine {
    async fn info(&self) -> Result<EngineInfo, EngineError> {
        Ok(EngineInfo {
            kind: EngineKind::Podman,
            version: "fake".to_string(),
            api_version: "1.41".to_string(),
            runtime: Some("fake".to_string()),
            cgroup_version: None,
            socket: "fake".to_string(),
            service_started_by_rigbench: false,
            service_pid: None,
            rootless: Some(false),
            remote: None,
        })
    }

    async fn image(&self, reference: &str) -> Result<Option<ImageFacts>, EngineError> {
        Ok(self
            .images
            .lock()
            .unwrap()
            .iter()
            .find(|i| i.id == reference || i.tags.iter().any(|t| t == reference))
            .cloned())
    }

    async fn pull(&self, _reference: &str) -> Result<(), EngineError> {
        Err(unsupported("pull"))
    }

    async fn build(
        &self,
        _req: &BuildRequest,
        _progress: &(dyn Fn(&str) + Sync),
    ) -> Result<String, EngineError> {
        Err(unsupported("build"))
    }

    async fn remove_image(&self, reference: &str) -> Result<(), EngineError> {
        if self.held_images.lock().unwrap().contains(reference) {
            return Err(EngineError::Api {
                op: "remove image",
                message: format!(
                    "image used by {reference}: image is in use by a container: consider \
                     listing external containers and force-removing image"
                ),
            });
        }
        self.images
            .lock()
            .unwrap()
            .retain(|i| i.id != reference && !i.tags.iter().any(|t| t == reference));
        Ok(())
    }

    async fn prune_images(&self, _labels: &[String]) -> Result<(Vec<String>, u64), EngineError> {
        let dangling: Vec<String> = self
            .images
            .lock()
            .unwrap()
            .iter()
            .filter(|i| i.tags.is_empty())
            .map(|i| i.id.clone())
            .collect();
        if let Some(held) = dangling
            .iter()
            .find(|id| self.held_images.lock().unwrap().contains(*id))
        {
            return Err(EngineError::Api {
                op: "prune images",
                message: format!("image used by {held}: image is in use by a container"),
            });
        }
        self.images.lock().unwrap().retain(|i| !i.tags.is_empty());
        Ok((dangling, 0))
    }

    async fn list_labelled_images(
        &self,
        _labels: &[String],
    ) -> Result<Vec<ImageFacts>, EngineError> {
        Ok(self.images.lock().unwrap().clone())
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        self.answer("create", &spec.name)?;
        let id = format!("fake-{}", spec.name);
        self.created.lock().unwrap().push(spec.name.clone());
        self.specs.lock().unwrap().push(spec.clone());
        self.containers.lock().unwrap().insert(
            id.clone(),
            FakeContainer {
                spec: spec.clone(),
                state: ContainerState {
                    running: false,
                    status: "created".to_string(),
                    exit_code: None,
                    oom_killed: false,
                },
                log: String::new(),
                killed: std::sync::Arc::default(),
                stopped: std::sync::Arc::default(),
                // Podman gives port 0 a free port at create, kept after
                // the container ends.
                port: spec.publish.map(|p| match p.host_port {
                    0 => std::net::TcpListener::bind(("127.0.0.1", 0))
                        .and_then(|l| l.local_addr())
                        .map_or(0, |a| a.port()),
                    n => n,
                }),
                task: None,
            },
        );
        Ok(id)
    }

    async fn upload_file(
        &self,
        id: &str,
        dir: &str,
        name: &str,
        file: &std::path::Path,
        mode: u32,
    ) -> Result<(), EngineError> {
        self.answer("upload", id)?;
        let bytes = std::fs::read(file).map_err(|e| EngineError::Container {
            op: "upload",
            container: id.to_string(),
            message: format!("{}: {e}", file.display()),
        })?;
        self.uploads.lock().unwrap().push(Upload {
            container: id.to_string(),
            path: format!("{}/{name}", dir.trim_end_matches('/')),
            mode,
            bytes,
        });
        Ok(())
    }

    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<bool, EngineError> {
        self.answer("create_volume", name)?;
        let mut volumes = self.volumes.lock().unwrap();
        if volumes.contains_key(name) {
            return Ok(false);
        }
        volumes.insert(name.to_string(), labels.clone());
        Ok(true)
    }

    async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        self.answer("remove_volume", name)?;
        self.volumes.lock().unwrap().remove(name);
        Ok(())
    }

    async fn list_labelled_volumes(&self, labels: &[String]) -> Result<Vec<String>, EngineError> {
        let has = |l: &BTreeMap<String, String>, want: &String| match want.split_once('=') {
            Some((k, v)) => l.get(k).is_some_and(|x| x == v),
            None => l.contains_key(want),
        };
        Ok((self.volumes.lock().unwrap().iter())
            .filter(|(_, l)| labels.iter().all(|w| has(l, w)))
            .map(|(n, _)| n.clone())
            .collect())
    }

    async fn start(&self, id: &str) -> Result<(), EngineError> {
        self.answer("start", id)?;
        let spec = self
            .containers
            .lock()
            .unwrap()
            .get(id)
            .map(|c| c.spec.clone())
            .ok_or_else(|| unsupported("start of an unknown container"))?;
        if let Some(code) = spec.env.get("FAKE_EXIT_ON_START") {
            let mut all = self.containers.lock().unwrap();
            let c = all.get_mut(id).unwrap();
            c.state = ContainerState {
                running: false,
                status: "exited".to_string(),
                exit_code: code.parse().ok(),
                oom_killed: false,
            };
            c.log = "llama_model_load: error loading model: tensor data is not within the file bounds\n"
                .to_string();
            return Ok(());
        }
        let port = (self.containers.lock().unwrap().get(id))
            .and_then(|c| c.port)
            .unwrap_or(0);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| EngineError::Container {
                op: "start",
                container: id.to_string(),
                message: e.to_string(),
            })?;
        let default = Behaviour::default();
        let nth = self.created.lock().unwrap().len().saturating_sub(1);
        let behaviour = Behaviour {
            token_delay: spec
                .env
                .get("FAKE_TOKEN_DELAY_MS")
                .and_then(|v| token_delay(v, nth))
                .unwrap_or(default.token_delay),
            stall_after: spec
                .env
                .get("FAKE_STALL_AFTER")
                .and_then(|v| v.parse().ok()),
            loop_tokens: spec
                .env
                .contains_key("FAKE_LOOP")
                .then(|| vec![236855, 715]),
            max_predicted: spec
                .env
                .get("FAKE_MAX_PREDICTED")
                .and_then(|v| v.parse().ok()),
            // As llama-server takes it from its arguments.
            n_ctx: spec
                .cmd
                .iter()
                .position(|a| a == "--ctx-size")
                .and_then(|i| spec.cmd.get(i + 1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(4096),
            ..default
        };
        let killed = behaviour.killed.clone();
        let stopped = behaviour.stopped.clone();
        let bound = listener.local_addr().map(|a| a.port()).ok();
        let task = tokio::spawn(serve(listener, behaviour));
        let mut all = self.containers.lock().unwrap();
        let c = all.get_mut(id).unwrap();
        c.port = bound;
        c.killed = killed;
        c.stopped = stopped;
        c.task = Some(task);
        c.state.running = true;
        c.state.status = "running".to_string();
        c.log = if spec.env.contains_key("FAKE_NO_GPU") {
            "warning: no usable GPU found, --gpu-layers option will be ignored\nmain: server is listening\n"
        } else {
            "main: server is listening\n"
        }
        .to_string();
        Ok(())
    }

    async fn wait(&self, id: &str) -> Result<ExitStatus, EngineError> {
        let s = self.state(id).await?;
        Ok(ExitStatus {
            code: s.exit_code.unwrap_or(0),
            oom_killed: s.oom_killed,
        })
    }

    async fn state(&self, id: &str) -> Result<ContainerState, EngineError> {
        let n = self.state_calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.lose_at_state_call.load(Ordering::SeqCst) {
            self.lost.store(true, Ordering::SeqCst);
        }
        self.answer("inspect", id)?;
        self.containers
            .lock()
            .unwrap()
            .get(id)
            .map(|c| c.state.clone())
            .ok_or_else(|| unsupported("inspect of an unknown container"))
    }

    async fn logs(&self, id: &str) -> Result<Vec<u8>, EngineError> {
        self.answer("logs", id)?;
        Ok(self
            .containers
            .lock()
            .unwrap()
            .get(id)
            .map(|c| c.log.clone().into_bytes())
            .unwrap_or_default())
    }

    async fn stdout(&self, id: &str) -> Result<Vec<u8>, EngineError> {
        self.logs(id).await
    }

    /// What the container wrote so far, as one chunk; then the end.
    fn follow_stdout(&self, id: &str) -> tokio::sync::mpsc::Receiver<Result<Vec<u8>, EngineError>> {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let log = (self.containers.lock().unwrap().get(id)).map(|c| c.log.clone().into_bytes());
        if let Some(log) = log {
            let _ = tx.try_send(Ok(log));
        }
        rx
    }

    async fn stop(&self, id: &str, _grace_s: u32) -> Result<(), EngineError> {
        self.answer("stop", id)?;
        if let Some(c) = self.containers.lock().unwrap().get_mut(id) {
            if let Some(t) = c.task.take() {
                t.abort();
            }
            if c.state.running {
                c.state = ContainerState {
                    running: false,
                    status: "exited".to_string(),
                    exit_code: Some(0),
                    oom_killed: false,
                };
            }
        }
        Ok(())
    }

    async fn signal(&self, id: &str, signal: &str) -> Result<(), EngineError> {
        self.deliver(id, signal);
        Ok(())
    }

    async fn signal_process(
        &self,
        id: &str,
        process: &str,
        signal: &str,
    ) -> Result<String, EngineError> {
        if !self.containers.lock().unwrap().contains_key(id) {
            return Err(unsupported("signal in an unknown container"));
        }
        self.deliver(id, signal);
        Ok(format!(
            "SIG{signal} sent to {process} (pid 2 in the container)"
        ))
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.answer("remove", id)?;
        if let Some(mut c) = self.containers.lock().unwrap().remove(id) {
            if let Some(t) = c.task.take() {
                t.abort();
            }
        }
        Ok(())
    }

    async fn list_labelled(&self, labels: &[String]) -> Result<Vec<Labelled>, EngineError> {
        self.answer("list containers", "")?;
        let all = self.containers.lock().unwrap();
        Ok(all
            .iter()
            .filter(|(_, c)| {
                labels.iter().all(|l| match l.split_once('=') {
                    Some((k, v)) => c.spec.labels.get(k).map(String::as_str) == Some(v),
                    None => c.spec.labels.contains_key(l),
                })
            })
            .map(|(id, c)| Labelled {
                id: id.clone(),
                name: c.spec.name.clone(),
                state: c.state.status.clone(),
                labels: c.spec.labels.clone(),
            })
            .collect())
    }

    async fn published_port(&self, id: &str, _container_port: u16) -> Result<u16, EngineError> {
        self.answer("inspect", id)?;
        (self.containers.lock().unwrap().get(id))
            .and_then(|c| c.port)
            .ok_or_else(|| unsupported("the port of a container not started"))
    }

    async fn reach(&self, port: u16) -> Result<crate::engine::Reach, EngineError> {
        Ok(crate::engine::Reach::here(port))
    }
}
