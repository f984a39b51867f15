//! Device groups under rootless Podman. A rootful container gets the numeric
//! groups owning its device nodes (`Passthrough::group_add`). A rootless one
//! cannot: host group ids mean nothing in the user namespace, and the process
//! keeps no supplementary group unless the runtime is asked to keep the
//! user's own (`--group-add keep-groups`, which crun implements and runc does
//! not; ramalama passes it the same way). So under rootless Podman the groups
//! become `keep-groups` with crun, and are dropped with a note saying what to
//! do otherwise; either way the user must be in the groups themselves.

use std::collections::BTreeMap;

use crate::backend::Backend;
use crate::engine::EngineInfo;
use crate::host::devices::Passthrough;

/// Podman's special group: keep the calling user's supplementary groups.
pub const KEEP_GROUPS: &str = "keep-groups";

/// Adjusts each backend's groups to the engine: unchanged rootful, else as the
/// module says. `my_groups` are the calling user's supplementary group ids.
/// Returns what the user should know, one line per backend concerned.
pub fn adjust_groups(
    passthroughs: &mut BTreeMap<Backend, Passthrough>,
    engine: &EngineInfo,
    my_groups: &[u32],
) -> Vec<String> {
    if engine.rootless != Some(true) {
        return Vec::new();
    }
    let crun = engine.runtime.as_deref() == Some("crun");
    let mut notes = Vec::new();
    for (backend, p) in passthroughs.iter_mut() {
        if p.group_add.is_empty() {
            continue;
        }
        let needed = std::mem::take(&mut p.group_add);
        let missing: Vec<&String> = needed
            .iter()
            .filter(|g| !g.parse().is_ok_and(|g: u32| my_groups.contains(&g)))
            .collect();
        let join = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
        let all = needed.iter().collect::<Vec<_>>();
        let mut line = if crun {
            p.group_add = vec![KEEP_GROUPS.to_string()];
            format!(
                "{}: rootless Podman: the container keeps your own groups (keep-groups) for {}",
                backend.name(),
                p.devices.join(" ")
            )
        } else {
            format!(
                "{}: rootless Podman under {} drops your supplementary groups, so the container can open {} only if their mode lets anyone: install crun (rootless Podman then keeps your groups), or run rootful",
                backend.name(),
                engine.runtime.as_deref().unwrap_or("this runtime"),
                p.devices.join(" ")
            )
        };
        if !missing.is_empty() {
            line.push_str(&format!(
                "; you are not in group(s) {} (of {}), which own the devices: `sudo usermod -aG GROUP $USER`, then log in again",
                join(&missing),
                join(&all)
            ));
        }
        notes.push(line);
    }
    notes
}

/// The calling process's supplementary group ids (none if they cannot be read).
pub fn my_groups() -> Vec<u32> {
    rustix::process::getgroups()
        .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineKind;

    fn engine(rootless: bool, runtime: &str) -> EngineInfo {
        EngineInfo {
            kind: EngineKind::Podman,
            version: "4.3.1".into(),
            api_version: "1.41".into(),
            runtime: Some(runtime.into()),
            cgroup_version: Some("2".into()),
            socket: "unix:///run/user/1000/podman/podman.sock".into(),
            service_started_by_rigbench: false,
            service_pid: None,
            rootless: Some(rootless),
            remote: None,
        }
    }

    fn rocm() -> BTreeMap<Backend, Passthrough> {
        let p = Passthrough {
            devices: vec!["/dev/kfd".into(), "/dev/dri/renderD128".into()],
            group_add: vec!["105".into(), "44".into()],
            ..Default::default()
        };
        let cpu = Passthrough::default();
        BTreeMap::from([(Backend::Rocm7, p), (Backend::Cpu, cpu)])
    }

    #[test]
    fn rootful_keeps_the_numeric_groups() {
        let mut p = rocm();
        assert!(adjust_groups(&mut p, &engine(false, "crun"), &[]).is_empty());
        assert_eq!(p[&Backend::Rocm7].group_add, ["105", "44"]);
    }

    #[test]
    fn rootless_crun_keeps_the_users_groups_and_names_the_missing_ones() {
        let mut p = rocm();
        let notes = adjust_groups(&mut p, &engine(true, "crun"), &[44, 1000]);
        assert_eq!(p[&Backend::Rocm7].group_add, [KEEP_GROUPS]);
        assert!(p[&Backend::Cpu].group_add.is_empty());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("rocm7: rootless Podman: the container keeps your own groups (keep-groups) for /dev/kfd /dev/dri/renderD128"), "{}", notes[0]);
        assert!(
            notes[0].contains("you are not in group(s) 105 (of 105 44)"),
            "{}",
            notes[0]
        );
        // In every group: nothing to fix, only the note.
        let mut p = rocm();
        let notes = adjust_groups(&mut p, &engine(true, "crun"), &[44, 105]);
        assert!(!notes[0].contains("not in group"), "{}", notes[0]);
    }

    #[test]
    fn rootless_runc_drops_the_groups_and_says_what_to_do() {
        let mut p = rocm();
        let notes = adjust_groups(&mut p, &engine(true, "runc"), &[44, 105]);
        assert!(p[&Backend::Rocm7].group_add.is_empty());
        assert!(
            notes[0].contains("under runc drops your supplementary groups"),
            "{}",
            notes[0]
        );
        assert!(notes[0].contains("install crun"), "{}", notes[0]);
    }
}
