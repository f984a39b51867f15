//! Which process owns a container: every container rigbench creates carries
//! `LABEL_OWNER` = `PID:START`, the creating process's id and its start time
//! (clock ticks since boot, field 22 of /proc/PID/stat), so that a process id
//! reused by an unrelated program later does not pass for the owner.
//! `rigbench cleanup` leaves the containers of an owner that is still alive.

use std::path::Path;

/// This process's owner token.
pub fn this_process() -> String {
    let pid = std::process::id();
    let start = start_time(Path::new("/proc"), pid).unwrap_or(0);
    format!("{pid}:{start}")
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

/// Whether the process a token names still runs (same id, same start time).
pub fn is_alive(token: &str) -> bool {
    is_alive_in(Path::new("/proc"), token)
}

fn is_alive_in(proc_root: &Path, token: &str) -> bool {
    let Some((pid, start)) = token.split_once(':') else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    start_time(proc_root, pid) == Some(start)
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
        assert!(is_alive_in(proc.path(), "4242:777123"));
        // The same id started at another time: a reused pid, not the owner.
        assert!(!is_alive_in(proc.path(), "4242:777124"));
        assert!(!is_alive_in(proc.path(), "4243:777123"));
        assert!(!is_alive_in(proc.path(), "garbage"));
        assert_eq!(pid_of("4242:777123"), Some(4242));
    }

    #[test]
    fn this_process_is_alive() {
        let me = this_process();
        assert!(is_alive(&me), "{me}");
        assert_eq!(pid_of(&me), Some(std::process::id()));
    }
}
