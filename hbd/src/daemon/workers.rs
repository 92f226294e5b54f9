//! The helper threads: resource groups (one operation at a time, as heartbeat runs its
//! resource scripts), fence requests, what fenced is told, qdiskd polling and signals.
//! They carry things out and report what happened; the node core decides.

use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fenced::api::{Payload, Request};
use fenced::client::FencedClient;
use fenced::history::{FenceAction, Origin};

use super::Ev;
use crate::agents::ledger::{OpLedger, PREDECESSOR_POLL};
use crate::agents::Agents;
use crate::config::{NodeName, Resources};
use crate::membership::QdiskVotes;
use crate::node::{FenceReply, FenceTicket, FencedNotice, GroupOp, GroupResult, QdiskReport};
use crate::policy::GroupId;

/// Starts the group worker; returns where to queue operations. Before its first operation
/// it waits for an agent a killed predecessor left running ([`crate::agents::ledger`]).
pub fn group_worker(
    agents: Agents,
    resources: Resources,
    tx: Sender<Ev>,
) -> Sender<(GroupId, GroupOp)> {
    let (queue, ops) = channel::<(GroupId, GroupOp)>();
    let _ = std::thread::Builder::new()
        .name("hbd groups".into())
        .spawn(move || {
            if let Some(path) = &agents.config().op_ledger {
                OpLedger::new(path).wait_for_predecessor(PREDECESSOR_POLL);
            }
            for (g, op) in ops {
                let Some(group) = resources.groups.get(g.index()) else {
                    continue;
                };
                let result = match op {
                    GroupOp::Start => {
                        tracing::info!("Taking over resource group {}", group.key);
                        GroupResult::Done(agents.start_group(&group.resources).outcome)
                    }
                    GroupOp::Stop => {
                        tracing::info!("Releasing resource group {}", group.key);
                        GroupResult::Done(agents.stop_group(&group.resources).outcome)
                    }
                    GroupOp::Monitor | GroupOp::Probe => {
                        GroupResult::Status(agents.monitor_group(&group.resources))
                    }
                };
                match &result {
                    GroupResult::Done(o) => tracing::info!("{op:?} of {}: {o:?}", group.key),
                    GroupResult::Status(s) if op == GroupOp::Probe => {
                        tracing::info!("probe of {}: {:?}", group.key, s.held())
                    }
                    GroupResult::Status(s) if !s.not_running().is_empty() => tracing::error!(
                        "monitor of {}: resources {:?} not running",
                        group.key,
                        s.not_running()
                    ),
                    GroupResult::Status(_) => {}
                }
                if tx.send(Ev::Group(g, op, result)).is_err() {
                    return;
                }
            }
        });
    queue
}

/// Asks fenced to fence `node` and reports its answer for `ticket`. The thread gives up
/// waiting a little after the core's own deadline, so a hung fenced never keeps it for ever.
pub fn fence(
    path: PathBuf,
    ticket: FenceTicket,
    node: String,
    me: String,
    deadline: Duration,
    tx: Sender<Ev>,
) {
    let _ = std::thread::Builder::new()
        .name(format!("hbd fence {node}"))
        .spawn(move || {
            let reply = (|| -> Result<FenceReply, String> {
                let mut c = FencedClient::connect(&path).map_err(|e| e.to_string())?;
                c.call(
                    Request::Fence {
                        target: node.clone(),
                        action: FenceAction::Off,
                        origin: Origin::Cluster(format!("hbd on {me}")),
                        wait: true,
                    },
                    Some(Duration::from_secs(30)),
                )
                .map_err(|e| e.to_string())?;
                match c
                    .wait_reply(Some(deadline + Duration::from_secs(1)))
                    .map_err(|e| e.to_string())?
                {
                    Payload::Finished { record } => Ok(FenceReply::Finished(record.outcome)),
                    other => Err(format!("unexpected answer {other:?}")),
                }
            })();
            let reply = reply.unwrap_or_else(FenceReply::Error);
            let _ = tx.send(Ev::Fenced(ticket, reply));
        });
}

/// What goes to fenced, in order, from one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToFenced {
    /// A notice from the node core.
    Notice(FencedNotice),
    /// Withdraw this node's request to fence a node.
    Withdraw(String),
}

/// How often the quorum state and the membership are told again, so a restarted fenced
/// learns them.
const FENCED_REFRESH: Duration = Duration::from_secs(5);

/// The thread that talks to fenced for the node core.
pub struct FencedNotifier {
    tx: Sender<ToFenced>,
    done: std::sync::mpsc::Receiver<()>,
}

impl FencedNotifier {
    /// Queues something for fenced.
    pub fn send(&self, what: ToFenced) {
        let _ = self.tx.send(what);
    }

    /// Lets the thread send what is queued (the last word is that there is no quorum any
    /// more), waiting at most `within`.
    pub fn close(self, within: Duration) -> bool {
        drop(self.tx);
        self.done.recv_timeout(within).is_ok()
    }
}

/// Starts the thread that tells fenced about quorum, membership, rejoins and withdrawals,
/// in order (two quick quorum changes must never reach fenced reversed), and repeats the
/// latest quorum and membership every few seconds.
pub fn fenced_notifier(path: PathBuf, me: String) -> FencedNotifier {
    let (tx, rx) = channel::<ToFenced>();
    let (done_tx, done) = channel::<()>();
    let _ = std::thread::Builder::new()
        .name("hbd fenced notices".into())
        .spawn(move || {
            crate::rt::enter("fenced notices");
            let _done = DoneOnDrop(done_tx);
            let mut quorate: Option<bool> = None;
            let mut members: Option<Vec<String>> = None;
            let mut conn: Option<FencedClient> = None;
            loop {
                let requests = match rx.recv_timeout(FENCED_REFRESH) {
                    Ok(ToFenced::Notice(FencedNotice::Quorum(q))) => {
                        quorate = Some(q);
                        vec![Request::Quorum { quorate: q }]
                    }
                    Ok(ToFenced::Notice(FencedNotice::Membership(m))) => {
                        let m: Vec<String> = m.iter().map(ToString::to_string).collect();
                        members = Some(m.clone());
                        vec![Request::Membership { members: m }]
                    }
                    Ok(ToFenced::Notice(FencedNotice::Rejoined(n))) => vec![Request::Rejoined {
                        target: n.to_string(),
                    }],
                    Ok(ToFenced::Withdraw(target)) => vec![Request::Withdraw {
                        target,
                        origin: Origin::Cluster(format!("hbd on {me}")),
                    }],
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        let mut again = Vec::new();
                        if let Some(q) = quorate {
                            again.push(Request::Quorum { quorate: q });
                        }
                        if let Some(m) = &members {
                            again.push(Request::Membership { members: m.clone() });
                        }
                        again
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                };
                for request in requests {
                    let what = format!("{request:?}");
                    // One connection for as long as hbd runs: fenced takes its closing as
                    // "nobody vouches for quorum any more". A broken one is reopened once.
                    let mut sent = Err(String::new());
                    for _ in 0..2 {
                        if conn.is_none() {
                            conn = FencedClient::connect(&path).ok();
                        }
                        let Some(c) = conn.as_mut() else {
                            sent = Err("fenced does not answer".into());
                            break;
                        };
                        sent = c
                            .call(request.clone(), Some(Duration::from_secs(5)))
                            .map(drop)
                            .map_err(|e| e.to_string());
                        if sent.is_ok() {
                            break;
                        }
                        conn = None;
                    }
                    if let Err(e) = sent {
                        tracing::warn!("telling fenced {what}: {e}");
                    }
                }
            }
        });
    FencedNotifier { tx, done }
}

/// Signals the end of a thread however it ends.
struct DoneOnDrop(Sender<()>);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// Asks qdiskd for its status every 250 ms, telling it this node's network partition, and
/// reports every answer (the node core counts the disk's votes only while answers keep
/// confirming them, and only while the disk's master is in this node's partition).
pub fn poll_qdisk(path: PathBuf, partition: Arc<Mutex<Vec<String>>>, tx: Sender<Ev>) {
    let _ = std::thread::Builder::new()
        .name("hbd qdisk".into())
        .spawn(move || {
            crate::rt::enter("qdiskd polls");
            loop {
                let asked_at = super::now();
                let names = partition.lock().map(|p| p.clone()).unwrap_or_default();
                let report = qdisk::client::QdiskClient::connect(&path)
                    .and_then(|mut c| c.status_with_partition(names))
                    .map_or(QdiskReport::Unreachable, |s| {
                        QdiskReport::Votes(
                            QdiskVotes {
                                votes: s.votes,
                                held: s.votes_held,
                            },
                            s.master_name.as_deref().map(NodeName::new),
                        )
                    });
                if tx.send(Ev::Qdisk(report, asked_at)).is_err() {
                    return;
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
