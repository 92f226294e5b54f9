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
//!
//! Two more things serve the chaos campaign's shared-disk writer ([`crate::diskwriter`]):
//! the landing journal ([`FaultControl::journal_writes`]) records, for one byte range, every
//! write the server performs on the image with the moment it landed, so a checker can prove
//! when each record reached the disk whatever the writer claims; and the gate
//! ([`FaultControl::set_gate`]) cuts a node off the disk (powered off, SAN port disabled):
//! while it says so, every request is answered EIO at the moment it would be served.

use std::ffi::OsStr;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

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

/// The size of the sectors the landing journal records.
pub const JOURNAL_SECTOR: u64 = 512;

/// One 512-byte sector of the journaled range as a write the server performed left it
/// ([`FaultControl::journal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    /// Byte offset of the sector in the image (a multiple of [`JOURNAL_SECTOR`]).
    pub offset: u64,
    /// The sector's [`JOURNAL_SECTOR`] bytes right after the write.
    pub data: Vec<u8>,
    /// When the write landed in the image (the lab's monotonic clock).
    pub at: Instant,
}

/// Says whether a node is cut off from the disk (see [`FaultControl::set_gate`]).
pub type Gate = Arc<dyn Fn() -> bool + Send + Sync>;

/// A request as the server performs it.
enum Op {
    Read { offset: u64, size: u32 },
    Write { offset: u64, data: Vec<u8> },
    Sync,
}

/// How a request was answered.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Data(Vec<u8>),
    Written(u32),
    Done,
    Error(i32),
}

/// Delivers the answer (to FUSE, or to a unit test).
type Reply = Box<dyn FnOnce(Answer) + Send>;

struct Parked {
    op: Op,
    reply: Reply,
}

struct State {
    fault: DiskFault,
    parked: Vec<Parked>,
    served: u64,
}

/// The journal and the gate. Its lock is held from the gate check to the journal entry
/// of every write, so that once [`FaultControl::recheck_gate`] has seen the gate closed no
/// write of this node lands any more.
#[derive(Default)]
struct Landings {
    range: Option<Range<u64>>,
    journal: Vec<Landing>,
    gate: Option<Gate>,
}

/// The handle the lab keeps to change one node's fault; shared with that node's server.
#[derive(Clone)]
pub struct FaultControl {
    image: Arc<File>,
    state: Arc<Mutex<State>>,
    landings: Arc<Mutex<Landings>>,
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
            landings: Arc::new(Mutex::new(Landings::default())),
        }
    }

    fn lock_landings(&self) -> std::sync::MutexGuard<'_, Landings> {
        self.landings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts journaling the writes that overlap `range` (byte offsets in the image): from
    /// now on every write the server performs records each 512-byte sector of the range it
    /// touched, with the sector's bytes after the write and the moment it landed. Clears
    /// the journal; an empty range stops journaling.
    pub fn journal_writes(&self, range: Range<u64>) {
        let mut landings = self.lock_landings();
        landings.journal.clear();
        landings.range = (!range.is_empty()).then_some(range);
    }

    /// The writes journaled so far (see [`FaultControl::journal_writes`]), in landing order.
    pub fn journal(&self) -> Vec<Landing> {
        self.lock_landings().journal.clone()
    }

    /// Sets the gate: while `gate` returns true the node is cut off from the disk (powered
    /// off, its SAN port disabled), and every request is answered EIO when it would be
    /// served, whatever the fault; for a write that is the moment it would land, also for
    /// a stalled write being released. New requests fail at once rather than stall.
    /// Requests already stalled fail on the next [`FaultControl::recheck_gate`] (or when
    /// the stall is lifted). `gate` must be quick and must not call back into this control.
    pub fn set_gate(&self, gate: Gate) {
        self.lock_landings().gate = Some(gate);
    }

    /// Removes the gate: the node is connected again.
    pub fn clear_gate(&self) {
        self.lock_landings().gate = None;
    }

    /// Whether the gate says the node is cut off now (false without a gate).
    pub fn gate_closed(&self) -> bool {
        let gate = self.lock_landings().gate.clone();
        gate.is_some_and(|gate| gate())
    }

    /// If the gate is closed, fails the stalled requests at once (EIO) and returns how many.
    /// When it returns, no write of this node lands any more until the gate opens. Call it
    /// every few milliseconds from a thread watching what the gate watches.
    pub fn recheck_gate(&self) -> usize {
        // Under the landings lock: a write that passed the gate before it closed has landed
        // when this returns.
        let landings = self.lock_landings();
        if !landings.gate.as_ref().is_some_and(|gate| gate()) {
            return 0;
        }
        drop(landings);
        let parked = std::mem::take(&mut self.lock().parked);
        let failed = parked.len();
        for request in parked {
            self.lock().served += 1;
            (request.reply)(Answer::Error(libc::EIO));
        }
        failed
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

    fn submit(&self, op: Op, reply: Reply) {
        let request = Parked { op, reply };
        let cut_off = self.gate_closed();
        let fault = {
            let mut state = self.lock();
            if state.fault == DiskFault::Stall && !cut_off {
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
        let answer = match request.op {
            Op::Read { offset, size } => {
                if failed || self.gate_closed() {
                    Answer::Error(libc::EIO)
                } else {
                    let mut buf = vec![0u8; size as usize];
                    match read_full(&self.image, &mut buf, offset) {
                        Ok(n) => {
                            buf.truncate(n);
                            Answer::Data(buf)
                        }
                        Err(e) => Answer::Error(e.raw_os_error().unwrap_or(libc::EIO)),
                    }
                }
            }
            Op::Write { offset, data } => {
                if failed {
                    Answer::Error(libc::EIO)
                } else {
                    self.land(offset, &data)
                }
            }
            Op::Sync => {
                if failed || self.gate_closed() {
                    Answer::Error(libc::EIO)
                } else {
                    match self.image.sync_data() {
                        Ok(()) => Answer::Done,
                        Err(e) => Answer::Error(e.raw_os_error().unwrap_or(libc::EIO)),
                    }
                }
            }
        };
        (request.reply)(answer);
    }

    /// Performs a write unless the gate is closed, and journals it: the gate check, the
    /// write and the journal entry under one lock.
    fn land(&self, offset: u64, data: &[u8]) -> Answer {
        let mut landings = self.lock_landings();
        if landings.gate.as_ref().is_some_and(|gate| gate()) {
            return Answer::Error(libc::EIO);
        }
        if let Err(e) = self.image.write_all_at(data, offset) {
            return Answer::Error(e.raw_os_error().unwrap_or(libc::EIO));
        }
        let at = Instant::now();
        if let Some(range) = landings.range.clone() {
            let end = offset.saturating_add(data.len() as u64).min(range.end);
            let mut sector = offset.max(range.start) / JOURNAL_SECTOR * JOURNAL_SECTOR;
            while sector < end {
                let sector_end = sector + JOURNAL_SECTOR;
                let bytes = if sector >= offset && sector_end <= offset + data.len() as u64 {
                    let from = (sector - offset) as usize;
                    data[from..from + JOURNAL_SECTOR as usize].to_vec()
                } else {
                    // A partly written sector: what the image holds now.
                    let mut buf = vec![0u8; JOURNAL_SECTOR as usize];
                    let n = read_full(&self.image, &mut buf, sector).unwrap_or(0);
                    buf.truncate(n);
                    buf.resize(JOURNAL_SECTOR as usize, 0);
                    buf
                };
                landings.journal.push(Landing {
                    offset: sector,
                    data: bytes,
                    at,
                });
                sector = sector_end;
            }
        }
        Answer::Written(data.len() as u32)
    }
}

fn data_reply(reply: ReplyData) -> Reply {
    Box::new(move |answer| match answer {
        Answer::Data(data) => reply.data(&data),
        Answer::Error(errno) => reply.error(errno),
        Answer::Written(_) | Answer::Done => reply.error(libc::EIO),
    })
}

fn write_reply(reply: ReplyWrite) -> Reply {
    Box::new(move |answer| match answer {
        Answer::Written(n) => reply.written(n),
        Answer::Error(errno) => reply.error(errno),
        Answer::Data(_) | Answer::Done => reply.error(libc::EIO),
    })
}

fn empty_reply(reply: ReplyEmpty) -> Reply {
    Box::new(move |answer| match answer {
        Answer::Done => reply.ok(),
        Answer::Error(errno) => reply.error(errno),
        Answer::Data(_) | Answer::Written(_) => reply.error(libc::EIO),
    })
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
        self.control
            .submit(Op::Read { offset, size }, data_reply(reply));
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
        self.control.submit(
            Op::Write {
                offset,
                data: data.to_vec(),
            },
            write_reply(reply),
        );
    }

    fn flush(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, _lock: u64, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fsync(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, _data: bool, reply: ReplyEmpty) {
        self.control.submit(Op::Sync, empty_reply(reply));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::{channel, Receiver};

    fn control(size: u64) -> (tempfile::TempDir, FaultControl) {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dir.path().join("image"))
            .expect("image");
        file.set_len(size).expect("set_len");
        (dir, FaultControl::new(Arc::new(file)))
    }

    fn reply() -> (Reply, Receiver<Answer>) {
        let (tx, rx) = channel();
        (
            Box::new(move |answer| {
                let _ = tx.send(answer);
            }),
            rx,
        )
    }

    fn write(c: &FaultControl, offset: u64, data: Vec<u8>) -> Receiver<Answer> {
        let (reply, rx) = reply();
        c.submit(Op::Write { offset, data }, reply);
        rx
    }

    fn read(c: &FaultControl, offset: u64, size: u32) -> Receiver<Answer> {
        let (reply, rx) = reply();
        c.submit(Op::Read { offset, size }, reply);
        rx
    }

    fn image_bytes(c: &FaultControl, offset: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        c.image.read_exact_at(&mut buf, offset).expect("read image");
        buf
    }

    fn closed_gate() -> (Arc<AtomicBool>, Gate) {
        let cut = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cut);
        (cut, Arc::new(move || flag.load(Ordering::SeqCst)))
    }

    #[test]
    fn the_journal_records_each_sector_of_the_range_a_write_touched() {
        let (_dir, c) = control(64 << 10);
        c.journal_writes(4096..8192);
        // Outside the range: not journaled.
        assert_eq!(
            write(&c, 0, vec![1; 4096]).recv(),
            Ok(Answer::Written(4096))
        );
        // Straddles the range's start: only the sectors inside.
        let before = Instant::now();
        assert_eq!(
            write(&c, 3584, vec![2; 1024]).recv(),
            Ok(Answer::Written(1024))
        );
        // A partial sector: the sector as the image holds it after the write.
        assert_eq!(
            write(&c, 5120 + 100, vec![3; 10]).recv(),
            Ok(Answer::Written(10))
        );
        let journal = c.journal();
        assert_eq!(journal.len(), 2, "{journal:?}");
        assert_eq!(journal[0].offset, 4096);
        assert_eq!(journal[0].data, vec![2; 512]);
        assert!(journal[0].at >= before);
        assert_eq!(journal[1].offset, 5120);
        let mut expected = vec![0u8; 512];
        expected[100..110].fill(3);
        assert_eq!(journal[1].data, expected);
        assert!(journal[1].at >= journal[0].at);
        // A new range clears the journal; an empty one stops journaling.
        c.journal_writes(0..512);
        assert!(c.journal().is_empty());
        c.journal_writes(0..0);
        assert_eq!(write(&c, 0, vec![4; 512]).recv(), Ok(Answer::Written(512)));
        assert!(c.journal().is_empty());
    }

    #[test]
    fn a_stalled_write_lands_and_is_journaled_when_released() {
        let (_dir, c) = control(64 << 10);
        c.journal_writes(0..65536);
        c.set(DiskFault::Stall);
        let rx = write(&c, 512, vec![7; 512]);
        assert_eq!(c.stalled(), 1);
        assert!(rx.try_recv().is_err(), "a stalled write was answered");
        assert_eq!(image_bytes(&c, 512, 512), vec![0; 512]);
        assert!(c.journal().is_empty(), "a stalled write was journaled");
        let released = Instant::now();
        c.set(DiskFault::Healthy);
        assert_eq!(rx.recv(), Ok(Answer::Written(512)));
        assert_eq!(image_bytes(&c, 512, 512), vec![7; 512]);
        let journal = c.journal();
        assert_eq!(journal.len(), 1);
        assert!(journal[0].at >= released, "landing time is the release");
        assert_eq!(c.served(), 1);
    }

    #[test]
    fn a_closed_gate_fails_every_request_and_nothing_lands() {
        let (_dir, c) = control(64 << 10);
        c.journal_writes(0..65536);
        let (cut, gate) = closed_gate();
        c.set_gate(gate);
        assert!(!c.gate_closed());
        assert_eq!(write(&c, 0, vec![1; 512]).recv(), Ok(Answer::Written(512)));
        cut.store(true, Ordering::SeqCst);
        assert!(c.gate_closed());
        assert_eq!(
            write(&c, 512, vec![2; 512]).recv(),
            Ok(Answer::Error(libc::EIO))
        );
        assert_eq!(read(&c, 0, 512).recv(), Ok(Answer::Error(libc::EIO)));
        let (reply, rx) = reply();
        c.submit(Op::Sync, reply);
        assert_eq!(rx.recv(), Ok(Answer::Error(libc::EIO)));
        // Cut off while stalled: new requests fail at once instead of hanging.
        c.set(DiskFault::Stall);
        assert_eq!(
            write(&c, 512, vec![2; 512]).recv(),
            Ok(Answer::Error(libc::EIO))
        );
        assert_eq!(c.stalled(), 0);
        assert_eq!(image_bytes(&c, 512, 512), vec![0; 512]);
        assert_eq!(c.journal().len(), 1);
        // Connected again.
        c.clear_gate();
        c.set(DiskFault::Healthy);
        assert_eq!(read(&c, 0, 512).recv(), Ok(Answer::Data(vec![1; 512])));
    }

    #[test]
    fn recheck_gate_fails_stalled_requests_once_the_gate_closes() {
        let (_dir, c) = control(64 << 10);
        c.journal_writes(0..65536);
        let (cut, gate) = closed_gate();
        c.set_gate(gate);
        c.set(DiskFault::Stall);
        let w = write(&c, 1024, vec![5; 512]);
        let r = read(&c, 0, 512);
        assert_eq!(c.stalled(), 2);
        // Gate open: nothing happens.
        assert_eq!(c.recheck_gate(), 0);
        assert_eq!(c.stalled(), 2);
        cut.store(true, Ordering::SeqCst);
        assert_eq!(c.recheck_gate(), 2);
        assert_eq!(c.stalled(), 0);
        assert_eq!(w.recv(), Ok(Answer::Error(libc::EIO)));
        assert_eq!(r.recv(), Ok(Answer::Error(libc::EIO)));
        c.set(DiskFault::Healthy);
        assert_eq!(image_bytes(&c, 1024, 512), vec![0; 512]);
        assert!(c.journal().is_empty());
        assert_eq!(c.served(), 2);
    }

    #[test]
    fn a_released_write_is_checked_against_the_gate_when_it_would_land() {
        let (_dir, c) = control(64 << 10);
        c.journal_writes(0..65536);
        let (cut, gate) = closed_gate();
        c.set_gate(gate);
        c.set(DiskFault::Stall);
        let w = write(&c, 1024, vec![5; 512]);
        // The gate closes, nobody rechecks, and then the stall is lifted.
        cut.store(true, Ordering::SeqCst);
        c.set(DiskFault::Healthy);
        assert_eq!(w.recv(), Ok(Answer::Error(libc::EIO)));
        assert_eq!(image_bytes(&c, 1024, 512), vec![0; 512]);
        assert!(c.journal().is_empty());
    }
}
