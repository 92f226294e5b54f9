//! Who owns a lab: a marker file with the owner's PID and start time, so that the sweeper
//! removes only what a dead process left behind and never a lab that is still running.

use std::path::{Path, PathBuf};

/// Name of the marker file in every lab directory.
pub const OWNER_FILE: &str = ".qlab-owner";

/// The identity of a process: PID plus its start time (clock ticks since boot), which tells a
/// live owner from a recycled PID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat`.
    pub start_time: u64,
}

impl Owner {
    /// The current process.
    pub fn me() -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            start_time: start_time(pid).unwrap_or(0),
        }
    }

    /// Whether this process is still running.
    pub fn is_alive(&self) -> bool {
        start_time(self.pid) == Some(self.start_time)
    }

    /// Writes the marker into `dir`.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::write(
            dir.join(OWNER_FILE),
            format!("{} {}\n", self.pid, self.start_time),
        )
    }

    /// Reads the marker of `dir`, if there is one.
    pub fn read_from(dir: &Path) -> Option<Owner> {
        let text = std::fs::read_to_string(dir.join(OWNER_FILE)).ok()?;
        let mut fields = text.split_whitespace();
        let pid = fields.next()?.parse().ok()?;
        let start_time = fields.next()?.parse().ok()?;
        Some(Owner { pid, start_time })
    }

    /// The owner recorded in `path` or the nearest of its ancestors.
    pub fn find_above(path: &Path) -> Option<(PathBuf, Owner)> {
        path.ancestors()
            .find_map(|dir| Owner::read_from(dir).map(|owner| (dir.to_path_buf(), owner)))
    }
}

fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after the last ')' are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_not() {
        let me = Owner::me();
        assert!(me.is_alive());
        let other = Owner {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!other.is_alive());
    }
}
