//! Helper processes of the lab itself (BMC simulators, the SNMP agent, serial line pairs):
//! started inside the lab's `infra` cgroup, optionally in a namespace, killed on drop.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cgroup::Cgroup;
use crate::cmd::describe;
use crate::error::{LabError, Result};
use crate::wait::wait_until;

/// A helper process; SIGKILLed and reaped on drop.
#[derive(Debug)]
pub struct InfraProcess {
    name: String,
    child: Option<Child>,
}

impl InfraProcess {
    /// Starts `argv` in cgroup `cgroup`, inside network namespace `netns` if given, with
    /// standard output and error appended to `log`.
    pub fn start(
        name: &str,
        cgroup: &Cgroup,
        netns: Option<&str>,
        argv: &[String],
        envs: &[(&str, &str)],
        log: &Path,
    ) -> Result<InfraProcess> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| LabError::io(log, e))?;
        let err = out.try_clone().map_err(|e| LabError::io(log, e))?;
        // The shell joins the cgroup, then becomes the program (same PID).
        let mut command = Command::new("sh");
        command.arg("-c").arg("echo $$ > \"$0\" && exec \"$@\"");
        command.arg(cgroup.procs_file());
        if let Some(ns) = netns {
            // Not `ip netns exec`: it remounts /sys, which hides the cgroup file system
            // that the BMC's power program needs.
            command.args(["nsenter", &format!("--net=/run/netns/{ns}"), "--"]);
        }
        command.args(argv);
        command.envs(envs.iter().copied());
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = command.spawn().map_err(|e| LabError::Command {
            command: describe(&command),
            reason: format!("cannot start: {e}"),
        })?;
        Ok(InfraProcess {
            name: name.to_string(),
            child: Some(child),
        })
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Error if the process has exited (it was expected to keep running).
    pub fn check_running(&mut self, log: &Path) -> Result<()> {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                let tail = std::fs::read_to_string(log).unwrap_or_default();
                let tail: String = tail.lines().rev().take(10).collect::<Vec<_>>().join(" | ");
                return Err(LabError::Command {
                    command: self.name.clone(),
                    reason: format!("exited with {status}; log {}: {tail}", log.display()),
                });
            }
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL if it has not exited within a second; reaps it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(pid) = i32::try_from(child.id()) {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
        }
        let exited = wait_until(
            Duration::from_secs(1),
            Duration::from_millis(5),
            "exit",
            || matches!(child.try_wait(), Ok(Some(_))),
        );
        if exited.is_err() {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

impl Drop for InfraProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
