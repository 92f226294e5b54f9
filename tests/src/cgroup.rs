//! cgroup v2 groups: how the lab knows every process of a node (also ones that daemonize),
//! kills them all at once (`cgroup.kill`) and freezes them (`cgroup.freeze`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::wait::wait_until;

/// How long a kill or freeze may take before it is reported as failed.
const SETTLE: Duration = Duration::from_secs(10);

/// The mount point of the cgroup v2 hierarchy (`/sys/fs/cgroup` on a pure v2 system,
/// `/sys/fs/cgroup/unified` on a hybrid one).
pub fn cgroup2_root() -> Result<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts")
        .map_err(|e| LabError::io("/proc/self/mounts", e))?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _source = fields.next()?;
            let target = fields.next()?;
            (fields.next()? == "cgroup2").then(|| PathBuf::from(target))
        })
        .next()
        .ok_or(LabError::NoCgroup2)
}

/// One cgroup directory the lab created.
#[derive(Debug, Clone)]
pub struct Cgroup {
    path: PathBuf,
}

impl Cgroup {
    /// Creates (or adopts) the group at `path`.
    pub fn create(path: PathBuf) -> Result<Cgroup> {
        std::fs::create_dir_all(&path).map_err(|e| LabError::io(&path, e))?;
        Ok(Cgroup { path })
    }

    /// A handle on an existing group (used by the sweeper).
    pub fn open(path: PathBuf) -> Cgroup {
        Cgroup { path }
    }

    /// The group's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `cgroup.procs` file: write a PID into it to move that process here.
    pub fn procs_file(&self) -> PathBuf {
        self.path.join("cgroup.procs")
    }

    /// Every process in this group and its children.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        collect_pids(&self.path, &mut pids);
        pids
    }

    /// Whether any process is left in the group or below it.
    pub fn is_populated(&self) -> bool {
        self.event("populated").unwrap_or(0) == 1 || !self.pids().is_empty()
    }

    /// Whether the group is frozen.
    pub fn is_frozen(&self) -> bool {
        self.event("frozen").unwrap_or(0) == 1
    }

    fn event(&self, key: &str) -> Option<u64> {
        let text = std::fs::read_to_string(self.path.join("cgroup.events")).ok()?;
        text.lines().find_map(|line| {
            let (k, v) = line.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok())?
        })
    }

    fn write(&self, file: &str, value: &str) -> Result<()> {
        let path = self.path.join(file);
        std::fs::write(&path, value).map_err(|e| LabError::io(path, e))
    }

    /// SIGKILLs every process in the group (also frozen ones) and waits until they are gone.
    pub fn kill_all(&self) -> Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        self.write("cgroup.kill", "1")?;
        wait_until(
            SETTLE,
            Duration::from_millis(5),
            "the processes of a killed cgroup to exit",
            || !self.is_populated(),
        )?;
        Ok(())
    }

    /// Freezes every process of the group and waits until the kernel reports it frozen.
    pub fn freeze(&self) -> Result<()> {
        self.write("cgroup.freeze", "1")?;
        wait_until(
            SETTLE,
            Duration::from_millis(2),
            "a cgroup to freeze",
            || self.is_frozen(),
        )?;
        Ok(())
    }

    /// Thaws the group.
    pub fn thaw(&self) -> Result<()> {
        self.write("cgroup.freeze", "0")?;
        wait_until(SETTLE, Duration::from_millis(2), "a cgroup to thaw", || {
            !self.is_frozen()
        })?;
        Ok(())
    }

    /// Thaws, kills everything in the group and its children, and removes the directories.
    pub fn destroy(&self) -> Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        let _ = self.write("cgroup.freeze", "0");
        self.kill_all()?;
        remove_tree(&self.path)
    }
}

fn collect_pids(dir: &Path, pids: &mut Vec<u32>) {
    if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        pids.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&entry.path(), pids);
            }
        }
    }
}

/// cgroup directories are removed bottom-up with `rmdir` (their files cannot be deleted).
fn remove_tree(dir: &Path) -> Result<()> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path())?;
            }
        }
    }
    // A group whose last process just exited can be busy for a moment.
    let mut last = None;
    for _ in 0..200 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(LabError::io(
        dir,
        last.unwrap_or_else(|| std::io::Error::other("rmdir failed")),
    ))
}
