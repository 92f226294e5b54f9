//! Runs one agent process: in its own process group, with a deadline, capturing its output.
//!
//! On timeout the whole process group is killed with `SIGKILL` (as Pacemaker's executor
//! does) while the leader is still unreaped, so the group id cannot have been reused, and
//! the leader is then reaped. The group's other members, now orphans, are reaped by init.
//! When the agent exits by itself nothing else is killed: a start script may leave a daemon
//! behind in its group, and that daemon is the service.
//!
//! Waiting uses a pidfd and `poll(2)` on it and the output pipes together; output is not
//! waited for after the agent exits, because a daemon it started may hold the pipes open
//! (such a pipe is then read and discarded by a thread until the daemon closes it, so the
//! daemon never dies of `SIGPIPE`).

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{kill_process_group, pidfd_open, Pid, PidfdFlags, Signal};

/// Bytes of standard output kept (the latest ones).
const STDOUT_KEEP: usize = 64 * 1024;
/// Bytes of standard error kept (the latest ones).
const STDERR_KEEP: usize = 2048;
/// Poll period when the kernel offers no pidfd.
const FALLBACK_TICK: Duration = Duration::from_millis(10);

/// One process to run.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables added to the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// How long it may run.
    pub timeout: Duration,
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// It outlived the timeout; its process group was killed.
    TimedOut,
}

/// A finished process.
#[derive(Debug, Clone)]
pub struct Finished {
    /// How it ended.
    pub exit: Exit,
    /// Its standard output (the last 64 KiB), lossily decoded.
    pub stdout: String,
    /// The last lines of its standard error.
    pub stderr_tail: String,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Runs `inv` to completion or timeout. Errors only when the process cannot be started.
pub fn run(inv: &Invocation) -> io::Result<Finished> {
    run_with(inv, |_| {})
}

/// [`run`], calling `spawned` with the process id once the agent runs (for the operation
/// ledger, [`super::ledger`]).
pub fn run_with(inv: &Invocation, spawned: impl FnOnce(u32)) -> io::Result<Finished> {
    let started = Instant::now();
    let deadline = started + inv.timeout;
    let mut child = Command::new(&inv.program)
        .args(&inv.args)
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let pid = Pid::from_child(&child);
    spawned(child.id());
    let pidfd = pidfd_open(pid, PidfdFlags::empty()).ok();
    let mut out = Pipe::new(child.stdout.take(), STDOUT_KEEP);
    let mut err = Pipe::new(child.stderr.take(), STDERR_KEEP);

    let exit = loop {
        let now = Instant::now();
        if now >= deadline {
            break kill_group_and_reap(&mut child, pid);
        }
        let mut wait = deadline - now;
        if pidfd.is_none() {
            wait = wait.min(FALLBACK_TICK);
        }
        let exited = wait_some(pidfd.as_ref(), &mut out, &mut err, wait);
        if exited || pidfd.is_none() {
            if let Some(status) = child.try_wait()? {
                break match status.code() {
                    Some(code) => Exit::Code(code),
                    None => Exit::Signal(status.signal().unwrap_or(0)),
                };
            }
        }
    };
    out.drain();
    err.drain();
    let finished = (out.text(), err.text());
    out.hand_off();
    err.hand_off();
    Ok(Finished {
        exit,
        stdout: finished.0,
        stderr_tail: tail_lines(&finished.1, 10),
        elapsed: started.elapsed(),
    })
}

/// Polls the pidfd and the pipes for up to `wait`, reading whatever arrived. Returns whether
/// the pidfd says the process exited.
fn wait_some(pidfd: Option<&OwnedFd>, out: &mut Pipe, err: &mut Pipe, wait: Duration) -> bool {
    let timeout = Timespec {
        tv_sec: wait.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: wait.subsec_nanos().into(),
    };
    let (mut exited, mut out_ready, mut err_ready) = (false, false, false);
    {
        let mut fds = Vec::with_capacity(3);
        let mut slots = [usize::MAX; 3];
        if let Some(fd) = pidfd {
            slots[0] = fds.len();
            fds.push(PollFd::new(fd, PollFlags::IN));
        }
        if let Some(p) = out.pipe.as_ref() {
            slots[1] = fds.len();
            fds.push(PollFd::new(p, PollFlags::IN));
        }
        if let Some(p) = err.pipe.as_ref() {
            slots[2] = fds.len();
            fds.push(PollFd::new(p, PollFlags::IN));
        }
        if fds.is_empty() {
            std::thread::sleep(wait);
            return false;
        }
        // EINTR and friends: just come round again.
        if poll(&mut fds, Some(&timeout)).is_ok() {
            let ready = |i: usize| fds.get(i).is_some_and(|f| !f.revents().is_empty());
            exited = ready(slots[0]);
            out_ready = ready(slots[1]);
            err_ready = ready(slots[2]);
        }
    }
    if out_ready {
        out.drain();
    }
    if err_ready {
        err.drain();
    }
    exited
}

fn kill_group_and_reap(child: &mut Child, pid: Pid) -> Exit {
    // The leader is not reaped yet, so its pid (= the group id) is still ours.
    if let Err(e) = kill_process_group(pid, Signal::KILL) {
        tracing::warn!(
            pid = pid.as_raw_nonzero().get(),
            "killing the process group: {e}"
        );
        let _ = child.kill();
    }
    if let Err(e) = child.wait() {
        tracing::warn!("reaping a timed-out agent: {e}");
    }
    Exit::TimedOut
}

/// One output pipe, read without blocking into a bounded buffer keeping the latest bytes.
struct Pipe {
    pipe: Option<File>,
    buf: Vec<u8>,
    keep: usize,
}

impl Pipe {
    fn new(pipe: Option<impl Into<OwnedFd>>, keep: usize) -> Self {
        let pipe = pipe
            .map(|p| File::from(p.into()))
            .filter(|p| rustix::io::ioctl_fionbio(p, true).is_ok());
        Pipe {
            pipe,
            buf: Vec::new(),
            keep,
        }
    }

    /// Reads until the pipe would block; closes it at end of file.
    fn drain(&mut self) {
        let Some(p) = self.pipe.as_mut() else { return };
        let mut chunk = [0u8; 8192];
        loop {
            match p.read(&mut chunk) {
                Ok(0) => {
                    self.pipe = None;
                    return;
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    if self.buf.len() > self.keep * 2 {
                        let cut = self.buf.len() - self.keep;
                        self.buf.drain(..cut);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// A pipe still open after the agent exited is held by something it left running (a
    /// daemon that kept its stdout). Closing our end would kill that daemon with `SIGPIPE` at
    /// its next write, so a thread reads and discards until the daemon closes it.
    fn hand_off(&mut self) {
        let Some(pipe) = self.pipe.take() else { return };
        if rustix::io::ioctl_fionbio(&pipe, false).is_err() {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("agent-output".into())
            .spawn(move || {
                let mut pipe = pipe;
                let _ = io::copy(&mut pipe, &mut io::sink());
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot keep reading a daemon's output: {e}");
        }
    }

    fn text(&self) -> String {
        let start = self.buf.len().saturating_sub(self.keep);
        String::from_utf8_lossy(&self.buf[start..]).into_owned()
    }
}

/// The last `n` non-empty lines of `text`, joined by newlines.
pub(crate) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
