//! What the containers rigbench creates may do, checked on a live server of a
//! real run: through the engine (its inspect of the container) and through
//! the kernel (/proc of the server's processes, its pids cgroup): no
//! capability, no-new-privileges, not privileged, neither the host's network
//! nor its PID namespace, the model read-only, the port on 127.0.0.1 only, a
//! process limit, and (CPU) a read-only root with a tmpfs on /tmp and HOME.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{repo, start_run_until};
use rigbench::engine::{Engine, LABEL_ROLE, LABEL_RUN, PIDS_LIMIT};

/// `/proc/PID/status`'s `key:` value.
fn status_field(pid: i64, key: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

/// The process and its descendants.
fn tree(pid: i64) -> Vec<i64> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        for task in std::fs::read_dir(format!("/proc/{p}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            out.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<i64>().ok()),
            );
        }
        i += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
async fn a_live_server_container_is_confined() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let plan = repo().join("tests/plans/e2e.toml");
    let (mut child, _) = start_run_until(&plan, &out, 1, false);
    let m = common::read_manifest(&out.join("manifest.json")).unwrap();

    let engine = common::engine().await;
    let label = [
        format!("{LABEL_RUN}={}", m.run_id),
        format!("{LABEL_ROLE}=server"),
    ];
    let servers = engine.client.list_labelled(&label).await.unwrap();
    assert_eq!(servers.len(), 1, "{servers:?}");
    let s = engine.client.security(&servers[0].id).await.unwrap();
    eprintln!("{s:#?}");

    // As the engine reports it.
    assert!(s.cap_add.is_empty(), "{:?}", s.cap_add);
    assert!(!s.privileged);
    assert!(
        s.security_opt
            .iter()
            .any(|o| o.contains("no-new-privileges")),
        "{:?}",
        s.security_opt
    );
    assert_ne!(s.network_mode, "host");
    assert_ne!(s.pid_mode, "host");
    assert_eq!(s.pids_limit, Some(PIDS_LIMIT));
    assert!(!s.port_host_ips.is_empty());
    assert!(
        s.port_host_ips.iter().all(|ip| ip == "127.0.0.1"),
        "{:?}",
        s.port_host_ips
    );
    let model = s
        .mounts
        .iter()
        .find(|(dest, _)| dest == "/models/gemma-3-270m-q4_k_m.gguf")
        .unwrap_or_else(|| panic!("no model mount: {:?}", s.mounts));
    assert!(!model.1, "the model is mounted writable");
    assert!(s.read_only_root, "the CPU server's root is writable");
    for dir in ["/tmp", "/root"] {
        assert!(
            s.tmpfs.iter().any(|t| t == dir),
            "no tmpfs on {dir}: {:?}",
            s.tmpfs
        );
    }

    // As the kernel has it, for the init and llama-server under it.
    let pid = s.pid.expect("the container runs");
    let procs = tree(pid);
    assert!(procs.len() >= 2, "init and llama-server: {procs:?}");
    for p in &procs {
        assert_eq!(status_field(*p, "CapEff"), "0000000000000000", "pid {p}");
        assert_eq!(status_field(*p, "CapPrm"), "0000000000000000", "pid {p}");
        assert_eq!(status_field(*p, "NoNewPrivs"), "1", "pid {p}");
    }
    let server = *procs.last().unwrap();
    let mountinfo = std::fs::read_to_string(format!("/proc/{server}/mountinfo")).unwrap();
    let root = mountinfo
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .unwrap();
    let opts = root.split_whitespace().nth(5).unwrap();
    assert!(
        opts.split(',').any(|o| o == "ro"),
        "root mounted {opts}: {root}"
    );
    // Its pids cgroup holds the limit (cgroups v1 and v2 both name it pids.max).
    let cgroup = std::fs::read_to_string(format!("/proc/{server}/cgroup")).unwrap();
    let limit = cgroup.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
        let base = match ctrl {
            "pids" => "/sys/fs/cgroup/pids",
            "" => "/sys/fs/cgroup",
            _ => return None,
        };
        std::fs::read_to_string(format!("{base}{path}/pids.max")).ok()
    });
    assert_eq!(
        limit.as_deref().map(str::trim),
        Some(PIDS_LIMIT.to_string().as_str()),
        "{cgroup}"
    );

    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the run under these limits failed: {status}"
    );
}
