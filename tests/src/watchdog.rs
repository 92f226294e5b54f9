//! The lab's hardware watchdog: a FUSE file system (served by `fuser` from a thread of the
//! lab process, like the fault disk, [`crate::faultdisk`]) with one file, `watchdog`, that
//! answers the Linux watchdog API as `/dev/watchdog` does, and calls an expiry action (in a
//! [`crate::Lab`]: power the node off) when nobody pets it in time.
//!
//! Why FUSE: this machine has no `/dev/watchdog`, no softdog, no CUSE and cannot load
//! modules. A program under test opens the file named in its configuration and drives it
//! exactly as real hardware: `open(O_WRONLY)` arms it, `write()` of any byte or
//! `WDIOC_KEEPALIVE` pets it, `WDIOC_SETTIMEOUT` / `WDIOC_GETTIMEOUT` / `WDIOC_GETTIMELEFT` /
//! `WDIOC_GETSUPPORT` / `WDIOC_GETSTATUS` / `WDIOC_GETBOOTSTATUS` /
//! `WDIOC_SETOPTIONS(WDIOS_DISABLECARD | WDIOS_ENABLECARD)` answer as the kernel's watchdog
//! core does, and the magic close (write `V`, then close) disarms it. The only visible
//! difference is the file type: a regular file, not a character device.
//!
//! # What FUSE passes on this kernel (checked first)
//!
//! Checked on Linux 6.18.44 (x86_64, Debian 12 VM) with `fuser` 0.15.1 and a throw-away
//! server that logged every request and answered each ioctl with recognisable bytes:
//!
//! - **The ioctls arrive.** A regular FUSE file gets "restricted" ioctls: the kernel takes
//!   the sizes from the command's `_IOC` encoding, so the server needs `fuser`'s `abi-7-11`
//!   feature (it has no ioctl operation below ABI 7.11). Seen at the server, for a file
//!   opened `O_WRONLY`: `_IOR` commands come with no input and `out_size` = the encoded size
//!   (`WDIOC_GETSUPPORT` 40, `GETSTATUS`, `GETBOOTSTATUS`, `SETOPTIONS`, `KEEPALIVE`,
//!   `GETTIMEOUT`, `GETPRETIMEOUT`, `GETTIMELEFT` 4); `_IOWR` commands (`SETTIMEOUT`,
//!   `SETPRETIMEOUT`) come with the caller's 4-byte int as input and `out_size` 4. What the
//!   server returns (up to `out_size`) is copied back to the caller; less is allowed (the
//!   caller's buffer keeps the rest), and so `KEEPALIVE` returns nothing, like the kernel.
//!   The `ioctl` flags field is 0 (restricted, not 32-bit compat).
//! - **`WDIOC_SETOPTIONS` loses its argument.** It is defined `_IOR('W', 4, int)` although
//!   the driver *reads* the int, so restricted FUSE passes no input for it. The request's
//!   `arg` (the caller's pointer) is in the kernel's `fuse_ioctl_in` but `fuser` 0.15 does
//!   not pass it on. The server gets it anyway: the request's pid is the calling *thread*
//!   (checked with an ioctl from a second thread), which is blocked in the `ioctl` syscall,
//!   so `/proc/TID/syscall` shows `16 FD CMD ARG ...` and `process_vm_readv` reads the int
//!   at `ARG` (root may; checked: the value read was the one the caller passed).
//! - **`write()` arrives** with its data, one request per `write()` call, before the call
//!   returns. Without `FOPEN_DIRECT_IO` writes still arrive (FUSE without a writeback
//!   cache writes through), but go through the page cache and grow the file's size;
//!   with `FOPEN_DIRECT_IO` nothing is cached, so this server opens with it (plus
//!   `FOPEN_NONSEEKABLE`, as the kernel's watchdog files are streams).
//! - **`release()` arrives, but after `close()` returns.** `close()` sends `FLUSH`
//!   synchronously (with the closing pid); `RELEASE` follows asynchronously (pid 0), about
//!   0.2 ms later on this idle machine (in 198 of 200 closes it had not arrived when
//!   `close()` returned). With a real `/dev/watchdog` the release has run when `close()`
//!   returns, so a program that closes and at once reopens would see a spurious `EBUSY`
//!   here: an open of the busy file therefore waits up to [`OPEN_GRACE`] for the holder's
//!   release before it fails with `EBUSY`. `RELEASE` also arrives when the last holder is
//!   killed (checked: `SIGKILL` of an opener gives `FLUSH`, then `RELEASE`).
//! - A shell's `exec 3>file` opens with `O_CREAT|O_TRUNC`: the kernel may send `CREATE`
//!   (when the name is not cached) and a `SETATTR` of size 0; both are answered as an open
//!   of the existing file.
//!
//! # Behaviour (from the kernel's `drivers/watchdog/watchdog_dev.c`)
//!
//! - One opener at a time: a second open fails with `EBUSY` (after [`OPEN_GRACE`], see
//!   above). Opening arms the watchdog with the current timeout unless it is armed already
//!   (an open after a close without `V` does not restart the countdown).
//! - Timeout [`DEFAULT_TIMEOUT`] s, settable to 1..=[`MAX_TIMEOUT`] s (`EINVAL` otherwise);
//!   `WDIOC_SETTIMEOUT` pets an armed watchdog and returns the timeout now in effect. The
//!   timeout is kept across opens.
//! - Any non-empty `write()` and `WDIOC_KEEPALIVE` pet it (no effect when disarmed). A write
//!   sets "expect close" if any of its bytes is `V` and clears it otherwise.
//! - Release with "expect close" disarms it; release without it leaves it armed and pets it
//!   once (the kernel's "watchdog did not stop!" keepalive), so it expires one timeout after
//!   the close.
//! - `WDIOS_DISABLECARD` disarms, `WDIOS_ENABLECARD` arms (both may be given).
//! - `WDIOC_GETSUPPORT`: identity [`IDENTITY`], options `WDIOF_SETTIMEOUT |
//!   WDIOF_MAGICCLOSE | WDIOF_KEEPALIVEPING`. `WDIOC_GETTIMELEFT`: whole seconds left (0 when
//!   disarmed). `WDIOC_GETSTATUS`: `WDIOF_KEEPALIVEPING` if pinged since the last query,
//!   `WDIOF_MAGICCLOSE` while expect close is set, `WDIOF_CARDRESET` after an expiry, which
//!   `WDIOC_GETBOOTSTATUS` reports too (the last reset was the watchdog's).
//!   `WDIOC_GETPRETIMEOUT` is 0 and `WDIOC_SETPRETIMEOUT` is `EOPNOTSUPP` (no pretimeout);
//!   other commands are `ENOTTY`. `read()` and `fsync()` are `EINVAL`.
//! - A timer thread fires at the deadline (condition variable on the monotonic clock; the
//!   timer and the FUSE server run in the lowest real-time class, like the fault disk, so a
//!   busy machine does not delay a pet or an expiry much). On expiry the watchdog disarms,
//!   records an [`Expiry`] and calls the expiry action once, from the timer thread. It
//!   stays disarmed until it is opened (or `WDIOS_ENABLECARD`) again.
//!
//! The state machine ([`WatchdogCore`]) takes the time as an argument and does no I/O; the
//! FUSE file system and the timer thread around it only feed it requests and the clock.
//!
//! Left out: `nowayout` (the magic close always works), pretimeouts, the hardware
//! heartbeat/`min_hw_heartbeat_ms` handling, and the kernel's refusal of a close whose
//! holder never reopened (a forked child sharing the open file is the same opener, as in
//! the kernel). An opener killed while its open waits in [`OPEN_GRACE`] may leave the file
//! busy (FUSE gives no release for an open whose caller is gone).

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use fuser::{
    BackgroundSession, FileAttr, FileType, Filesystem, MountOption, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyIoctl, ReplyOpen, ReplyWrite, Request,
    TimeOrNow,
};
use libc::c_int;

use crate::cmd::run;
use crate::error::{LabError, Result};
use crate::faultdisk::realtime_thread;
use crate::wait::wait_for;

/// FUSE subtype of the watchdog mounts (`fuse.qlabwatchdog` in `/proc/mounts`).
pub const FUSE_SUBTYPE: &str = "qlabwatchdog";
/// Name of the watchdog file in its mount.
pub const FILE_NAME: &str = "watchdog";
/// The identity `WDIOC_GETSUPPORT` reports.
pub const IDENTITY: &str = "lab watchdog";
/// The firmware version `WDIOC_GETSUPPORT` reports.
pub const FIRMWARE_VERSION: u32 = 1;
/// Timeout in seconds until one is set (softdog's and most drivers' default).
pub const DEFAULT_TIMEOUT: u32 = 60;
/// Longest timeout in seconds `WDIOC_SETTIMEOUT` accepts.
pub const MAX_TIMEOUT: u32 = 3600;
/// How long an open of a busy watchdog waits for the holder's release (which FUSE delivers
/// after the holder's `close()` returned) before it fails with `EBUSY`.
pub const OPEN_GRACE: Duration = Duration::from_millis(250);

/// The Linux watchdog API (`linux/watchdog.h`): ioctl commands, flags and
/// `struct watchdog_info`.
pub mod api {
    /// `_IOR('W', 0, struct watchdog_info)`.
    pub const WDIOC_GETSUPPORT: u32 = 0x8028_5700;
    /// `_IOR('W', 1, int)`.
    pub const WDIOC_GETSTATUS: u32 = 0x8004_5701;
    /// `_IOR('W', 2, int)`.
    pub const WDIOC_GETBOOTSTATUS: u32 = 0x8004_5702;
    /// `_IOR('W', 3, int)` (not supported: `ENOTTY`).
    pub const WDIOC_GETTEMP: u32 = 0x8004_5703;
    /// `_IOR('W', 4, int)`; the driver reads the int although the encoding says "read".
    pub const WDIOC_SETOPTIONS: u32 = 0x8004_5704;
    /// `_IOR('W', 5, int)`; nothing is written back.
    pub const WDIOC_KEEPALIVE: u32 = 0x8004_5705;
    /// `_IOWR('W', 6, int)`: seconds in, the timeout in effect out.
    pub const WDIOC_SETTIMEOUT: u32 = 0xc004_5706;
    /// `_IOR('W', 7, int)`.
    pub const WDIOC_GETTIMEOUT: u32 = 0x8004_5707;
    /// `_IOWR('W', 8, int)`.
    pub const WDIOC_SETPRETIMEOUT: u32 = 0xc004_5708;
    /// `_IOR('W', 9, int)`.
    pub const WDIOC_GETPRETIMEOUT: u32 = 0x8004_5709;
    /// `_IOR('W', 10, int)`.
    pub const WDIOC_GETTIMELEFT: u32 = 0x8004_570a;

    /// Status/boot status: the last reboot was caused by the watchdog.
    pub const WDIOF_CARDRESET: u32 = 0x0020;
    /// Option: the timeout can be set.
    pub const WDIOF_SETTIMEOUT: u32 = 0x0080;
    /// Option: supports the magic close character; status: it was written.
    pub const WDIOF_MAGICCLOSE: u32 = 0x0100;
    /// Option: supports a pretimeout.
    pub const WDIOF_PRETIMEOUT: u32 = 0x0200;
    /// Option: `WDIOC_KEEPALIVE` works; status: pinged since the last status query.
    pub const WDIOF_KEEPALIVEPING: u32 = 0x8000;

    /// `WDIOC_SETOPTIONS`: stop the timer.
    pub const WDIOS_DISABLECARD: u32 = 0x0001;
    /// `WDIOC_SETOPTIONS`: start the timer.
    pub const WDIOS_ENABLECARD: u32 = 0x0002;

    /// `struct watchdog_info`.
    #[repr(C)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct WatchdogInfo {
        /// `WDIOF_*` options the driver supports.
        pub options: u32,
        /// Firmware version of the card.
        pub firmware_version: u32,
        /// Identity of the board, NUL-padded.
        pub identity: [u8; 32],
    }

    impl WatchdogInfo {
        /// Size of the struct (40 bytes).
        pub const SIZE: usize = 40;

        /// The struct in the machine's byte order.
        pub fn to_bytes(&self) -> Vec<u8> {
            let mut bytes = Vec::with_capacity(Self::SIZE);
            bytes.extend_from_slice(&self.options.to_ne_bytes());
            bytes.extend_from_slice(&self.firmware_version.to_ne_bytes());
            bytes.extend_from_slice(&self.identity);
            bytes
        }

        /// Reads the struct from `bytes` (at least [`WatchdogInfo::SIZE`] of them).
        pub fn from_bytes(bytes: &[u8]) -> Option<WatchdogInfo> {
            let word = |at: usize| -> Option<u32> {
                Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
            };
            Some(WatchdogInfo {
                options: word(0)?,
                firmware_version: word(4)?,
                identity: bytes.get(8..40)?.try_into().ok()?,
            })
        }

        /// The identity up to its first NUL.
        pub fn identity(&self) -> String {
            let end = self.identity.iter().position(|b| *b == 0).unwrap_or(32);
            String::from_utf8_lossy(&self.identity[..end]).into_owned()
        }
    }
}

use api::*;

/// One expiry of a watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// 1 for this watchdog's first expiry, 2 for its second, ...
    pub number: u64,
    /// When it expired: the deadline, i.e. the last ping plus the timeout (monotonic).
    pub deadline: Instant,
    /// When the timer thread saw it (a little after `deadline`).
    pub at: Instant,
    /// The timeout in seconds it ran with.
    pub timeout: u32,
    /// The thread that held the file open then (the thread that opened it), if any.
    pub opener: Option<u32>,
}

/// What a watchdog looks like at one moment ([`LabWatchdog::state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchdogState {
    /// Whether it is counting down.
    pub armed: bool,
    /// The timeout in seconds.
    pub timeout: u32,
    /// Time until it expires, when armed.
    pub time_left: Option<Duration>,
    /// Whether someone holds the file open.
    pub open: bool,
    /// The thread that opened it, while it is open.
    pub opener: Option<u32>,
    /// Whether the last write held the magic `V` (a close now disarms it).
    pub expect_close: bool,
    /// How many pings (writes, keepalives, timeout changes) it got while armed.
    pub pings: u64,
    /// How many times it expired.
    pub expiries: u64,
    /// The last expiry.
    pub last_expiry: Option<Expiry>,
}

struct Opener {
    fh: u64,
    pid: u32,
}

/// The watchdog as the kernel's watchdog core sees it: a sans-I/O state machine. Every
/// input takes the time; [`WatchdogCore::poll_expiry`] reports an expiry and
/// [`WatchdogCore::next_deadline`] says when to call it next. Errors are errno values.
pub struct WatchdogCore {
    timeout: u32,
    active: bool,
    deadline: Instant,
    opener: Option<Opener>,
    next_fh: u64,
    expect_close: bool,
    keepalive_seen: bool,
    boot_status: u32,
    pings: u64,
    expiries: Vec<Expiry>,
}

impl std::fmt::Debug for WatchdogCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchdogCore")
            .field("timeout", &self.timeout)
            .field("active", &self.active)
            .field("open", &self.opener.is_some())
            .field("expect_close", &self.expect_close)
            .field("expiries", &self.expiries.len())
            .finish()
    }
}

impl WatchdogCore {
    /// A closed, disarmed watchdog with the [`DEFAULT_TIMEOUT`].
    pub fn new(now: Instant) -> WatchdogCore {
        WatchdogCore {
            timeout: DEFAULT_TIMEOUT,
            active: false,
            deadline: now,
            opener: None,
            next_fh: 1,
            expect_close: false,
            keepalive_seen: false,
            boot_status: 0,
            pings: 0,
            expiries: Vec::new(),
        }
    }

    /// What `WDIOC_GETSUPPORT` answers.
    pub fn info() -> WatchdogInfo {
        let mut identity = [0u8; 32];
        identity[..IDENTITY.len()].copy_from_slice(IDENTITY.as_bytes());
        WatchdogInfo {
            options: WDIOF_SETTIMEOUT | WDIOF_MAGICCLOSE | WDIOF_KEEPALIVEPING,
            firmware_version: FIRMWARE_VERSION,
            identity,
        }
    }

    /// Whether someone holds the file open.
    pub fn is_open(&self) -> bool {
        self.opener.is_some()
    }

    /// Open by thread `pid`: the file handle, or `EBUSY`. Arms the watchdog unless armed.
    pub fn open(&mut self, pid: u32, now: Instant) -> std::result::Result<u64, c_int> {
        if self.opener.is_some() {
            return Err(libc::EBUSY);
        }
        let fh = self.next_fh;
        self.next_fh += 1;
        self.opener = Some(Opener { fh, pid });
        self.start(now);
        Ok(fh)
    }

    /// The last close of file handle `fh`.
    pub fn release(&mut self, fh: u64, now: Instant) {
        if self.opener.as_ref().map(|o| o.fh) != Some(fh) {
            return;
        }
        if self.active {
            if std::mem::take(&mut self.expect_close) {
                self.stop();
            } else {
                // The kernel: "watchdog did not stop!", and one keepalive.
                self.ping(now);
            }
        }
        self.opener = None;
    }

    /// A `write()` of `data`; returns how many bytes were taken (all).
    pub fn write(&mut self, data: &[u8], now: Instant) -> usize {
        if data.is_empty() {
            return 0;
        }
        self.expect_close = data.contains(&b'V');
        self.ping(now);
        data.len()
    }

    /// A keepalive: restarts the countdown if armed.
    pub fn ping(&mut self, now: Instant) {
        if !self.active {
            return;
        }
        self.keepalive_seen = true;
        self.deadline = now + Duration::from_secs(u64::from(self.timeout));
        self.pings += 1;
    }

    /// Arms it with the current timeout, unless armed.
    pub fn start(&mut self, now: Instant) {
        if self.active {
            return;
        }
        self.active = true;
        self.keepalive_seen = true;
        self.deadline = now + Duration::from_secs(u64::from(self.timeout));
    }

    /// Disarms it.
    pub fn stop(&mut self) {
        self.active = false;
    }

    /// Sets the timeout (seconds, 1..=[`MAX_TIMEOUT`], else `EINVAL`); it applies from the
    /// next arming or ping.
    pub fn set_timeout(&mut self, seconds: u32) -> std::result::Result<(), c_int> {
        if !(1..=MAX_TIMEOUT).contains(&seconds) {
            return Err(libc::EINVAL);
        }
        self.timeout = seconds;
        Ok(())
    }

    /// The timeout in seconds.
    pub fn timeout(&self) -> u32 {
        self.timeout
    }

    /// Time until expiry, if armed.
    pub fn time_left(&self, now: Instant) -> Option<Duration> {
        self.active
            .then(|| self.deadline.saturating_duration_since(now))
    }

    /// When [`WatchdogCore::poll_expiry`] should be called next (the deadline, if armed).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.active.then_some(self.deadline)
    }

    /// If the deadline has passed: disarms, records and returns the expiry.
    pub fn poll_expiry(&mut self, now: Instant) -> Option<Expiry> {
        if !self.active || now < self.deadline {
            return None;
        }
        self.active = false;
        self.expect_close = false;
        self.boot_status |= WDIOF_CARDRESET;
        let expiry = Expiry {
            number: self.expiries.len() as u64 + 1,
            deadline: self.deadline,
            at: now,
            timeout: self.timeout,
            opener: self.opener.as_ref().map(|o| o.pid),
        };
        self.expiries.push(expiry);
        Some(expiry)
    }

    /// Every expiry so far.
    pub fn expiries(&self) -> &[Expiry] {
        &self.expiries
    }

    /// A snapshot.
    pub fn state(&self, now: Instant) -> WatchdogState {
        WatchdogState {
            armed: self.active,
            timeout: self.timeout,
            time_left: self.time_left(now),
            open: self.opener.is_some(),
            opener: self.opener.as_ref().map(|o| o.pid),
            expect_close: self.expect_close,
            pings: self.pings,
            expiries: self.expiries.len() as u64,
            last_expiry: self.expiries.last().copied(),
        }
    }

    /// An ioctl `cmd` with input `input` (as restricted FUSE passes it). `caller_int` reads
    /// the int the caller points at, for `WDIOC_SETOPTIONS` (whose `_IOR` encoding makes
    /// FUSE pass no input). Returns the bytes to copy back to the caller.
    pub fn ioctl(
        &mut self,
        cmd: u32,
        input: &[u8],
        caller_int: impl FnOnce() -> std::result::Result<u32, c_int>,
        now: Instant,
    ) -> std::result::Result<Vec<u8>, c_int> {
        let int = |value: u32| value.to_ne_bytes().to_vec();
        match cmd {
            WDIOC_GETSUPPORT => Ok(Self::info().to_bytes()),
            WDIOC_GETSTATUS => {
                let mut status = self.boot_status & WDIOF_CARDRESET;
                if self.expect_close {
                    status |= WDIOF_MAGICCLOSE;
                }
                if std::mem::take(&mut self.keepalive_seen) {
                    status |= WDIOF_KEEPALIVEPING;
                }
                Ok(int(status))
            }
            WDIOC_GETBOOTSTATUS => Ok(int(self.boot_status)),
            WDIOC_SETOPTIONS => {
                let options = caller_int()?;
                if options & WDIOS_DISABLECARD != 0 {
                    self.stop();
                }
                if options & WDIOS_ENABLECARD != 0 {
                    self.start(now);
                }
                Ok(Vec::new())
            }
            WDIOC_KEEPALIVE => {
                self.ping(now);
                Ok(Vec::new())
            }
            WDIOC_SETTIMEOUT => {
                let bytes: [u8; 4] = input
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .ok_or(libc::EFAULT)?;
                self.set_timeout(u32::from_ne_bytes(bytes))?;
                self.ping(now);
                Ok(int(self.timeout))
            }
            WDIOC_GETTIMEOUT => Ok(int(self.timeout)),
            WDIOC_GETTIMELEFT => {
                let left = self.time_left(now).unwrap_or(Duration::ZERO);
                Ok(int(u32::try_from(left.as_secs()).unwrap_or(u32::MAX)))
            }
            WDIOC_GETPRETIMEOUT => Ok(int(0)),
            WDIOC_SETPRETIMEOUT => Err(libc::EOPNOTSUPP),
            _ => Err(libc::ENOTTY),
        }
    }
}

/// What runs when a watchdog expires (on the watchdog's timer thread).
pub type ExpiryAction = Box<dyn FnMut(&Expiry) + Send>;

enum PendingReply {
    Open(ReplyOpen),
    Create(ReplyCreate),
}

struct PendingOpen {
    reply: PendingReply,
    pid: u32,
    until: Instant,
}

struct Inner {
    core: WatchdogCore,
    pending: VecDeque<PendingOpen>,
    shutdown: bool,
    /// How many expiries' actions have returned.
    handled: u64,
}

struct Shared {
    inner: Mutex<Inner>,
    wake: Condvar,
    action: Mutex<Option<ExpiryAction>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_action(&self) -> MutexGuard<'_, Option<ExpiryAction>> {
        self.action.lock().unwrap_or_else(|p| p.into_inner())
    }
}

const ROOT: u64 = 1;
const FILE: u64 = 2;
const TTL: Duration = Duration::from_secs(1);
const OPEN_FLAGS: u32 = fuser::consts::FOPEN_DIRECT_IO | fuser::consts::FOPEN_NONSEEKABLE;

fn attr(ino: u64) -> FileAttr {
    let now = SystemTime::now();
    let (kind, perm, nlink) = if ino == ROOT {
        (FileType::Directory, 0o755, 2)
    } else {
        (FileType::RegularFile, 0o600, 1)
    };
    FileAttr {
        ino,
        size: 0,
        blocks: 0,
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

fn answer(reply: PendingReply, result: std::result::Result<u64, c_int>) {
    match (reply, result) {
        (PendingReply::Open(r), Ok(fh)) => r.opened(fh, OPEN_FLAGS),
        (PendingReply::Open(r), Err(e)) => r.error(e),
        (PendingReply::Create(r), Ok(fh)) => r.created(&TTL, &attr(FILE), 0, fh, OPEN_FLAGS),
        (PendingReply::Create(r), Err(e)) => r.error(e),
    }
}

/// The ioctl argument (the caller's pointer) of a thread blocked in `ioctl(fd, cmd, arg)`,
/// from its `/proc/TID/syscall` line (`NR ARG1 ARG2 ARG3 ...`, arguments in hex).
fn ioctl_arg_from_syscall(line: &str, cmd: u32) -> Option<u64> {
    let mut fields = line.split_whitespace();
    let nr: i64 = fields.next()?.parse().ok()?;
    if nr != libc::SYS_ioctl {
        return None;
    }
    let hex = |f: &str| u64::from_str_radix(f.trim_start_matches("0x"), 16).ok();
    let _fd = fields.next()?;
    // The command is an unsigned int; the register may carry sign-extended bits.
    let request = hex(fields.next()?)?;
    if request as u32 != cmd {
        return None;
    }
    hex(fields.next()?)
}

/// Reads the int that thread `tid`, blocked in `ioctl(_, cmd, ptr)`, passes at `ptr`.
#[allow(unsafe_code)]
fn read_caller_int(tid: u32, cmd: u32) -> std::result::Result<u32, c_int> {
    let line = std::fs::read_to_string(format!("/proc/{tid}/syscall")).map_err(|e| {
        eprintln!("lab watchdog: cannot read the ioctl argument of thread {tid}: {e}");
        libc::EFAULT
    })?;
    let Some(address) = ioctl_arg_from_syscall(&line, cmd) else {
        eprintln!("lab watchdog: thread {tid} is not in ioctl({cmd:#x}): {line:?}");
        return Err(libc::EFAULT);
    };
    let mut value = [0u8; 4];
    let local = libc::iovec {
        iov_base: value.as_mut_ptr().cast(),
        iov_len: value.len(),
    };
    let remote = libc::iovec {
        iov_base: address as *mut libc::c_void,
        iov_len: value.len(),
    };
    let pid = libc::pid_t::try_from(tid).map_err(|_| libc::EFAULT)?;
    // SAFETY: `local` describes `value`, 4 writable bytes that live across the call; the
    // remote range is only read, in the other process, by the kernel.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n != 4 {
        eprintln!(
            "lab watchdog: cannot read thread {tid}'s ioctl argument: {}",
            std::io::Error::last_os_error()
        );
        return Err(libc::EFAULT);
    }
    Ok(u32::from_ne_bytes(value))
}

/// The FUSE file system: a root directory holding the watchdog file.
struct WatchdogFs {
    shared: Arc<Shared>,
}

impl WatchdogFs {
    fn open_or_wait(&self, pid: u32, reply: PendingReply) {
        let now = Instant::now();
        let mut inner = self.shared.lock();
        if inner.core.is_open() && inner.shutdown {
            // No timer thread left to answer a waiting open.
            return answer(reply, Err(libc::EBUSY));
        }
        if inner.core.is_open() {
            inner.pending.push_back(PendingOpen {
                reply,
                pid,
                until: now + OPEN_GRACE,
            });
            self.shared.wake.notify_all();
            return;
        }
        let result = inner.core.open(pid, now);
        self.shared.wake.notify_all();
        answer(reply, result);
    }
}

impl Filesystem for WatchdogFs {
    fn init(
        &mut self,
        _req: &Request<'_>,
        _config: &mut fuser::KernelConfig,
    ) -> std::result::Result<(), c_int> {
        realtime_thread("watchdog server");
        Ok(())
    }

    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        if parent == ROOT && name == OsStr::new(FILE_NAME) {
            reply.entry(&TTL, &attr(FILE), 0);
        } else {
            reply.error(libc::ENOENT);
        }
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        match ino {
            ROOT | FILE => reply.attr(&TTL, &attr(ino)),
            _ => reply.error(libc::ENOENT),
        }
    }

    fn setattr(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<u64>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<u32>,
        reply: ReplyAttr,
    ) {
        // O_TRUNC of a shell's `>` redirection: a device ignores it.
        match ino {
            ROOT | FILE => reply.attr(&TTL, &attr(ino)),
            _ => reply.error(libc::ENOENT),
        }
    }

    fn open(&mut self, req: &Request<'_>, ino: u64, _flags: i32, reply: ReplyOpen) {
        if ino != FILE {
            return reply.error(libc::EISDIR);
        }
        self.open_or_wait(req.pid(), PendingReply::Open(reply));
    }

    fn create(
        &mut self,
        req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        if parent != ROOT || name != OsStr::new(FILE_NAME) {
            return reply.error(libc::EACCES);
        }
        self.open_or_wait(req.pid(), PendingReply::Create(reply));
    }

    fn read(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        _offset: i64,
        _size: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyData,
    ) {
        reply.error(libc::EINVAL);
    }

    fn write(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        _offset: i64,
        data: &[u8],
        _write_flags: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyWrite,
    ) {
        let written = {
            let mut inner = self.shared.lock();
            let n = inner.core.write(data, Instant::now());
            self.shared.wake.notify_all();
            n
        };
        reply.written(u32::try_from(written).unwrap_or(u32::MAX));
    }

    fn flush(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, _lock: u64, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fsync(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, _data: bool, reply: ReplyEmpty) {
        reply.error(libc::EINVAL);
    }

    fn release(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        fh: u64,
        _flags: i32,
        _lock_owner: Option<u64>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        {
            let now = Instant::now();
            let mut inner = self.shared.lock();
            inner.core.release(fh, now);
            if !inner.core.is_open() {
                if let Some(next) = inner.pending.pop_front() {
                    let result = inner.core.open(next.pid, now);
                    answer(next.reply, result);
                }
            }
            self.shared.wake.notify_all();
        }
        reply.ok();
    }

    fn ioctl(
        &mut self,
        req: &Request<'_>,
        ino: u64,
        _fh: u64,
        _flags: u32,
        cmd: u32,
        in_data: &[u8],
        out_size: u32,
        reply: ReplyIoctl,
    ) {
        if ino != FILE {
            return reply.error(libc::ENOTTY);
        }
        let tid = req.pid();
        let result = {
            let mut inner = self.shared.lock();
            let result =
                inner
                    .core
                    .ioctl(cmd, in_data, || read_caller_int(tid, cmd), Instant::now());
            self.shared.wake.notify_all();
            result
        };
        match result {
            Ok(mut out) => {
                out.truncate(out_size as usize);
                reply.ioctl(0, &out);
            }
            Err(e) => reply.error(e),
        }
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
            (FILE, FileType::RegularFile, FILE_NAME),
        ];
        for (i, (ino, kind, name)) in entries.iter().enumerate().skip(offset.max(0) as usize) {
            if reply.add(*ino, (i + 1) as i64, *kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

/// The timer thread: fails opens that waited too long, fires expiries.
fn run_timer(shared: Arc<Shared>) {
    realtime_thread("watchdog timer");
    let mut inner = shared.lock();
    loop {
        let now = Instant::now();
        if inner.shutdown {
            while let Some(p) = inner.pending.pop_front() {
                answer(p.reply, Err(libc::EBUSY));
            }
            return;
        }
        while inner.pending.front().is_some_and(|p| p.until <= now) {
            if let Some(p) = inner.pending.pop_front() {
                answer(p.reply, Err(libc::EBUSY));
            }
        }
        if let Some(expiry) = inner.core.poll_expiry(now) {
            drop(inner);
            let mut action = shared.lock_action();
            if let Some(action) = action.as_mut() {
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    action(&expiry);
                }));
                if ran.is_err() {
                    eprintln!("lab watchdog: the expiry action panicked");
                }
            }
            drop(action);
            inner = shared.lock();
            inner.handled = expiry.number;
            continue;
        }
        let mut next = now + Duration::from_secs(1);
        if let Some(deadline) = inner.core.next_deadline() {
            next = next.min(deadline);
        }
        if let Some(p) = inner.pending.front() {
            next = next.min(p.until);
        }
        let wait = next.saturating_duration_since(now);
        inner = shared
            .wake
            .wait_timeout(inner, wait)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

/// A watchdog file served by this process: mounted by [`LabWatchdog::mount`], unmounted
/// on drop (or [`LabWatchdog::destroy`]). Give [`LabWatchdog::path`] to the program under
/// test as its watchdog device.
pub struct LabWatchdog {
    mountpoint: PathBuf,
    path: PathBuf,
    shared: Arc<Shared>,
    session: Option<BackgroundSession>,
    timer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LabWatchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabWatchdog")
            .field("path", &self.path)
            .field("state", &self.state())
            .finish()
    }
}

impl LabWatchdog {
    /// Mounts a watchdog file system at `mountpoint` (created if missing); the watchdog is
    /// `mountpoint/watchdog`, closed and disarmed, with no expiry action yet.
    pub fn mount(mountpoint: &Path) -> Result<LabWatchdog> {
        std::fs::create_dir_all(mountpoint).map_err(|e| LabError::io(mountpoint, e))?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                core: WatchdogCore::new(Instant::now()),
                pending: VecDeque::new(),
                shutdown: false,
                handled: 0,
            }),
            wake: Condvar::new(),
            action: Mutex::new(None),
        });
        let fs = WatchdogFs {
            shared: Arc::clone(&shared),
        };
        let options = [
            MountOption::FSName("qlab".into()),
            MountOption::Subtype(FUSE_SUBTYPE.into()),
            MountOption::AllowOther,
            MountOption::RW,
            MountOption::NoExec,
            MountOption::NoSuid,
        ];
        let session =
            fuser::spawn_mount2(fs, mountpoint, &options).map_err(|source| LabError::Mount {
                path: mountpoint.to_path_buf(),
                source,
            })?;
        let mut dog = LabWatchdog {
            mountpoint: mountpoint.to_path_buf(),
            path: mountpoint.join(FILE_NAME),
            shared: Arc::clone(&shared),
            session: Some(session),
            timer: None,
        };
        let timer = std::thread::Builder::new()
            .name("lab-watchdog".into())
            .spawn(move || run_timer(shared))
            .map_err(|e| LabError::io(mountpoint, e))?;
        dog.timer = Some(timer);
        Ok(dog)
    }

    /// The watchdog file (what a program's configuration names as its watchdog device).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the file system is mounted.
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// The watchdog's state now.
    pub fn state(&self) -> WatchdogState {
        self.shared.lock().core.state(Instant::now())
    }

    /// Every expiry so far, oldest first.
    pub fn expiries(&self) -> Vec<Expiry> {
        self.shared.lock().core.expiries().to_vec()
    }

    /// Sets what happens at an expiry (replacing the previous action); it runs once per
    /// expiry, on the watchdog's timer thread, after the expiry is recorded.
    pub fn set_expiry_action(&self, action: impl FnMut(&Expiry) + Send + 'static) {
        *self.shared.lock_action() = Some(Box::new(action));
    }

    /// Sets the timeout from the lab's side (as a driver's module parameter would), in
    /// seconds, 1..=[`MAX_TIMEOUT`]. It applies from the next arming or ping.
    pub fn set_timeout(&self, seconds: u32) -> Result<()> {
        self.shared.lock().core.set_timeout(seconds).map_err(|_| {
            LabError::Invalid(format!(
                "watchdog timeout {seconds} s: the lab watchdog takes 1 to {MAX_TIMEOUT}"
            ))
        })
    }

    /// Waits until the watchdog has expired at least `count` times in all; returns the
    /// `count`th expiry. Its action may still be running.
    pub fn wait_for_expiry(&self, count: u64, deadline: Duration) -> Result<Expiry> {
        let what = format!("watchdog {} to expire {count} time(s)", self.path.display());
        wait_for(deadline, Duration::from_millis(5), &what, || {
            let index = usize::try_from(count.checked_sub(1)?).ok()?;
            self.shared.lock().core.expiries().get(index).copied()
        })
        .map(|(expiry, _)| expiry)
    }

    /// Waits until the expiry action of the watchdog's `count`th expiry has returned (for a
    /// lab node: it is powered off and its disk is healthy again); returns that expiry.
    pub fn wait_for_expiry_handled(&self, count: u64, deadline: Duration) -> Result<Expiry> {
        let what = format!(
            "the action of watchdog {}'s expiry {count} to finish",
            self.path.display()
        );
        wait_for(deadline, Duration::from_millis(5), &what, || {
            let inner = self.shared.lock();
            if inner.handled < count {
                return None;
            }
            let index = usize::try_from(count.checked_sub(1)?).ok()?;
            inner.core.expiries().get(index).copied()
        })
        .map(|(expiry, _)| expiry)
    }

    /// Stops the timer for good and drops the expiry action (waiting for a running one):
    /// the watchdog can no longer expire, as if its card were pulled. The file stays served
    /// until [`LabWatchdog::destroy`]. Used first at teardown, so that killing a node's
    /// processes cannot make a watchdog power off a node being removed.
    pub fn stop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_all();
        if let Some(timer) = self.timer.take() {
            if timer.join().is_err() {
                eprintln!("lab watchdog: the timer thread panicked");
            }
        }
        *self.shared.lock_action() = None;
        self.shared.lock().core.stop();
    }

    /// Stops the timer and unmounts the file system (lazily if a process still holds the
    /// file open).
    pub fn destroy(&mut self) -> Result<()> {
        self.stop();
        // Dropping the session unmounts; its thread ends once no mount of it is left (copies
        // in the nodes' mount namespaces go with their last process).
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        drop(session);
        if is_mounted(&self.mountpoint) {
            run("umount", ["--lazy", &self.mountpoint.display().to_string()])?;
        }
        Ok(())
    }
}

impl Drop for LabWatchdog {
    fn drop(&mut self) {
        if let Err(e) = self.destroy() {
            eprintln!("lab: watchdog teardown: {e}");
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const fn ioc(dir: u32, nr: u32, size: u32) -> u32 {
        (dir << 30) | (size << 16) | ((b'W' as u32) << 8) | nr
    }

    #[test]
    fn the_commands_are_the_kernels_encoding() {
        let (read, write) = (2, 1);
        assert_eq!(WDIOC_GETSUPPORT, ioc(read, 0, 40));
        assert_eq!(WDIOC_GETSTATUS, ioc(read, 1, 4));
        assert_eq!(WDIOC_GETBOOTSTATUS, ioc(read, 2, 4));
        assert_eq!(WDIOC_GETTEMP, ioc(read, 3, 4));
        assert_eq!(WDIOC_SETOPTIONS, ioc(read, 4, 4));
        assert_eq!(WDIOC_KEEPALIVE, ioc(read, 5, 4));
        assert_eq!(WDIOC_SETTIMEOUT, ioc(read | write, 6, 4));
        assert_eq!(WDIOC_GETTIMEOUT, ioc(read, 7, 4));
        assert_eq!(WDIOC_SETPRETIMEOUT, ioc(read | write, 8, 4));
        assert_eq!(WDIOC_GETPRETIMEOUT, ioc(read, 9, 4));
        assert_eq!(WDIOC_GETTIMELEFT, ioc(read, 10, 4));
        assert_eq!(std::mem::size_of::<WatchdogInfo>(), WatchdogInfo::SIZE);
    }

    #[test]
    fn getsupport_names_the_lab_watchdog_and_its_options() {
        let t0 = Instant::now();
        let mut dog = WatchdogCore::new(t0);
        let out = dog
            .ioctl(WDIOC_GETSUPPORT, &[], || Err(libc::EFAULT), t0)
            .unwrap();
        let info = WatchdogInfo::from_bytes(&out).unwrap();
        assert_eq!(info.identity(), IDENTITY);
        assert_eq!(
            info.options,
            WDIOF_SETTIMEOUT | WDIOF_MAGICCLOSE | WDIOF_KEEPALIVEPING
        );
    }

    #[test]
    fn open_arms_pets_restart_and_silence_expires_once() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut dog = WatchdogCore::new(t0);
        let fh = dog.open(10, t0).unwrap();
        assert_eq!(dog.open(11, t0), Err(libc::EBUSY));
        assert_eq!(dog.time_left(t0), Some(s(60)));
        let set = dog
            .ioctl(WDIOC_SETTIMEOUT, &5u32.to_ne_bytes(), || Err(0), t0)
            .unwrap();
        assert_eq!(set, 5u32.to_ne_bytes());
        assert_eq!(dog.poll_expiry(t0 + s(4)), None);
        dog.write(b"x", t0 + s(4));
        assert_eq!(dog.poll_expiry(t0 + s(8)), None);
        dog.ioctl(WDIOC_KEEPALIVE, &[], || Err(0), t0 + s(8))
            .unwrap();
        assert_eq!(dog.poll_expiry(t0 + s(12)), None);
        let expiry = dog.poll_expiry(t0 + s(13)).unwrap();
        assert_eq!(expiry.number, 1);
        assert_eq!(expiry.deadline, t0 + s(13));
        assert_eq!(expiry.opener, Some(10));
        assert_eq!(dog.poll_expiry(t0 + s(100)), None, "fires once");
        assert_eq!(dog.time_left(t0 + s(100)), None);
        // Pets after the expiry do nothing; the boot status tells of the reset.
        dog.write(b"x", t0 + s(101));
        assert_eq!(dog.next_deadline(), None);
        let boot = dog
            .ioctl(WDIOC_GETBOOTSTATUS, &[], || Err(0), t0 + s(101))
            .unwrap();
        assert_eq!(boot, WDIOF_CARDRESET.to_ne_bytes());
        dog.release(fh, t0 + s(102));
        dog.open(12, t0 + s(103)).unwrap();
        assert_eq!(dog.time_left(t0 + s(103)), Some(s(5)), "rearmed by open");
    }

    #[test]
    fn magic_close_disarms_and_a_later_write_without_v_cancels_it() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut dog = WatchdogCore::new(t0);
        let fh = dog.open(1, t0).unwrap();
        dog.write(b"V", t0);
        dog.release(fh, t0);
        assert_eq!(dog.next_deadline(), None);
        assert!(!dog.is_open());

        let fh = dog.open(1, t0 + s(1)).unwrap();
        dog.write(b"xVx", t0 + s(1));
        assert!(dog.state(t0).expect_close);
        dog.write(b"x", t0 + s(2));
        dog.release(fh, t0 + s(3));
        assert_eq!(
            dog.next_deadline(),
            Some(t0 + s(63)),
            "an unexpected close keeps it armed and pets it once"
        );
        // Reopening an armed watchdog does not restart its countdown.
        dog.open(2, t0 + s(10)).unwrap();
        assert_eq!(dog.next_deadline(), Some(t0 + s(63)));
    }

    #[test]
    fn setoptions_reads_the_callers_int_and_timeouts_are_checked() {
        let t0 = Instant::now();
        let mut dog = WatchdogCore::new(t0);
        dog.open(1, t0).unwrap();
        let out = dog
            .ioctl(WDIOC_SETOPTIONS, &[], || Ok(WDIOS_DISABLECARD), t0)
            .unwrap();
        assert!(out.is_empty());
        assert_eq!(dog.next_deadline(), None);
        dog.ioctl(WDIOC_SETOPTIONS, &[], || Ok(WDIOS_ENABLECARD), t0)
            .unwrap();
        assert!(dog.next_deadline().is_some());
        assert_eq!(
            dog.ioctl(WDIOC_SETOPTIONS, &[], || Err(libc::EFAULT), t0),
            Err(libc::EFAULT)
        );
        for bad in [0u32, MAX_TIMEOUT + 1, u32::MAX] {
            assert_eq!(
                dog.ioctl(WDIOC_SETTIMEOUT, &bad.to_ne_bytes(), || Err(0), t0),
                Err(libc::EINVAL)
            );
        }
        assert_eq!(
            dog.ioctl(0x8004_5799, &[], || Err(0), t0),
            Err(libc::ENOTTY)
        );
        assert_eq!(
            dog.ioctl(WDIOC_SETPRETIMEOUT, &1u32.to_ne_bytes(), || Err(0), t0),
            Err(libc::EOPNOTSUPP)
        );
    }

    #[test]
    fn status_reports_keepalives_once_and_the_magic_character() {
        let t0 = Instant::now();
        let mut dog = WatchdogCore::new(t0);
        dog.open(1, t0).unwrap();
        let status = |dog: &mut WatchdogCore| {
            let out = dog.ioctl(WDIOC_GETSTATUS, &[], || Err(0), t0).unwrap();
            u32::from_ne_bytes(out.try_into().unwrap())
        };
        assert_eq!(status(&mut dog), WDIOF_KEEPALIVEPING);
        assert_eq!(status(&mut dog), 0);
        dog.write(b"V", t0);
        assert_eq!(status(&mut dog), WDIOF_KEEPALIVEPING | WDIOF_MAGICCLOSE);
    }

    #[test]
    fn the_ioctl_argument_is_read_from_proc_syscall() {
        let cmd = WDIOC_SETOPTIONS;
        let line = format!(
            "{} 0x4 {cmd:#x} 0x55f53515dd80 0x0 0x0 0x0 0x7fff3a7fcb60 0x7fdf48308d6b\n",
            libc::SYS_ioctl
        );
        assert_eq!(ioctl_arg_from_syscall(&line, cmd), Some(0x55f5_3515_dd80));
        assert_eq!(ioctl_arg_from_syscall(&line, WDIOC_KEEPALIVE), None);
        assert_eq!(ioctl_arg_from_syscall("running", cmd), None);
        assert_eq!(ioctl_arg_from_syscall("1 0x4 0x0 0x0", cmd), None);
    }
}
