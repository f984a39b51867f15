//! Podman's own list of remote connections (`podman system connection add NAME
//! ssh://…`): a name read there becomes an `SshTarget` with the connection's key.
//! The list is read with `podman system connection list --format json`, so that
//! wherever this Podman keeps it (containers.conf in 4.x, podman-connections.json
//! in 5.x) rigbench sees what `podman --connection NAME` would use.

use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;

use super::ssh::{SshError, SshTarget};

/// One entry of `podman system connection list --format json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    name: String,
    #[serde(rename = "URI")]
    uri: String,
    #[serde(default)]
    identity: String,
    #[serde(default)]
    default: bool,
}

/// Why a connection name could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error(
        "--connection {name}: Podman knows no connection of that name (it knows: {known}). Add it with\n  podman system connection add {name} ssh://USER@HOST[:PORT]/run/user/UID/podman/podman.sock --identity ~/.ssh/KEY\nor give the address itself with --host ssh://…"
    )]
    Unknown { name: String, known: String },
    #[error(
        "--connection {name}: cannot read Podman's connections ({detail}); give the address with --host ssh://USER@HOST[:PORT]/PATH instead"
    )]
    Unreadable { name: String, detail: String },
    #[error("--connection {name}: {source}")]
    Address { name: String, source: SshError },
}

/// The connection `name` from Podman's list.
pub fn lookup(name: &str) -> Result<SshTarget, ConnectionError> {
    let unreadable = |detail: String| ConnectionError::Unreadable {
        name: name.to_string(),
        detail,
    };
    let out = Command::new("podman")
        .args(["system", "connection", "list", "--format", "json"])
        .output()
        .map_err(|e| unreadable(format!("podman cannot run: {e}")))?;
    if !out.status.success() {
        return Err(unreadable(format!(
            "podman system connection list failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    from_list(name, &String::from_utf8_lossy(&out.stdout))
}

/// The connection `name` in `json` (the list's output).
fn from_list(name: &str, json: &str) -> Result<SshTarget, ConnectionError> {
    // An empty list prints nothing (4.3) or `[]`.
    let entries: Vec<Entry> = if json.trim().is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(json).map_err(|e| ConnectionError::Unreadable {
            name: name.to_string(),
            detail: format!("its list is not the JSON expected: {e}"),
        })?
    };
    let Some(e) = entries.iter().find(|e| e.name == name) else {
        let known: Vec<String> = entries
            .iter()
            .map(|e| {
                if e.default {
                    format!("{} (default)", e.name)
                } else {
                    e.name.clone()
                }
            })
            .collect();
        return Err(ConnectionError::Unknown {
            name: name.to_string(),
            known: if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            },
        });
    };
    let mut target = SshTarget::parse(&e.uri).map_err(|source| ConnectionError::Address {
        name: name.to_string(),
        source,
    })?;
    target.identity = (!e.identity.is_empty()).then(|| PathBuf::from(&e.identity));
    target.connection = Some(e.name.clone());
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"[
      {"Name":"strix","URI":"ssh://core@strix.lan:22/run/user/1000/podman/podman.sock","Identity":"/home/me/.ssh/id_ed25519","Default":true},
      {"Name":"rtx","URI":"ssh://root@rtx.lan/run/podman/podman.sock","Identity":"","Default":false}
    ]"#;

    #[test]
    fn a_named_connection_gives_its_address_and_key() {
        let t = from_list("strix", LIST).expect("known");
        assert_eq!(t.host, "strix.lan");
        assert_eq!(t.port, Some(22));
        assert_eq!(t.user.as_deref(), Some("core"));
        assert_eq!(t.socket, "/run/user/1000/podman/podman.sock");
        assert_eq!(
            t.identity.as_deref(),
            Some(std::path::Path::new("/home/me/.ssh/id_ed25519"))
        );
        assert_eq!(t.connection.as_deref(), Some("strix"));
        let t = from_list("rtx", LIST).expect("known");
        assert_eq!(t.identity, None);
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones_and_says_how_to_add_it() {
        let e = from_list("w7900", LIST).expect_err("unknown").to_string();
        assert!(e.contains("--connection w7900"), "{e}");
        assert!(e.contains("strix (default), rtx"), "{e}");
        assert!(e.contains("podman system connection add w7900"), "{e}");
        let e = from_list("x", "").expect_err("none").to_string();
        assert!(e.contains("it knows: none"), "{e}");
    }
}
