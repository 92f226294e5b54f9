//! Sector I/O on a quorum device: the only module that issues system calls on the disk.
//!
//! A [`SectorDevice`] is opened `O_RDWR|O_SYNC|O_DIRECT|O_CLOEXEC` (read-only for
//! listings), learns its logical sector size from `BLKSSZGET` and its size from a seek to
//! the end, and does every I/O as exactly one positioned system call (`pread`/`pwrite`) on
//! a sector-aligned offset, length and buffer. It counts the I/Os it issues so that
//! benchmarks and tests can see the cost of a read pass.
//!
//! Regular files work too, for tests and for trying things out: they have no kernel sector
//! size, so the caller supplies one (default 512), and a file system without O_DIRECT
//! support (tmpfs) falls back to synchronous buffered I/O, which [`SectorDevice::is_direct`]
//! reports.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Sector size assumed for a regular file when none is given.
pub const DEFAULT_FILE_SECTOR_SIZE: u32 = 512;

/// How to open a device.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeviceOptions {
    /// Open for writing too (otherwise read-only).
    pub write: bool,
    /// Open a block device with `O_EXCL`: the kernel refuses (EBUSY) when the device is
    /// mounted, used as swap, or held by RAID, LVM or multipath.
    pub exclusive: bool,
    /// Sector size to use for a regular file (ignored for block devices).
    pub file_sector_size: Option<u32>,
}

/// What kind of file the device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A block device: the real thing.
    Block,
    /// A regular file: for tests and experiments.
    RegularFile,
}

/// A read or a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoOp {
    /// A read.
    Read,
    /// A write.
    Write,
}

impl std::fmt::Display for IoOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IoOp::Read => "read",
            IoOp::Write => "write",
        })
    }
}

/// Errors from opening a device or doing I/O on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The device could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The device.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Exclusive open refused: something holds the device.
    #[error("{path} is in use (mounted, swap, or held by RAID/LVM/multipath): the kernel refused exclusive access")]
    Busy {
        /// The device.
        path: PathBuf,
    },
    /// Neither a block device nor a regular file.
    #[error("{path} is neither a block device nor a regular file")]
    WrongFileType {
        /// The path.
        path: PathBuf,
    },
    /// The logical sector size could not be read.
    #[error("cannot read the sector size of {path} (BLKSSZGET): {source}")]
    SectorSize {
        /// The device.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A read or write failed.
    #[error("{op} of {len} bytes at offset {offset} on {path} failed: {source}")]
    Io {
        /// Read or write.
        op: IoOp,
        /// The device.
        path: PathBuf,
        /// Byte offset.
        offset: u64,
        /// Byte count.
        len: usize,
        /// Why.
        source: std::io::Error,
    },
    /// A read or write transferred fewer bytes than asked (the device ends there).
    #[error("{op} of {len} bytes at offset {offset} on {path} transferred only {done}: the device is smaller than the layout needs")]
    Short {
        /// Read or write.
        op: IoOp,
        /// The device.
        path: PathBuf,
        /// Byte offset.
        offset: u64,
        /// Byte count asked.
        len: usize,
        /// Byte count done.
        done: usize,
    },
    /// An offset or length that is not a whole number of sectors (a bug in the caller).
    #[error("unaligned {op} of {len} bytes at offset {offset} (sector size {sector_size})")]
    Unaligned {
        /// Read or write.
        op: IoOp,
        /// Byte offset.
        offset: u64,
        /// Byte count.
        len: usize,
        /// The sector size.
        sector_size: u32,
    },
}

/// An open quorum device doing whole-sector, direct, synchronous I/O.
#[derive(Debug)]
pub struct SectorDevice {
    file: File,
    path: PathBuf,
    kind: DeviceKind,
    sector_size: u32,
    size: u64,
    direct: bool,
    ios: AtomicU64,
}

fn open_file(path: &Path, options: &DeviceOptions, direct: bool) -> std::io::Result<File> {
    let mut flags = libc::O_SYNC | libc::O_CLOEXEC;
    if direct {
        flags |= libc::O_DIRECT;
    }
    if options.exclusive {
        flags |= libc::O_EXCL;
    }
    OpenOptions::new()
        .read(true)
        .write(options.write)
        .custom_flags(flags)
        .open(path)
}

impl SectorDevice {
    /// Opens `path` as described by `options`.
    pub fn open(path: &Path, options: DeviceOptions) -> Result<Self, DeviceError> {
        let meta = std::fs::metadata(path).map_err(|source| DeviceError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let kind = if meta.file_type().is_block_device() {
            DeviceKind::Block
        } else if meta.file_type().is_file() {
            DeviceKind::RegularFile
        } else {
            return Err(DeviceError::WrongFileType {
                path: path.to_path_buf(),
            });
        };
        let options = DeviceOptions {
            // O_EXCL means "exclusive" only for block devices; on a file it means O_CREAT's
            // partner and is meaningless here.
            exclusive: options.exclusive && kind == DeviceKind::Block,
            ..options
        };
        let (file, direct) = match open_file(path, &options, true) {
            Ok(file) => (file, true),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && kind == DeviceKind::RegularFile => {
                let file =
                    open_file(path, &options, false).map_err(|source| DeviceError::Open {
                        path: path.to_path_buf(),
                        source,
                    })?;
                (file, false)
            }
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                return Err(DeviceError::Busy {
                    path: path.to_path_buf(),
                })
            }
            Err(source) => {
                return Err(DeviceError::Open {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let sector_size = match kind {
            DeviceKind::Block => {
                rustix::fs::ioctl_blksszget(&file).map_err(|e| DeviceError::SectorSize {
                    path: path.to_path_buf(),
                    source: e.into(),
                })?
            }
            DeviceKind::RegularFile => options.file_sector_size.unwrap_or(DEFAULT_FILE_SECTOR_SIZE),
        };
        let size = (&file)
            .seek(SeekFrom::End(0))
            .map_err(|source| DeviceError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
            kind,
            sector_size,
            size,
            direct,
            ios: AtomicU64::new(0),
        })
    }

    /// The path it was opened by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Block device or regular file.
    pub fn kind(&self) -> DeviceKind {
        self.kind
    }

    /// Logical sector size: `BLKSSZGET` for block devices, the chosen one for files.
    pub fn sector_size(&self) -> u32 {
        self.sector_size
    }

    /// Use another sector size for a regular file (after reading the one its header
    /// records). Block devices keep the kernel's.
    pub fn set_file_sector_size(&mut self, sector_size: u32) {
        if self.kind == DeviceKind::RegularFile {
            self.sector_size = sector_size;
        }
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether I/O bypasses the page cache (O_DIRECT).
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// System calls issued for I/O so far.
    pub fn io_count(&self) -> u64 {
        self.ios.load(Ordering::Relaxed)
    }

    fn check_aligned(&self, op: IoOp, offset: u64, len: usize) -> Result<(), DeviceError> {
        let ssz = u64::from(self.sector_size);
        if offset % ssz != 0 || len as u64 % ssz != 0 || len == 0 {
            return Err(DeviceError::Unaligned {
                op,
                offset,
                len,
                sector_size: self.sector_size,
            });
        }
        Ok(())
    }

    /// Reads `buf.len()` bytes at `offset` in one `pread`: whole sectors, aligned buffer.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.check_aligned(IoOp::Read, offset, buf.len())?;
        self.ios.fetch_add(1, Ordering::Relaxed);
        let done = self
            .file
            .read_at(buf, offset)
            .map_err(|source| self.io_error(IoOp::Read, offset, buf.len(), source))?;
        if done != buf.len() {
            return Err(DeviceError::Short {
                op: IoOp::Read,
                path: self.path.clone(),
                offset,
                len: buf.len(),
                done,
            });
        }
        Ok(())
    }

    /// Writes `buf` at `offset` in one `pwrite`: whole sectors, aligned buffer, synchronous.
    pub fn write_at(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceError> {
        self.check_aligned(IoOp::Write, offset, buf.len())?;
        self.ios.fetch_add(1, Ordering::Relaxed);
        let done = self
            .file
            .write_at(buf, offset)
            .map_err(|source| self.io_error(IoOp::Write, offset, buf.len(), source))?;
        if done != buf.len() {
            return Err(DeviceError::Short {
                op: IoOp::Write,
                path: self.path.clone(),
                offset,
                len: buf.len(),
                done,
            });
        }
        Ok(())
    }

    fn io_error(&self, op: IoOp, offset: u64, len: usize, source: std::io::Error) -> DeviceError {
        DeviceError::Io {
            op,
            path: self.path.clone(),
            offset,
            len,
            source,
        }
    }
}
