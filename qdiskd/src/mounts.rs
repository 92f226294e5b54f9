//! Is a block device in use? Mounts, swap, holders and partitions, with the reason.
//!
//! `mkqdisk -c` refuses a device that is in use and says why; as a last line of defence it
//! also opens the device with `O_EXCL`, which the kernel refuses for any device it holds.

use std::path::{Path, PathBuf};

use crate::scan::{holders, kernel_name, partitions, ScanRoots};

/// One reason a device must not be overwritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InUse {
    /// The device (or partition `device`) is mounted at `mount_point`.
    Mounted {
        /// What is mounted: the device or one of its partitions.
        device: String,
        /// Where.
        mount_point: String,
    },
    /// The device (or a partition of it) is active swap.
    Swap {
        /// Which device.
        device: String,
    },
    /// Other devices are stacked on it.
    Holders {
        /// Which device.
        device: String,
        /// Their names.
        holders: Vec<String>,
    },
}

impl std::fmt::Display for InUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InUse::Mounted {
                device,
                mount_point,
            } => write!(f, "{device} is mounted on {mount_point}"),
            InUse::Swap { device } => write!(f, "{device} is in use as swap"),
            InUse::Holders { device, holders } => write!(
                f,
                "{device} is held by {} (multipath, LVM or RAID); use the device on top instead",
                holders.join(", ")
            ),
        }
    }
}

/// `(major, minor, mount point)` for every entry of a `/proc/self/mountinfo` text.
pub fn parse_mountinfo(text: &str) -> Vec<(u32, u32, String)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let devnum = fields.nth(2)?;
            let mount_point = fields.nth(1)?;
            let (major, minor) = devnum.split_once(':')?;
            Some((
                major.parse().ok()?,
                minor.parse().ok()?,
                mount_point.replace("\\040", " "),
            ))
        })
        .collect()
}

/// Device paths of every active swap area in a `/proc/swaps` text.
pub fn parse_swaps(text: &str) -> Vec<PathBuf> {
    text.lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next().map(PathBuf::from))
        .collect()
}

fn devnum(roots: &ScanRoots, name: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(roots.sys_class_block.join(name).join("dev")).ok()?;
    let (major, minor) = text.trim().split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Every reason the block device at `path` (or one of its partitions) is in use, read from
/// sysfs, `/proc/self/mountinfo` and `/proc/swaps`. Empty when it is free.
pub fn in_use(roots: &ScanRoots, path: &Path) -> Vec<InUse> {
    let Some(name) = kernel_name(roots, path) else {
        return Vec::new();
    };
    let mounts =
        parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
    let swaps: Vec<String> =
        parse_swaps(&std::fs::read_to_string("/proc/swaps").unwrap_or_default())
            .iter()
            .filter_map(|swap| kernel_name(roots, swap))
            .collect();
    let mut reasons = Vec::new();
    let mut names = vec![name.clone()];
    names.extend(partitions(roots, &name));
    for device in names {
        if let Some((major, minor)) = devnum(roots, &device) {
            for (_, _, mount_point) in mounts
                .iter()
                .filter(|(ma, mi, _)| (*ma, *mi) == (major, minor))
            {
                reasons.push(InUse::Mounted {
                    device: device.clone(),
                    mount_point: mount_point.clone(),
                });
            }
        }
        if swaps.contains(&device) {
            reasons.push(InUse::Swap {
                device: device.clone(),
            });
        }
        let held_by = holders(roots, &device);
        if !held_by.is_empty() {
            reasons.push(InUse::Holders {
                device,
                holders: held_by,
            });
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_give_device_numbers_and_mount_points() {
        let text = "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
                    30 22 7:3 / /mnt/my\\040disk rw - ext4 /dev/loop3 rw\n";
        assert_eq!(
            parse_mountinfo(text),
            vec![
                (254, 1, "/".to_string()),
                (7, 3, "/mnt/my disk".to_string())
            ]
        );
    }

    #[test]
    fn swaps_lists_devices_after_the_heading() {
        let text = "Filename\tType\tSize\tUsed\tPriority\n/dev/sdb2 partition 1 0 -2\n";
        assert_eq!(parse_swaps(text), vec![PathBuf::from("/dev/sdb2")]);
    }
}
