//! Runs heuristic programs (`/bin/sh -c`), each in its own process group so a run that
//! exceeds its timeout can be killed with everything it started.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;

/// Starts heuristic `index` running `program`; reports success over `done`. Returns the
/// process group id, for killing it on timeout.
pub fn start(index: usize, program: &str, done: Sender<super::Msg>) -> Option<u32> {
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(program)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match child {
        Ok(mut child) => {
            let pid = child.id();
            std::thread::spawn(move || {
                let success = child.wait().map(|s| s.success()).unwrap_or(false);
                let _ = done.send(super::Msg::Heuristic { index, success });
            });
            Some(pid)
        }
        Err(e) => {
            tracing::error!("heuristic {index}: cannot start /bin/sh: {e}");
            let _ = done.send(super::Msg::Heuristic {
                index,
                success: false,
            });
            None
        }
    }
}

/// Kills the process group of a run that timed out.
pub fn kill(pgid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pgid as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}
