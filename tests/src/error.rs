//! The lab's one error type.

use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong while building, driving or tearing down a lab.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// An external tool (`ip`, `losetup`, `ipmi_sim`, ...) failed or could not be started.
    /// Likely cause: the tool is not installed (run `scripts/install-test-deps.sh`), or the
    /// process is not root.
    #[error("`{command}` failed: {reason}")]
    Command {
        /// The command line that failed.
        command: String,
        /// Its error output, or why it could not run.
        reason: String,
    },
    /// A file or directory of the lab could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No cgroup v2 hierarchy is mounted; the lab tracks each node's processes in one.
    #[error("no cgroup2 file system is mounted (looked in /proc/self/mounts); mount one with `mount -t cgroup2 none /sys/fs/cgroup`")]
    NoCgroup2,
    /// A condition did not come true before its deadline.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        after: Duration,
    },
    /// The loop device layer failed.
    #[error(transparent)]
    Loop(#[from] crate::loopdev::LoopError),
    /// The FUSE file system of the fault disk could not be mounted.
    #[error("cannot mount the fault disk at {path}: {source}")]
    Mount {
        /// The mount point.
        path: PathBuf,
        /// Why (from the FUSE mount).
        source: std::io::Error,
    },
    /// The caller asked for something the lab does not have or cannot do
    /// (a node index out of range, a second medium on a one-medium lab, ...).
    #[error("invalid lab request: {0}")]
    Invalid(String),
    /// The process holding a playground cluster did not do what was asked; its own words.
    #[error("{0}")]
    Refused(String),
}

impl LabError {
    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LabError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Shorthand for results of lab operations.
pub type Result<T, E = LabError> = std::result::Result<T, E>;
