//! `fence_qd_poison`: fences a node through the quorum disk with a poison pill (SBD's
//! storage-based fencing, with an acknowledgement), in the fence-agents calling convention.
//!
//! The decisions are [`qdisk::poison::PillSender`]'s; this module is the agent around it:
//! parameters and metadata ([`plugin`]), the victim's settings from the cluster file
//! ([`Victim`]), and the disk I/O on a thread of its own with a deadline ([`disk`]), so
//! a stuck path is reported instead of hanging the agent. The agent reads and writes the
//! disk directly (O_DIRECT): qdiskd need not run on the fencing node.
//!
//! The plugin lives here rather than in `stonith`'s registry because its device needs the
//! quorum disk's crate, on which `stonith` does not depend.

pub mod disk;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use qdisk::config::{DiskTarget, QdiskdConfig, WatchdogDevice};
use qdisk::format::{Pill, PillAction};
use qdisk::poison::{
    default_msgwait, min_msgwait, pill_writer, poll_period, SenderAction, SenderConfig,
};
use qdisk::timing::{human, Timing};
use qdisk::NodeId;
use stonith::device::{Action, FenceDevice, Outcome, Port, PowerCommand, PowerState};
use stonith::error::{FenceError, ParamError};
use stonith::params::{ParamSpec, ParamType, Params, COMMON};
use stonith::Plugin;

use disk::{DiskThread, Io};

/// The default cluster file (qdiskd's).
pub const DEFAULT_CLUSTER_FILE: &str = qdisk::config::DEFAULT_CONFIG;

/// Pill writes at most, per fence.
const MAX_DELIVERIES: u32 = 5;

const OWN_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "device",
        ParamType::String,
        "Quorum disk device (default: the cluster file's [quorumd] device or label)",
    ),
    ParamSpec::new(
        "label",
        ParamType::String,
        "Quorum disk label, as given to mkqdisk -l (instead of device)",
    ),
    ParamSpec::new(
        "cluster_file",
        ParamType::String,
        "Cluster file: node names and ids, the victim's qdiskd timing and watchdog",
    )
    .default(DEFAULT_CLUSTER_FILE),
    ParamSpec::new(
        "msgwait",
        ParamType::Second,
        "Message wait: how long the victim's slot must stay silent after the pill (default: 2 x its watchdog timeout + one interval, or its write deadline + one interval if longer; at least 2 x its watchdog timeout)",
    ),
];

/// The common parameters this agent takes (no address, credentials or power timing).
const COMMON_USED: &[&str] = &["action", "plug", "nodename", "verbose", "quiet", "delay"];

const LONGDESC: &str = "fence_qd_poison fences a node through the shared quorum disk, the \
way SBD does, with an acknowledgement: it writes a poison pill (off or reboot) into the \
node's slot; the node's qdiskd stops petting its hardware watchdog, acknowledges in its own \
slot and fences itself. The agent reports success when the node acknowledged, when a new \
boot of it wrote its slot, or when the message wait (msgwait) has passed with no write from \
it, long enough for its watchdog to have reset a hung node. A node whose qdiskd runs \
without a watchdog, or has stopped, is fenced only by its acknowledgement. plug is the \
node's name in the cluster file. The agent reads and writes the disk itself: qdiskd need \
not run where it runs. Give the cluster manager a fence timeout above msgwait.";

/// The plugin: parameters, actions, and the device.
pub fn plugin() -> Plugin {
    let mut params: Vec<ParamSpec> = Vec::new();
    for name in COMMON_USED {
        if let Some(spec) = COMMON.iter().find(|s| s.name == *name) {
            let spec = if spec.name == "plug" {
                ParamSpec {
                    shortdesc: "Name of the node to fence (its [[node]] name in the cluster file)",
                    ..*spec
                }
            } else {
                *spec
            };
            params.push(spec);
        }
    }
    params.extend(OWN_PARAMS.iter().copied());
    Plugin {
        name: "poison",
        agent: "fence_qd_poison",
        shortdesc: "Fence agent that fences a node through the quorum disk (poison pill)",
        longdesc: LONGDESC,
        vendor_url: "https://github.com/ClusterLabs/fence-agents",
        params,
        actions: vec![
            Action::Off,
            Action::Reboot,
            Action::Status,
            Action::List,
            Action::Monitor,
            Action::Metadata,
            Action::ValidateAll,
        ],
        fabric: false,
        build: |p| Ok(Box::new(PoisonDevice::from_params(p)?)),
    }
}

/// The process entry point of `fence_qd_poison`.
pub fn main() -> i32 {
    stonith::agent::run::main_with(&plugin())
}

fn failed(detail: impl Into<String>) -> FenceError {
    FenceError::Failed {
        detail: detail.into(),
    }
}

/// The agent's device: the cluster file and the disk, opened per action.
#[derive(Debug)]
pub struct PoisonDevice {
    cluster_file: PathBuf,
    config: QdiskdConfig,
    target: DiskTarget,
    msgwait: Option<Duration>,
}

/// What the agent knows about the node it fences.
#[derive(Debug, Clone)]
pub struct Victim {
    /// Its name.
    pub name: String,
    /// Its id (slot).
    pub id: NodeId,
    /// Its qdiskd's timing on this disk.
    pub timing: Timing,
    /// Its watchdog timeout, when its qdiskd arms one.
    pub watchdog: Option<Duration>,
    /// The message wait to use.
    pub msgwait: Duration,
}

impl PoisonDevice {
    /// Reads the parameters and the cluster file (nothing is opened yet).
    pub fn from_params(p: &Params) -> Result<PoisonDevice, FenceError> {
        let cluster_file = PathBuf::from(p.get("cluster_file").unwrap_or(DEFAULT_CLUSTER_FILE));
        let config = QdiskdConfig::load_cluster(&cluster_file).map_err(|e| {
            failed(format!(
                "{e} (the agent reads node names, ids and the victim's qdiskd settings from the cluster file; pass cluster_file=PATH)"
            ))
        })?;
        let device = p.get("device").filter(|d| !d.trim().is_empty());
        let label = p.get("label").filter(|l| !l.trim().is_empty());
        let target = match (device, label) {
            (Some(_), Some(_)) => {
                return Err(ParamError::Invalid {
                    name: "label".into(),
                    reason: "give device or label, not both".into(),
                }
                .into())
            }
            (Some(d), None) => DiskTarget::Device(PathBuf::from(d.trim())),
            (None, Some(l)) => DiskTarget::Label(l.trim().to_string()),
            (None, None) => config.target.clone(),
        };
        Ok(PoisonDevice {
            cluster_file,
            config,
            target,
            msgwait: p.seconds("msgwait")?,
        })
    }

    fn disk_path(&self) -> Result<PathBuf, FenceError> {
        qdisk::daemon::locate::locate(&self.target).map_err(failed)
    }

    fn open(&self, write: bool) -> Result<DiskThread, FenceError> {
        let path = self.disk_path()?;
        DiskThread::open(&path, write, disk::OPEN_TIMEOUT).map_err(failed)
    }

    /// The node called `name`, with its settings on a disk of `layout`.
    pub fn victim(&self, name: &str, disk: &DiskThread) -> Result<Victim, FenceError> {
        let name = name.trim();
        let (id, _) = self
            .config
            .nodes
            .iter()
            .find(|(_, n)| n == name)
            .ok_or_else(|| {
                failed(format!(
                    "node {name:?} is not a [[node]] of {} (nodes: {}); plug is the node's name there (the list action shows the nodes with a slot in use)",
                    self.cluster_file.display(),
                    self.config
                        .nodes
                        .iter()
                        .map(|(_, n)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let layout = disk.layout();
        if !(1..=layout.max_nodes()).contains(&id.0) {
            return Err(failed(format!(
                "node {name:?} has id {id}, but the quorum disk {} ({} layout) has slots 1..={} only: it never uses this disk",
                disk.path().display(),
                layout.name(),
                layout.max_nodes()
            )));
        }
        let timing = self
            .config
            .resolve_timing(layout)
            .map_err(|e| failed(e.to_string()))?;
        let watchdog = match self.config.watchdog {
            WatchdogDevice::None => None,
            WatchdogDevice::Device(_) => Some(
                timing
                    .watchdog_timeout(self.config.watchdog_timeout)
                    .map_err(|e| failed(format!("{}: {e}", self.cluster_file.display())))?,
            ),
        };
        let msgwait = match (watchdog, self.msgwait) {
            (Some(w), Some(m)) => {
                let min = min_msgwait(&timing, w);
                if m < min {
                    return Err(ParamError::Invalid {
                        name: "msgwait".into(),
                        reason: format!(
                            "{} is too short to prove node {name:?} is gone: at least {} (2 x its watchdog timeout {}, its watchdog timeout + one interval, and its write deadline {}); leave msgwait out for the default {}",
                            human(&m),
                            human(&min),
                            human(&w),
                            human(&timing.write_deadline()),
                            human(&default_msgwait(&timing, w))
                        ),
                    }
                    .into());
                }
                m
            }
            (Some(w), None) => default_msgwait(&timing, w),
            // Without a watchdog the wait only bounds how long we wait for the answer.
            (None, m) => m.unwrap_or(timing.write_deadline() + timing.interval),
        };
        Ok(Victim {
            name: name.to_string(),
            id: *id,
            timing,
            watchdog,
            msgwait,
        })
    }

    /// This host's node id, if the cluster file lists it (the pill's writer).
    fn local_id(&self) -> Option<NodeId> {
        let uname = rustix::system::uname();
        let host = uname.nodename().to_string_lossy().into_owned();
        self.config
            .nodes
            .iter()
            .find(|(_, n)| *n == host)
            .map(|(id, _)| *id)
    }

    /// `off` / `reboot`: the pill, and the wait for its proof.
    fn fence(&mut self, plug: &str, action: PillAction) -> Result<Outcome, FenceError> {
        let disk = self.open(true)?;
        let victim = self.victim(plug, &disk)?;
        let writer = pill_writer(victim.id, self.local_id(), disk.layout().max_nodes());
        let pill = Pill {
            action,
            nonce: nonce(),
        };
        tracing::info!(
            "poison pill ({action}, nonce {:08x}) for node {} (id {}) on {}, written as node {writer}; msgwait {} (watchdog {}, interval {})",
            pill.nonce,
            victim.name,
            victim.id,
            disk.path().display(),
            human(&victim.msgwait),
            victim.watchdog.as_ref().map_or_else(|| "none".to_string(), human),
            human(&victim.timing.interval)
        );
        let config = SenderConfig {
            victim: victim.id,
            writer,
            pill,
            msgwait: victim.msgwait,
            watchdog: victim.watchdog.is_some(),
            poll: poll_period(&victim.timing),
            max_deliveries: MAX_DELIVERIES,
            read_grace: victim.msgwait,
        };
        let io_deadline = victim.msgwait.max(Duration::from_secs(5));
        let result = drive(config, &disk, io_deadline)?;
        match result {
            Ok(how) => Ok(Outcome::Confirmed(format!("{} {how}", victim.name))),
            Err(e) => Err(failed(e.to_string())),
        }
    }

    /// `status`: on while the node's heartbeat changes within about two intervals.
    fn status_of(&mut self, plug: &str) -> Result<PowerState, FenceError> {
        let disk = self.open(false)?;
        let victim = self.victim(plug, &disk)?;
        let io_deadline = Duration::from_secs(5).max(victim.timing.interval * 2);
        let poll = poll_period(&victim.timing);
        let window = victim.timing.interval * 2 + poll * 2;
        let first = disk
            .call(Io::Read(victim.id), io_deadline)
            .map_err(failed)?
            .block;
        let marker = |b: &qdisk::format::StatusBlock| {
            (b.updated_by == victim.id.0 && !b.is_pill_ack()).then_some((
                b.heartbeat,
                b.incarnation,
                b.timestamp_ms,
            ))
        };
        let before = first.as_ref().ok().and_then(marker);
        let started = Instant::now();
        while started.elapsed() < window {
            std::thread::sleep(poll);
            let read = disk
                .call(Io::Read(victim.id), io_deadline)
                .map_err(failed)?
                .block;
            if let Some(now) = read.as_ref().ok().and_then(marker) {
                if Some(now) != before {
                    return Ok(PowerState::On);
                }
            }
        }
        Ok(PowerState::Off)
    }

    fn list_nodes(&mut self) -> Result<Vec<Port>, FenceError> {
        let disk = self.open(false)?;
        let slots = disk
            .call(Io::ReadAll, Duration::from_secs(10))
            .map_err(failed)?
            .slots
            .map_err(|e| {
                failed(format!(
                    "cannot read the quorum disk {}: {e}",
                    disk.path().display()
                ))
            })?;
        Ok(self
            .config
            .nodes
            .iter()
            .filter(|(id, _)| {
                slots
                    .iter()
                    .any(|s| s.node == *id && s.block.as_ref().is_ok_and(|b| b.updated_by != 0))
            })
            .map(|(_, name)| Port {
                id: name.clone(),
                alias: None,
                state: None,
            })
            .collect())
    }
}

/// Runs the sender core against the disk until it finishes.
fn drive(
    config: SenderConfig,
    disk: &DiskThread,
    io_deadline: Duration,
) -> Result<Result<qdisk::poison::Fenced, qdisk::poison::NotFenced>, FenceError> {
    let victim = config.victim;
    let mut sender = qdisk::poison::PillSender::new(config);
    loop {
        while let Some(action) = sender.poll_action() {
            match action {
                SenderAction::ReadSlot => {
                    let done = disk.call(Io::Read(victim), io_deadline).map_err(failed)?;
                    sender.handle_read(
                        done.at,
                        done.started,
                        done.block.map_err(|e| e.to_string()),
                    );
                }
                SenderAction::WritePill(block) => {
                    let done = disk
                        .call(Io::Write(Box::new(block)), io_deadline)
                        .map_err(failed)?;
                    sender.handle_write_done(done.at, done.written);
                }
                SenderAction::Finish(result) => return Ok(result),
            }
        }
        let Some(next) = sender.poll_timeout() else {
            return Err(failed(
                "internal error: the pill sender stopped without a result",
            ));
        };
        let now = qdisk::time::BootTime::now();
        if next > now {
            std::thread::sleep(next.since(now));
        }
        sender.handle_timeout(qdisk::time::BootTime::now());
    }
}

/// A random nonce (never 0), from the kernel's random pool.
fn nonce() -> u32 {
    use std::io::Read;
    let mut bytes = [0u8; 4];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    let n = match random {
        Ok(()) => u32::from_ne_bytes(bytes),
        Err(_) => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            t.subsec_nanos() ^ std::process::id().rotate_left(16)
        }
    };
    n.max(1)
}

impl FenceDevice for PoisonDevice {
    fn plugin(&self) -> &'static str {
        "poison"
    }

    fn status(&mut self, plug: Option<&str>) -> Result<PowerState, FenceError> {
        let plug = stonith::params::required_plug(plug)?;
        self.status_of(plug)
    }

    fn power(&mut self, _plug: Option<&str>, command: PowerCommand) -> Result<(), FenceError> {
        Err(FenceError::Unsupported {
            action: command.to_string(),
        })
    }

    fn list(&mut self) -> Result<Vec<Port>, FenceError> {
        self.list_nodes()
    }

    fn is_multi_port(&self) -> bool {
        true
    }

    fn performs_actions(&self) -> bool {
        true
    }

    fn perform_action(
        &mut self,
        action: Action,
        plug: Option<&str>,
    ) -> Result<Outcome, FenceError> {
        match action {
            Action::Off => self.fence(stonith::params::required_plug(plug)?, PillAction::Off),
            Action::Reboot => self.fence(stonith::params::required_plug(plug)?, PillAction::Reboot),
            Action::Status => self.status(plug).map(Outcome::Status),
            Action::List => self.list_nodes().map(Outcome::Listed),
            Action::Monitor => self.open(false).map(|_| Outcome::Healthy),
            other => Err(FenceError::Unsupported {
                action: other.to_string(),
            }),
        }
    }
}
