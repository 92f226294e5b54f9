//! Where agents are found, how long each operation may take, and how stops are retried.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::ip::GarpConfig;
use super::outcome::Op;

/// Per-operation timeouts. Heartbeat v1 had none; these defaults leave room for slow
/// services while bounding a hung agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `start` (default 60 s).
    pub start: Duration,
    /// `stop` (default 60 s).
    pub stop: Duration,
    /// `status`/`monitor` (default 20 s, Pacemaker's default operation timeout).
    pub status: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            start: Duration::from_secs(60),
            stop: Duration::from_secs(60),
            status: Duration::from_secs(20),
        }
    }
}

impl Timeouts {
    /// The timeout of `op`.
    pub fn of(&self, op: Op) -> Duration {
        match op {
            Op::Start => self.start,
            Op::Stop => self.stop,
            Op::Status => self.status,
        }
    }
}

/// Everything the agent runner needs; `Default` is heartbeat's layout and behaviour.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Heartbeat-style scripts, looked up first (default `/etc/ha.d/resource.d`).
    pub resource_dir: PathBuf,
    /// LSB init scripts, looked up second (default `/etc/init.d`).
    pub init_dir: PathBuf,
    /// `OCF_ROOT`; agents live in `<ocf_root>/resource.d/<provider>/<type>` (default
    /// `/usr/lib/ocf`).
    pub ocf_root: PathBuf,
    /// Heartbeat's directory; `OCF::type::instance` reads `<ha_dir>/conf/OCF/<type>/<instance>`
    /// (default `/etc/ha.d`).
    pub ha_dir: PathBuf,
    /// Default timeouts per operation.
    pub timeouts: Timeouts,
    /// Timeouts for particular resources, keyed by the resource as written in `haresources`
    /// (its `Display` form).
    pub timeout_overrides: BTreeMap<String, Timeouts>,
    /// Retries of a failed stop after the first attempt (heartbeat's `HA_STOPRETRYMAX`, 10).
    pub stop_retries: u32,
    /// Pause between stop attempts (heartbeat: 1 s).
    pub stop_retry_interval: Duration,
    /// Gratuitous ARP after the native floating IP is added.
    pub garp: GarpConfig,
    /// Variables added to every agent's environment.
    pub env: Vec<(String, String)>,
    /// Where the agent running now is written down ([`super::ledger`]; `None`: nowhere).
    pub op_ledger: Option<PathBuf>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            resource_dir: PathBuf::from("/etc/ha.d/resource.d"),
            init_dir: PathBuf::from("/etc/init.d"),
            ocf_root: PathBuf::from("/usr/lib/ocf"),
            ha_dir: PathBuf::from("/etc/ha.d"),
            timeouts: Timeouts::default(),
            timeout_overrides: BTreeMap::new(),
            stop_retries: 10,
            stop_retry_interval: Duration::from_secs(1),
            garp: GarpConfig::default(),
            env: Vec::new(),
            op_ledger: None,
        }
    }
}
