//! The simulator's side of the line: a PTY master, its slave linked where the client will
//! open it, and the loop feeding a [`Model`].

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::{tcgetattr, tcsetattr, OptionalActions};

use crate::devsim::{DeviceState, Model, Schedule};
use crate::error::{LabError, Result};

/// A PTY whose slave is linked at a path.
pub struct SimPty {
    master: OwnedFd,
    // Held open so the master never reads EOF between clients and the slave's settings
    // survive them.
    _slave: OwnedFd,
    link: PathBuf,
}

impl SimPty {
    /// Opens a PTY, sets its slave raw and links the slave at `link`.
    pub fn create(link: &Path) -> Result<SimPty> {
        let err = |what: &str, e: rustix::io::Errno| {
            LabError::io(link, std::io::Error::other(format!("{what}: {e}")))
        };
        let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)
            .map_err(|e| err("openpt", e))?;
        rustix::pty::grantpt(&master).map_err(|e| err("grantpt", e))?;
        rustix::pty::unlockpt(&master).map_err(|e| err("unlockpt", e))?;
        let name = rustix::pty::ptsname(&master, Vec::new()).map_err(|e| err("ptsname", e))?;
        let slave_path = PathBuf::from(name.to_string_lossy().into_owned());
        let slave = rustix::fs::open(
            &slave_path,
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| err("open slave", e))?;
        let mut t = tcgetattr(&slave).map_err(|e| err("tcgetattr", e))?;
        t.make_raw();
        tcsetattr(&slave, OptionalActions::Now, &t).map_err(|e| err("tcsetattr", e))?;
        if let Some(dir) = link.parent() {
            std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
        }
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(&slave_path, link).map_err(|e| LabError::io(link, e))?;
        Ok(SimPty {
            master,
            _slave: slave,
            link: link.to_path_buf(),
        })
    }
}

impl Drop for SimPty {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.link);
    }
}

/// Runs `model` on `pty` until `stop`. `busy` says whether anything is scheduled;
/// `byte_time` paces output.
pub fn run(
    pty: SimPty,
    mut model: Box<dyn Model>,
    state: Arc<Mutex<DeviceState>>,
    stop: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    byte_time: Duration,
) {
    let mut sched = Schedule::default();
    let mut line_free = Instant::now();
    let mut speed_was_zero = false;
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        let wait = sched
            .next_due()
            .map_or(Duration::from_millis(5), |t| {
                t.saturating_duration_since(now)
            })
            .min(Duration::from_millis(5));
        let timeout = Timespec {
            tv_sec: 0,
            tv_nsec: i64::from(wait.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&pty.master, PollFlags::IN)];
        let ready = poll(&mut fds, Some(&timeout)).unwrap_or(0);
        let now = Instant::now();
        let readable = ready > 0 && fds[0].revents().contains(PollFlags::IN);
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        if readable {
            if let Ok(n) = rustix::io::read(&pty.master, &mut buf) {
                st.bytes_in += n;
                if !st.faults.silent {
                    for &b in &buf[..n] {
                        model.byte(now, b, &mut st, &mut sched);
                    }
                }
            }
        }
        // The client's line speed: 0 is a hang-up (DTR dropped); its return ends it.
        if let Ok(t) = tcgetattr(&pty.master) {
            let zero = t.output_speed() == 0;
            if speed_was_zero && !zero {
                st.hangups += 1;
                if !st.faults.silent {
                    model.hangup(now, &mut st, &mut sched);
                }
            }
            speed_was_zero = zero;
        }
        // State changes that are due, in time order.
        sched.changes.sort_by_key(|c| c.0);
        while sched.changes.first().is_some_and(|c| c.0 <= now) {
            let (_, change) = sched.changes.remove(0);
            change(&mut st);
        }
        drop(st);
        // Bytes that are due, in order, paced at the line's speed.
        sched.emits.sort_by_key(|e| e.0);
        while sched
            .emits
            .first()
            .is_some_and(|e| e.0 <= now && line_free <= now)
        {
            let (_, bytes) = sched.emits.remove(0);
            let _ = rustix::io::write(&pty.master, &bytes);
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            line_free = now + byte_time * len;
            if !byte_time.is_zero() {
                std::thread::sleep(byte_time * len);
            }
        }
        busy.store(!sched.is_empty(), Ordering::SeqCst);
    }
}
