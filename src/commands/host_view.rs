//! The host a command works on: this machine, read under `/`; or, for another
//! host's engine, that host, read there by a probe container
//! (`session::host_probe`).

use std::path::Path;

use crate::engine::Engine;
use crate::engine::connect::Connected;
use crate::host::view::HostView;
use crate::session::host_probe;

/// The view, and for another host's how it was read.
pub struct Seen {
    pub view: HostView,
    /// `read on ssh://… by a probe container of IMAGE`; `None` for this machine.
    pub how: Option<String>,
    /// For another host's engine that was read: whether it is rootless.
    pub remote_rootless: Option<bool>,
}

/// The engine's host: this machine under `root` when the engine is local;
/// the remote host itself when it is another's.
pub async fn of_engine(c: &Connected, root: &Path) -> anyhow::Result<Seen> {
    let env = |k: &str| std::env::var(k).ok();
    let info = c.client.info().await?;
    if info.remote.is_none() {
        return Ok(Seen {
            view: HostView::read(root, &env),
            how: None,
            remote_rootless: None,
        });
    }
    let image = host_probe::ensure_image(&c.client).await?;
    let binary = std::env::current_exe().map_err(|e| {
        anyhow::anyhow!("cannot find this rigbench's executable to copy into the host probe: {e}")
    })?;
    let view = host_probe::read(&c.client, &info.socket, &image, &binary, &env).await?;
    Ok(Seen {
        view,
        how: Some(format!(
            "read on {} by a probe container of {image}",
            info.socket
        )),
        remote_rootless: Some(info.rootless.unwrap_or(false)),
    })
}

/// As `of_engine`, but where another host's view cannot be read (a CPU or C
/// library the probe cannot run on, say) a host with nothing: `auto` build
/// arguments take their documented values and no device is probed, said as
/// a warning. For `build`, which needs no device.
pub async fn of_engine_or_nothing(c: &Connected) -> anyhow::Result<Seen> {
    match of_engine(c, Path::new("/")).await {
        Ok(seen) => Ok(seen),
        Err(e) => {
            log::warn!(
                "{e}; building with the documented values of `auto` build arguments and no device probe"
            );
            let empty = tempfile::tempdir()?;
            Ok(Seen {
                view: HostView::read(empty.path(), &|_| None),
                how: Some(format!("not read ({e})")),
                remote_rootless: None,
            })
        }
    }
}

/// The plan at `path` (the built-in default for none) for the host `view`
/// describes: its CPUs and the backends its devices allow.
pub fn plan_for(path: Option<&Path>, view: &HostView) -> anyhow::Result<crate::plan::Plan> {
    let none = crate::plan::overrides::Overrides::default();
    let cpus = view.facts.cpu.logical_cpus.max(1);
    Ok(crate::plan::load_with(path, cpus, &view.available, &none)?.0)
}
