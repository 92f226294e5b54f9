//! What cluster to build: the binaries, the stack, fencing, timing and size.

use super::*;

/// Where the workspace's binaries are (`target/debug` or `target/release`).
#[derive(Debug, Clone)]
pub struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// The binaries in `dir`; every one the cluster needs must be there.
    pub fn in_dir(dir: &Path) -> Result<Binaries> {
        let b = Binaries {
            dir: dir.to_path_buf(),
        };
        for name in [
            "hbd",
            "hbctl",
            "fenced",
            "qdiskd",
            "mkqdisk",
            "fence_qd_ipmilan",
            "fence_qd_ifmib",
        ] {
            let path = b.path(name);
            if !path.exists() {
                return Err(LabError::Invalid(format!(
                    "{} is missing: build the workspace first (cargo build --workspace --bins)",
                    path.display()
                )));
            }
        }
        Ok(b)
    }

    /// The path of binary `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Which cluster software runs on web1 and web2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// hbd, fenced and (with a quorum disk) qdiskd.
    Ours,
    /// Debian's heartbeat 3.0.6 (no fencing, no quorum disk: heartbeat v1 has neither).
    Heartbeat,
}

/// How our stack fences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fencing {
    /// Through the node's BMC with `fence_qd_ipmilan` (power off, confirmed).
    Ipmi,
    /// Through the switch (`fence_qd_ifmib` over SNMP): the node's SAN port and its
    /// heartbeat port are disabled, so it can neither write to the shared disk nor serve;
    /// fenced enables them again when the node starts after a reboot (unfencing).
    Fabric,
    /// Through the quorum disk (`fence_qd_poison`): a poison pill in the victim's slot; its
    /// qdiskd acknowledges and fences itself (`kill-cgroup`), and a node that cannot read the
    /// pill is reset by its watchdog (every node gets the lab's watchdog; needs the quorum
    /// disk).
    Poison,
    /// A fence agent that reports success at once without doing anything: only for the
    /// benchmark's like-for-like comparison with heartbeat, which does not fence.
    NoOp,
}

impl Fencing {
    /// `ipmi`, `fabric`, `poison` or `noop`.
    pub fn name(self) -> &'static str {
        match self {
            Fencing::Ipmi => "ipmi",
            Fencing::Fabric => "fabric",
            Fencing::Poison => "poison",
            Fencing::NoOp => "noop",
        }
    }
}

/// heartbeat timings, as `ha.cf` writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// `keepalive`.
    pub keepalive: Duration,
    /// `deadtime`.
    pub deadtime: Duration,
    /// `warntime`.
    pub warntime: Duration,
    /// `initdead`.
    pub initdead: Duration,
}

impl Timing {
    /// The tutorial's (keepalive 1 s, deadtime 8 s; initdead 10 s, warntime 5 s).
    pub const SEED: Timing = Timing {
        keepalive: Duration::from_secs(1),
        deadtime: Duration::from_secs(8),
        warntime: Duration::from_secs(5),
        initdead: Duration::from_secs(10),
    };
    /// The demo's: keepalive 500 ms, deadtime 5 s (room for the quorum disk's master to
    /// move before the membership timeout, with a write deadline a loaded machine meets).
    pub const DEMO: Timing = Timing {
        keepalive: Duration::from_millis(500),
        deadtime: Duration::from_secs(5),
        warntime: Duration::from_millis(2500),
        initdead: Duration::from_secs(10),
    };
    /// A fast profile for labs: keepalive 250 ms, deadtime 2 s.
    pub const FAST: Timing = Timing {
        keepalive: Duration::from_millis(250),
        deadtime: Duration::from_secs(2),
        warntime: Duration::from_secs(1),
        initdead: Duration::from_secs(4),
    };

    pub(super) fn hacf(&self) -> String {
        format!(
            "keepalive {}ms\ndeadtime {}ms\nwarntime {}ms\ninitdead {}ms\n",
            self.keepalive.as_millis(),
            self.deadtime.as_millis(),
            self.warntime.as_millis(),
            self.initdead.as_millis()
        )
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Cluster nodes, `web1` … `webN` (the tutorial's 2; our stack also runs more). The
    /// client is node N+1.
    pub nodes: usize,
    /// The cluster software.
    pub stack: Stack,
    /// heartbeat timings.
    pub timing: Timing,
    /// A quorum disk (our stack only): the tie-breaker of a two-node cluster.
    pub qdisk: bool,
    /// The quorum disk's `interval` and `tko`: a node fences itself when no status write
    /// was issued for (tko − 1) × interval after the last completed one, and the master's
    /// failover, interval × (tko + master_wait + 3.5), must be shorter than deadtime.
    pub qdisk_timing: (Duration, u32),
    /// How our stack fences.
    pub fencing: Fencing,
    /// The client's address as a ping node (`ping` in ha.cf), counted for quorum by hbd
    /// (`--ping-votes 1`) when there is no quorum disk.
    pub ping_node: bool,
    /// `auto_failback on|off|legacy`.
    pub auto_failback: &'static str,
    /// The group's preferred node in haresources (`web1` … `webN`).
    pub preferred: String,
    /// The shared-disk writer ([`crate::diskwriter`]) as the group's last resource: while
    /// it runs it writes records to its own region of the shared disk, so a checker can
    /// prove afterwards that two nodes never wrote at once.
    pub writer: bool,
    /// Resource monitoring by hbd (our stack): check interval and restarts in place
    /// before the group moves (`--monitor-interval`, `--max-restarts`); `None` is
    /// heartbeat v1's behaviour, no monitoring.
    pub monitor: Option<(Duration, u32)>,
}

impl Spec {
    /// The demo: our stack, a quorum disk, IPMI fencing, auto_failback on, keepalive 500 ms
    /// and deadtime 5 s, the quorum disk every 350 ms with tko 5 (a master failover takes up
    /// to 0.35 s · (5 + 3 + 4.5) = 4.4 s, inside the deadtime).
    pub fn demo() -> Spec {
        Spec {
            nodes: 2,
            stack: Stack::Ours,
            timing: Timing::DEMO,
            qdisk: true,
            qdisk_timing: (Duration::from_millis(350), 5),
            fencing: Fencing::Ipmi,
            ping_node: false,
            auto_failback: "on",
            preferred: "web1".into(),
            monitor: None,
            writer: false,
        }
    }
}
