//! The fenced driver: the queue core, fence agents on worker threads, the history store and
//! the API socket. The main loop decides nothing; it feeds the queue and carries out its
//! actions.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use qdisk::ids::NodeId;

use crate::ackguard::{judge_ack, AckVerdict, QdiskAnswer};
use crate::agent;
use crate::api::{OpReport, Payload, Reply, Request, RequestLine, API_VERSION};
use crate::bootid::{self, StartKind};
use crate::config::FencedConfig;
use crate::history::{FenceAction, Origin, Record};
use crate::queue::{Action, CallId, FenceQueue, OpId, OpState, QueueEvent};
use crate::store::HistoryStore;
use crate::time::BootTime;
use crate::topology::NodeName;

enum Msg {
    Api(Request, Sender<Reply>),
    CallDone(CallId, Result<(), String>),
}

/// Reads `CLOCK_BOOTTIME`.
pub fn boot_now() -> BootTime {
    BootTime::now()
}

fn wall_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Describes an operation's state in words.
pub fn state_words(state: &OpState, now: BootTime) -> String {
    match state {
        OpState::Delaying { until } => format!("delaying ({:?} left)", until.since(now)),
        OpState::AwaitingQuorum => "waiting for quorum (or an acknowledgement)".into(),
        OpState::RunningLevel { level, attempt, .. } => {
            format!("running level {} (attempt {})", level + 1, attempt + 1)
        }
        OpState::BackingOff { until } => {
            format!("every level failed; retrying in {:?}", until.since(now))
        }
    }
}

/// What a connection needs to judge a manual acknowledgement: where qdiskd answers (if it
/// is configured) and the quorum-disk node ids.
struct AckContext {
    qdisk_socket: Option<PathBuf>,
    node_ids: BTreeMap<NodeName, NodeId>,
}

/// How long an acknowledgement waits for qdiskd's status before calling it unreachable.
const QDISK_ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// Asks qdiskd for its status, waiting at most [`QDISK_ASK_TIMEOUT`] (a hung qdiskd must
/// not hold the requester past its own timeout).
fn ask_qdiskd(socket: Option<&PathBuf>) -> QdiskAnswer {
    let Some(socket) = socket.cloned() else {
        return QdiskAnswer::NotConfigured;
    };
    let (tx, rx) = channel();
    let shown = socket.display().to_string();
    std::thread::spawn(move || {
        let answer = qdisk::client::QdiskClient::connect(&socket).and_then(|mut c| c.status());
        let _ = tx.send(answer);
    });
    match rx.recv_timeout(QDISK_ASK_TIMEOUT) {
        Ok(Ok(status)) => QdiskAnswer::Status(Box::new(status)),
        Ok(Err(e)) => QdiskAnswer::Unreachable(e.to_string()),
        Err(_) => QdiskAnswer::Unreachable(format!(
            "qdiskd at {shown} did not answer within {QDISK_ASK_TIMEOUT:?}"
        )),
    }
}

/// Judges an acknowledgement in the connection's own thread (asking qdiskd must not stall
/// the main loop): `Err(why)` when it is refused.
fn check_ack(context: &AckContext, target: &str, by: &str, force: bool) -> Result<(), String> {
    let target = NodeName(target.to_string());
    let answer = ask_qdiskd(context.qdisk_socket.as_ref());
    let id = context.node_ids.get(&target).copied();
    match judge_ack(&target, id, &answer, force) {
        AckVerdict::Allow => Ok(()),
        AckVerdict::Forced(why) => {
            tracing::warn!("{by} forces the acknowledgement of {target} over this: {why}");
            Ok(())
        }
        AckVerdict::Refuse(why) => {
            tracing::warn!("acknowledgement of {target} by {by} refused: {why}");
            Err(why)
        }
    }
}

fn serve(listener: UnixListener, tx: Sender<Msg>, context: Arc<AckContext>) {
    for stream in listener.incoming().map_while(Result::ok) {
        let tx = tx.clone();
        let context = Arc::clone(&context);
        std::thread::spawn(move || connection(stream, &tx, &context));
    }
}

fn write_reply(stream: &mut UnixStream, reply: &Reply) -> bool {
    let line = serde_json::to_string(reply).unwrap_or_default();
    stream.write_all(line.as_bytes()).is_ok() && stream.write_all(b"\n").is_ok()
}

fn connection(stream: UnixStream, tx: &Sender<Msg>, context: &AckContext) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    // The membership layer (hbd) keeps one connection open and tells quorum on it: when it
    // goes away (hbd died or left), nobody vouches for quorum any more.
    let mut membership_layer = false;
    connection_lines(stream, &mut writer, tx, context, &mut membership_layer);
    if membership_layer {
        tracing::warn!(
            "the membership layer hung up: not quorate until it says so again (cluster fencing waits)"
        );
        let (ignore_tx, _ignore_rx) = channel();
        let _ = tx.send(Msg::Api(Request::Quorum { quorate: false }, ignore_tx));
    }
}

fn connection_lines(
    stream: UnixStream,
    writer: &mut UnixStream,
    tx: &Sender<Msg>,
    context: &AckContext,
    membership_layer: &mut bool,
) {
    for line in BufReader::new(stream).lines().map_while(Result::ok) {
        let request = match serde_json::from_str::<RequestLine>(&line) {
            Ok(RequestLine {
                version: API_VERSION,
                request,
            }) => request,
            Ok(RequestLine { version, .. }) => {
                write_reply(
                    writer,
                    &Reply::error(format!("unsupported API version {version}")),
                );
                continue;
            }
            Err(e) => {
                write_reply(writer, &Reply::error(format!("bad request: {e}")));
                continue;
            }
        };
        if matches!(request, Request::Quorum { .. }) {
            *membership_layer = true;
        }
        if let Request::Ack { target, by, force } = &request {
            if let Err(why) = check_ack(context, target, by, *force) {
                if !write_reply(writer, &Reply::error(why)) {
                    return;
                }
                continue;
            }
        }
        // A cluster fence request whose requester waits lives as long as the requester:
        // if it hangs up (hbd died) before the operation ends, its request is withdrawn.
        let withdraw_on_hangup = match &request {
            Request::Fence {
                target,
                origin: origin @ Origin::Cluster(_),
                wait: true,
                ..
            } => Some(Request::Withdraw {
                target: target.clone(),
                origin: origin.clone(),
            }),
            _ => None,
        };
        let (reply_tx, reply_rx) = channel();
        if tx.send(Msg::Api(request, reply_tx)).is_err() {
            return;
        }
        // One reply, or a stream (wait / subscribe) until the main loop drops the sender.
        loop {
            match reply_rx.recv_timeout(HANGUP_CHECK) {
                Ok(reply) => {
                    if !write_reply(writer, &reply) {
                        return;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    if let (Some(withdraw), true) = (&withdraw_on_hangup, hung_up(writer)) {
                        tracing::warn!(
                            "the requester hung up before the fence ended: its request is withdrawn"
                        );
                        let (ignore_tx, _ignore_rx) = channel();
                        let _ = tx.send(Msg::Api(withdraw.clone(), ignore_tx));
                        return;
                    }
                }
            }
        }
    }
}

/// A gap between two turns of the main loop longer than this means fenced was stopped.
const STALL_GAP: Duration = Duration::from_secs(1);

/// How often a waiting connection is checked for a hang-up.
const HANGUP_CHECK: Duration = Duration::from_millis(250);

/// Whether the peer closed the connection (a read would see end of file at once).
fn hung_up(stream: &UnixStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        rustix::net::recv(
            stream,
            &mut byte,
            rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT
        ),
        Ok((_, 0))
    )
}

/// Whether this start follows a reboot (see [`crate::bootid`]), and this boot's id recorded
/// for the next start. When the boot id cannot be read or the record cannot be read, the
/// start counts as one without a reboot: fenced does not unfence on a guess.
fn start_kind(config: &FencedConfig) -> StartKind {
    let path = config.boot_id_file();
    let current = match bootid::current() {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(
                "cannot read this boot's id ({}: {e}): cannot tell a reboot from a restart of \
                 fenced, so this node is not unfenced; run fence_node -U after checking it",
                bootid::BOOT_ID_PATH
            );
            return StartKind::SameBoot;
        }
    };
    let kind = match bootid::read_record(&path) {
        Ok(recorded) => bootid::decide(recorded.as_deref(), &current),
        Err(e) => {
            tracing::warn!(
                "cannot read {} ({e}): cannot tell a reboot from a restart of fenced, so this \
                 node is not unfenced; fix or remove the file, and run fence_node -U after \
                 checking the node",
                path.display()
            );
            StartKind::SameBoot
        }
    };
    if let Err(e) = bootid::write_record(&path, &current) {
        tracing::warn!(
            "cannot record this boot's id in {} ({e}): the next start of fenced will not know \
             whether the node rebooted; make the directory writable",
            path.display()
        );
    }
    tracing::info!("boot id {current}: {}", kind.words());
    kind
}

/// Runs fenced until `stop` is set.
pub fn run(config: &FencedConfig, stop: Arc<AtomicBool>) -> Result<(), String> {
    let mut store = HistoryStore::open(&config.history_file, config.history_limit)
        .map_err(|e| format!("history file {}: {e}", config.history_file.display()))?;
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut queue = FenceQueue::new(config.queue_config(seed));
    queue.skip_ids(store.last_id());
    let now = boot_now();
    if config.assume_quorate {
        queue.handle_quorum(now, true);
    }
    let start = start_kind(config);
    if config.unfence_on_start {
        let me = NodeName(
            rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned(),
        );
        let has_unfence = config
            .topology
            .node(&me)
            .is_some_and(|n| !n.unfence.is_empty());
        if has_unfence && !start.unfences() {
            tracing::warn!(
                "fenced restarted without a reboot of this node ({me}): not unfencing it, so a \
                 fabric fence put on it stays in place; check the node, then run fence_node -U \
                 to unfence it"
            );
        } else if has_unfence {
            tracing::info!(
                "unfencing this node ({me}) before it touches shared storage ({})",
                start.words()
            );
            if let Err(e) = queue.handle_request(
                now,
                me,
                FenceAction::On,
                Origin::Admin("fenced start".into()),
            ) {
                tracing::warn!("cannot unfence this node: {e}");
            }
        }
    }

    let socket = &config.socket;
    let listener = plumbing::socket::bind_private(socket, "fenced").map_err(|e| e.to_string())?;
    let (tx, rx) = channel::<Msg>();
    let server_tx = tx.clone();
    let context = Arc::new(AckContext {
        qdisk_socket: config.qdisk_socket.clone(),
        node_ids: config.node_ids.clone(),
    });
    std::thread::spawn(move || serve(listener, server_tx, context));
    tracing::info!(
        "fenced ready: {} devices, {} nodes, history {} ({} records)",
        config.devices.len(),
        config.topology.nodes.len(),
        config.history_file.display(),
        store.records().count()
    );

    let mut waiters: BTreeMap<OpId, Vec<Sender<Reply>>> = BTreeMap::new();
    let mut subscribers: Vec<Sender<Reply>> = Vec::new();
    let mut last_turn = boot_now();
    while !stop.load(Ordering::Relaxed) {
        let now = boot_now();
        // The loop turns at least every 200 ms: a longer gap means fenced was stopped.
        if now.since(last_turn) > STALL_GAP {
            tracing::warn!(
                "fenced did not run for {:?}: cluster fence calls wait for rejoins to be told first",
                now.since(last_turn)
            );
            queue.handle_stall(now);
        }
        last_turn = now;
        queue.handle_timeout(now);
        while let Some(action) = queue.poll_action() {
            match action {
                Action::Run(call) => {
                    let Some(device) = config.devices.get(&call.device).cloned() else {
                        let _ = tx.send(Msg::CallDone(
                            call.call,
                            Err(format!("no device {}", call.device)),
                        ));
                        continue;
                    };
                    tracing::info!(
                        "fencing {}: level {} device {} action {}",
                        call.target,
                        call.level,
                        call.device,
                        agent::action_name(call.action)
                    );
                    let done = tx.clone();
                    std::thread::spawn(move || {
                        let result = agent::run(
                            &device,
                            &call.target,
                            &call.args,
                            agent::action_name(call.action),
                        );
                        let _ = done.send(Msg::CallDone(call.call, result));
                    });
                }
                Action::Finished(mut record) => {
                    record.finished_at = wall_now();
                    record.requested_at =
                        record.finished_at.saturating_sub(record.elapsed_ms / 1000);
                    tracing::info!(
                        "{} {:?}: {:?}",
                        record.target,
                        record.action,
                        record.outcome
                    );
                    if let Err(e) = store.append(record.clone()) {
                        tracing::error!("cannot write the history: {e}");
                    }
                    let reply = Reply::ok(Payload::Finished {
                        record: record.clone(),
                    });
                    if let Some(ws) = waiters.remove(&OpId(record.id)) {
                        for w in ws {
                            let _ = w.send(reply.clone());
                        }
                    }
                    subscribers.retain(|s| s.send(reply.clone()).is_ok());
                }
                Action::Event(event) => match event {
                    QueueEvent::QuorumExpired => tracing::warn!(
                        "the membership layer stopped confirming quorum: cluster fencing waits until it does"
                    ),
                    QueueEvent::AwaitingQuorum(n) => {
                        tracing::warn!("fencing of {n} waits for quorum")
                    }
                    QueueEvent::Delaying(n, d) => tracing::info!("fencing of {n} in {d:?}"),
                    QueueEvent::BackingOff(n, round, d) => {
                        tracing::warn!("every fence level of {n} failed; round {round} in {d:?}")
                    }
                    QueueEvent::LevelFailed(n, l) => {
                        tracing::warn!("fence level {l} of {n} failed")
                    }
                },
            }
        }
        let wait = queue
            .poll_timeout()
            .map_or(Duration::from_millis(200), |t| t.since(boot_now()))
            .min(Duration::from_millis(200));
        let first = match rx.recv_timeout(wait) {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        // Everything already queued is handled before any device is called: after a stall,
        // a request and its withdrawal (or the victim's rejoin) arrive together, and the
        // withdrawal must be seen before the device is called.
        let queued: Vec<Msg> = std::iter::once(first).chain(rx.try_iter()).collect();
        for msg in queued {
            let now = boot_now();
            match msg {
                Msg::CallDone(call, result) => {
                    if let Err(e) = &result {
                        tracing::warn!("{e}");
                    }
                    queue.handle_result(now, call, result);
                }
                Msg::Api(request, reply) => handle_api(
                    &mut queue,
                    &store,
                    &mut waiters,
                    &mut subscribers,
                    now,
                    request,
                    reply,
                ),
            }
        }
    }
    let _ = std::fs::remove_file(socket);
    Ok(())
}

fn handle_api(
    queue: &mut FenceQueue,
    store: &HistoryStore,
    waiters: &mut BTreeMap<OpId, Vec<Sender<Reply>>>,
    subscribers: &mut Vec<Sender<Reply>>,
    now: BootTime,
    request: Request,
    reply: Sender<Reply>,
) {
    let mut accept = |result: Result<OpId, crate::queue::RequestError>,
                      wait: bool,
                      reply: Sender<Reply>| match result {
        Ok(id) => {
            let _ = reply.send(Reply::ok(Payload::Accepted { id: id.0 }));
            if wait {
                waiters.entry(id).or_default().push(reply);
            }
        }
        Err(e) => {
            let _ = reply.send(Reply::error(e.to_string()));
        }
    };
    match request {
        Request::Fence {
            target,
            action: FenceAction::On,
            ..
        } => {
            let _ = reply.send(Reply::error(format!(
                "\"on\" is not a fence action: send an unfence request for {target}"
            )));
        }
        Request::Fence {
            target,
            action,
            origin,
            wait,
        } => {
            tracing::info!("{origin} asks to fence {target} ({action:?})");
            let result = queue.handle_request(now, NodeName(target), action, origin);
            accept(result, wait, reply);
        }
        Request::Unfence { target, wait } => {
            let result = queue.handle_request(
                now,
                NodeName(target),
                FenceAction::On,
                Origin::Admin("api".into()),
            );
            accept(result, wait, reply);
        }
        Request::Ack { target, by, .. } => {
            tracing::warn!("{by} acknowledges {target} as safely down (manual override)");
            queue.handle_ack(now, NodeName(target), by);
            let _ = reply.send(Reply::ok(Payload::Done));
        }
        Request::Status => {
            let ops = queue
                .ops()
                .into_iter()
                .map(|op| OpReport {
                    id: op.id.0,
                    target: op.target.0,
                    action: op.action,
                    origin: op.origin,
                    state: state_words(&op.state, now),
                    round: op.round,
                    attempts: op.attempts,
                })
                .collect();
            let _ = reply.send(Reply::ok(Payload::Status {
                quorate: queue.is_quorate(),
                ops,
            }));
        }
        Request::History { target, limit } => {
            let mut records: Vec<Record> = store
                .records()
                .filter(|r| target.as_ref().is_none_or(|t| r.target.0 == *t))
                .cloned()
                .collect();
            if let Some(limit) = limit {
                let skip = records.len().saturating_sub(limit);
                records.drain(..skip);
            }
            let _ = reply.send(Reply::ok(Payload::History { records }));
        }
        Request::Quorum { quorate } => {
            queue.handle_quorum(now, quorate);
            let _ = reply.send(Reply::ok(Payload::Done));
        }
        Request::Membership { members } => {
            queue.handle_membership(now, members.into_iter().map(NodeName).collect());
            let _ = reply.send(Reply::ok(Payload::Done));
        }
        Request::Rejoined { target } => {
            queue.handle_rejoin(now, NodeName(target));
            let _ = reply.send(Reply::ok(Payload::Done));
        }
        Request::Withdraw { target, origin } => {
            tracing::info!("{origin} withdraws its request to fence {target}");
            queue.handle_withdraw(now, NodeName(target), &origin);
            let _ = reply.send(Reply::ok(Payload::Done));
        }
        Request::Subscribe => subscribers.push(reply),
    }
}
