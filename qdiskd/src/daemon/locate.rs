//! Finding the quorum disk: by device, or by label among the machine's block devices
//! (skipping multipath legs and RAID members, as `mkqdisk -L` does).

use std::path::PathBuf;

use crate::config::DiskTarget;
use crate::device::DeviceOptions;
use crate::disk::QuorumDisk;
use crate::scan::{block_devices, ScanRoots};

/// Resolves the configured target to a device path; warns when a label is ambiguous.
pub fn locate(target: &DiskTarget) -> Result<PathBuf, String> {
    match target {
        DiskTarget::Device(path) => Ok(path.clone()),
        DiskTarget::Label(label) => {
            let matches: Vec<PathBuf> = block_devices(&ScanRoots::default())
                .into_iter()
                .filter(|d| d.skip.is_none())
                .filter_map(|d| {
                    let disk = QuorumDisk::open(&d.path, DeviceOptions::default()).ok()?;
                    (disk.header().label == *label).then_some(d.path)
                })
                .collect();
            match matches.as_slice() {
                [] => Err(format!(
                    "no quorum disk labelled '{label}' found (check with mkqdisk -L; create one with mkqdisk -c DEVICE -l {label})"
                )),
                [one] => Ok(one.clone()),
                [first, ..] => {
                    tracing::warn!(
                        "{} quorum disks are labelled '{label}'; using {} — set device= instead",
                        matches.len(),
                        first.display()
                    );
                    Ok(first.clone())
                }
            }
        }
    }
}
