//! Which process owns a container: every container rigbench creates carries
//! `LABEL_OWNER` = `PID:START@BOOT_ID`, the creating process's id and its
//! start time (clock ticks since boot, field 22 of /proc/PID/stat), so that a
//! process id reused by an unrelated program later does not pass for the
//! owner, and the boot id of the machine it ran on, so that a container made
//! through another host's engine is not judged by that host's processes.
//! `rigbench cleanup` leaves the containers of an owner that is still alive,
//! and those of one on another machine (it cannot see those).

use std::path::Path;

/// This process's owner token: `PID:START@BOOT_ID`, the boot id naming this
/// machine's boot (`/proc/sys/kernel/random/boot_id`), so that a container on
/// another host's engine tells which machine's process made it.
pub fn this_process() -> String {
    token_in(Path::new("/proc"), std::process::id())
}

fn token_in(proc_root: &Path, pid: u32) -> String {
    let start = start_time(proc_root, pid).unwrap_or(0);
    match boot_id(proc_root) {
        Some(boot) => format!("{pid}:{start}@{boot}"),
        None => format!("{pid}:{start}"),
    }
}

/// This machine's boot id, if it can be read.
fn boot_id(proc_root: &Path) -> Option<String> {
    let id = std::fs::read_to_string(proc_root.join("sys/kernel/random/boot_id")).ok()?;
    Some(id.trim().to_string()).filter(|i| !i.is_empty())
}

/// The start time of `pid` under `proc_root`, if it runs.
fn start_time(proc_root: &Path, pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// The process id of an owner token.
pub fn pid_of(token: &str) -> Option<u32> {
    token.split_once(':')?.0.parse().ok()
}

/// What can be told of a container's owner from this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Its process runs here (same id, same start time, this boot).
    Alive,
    /// It ran here and is gone (or the token is not one).
    Gone,
    /// It ran on another machine (another boot id): a run driven from there
    /// against this engine, whose process cannot be seen from here.
    Elsewhere,
}

/// The owner a token names, seen from this machine.
pub fn owner(token: &str) -> Owner {
    owner_in(Path::new("/proc"), token)
}

fn owner_in(proc_root: &Path, token: &str) -> Owner {
    let (process, boot) = match token.split_once('@') {
        Some((p, b)) => (p, Some(b)),
        None => (token, None),
    };
    if let (Some(b), Some(here)) = (boot, boot_id(proc_root)) {
        if b != here {
            return Owner::Elsewhere;
        }
    }
    let Some((pid, start)) = process.split_once(':') else {
        return Owner::Gone;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return Owner::Gone;
    };
    match start_time(proc_root, pid) == Some(start) {
        true => Owner::Alive,
        false => Owner::Gone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_proc(pid: u32, stat: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(pid.to_string())).unwrap();
        std::fs::write(dir.path().join(pid.to_string()).join("stat"), stat).unwrap();
        dir
    }

    #[test]
    fn the_start_time_is_field_22_even_with_a_strange_command_name() {
        // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt
        // cminflt majflt cmajflt utime stime cutime cstime priority nice
        // num_threads itrealvalue starttime ...
        let stat = "4242 (rig) bench) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 2 0 0 20 0 9 0 777123 1000 10";
        let proc = fake_proc(4242, stat);
        assert_eq!(start_time(proc.path(), 4242), Some(777_123));
        assert_eq!(owner_in(proc.path(), "4242:777123"), Owner::Alive);
        // The same id started at another time: a reused pid, not the owner.
        assert_eq!(owner_in(proc.path(), "4242:777124"), Owner::Gone);
        assert_eq!(owner_in(proc.path(), "4243:777123"), Owner::Gone);
        assert_eq!(owner_in(proc.path(), "garbage"), Owner::Gone);
        assert_eq!(pid_of("4242:777123"), Some(4242));
    }

    #[test]
    fn an_owner_on_another_machine_is_neither_alive_nor_gone_here() {
        let stat =
            "4242 (rigbench) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 2 0 0 20 0 9 0 777123 1000 10";
        let proc = fake_proc(4242, stat);
        let boot = proc.path().join("sys/kernel/random");
        std::fs::create_dir_all(&boot).unwrap();
        std::fs::write(
            boot.join("boot_id"),
            "5a1c0c2e-0000-4000-8000-000000000001\n",
        )
        .unwrap();
        let here = token_in(proc.path(), 4242);
        assert_eq!(here, "4242:777123@5a1c0c2e-0000-4000-8000-000000000001");
        assert_eq!(owner_in(proc.path(), &here), Owner::Alive);
        // The same pid and start time on another boot: another machine's
        // process (a laptop driving this host's engine), not this one's.
        let there = "4242:777123@0be1d0b0-0000-4000-8000-000000000002";
        assert_eq!(owner_in(proc.path(), there), Owner::Elsewhere);
        assert_eq!(pid_of(there), Some(4242));
        // A token from before boot ids were recorded: this machine's.
        assert_eq!(owner_in(proc.path(), "4242:777123"), Owner::Alive);
    }

    #[test]
    fn this_process_is_alive() {
        let me = this_process();
        assert_eq!(owner(&me), Owner::Alive, "{me}");
        assert_eq!(pid_of(&me), Some(std::process::id()));
    }
}
