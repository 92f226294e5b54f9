//! Shared helpers of the serial fence-agent tests and benchmark: a simulated device with
//! its own lock directory, our agent and cluster-glue's `stonith` run against it.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab::devsim::{Delays, DeviceKind, DeviceSim};

/// The host every simulated device powers.
pub const HOST: &str = "node1";

/// A simulated device, the directory of its port and a private lock directory.
pub struct Bench {
    /// The simulator.
    pub sim: DeviceSim,
    /// Holds the port's link.
    pub dir: tempfile::TempDir,
    /// Our agent's lock directory.
    pub lock_dir: PathBuf,
}

impl Bench {
    /// A simulator of `kind` with `delays`.
    pub fn new(kind: DeviceKind, delays: Delays) -> Bench {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock_dir = dir.path().join("lock");
        std::fs::create_dir_all(&lock_dir).expect("lock dir");
        let sim = DeviceSim::start_in(kind, dir.path(), delays).expect("simulator");
        Bench { sim, dir, lock_dir }
    }

    /// Lock files left in our lock directory.
    pub fn locks_left(&self) -> Vec<String> {
        std::fs::read_dir(&self.lock_dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Our agent's options for `action` on this device (stdin form).
    pub fn options(&self, action: &str, extra: &str) -> String {
        let kind = self.sim.kind();
        let plug = match kind {
            DeviceKind::Rps10 => "0",
            DeviceKind::Lcus => "1",
            _ => HOST,
        };
        let mut s = format!(
            "serial_device={}\nserial_lock_dir={}\naction={action}\nplug={plug}\n",
            self.sim.path().display(),
            self.lock_dir.display()
        );
        match kind {
            DeviceKind::ApcSmart => s.push_str(&format!("hostlist={HOST}\n")),
            DeviceKind::NwRpc100s => s.push_str(&format!("hostlist={HOST}\n")),
            _ => {}
        }
        s.push_str(extra);
        s
    }

    /// Runs our agent with options on stdin.
    pub fn ours(&self, action: &str, extra: &str) -> Run {
        let agent = agent_path(self.sim.kind());
        run(Command::new(agent), Some(&self.options(action, extra)))
    }

    /// cluster-glue's `stonith` arguments for `action` (`status`, `on`, `off`, `reset`).
    pub fn glue_args(&self, action: &str) -> Vec<String> {
        let path = self.sim.path().display().to_string();
        let mut args = vec!["-t".to_string(), self.sim.kind().name().to_string()];
        match self.sim.kind() {
            DeviceKind::Rps10 => args.push(format!("serial_to_targets={path} {HOST} 0")),
            _ => {
                args.push(format!("ttydev={path}"));
                args.push(format!("hostlist={HOST}"));
            }
        }
        if action == "status" {
            args.push("-S".into());
        } else {
            args.extend(["-T".into(), action.into(), HOST.into()]);
        }
        args
    }

    /// Runs cluster-glue's `stonith` (its locks go to /var/lock; any it leaves are removed).
    pub fn glue(&self, action: &str) -> Run {
        let mut c = Command::new("stonith");
        c.args(self.glue_args(action));
        let r = run(c, None);
        self.sim.remove_dead_lock(Path::new("/var/lock"));
        r
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.sim.remove_dead_lock(Path::new("/var/lock"));
    }
}

/// One run of an agent.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub rc: i32,
    /// Standard output.
    pub out: String,
    /// Standard error.
    pub err: String,
    /// Wall time.
    pub took: Duration,
}

/// Runs `cmd` with `stdin`, bounded by 120 s (so a hang is a failure, not a stuck test).
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Run {
    let t = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin.unwrap_or("").as_bytes());
    }
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(120) {
            std::thread::sleep(Duration::from_millis(100));
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
        }
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
    let out = child.wait_with_output().expect("wait");
    let took = t.elapsed();
    drop(watchdog);
    Run {
        rc: out.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
    }
}

/// Our agent binary for `kind`.
pub fn agent_path(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Rps10 => env!("CARGO_BIN_EXE_fence_qd_rps10"),
        DeviceKind::ApcSmart => env!("CARGO_BIN_EXE_fence_qd_apcsmart"),
        DeviceKind::NwRpc100s => env!("CARGO_BIN_EXE_fence_qd_nw_rpc100s"),
        DeviceKind::Lcus => env!("CARGO_BIN_EXE_fence_qd_lcus"),
    }
}
