//! The quorum disk: qdiskd's own cycle core ([`qdisk::cycle::QdiskCore`]) on every machine,
//! over one simulated shared disk holding real sector images (the real encoder and decoder).
//! Reads and writes take 1–10 ms; a write lands when it completes, also when qdiskd is paused
//! or was killed meanwhile. A paused qdiskd gets its completions and timers on resume, after
//! everything that queued up. Its votes go to hbd's polls; its self-fence powers the machine
//! off (a reboot follows).

use qdisk::cycle::{Action as QAction, CoreConfig, Event as QEvent, QdiskCore};
use qdisk::disk::SlotRead;
use qdisk::format::{decode_status, encode_status, NodeMask, StatusBlock};
use qdisk::geometry::Layout;
use qdisk::time::BootTime as QTime;
use qdisk::timing::Timing;
use qdisk::{Incarnation, NodeId as QNodeId};

use super::*;

/// The disk's layout: the extended one (sub-second intervals).
pub(super) const LAYOUT: Layout = Layout::Extended { max_nodes: 8 };
const SECTOR: usize = 512;

/// The quorum disk's timing: interval 100 ms, tko 4 (a peer is dead after 500 ms of
/// silence on the disk, a node fences itself 300 ms after its last completed write).
pub(super) fn qdisk_timing() -> Timing {
    Timing {
        interval: Duration::from_millis(100),
        tko: 4,
        tko_up: 2,
        upgrade_wait: 2,
        master_wait: 2,
    }
}

/// One disk I/O of a qdiskd.
#[derive(Debug, Clone)]
pub(super) enum DiskOp {
    Read {
        started: Time,
    },
    Write {
        block: StatusBlock,
        /// When the write was issued (set when it leaves the queue).
        issued: Time,
    },
}

/// The shared disk: one sector image per slot.
pub(super) fn blank_disk() -> Vec<Vec<u8>> {
    let mut disk = vec![vec![0u8; SECTOR]; LAYOUT.max_nodes() as usize + 1];
    for id in 1..=LAYOUT.max_nodes() {
        encode_status(
            &StatusBlock::initial(QNodeId(id), 1_700_000_000_000),
            LAYOUT,
            1_700_000_000,
            &mut disk[id as usize],
        )
        .expect("encode");
    }
    disk
}

impl World {
    pub(super) fn qdiskd_awake(&self, i: usize) -> bool {
        let m = &self.machines[i];
        m.powered && !m.paused && m.qdiskd.as_ref().is_some_and(|q| q.paused_since.is_none())
    }

    /// A new qdiskd core for machine `i` (a new incarnation).
    pub(super) fn new_qdisk_core(&mut self, i: usize, pid: u64) -> QdiskCore {
        let cfg = CoreConfig {
            node: QNodeId(i as u32 + 1),
            layout: LAYOUT,
            timing: qdisk_timing(),
            // Red Hat's rule: automatic for two nodes; more get nodes − 1 votes, granted
            // by the master within its network partition.
            master_wins: self.params.nodes == 2,
            min_score: None,
            fence_on_score_loss: true,
            io_timeout: false,
            paranoid: false,
            max_error_cycles: 0,
            watchdog: None,
        };
        QdiskCore::new(cfg, Incarnation(pid), QTime(self.now.0))
    }

    /// Whether qdiskd on `i` holds the disk's votes now.
    pub(super) fn qdisk_votes_held(&self, i: usize) -> bool {
        self.machines[i]
            .qdiskd
            .as_ref()
            .is_some_and(|q| q.core.status().votes_held)
    }

    pub(super) fn qdisk_timeout(&self, i: usize) -> Option<Time> {
        if !self.qdiskd_awake(i) {
            return None;
        }
        self.machines[i]
            .qdiskd
            .as_ref()
            .and_then(|q| q.core.poll_timeout())
            .map(|t| Time(t.0))
    }

    pub(super) fn qdisk_run_timer(&mut self, i: usize) {
        let now = self.now;
        if self.qdisk_timeout(i).is_some_and(|t| t <= now) {
            if let Some(q) = self.machines[i].qdiskd.as_mut() {
                q.core.handle_timeout(QTime(now.0));
            }
            self.qdisk_drain(i);
        }
    }

    /// Carries out what qdiskd on `i` asks for.
    pub(super) fn qdisk_drain(&mut self, i: usize) {
        loop {
            let now = self.now;
            let Some(action) = self.machines[i]
                .qdiskd
                .as_mut()
                .and_then(|q| q.core.poll_action())
            else {
                break;
            };
            match action {
                QAction::ReadAll => {
                    if let Some(q) = self.machines[i].qdiskd.as_mut() {
                        q.queue.push_back(DiskOp::Read { started: now });
                    }
                }
                QAction::Write { block, not_after } => {
                    if let Some(q) = self.machines[i].qdiskd.as_mut() {
                        if now.0 > not_after.0 {
                            q.core
                                .handle_write_done(QTime(now.0), block.node, false, QTime(now.0));
                        } else {
                            q.queue.push_back(DiskOp::Write { block, issued: now });
                        }
                    }
                }
                // This model's machines have no hardware watchdog.
                QAction::PetWatchdog => {}
                QAction::Event(e) => {
                    if matches!(e, QEvent::MasterChanged(_) | QEvent::VotesChanged { .. }) {
                        self.note(format!("{}: qdiskd {e:?}", self.names[i]));
                    }
                }
                QAction::SelfFence(reason) => {
                    self.stats.self_fences += 1;
                    self.power_off(i, &format!("qdiskd self-fence: {reason}"));
                    let d = ms(self.rng.random_range(1000..3000));
                    self.after(d, Ev::Reboot(i));
                    return;
                }
                QAction::Exit(reason) => {
                    self.note(format!("{}: qdiskd exits: {reason:?}", self.names[i]));
                    self.machines[i].qdiskd = None;
                    return;
                }
            }
        }
        self.qdisk_start_io(i);
    }

    /// Starts the next queued I/O of qdiskd on `i` when none is in flight.
    fn qdisk_start_io(&mut self, i: usize) {
        let d = ms(self.rng.random_range(1..=10));
        let Some(q) = self.machines[i].qdiskd.as_mut() else {
            return;
        };
        if q.in_flight.is_some() {
            return;
        }
        let Some(mut op) = q.queue.pop_front() else {
            return;
        };
        if let DiskOp::Write { issued, .. } = &mut op {
            *issued = self.now;
        }
        q.in_flight = Some(op);
        let pid = q.pid;
        self.after(d, Ev::DiskIo(i, pid));
    }

    /// An I/O of qdiskd `pid` on `i` completes: a write lands on the disk whoever is left to
    /// hear of it; the completion is handed over now, or on resume.
    pub(super) fn disk_io_done(&mut self, i: usize, pid: u64) {
        if !self.machines[i].powered {
            return;
        }
        let Some(q) = self.machines[i].qdiskd.as_mut().filter(|q| q.pid == pid) else {
            return;
        };
        let Some(op) = q.in_flight.take() else {
            return;
        };
        if let DiskOp::Write { block, .. } = &op {
            let mut block = block.clone();
            block.timestamp_ms = 1_700_000_000_000 + self.now.0.as_millis() as u64;
            let slot = block.node.0 as usize;
            let wall = block.timestamp_ms / 1000;
            encode_status(&block, LAYOUT, wall, &mut self.disk[slot]).expect("encodable");
        }
        let awake = self.qdiskd_awake(i);
        let Some(q) = self.machines[i].qdiskd.as_mut() else {
            return;
        };
        if awake {
            self.qdisk_deliver(i, op);
        } else {
            q.undelivered.push_back(op);
        }
    }

    fn qdisk_deliver(&mut self, i: usize, op: DiskOp) {
        let now = QTime(self.now.0);
        let snapshot: Vec<SlotRead> = match op {
            DiskOp::Read { .. } => (1..=LAYOUT.max_nodes())
                .map(|id| SlotRead {
                    node: QNodeId(id),
                    block: decode_status(&self.disk[id as usize], LAYOUT, QNodeId(id)),
                })
                .collect(),
            DiskOp::Write { .. } => Vec::new(),
        };
        let Some(q) = self.machines[i].qdiskd.as_mut() else {
            return;
        };
        match op {
            DiskOp::Read { started } => q.core.handle_read(now, QTime(started.0), &snapshot),
            DiskOp::Write { block, issued } => {
                q.core
                    .handle_write_done(now, block.node, true, QTime(issued.0))
            }
        }
        self.qdisk_drain(i);
    }

    /// qdiskd (or its machine) resumes: what completed meanwhile is handed over first.
    pub(super) fn qdisk_resumed(&mut self, i: usize, _paused_since: Time) {
        if !self.qdiskd_awake(i) {
            return;
        }
        let ops: Vec<DiskOp> = self.machines[i]
            .qdiskd
            .as_mut()
            .map(|q| q.undelivered.drain(..).collect())
            .unwrap_or_default();
        for op in ops {
            if !self.qdiskd_awake(i) {
                return;
            }
            self.qdisk_deliver(i, op);
        }
        self.qdisk_drain(i);
    }

    /// hbd's poll of qdiskd, every 250 ms while hbd runs (the poll thread is hbd's).
    pub(super) fn qdisk_poll(&mut self, i: usize, boot: u64) {
        if !self.machines[i].powered || self.machines[i].boot != boot {
            return; // power-on starts the poll anew
        }
        if !self.hbd_running(i) {
            self.after(ms(250), Ev::QdiskPoll(i, boot));
            return;
        }
        // hbd tells qdiskd its network partition with every poll (node j is qdisk id j+1).
        let partition: Option<NodeMask> = self.machines[i].hbd.as_ref().map(|h| {
            h.core
                .membership()
                .partition()
                .iter()
                .filter_map(|n| self.index_of(n.as_str()))
                .map(|j| QNodeId(j as u32 + 1))
                .collect()
        });
        let now = QTime(self.now.0);
        if let (Some(q), Some(partition)) = (self.machines[i].qdiskd.as_mut(), partition) {
            if q.paused_since.is_none() {
                q.core.handle_network_view(now, partition);
            }
        }
        let votes = self.params.nodes as u32 - 1;
        let report = match &self.machines[i].qdiskd {
            None => Some(QdiskReport::Unreachable),
            Some(q) if q.paused_since.is_some() => None,
            Some(q) => Some(QdiskReport::Votes(
                QdiskVotes {
                    votes,
                    held: self.qdisk_votes_held(i),
                },
                q.core
                    .status()
                    .master
                    .map(|m| self.names[m.0 as usize - 1].clone()),
            )),
        };
        if let Some(report) = report {
            let asked_at = self.now;
            self.hbd_input(i, None, Input::Qdisk { report, asked_at });
        }
        self.after(ms(250), Ev::QdiskPoll(i, boot));
    }
}
