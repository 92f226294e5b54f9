//! Finding candidate quorum disks in sysfs, without opening any device.
//!
//! Like Red Hat's `scandisk`, the scan walks every block device the kernel lists and skips
//! the ones a quorum disk can never be: devices with holders (the member paths of a
//! multipath map, disks under LVM or RAID), software RAID arrays, and empty devices (an
//! unattached loop device, a drive without medium). What remains is opened by the caller
//! (read-only) to look for a header. Every `/dev` alias of a device (the node itself,
//! `/dev/mapper/NAME`, `/dev/disk/by-*/...`) is collected so a listing can show them all,
//! as Red Hat's `mkqdisk -L` does.
//!
//! The roots are parameters so tests can point the scan at a tree they built.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the scan looks.
#[derive(Debug, Clone)]
pub struct ScanRoots {
    /// Normally `/sys/class/block`.
    pub sys_class_block: PathBuf,
    /// Normally `/dev`.
    pub dev: PathBuf,
}

impl Default for ScanRoots {
    fn default() -> Self {
        Self {
            sys_class_block: PathBuf::from("/sys/class/block"),
            dev: PathBuf::from("/dev"),
        }
    }
}

/// Why a block device is not a candidate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Other devices are stacked on it (multipath leg, LVM PV, RAID member); use the device
    /// on top instead.
    Holders(Vec<String>),
    /// A software RAID array (Red Hat's qdiskd does not support md).
    SoftwareRaid,
    /// Size 0: nothing attached.
    Empty,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Holders(holders) => write!(f, "held by {}", holders.join(", ")),
            SkipReason::SoftwareRaid => f.write_str("software RAID"),
            SkipReason::Empty => f.write_str("empty"),
        }
    }
}

/// One block device the kernel lists.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BlockDevice {
    /// Kernel name, e.g. `loop3`, `sdb1`, `dm-2`.
    pub name: String,
    /// `/dev/NAME`.
    pub path: PathBuf,
    /// Every other path in `/dev` that leads to it.
    pub aliases: Vec<PathBuf>,
    /// Size in bytes.
    pub size: u64,
    /// Whether it is a partition of another device.
    pub is_partition: bool,
    /// Why it cannot be a quorum disk, if it cannot.
    pub skip: Option<SkipReason>,
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn dir_names(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Devices stacked on block device `name` (its sysfs `holders/`).
pub fn holders(roots: &ScanRoots, name: &str) -> Vec<String> {
    dir_names(&roots.sys_class_block.join(name).join("holders"))
}

/// Partitions of block device `name` (subdirectories with a `partition` file).
pub fn partitions(roots: &ScanRoots, name: &str) -> Vec<String> {
    let dir = roots.sys_class_block.join(name);
    dir_names(&dir)
        .into_iter()
        .filter(|child| dir.join(child).join("partition").is_file())
        .collect()
}

/// Kernel name of the block device at `path` (following symlinks), found through sysfs.
pub fn kernel_name(roots: &ScanRoots, path: &Path) -> Option<String> {
    let canonical = std::fs::canonicalize(path).ok()?;
    let name = canonical.file_name()?.to_string_lossy().into_owned();
    roots.sys_class_block.join(&name).exists().then_some(name)
}

/// Map from canonical device path to the other `/dev` paths that lead to it.
fn alias_map(dev: &Path) -> BTreeMap<PathBuf, Vec<PathBuf>> {
    let mut map: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    let mut dirs = vec![dev.join("mapper")];
    for sub in dir_names(&dev.join("disk")) {
        dirs.push(dev.join("disk").join(sub));
    }
    for dir in dirs {
        for name in dir_names(&dir) {
            let link = dir.join(&name);
            if let Ok(target) = std::fs::canonicalize(&link) {
                if target != link {
                    map.entry(target).or_default().push(link);
                }
            }
        }
    }
    map
}

/// Every block device the kernel lists, with the reason to skip it where there is one.
pub fn block_devices(roots: &ScanRoots) -> Vec<BlockDevice> {
    let aliases = alias_map(&roots.dev);
    dir_names(&roots.sys_class_block)
        .into_iter()
        .map(|name| {
            let sys = roots.sys_class_block.join(&name);
            let sectors: u64 = read_trimmed(&sys.join("size"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let held_by = holders(roots, &name);
            let skip = if !held_by.is_empty() {
                Some(SkipReason::Holders(held_by))
            } else if sys.join("md").is_dir() {
                Some(SkipReason::SoftwareRaid)
            } else if sectors == 0 {
                Some(SkipReason::Empty)
            } else {
                None
            };
            let path = roots.dev.join(&name);
            let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            let mut device_aliases = aliases.get(&canonical).cloned().unwrap_or_default();
            if let Some(dm_name) = read_trimmed(&sys.join("dm").join("name")) {
                let mapper = roots.dev.join("mapper").join(dm_name);
                if !device_aliases.contains(&mapper) {
                    device_aliases.insert(0, mapper);
                }
            }
            BlockDevice {
                is_partition: sys.join("partition").is_file(),
                name,
                path,
                aliases: device_aliases,
                size: sectors.saturating_mul(512),
                skip,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_tree() -> (tempfile::TempDir, ScanRoots) {
        let root = tempfile::tempdir().expect("tempdir");
        let sys = root.path().join("sys");
        let dev = root.path().join("dev");
        let mk = |name: &str, size: &str| {
            std::fs::create_dir_all(sys.join(name).join("holders")).expect("mkdir");
            std::fs::write(sys.join(name).join("size"), size).expect("write");
            std::fs::write(dev.join(name), b"").expect("node");
        };
        std::fs::create_dir_all(&dev).expect("mkdir");
        mk("sda", "2048\n");
        mk("sdb", "2048\n");
        mk("dm-0", "2048\n");
        mk("md0", "2048\n");
        mk("loop7", "0\n");
        std::fs::create_dir_all(sys.join("md0").join("md")).expect("mkdir");
        std::fs::create_dir_all(sys.join("sdb").join("holders").join("dm-0")).expect("mkdir");
        std::fs::create_dir_all(sys.join("dm-0").join("dm")).expect("mkdir");
        std::fs::write(sys.join("dm-0").join("dm").join("name"), "mpatha\n").expect("write");
        std::fs::create_dir_all(sys.join("sda").join("sda1")).expect("mkdir");
        std::fs::write(sys.join("sda").join("sda1").join("partition"), "1\n").expect("write");
        let roots = ScanRoots {
            sys_class_block: sys,
            dev,
        };
        (root, roots)
    }

    #[test]
    fn multipath_legs_raid_and_empty_devices_are_skipped() {
        let (_root, roots) = fake_tree();
        let devices = block_devices(&roots);
        let by_name = |n: &str| {
            devices
                .iter()
                .find(|d| d.name == n)
                .expect("listed")
                .clone()
        };
        assert_eq!(by_name("sda").skip, None);
        assert_eq!(
            by_name("sdb").skip,
            Some(SkipReason::Holders(vec!["dm-0".into()]))
        );
        assert_eq!(by_name("md0").skip, Some(SkipReason::SoftwareRaid));
        assert_eq!(by_name("loop7").skip, Some(SkipReason::Empty));
        let dm = by_name("dm-0");
        assert_eq!(dm.skip, None);
        assert_eq!(dm.aliases, vec![roots.dev.join("mapper").join("mpatha")]);
        assert_eq!(by_name("sda").size, 2048 * 512);
        assert_eq!(partitions(&roots, "sda"), vec!["sda1".to_string()]);
    }
}
