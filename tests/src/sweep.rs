//! Finding and removing what labs left behind: namespaces, cgroups (with their processes),
//! processes, FUSE mounts, loop devices and directories.
//!
//! Every lab object carries the lab's id (`qlab...`) in its name or path, and every lab
//! directory holds an owner marker ([`crate::owner`]). [`sweep`] removes only objects whose
//! owner is dead, so it is safe while other labs run; [`leftovers`] lists everything.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::cgroup::{cgroup2_root, Cgroup};
use crate::cmd::run;
use crate::netns;
use crate::owner::Owner;
use crate::unique::PREFIX;

/// What kind of object was left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A network namespace.
    Namespace,
    /// A cgroup directory.
    Cgroup,
    /// A process.
    Process,
    /// A mount (a FUSE fault disk or watchdog).
    Mount,
    /// A loop device.
    LoopDevice,
    /// A lab directory.
    Directory,
}

/// One lab object found on the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// What it is.
    pub kind: Kind,
    /// Its name, path or PID.
    pub name: String,
    /// The lab id it belongs to, when it can be told.
    pub lab: Option<String>,
    /// Whether the process that owns it is still running (then it is in use, not left over).
    pub owner_alive: bool,
}

impl fmt::Display for Leftover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}", self.kind, self.name)?;
        if let Some(lab) = &self.lab {
            write!(f, " (lab {lab})")?;
        }
        if self.owner_alive {
            f.write_str(" [owner running]")?;
        }
        Ok(())
    }
}

/// The lab id in a name like `qlabL123x0-n1` or a path containing `/qlabL123x0/`.
fn lab_id_of(text: &str) -> Option<String> {
    let start = text.find(PREFIX)?;
    let id: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    Some(id)
}

fn lab_dir(id: &str) -> PathBuf {
    std::env::temp_dir().join(id)
}

fn owner_alive_for_id(id: &str) -> bool {
    Owner::read_from(&lab_dir(id)).is_some_and(|o| o.is_alive())
}

fn owner_alive_for_path(path: &Path) -> bool {
    Owner::find_above(path).is_some_and(|(_, o)| o.is_alive())
}

/// Every lab object on this machine, live or left over.
pub fn leftovers() -> Vec<Leftover> {
    let mut found = Vec::new();
    let item = |kind, name: String, lab: Option<String>, alive| Leftover {
        kind,
        name,
        lab,
        owner_alive: alive,
    };
    for name in netns::lab_namespaces() {
        let id = lab_id_of(&name);
        let alive = id.as_deref().is_some_and(owner_alive_for_id);
        found.push(item(Kind::Namespace, name, id, alive));
    }
    if let Ok(root) = cgroup2_root() {
        for dir in lab_entries(&root) {
            let id = lab_id_of(&dir.display().to_string());
            let alive = id.as_deref().is_some_and(owner_alive_for_id);
            for pid in Cgroup::open(dir.clone()).pids() {
                found.push(item(Kind::Process, pid.to_string(), id.clone(), alive));
            }
            found.push(item(Kind::Cgroup, dir.display().to_string(), id, alive));
        }
    }
    for (pid, cmdline) in lab_processes() {
        if found
            .iter()
            .any(|l| l.kind == Kind::Process && l.name == pid.to_string())
        {
            continue;
        }
        let id = lab_id_of(&cmdline);
        let alive = id.as_deref().is_some_and(owner_alive_for_id);
        found.push(item(Kind::Process, format!("{pid} {cmdline}"), id, alive));
    }
    for mount in lab_mounts() {
        let alive = owner_alive_for_path(Path::new(&mount));
        found.push(item(Kind::Mount, mount.clone(), lab_id_of(&mount), alive));
    }
    for (device, backing) in crate::loopdev::lab_loop_devices() {
        let alive = owner_alive_for_path(&backing);
        let backing = backing.display().to_string();
        found.push(item(
            Kind::LoopDevice,
            format!("{} ({backing})", device.display()),
            lab_id_of(&backing),
            alive,
        ));
    }
    for dir in lab_entries(&std::env::temp_dir()) {
        let alive = Owner::read_from(&dir).is_some_and(|o| o.is_alive());
        let name = dir.display().to_string();
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!("{PREFIX}L")));
        found.push(item(Kind::Directory, name, id, alive));
    }
    found
}

/// Every object of lab `id` still on the machine; empty after a clean teardown.
pub fn leftovers_of(id: &str) -> Vec<Leftover> {
    leftovers()
        .into_iter()
        .filter(|l| l.lab.as_deref() == Some(id))
        .collect()
}

/// Removes every lab object whose owner is dead (a killed run) and returns what it removed.
pub fn sweep() -> Vec<Leftover> {
    let dead: Vec<Leftover> = leftovers().into_iter().filter(|l| !l.owner_alive).collect();
    // Order matters: processes first (they hold namespaces, mounts and devices), then loop
    // devices (they hold the FUSE files), mounts, namespaces, cgroups and directories.
    for l in dead.iter().filter(|l| l.kind == Kind::Cgroup) {
        let cg = Cgroup::open(PathBuf::from(&l.name));
        let _ = std::fs::write(cg.path().join("cgroup.freeze"), "0");
        let _ = cg.kill_all();
    }
    for l in dead.iter().filter(|l| l.kind == Kind::Process) {
        if let Some(pid) = l.name.split_whitespace().next() {
            let _ = run("kill", ["-9", pid]);
        }
    }
    for l in dead.iter().filter(|l| l.kind == Kind::LoopDevice) {
        if let Some(device) = l.name.split_whitespace().next() {
            let _ = run("losetup", ["--detach", device]);
        }
    }
    for l in dead.iter().filter(|l| l.kind == Kind::Mount) {
        let _ = run("umount", ["--lazy", l.name.as_str()]);
    }
    for l in dead.iter().filter(|l| l.kind == Kind::Namespace) {
        let _ = netns::delete(&l.name);
    }
    for l in dead.iter().filter(|l| l.kind == Kind::Cgroup) {
        let _ = Cgroup::open(PathBuf::from(&l.name)).destroy();
    }
    for l in dead.iter().filter(|l| l.kind == Kind::Directory) {
        let _ = std::fs::remove_dir_all(&l.name);
    }
    dead
}

fn lab_entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Processes (other than this one) whose command line names a lab directory.
fn lab_processes() -> Vec<(u32, String)> {
    let marker = format!("{}/{PREFIX}", std::env::temp_dir().display());
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(&marker) {
            out.push((pid, cmdline.trim().to_string()));
        }
    }
    out
}

/// Mount points of lab FUSE disks and anything mounted under a lab directory.
fn lab_mounts() -> Vec<String> {
    let marker = format!("{}/{PREFIX}", std::env::temp_dir().display());
    let Ok(text) = std::fs::read_to_string("/proc/self/mounts") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _source = fields.next()?;
            let target = fields.next()?;
            let fstype = fields.next()?;
            (fstype.starts_with("fuse.qlab") || target.starts_with(&marker))
                .then(|| target.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_ids_are_read_from_names_and_paths() {
        assert_eq!(lab_id_of("qlabL12x3-n1").as_deref(), Some("qlabL12x3"));
        assert_eq!(
            lab_id_of("/tmp/qlabL12x3/disk/n1").as_deref(),
            Some("qlabL12x3")
        );
        assert_eq!(lab_id_of("other"), None);
    }
}
