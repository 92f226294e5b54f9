//! Self-fencing: checked at start (the daemon says which action is set and refuses an
//! action that cannot work), carried out at once when the core asks.

use std::path::PathBuf;

use crate::config::SelfFenceAction;

/// A self-fence action ready to fire.
#[derive(Debug, Clone)]
pub enum Armed {
    /// `reboot(2)` with no sync.
    Reboot,
    /// Write 1 to this `cgroup.kill`.
    KillCgroup(PathBuf),
}

impl std::fmt::Display for Armed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Armed::Reboot => f.write_str("reboot (this machine restarts at once, without sync)"),
            Armed::KillCgroup(path) => write!(
                f,
                "kill-cgroup (every process in {} is killed; the machine is NOT rebooted)",
                path.parent().map_or(path.clone(), PathBuf::from).display()
            ),
        }
    }
}

/// This process's cgroup v2 directory.
fn own_cgroup() -> Result<PathBuf, String> {
    let text = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let relative = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("no cgroup v2 membership in /proc/self/cgroup")?;
    if relative == "/" || relative.is_empty() {
        return Err("qdiskd runs in the root cgroup: kill-cgroup would kill every process of the machine; run it in a cgroup of its own node (or use self_fence = \"reboot\")".into());
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").map_err(|e| e.to_string())?;
    let root = mounts
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(f[1]))
        })
        .ok_or("no cgroup2 file system mounted")?;
    Ok(root.join(relative.trim_start_matches('/')))
}

/// Checks that `action` can fire here, and returns it armed.
pub fn arm(action: SelfFenceAction) -> Result<Armed, String> {
    match action {
        SelfFenceAction::Reboot => Ok(Armed::Reboot),
        SelfFenceAction::KillCgroup => {
            let kill = own_cgroup()?.join("cgroup.kill");
            if !kill.exists() {
                return Err(format!(
                    "{} does not exist (cgroup.kill needs Linux 5.14)",
                    kill.display()
                ));
            }
            Ok(Armed::KillCgroup(kill))
        }
    }
}

/// Writes `line` to standard error without ever blocking: standard error is switched to
/// non-blocking mode first, and whatever does not fit into a full pipe is dropped. A
/// self-fence must not wait for a log reader (a stuck journald, a full pipe).
pub fn say_without_blocking(line: &str) {
    use std::os::fd::AsFd;
    let stderr = std::io::stderr();
    let fd = stderr.as_fd();
    if let Ok(flags) = rustix::fs::fcntl_getfl(fd) {
        let _ = rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK);
    }
    let _ = rustix::io::write(fd, line.as_bytes());
}

/// Fences this node. Does not return when it works. Nothing before the action can block:
/// the one log line goes to standard error with a single non-blocking write.
pub fn fire(armed: &Armed, reason: &str) -> ! {
    fire_action(armed, reason, false)
}

/// Like [`fire`]; with `power_off` (a poison pill that asked for `off`) a machine is
/// powered off instead of restarted. `kill-cgroup` is the same either way.
pub fn fire_action(armed: &Armed, reason: &str, power_off: bool) -> ! {
    let what = if power_off && matches!(armed, Armed::Reboot) {
        "power off (this machine stops at once, without sync)".to_string()
    } else {
        armed.to_string()
    };
    say_without_blocking(&format!("qdiskd: SELF-FENCE: {reason}; action: {what}\n"));
    match armed {
        Armed::Reboot => {
            let command = if power_off {
                rustix::system::RebootCommand::PowerOff
            } else {
                rustix::system::RebootCommand::Restart
            };
            let e = rustix::system::reboot(command);
            say_without_blocking(&format!("qdiskd: reboot(2) failed: {e:?}\n"));
        }
        Armed::KillCgroup(path) => {
            if let Err(e) = std::fs::write(path, "1") {
                say_without_blocking(&format!("qdiskd: cannot write {}: {e}\n", path.display()));
            }
            // We are in that cgroup: the kill reaches us too. Wait for it.
            std::thread::sleep(std::time::Duration::from_secs(5));
        }
    }
    // The action did not take this process down: never go on running.
    std::process::abort()
}
