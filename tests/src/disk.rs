//! The shared disk: one sparse image, seen by every node through its own FUSE fault disk
//! ([`crate::faultdisk`]) and its own loop device, so that faults can be injected per node.
//!
//! Node `i` uses `/dev/loopN` = [`SharedDisk::device`]`(i)`; all of them show the same bytes.
//! [`SharedDisk::set_fault`] makes one node's I/O fail (EIO) or hang while the others go on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fuser::{BackgroundSession, MountOption};

use crate::cmd::run;
use crate::error::{LabError, Result};
use crate::faultdisk::{DiskFault, FaultControl, FaultFs, Gate, Landing};

/// FUSE subtype of the fault disk mounts (`fuse.qlabdisk` in `/proc/mounts`).
pub const FUSE_SUBTYPE: &str = "qlabdisk";

struct NodeDisk {
    node: usize,
    device: PathBuf,
    mountpoint: PathBuf,
    control: FaultControl,
    session: Option<BackgroundSession>,
}

/// The lab's shared disk.
pub struct SharedDisk {
    image: PathBuf,
    size: u64,
    sector_size: u32,
    disks: Vec<NodeDisk>,
}

impl std::fmt::Debug for SharedDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedDisk")
            .field("image", &self.image)
            .field("size", &self.size)
            .field("sector_size", &self.sector_size)
            .field(
                "devices",
                &self.disks.iter().map(|d| &d.device).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SharedDisk {
    /// Creates the sparse image `dir/qlab-shared.img` of `size` bytes, and for each node a
    /// FUSE mount under `dir` and a loop device with `sector_size`-byte sectors over it.
    pub fn create(dir: &Path, nodes: usize, size: u64, sector_size: u32) -> Result<SharedDisk> {
        if sector_size != 512 && sector_size != 4096 {
            return Err(LabError::Invalid(format!(
                "sector size {sector_size}: the lab makes 512- or 4096-byte disks"
            )));
        }
        if size == 0 || size % 4096 != 0 {
            return Err(LabError::Invalid(format!(
                "disk size {size} is not a positive multiple of 4096"
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
        let image = dir.join("qlab-shared.img");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&image)
            .map_err(|e| LabError::io(&image, e))?;
        file.set_len(size).map_err(|e| LabError::io(&image, e))?;
        let file = Arc::new(file);
        let mut disk = SharedDisk {
            image,
            size,
            sector_size,
            disks: Vec::new(),
        };
        for node in 1..=nodes {
            // `disk` cleans up what was made so far if this fails (Drop).
            let mountpoint = dir.join(format!("n{node}"));
            std::fs::create_dir_all(&mountpoint).map_err(|e| LabError::io(&mountpoint, e))?;
            let control = FaultControl::new(Arc::clone(&file));
            let file_name = format!("qlabdisk-n{node}.img");
            let fs = FaultFs::new(&file_name, size, control.clone());
            let options = [
                MountOption::FSName("qlab".into()),
                MountOption::Subtype(FUSE_SUBTYPE.into()),
                MountOption::AllowOther,
                MountOption::RW,
                MountOption::NoExec,
            ];
            let session = fuser::spawn_mount2(fs, &mountpoint, &options).map_err(|source| {
                LabError::Mount {
                    path: mountpoint.clone(),
                    source,
                }
            })?;
            disk.disks.push(NodeDisk {
                node,
                device: PathBuf::new(),
                mountpoint: mountpoint.clone(),
                control,
                session: Some(session),
            });
            let backing = mountpoint.join(&file_name);
            let device = run(
                "losetup",
                [
                    "--find",
                    "--show",
                    "--sector-size",
                    &sector_size.to_string(),
                    &backing.display().to_string(),
                ],
            )?;
            if let Some(last) = disk.disks.last_mut() {
                last.device = PathBuf::from(device.trim());
            }
        }
        Ok(disk)
    }

    fn node_disk(&self, node: usize) -> Result<&NodeDisk> {
        self.disks
            .iter()
            .find(|d| d.node == node)
            .ok_or_else(|| LabError::Invalid(format!("no disk for node {node}")))
    }

    /// Node `node`'s block device (e.g. `/dev/loop5`).
    pub fn device(&self, node: usize) -> Result<&Path> {
        self.node_disk(node).map(|d| d.device.as_path())
    }

    /// The image file behind every node's device (the test may read it directly).
    pub fn image(&self) -> &Path {
        &self.image
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Logical sector size of every node's device.
    pub fn sector_size(&self) -> u32 {
        self.sector_size
    }

    /// Sets node `node`'s disk fault; the other nodes are not affected.
    pub fn set_fault(&self, node: usize, fault: DiskFault) -> Result<()> {
        self.node_disk(node)?.control.set(fault);
        Ok(())
    }

    /// Node `node`'s current disk fault.
    pub fn fault(&self, node: usize) -> Result<DiskFault> {
        Ok(self.node_disk(node)?.control.fault())
    }

    /// The handle that sets node `node`'s fault, for code that must act on it from another
    /// thread (the lab's watchdog fails a reset node's hanging requests).
    pub fn fault_control(&self, node: usize) -> Result<FaultControl> {
        Ok(self.node_disk(node)?.control.clone())
    }

    /// How many of node `node`'s requests hang now.
    pub fn stalled_requests(&self, node: usize) -> Result<usize> {
        Ok(self.node_disk(node)?.control.stalled())
    }

    /// Starts journaling, on every node's disk, the writes that overlap `range` (byte
    /// offsets on the disk; see [`FaultControl::journal_writes`]); clears the journals.
    pub fn journal_writes(&self, range: std::ops::Range<u64>) -> Result<()> {
        if range.end > self.size {
            return Err(LabError::Invalid(format!(
                "journal range {range:?} goes beyond the {}-byte disk",
                self.size
            )));
        }
        for d in &self.disks {
            d.control.journal_writes(range.clone());
        }
        Ok(())
    }

    /// The writes journaled on node `node`'s disk, in landing order.
    pub fn journal(&self, node: usize) -> Result<Vec<Landing>> {
        Ok(self.node_disk(node)?.control.journal())
    }

    /// Every node's journal, as `(node, landings)`, the input of
    /// [`crate::diskwriter::check::check`].
    pub fn journals(&self) -> Vec<(u32, Vec<Landing>)> {
        self.disks
            .iter()
            .map(|d| (d.node as u32, d.control.journal()))
            .collect()
    }

    /// Sets node `node`'s gate (see [`FaultControl::set_gate`]): while it returns true the
    /// node is cut off from the disk.
    pub fn set_gate(&self, node: usize, gate: Gate) -> Result<()> {
        self.node_disk(node)?.control.set_gate(gate);
        Ok(())
    }

    /// Releases every stall, detaches the loop devices and unmounts the FUSE file systems.
    pub fn destroy(&mut self) -> Result<()> {
        let mut first_error = None;
        for d in &self.disks {
            d.control.set(DiskFault::Healthy);
        }
        for d in &mut self.disks {
            if !d.device.as_os_str().is_empty() {
                if let Err(e) = run("losetup", ["--detach", &d.device.display().to_string()]) {
                    first_error.get_or_insert(e);
                }
                d.device = PathBuf::new();
            }
        }
        for d in &mut self.disks {
            // Dropping the session unmounts and ends its thread.
            if let Some(session) = d.session.take() {
                drop(session);
            }
            if is_mounted(&d.mountpoint) {
                let _ = run("umount", ["--lazy", &d.mountpoint.display().to_string()]);
            }
        }
        self.disks.clear();
        let _ = std::fs::remove_file(&self.image);
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for SharedDisk {
    fn drop(&mut self) {
        if let Err(e) = self.destroy() {
            eprintln!("lab: shared disk teardown: {e}");
        }
    }
}

fn is_mounted(path: &Path) -> bool {
    let target = path.display().to_string();
    std::fs::read_to_string("/proc/self/mounts")
        .map(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(1) == Some(&target))
        })
        .unwrap_or(false)
}
