//! What an operation on one resource came to.

use std::fmt;
use std::time::Duration;

/// An operation on a resource, as heartbeat's `ResourceManager` calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Start the resource (`start`).
    Start,
    /// Stop the resource (`stop`); must succeed when already stopped.
    Stop,
    /// Ask whether it runs: `status` for heartbeat-style and LSB scripts, `monitor` for OCF
    /// agents, an address lookup for the native floating IP.
    Status,
}

impl Op {
    /// The word passed to heartbeat-style and LSB scripts.
    pub fn word(self) -> &'static str {
        match self {
            Op::Start => "start",
            Op::Stop => "stop",
            Op::Status => "status",
        }
    }

    /// The action passed to OCF agents (`status` becomes `monitor`).
    pub fn ocf_action(self) -> &'static str {
        match self {
            Op::Start => "start",
            Op::Stop => "stop",
            Op::Status => "monitor",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// The typed result of one operation on one resource.
///
/// A successful `start` is [`Outcome::Running`], a successful `stop` [`Outcome::Stopped`];
/// `status` answers with either of them when it can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The resource runs (start succeeded, or status says so).
    Running,
    /// The resource is stopped (stop succeeded, or status says so).
    Stopped,
    /// The agent failed: its exit code (128 + signal when a signal ended it; the errno for
    /// the native floating IP) and the last lines of its standard error (the native agent's
    /// error message).
    Failed {
        /// Exit code, 128 + signal, or errno.
        code: i32,
        /// The tail of the agent's standard error.
        stderr: String,
    },
    /// The operation outlived its timeout; its whole process group was killed and reaped.
    TimedOut {
        /// The timeout that expired.
        after: Duration,
    },
    /// The agent (or something it needs) is not installed: heartbeat's "Cannot locate
    /// resource script", LSB exit 5, OCF `OCF_ERR_INSTALLED`.
    NotInstalled {
        /// What is missing.
        what: String,
    },
    /// The resource is configured wrongly: a bad `name::arg` form, a missing OCF instance
    /// file, LSB exit 2/6, OCF `OCF_ERR_ARGS`/`OCF_ERR_CONFIGURED`, no interface for an IP.
    ConfigError {
        /// Why, and how to fix it.
        why: String,
    },
}

impl Outcome {
    /// Whether this is the success answer of `op` (`Running` for start, `Stopped` for stop,
    /// either for status).
    pub fn is_success_of(&self, op: Op) -> bool {
        matches!(
            (op, self),
            (Op::Start, Outcome::Running)
                | (Op::Stop, Outcome::Stopped)
                | (Op::Status, Outcome::Running | Outcome::Stopped)
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Running => f.write_str("running"),
            Outcome::Stopped => f.write_str("stopped"),
            Outcome::Failed { code, stderr } if stderr.is_empty() => {
                write!(f, "failed with code {code}")
            }
            Outcome::Failed { code, stderr } => write!(f, "failed with code {code}: {stderr}"),
            Outcome::TimedOut { after } => write!(f, "timed out after {after:?}"),
            Outcome::NotInstalled { what } => write!(f, "not installed: {what}"),
            Outcome::ConfigError { why } => write!(f, "configuration error: {why}"),
        }
    }
}
