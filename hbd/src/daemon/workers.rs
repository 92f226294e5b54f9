//! The helper threads: resource groups (one operation at a time, as heartbeat runs its
//! resource scripts), fence requests, qdiskd polling and signals.

use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::time::Duration;

use fenced::api::{Payload, Request};
use fenced::client::FencedClient;
use fenced::history::{FenceAction, Origin};

use super::Ev;
use crate::agents::Agents;
use crate::config::Resources;
use crate::membership::QdiskVotes;
use crate::policy::{GroupId, NodeId};

/// A group operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupOp {
    /// Start left to right.
    Start,
    /// Stop right to left.
    Stop,
    /// Check every resource.
    Monitor,
}

/// How it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupResult {
    /// Done (or, for a monitor, every resource running).
    Ok,
    /// Failed, with why.
    Failed(String),
}

/// Starts the group worker; returns where to queue operations.
pub fn group_worker(
    agents: Agents,
    resources: Resources,
    tx: Sender<Ev>,
) -> Sender<(GroupId, GroupOp)> {
    let (queue, ops) = channel::<(GroupId, GroupOp)>();
    let _ = std::thread::Builder::new()
        .name("hbd groups".into())
        .spawn(move || {
            for (g, op) in ops {
                let Some(group) = resources.groups.get(g.index()) else {
                    continue;
                };
                let result = match op {
                    GroupOp::Start => {
                        tracing::info!("Taking over resource group {}", group.key);
                        let r = agents.start_group(&group.resources);
                        if r.outcome.needs_fencing() {
                            GroupResult::Failed(format!("{:?}", r.outcome))
                        } else if matches!(r.outcome, crate::agents::GroupOutcome::Started { .. }) {
                            GroupResult::Ok
                        } else {
                            GroupResult::Failed(format!("{:?}", r.outcome))
                        }
                    }
                    GroupOp::Stop => {
                        tracing::info!("Releasing resource group {}", group.key);
                        let r = agents.stop_group(&group.resources);
                        if matches!(r.outcome, crate::agents::GroupOutcome::Stopped) {
                            GroupResult::Ok
                        } else {
                            GroupResult::Failed(format!("{:?}", r.outcome))
                        }
                    }
                    GroupOp::Monitor => {
                        let s = agents.monitor_group(&group.resources);
                        let failed = s.not_running();
                        if failed.is_empty() {
                            GroupResult::Ok
                        } else {
                            GroupResult::Failed(format!("resources {failed:?} not running"))
                        }
                    }
                };
                match &result {
                    GroupResult::Ok => tracing::info!("{op:?} of {}: done", group.key),
                    GroupResult::Failed(why) => {
                        tracing::error!("{op:?} of {} failed: {why}", group.key)
                    }
                }
                if tx.send(Ev::Group(g, op, result)).is_err() {
                    return;
                }
            }
        });
    queue
}

/// Asks fenced to fence `name` and reports the outcome.
pub fn fence(path: PathBuf, id: NodeId, name: String, me: String, tx: Sender<Ev>) {
    let _ = std::thread::Builder::new()
        .name(format!("hbd fence {name}"))
        .spawn(move || {
            let ok = (|| -> Result<bool, String> {
                let mut c = FencedClient::connect(&path).map_err(|e| e.to_string())?;
                c.call(
                    Request::Fence {
                        target: name.clone(),
                        action: FenceAction::Off,
                        origin: Origin::Cluster(format!("hbd on {me}")),
                        wait: true,
                    },
                    Some(Duration::from_secs(30)),
                )
                .map_err(|e| e.to_string())?;
                match c.wait_reply(None).map_err(|e| e.to_string())? {
                    Payload::Finished { record } => {
                        tracing::info!("fenced: {name}: {:?}", record.outcome);
                        Ok(record.outcome.is_fenced())
                    }
                    other => Err(format!("unexpected answer {other:?}")),
                }
            })();
            let ok = ok.unwrap_or_else(|e| {
                tracing::error!("fencing {name} failed: {e}");
                false
            });
            let _ = tx.send(Ev::Fenced(id, ok));
        });
}

/// What hbd tells fenced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FencedNotice {
    /// Whether this partition is quorate (fenced fences for the cluster only then).
    Quorum(bool),
    /// A node rejoined (fenced unfences its fabric ports).
    Rejoined(String),
}

/// How often the quorum state is told again, so a restarted fenced learns it.
const QUORUM_REFRESH: Duration = Duration::from_secs(5);

/// Starts the thread that tells fenced about quorum and rejoins, in order (two quick
/// quorum changes must never reach fenced reversed), and repeats the latest quorum state
/// every few seconds. Returns where to send notices.
pub fn fenced_notifier(path: PathBuf) -> Sender<FencedNotice> {
    let (tx, rx) = channel::<FencedNotice>();
    let _ = std::thread::Builder::new()
        .name("hbd fenced notices".into())
        .spawn(move || {
            let mut quorate: Option<bool> = None;
            loop {
                let notice = match rx.recv_timeout(QUORUM_REFRESH) {
                    Ok(n) => n,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => match quorate {
                        Some(q) => FencedNotice::Quorum(q),
                        None => continue,
                    },
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                };
                let request = match &notice {
                    FencedNotice::Quorum(q) => {
                        quorate = Some(*q);
                        Request::Quorum { quorate: *q }
                    }
                    FencedNotice::Rejoined(node) => Request::Rejoined {
                        target: node.clone(),
                    },
                };
                let sent = FencedClient::connect(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|mut c| {
                        c.call(request, Some(Duration::from_secs(5)))
                            .map(drop)
                            .map_err(|e| e.to_string())
                    });
                if let Err(e) = sent {
                    tracing::warn!("telling fenced {notice:?}: {e}");
                }
            }
        });
    tx
}

/// Polls qdiskd once a second for the quorum disk's votes.
pub fn poll_qdisk(path: PathBuf, tx: Sender<Ev>) {
    let _ = std::thread::Builder::new()
        .name("hbd qdisk".into())
        .spawn(move || {
            let mut last: Option<QdiskVotes> = None;
            loop {
                let now = qdisk::client::QdiskClient::connect(&path)
                    .and_then(|mut c| c.status())
                    .map(|s| QdiskVotes {
                        votes: s.votes,
                        held: s.votes_held,
                    })
                    .unwrap_or(QdiskVotes {
                        votes: 0,
                        held: false,
                    });
                if last != Some(now) {
                    last = Some(now);
                    if tx.send(Ev::Qdisk(now)).is_err() {
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        });
}

/// SIGTERM and SIGINT → [`Ev::Terminate`].
pub fn signals(tx: Sender<Ev>) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])?;
    std::thread::Builder::new()
        .name("hbd signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                if tx.send(Ev::Terminate).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}
