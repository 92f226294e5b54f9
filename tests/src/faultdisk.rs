//! The per-node fault disk: a FUSE passthrough file system (served by `fuser` from a thread
//! of the lab process) that exposes the one shared image as one file, and can make its I/O
//! fail or hang.
//!
//! Why FUSE: this kernel has no device-mapper, NBD or ublk and cannot load modules, but it
//! has FUSE. Each node gets its own mount of this file system and its own loop device over
//! the file in it, so a fault set on one node's server hits that node's I/O only. Files are
//! opened with `FOPEN_DIRECT_IO`, so there is no page cache between the loop device and the
//! image: an O_DIRECT write through one node's device is read back through another's at
//! once. In [`DiskFault::Stall`] a request's reply is parked, so the caller really blocks in
//! the kernel (state D) until the fault is lifted; parked requests then complete (or fail,
//! if the new fault is [`DiskFault::Fail`]).

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use fuser::{
    FileAttr, FileType, Filesystem, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyWrite, Request,
};

const ROOT: u64 = 1;
const IMAGE: u64 = 2;
const TTL: Duration = Duration::from_secs(1);

/// What a node's disk does to that node's I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFault {
    /// Reads and writes go through.
    Healthy,
    /// Every read and write fails with EIO.
    Fail,
    /// Every read and write hangs until the fault is changed.
    Stall,
}

enum Parked {
    Read {
        offset: u64,
        size: u32,
        reply: ReplyData,
    },
    Write {
        offset: u64,
        data: Vec<u8>,
        reply: ReplyWrite,
    },
    Sync {
        reply: ReplyEmpty,
    },
}

struct State {
    fault: DiskFault,
    parked: Vec<Parked>,
    served: u64,
}

/// The handle the lab keeps to change one node's fault; shared with that node's server.
#[derive(Clone)]
pub struct FaultControl {
    image: Arc<File>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FaultControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultControl")
            .field("fault", &self.fault())
            .field("stalled", &self.stalled())
            .finish()
    }
}

impl FaultControl {
    /// A control over `image`, healthy.
    pub fn new(image: Arc<File>) -> FaultControl {
        FaultControl {
            image,
            state: Arc::new(Mutex::new(State {
                fault: DiskFault::Healthy,
                parked: Vec::new(),
                served: 0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current fault.
    pub fn fault(&self) -> DiskFault {
        self.lock().fault
    }

    /// How many requests are hanging now.
    pub fn stalled(&self) -> usize {
        self.lock().parked.len()
    }

    /// How many reads and writes were served (answered, with data or an error).
    pub fn served(&self) -> u64 {
        self.lock().served
    }

    /// Sets the fault. Leaving [`DiskFault::Stall`] releases the hanging requests, which
    /// are then served under the new fault.
    pub fn set(&self, fault: DiskFault) {
        let parked = {
            let mut state = self.lock();
            state.fault = fault;
            if fault == DiskFault::Stall {
                return;
            }
            std::mem::take(&mut state.parked)
        };
        for request in parked {
            self.serve(fault, request);
        }
    }

    fn submit(&self, request: Parked) {
        let fault = {
            let mut state = self.lock();
            if state.fault == DiskFault::Stall {
                state.parked.push(request);
                return;
            }
            state.fault
        };
        self.serve(fault, request);
    }

    fn serve(&self, fault: DiskFault, request: Parked) {
        self.lock().served += 1;
        let failed = fault == DiskFault::Fail;
        match request {
            Parked::Read {
                offset,
                size,
                reply,
            } => {
                if failed {
                    return reply.error(libc::EIO);
                }
                let mut buf = vec![0u8; size as usize];
                match read_full(&self.image, &mut buf, offset) {
                    Ok(n) => reply.data(&buf[..n]),
                    Err(e) => reply.error(e.raw_os_error().unwrap_or(libc::EIO)),
                }
            }
            Parked::Write {
                offset,
                data,
                reply,
            } => {
                if failed {
                    return reply.error(libc::EIO);
                }
                match self.image.write_all_at(&data, offset) {
                    Ok(()) => reply.written(data.len() as u32),
                    Err(e) => reply.error(e.raw_os_error().unwrap_or(libc::EIO)),
                }
            }
            Parked::Sync { reply } => {
                if failed {
                    return reply.error(libc::EIO);
                }
                match self.image.sync_data() {
                    Ok(()) => reply.ok(),
                    Err(e) => reply.error(e.raw_os_error().unwrap_or(libc::EIO)),
                }
            }
        }
    }
}

fn read_full(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64)? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

/// The FUSE file system: a root directory holding one file, the image.
pub struct FaultFs {
    name: String,
    size: u64,
    control: FaultControl,
}

impl FaultFs {
    /// A file system showing `size` bytes of the image as the file `name`.
    pub fn new(name: &str, size: u64, control: FaultControl) -> FaultFs {
        FaultFs {
            name: name.to_string(),
            size,
            control,
        }
    }

    fn attr(&self, ino: u64) -> FileAttr {
        let now = SystemTime::now();
        let (kind, perm, size, nlink) = if ino == ROOT {
            (FileType::Directory, 0o755, 0, 2)
        } else {
            (FileType::RegularFile, 0o600, self.size, 1)
        };
        FileAttr {
            ino,
            size,
            blocks: size.div_ceil(512),
            atime: now,
            mtime: now,
            ctime: now,
            crtime: now,
            kind,
            perm,
            nlink,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }
}

/// Puts the calling thread in the lowest real-time class (SCHED_RR, priority 1), as a disk
/// controller would be: the lab's disk must not stall because the machine is busy, or a
/// quorum disk daemon's write deadline measures the test machine's load rather than the
/// code under test. `who` names the thread in the message printed when this fails (no
/// permission), which leaves the thread as it is. Processes the thread starts get the
/// normal class back (`SCHED_RESET_ON_FORK`).
#[allow(unsafe_code)]
pub(crate) fn realtime_thread(who: &str) {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: sched_setscheduler reads `param` for the duration of the call; pid 0 is the
    // calling thread; nothing is shared.
    let rc =
        unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &param) };
    if rc != 0 {
        eprintln!(
            "lab: {who} stays in the normal scheduling class: {}",
            std::io::Error::last_os_error()
        );
    }
}

impl Filesystem for FaultFs {
    fn init(
        &mut self,
        _req: &Request<'_>,
        _config: &mut fuser::KernelConfig,
    ) -> Result<(), libc::c_int> {
        realtime_thread("fault disk server");
        Ok(())
    }

    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        if parent == ROOT && name == OsStr::new(&self.name) {
            reply.entry(&TTL, &self.attr(IMAGE), 0);
        } else {
            reply.error(libc::ENOENT);
        }
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        match ino {
            ROOT | IMAGE => reply.attr(&TTL, &self.attr(ino)),
            _ => reply.error(libc::ENOENT),
        }
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, _flags: i32, reply: ReplyOpen) {
        if ino == IMAGE {
            reply.opened(0, fuser::consts::FOPEN_DIRECT_IO);
        } else {
            reply.error(libc::EISDIR);
        }
    }

    fn read(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyData,
    ) {
        let Ok(offset) = u64::try_from(offset) else {
            return reply.error(libc::EINVAL);
        };
        self.control.submit(Parked::Read {
            offset,
            size,
            reply,
        });
    }

    fn write(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        offset: i64,
        data: &[u8],
        _write_flags: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyWrite,
    ) {
        let Ok(offset) = u64::try_from(offset) else {
            return reply.error(libc::EINVAL);
        };
        if offset.saturating_add(data.len() as u64) > self.size {
            return reply.error(libc::ENOSPC);
        }
        self.control.submit(Parked::Write {
            offset,
            data: data.to_vec(),
            reply,
        });
    }

    fn flush(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, _lock: u64, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fsync(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, _data: bool, reply: ReplyEmpty) {
        self.control.submit(Parked::Sync { reply });
    }

    fn readdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        mut reply: ReplyDirectory,
    ) {
        if ino != ROOT {
            return reply.error(libc::ENOTDIR);
        }
        let entries = [
            (ROOT, FileType::Directory, "."),
            (ROOT, FileType::Directory, ".."),
            (IMAGE, FileType::RegularFile, self.name.as_str()),
        ];
        for (i, (ino, kind, name)) in entries.iter().enumerate().skip(offset.max(0) as usize) {
            if reply.add(*ino, (i + 1) as i64, *kind, name) {
                break;
            }
        }
        reply.ok();
    }
}
