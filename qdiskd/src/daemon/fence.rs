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

/// Fences this node. Does not return when it works.
pub fn fire(armed: &Armed, reason: &str) -> ! {
    tracing::error!("SELF-FENCE: {reason}; action: {armed}");
    eprintln!("qdiskd: SELF-FENCE: {reason}; action: {armed}");
    match armed {
        Armed::Reboot => {
            let e = rustix::system::reboot(rustix::system::RebootCommand::Restart);
            eprintln!("qdiskd: reboot(2) failed: {e:?}");
        }
        Armed::KillCgroup(path) => {
            if let Err(e) = std::fs::write(path, "1") {
                eprintln!("qdiskd: cannot write {}: {e}", path.display());
            }
            // We are in that cgroup: the kill reaches us too. Wait for it.
            std::thread::sleep(std::time::Duration::from_secs(5));
        }
    }
    // The action did not take this process down: never go on running.
    std::process::abort()
}
