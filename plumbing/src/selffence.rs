//! Self-fencing, the same in every daemon that must be able to take its node down (qdiskd
//! evicted or hung, hbd after a failed stop): the action is checked at start (the daemon
//! says which is set and refuses one that cannot work) and carried out at once, naming the
//! daemon that fires it.

use std::path::PathBuf;

use serde::Deserialize;

/// The configured action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelfFenceAction {
    /// Reboot the machine at once (`reboot(2)`, no sync): production.
    Reboot,
    /// Kill every process of the daemon's own cgroup (`cgroup.kill`): test labs, where a
    /// "node" is a cgroup of a shared machine. Refused in the root cgroup.
    KillCgroup,
}

impl std::fmt::Display for SelfFenceAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SelfFenceAction::Reboot => "reboot",
            SelfFenceAction::KillCgroup => "kill-cgroup",
        })
    }
}

/// How an armed action fences.
#[derive(Debug, Clone, PartialEq, Eq)]
enum How {
    /// `reboot(2)` with no sync.
    Reboot,
    /// Write 1 to this `cgroup.kill`.
    KillCgroup(PathBuf),
}

/// A self-fence action ready to fire, and the daemon that fires it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Armed {
    daemon: &'static str,
    how: How,
}

impl Armed {
    /// The daemon that fires it (the first word of its SELF-FENCE line).
    pub fn daemon(&self) -> &'static str {
        self.daemon
    }

    /// Whether it restarts the machine (as opposed to killing the node's processes).
    pub fn reboots(&self) -> bool {
        self.how == How::Reboot
    }
}

impl std::fmt::Display for Armed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.how {
            How::Reboot => f.write_str("reboot (this machine restarts at once, without sync)"),
            How::KillCgroup(path) => write!(
                f,
                "kill-cgroup (every process in {} is killed; the machine is NOT rebooted)",
                path.parent().map_or(path.clone(), PathBuf::from).display()
            ),
        }
    }
}

/// This process's cgroup v2 directory.
fn own_cgroup(daemon: &str) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let relative = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("no cgroup v2 membership in /proc/self/cgroup")?;
    if relative == "/" || relative.is_empty() {
        return Err(format!(
            "{daemon} runs in the root cgroup: kill-cgroup would kill every process of the \
             machine; run it in a cgroup of its own node (or use the reboot action)"
        ));
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

/// Checks that `action` can fire here for `daemon`, and returns it armed.
pub fn arm(action: SelfFenceAction, daemon: &'static str) -> Result<Armed, String> {
    let how = match action {
        SelfFenceAction::Reboot => How::Reboot,
        SelfFenceAction::KillCgroup => {
            let kill = own_cgroup(daemon)?.join("cgroup.kill");
            if !kill.exists() {
                return Err(format!(
                    "{} does not exist (cgroup.kill needs Linux 5.14)",
                    kill.display()
                ));
            }
            How::KillCgroup(kill)
        }
    };
    Ok(Armed { daemon, how })
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
    let daemon = armed.daemon;
    let what = if power_off && armed.reboots() {
        "power off (this machine stops at once, without sync)".to_string()
    } else {
        armed.to_string()
    };
    say_without_blocking(&format!("{daemon}: SELF-FENCE: {reason}; action: {what}\n"));
    match &armed.how {
        How::Reboot => {
            let command = if power_off {
                rustix::system::RebootCommand::PowerOff
            } else {
                rustix::system::RebootCommand::Restart
            };
            let e = rustix::system::reboot(command);
            say_without_blocking(&format!("{daemon}: reboot(2) failed: {e:?}\n"));
        }
        How::KillCgroup(path) => {
            if let Err(e) = std::fs::write(path, "1") {
                say_without_blocking(&format!("{daemon}: cannot write {}: {e}\n", path.display()));
            }
            // We are in that cgroup: the kill reaches us too. Wait for it.
            std::thread::sleep(std::time::Duration::from_secs(5));
        }
    }
    // The action did not take this process down: never go on running.
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_and_print_as_the_cluster_file_writes_them() {
        #[derive(Deserialize)]
        struct One {
            a: SelfFenceAction,
        }
        for (text, want) in [
            ("reboot", SelfFenceAction::Reboot),
            ("kill-cgroup", SelfFenceAction::KillCgroup),
        ] {
            let one: One = toml::from_str(&format!("a = \"{text}\"")).expect(text);
            assert_eq!(one.a, want);
            assert_eq!(want.to_string(), text);
        }
        let armed = arm(SelfFenceAction::Reboot, "hbd").expect("reboot arms anywhere");
        assert!(armed.reboots());
        assert_eq!(
            armed.daemon(),
            "hbd",
            "hbd's self-fence says hbd, not qdiskd"
        );
        assert!(armed
            .to_string()
            .starts_with("reboot (this machine restarts"));
    }
}
