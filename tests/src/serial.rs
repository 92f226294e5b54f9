//! Serial lines: a null-modem pair of PTYs made by `socat`, with stable symlinks for both
//! ends. Put a node's daemon on one end and another node, or a device simulator, on the
//! other. Both ends are visible to every node (the lab directory and `/dev/pts` are shared).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cgroup::Cgroup;
use crate::error::{LabError, Result};
use crate::process::InfraProcess;
use crate::wait::wait_until;

/// A PTY pair; socat is stopped on drop.
#[derive(Debug)]
pub struct SerialPair {
    name: String,
    a: PathBuf,
    b: PathBuf,
    process: InfraProcess,
}

impl SerialPair {
    /// Starts `socat` making the pair `dir/NAME-a` <-> `dir/NAME-b` (raw, no echo).
    pub fn start(name: &str, dir: &Path, infra: &Cgroup) -> Result<SerialPair> {
        if name.is_empty() || name.contains('/') {
            return Err(LabError::Invalid(format!("bad serial line name {name:?}")));
        }
        std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
        let a = dir.join(format!("{name}-a"));
        let b = dir.join(format!("{name}-b"));
        let argv: Vec<String> = vec![
            "socat".into(),
            "-d".into(),
            "-d".into(),
            format!("pty,raw,echo=0,link={}", a.display()),
            format!("pty,raw,echo=0,link={}", b.display()),
        ];
        let log = dir.join(format!("{name}.socat.log"));
        let mut process = InfraProcess::start(
            &format!("socat (serial {name})"),
            infra,
            None,
            &argv,
            &[],
            &log,
        )?;
        let mut died = None;
        wait_until(
            Duration::from_secs(5),
            Duration::from_millis(5),
            "socat's PTYs",
            || {
                if let Err(e) = process.check_running(&log) {
                    died = Some(e);
                    return true;
                }
                a.exists() && b.exists()
            },
        )?;
        if let Some(e) = died {
            return Err(e);
        }
        Ok(SerialPair {
            name: name.to_string(),
            a,
            b,
            process,
        })
    }

    /// The pair's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// End A (a symlink to a `/dev/pts/N`).
    pub fn a(&self) -> &Path {
        &self.a
    }

    /// End B.
    pub fn b(&self) -> &Path {
        &self.b
    }

    /// Stops socat (both ends go away).
    pub fn stop(&mut self) {
        self.process.stop();
    }
}
