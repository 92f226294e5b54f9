//! The qdiskd core: one node's view of the quorum disk, as a state machine.
//!
//! [`QdiskCore`] does no I/O and reads no clock. The driver feeds it what happened and
//! carries out what it asks for, in this order (quinn's `Connection` shape):
//!
//! - inputs: [`QdiskCore::handle_timeout`] when [`QdiskCore::poll_timeout`] is reached,
//!   [`QdiskCore::handle_read`] with the result of a read pass,
//!   [`QdiskCore::handle_write_done`] after each write, [`QdiskCore::handle_score`] when the
//!   heuristics' score changes, [`QdiskCore::handle_shutdown`] to leave cleanly;
//! - outputs: drain [`QdiskCore::poll_action`] after every input, then sleep until
//!   [`QdiskCore::poll_timeout`].
//!
//! A cycle is: read every slot → judge every peer → decide (score, master, election,
//! evictions, votes) → write our own block (and eviction notices, when master).
//!
//! # Rules (Red Hat's qdiskd unless marked *ours*)
//!
//! - A peer is **alive** while its marker (timestamp in Red Hat's layout, heartbeat counter
//!   in the extended one) keeps changing, judged on our own clock, so clock skew between
//!   nodes does not matter. It is **up** after more than `tko_up` observed changes, **dead**
//!   after more than `tko` consecutive reads without one — *ours:* and only when
//!   (tko+1)·interval of our clock have passed since we first saw its last change, counted
//!   to the start of the read. Blocks written into a slot by someone other than its owner
//!   (eviction notices) never count as a sign of life.
//! - A changed incarnation means the peer's daemon restarted; the same incarnation writing
//!   again after it was declared dead is **undead**, and is evicted again.
//! - The **master** is elected by bid and acknowledgement: the lowest live node id bids once
//!   its `upgrade_wait` has run out, every other live node acknowledges the lowest bidder,
//!   and the bidder becomes master when every live node has acknowledged and the bid has
//!   stood `master_wait` cycles. On conflict the higher id abdicates. *Ours:* a node bids
//!   only after `tko` consecutive good read passes, so it has had the chance to see every
//!   live peer come up; `upgrade_wait` counts from the moment the node became eligible,
//!   master or not, so a node that joined under a master can take over at once.
//! - The master writes an **eviction notice** (state Evicted, writer = master) into the slot
//!   of every dead or undead peer. A node that reads a block in its own slot written by
//!   someone else self-fences at once, before any further write.
//! - *Ours:* a **poison pill** ([`crate::format::pill`]) is such a block written by a fence
//!   agent and marked as a pill. The node stops petting its watchdog, writes one
//!   acknowledgement into its own slot (state Evicted, the pill's nonce; never a normal
//!   block again) and self-fences when that write completes, or one interval after reading
//!   the pill (never past its write deadline) if it does not: a hung write delays the
//!   self-fence by at most that. Peers never count an acknowledgement as a sign of life.
//! - *Ours:* a node never issues a write more than (tko−1)·interval after the *issue* of its
//!   last completed one; at that deadline it self-fences, from a timer, even while a write is
//!   stuck. With the death rule above this means an evicted node never writes again (see
//!   [`crate::timing`]).
//! - *Ours:* with a hardware watchdog ([`CoreConfig::watchdog`]) the core asks for it to be
//!   petted ([`Action::PetWatchdog`]) only while a hang starting now would let it fire before
//!   that deadline, so writes stuck in the storage path die with the reset.
//! - The **score** from the heuristics must reach `min_score` (default ⌊max/2⌋+1); below it the
//!   node withdraws (state None) and, with `reboot`, self-fences.
//! - **Votes**: the master grants the vote to the running nodes it sees (its master mask);
//!   a node holds the quorum-disk votes while it is master or in the master's mask, its score
//!   suffices and its last read pass succeeded. With `master_wins`, only the master does.
//! - `io_timeout`: self-fence when no full read pass succeeded within interval·tko;
//!   `paranoid`: self-fence when a cycle takes longer than interval·tko. Both are timers, so
//!   they fire while an I/O system call is stuck (Red Hat's checked them only after the
//!   cycle completed).

use std::collections::VecDeque;
use std::time::Duration;

use crate::disk::SlotRead;
use crate::format::{Message, MessageKind, NodeMask, NodeState, Pill, PillAction, StatusBlock};
use crate::geometry::Layout;
use crate::ids::{Incarnation, NodeId};
use crate::time::BootTime;
use crate::timing::Timing;

/// What the core needs to know about its node and cluster.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// This node.
    pub node: NodeId,
    /// The disk's layout (its node slots).
    pub layout: Layout,
    /// Resolved timing.
    pub timing: Timing,
    /// Only the master holds the votes (two-node clusters without heuristics).
    pub master_wins: bool,
    /// Score needed; `None` means ⌊max/2⌋+1.
    pub min_score: Option<u32>,
    /// Self-fence when the score drops below the minimum (Red Hat's `reboot`, default on).
    pub fence_on_score_loss: bool,
    /// Self-fence when no read pass succeeded within interval·tko.
    pub io_timeout: bool,
    /// Self-fence when a cycle takes longer than interval·tko.
    pub paranoid: bool,
    /// Give up (exit) after this many consecutive cycles with read errors; 0 = never.
    pub max_error_cycles: u32,
    /// The hardware watchdog's timeout, when one is armed: the core asks for it to be
    /// petted only while a hang starting now would make it fire before the write deadline.
    pub watchdog: Option<Duration>,
}

/// The heuristics' verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    /// Sum of the scores of the heuristics that are up.
    pub score: u32,
    /// Sum of all heuristics' scores (1 with no heuristics).
    pub max: u32,
}

impl Score {
    /// The score with no heuristics configured: 1 of 1.
    pub const NO_HEURISTICS: Score = Score { score: 1, max: 1 };
}

/// Why the core self-fences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FenceReason {
    /// Another node (the master) wrote an eviction notice into our slot.
    Evicted {
        /// The writer of the notice.
        by: u32,
    },
    /// No write completed for (tko−1)·interval: peers are about to declare us dead.
    WriteDeadline {
        /// Time since the last completed write.
        since_last_write: Duration,
    },
    /// `io_timeout`: no full read pass succeeded within interval·tko.
    ReadTimeout {
        /// Time since the last good read pass.
        since_last_read: Duration,
    },
    /// `paranoid`: a cycle took longer than interval·tko.
    CycleOverrun {
        /// How long the cycle has taken so far.
        elapsed: Duration,
    },
    /// A fence agent wrote a poison pill into our slot.
    Poisoned {
        /// The node the pill names as its writer.
        by: u32,
        /// The pill (its action decides between power off and reboot).
        pill: Pill,
        /// Whether our acknowledgement was written (false: it failed or was not done
        /// within its deadline).
        acknowledged: bool,
    },
    /// The heuristics' score fell below the minimum and `reboot` is set.
    ScoreLost {
        /// The score.
        score: Score,
        /// The minimum.
        required: u32,
    },
}

impl std::fmt::Display for FenceReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FenceReason::Evicted { by } => write!(f, "evicted by node {by}"),
            FenceReason::Poisoned {
                by,
                pill,
                acknowledged,
            } => write!(
                f,
                "poison pill ({}, nonce {:08x}) from node {by}; {}",
                pill.action,
                pill.nonce,
                if *acknowledged {
                    "acknowledged"
                } else {
                    "NOT acknowledged (the write failed or did not complete in time)"
                }
            ),
            FenceReason::WriteDeadline { since_last_write } => write!(
                f,
                "no status write completed for {since_last_write:?}; peers are about to declare this node dead"
            ),
            FenceReason::ReadTimeout { since_last_read } => {
                write!(f, "no read pass succeeded for {since_last_read:?} (io_timeout)")
            }
            FenceReason::CycleOverrun { elapsed } => {
                write!(f, "a cycle has taken {elapsed:?} (paranoid)")
            }
            FenceReason::ScoreLost { score, required } => write!(
                f,
                "score {}/{} is below the required {required}",
                score.score, score.max
            ),
        }
    }
}

impl FenceReason {
    /// Whether the node should power off rather than restart: a poison pill that asked
    /// for `off`.
    pub fn powers_off(&self) -> bool {
        matches!(
            self,
            FenceReason::Poisoned {
                pill: Pill {
                    action: PillAction::Off,
                    ..
                },
                ..
            }
        )
    }
}

/// Why the core stops without fencing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// A requested clean shutdown finished (state None written).
    Shutdown,
    /// `max_error_cycles` consecutive cycles had read errors.
    TooManyErrors,
}

/// Something the cluster should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A peer came up.
    NodeUp(NodeId),
    /// A peer was declared dead.
    NodeDown(NodeId),
    /// A peer shut down cleanly (or withdrew for low score).
    NodeLeft(NodeId),
    /// A peer's daemon restarted (new incarnation).
    NodeRestarted(NodeId),
    /// A dead peer wrote again with its old incarnation.
    NodeUndead(NodeId),
    /// We wrote an eviction notice into a peer's slot.
    EvictionWritten(NodeId),
    /// The master changed.
    MasterChanged(Option<NodeId>),
    /// Our own state changed.
    StateChanged(NodeState),
    /// We now hold, or no longer hold, the quorum-disk votes.
    VotesChanged {
        /// Whether we hold them.
        held: bool,
    },
    /// The membership layer's view of our network partition went stale (it stopped
    /// answering for [`NETWORK_VIEW_TTL`]: we withdraw, state None, without fencing) or is
    /// fresh again.
    NetworkView {
        /// Whether it is fresh.
        fresh: bool,
    },
    /// The score crossed the minimum.
    ScoreChanged {
        /// The score.
        score: Score,
        /// Whether it suffices.
        sufficient: bool,
    },
}

/// An instruction to the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Read every slot (one read pass) and report with [`QdiskCore::handle_read`].
    ReadAll,
    /// Write `block` into slot `block.node`, stamping the wall-clock time; do not issue the
    /// write if the boot-time clock is past `not_after` (report it as failed instead).
    Write {
        /// The block.
        block: StatusBlock,
        /// Latest moment the write may be issued.
        not_after: BootTime,
    },
    /// Tell the cluster.
    Event(Event),
    /// Fence this node now, without any further write.
    SelfFence(FenceReason),
    /// Restart the hardware watchdog's countdown.
    PetWatchdog,
    /// Stop.
    Exit(ExitReason),
}

/// What the core believes about a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerView {
    /// Not seen alive.
    Unknown,
    /// Seen changing `seen` times, not yet up.
    Coming {
        /// Changes observed.
        seen: u32,
    },
    /// Up.
    Up,
    /// Declared dead; `evil` is the incarnation it had.
    Down {
        /// The incarnation it had when declared dead.
        evil: Incarnation,
    },
}

#[derive(Debug, Clone)]
struct Peer {
    view: PeerView,
    marker: Option<(u64, Incarnation)>,
    incarnation: Incarnation,
    last_change_seen: BootTime,
    misses: u32,
    block: Option<StatusBlock>,
}

impl Peer {
    fn new() -> Self {
        Self {
            view: PeerView::Unknown,
            marker: None,
            incarnation: Incarnation::default(),
            last_change_seen: BootTime::ZERO,
            misses: 0,
            block: None,
        }
    }

    fn is_up(&self) -> bool {
        self.view == PeerView::Up
    }

    /// An up peer showed no change: counts the miss and declares it dead when both rules
    /// hold, more than `tko` misses and (tko+1)·interval since its last change, counted to
    /// the start of the read. Returns whether it just died.
    fn miss(&mut self, read_started: BootTime, t: &Timing) -> bool {
        self.misses = self.misses.saturating_add(1);
        let dead =
            self.misses > t.tko && read_started.since(self.last_change_seen) >= t.death_floor();
        if dead {
            self.view = PeerView::Down {
                evil: self.incarnation,
            };
        }
        dead
    }

    fn disk_state(&self) -> NodeState {
        self.block.as_ref().map_or(NodeState::None, |b| b.state)
    }

    fn message(&self) -> Message {
        self.block
            .as_ref()
            .map_or(Message::default(), |b| b.message)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The first write (state Initializing) is in flight: it overwrites any old eviction
    /// notice before we read anything.
    Starting,
    /// Waiting for the next cycle.
    Idle { next_cycle: BootTime },
    /// A read pass is in flight.
    Reading,
    /// `pending` writes of this cycle are in flight.
    Writing { pending: u32 },
    /// A poison pill was read: only its acknowledgement is in flight; at its completion,
    /// or at `deadline`, the node self-fences.
    Acknowledging {
        /// Self-fence now at the latest.
        deadline: BootTime,
        /// The pill's writer.
        by: u32,
        /// The pill.
        pill: Pill,
    },
    /// Fenced or exited: nothing more happens.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bid {
    seq: u16,
    cycles: u32,
}

/// A snapshot of the core's state, for the status file and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreStatus {
    /// Our state.
    pub state: NodeState,
    /// The master, if known.
    pub master: Option<NodeId>,
    /// Whether we hold the votes.
    pub votes_held: bool,
    /// The score.
    pub score: Score,
    /// The score needed.
    pub required_score: u32,
    /// Peers and what we believe of them.
    pub peers: Vec<(NodeId, PeerView)>,
    /// Nodes we see running (our mask).
    pub visible: NodeMask,
    /// The master's quorate set.
    pub quorate: NodeMask,
}

/// One node's quorum-disk state machine. See the module documentation.
#[derive(Debug)]
pub struct QdiskCore {
    cfg: CoreConfig,
    incarnation: Incarnation,
    peers: Vec<Peer>,
    phase: Phase,
    state: NodeState,
    init_cycles_left: u32,
    upgrade_wait_left: u32,
    message: Message,
    bid: Option<Bid>,
    seq: u16,
    heartbeat: u64,
    score: Score,
    good_passes: u32,
    error_cycles: u32,
    last_write_ok: BootTime,
    last_read_ok: BootTime,
    cycle_started: BootTime,
    /// When the watchdog is petted next; `None` while petting is suspended (unhealthy:
    /// it resumes when a write completes).
    next_pet: Option<BootTime>,
    write_times: VecDeque<Duration>,
    master: Option<NodeId>,
    votes_held: bool,
    read_ok_this_cycle: bool,
    mask: NodeMask,
    master_mask: NodeMask,
    /// The membership layer's latest view of this node's network partition, and when it
    /// was given; `None` until a membership layer (hbd) gives one.
    network_view: Option<(NodeMask, BootTime)>,
    /// Whether the network view was fresh at the start of this cycle's decisions.
    network_view_ok: bool,
    stopping: bool,
    actions: VecDeque<Action>,
}

/// How long a network view from the membership layer holds (hbd gives one every 250 ms).
pub const NETWORK_VIEW_TTL: Duration = Duration::from_secs(2);

/// Write durations averaged in the status block (Red Hat's `HISTORY_LENGTH`).
const WRITE_HISTORY: usize = 60;

impl QdiskCore {
    /// A core for `cfg.node` with a fresh `incarnation`, starting at `now`. The first action
    /// is the Initializing write.
    pub fn new(cfg: CoreConfig, incarnation: Incarnation, now: BootTime) -> Self {
        let slots = cfg.layout.max_nodes() as usize;
        let next_pet = cfg.watchdog.map(|_| now);
        let init_cycles_left = cfg.timing.tko;
        let mut core = Self {
            cfg,
            incarnation,
            peers: vec![Peer::new(); slots + 1],
            phase: Phase::Starting,
            state: NodeState::Initializing,
            init_cycles_left,
            upgrade_wait_left: 0,
            message: Message::default(),
            bid: None,
            seq: 0,
            heartbeat: 0,
            score: Score::NO_HEURISTICS,
            good_passes: 0,
            error_cycles: 0,
            last_write_ok: now,
            last_read_ok: now,
            cycle_started: now,
            next_pet,
            write_times: VecDeque::with_capacity(WRITE_HISTORY),
            master: None,
            votes_held: false,
            read_ok_this_cycle: false,
            mask: NodeMask::new(),
            master_mask: NodeMask::new(),
            network_view: None,
            network_view_ok: true,
            stopping: false,
            actions: VecDeque::new(),
        };
        core.actions
            .push_back(Action::Event(Event::StateChanged(NodeState::Initializing)));
        let block = core.own_block();
        core.issue_writes(vec![block]);
        core
    }

    // ----- getters -------------------------------------------------------------------

    /// This node.
    pub fn node(&self) -> NodeId {
        self.cfg.node
    }

    /// The incarnation written in our blocks.
    pub fn incarnation(&self) -> Incarnation {
        self.incarnation
    }

    /// A snapshot for the status file and the API.
    pub fn status(&self) -> CoreStatus {
        CoreStatus {
            state: self.state,
            master: self.master,
            votes_held: self.votes_held,
            score: self.score,
            required_score: self.required_score(),
            peers: self
                .peer_ids()
                .map(|id| (id, self.peers[id.0 as usize].view))
                .collect(),
            visible: self.mask,
            quorate: self.master_block_mask(),
        }
    }

    /// Whether the core has fenced or exited.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    // ----- outputs -------------------------------------------------------------------

    /// The next instruction for the driver.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`QdiskCore::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<BootTime> {
        if self.phase == Phase::Done {
            return None;
        }
        if let Phase::Acknowledging { deadline, .. } = self.phase {
            return Some(deadline);
        }
        let t = &self.cfg.timing;
        let mut next = self.last_write_ok + t.write_deadline();
        if let Phase::Idle { next_cycle } = self.phase {
            next = next.min(next_cycle);
        }
        if self.cfg.io_timeout {
            next = next.min(self.last_read_ok + t.io_limit());
        }
        if self.cfg.paranoid && matches!(self.phase, Phase::Reading | Phase::Writing { .. }) {
            next = next.min(self.cycle_started + t.io_limit());
        }
        if let Some(pet) = self.next_pet() {
            next = next.min(pet);
        }
        Some(next)
    }

    // ----- inputs --------------------------------------------------------------------

    /// Time passed: check the deadlines and start a cycle when one is due.
    pub fn handle_timeout(&mut self, now: BootTime) {
        if self.phase == Phase::Done {
            return;
        }
        if let Phase::Acknowledging { deadline, by, pill } = self.phase {
            if now >= deadline {
                self.fence(FenceReason::Poisoned {
                    by,
                    pill,
                    acknowledged: false,
                });
            }
            return;
        }
        let t = self.cfg.timing;
        let since_write = now.since(self.last_write_ok);
        if since_write >= t.write_deadline() {
            return self.fence(FenceReason::WriteDeadline {
                since_last_write: since_write,
            });
        }
        let since_read = now.since(self.last_read_ok);
        if self.cfg.io_timeout && since_read >= t.io_limit() {
            return self.fence(FenceReason::ReadTimeout {
                since_last_read: since_read,
            });
        }
        let in_cycle = matches!(self.phase, Phase::Reading | Phase::Writing { .. });
        let elapsed = now.since(self.cycle_started);
        if self.cfg.paranoid && in_cycle && elapsed >= t.io_limit() {
            return self.fence(FenceReason::CycleOverrun { elapsed });
        }
        self.pet_if_healthy(now);
        if let Phase::Idle { next_cycle } = self.phase {
            if now >= next_cycle {
                self.cycle_started = now;
                self.phase = Phase::Reading;
                self.actions.push_back(Action::ReadAll);
            }
        }
    }

    /// The membership layer (hbd) says which nodes are in this node's network partition
    /// (itself and the members that hear it). While the master has a fresh view it grants
    /// the disk's votes only to the nodes in it, so the votes count in one partition only:
    /// the master's. Once a view has been given, a master whose view goes stale (its
    /// membership layer stopped answering for [`NETWORK_VIEW_TTL`]) steps down and a node
    /// bids only with a fresh one, so a node without a working membership layer never keeps
    /// the votes from the others.
    pub fn handle_network_view(&mut self, now: BootTime, partition: NodeMask) {
        self.network_view = Some((partition, now));
    }

    /// The heuristics' score changed.
    pub fn handle_score(&mut self, _now: BootTime, score: Score) {
        self.score = score;
    }

    /// Leave cleanly: a master first announces it is leaving (state Exiting) until another
    /// master appears or no peer is left; then state None is written and the core exits.
    pub fn handle_shutdown(&mut self, _now: BootTime) {
        self.stopping = true;
    }

    /// A read pass that failed as a whole (an I/O error).
    pub fn handle_read_failed(&mut self, _now: BootTime) {
        if self.phase != Phase::Reading {
            return;
        }
        self.good_passes = 0;
        self.error_cycles += 1;
        self.read_ok_this_cycle = false;
        if self.cfg.max_error_cycles > 0 && self.error_cycles >= self.cfg.max_error_cycles {
            self.set_votes(false);
            self.phase = Phase::Done;
            self.actions
                .push_back(Action::Exit(ExitReason::TooManyErrors));
            return;
        }
        self.update_votes();
        // Keep heartbeating: a node that cannot read is still alive, and the peers must not
        // evict it for a read problem alone (io_timeout decides that, if configured).
        let block = self.own_block();
        self.issue_writes(vec![block]);
    }

    /// The result of a read pass: every slot, started at `started` (the moment the read
    /// system call was issued) and completed at `now`.
    pub fn handle_read(&mut self, now: BootTime, started: BootTime, slots: &[SlotRead]) {
        if self.phase != Phase::Reading {
            return;
        }
        self.last_read_ok = now;
        self.good_passes = self.good_passes.saturating_add(1);
        self.error_cycles = 0;
        self.read_ok_this_cycle = true;

        // Our own slot first: a notice from someone else means we were evicted.
        if let Some(own) = slots.iter().find(|s| s.node == self.cfg.node) {
            if let Ok(block) = &own.block {
                if let Some(pill) = block.as_pill() {
                    return self.poisoned(now, block.updated_by, pill);
                }
                if block.updated_by != self.cfg.node.0 && block.updated_by != 0 {
                    return self.fence(FenceReason::Evicted {
                        by: block.updated_by,
                    });
                }
            }
        }

        let am_master = self.state == NodeState::Master;
        let mut notices = Vec::new();
        for slot in slots {
            if slot.node == self.cfg.node || !self.cfg.layout_contains(slot.node) {
                continue;
            }
            if let Some(victim) = self.judge_peer(slot, started, now) {
                if am_master {
                    notices.push(victim);
                }
            }
        }

        let view_ok = self
            .network_view
            .is_none_or(|(_, at)| now.since(at) <= NETWORK_VIEW_TTL);
        if view_ok != self.network_view_ok {
            self.network_view_ok = view_ok;
            self.actions
                .push_back(Action::Event(Event::NetworkView { fresh: view_ok }));
        }
        self.advance_own_state(now);
        if self.phase == Phase::Done {
            return;
        }
        self.resolve_master();
        self.elect();
        self.compute_masks();
        self.update_votes();

        let mut writes = vec![self.own_block()];
        if self.state == NodeState::Master {
            // Every dead or undead peer whose slot does not already hold a notice.
            for id in self.peer_ids().collect::<Vec<_>>() {
                let peer = &self.peers[id.0 as usize];
                let noticed = peer
                    .block
                    .as_ref()
                    .is_some_and(|b| b.state == NodeState::Evicted && b.updated_by != b.node.0);
                let down = matches!(peer.view, PeerView::Down { .. });
                if (down && !noticed) || notices.contains(&id) {
                    writes.push(self.eviction_notice(id));
                    self.actions
                        .push_back(Action::Event(Event::EvictionWritten(id)));
                }
            }
        }
        self.issue_writes(writes);
    }

    /// A write finished (`ok`) or failed / was not issued (`!ok`). `issued` is when the
    /// write system call was issued: the write deadline runs from there, not from `now`,
    /// so a pause between the completion and this call cannot move it.
    pub fn handle_write_done(&mut self, now: BootTime, slot: NodeId, ok: bool, issued: BootTime) {
        if let Phase::Acknowledging { by, pill, .. } = self.phase {
            if slot == self.cfg.node {
                self.fence(FenceReason::Poisoned {
                    by,
                    pill,
                    acknowledged: ok,
                });
            }
            return;
        }
        if ok && slot == self.cfg.node {
            // Writes complete in the order they were issued; never move the anchor back.
            self.last_write_ok = self.last_write_ok.max(issued.min(now));
            if self.write_times.len() == WRITE_HISTORY {
                self.write_times.pop_front();
            }
            self.write_times.push_back(now.since(issued));
            if self.cfg.watchdog.is_some() && self.next_pet.is_none() {
                self.next_pet = Some(now);
            }
        }
        match self.phase {
            Phase::Starting => {
                self.phase = Phase::Idle { next_cycle: now };
            }
            Phase::Writing { pending } if pending > 1 => {
                self.phase = Phase::Writing {
                    pending: pending - 1,
                };
            }
            Phase::Writing { .. } => self.end_cycle(now),
            _ => {}
        }
    }

    // ----- internals -----------------------------------------------------------------

    fn peer_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (1..=self.cfg.layout.max_nodes())
            .map(NodeId)
            .filter(move |&id| id != self.cfg.node)
    }

    fn required_score(&self) -> u32 {
        self.cfg
            .min_score
            .filter(|&m| m > 0)
            .unwrap_or(self.score.max / 2 + 1)
    }

    fn score_ok(&self) -> bool {
        self.score.score >= self.required_score()
    }

    /// The watchdog's next pet, when one is armed, the core is running and petting is not
    /// suspended.
    fn next_pet(&self) -> Option<BootTime> {
        self.cfg.watchdog?;
        if matches!(self.phase, Phase::Done | Phase::Acknowledging { .. }) {
            return None;
        }
        self.next_pet
    }

    /// Whether a hang starting at `now` would let the watchdog fire before the software
    /// deadlines: `now + timeout` is before the write deadline (and the read deadline
    /// with `io_timeout`). So the last pet is followed by a hardware reset before any
    /// write of ours could be issued past its deadline, in-flight writes included.
    fn watchdog_healthy(&self, now: BootTime, timeout: Duration) -> bool {
        let t = &self.cfg.timing;
        let fires = now + timeout;
        fires < self.last_write_ok + t.write_deadline()
            && (!self.cfg.io_timeout || fires < self.last_read_ok + t.io_limit())
    }

    fn pet_if_healthy(&mut self, now: BootTime) {
        let (Some(timeout), Some(due)) = (self.cfg.watchdog, self.next_pet()) else {
            return;
        };
        if now < due {
            return;
        }
        if self.watchdog_healthy(now, timeout) {
            self.next_pet = Some(now + pet_period(timeout, &self.cfg.timing));
            self.actions.push_back(Action::PetWatchdog);
        } else {
            // Suspended until a write completes and makes a pet safe again.
            self.next_pet = None;
        }
    }

    /// A poison pill from node `by` is in our slot: stop petting the watchdog, drop the
    /// votes, and write the acknowledgement (the last write of this incarnation) with a
    /// deadline of one interval, never past the write deadline; the self-fence follows its
    /// completion or that deadline ([`Phase::Acknowledging`]).
    fn poisoned(&mut self, now: BootTime, by: u32, pill: Pill) {
        self.next_pet = None;
        self.set_votes(false);
        let t = self.cfg.timing;
        let deadline = (now + t.interval).min(self.last_write_ok + t.write_deadline());
        if now >= deadline {
            return self.fence(FenceReason::Poisoned {
                by,
                pill,
                acknowledged: false,
            });
        }
        self.phase = Phase::Acknowledging { deadline, by, pill };
        self.heartbeat = self.heartbeat.wrapping_add(1);
        let block = StatusBlock::pill_ack(self.cfg.node, self.incarnation, self.heartbeat, pill);
        self.actions.push_back(Action::Write {
            block,
            not_after: deadline,
        });
    }

    fn fence(&mut self, reason: FenceReason) {
        self.phase = Phase::Done;
        self.set_votes(false);
        self.actions.push_back(Action::SelfFence(reason));
    }

    fn set_state(&mut self, state: NodeState) {
        if self.state != state {
            self.state = state;
            self.actions
                .push_back(Action::Event(Event::StateChanged(state)));
        }
    }

    fn set_votes(&mut self, held: bool) {
        if self.votes_held != held {
            self.votes_held = held;
            self.actions
                .push_back(Action::Event(Event::VotesChanged { held }));
        }
    }

    /// Applies one slot to our view of its owner; returns the peer if it was just declared
    /// dead or seen undead (a notice is due).
    fn judge_peer(&mut self, slot: &SlotRead, started: BootTime, now: BootTime) -> Option<NodeId> {
        let id = slot.node;
        let t = self.cfg.timing;
        let mut events = Vec::new();
        let mut notice = None;
        let peer = &mut self.peers[id.0 as usize];
        let block = match &slot.block {
            Ok(block) => block.clone(),
            Err(_) => {
                // An unreadable slot shows no sign of life.
                if peer.view == PeerView::Up && peer.miss(started, &t) {
                    self.actions.push_back(Action::Event(Event::NodeDown(id)));
                    return Some(id);
                }
                if peer.view != PeerView::Up {
                    peer.misses = peer.misses.saturating_add(1);
                }
                return None;
            }
        };
        // An acknowledgement of a poison pill is the owner's last write, not a sign of life.
        let own_write = block.updated_by == id.0 && !block.is_pill_ack();
        let marker = (block.heartbeat, block.incarnation);
        let changed = own_write && peer.marker != Some(marker);
        let running = matches!(
            block.state,
            NodeState::Initializing | NodeState::Running | NodeState::Master
        );
        match peer.view {
            PeerView::Up => {
                if own_write && block.state == NodeState::Exiting {
                    // The master announced its departure: elect now, not after tko.
                    peer.view = PeerView::Unknown;
                    events.push(Event::NodeLeft(id));
                } else if own_write && !running {
                    peer.view = PeerView::Unknown;
                    events.push(Event::NodeLeft(id));
                } else if own_write && block.incarnation != peer.incarnation {
                    peer.view = PeerView::Coming { seen: 1 };
                    peer.misses = 0;
                    peer.last_change_seen = now;
                    events.push(Event::NodeRestarted(id));
                } else if changed {
                    peer.misses = 0;
                    peer.last_change_seen = now;
                } else if peer.miss(started, &t) {
                    events.push(Event::NodeDown(id));
                    notice = Some(id);
                }
            }
            PeerView::Down { evil } => {
                if changed && running && block.incarnation == evil {
                    events.push(Event::NodeUndead(id));
                    notice = Some(id);
                } else if changed && running && block.incarnation != evil {
                    // Restarted after it was fenced: a new node coming up.
                    peer.view = PeerView::Coming { seen: 1 };
                    peer.misses = 0;
                    peer.last_change_seen = now;
                }
            }
            PeerView::Unknown | PeerView::Coming { .. } => {
                let seen = match peer.view {
                    PeerView::Coming { seen } => seen,
                    _ => 0,
                };
                if changed && running {
                    let seen = seen + 1;
                    peer.misses = 0;
                    peer.last_change_seen = now;
                    if seen > t.tko_up {
                        peer.view = PeerView::Up;
                        peer.incarnation = block.incarnation;
                        events.push(Event::NodeUp(id));
                    } else {
                        peer.view = PeerView::Coming { seen };
                    }
                } else if seen > 0 {
                    peer.misses = peer.misses.saturating_add(1);
                    if peer.misses > t.tko || !running {
                        peer.view = PeerView::Unknown;
                    }
                }
            }
        }
        if own_write {
            peer.marker = Some(marker);
            if peer.view == PeerView::Up {
                peer.incarnation = block.incarnation;
            }
        }
        peer.block = Some(block);
        self.actions.extend(events.into_iter().map(Action::Event));
        notice
    }

    /// Initialisation countdown, score, and shutdown.
    fn advance_own_state(&mut self, _now: BootTime) {
        if self.state == NodeState::Initializing {
            self.init_cycles_left = self.init_cycles_left.saturating_sub(1);
            if self.init_cycles_left > 0 {
                return;
            }
        }
        let sufficient = self.score_ok();
        let was = self.state;
        if !sufficient
            && matches!(
                was,
                NodeState::Initializing | NodeState::Running | NodeState::Master
            )
        {
            self.actions.push_back(Action::Event(Event::ScoreChanged {
                score: self.score,
                sufficient: false,
            }));
            self.bid = None;
            self.message = Message::default();
            self.set_state(NodeState::None);
            self.set_votes(false);
            if self.cfg.fence_on_score_loss && was != NodeState::Initializing {
                let required = self.required_score();
                let score = self.score;
                self.fence(FenceReason::ScoreLost { score, required });
            }
            return;
        }
        if !self.network_view_ok && matches!(was, NodeState::Running | NodeState::Master) {
            // Our membership layer is gone: withdraw (as for a low score, but without
            // fencing) so that a node whose layer works becomes master and grants votes.
            self.bid = None;
            self.message = Message::default();
            self.set_state(NodeState::None);
            self.set_votes(false);
            return;
        }
        if sufficient
            && self.network_view_ok
            && matches!(was, NodeState::Initializing | NodeState::None)
        {
            if was == NodeState::None {
                self.actions.push_back(Action::Event(Event::ScoreChanged {
                    score: self.score,
                    sufficient: true,
                }));
            }
            self.set_state(NodeState::Running);
            self.upgrade_wait_left = self.cfg.timing.upgrade_wait;
        }
    }

    fn live_peers(&self) -> impl Iterator<Item = (NodeId, &Peer)> + '_ {
        self.peer_ids()
            .map(|id| (id, &self.peers[id.0 as usize]))
            .filter(|(_, p)| p.is_up())
    }

    /// Finds the master; abdicates when a live lower id is master too.
    fn resolve_master(&mut self) {
        let lowest_other_master = self
            .live_peers()
            .find(|(_, p)| p.disk_state() == NodeState::Master)
            .map(|(id, _)| id);
        // Master conflict: the higher id abdicates (Red Hat's rule).
        if self.state == NodeState::Master
            && lowest_other_master.is_some_and(|other| other < self.cfg.node)
        {
            self.set_state(NodeState::Running);
            self.upgrade_wait_left = self.cfg.timing.upgrade_wait;
        }
        let master = if self.state == NodeState::Master {
            Some(self.cfg.node)
        } else {
            lowest_other_master
        };
        if master != self.master {
            self.master = master;
            self.actions
                .push_back(Action::Event(Event::MasterChanged(master)));
        }
    }

    /// Bid, acknowledge, or become master.
    fn elect(&mut self) {
        // upgrade_wait counts the cycles since this node became eligible, master or not:
        // a node that joined under a master has served it by the time the master dies.
        if self.state == NodeState::Running {
            self.upgrade_wait_left = self.upgrade_wait_left.saturating_sub(1);
        }
        if self.state == NodeState::Master {
            self.bid = None;
            self.message = Message::default();
            return;
        }
        if self.state != NodeState::Running || self.master.is_some() || self.stopping {
            self.bid = None;
            self.message = Message::default();
            return;
        }
        let me = self.cfg.node;
        // The peers that take part in the election: up and running (a withdrawn or
        // initializing node neither bids nor acknowledges, so it must not hold it up).
        let live: Vec<(NodeId, Message, NodeState)> = self
            .live_peers()
            .map(|(id, p)| (id, p.message(), p.disk_state()))
            .filter(|(_, _, s)| matches!(s, NodeState::Running | NodeState::Master))
            .collect();
        let lower_bidder = live
            .iter()
            .find(|(id, m, s)| *id < me && m.kind == MessageKind::Bid && *s == NodeState::Running)
            .map(|&(id, m, _)| (id, m.seq));
        if let Some(mut bid) = self.bid {
            bid.cycles += 1;
            if let Some((bidder, seq)) = lower_bidder {
                self.bid = None;
                self.ack(bidder, seq);
                return;
            }
            let acks = live
                .iter()
                .filter(|(_, m, _)| m.kind == MessageKind::Ack && m.arg == me.0 && m.seq == bid.seq)
                .count();
            if acks == live.len() && bid.cycles >= self.cfg.timing.master_wait {
                self.bid = None;
                self.message = Message::default();
                self.set_state(NodeState::Master);
                self.master = Some(me);
                self.actions
                    .push_back(Action::Event(Event::MasterChanged(Some(me))));
            } else {
                self.bid = Some(bid);
            }
            return;
        }
        let lowest = live.first().is_none_or(|(id, _, _)| me < *id);
        if lowest && self.upgrade_wait_left == 0 && self.good_passes >= self.cfg.timing.tko {
            self.seq = self.seq.wrapping_add(1);
            self.bid = Some(Bid {
                seq: self.seq,
                cycles: 0,
            });
            self.message = Message {
                kind: MessageKind::Bid,
                seq: self.seq,
                arg: me.0,
            };
        } else if let Some((bidder, seq)) = lower_bidder {
            self.ack(bidder, seq);
        } else {
            self.message = Message::default();
        }
    }

    fn ack(&mut self, bidder: NodeId, seq: u16) {
        self.message = Message {
            kind: MessageKind::Ack,
            seq,
            arg: bidder.0,
        };
    }

    fn compute_masks(&mut self) {
        let mut mask: NodeMask = self
            .live_peers()
            .filter(|(_, p)| matches!(p.disk_state(), NodeState::Running | NodeState::Master))
            .map(|(id, _)| id)
            .collect();
        if matches!(self.state, NodeState::Running | NodeState::Master) {
            mask.insert(self.cfg.node);
        }
        self.mask = mask;
        self.master_mask = if self.state == NodeState::Master {
            match self.network_view {
                // Only the nodes of our own network partition get the votes.
                Some((partition, _)) => mask
                    .iter()
                    .filter(|&n| n == self.cfg.node || partition.contains(n))
                    .collect(),
                None => mask,
            }
        } else {
            NodeMask::new()
        };
    }

    /// The quorate set as the master wrote it (ours when we are master).
    fn master_block_mask(&self) -> NodeMask {
        match self.master {
            Some(m) if m == self.cfg.node => self.master_mask,
            Some(m) => self.peers[m.0 as usize]
                .block
                .as_ref()
                .map_or(NodeMask::new(), |b| b.master_mask),
            None => NodeMask::new(),
        }
    }

    fn update_votes(&mut self) {
        let me = self.cfg.node;
        let held = self.read_ok_this_cycle
            && self.score_ok()
            && match self.state {
                NodeState::Master => true,
                NodeState::Running => {
                    !self.cfg.master_wins && self.master_block_mask().contains(me)
                }
                _ => false,
            };
        self.set_votes(held);
    }

    fn own_block(&mut self) -> StatusBlock {
        self.heartbeat = self.heartbeat.wrapping_add(1);
        let average = if self.write_times.is_empty() {
            Duration::ZERO
        } else {
            self.write_times.iter().sum::<Duration>() / self.write_times.len() as u32
        };
        StatusBlock {
            node: self.cfg.node,
            updated_by: self.cfg.node.0,
            timestamp_ms: 0,
            state: self.state,
            flags: 0,
            score: u16::try_from(self.score.score).unwrap_or(u16::MAX),
            score_max: u16::try_from(self.score.max).unwrap_or(u16::MAX),
            average_write: average,
            last_write: self.write_times.back().copied().unwrap_or_default(),
            incarnation: self.incarnation,
            heartbeat: self.heartbeat,
            message: self.message,
            mask: self.mask,
            master_mask: self.master_mask,
        }
    }

    fn eviction_notice(&self, victim: NodeId) -> StatusBlock {
        let heartbeat = self.peers[victim.0 as usize]
            .block
            .as_ref()
            .map_or(0, |b| b.heartbeat);
        StatusBlock {
            node: victim,
            updated_by: self.cfg.node.0,
            state: NodeState::Evicted,
            incarnation: self.incarnation,
            heartbeat,
            ..StatusBlock::default()
        }
    }

    fn issue_writes(&mut self, mut writes: Vec<StatusBlock>) {
        if self.stopping {
            self.prepare_leaving(&mut writes);
        }
        let not_after = self.last_write_ok + self.cfg.timing.write_deadline();
        if self.phase != Phase::Starting {
            self.phase = Phase::Writing {
                pending: writes.len() as u32,
            };
        }
        for block in writes {
            self.actions.push_back(Action::Write { block, not_after });
        }
    }

    /// While stopping: a master announces Exiting until it can go; then state None.
    fn prepare_leaving(&mut self, writes: &mut [StatusBlock]) {
        let others_alive = self.live_peers().next().is_some();
        let other_master = self
            .live_peers()
            .any(|(_, p)| p.disk_state() == NodeState::Master);
        let leaving_state = if self.state == NodeState::Master || self.state == NodeState::Exiting {
            if others_alive && !other_master {
                NodeState::Exiting
            } else {
                NodeState::None
            }
        } else {
            NodeState::None
        };
        self.set_state(leaving_state);
        if leaving_state == NodeState::None {
            self.set_votes(false);
        }
        if let Some(own) = writes.first_mut() {
            own.state = leaving_state;
            own.message = Message::default();
            if leaving_state == NodeState::None {
                own.mask = NodeMask::new();
                own.master_mask = NodeMask::new();
            }
        }
    }

    fn end_cycle(&mut self, now: BootTime) {
        if self.stopping && self.state == NodeState::None {
            self.phase = Phase::Done;
            self.actions.push_back(Action::Exit(ExitReason::Shutdown));
            return;
        }
        let next_cycle = (self.cycle_started + self.cfg.timing.interval).max(now);
        self.phase = Phase::Idle { next_cycle };
    }
}

/// How often the watchdog is petted while healthy: a quarter of its timeout, between
/// 50 ms and one interval.
fn pet_period(timeout: Duration, timing: &Timing) -> Duration {
    (timeout / 4).clamp(
        Duration::from_millis(50),
        timing.interval.max(Duration::from_millis(50)),
    )
}

impl CoreConfig {
    fn layout_contains(&self, node: NodeId) -> bool {
        (1..=self.layout.max_nodes()).contains(&node.0)
    }
}
