//! Loop block devices over sparse files: the lab's shared disk.
//!
//! A [`LoopDevice`] owns both the sparse backing file (in its own temporary directory) and
//! the `/dev/loopN` attached to it; dropping it detaches the device and removes the file,
//! also when the test that made it panics. Backing files carry the lab prefix in their
//! name so that [`sweep`] can find leftovers of a run that was killed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::unique::{unique_name, PREFIX};

/// What can go wrong while making or removing a loop device.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// The backing file could not be created or sized.
    #[error("cannot create the backing file {path}: {source}")]
    BackingFile {
        /// The file that could not be made.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `losetup` failed or could not be run (is util-linux installed, are we root?).
    #[error("losetup {args}: {reason}")]
    Losetup {
        /// The arguments given to losetup.
        args: String,
        /// Its error output, or why it could not run.
        reason: String,
    },
}

/// How to build a loop device.
#[derive(Debug, Clone)]
pub struct LoopBuilder {
    size_bytes: u64,
    sector_size: u32,
    direct_io: bool,
}

impl Default for LoopBuilder {
    fn default() -> Self {
        Self {
            size_bytes: 16 << 20,
            sector_size: 512,
            direct_io: false,
        }
    }
}

impl LoopBuilder {
    /// Size of the sparse backing file (default 16 MiB).
    pub fn size_bytes(mut self, size: u64) -> Self {
        self.size_bytes = size;
        self
    }

    /// Logical sector size the loop device reports through `BLKSSZGET`: 512 or 4096.
    pub fn sector_size(mut self, sector_size: u32) -> Self {
        self.sector_size = sector_size;
        self
    }

    /// Let the loop driver use direct I/O on its backing file (no page cache in between),
    /// which is what a benchmark of O_DIRECT reads wants.
    pub fn direct_io(mut self, on: bool) -> Self {
        self.direct_io = on;
        self
    }

    /// Creates the backing file and attaches a free loop device to it.
    pub fn build(self) -> Result<LoopDevice, LoopError> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}-disk-"))
            .tempdir()
            .map_err(|source| LoopError::BackingFile {
                path: std::env::temp_dir(),
                source,
            })?;
        // The sweeper removes only devices whose owner is dead.
        crate::owner::Owner::me()
            .write_to(dir.path())
            .map_err(|source| LoopError::BackingFile {
                path: dir.path().to_path_buf(),
                source,
            })?;
        let backing = dir.path().join(format!("{}.img", unique_name("disk")));
        let file = std::fs::File::create(&backing).map_err(|source| LoopError::BackingFile {
            path: backing.clone(),
            source,
        })?;
        file.set_len(self.size_bytes)
            .map_err(|source| LoopError::BackingFile {
                path: backing.clone(),
                source,
            })?;
        drop(file);
        let mut args = vec![
            "--find".to_string(),
            "--show".to_string(),
            "--sector-size".to_string(),
            self.sector_size.to_string(),
        ];
        if self.direct_io {
            args.push("--direct-io=on".to_string());
        }
        args.push(backing.display().to_string());
        let device = losetup(&args)?;
        Ok(LoopDevice {
            device: PathBuf::from(device.trim()),
            backing,
            sector_size: self.sector_size,
            _dir: dir,
        })
    }
}

/// A loop block device this process created; detached and deleted on drop.
#[derive(Debug)]
pub struct LoopDevice {
    device: PathBuf,
    backing: PathBuf,
    sector_size: u32,
    _dir: tempfile::TempDir,
}

impl LoopDevice {
    /// A builder with the defaults: 16 MiB, 512-byte sectors, buffered backing I/O.
    pub fn builder() -> LoopBuilder {
        LoopBuilder::default()
    }

    /// The block device, e.g. `/dev/loop3`.
    pub fn path(&self) -> &Path {
        &self.device
    }

    /// The sparse file behind the device.
    pub fn backing_file(&self) -> &Path {
        &self.backing
    }

    /// The logical sector size the device was created with.
    pub fn sector_size(&self) -> u32 {
        self.sector_size
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        if let Err(error) = losetup(&["--detach".to_string(), self.device.display().to_string()]) {
            eprintln!("lab: could not detach {}: {error}", self.device.display());
        }
    }
}

fn losetup(args: &[String]) -> Result<String, LoopError> {
    let joined = args.join(" ");
    let output = Command::new("losetup")
        .args(args)
        .output()
        .map_err(|error| LoopError::Losetup {
            args: joined.clone(),
            reason: format!("cannot run losetup: {error}"),
        })?;
    if !output.status.success() {
        return Err(LoopError::Losetup {
            args: joined,
            reason: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Loop devices attached to a lab backing file, as `(device, backing file)` pairs.
pub fn lab_loop_devices() -> Vec<(PathBuf, PathBuf)> {
    let Ok(listing) = losetup(&[
        "--list".into(),
        "--noheadings".into(),
        "--output".into(),
        "NAME,BACK-FILE".into(),
    ]) else {
        return Vec::new();
    };
    listing
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let device = fields.next()?;
            let backing = fields.next()?;
            let is_lab = Path::new(backing)
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with(PREFIX));
            is_lab.then(|| (PathBuf::from(device), PathBuf::from(backing)))
        })
        .collect()
}

/// Detaches every loop device left over from a lab run that was killed before it could
/// clean up (identified by the lab prefix of the backing file's name). Returns what it
/// detached.
pub fn sweep() -> Vec<PathBuf> {
    let mut detached = Vec::new();
    for (device, backing) in lab_loop_devices() {
        if losetup(&["--detach".into(), device.display().to_string()]).is_ok() {
            detached.push(device);
        }
        let _ = std::fs::remove_file(&backing);
    }
    detached
}
