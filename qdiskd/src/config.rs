//! qdiskd's part of the native cluster file (TOML): `[cluster]`, `[[node]]`, `[quorumd]` and
//! `[[quorumd.heuristic]]`. Other daemons' sections are left to them.
//!
//! ```toml
//! [cluster]
//! name = "web"
//! deadtime = "30s"            # membership timeout (hbd's deadtime; Red Hat's totem token)
//!
//! [[node]]
//! name = "web1"
//! id = 1
//!
//! [[node]]
//! name = "web2"
//! id = 2
//!
//! [quorumd]
//! label = "web-qdisk"         # or device = "/dev/mapper/mpatha"
//! interval = "1s"
//! tko = 10
//! self_fence = "reboot"       # or "kill-cgroup" in test labs
//!
//! [[quorumd.heuristic]]
//! program = "ping -c1 -w1 192.168.8.254"
//! score = 1
//! ```
//!
//! Defaults are Red Hat's (qdisk(5), `main.c`): interval 1 s, tko from the membership
//! timeout, votes = nodes − 1, `master_wins` automatic for two nodes without heuristics,
//! `reboot`, `allow_kill`, scheduler rr priority 1. Every error names the file, the line and
//! the fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::cycle::CoreConfig;
use crate::geometry::Layout;
use crate::heuristics::{automatic_interval_and_tko, HeuristicSpec, MAX_HEURISTICS};
use crate::ids::NodeId;
use crate::timing::{Timing, TimingRequest};

/// Default place of the cluster file.
pub const DEFAULT_CONFIG: &str = "/etc/cluster/cluster.toml";
/// Default status socket.
pub const DEFAULT_SOCKET: &str = "/run/qdiskd/qdiskd.sock";

/// A configuration error: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong, and the fix.
    pub message: String,
}

/// What a node does when it must fence itself: the workspace's one action type.
pub use plumbing::selffence::SelfFenceAction;

/// Real-time scheduling class: the workspace's one type.
pub use plumbing::rt::Scheduler;

/// A duration in the cluster file: the workspace's one reading (units or seconds).
pub use plumbing::duration::ConfigDuration;

/// `master_wins`: automatic, or forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterWins {
    /// On for exactly two nodes, no heuristics and automatic votes (Red Hat's rule).
    Auto,
    /// Forced on or off.
    Forced(bool),
}

impl<'de> Deserialize<'de> for MasterWins {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(b) => Ok(MasterWins::Forced(b)),
            Raw::Text(t) if t == "auto" => Ok(MasterWins::Auto),
            Raw::Text(t) => Err(serde::de::Error::custom(format!(
                "master_wins is \"auto\", true or false, not {t:?}"
            ))),
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawFile {
    cluster: Option<Spanned<RawCluster>>,
    #[serde(default)]
    node: Vec<Spanned<RawNode>>,
    quorumd: Option<Spanned<RawQuorumd>>,
}

#[derive(Debug, Deserialize)]
struct RawCluster {
    deadtime: Option<Spanned<ConfigDuration>>,
}

#[derive(Debug, Deserialize)]
struct RawNode {
    name: String,
    id: Spanned<u32>,
    votes: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuorumd {
    label: Option<Spanned<String>>,
    device: Option<Spanned<PathBuf>>,
    interval: Option<Spanned<ConfigDuration>>,
    tko: Option<Spanned<u32>>,
    tko_up: Option<u32>,
    upgrade_wait: Option<u32>,
    master_wait: Option<u32>,
    votes: Option<u32>,
    master_wins: Option<Spanned<MasterWins>>,
    min_score: Option<u32>,
    reboot: Option<bool>,
    allow_kill: Option<bool>,
    io_timeout: Option<bool>,
    paranoid: Option<bool>,
    max_error_cycles: Option<u32>,
    status_file: Option<PathBuf>,
    socket: Option<PathBuf>,
    scheduler: Option<Scheduler>,
    priority: Option<Spanned<i32>>,
    lock_memory: Option<bool>,
    self_fence: Option<SelfFenceAction>,
    watchdog: Option<Spanned<String>>,
    watchdog_timeout: Option<Spanned<ConfigDuration>>,
    #[serde(default)]
    heuristic: Vec<Spanned<RawHeuristic>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeuristic {
    program: Spanned<String>,
    score: Option<u32>,
    interval: Option<ConfigDuration>,
    tko: Option<u32>,
}

/// Where the quorum disk is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskTarget {
    /// Found by label among the machine's block devices.
    Label(String),
    /// This device.
    Device(PathBuf),
}

/// The hardware watchdog qdiskd arms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchdogDevice {
    /// `watchdog = "none"`: run without one (said at start).
    None,
    /// This device (default `/dev/watchdog`).
    Device(PathBuf),
}

/// The default watchdog device.
pub const DEFAULT_WATCHDOG: &str = "/dev/watchdog";

/// qdiskd's resolved configuration.
#[derive(Debug, Clone)]
pub struct QdiskdConfig {
    /// The file it came from.
    pub file: PathBuf,
    /// This node.
    pub node: NodeId,
    /// This node's name.
    pub node_name: String,
    /// Number of cluster nodes.
    pub cluster_nodes: usize,
    /// The disk.
    pub target: DiskTarget,
    /// The membership timeout the timing was checked against.
    pub membership_timeout: Duration,
    /// Timing request (resolved against the disk's layout at start, since sub-second
    /// intervals depend on it).
    pub timing: TimingRequest,
    /// Votes the quorum disk contributes.
    pub votes: u32,
    /// Only the master holds the votes.
    pub master_wins: bool,
    /// `min_score`; `None` = automatic.
    pub min_score: Option<u32>,
    /// Self-fence on score loss.
    pub reboot: bool,
    /// Ask for evicted nodes to be fenced.
    pub allow_kill: bool,
    /// Self-fence when reads fail for interval·tko.
    pub io_timeout: bool,
    /// Self-fence when a cycle overruns interval·tko.
    pub paranoid: bool,
    /// Exit after this many cycles with read errors (0 = never).
    pub max_error_cycles: u32,
    /// Status file, `-` for standard output.
    pub status_file: Option<PathBuf>,
    /// API socket.
    pub socket: PathBuf,
    /// Scheduling class.
    pub scheduler: Scheduler,
    /// Priority (nice value for `other`).
    pub priority: i32,
    /// Lock memory.
    pub lock_memory: bool,
    /// How to self-fence.
    pub self_fence: SelfFenceAction,
    /// Heuristics, with automatic timing still to resolve.
    pub heuristics: Vec<(String, u32, Option<Duration>, Option<u32>)>,
    /// The hardware watchdog.
    pub watchdog: WatchdogDevice,
    /// `watchdog_timeout`; `None` = automatic ([`Timing::watchdog_timeout`]).
    pub watchdog_timeout: Option<Duration>,
    /// Every node of the cluster: id and name.
    pub nodes: Vec<(NodeId, String)>,
}

use plumbing::text::line_of;

impl QdiskdConfig {
    /// Reads and validates `path` for the node called `node_name` (normally `uname -n`).
    pub fn load(path: &Path, node_name: &str) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            message: format!("cannot read it: {e}"),
        })?;
        Self::parse(path, &text, node_name)
    }

    /// Reads and validates `path` as its first `[[node]]` would: for tools that need the
    /// cluster-wide part (the disk, the timing, the watchdog, every node's name and id)
    /// and not one node's identity.
    pub fn load_cluster(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            message: format!("cannot read it: {e}"),
        })?;
        let Ok(raw) = toml::from_str::<RawFile>(&text) else {
            // Not valid: the full parse says where and why.
            return Self::parse(path, &text, "");
        };
        let first = raw
            .node
            .first()
            .map(|n| n.get_ref().name.clone())
            .ok_or_else(|| ConfigError {
                file: path.to_path_buf(),
                line: None,
                message:
                    "no [[node]] is listed: add one [[node]] with name and id per cluster node"
                        .into(),
            })?;
        Self::parse(path, &text, &first)
    }

    /// Validates `text` as if read from `path`.
    pub fn parse(path: &Path, text: &str, node_name: &str) -> Result<Self, ConfigError> {
        let err = |span: Option<std::ops::Range<usize>>, message: String| ConfigError {
            file: path.to_path_buf(),
            line: span.map(|s| line_of(text, s.start)),
            message,
        };
        let raw: RawFile =
            toml::from_str(text).map_err(|e| err(e.span(), e.message().to_string()))?;
        let q = raw.quorumd.ok_or_else(|| {
            err(
                None,
                "no [quorumd] section: add one with label = \"...\" (the label given to mkqdisk -l) or device = \"/dev/...\"".into(),
            )
        })?;
        let q_span = q.span();
        let q = q.into_inner();

        let mut ids = std::collections::BTreeMap::new();
        let mut names = plumbing::text::NodeNames::default();
        for node in &raw.node {
            let span = node.span();
            let n = node.get_ref();
            let line = line_of(text, span.start);
            names
                .add(&n.name, line)
                .map_err(|e| err(Some(span.clone()), e))?;
            if *n.id.get_ref() == 0 {
                return Err(err(
                    Some(n.id.span()),
                    format!("node {:?} has id 0; node ids start at 1", n.name),
                ));
            }
            if let Some(other) = ids.insert(*n.id.get_ref(), n.name.clone()) {
                return Err(err(
                    Some(span),
                    format!(
                        "node id {} is used by {other:?} and {:?}; give each node its own id",
                        n.id.get_ref(),
                        n.name
                    ),
                ));
            }
        }
        let me = raw
            .node
            .iter()
            .map(Spanned::get_ref)
            .find(|n| n.name == node_name)
            .ok_or_else(|| {
                err(None, format!(
                    "this node ({node_name:?}: --node-name, or uname -n) is not listed: add a [[node]] with name = {node_name:?} and its id, or start qdiskd with --node-name NAME (the name this node has in the file)"
                ))
            })?;
        let weighted = raw.node.iter().find(|n| {
            n.get_ref()
                .votes
                .as_ref()
                .is_some_and(|v| *v.get_ref() != 1)
        });
        let cluster = raw.cluster.map(Spanned::into_inner);
        let deadtime = cluster
            .as_ref()
            .and_then(|c| c.deadtime.as_ref())
            .map(|d| d.get_ref().0);
        let membership_timeout = deadtime.unwrap_or(Duration::from_secs(10));

        let target = match (q.label, q.device) {
            (Some(label), None) => DiskTarget::Label(label.into_inner()),
            (None, Some(device)) => DiskTarget::Device(device.into_inner()),
            (Some(label), Some(_)) => {
                return Err(err(Some(label.span()), "both label and device are set; keep one (label finds the disk on any node, device names it)".into()))
            }
            (None, None) => {
                return Err(err(Some(q_span), "[quorumd] needs label = \"...\" (as given to mkqdisk -l) or device = \"/dev/...\"".into()))
            }
        };

        if q.heuristic.len() > MAX_HEURISTICS {
            return Err(err(
                Some(q.heuristic[MAX_HEURISTICS].span()),
                format!("at most {MAX_HEURISTICS} heuristics are allowed"),
            ));
        }
        let mut heuristics = Vec::new();
        for h in &q.heuristic {
            let h = h.get_ref();
            if h.program.get_ref().trim().is_empty() {
                return Err(err(
                    Some(h.program.span()),
                    "heuristic program is empty".into(),
                ));
            }
            heuristics.push((
                h.program.get_ref().clone(),
                h.score.filter(|&s| s > 0).unwrap_or(1),
                h.interval.map(|d| d.0),
                h.tko.filter(|&t| t > 0),
            ));
        }

        let auto_votes = u32::try_from(raw.node.len().saturating_sub(1)).unwrap_or(u32::MAX);
        let votes = match q.votes {
            Some(v) => v,
            None => {
                if let Some(w) = weighted {
                    return Err(err(Some(w.span()), "weighted node votes need an explicit [quorumd] votes: set all node votes to 1, or give votes = N".into()));
                }
                auto_votes
            }
        };
        let auto_master_wins = q.votes.is_none() && heuristics.is_empty() && raw.node.len() == 2;
        let master_wins = match q.master_wins.as_ref().map(|m| (*m.get_ref(), m.span())) {
            None | Some((MasterWins::Auto, _)) => auto_master_wins,
            Some((MasterWins::Forced(false), _)) => false,
            Some((MasterWins::Forced(true), span)) => {
                if !heuristics.is_empty() || raw.node.len() > 2 {
                    return Err(err(Some(span), "master_wins is only safe with two nodes and no heuristics (rhbz#838047): with more it can give two partitions quorum; remove it".into()));
                }
                true
            }
        };

        let interval = q.interval.as_ref().map(|d| d.get_ref().0);
        let priority = q.priority.as_ref().map_or(1, |p| *p.get_ref());
        let scheduler = q.scheduler.unwrap_or(Scheduler::Rr);
        if scheduler != Scheduler::Other && !(1..=99).contains(&priority) {
            let span = q.priority.as_ref().map(Spanned::span);
            return Err(err(
                span,
                format!("priority {priority} is outside 1..=99 for a real-time scheduler"),
            ));
        }
        let watchdog = match q.watchdog.as_ref().map(|w| (w.get_ref().trim(), w.span())) {
            None => WatchdogDevice::Device(PathBuf::from(DEFAULT_WATCHDOG)),
            Some(("none", _)) => WatchdogDevice::None,
            Some((path, _)) if path.starts_with('/') => WatchdogDevice::Device(PathBuf::from(path)),
            Some((other, span)) => {
                return Err(err(
                    Some(span),
                    format!("watchdog = {other:?} is neither an absolute device path (e.g. \"{DEFAULT_WATCHDOG}\") nor \"none\""),
                ))
            }
        };
        let watchdog_timeout = q.watchdog_timeout.as_ref().map(|t| t.get_ref().0);
        let config = QdiskdConfig {
            file: path.to_path_buf(),
            node: NodeId(*me.id.get_ref()),
            node_name: node_name.to_string(),
            cluster_nodes: raw.node.len(),
            target,
            membership_timeout,
            timing: TimingRequest {
                interval,
                tko: q.tko.as_ref().map(|t| *t.get_ref()),
                tko_up: q.tko_up,
                upgrade_wait: q.upgrade_wait,
                master_wait: q.master_wait,
            },
            votes,
            master_wins,
            min_score: q.min_score.filter(|&m| m > 0),
            reboot: q.reboot.unwrap_or(true),
            allow_kill: q.allow_kill.unwrap_or(true),
            io_timeout: q.io_timeout.unwrap_or(false),
            paranoid: q.paranoid.unwrap_or(false),
            max_error_cycles: if q.io_timeout == Some(true) {
                0
            } else {
                q.max_error_cycles.unwrap_or(0)
            },
            status_file: q.status_file,
            socket: q.socket.unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET)),
            scheduler,
            priority,
            lock_memory: q.lock_memory.unwrap_or(true),
            self_fence: q.self_fence.unwrap_or(SelfFenceAction::Reboot),
            heuristics,
            watchdog,
            watchdog_timeout,
            nodes: raw
                .node
                .iter()
                .map(|n| (NodeId(*n.get_ref().id.get_ref()), n.get_ref().name.clone()))
                .collect(),
        };
        // Check the timing now against both layouts' rules where they agree: a Red Hat
        // layout error shows up at start when the disk is known; here catch what is wrong
        // whatever the layout.
        if let Err(e) = Timing::resolve(config.timing, membership_timeout, true) {
            let span = q
                .tko
                .as_ref()
                .map(Spanned::span)
                .or(q.interval.as_ref().map(Spanned::span));
            return Err(err(span, e.to_string()));
        }
        if config.watchdog != WatchdogDevice::None {
            if let Ok(timing) = Timing::resolve(config.timing, membership_timeout, true) {
                if let Err(e) = timing.watchdog_timeout(watchdog_timeout) {
                    let span = q
                        .watchdog_timeout
                        .as_ref()
                        .map(Spanned::span)
                        .or(q.tko.as_ref().map(Spanned::span))
                        .or(q.interval.as_ref().map(Spanned::span));
                    return Err(err(span, format!("{e} (or set watchdog = \"none\")")));
                }
            }
        }
        Ok(config)
    }

    /// The timing for a disk with `layout`.
    pub fn resolve_timing(&self, layout: Layout) -> Result<Timing, ConfigError> {
        Timing::resolve(
            self.timing,
            self.membership_timeout,
            matches!(layout, Layout::Extended { .. }),
        )
        .map_err(|e| ConfigError {
            file: self.file.clone(),
            line: None,
            message: e.to_string(),
        })
    }

    /// Heuristic specs with Red Hat's automatic interval and tko filled in.
    pub fn heuristic_specs(&self, timing: &Timing) -> Vec<HeuristicSpec> {
        let timeout = timing.heuristic_timeout();
        let (auto_interval, auto_tko) = automatic_interval_and_tko(timeout);
        self.heuristics
            .iter()
            .map(|(program, score, interval, tko)| HeuristicSpec {
                program: program.clone(),
                score: *score,
                interval: interval.unwrap_or(auto_interval),
                tko: tko.unwrap_or(auto_tko),
                timeout,
            })
            .collect()
    }

    /// The core's configuration for a disk with `layout`.
    pub fn core_config(&self, layout: Layout, timing: Timing) -> CoreConfig {
        CoreConfig {
            node: self.node,
            layout,
            timing,
            master_wins: self.master_wins,
            min_score: self.min_score,
            fence_on_score_loss: self.reboot,
            io_timeout: self.io_timeout,
            paranoid: self.paranoid,
            max_error_cycles: self.max_error_cycles,
            watchdog: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_NODES: &str = r#"
[cluster]
name = "web"
deadtime = "30s"

[[node]]
name = "web1"
id = 1

[[node]]
name = "web2"
id = 2

[quorumd]
label = "web-qdisk"
"#;

    fn parse(text: &str) -> Result<QdiskdConfig, ConfigError> {
        QdiskdConfig::parse(Path::new("/etc/cluster/cluster.toml"), text, "web2")
    }

    #[test]
    fn a_minimal_two_node_file_gets_red_hat_defaults() {
        let c = parse(TWO_NODES).expect("valid");
        assert_eq!(c.node, NodeId(2));
        assert_eq!(c.votes, 1);
        assert!(c.master_wins, "automatic for two nodes without heuristics");
        assert!(c.reboot && c.allow_kill && c.lock_memory);
        assert_eq!(c.scheduler, Scheduler::Rr);
        assert_eq!(c.self_fence, SelfFenceAction::Reboot);
        let t = c.resolve_timing(Layout::Classic).expect("timing");
        assert_eq!(t.tko, 14, "(30 − 1) / 2");
    }

    #[test]
    fn a_node_listed_twice_is_refused_at_the_second() {
        let text = TWO_NODES.replace("name = \"web2\"", "name = \"WEB1\"");
        let e = parse(&text).expect_err("duplicate");
        assert_eq!(e.line, Some(10), "{e}");
        assert!(
            e.message
                .contains("node \"WEB1\" is listed twice (as \"web1\" on line 6"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_errors_with_their_line() {
        let text = format!("{TWO_NODES}intervl = \"2s\"\n");
        let e = parse(&text).expect_err("typo");
        assert_eq!(e.line, Some(16));
        assert!(e.message.contains("unknown field `intervl`"), "{e}");
        assert!(e.to_string().starts_with("/etc/cluster/cluster.toml:16: "));
    }

    #[test]
    fn too_slow_timings_name_the_line_and_the_fix() {
        let text = format!("{TWO_NODES}tko = 20\n");
        let e = parse(&text).expect_err("too slow");
        assert_eq!(e.line, Some(16));
        assert!(
            e.message
                .contains("raise the membership timeout to at least"),
            "{e}"
        );
    }

    #[test]
    fn a_node_not_in_the_file_is_told_how_to_fix_it() {
        let e =
            QdiskdConfig::parse(Path::new("c.toml"), TWO_NODES, "db1").expect_err("unknown node");
        assert!(
            e.message.contains("add a [[node]] with name = \"db1\""),
            "{e}"
        );
        assert!(e.message.contains("--node-name NAME"), "{e}");
        assert!(!e.message.contains("--node-id"), "{e}");
    }

    #[test]
    fn master_wins_with_heuristics_is_refused() {
        let text =
            format!("{TWO_NODES}master_wins = true\n[[quorumd.heuristic]]\nprogram = \"true\"\n");
        let e = parse(&text).expect_err("unsafe");
        assert!(e.message.contains("rhbz#838047"), "{e}");
    }

    #[test]
    fn durations_take_units_or_seconds() {
        for (value, expected) in [
            ("\"500ms\"", 500),
            ("\"2s\"", 2000),
            ("2", 2000),
            ("1.5", 1500),
        ] {
            let text = format!("{TWO_NODES}interval = {value}\ntko = 3\nwatchdog = \"none\"\n");
            let c = parse(&text).expect("valid");
            assert_eq!(
                c.timing.interval,
                Some(Duration::from_millis(expected)),
                "{value}"
            );
        }
        let e = parse(&format!("{TWO_NODES}interval = \"soon\"\n")).expect_err("bad");
        assert!(e.message.contains("is not a duration"), "{e}");
    }

    #[test]
    fn the_watchdog_defaults_to_dev_watchdog_and_must_fit_the_write_deadline() {
        let c = parse(TWO_NODES).expect("valid");
        assert_eq!(c.watchdog, WatchdogDevice::Device("/dev/watchdog".into()));
        assert_eq!(c.watchdog_timeout, None);
        let t = c.resolve_timing(Layout::Classic).expect("timing");
        // tko 14, interval 1 s: write deadline 13 s, watchdog at most 11 s.
        assert_eq!(t.watchdog_timeout(None), Ok(Duration::from_secs(11)));

        let text =
            format!("{TWO_NODES}watchdog = \"/dev/watchdog1\"\nwatchdog_timeout = \"12s\"\n");
        let e = parse(&text).expect_err("too slow");
        assert_eq!(e.line, Some(17), "{e}");
        assert!(e.message.contains("use at most 11 s"), "{e}");
        assert!(e.message.contains("watchdog = \"none\""), "{e}");

        let text = format!("{TWO_NODES}watchdog = \"none\"\n");
        assert_eq!(parse(&text).expect("valid").watchdog, WatchdogDevice::None);

        let text = format!("{TWO_NODES}watchdog = \"watchdog0\"\n");
        let e = parse(&text).expect_err("relative");
        assert!(e.message.contains("absolute device path"), "{e}");
    }

    #[test]
    fn weighted_votes_need_explicit_qdisk_votes() {
        let text = TWO_NODES.replace("id = 2\n", "id = 2\nvotes = 3\n");
        let e = parse(&text).expect_err("weighted");
        assert!(e.message.contains("set all node votes to 1"), "{e}");
    }

    #[test]
    fn heuristics_get_automatic_timing() {
        let text =
            format!("{TWO_NODES}[[quorumd.heuristic]]\nprogram = \"ping -c1 -w1 10.99.0.1\"\n");
        let c = parse(&text).expect("valid");
        assert!(!c.master_wins, "heuristics turn automatic master_wins off");
        let t = c.resolve_timing(Layout::Classic).expect("timing");
        let specs = c.heuristic_specs(&t);
        assert_eq!(specs[0].timeout, t.interval * (t.tko - 1));
        assert_eq!(specs[0].score, 1);
    }
}
