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
    })
}
