//! What a host is and what it can run, read once: its facts, each backend's
//! passthrough there or why it has none, and what `doctor`'s checks need of
//! its device nodes. Read from a root directory here (`read`), or on another
//! host by the same code in a probe container there that sees that host's `/`
//! read-only (`rigbench host-view --root /host`, `crate::session::host_probe`):
//! the JSON it prints is this type, so a remote host's view is the one its own
//! files give.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::HostFacts;
use super::devices::{self, Passthrough, VulkanDriver};
use crate::backend::Backend;

/// One backend on the host: its passthrough, or why it cannot run there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendView {
    pub backend: Backend,
    /// The Vulkan driver a plan named (`None`: the one found).
    pub vulkan_driver: Option<VulkanDriver>,
    pub passthrough: Option<Passthrough>,
    pub unavailable: Option<String>,
}

/// A device node rigbench passes and the group that owns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeGroup {
    pub path: String,
    pub gid: u32,
    /// Its name in the host's /etc/group, where it has one.
    pub name: Option<String>,
}

/// A host as rigbench sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostView {
    pub facts: HostFacts,
    /// Every backend in `Backend::ALL`'s order, then vulkan with each driver
    /// a plan may name.
    pub backends: Vec<BackendView>,
    /// The backends whose devices the host has (`devices::available_backends`).
    pub available: Vec<Backend>,
    pub render_nodes: Vec<String>,
    pub has_kfd: bool,
    /// Groups of the render nodes and /dev/kfd, where not root's.
    pub device_groups: Vec<NodeGroup>,
}

/// The variables a passthrough takes from the environment it is computed in:
/// each backend's own, and the two the Vulkan passthrough looks at. A probe
/// on another host is given this machine's values of these.
pub fn passthrough_env_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Backend::ALL
        .iter()
        .flat_map(|b| b.passthrough_env().iter().copied())
        .chain(["VK_LOADER_DEBUG", "GGML_VK_VISIBLE_DEVICES"])
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

impl HostView {
    /// The host under `root` (`/` for this one), passthroughs computed with
    /// the variables `env` gives.
    pub fn read(root: &Path, env: &dyn Fn(&str) -> Option<String>) -> HostView {
        let one = |backend: Backend, vulkan_driver: Option<VulkanDriver>| {
            match devices::passthrough_with(backend, vulkan_driver, root, env) {
                Ok(p) => BackendView {
                    backend,
                    vulkan_driver,
                    passthrough: Some(p),
                    unavailable: None,
                },
                Err(e) => BackendView {
                    backend,
                    vulkan_driver,
                    passthrough: None,
                    unavailable: Some(e.to_string()),
                },
            }
        };
        let backends = (Backend::ALL.iter().map(|b| one(*b, None)))
            .chain(
                VulkanDriver::ALL
                    .iter()
                    .map(|d| one(Backend::Vulkan, Some(*d))),
            )
            .collect();
        let render_nodes = devices::render_nodes(root);
        let has_kfd = devices::has_kfd(root);
        let nodes = has_kfd
            .then(|| "/dev/kfd".to_string())
            .into_iter()
            .chain(render_nodes.iter().cloned());
        let device_groups = nodes
            .filter_map(|d| {
                let gid = std::fs::metadata(root.join(d.trim_start_matches('/')))
                    .ok()?
                    .gid();
                (gid != 0).then(|| NodeGroup {
                    name: group_name(root, gid),
                    path: d,
                    gid,
                })
            })
            .collect();
        HostView {
            facts: super::probe(root),
            backends,
            available: devices::available_backends(root),
            render_nodes,
            has_kfd,
            device_groups,
        }
    }

    /// Each backend's passthrough with the driver found, and the backends that
    /// have none (with why).
    pub fn passthroughs(&self) -> BTreeMap<Backend, Result<Passthrough, String>> {
        Backend::ALL
            .iter()
            .map(|b| (*b, self.passthrough(*b, None)))
            .collect()
    }

    /// `backend`'s passthrough (for vulkan, with `vulkan_driver` where a plan
    /// names one), or why it has none.
    pub fn passthrough(
        &self,
        backend: Backend,
        vulkan_driver: Option<VulkanDriver>,
    ) -> Result<Passthrough, String> {
        let driver = vulkan_driver.filter(|_| backend == Backend::Vulkan);
        let b = self
            .backends
            .iter()
            .find(|b| b.backend == backend && b.vulkan_driver == driver)
            .ok_or_else(|| format!("{backend}: not in the host's view"))?;
        match (&b.passthrough, &b.unavailable) {
            (Some(p), _) => Ok(p.clone()),
            (None, why) => Err(why.clone().unwrap_or_default()),
        }
    }
}

/// The name of group `gid` in the host's /etc/group.
fn group_name(root: &Path, gid: u32) -> Option<String> {
    let text = std::fs::read_to_string(root.join("etc/group")).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _ = f.next();
        (f.next()?.parse::<u32>().ok()? == gid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/hosts")
            .join(name)
    }

    #[test]
    fn a_hosts_view_is_its_facts_and_passthroughs_and_survives_json() {
        let none = |_: &str| None;
        let v = HostView::read(&fixture("nvidia-h200"), &none);
        assert_eq!(v.facts, super::super::probe(&fixture("nvidia-h200")));
        assert_eq!(
            v.backends.len(),
            Backend::ALL.len() + VulkanDriver::ALL.len()
        );
        // A named driver is the one used: NVIDIA's here, Mesa's not found.
        let nvidia = v
            .passthrough(Backend::Vulkan, Some(VulkanDriver::Nvidia))
            .unwrap();
        assert_eq!(
            nvidia,
            devices::passthrough_with(
                Backend::Vulkan,
                Some(VulkanDriver::Nvidia),
                &fixture("nvidia-h200"),
                &none
            )
            .unwrap()
        );
        assert!(
            v.passthrough(Backend::Vulkan, Some(VulkanDriver::Mesa))
                .is_err()
        );
        let p = v.passthroughs();
        let cuda = p[&Backend::Cuda].as_ref().unwrap();
        assert!(
            cuda.devices.contains(&"/dev/nvidia0".to_string()),
            "{cuda:?}"
        );
        assert!(
            p[&Backend::Rocm6]
                .as_ref()
                .unwrap_err()
                .contains("/dev/kfd")
        );
        assert!(v.available.contains(&Backend::Cuda));
        assert!(!v.has_kfd);
        let back: HostView = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn a_strix_halo_view_has_kfd_and_render_nodes() {
        let none = |_: &str| None;
        let v = HostView::read(&fixture("strix-halo"), &none);
        assert!(v.has_kfd);
        assert_eq!(v.render_nodes, ["/dev/dri/renderD128"]);
        assert!(v.passthroughs()[&Backend::Rocm7].is_ok());
    }

    #[test]
    fn the_environment_a_probe_is_given_names_each_backends_variables() {
        let names = passthrough_env_names();
        assert!(names.contains(&"GGML_VK_VISIBLE_DEVICES"));
        for b in Backend::ALL {
            for v in b.passthrough_env() {
                assert!(names.contains(v), "{v}");
            }
        }
    }
}
