//! The operation ledger: the agent process hbd is running now, in a file of its state
//! directory, so that a successor waits for it before it runs a resource operation of its
//! own.
//!
//! An agent runs in its own process group and outlives an hbd that is killed while it
//! runs (a stop may take its time, and killing it halfway would be worse). A new hbd that
//! probed the group meanwhile would see resources the stop is about to take down as
//! running, hold the group on that word, and never start it again (found by the
//! whole-cluster simulation). So every agent run is written down here while it lasts, and
//! hbd's resource worker begins with [`OpLedger::wait_for_predecessor`]: while the process
//! named there is still the same process (its start time, field 22 of `/proc/PID/stat`,
//! tells it from a later process with the same pid), it waits, up to the operation's own
//! deadline; past that the process group is killed, as the runner would have done.
//!
//! The file holds `PID START_TICKS DEADLINE_MS` (the deadline on `CLOCK_BOOTTIME`, in
//! milliseconds) on its first line and what runs on the second. Writes are best effort:
//! a ledger that cannot be written is logged, never a reason not to run the operation.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::process::{kill_process_group, Pid, Signal};

/// The ledger's file name in hbd's state directory.
pub const LEDGER_FILE: &str = "agent-op";

/// How often a successor looks whether its predecessor's agent has finished.
pub const PREDECESSOR_POLL: Duration = Duration::from_millis(50);

/// One agent process, as written down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its pid (and process group id).
    pub pid: u32,
    /// Its start time in clock ticks since boot.
    pub start_ticks: u64,
    /// When its runner would have killed it, on `CLOCK_BOOTTIME`.
    pub deadline: Duration,
    /// What it does, e.g. `IPaddr2::10.0.0.10 stop`.
    pub what: String,
}

impl Entry {
    fn to_text(&self) -> String {
        format!(
            "{} {} {}\n{}\n",
            self.pid,
            self.start_ticks,
            self.deadline.as_millis(),
            self.what.replace('\n', " ")
        )
    }

    fn parse(text: &str) -> Option<Entry> {
        let mut lines = text.lines();
        let mut fields = lines.next()?.split_ascii_whitespace();
        let pid = fields.next()?.parse().ok().filter(|&p| p > 0)?;
        let start_ticks = fields.next()?.parse().ok()?;
        let deadline = Duration::from_millis(fields.next()?.parse().ok()?);
        if fields.next().is_some() {
            return None;
        }
        Some(Entry {
            pid,
            start_ticks,
            deadline,
            what: lines.next().unwrap_or("").to_string(),
        })
    }
}

/// How waiting for a predecessor's agent ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Predecessor {
    /// No ledger, or its process is gone.
    None,
    /// The ledger could not be read as one; it was removed.
    Unreadable(String),
    /// Its agent was still running and finished after this long.
    Finished(Entry, Duration),
    /// Its agent outlived its deadline; its process group was killed.
    Killed(Entry),
}

/// The ledger file.
#[derive(Debug, Clone)]
pub struct OpLedger {
    path: PathBuf,
}

impl OpLedger {
    /// The ledger at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        OpLedger { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes down agent `pid`, doing `what`, which its runner kills after `timeout`.
    pub fn record(&self, pid: u32, timeout: Duration, what: &str) {
        let Some(start_ticks) = start_ticks(pid) else {
            return; // already gone
        };
        let entry = Entry {
            pid,
            start_ticks,
            deadline: boot_time() + timeout,
            what: what.to_string(),
        };
        let tmp = self.path.with_extension("tmp");
        let written = fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(entry.to_text().as_bytes()))
            .and_then(|()| fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            tracing::warn!(
                "{}: cannot write down the running agent ({e}); a successor started before it ends would not wait for it",
                self.path.display()
            );
        }
    }

    /// The agent written down has been reaped.
    pub fn clear(&self) {
        match fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("{}: cannot remove: {e}", self.path.display()),
        }
    }

    /// What the ledger holds, if anything.
    pub fn read(&self) -> Result<Option<Entry>, String> {
        match fs::read_to_string(&self.path) {
            Ok(text) => Entry::parse(&text)
                .map(Some)
                .ok_or_else(|| format!("{}: not a ledger entry: {text:?}", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", self.path.display())),
        }
    }

    /// Waits, polling every `poll`, until the agent a predecessor left running has ended,
    /// or kills its process group once its deadline has passed; then removes the ledger.
    pub fn wait_for_predecessor(&self, poll: Duration) -> Predecessor {
        let entry = match self.read() {
            Ok(Some(e)) => e,
            Ok(None) => return Predecessor::None,
            Err(why) => {
                tracing::warn!("{why}; removed");
                self.clear();
                return Predecessor::Unreadable(why);
            }
        };
        let alive = |e: &Entry| start_ticks(e.pid) == Some(e.start_ticks);
        if !alive(&entry) {
            self.clear();
            return Predecessor::None;
        }
        let began = boot_time();
        tracing::warn!(
            "the resource operation '{}' that the previous hbd started (pid {}) is still running: every resource operation waits until it ends (at most {}, its timeout), so no probe sees it half done",
            entry.what,
            entry.pid,
            humantime::format_duration(round_ms(entry.deadline.saturating_sub(began)))
        );
        let outcome = loop {
            if !alive(&entry) {
                let took = round_ms(boot_time().saturating_sub(began));
                tracing::info!(
                    "the previous hbd's '{}' ended; waited {}",
                    entry.what,
                    humantime::format_duration(took)
                );
                break Predecessor::Finished(entry, took);
            }
            if boot_time() >= entry.deadline {
                let killed = i32::try_from(entry.pid)
                    .ok()
                    .and_then(Pid::from_raw)
                    .map(|pid| kill_process_group(pid, Signal::KILL));
                match killed {
                    Some(Ok(())) => tracing::warn!(
                        "the previous hbd's '{}' (pid {}) outlived its timeout: its process group was killed",
                        entry.what,
                        entry.pid
                    ),
                    _ => tracing::warn!(
                        "the previous hbd's '{}' (pid {}) outlived its timeout and its process group could not be killed",
                        entry.what,
                        entry.pid
                    ),
                }
                break Predecessor::Killed(entry);
            }
            std::thread::sleep(poll);
        };
        self.clear();
        outcome
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

/// `CLOCK_BOOTTIME` now.
fn boot_time() -> Duration {
    plumbing::time::BootTime::now().0
}

/// The start time of process `pid` in clock ticks since boot (field 22 of its stat line,
/// counted after the command name, which may hold spaces and parentheses).
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // Fields from 3 (state) on; the start time is field 22.
    after_comm
        .split_ascii_whitespace()
        .nth(22 - 3)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::Command;
    use std::time::Instant;

    fn ledger() -> (tempfile::TempDir, OpLedger) {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = OpLedger::new(dir.path().join(LEDGER_FILE));
        (dir, l)
    }

    /// A `sleep` in its own process group, reaped by a thread (as init reaps an orphan).
    fn orphan(secs: &str) -> (u32, std::thread::JoinHandle<std::process::ExitStatus>) {
        let mut child = Command::new("sleep")
            .arg(secs)
            .process_group(0)
            .spawn()
            .expect("sleep");
        let pid = child.id();
        let reaper = std::thread::spawn(move || child.wait().expect("wait"));
        (pid, reaper)
    }

    #[test]
    fn an_entry_reads_back_as_written() {
        let e = Entry {
            pid: 4242,
            start_ticks: 123_456,
            deadline: Duration::from_millis(98_765),
            what: "IPaddr2::10.0.0.10 stop".into(),
        };
        assert_eq!(Entry::parse(&e.to_text()), Some(e));
        assert_eq!(Entry::parse("0 1 2\nx"), None, "pid 0 is no process");
        assert_eq!(Entry::parse("12 x 2\n"), None);
        assert_eq!(Entry::parse("12 1 2 3\n"), None);
        assert_eq!(Entry::parse(""), None);
    }

    #[test]
    fn a_successor_waits_for_the_agent_its_predecessor_left_running() {
        let (_d, l) = ledger();
        let (pid, reaper) = orphan("0.4");
        l.record(pid, Duration::from_secs(30), "diskwriter stop");
        assert_eq!(l.read().expect("reads").map(|e| e.pid), Some(pid));
        let began = Instant::now();
        let outcome = l.wait_for_predecessor(Duration::from_millis(10));
        let waited = began.elapsed();
        assert!(
            matches!(&outcome, Predecessor::Finished(e, _) if e.what == "diskwriter stop"),
            "{outcome:?}"
        );
        assert!(
            reaper.join().expect("reaped").success(),
            "it ran to its end"
        );
        assert!(waited >= Duration::from_millis(200), "waited {waited:?}");
        assert_eq!(l.read(), Ok(None), "the ledger is removed");
    }

    #[test]
    fn an_agent_past_its_deadline_has_its_process_group_killed() {
        let (_d, l) = ledger();
        let (pid, reaper) = orphan("30");
        l.record(pid, Duration::from_millis(100), "web stop");
        let outcome = l.wait_for_predecessor(Duration::from_millis(10));
        assert!(matches!(outcome, Predecessor::Killed(_)), "{outcome:?}");
        let status = reaper.join().expect("reaped");
        assert_eq!(status.signal(), Some(9), "{status:?}");
        assert_eq!(l.read(), Ok(None));
    }

    #[test]
    fn a_ledger_naming_a_finished_or_other_process_is_not_waited_for() {
        let (_d, l) = ledger();
        let (pid, reaper) = orphan("0");
        l.record(pid, Duration::from_secs(30), "web stop");
        reaper.join().expect("reaped");
        let began = Instant::now();
        assert_eq!(
            l.wait_for_predecessor(Duration::from_millis(10)),
            Predecessor::None
        );
        assert!(began.elapsed() < Duration::from_secs(5));
        // Our own pid with another start time: a later process that reused the pid.
        let me = std::process::id();
        let other = Entry {
            pid: me,
            start_ticks: start_ticks(me).expect("ours") + 1,
            deadline: Duration::from_secs(1 << 30),
            what: "web stop".into(),
        };
        fs::write(l.path(), other.to_text()).expect("write");
        assert_eq!(
            l.wait_for_predecessor(Duration::from_millis(10)),
            Predecessor::None
        );
        assert_eq!(l.read(), Ok(None));
    }

    #[test]
    fn an_unreadable_ledger_is_reported_and_removed() {
        let (_d, l) = ledger();
        fs::write(l.path(), "garbage").expect("write");
        let outcome = l.wait_for_predecessor(Duration::from_millis(10));
        assert!(
            matches!(&outcome, Predecessor::Unreadable(w) if w.contains("not a ledger entry")),
            "{outcome:?}"
        );
        assert_eq!(l.read(), Ok(None));
    }
}
