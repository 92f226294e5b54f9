//! The qdiskd driver: wires [`crate::cycle::QdiskCore`] and [`crate::heuristics::Heuristics`]
//! to the disk (an I/O thread), heuristic programs, the API socket and the status file.
//!
//! The main loop decides nothing: it feeds the cores events and the time, carries out their
//! actions, and sleeps until the earliest deadline either core asks for (quinn's driver
//! shape). Because the disk is only touched by the I/O thread, the cores' deadlines fire
//! even while a read or write hangs in the kernel.

pub mod fence;
pub mod io;
pub mod locate;
pub mod rt;
pub mod runner;
pub mod server;
pub mod status_file;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

use crate::api::{EventReply, NodeReport, StatusReply, API_VERSION};
use crate::config::{QdiskdConfig, WatchdogDevice};
use crate::cycle::{Action, Event, ExitReason, PeerView, QdiskCore};
use crate::device::DeviceOptions;
use crate::disk::QuorumDisk;
use crate::heuristics::{HeuristicEvent, Heuristics};
use crate::ids::Incarnation;
use crate::time::BootTime;
use crate::watchdog::Watchdog;
use io::{IoCommand, IoDone};
use server::Shared;

/// A message to the main loop.
#[derive(Debug)]
pub enum Msg {
    /// The I/O thread finished something.
    Io(IoDone),
    /// The membership layer's network partition (node names), given with a status poll.
    Partition(Vec<String>),
    /// A heuristic run ended.
    Heuristic {
        /// Which.
        index: usize,
        /// Exit status 0.
        success: bool,
    },
}

/// How qdiskd ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Clean shutdown.
    Stopped,
    /// Too many consecutive read errors (`max_error_cycles`).
    GaveUp,
}

/// Why qdiskd could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Configuration, disk or environment problem, with the fix.
    #[error("{0}")]
    Refused(String),
}

fn refuse(message: impl Into<String>) -> StartError {
    StartError::Refused(message.into())
}

/// This run's incarnation: the boot's tag and the boot-time clock at start, so that a new
/// boot shows on disk ([`Incarnation::from_boot`]; the poison-pill agent relies on it).
fn incarnation() -> Incarnation {
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let started_ms = BootTime::now().0.as_millis() as u32;
    Incarnation::from_boot(Incarnation::tag_of_boot_id(&boot_id), started_ms)
}

fn view_name(view: PeerView) -> &'static str {
    match view {
        PeerView::Unknown => "unknown",
        PeerView::Coming { .. } => "coming",
        PeerView::Up => "up",
        PeerView::Down { .. } => "down",
    }
}

fn event_reply(now: BootTime, event: &Event) -> EventReply {
    let (name, node, detail) = match event {
        Event::NodeUp(n) => ("node_up", Some(n.0), format!("node {n} is up")),
        Event::NodeDown(n) => ("node_down", Some(n.0), format!("node {n} is DOWN")),
        Event::NodeLeft(n) => ("node_left", Some(n.0), format!("node {n} shut down")),
        Event::NodeRestarted(n) => ("node_restarted", Some(n.0), format!("node {n} restarted")),
        Event::NodeUndead(n) => ("node_undead", Some(n.0), format!("node {n} is undead")),
        Event::EvictionWritten(n) => (
            "eviction_written",
            Some(n.0),
            format!("writing eviction notice for node {n}"),
        ),
        Event::MasterChanged(m) => (
            "master_changed",
            m.map(|m| m.0),
            m.map_or("no master".to_string(), |m| {
                format!("node {m} is the master")
            }),
        ),
        Event::StateChanged(s) => ("state_changed", None, format!("state {}", s.name())),
        Event::VotesChanged { held } => (
            "votes_changed",
            None,
            if *held {
                "holding the quorum-disk votes"
            } else {
                "not holding the quorum-disk votes"
            }
            .to_string(),
        ),
        Event::NetworkView { fresh } => (
            "network_view",
            None,
            if *fresh {
                "the membership layer (hbd) reports this node's partition again: taking part in the election".to_string()
            } else {
                format!(
                    "the membership layer (hbd) has not reported this node's partition for {:?}: withdrawing from the quorum disk's election (state None, no votes)",
                    crate::cycle::NETWORK_VIEW_TTL
                )
            },
        ),
        Event::ScoreChanged { score, sufficient } => (
            "score_changed",
            None,
            format!(
                "score {}/{} {}",
                score.score,
                score.max,
                if *sufficient {
                    "sufficient: upgrading"
                } else {
                    "insufficient: downgrading"
                }
            ),
        ),
    };
    EventReply {
        version: API_VERSION,
        at_ms: now.0.as_millis() as u64,
        event: name.into(),
        node,
        detail,
    }
}

/// Runs qdiskd until `stop` is set (clean shutdown), the core exits, or it self-fences (in
/// which case this function does not return).
pub fn run(config: &QdiskdConfig, stop: Arc<AtomicBool>) -> Result<Outcome, StartError> {
    let armed = fence::arm(config.self_fence).map_err(|e| refuse(format!("self_fence: {e}")))?;
    tracing::info!("self-fence action: {armed}");

    let device = locate::locate(&config.target).map_err(refuse)?;
    let disk = QuorumDisk::open(
        &device,
        DeviceOptions {
            write: true,
            ..DeviceOptions::default()
        },
    )
    .map_err(|e| refuse(e.to_string()))?;
    let layout = disk.header().layout;
    if !disk.geometry().contains(config.node) {
        return Err(refuse(format!(
            "node id {} has no slot on {} ({} layout, {} slots); re-create the disk with mkqdisk --nodes",
            config.node,
            device.display(),
            layout.name(),
            layout.max_nodes()
        )));
    }
    let timing = config
        .resolve_timing(layout)
        .map_err(|e| refuse(e.to_string()))?;
    tracing::info!(
        "quorum disk {} (label '{}', {} layout): interval {:?}, tko {}, tko_up {}, master_wait {}, upgrade_wait {}, votes {}{}",
        device.display(),
        disk.header().label,
        layout.name(),
        timing.interval,
        timing.tko,
        timing.tko_up,
        timing.master_wait,
        timing.upgrade_wait,
        config.votes,
        if config.master_wins { ", master_wins" } else { "" }
    );
    let label = disk.header().label.clone();
    let watchdog_timeout = match &config.watchdog {
        WatchdogDevice::None => None,
        WatchdogDevice::Device(_) => Some(
            timing
                .watchdog_timeout(config.watchdog_timeout)
                .map_err(|e| {
                    refuse(format!(
                        "{}: {e} (or set watchdog = \"none\")",
                        config.file.display()
                    ))
                })?,
        ),
    };

    if config.lock_memory {
        if let Err(e) = rt::lock_memory() {
            tracing::warn!("{e}; continuing without locked memory");
        }
    }
    if let Err(e) = rt::set_scheduler(config.scheduler, config.priority) {
        tracing::warn!("{e}; continuing with the normal scheduler");
    }

    let shared = Arc::new(Shared::default());
    let (msg_tx, msg_rx) = channel::<Msg>();
    if let Ok(mut partitions) = shared.partitions.lock() {
        *partitions = Some(msg_tx.clone());
    }
    server::serve(&config.socket, Arc::clone(&shared))
        .map_err(|e| refuse(format!("API socket {}: {e}", config.socket.display())))?;

    let (io_tx, io_rx) = channel::<IoCommand>();
    let io_done = msg_tx.clone();
    std::thread::Builder::new()
        .name("qdisk-io".into())
        .spawn(move || io::run(disk, io_rx, io_done))
        .map_err(|e| refuse(format!("cannot start the I/O thread: {e}")))?;

    // Armed last, when nothing else can refuse the start: from here a hang resets the node.
    let mut watchdog = match (&config.watchdog, watchdog_timeout) {
        (WatchdogDevice::Device(path), Some(timeout)) => {
            let dog = Watchdog::arm(path, timeout).map_err(|e| refuse(e.to_string()))?;
            tracing::info!(
                "hardware watchdog: {dog}; petted only while the cycle keeps the write deadline"
            );
            Some(dog)
        }
        _ => {
            tracing::warn!(
                "running WITHOUT a hardware watchdog (watchdog = \"none\" in {}): a hung node is not reset by hardware, and a write stuck in the storage path longer than two intervals can land after this node's eviction",
                config.file.display()
            );
            None
        }
    };
    let now = BootTime::now();
    let mut core_config = config.core_config(layout, timing);
    core_config.watchdog = watchdog.as_ref().map(Watchdog::timeout);
    let mut core = QdiskCore::new(core_config, incarnation(), now);
    let mut heuristics = Heuristics::new(config.heuristic_specs(&timing), now);
    let mut running: Vec<Option<u32>> = vec![None; heuristics.specs().len()];
    let mut stopping = false;
    let base_status = StatusReply {
        version: API_VERSION,
        node: config.node.0,
        node_name: config.node_name.clone(),
        votes: config.votes,
        device: device.display().to_string(),
        label,
        layout: layout.name().into(),
        interval_ms: timing.interval.as_millis() as u64,
        tko: timing.tko,
        ..StatusReply::default()
    };

    loop {
        let now = BootTime::now();
        if stop.load(Ordering::Relaxed) && !stopping {
            stopping = true;
            tracing::info!("shutting down: leaving the quorum disk cleanly");
            core.handle_shutdown(now);
        }
        heuristics.handle_timeout(now);
        core.handle_score(now, heuristics.score());
        core.handle_timeout(now);
        while let Some(index) = heuristics.poll_run(now) {
            running[index] =
                runner::start(index, &heuristics.specs()[index].program, msg_tx.clone());
        }
        for event in heuristics.take_events() {
            match event {
                HeuristicEvent::Up(i) => {
                    tracing::info!("heuristic '{}' UP", heuristics.specs()[i].program)
                }
                HeuristicEvent::Down { index, misses } => tracing::warn!(
                    "heuristic '{}' DOWN ({misses}/{})",
                    heuristics.specs()[index].program,
                    heuristics.specs()[index].tko
                ),
                HeuristicEvent::TimedOut(i) => {
                    tracing::warn!(
                        "heuristic '{}' exceeded its timeout of {:?}; killed",
                        heuristics.specs()[i].program,
                        heuristics.specs()[i].timeout
                    );
                    if let Some(pgid) = running[i].take() {
                        runner::kill(pgid);
                    }
                }
            }
        }
        while let Some(action) = core.poll_action() {
            match action {
                Action::ReadAll => send_io(&io_tx, IoCommand::ReadAll),
                Action::Write { block, not_after } => {
                    send_io(&io_tx, IoCommand::Write { block, not_after })
                }
                Action::Event(event) => {
                    let reply = event_reply(now, &event);
                    tracing::info!("{}", reply.detail);
                    shared.publish(&serde_json::to_string(&reply).unwrap_or_default());
                }
                Action::SelfFence(reason) => {
                    let reply = EventReply {
                        version: API_VERSION,
                        at_ms: now.0.as_millis() as u64,
                        event: "self_fence".into(),
                        node: Some(config.node.0),
                        detail: reason.to_string(),
                    };
                    shared.publish(&serde_json::to_string(&reply).unwrap_or_default());
                    fence::fire_action(&armed, &reason.to_string(), reason.powers_off());
                }
                Action::PetWatchdog => {
                    if let Some(dog) = &watchdog {
                        if let Err(e) = dog.pet() {
                            tracing::error!("{e}");
                        }
                    }
                }
                Action::Exit(ExitReason::Shutdown) => {
                    if let Some(dog) = watchdog.take() {
                        match dog.disarm() {
                            Ok(()) => tracing::info!("hardware watchdog disarmed (clean stop)"),
                            Err(e) => tracing::error!(
                                "cannot disarm the hardware watchdog: {e}; it will reset this node"
                            ),
                        }
                    }
                    let _ = std::fs::remove_file(&config.socket);
                    return Ok(Outcome::Stopped);
                }
                Action::Exit(ExitReason::TooManyErrors) => {
                    if let Some(dog) = &watchdog {
                        tracing::error!(
                            "the hardware watchdog stays armed: it resets this node within {} s (a node that cannot use the quorum disk cannot show it is alive)",
                            dog.timeout().as_secs()
                        );
                    }
                    tracing::error!("too many I/O errors; giving up");
                    let _ = std::fs::remove_file(&config.socket);
                    return Ok(Outcome::GaveUp);
                }
            }
        }
        publish_status(&core, &base_status, &shared, config);

        let deadline = [core.poll_timeout(), heuristics.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        // Wake at least every 200 ms to notice a stop request.
        let wait = deadline
            .map_or(Duration::from_millis(200), |d| d.since(BootTime::now()))
            .min(Duration::from_millis(200));
        match msg_rx.recv_timeout(wait) {
            Ok(msg) => handle(&mut core, &mut heuristics, &mut running, config, msg),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(refuse("internal channel closed"));
            }
        }
        // Drain whatever else arrived without waiting.
        while let Ok(msg) = msg_rx.try_recv() {
            handle(&mut core, &mut heuristics, &mut running, config, msg);
        }
    }
}

fn send_io(io: &Sender<IoCommand>, command: IoCommand) {
    // A stuck I/O thread keeps its queue; the core's deadlines handle that case.
    let _ = io.send(command);
}

fn handle(
    core: &mut QdiskCore,
    heuristics: &mut Heuristics,
    running: &mut [Option<u32>],
    config: &QdiskdConfig,
    msg: Msg,
) {
    let now = BootTime::now();
    match msg {
        Msg::Partition(names) => {
            core.handle_network_view(now, partition_ids(&config.nodes, &names));
        }
        Msg::Io(IoDone::Read { started, result }) => match result {
            Ok(slots) => core.handle_read(now, started, &slots),
            Err(e) => {
                tracing::warn!("read pass failed: {e}");
                core.handle_read_failed(now);
            }
        },
        Msg::Io(IoDone::Write {
            slot,
            ok,
            error,
            issued,
        }) => {
            if let Some(e) = error {
                tracing::warn!("write of slot {slot} failed: {e}");
            }
            core.handle_write_done(now, slot, ok, issued);
        }
        Msg::Heuristic { index, success } => {
            if let Some(slot) = running.get_mut(index) {
                *slot = None;
            }
            heuristics.handle_result(index, now, success);
        }
    }
}

/// The node ids of the names hbd gave as this node's partition. hbd lower-cases node
/// names, as heartbeat does, so names match whatever their case in the cluster file;
/// names the file does not list are left out.
fn partition_ids(
    nodes: &[(crate::ids::NodeId, String)],
    names: &[String],
) -> crate::format::NodeMask {
    names
        .iter()
        .filter_map(|name| nodes.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)))
        .map(|(id, _)| *id)
        .collect()
}

fn publish_status(core: &QdiskCore, base: &StatusReply, shared: &Shared, config: &QdiskdConfig) {
    let status = core.status();
    let reply = StatusReply {
        state: status.state.name().into(),
        master: status.master.map(|m| m.0),
        master_name: status.master.and_then(|m| {
            config
                .nodes
                .iter()
                .find(|(id, _)| *id == m)
                .map(|(_, name)| name.clone())
        }),
        votes_held: status.votes_held,
        score: status.score.score,
        score_max: status.score.max,
        required_score: status.required_score,
        nodes: status
            .peers
            .iter()
            .filter(|(_, v)| *v != PeerView::Unknown)
            .map(|(id, view)| NodeReport {
                node: id.0,
                view: view_name(*view).into(),
                disk_state: String::new(),
            })
            .collect(),
        visible: status.visible.iter().map(|n| n.0).collect(),
        quorate: status.quorate.iter().map(|n| n.0).collect(),
        ..base.clone()
    };
    if let Ok(mut current) = shared.status.lock() {
        if *current != reply {
            if let Some(path) = &config.status_file {
                status_file::write(path, &reply);
            }
            *current = reply;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;

    #[test]
    fn a_partition_from_hbd_maps_names_to_ids_whatever_their_case() {
        let nodes = vec![
            (NodeId(1), "Web1".to_string()),
            (NodeId(2), "web2".to_string()),
            (NodeId(3), "WEB3".to_string()),
        ];
        let names = vec!["web1".to_string(), "web3".to_string(), "db9".to_string()];
        let ids: Vec<NodeId> = partition_ids(&nodes, &names).iter().collect();
        assert_eq!(ids, vec![NodeId(1), NodeId(3)]);
    }
}
