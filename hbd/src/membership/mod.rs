//! Membership: which nodes are alive, over which links, and whether we are quorate —
//! heartbeat's rules as a sans-IO state machine.
//!
//! [`Membership`] does no I/O and reads no clock. The driver feeds it inputs with the
//! current [`Time`] and carries out the [`Action`]s it asks for (quinn's `Connection`
//! shape):
//!
//! - inputs: [`Membership::on_packet`] for every authenticated packet (mapped to an
//!   [`Incoming`]), [`Membership::on_ping_reply`] for every ICMP echo reply from a ping
//!   node, [`Membership::on_tick`] when [`Membership::poll_timeout`] is reached,
//!   [`Membership::on_qdisk`] when the quorum-disk daemon reports, and the local requests
//!   [`Membership::send_cluster`] and [`Membership::leave`];
//! - outputs: drain [`Membership::poll_action`] after every input, then sleep until
//!   [`Membership::poll_timeout`].
//!
//! # Rules (heartbeat 3.0.6 unless marked *ours*)
//!
//! - **Local state** `up` from the start, `active` once communications are up; a status is
//!   sent at once, on every change and every `keepalive`. We advertise `dt` = deadtime
//!   (+2 s during our first 5 s, as heartbeat does).
//! - **Comm up** when every configured node (ping nodes included) was heard or declared
//!   dead; never-heard nodes are declared dead ([`DeadReason::NeverHeard`]) `initdead`
//!   after our start.
//! - **Death**: a peer is dead when no status was accepted from it for the `dt` it
//!   advertises (*ours:* `max(initdead, dt)` before comm up, so a peer is never timed out
//!   below its own `dt`), checked on every tick and before every packet from it. Only
//!   statuses count, whatever link they came on, so a node is dead only when silent on
//!   every link. A status arriving more than `warntime` after the previous one raises
//!   [`Event::LateHeartbeat`]. `shutdone` makes the sender dead at once
//!   ([`DeadReason::Left`]).
//! - **Links**: every accepted or duplicate sequenced packet refreshes the link it came on;
//!   a link silent for the node's deadtime is dead. Links only raise events.
//! - **Generations and replays** (`should_drop_message`): `NS_*` packets are not
//!   generation-checked, only kept when their `dest` is us or absent. A sequenced packet
//!   without a valid seq is dropped; one with a generation below the remembered one is
//!   dropped as a replay ([`Event::ReplayRejected`]). A status with a higher generation is
//!   a restart ([`Event::HeartbeatRestart`] when we knew an earlier one): tracking restarts
//!   and the generation is remembered. A status with the same generation from a node we
//!   declared dead is stale when its seq is not above the last status we accepted (dropped,
//!   changes nothing), else the node is [`Event::ReturningAfterPartition`] and alive again.
//!   The remembered generation only rises, and only through status packets. *Ours:*
//!   non-status packets from a node we do not consider alive, or with a generation above
//!   the remembered one, are dropped (they are not tracked until its status arrives).
//! - **Sequence numbers**: one counter for status, shutdone and cluster messages, from 1
//!   each generation. Duplicates are dropped; a gap records the missing seqs and requests
//!   each one (`NS_rexmit`) after a random delay in [50 ms, `max_rexmit_delay`] (0 ms
//!   lower bound when `max_rexmit_delay` < 100 ms), again every `max_rexmit_delay` while it
//!   is missing and the peer is alive; a gap over 250 resets tracking instead. A late
//!   packet filling a hole is accepted; a NAK gives the hole up.
//! - **Delivery** (*ours*: heartbeat hands packets up as they come): cluster messages are
//!   delivered per sender in seq order, exactly once per generation; a message waits
//!   while a hole below it may still be filled, and is released when the hole fills, is
//!   NAKed, or tracking resets (death, restart, gap over 250).
//! - **ACKs and history**: each peer gets a random trigger in 0..9; we ACK its seq when
//!   `seq % 10 == trigger` and nothing is missing (*ours:* also when a late packet empties
//!   the missing list). We keep our last 500 sequenced messages, trimmed up to the lowest
//!   ACK of the live peers. A retransmission request for a seq the requester ACKed is
//!   ignored; for one we no longer hold (or never sent) we NAK; a message is not resent
//!   twice within `max_rexmit_delay` − 10 ms; a request covers at most 50 seqs.
//! - **Identity**: packets are matched to configured nodes *by name* (*ours*: heartbeat
//!   matches by uuid first, so two machines sharing a uuid land on one node and reject
//!   each other's generations forever). A clone using our uuid under another name, our
//!   name with another uuid or generation, and two peers sharing a uuid are reported once
//!   as [`Event::UuidClash`] and never leave a node stuck.
//! - **Ping nodes** are alive while replies arrive within `deadping`; they only raise
//!   events, and count for quorum ([`quorum`]).

mod config;
mod history;
mod peer;
pub mod quorum;
mod receive;
mod seqtrack;
mod time;
mod timers;
mod types;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::NodeName;

pub use config::MembershipConfig;
pub use history::MAX_HISTORY;
pub use quorum::{is_quorate, QdiskVotes, Quorum, QuorumConfig, QuorumStatus};
pub use seqtrack::{GAP_LIMIT, MAX_MISSING};
pub use time::Time;
pub use types::{
    Action, DeadReason, Event, Incoming, IncomingKind, LinkId, LinkStatus, LocalState, MsgHandle,
    NodeStatus, NodeUuid, PeerState, Sent, UuidClash,
};

use history::History;
use peer::{Peer, PingPeer};

/// Timers fire this long after their threshold: death is "silent for *more than* dt".
pub const GRANULE: Duration = Duration::from_millis(1);
/// How long after start we advertise a longer deadtime.
const START_GRACE: Duration = Duration::from_secs(5);
/// How much longer.
const START_EXTRA_DEADTIME: Duration = Duration::from_secs(2);
/// At most this many seqs are retransmitted per request.
const MAX_REXMIT_PER_REQUEST: u64 = 50;

/// Whether a node is a normal member or a ping node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// A cluster node.
    Normal,
    /// A ping node.
    Ping,
}

/// What we know about a node, for status queries (`cl_status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    /// Its name.
    pub name: NodeName,
    /// Normal or ping.
    pub kind: NodeKind,
    /// Its status in our view.
    pub status: NodeStatus,
    /// The generation we remember (0: none).
    pub generation: u64,
    /// The uuid it last used.
    pub uuid: Option<NodeUuid>,
    /// The deadtime applied to it.
    pub deadtime: Duration,
    /// Its links, by [`LinkId`] (empty for ping nodes).
    pub links: Vec<LinkStatus>,
    /// Whether it hears us (it lists us in its statuses); always true for ping nodes.
    pub hears_us: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Reported {
    Clash(UuidClash),
    Unknown(NodeName),
    UuidChanged(NodeName, NodeUuid),
}

/// One node's membership state machine. See the module documentation.
#[derive(Debug)]
pub struct Membership {
    cfg: MembershipConfig,
    local: NodeName,
    uuid: NodeUuid,
    generation: u64,
    started: Time,
    state: LocalState,
    comm_up: bool,
    peers: Vec<Peer>,
    index: HashMap<NodeName, usize>,
    pings: Vec<PingPeer>,
    history: History,
    next_status: Time,
    last_status_sent: Time,
    stall_reported: bool,
    /// After a stall of this process: no death is judged before this time.
    judge_after: Option<Time>,
    /// The time of the latest input (timers never fall before it).
    last_input: Time,
    quorum: Quorum,
    qdisk: Option<QdiskVotes>,
    /// The quorum disk's master, as qdiskd last reported it.
    qdisk_master: Option<NodeName>,
    last_quorum: Option<QuorumStatus>,
    rng: ChaCha8Rng,
    reported: HashSet<Reported>,
    uuid_owner: HashMap<NodeUuid, NodeName>,
    actions: VecDeque<Action>,
    scratch: Vec<u64>,
}

impl Membership {
    /// The core of node `local` (uuid `local_uuid`, this run's `generation`), started at
    /// `now`: state `up`, a status is the first action.
    pub fn new(
        config: MembershipConfig,
        local: NodeName,
        local_uuid: NodeUuid,
        generation: u64,
        now: Time,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(config.rng_seed);
        let mut peers = Vec::new();
        let mut index = HashMap::new();
        for name in &config.nodes {
            if *name == local || index.contains_key(name) {
                continue;
            }
            index.insert(name.clone(), peers.len());
            let trigger = rng.random_range(0..10);
            peers.push(Peer::new(
                name.clone(),
                config.deadtime,
                config.links,
                trigger,
            ));
        }
        let mut pings: Vec<PingPeer> = Vec::new();
        for name in &config.ping_nodes {
            if pings.iter().any(|p| p.name == *name) {
                continue;
            }
            pings.push(PingPeer {
                name: name.clone(),
                status: NodeStatus::Init,
                last_reply: None,
            });
        }
        let quorum = Quorum::new(config.quorum.clone());
        let mut m = Self {
            cfg: config,
            local,
            uuid: local_uuid,
            generation,
            started: now,
            state: LocalState::Up,
            comm_up: false,
            peers,
            index,
            pings,
            history: History::default(),
            next_status: now,
            last_status_sent: now,
            stall_reported: false,
            judge_after: None,
            last_input: now,
            quorum,
            qdisk: None,
            qdisk_master: None,
            last_quorum: None,
            rng,
            reported: HashSet::new(),
            uuid_owner: HashMap::new(),
            actions: VecDeque::new(),
            scratch: Vec::new(),
        };
        m.event(Event::LocalState(LocalState::Up));
        m.send_status(now);
        m.after_input(now);
        m
    }

    // ----- outputs ---------------------------------------------------------------------

    /// The next thing to do, if any. Drain after every input.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    // ----- local requests --------------------------------------------------------------

    /// Sends a cluster message reliably: assigns its seq (returned), asks for
    /// [`Action::Transmit`] and keeps it for retransmission until every live peer ACKed it
    /// ([`Action::Release`] then). `None` after [`Membership::leave`]: nothing was sent and
    /// the handle stays the driver's.
    pub fn send_cluster(
        &mut self,
        now: Time,
        handle: MsgHandle,
        dest: Option<NodeName>,
    ) -> Option<u64> {
        if self.state == LocalState::Left {
            return None;
        }
        let seq = self.record(now, Sent::Cluster { handle }, dest.clone());
        self.actions
            .push_back(Action::Transmit { seq, handle, dest });
        Some(seq)
    }

    /// Leaves the cluster gracefully: sends `shutdone` so that peers declare us dead at once.
    /// Afterwards the core ignores every input and asks for nothing more; every handle it
    /// held comes back ([`Action::Release`], [`Action::Discard`]).
    pub fn leave(&mut self, now: Time) {
        if self.state == LocalState::Left {
            return;
        }
        let seq = self.record(now, Sent::Shutdone, None);
        self.actions.push_back(Action::SendShutdone { seq });
        self.state = LocalState::Left;
        self.event(Event::LocalState(LocalState::Left));
        let high = self.history.high();
        let mut released = Vec::new();
        self.history.trim_upto(high, |e| {
            if let Sent::Cluster { handle } = e.msg {
                released.push(Action::Release { handle });
            }
        });
        self.actions.extend(released);
        for idx in 0..self.peers.len() {
            let pending = std::mem::take(&mut self.peers[idx].pending);
            self.actions.extend(
                pending
                    .into_values()
                    .map(|handle| Action::Discard { handle }),
            );
        }
        self.after_input(now);
    }

    /// The quorum-disk daemon reports its votes, whether we hold them, and which node is
    /// the disk's master. The disk's votes in the expected votes never shrink: a report of
    /// fewer votes (an unreachable qdiskd reads as 0) keeps the largest number reported or
    /// configured. Held votes count only while the master is this node or a member of our
    /// partition (alive and hearing us): the master grants them within its own partition,
    /// and a partition that lost sight of the master must not count a grant it made before
    /// the partition (so the disk's votes count in one partition at a time, whatever the
    /// lag between the two sides' views).
    pub fn on_qdisk(&mut self, now: Time, qdisk: QdiskVotes, master: Option<NodeName>) {
        self.qdisk_master = master;
        self.notice_stall(now);
        let known = self
            .qdisk
            .map_or(self.cfg.quorum.qdisk_votes, |q| q.votes)
            .max(self.cfg.quorum.qdisk_votes);
        self.qdisk = Some(QdiskVotes {
            votes: qdisk.votes.max(known),
            held: qdisk.held,
        });
        self.after_input(now);
    }

    /// An ICMP echo reply from ping node `node`.
    pub fn on_ping_reply(&mut self, now: Time, node: &NodeName) {
        self.notice_stall(now);
        if self.state != LocalState::Left {
            match self.pings.iter_mut().find(|p| p.name == *node) {
                Some(p) => {
                    p.last_reply = Some(now);
                    if p.status != NodeStatus::Ping {
                        p.status = NodeStatus::Ping;
                        let node = p.name.clone();
                        self.event(Event::PingNodeUp { node });
                    }
                }
                None => self.report_once(Reported::Unknown(node.clone())),
            }
        }
        self.after_input(now);
    }

    // ----- queries ---------------------------------------------------------------------

    /// This node's name.
    pub fn local(&self) -> &NodeName {
        &self.local
    }

    /// This node's uuid.
    pub fn uuid(&self) -> NodeUuid {
        self.uuid
    }

    /// This run's generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Our state.
    pub fn local_state(&self) -> LocalState {
        self.state
    }

    /// Whether communications are up.
    pub fn comm_is_up(&self) -> bool {
        self.comm_up
    }

    /// The current quorum verdict.
    pub fn quorum(&self) -> QuorumStatus {
        self.evaluate_quorum()
    }

    /// The quorum disk's votes this node holds now (0 without a report or when qdiskd
    /// does not grant them to this node).
    pub fn qdisk_votes_held(&self) -> u32 {
        self.qdisk.filter(|q| q.held).map_or(0, |q| q.votes)
    }

    /// Our highest seq so far.
    pub fn last_seq(&self) -> u64 {
        self.history.high()
    }

    /// Messages held for retransmission.
    pub fn history_len(&self) -> usize {
        self.history.held()
    }

    /// Received cluster messages waiting for a hole below them.
    pub fn pending_deliveries(&self) -> usize {
        self.peers.iter().map(|p| p.pending.len()).sum()
    }

    /// Every configured node but us, normal nodes first, in configuration order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeView> + '_ {
        let normal = self.peers.iter().map(|p| NodeView {
            name: p.name.clone(),
            kind: NodeKind::Normal,
            status: p.status,
            generation: p.generation,
            uuid: p.uuid,
            deadtime: p.deadtime,
            links: p.links.iter().map(|l| l.status).collect(),
            hears_us: p.hears_us,
        });
        let pings = self.pings.iter().map(|p| NodeView {
            name: p.name.clone(),
            kind: NodeKind::Ping,
            status: p.status,
            generation: 0,
            uuid: None,
            deadtime: self.cfg.deadping,
            links: Vec::new(),
            hears_us: true,
        });
        normal.chain(pings)
    }

    /// The peers we hear (alive in our view), for the `hears` field of our statuses.
    pub fn hearing(&self) -> Vec<NodeName> {
        self.peers
            .iter()
            .filter(|p| p.is_alive())
            .map(|p| p.name.clone())
            .collect()
    }

    /// One node (not us).
    pub fn node(&self, name: &NodeName) -> Option<NodeView> {
        self.nodes().find(|n| n.name == *name)
    }

    /// A peer's status; `None` for unknown names and for us.
    pub fn status_of(&self, name: &NodeName) -> Option<NodeStatus> {
        if let Some(&idx) = self.index.get(name) {
            return Some(self.peers[idx].status);
        }
        self.pings
            .iter()
            .find(|p| p.name == *name)
            .map(|p| p.status)
    }

    // ----- internals shared by the input handlers --------------------------------------

    fn event(&mut self, e: Event) {
        self.actions.push_back(Action::Event(e));
    }

    fn report_once(&mut self, what: Reported) {
        if self.reported.insert(what.clone()) {
            let e = match what {
                Reported::Clash(c) => Event::UuidClash(c),
                Reported::Unknown(name) => Event::UnknownNode { name },
                Reported::UuidChanged(..) => return,
            };
            self.event(e);
        }
    }

    fn discard(&mut self, handle: Option<MsgHandle>) {
        if let Some(handle) = handle {
            self.actions.push_back(Action::Discard { handle });
        }
    }

    /// The deadtime we advertise now.
    fn advertised_deadtime(&self, now: Time) -> Duration {
        if now.since(self.started) < START_GRACE {
            self.cfg.deadtime + START_EXTRA_DEADTIME
        } else {
            self.cfg.deadtime
        }
    }

    /// The silence after which `peer` is dead.
    fn timeout_of(&self, peer: &Peer) -> Duration {
        if self.comm_up {
            peer.deadtime
        } else {
            peer.deadtime.max(self.cfg.initdead)
        }
    }

    /// A random first retransmission-request delay.
    fn rexmit_delay(rng: &mut ChaCha8Rng, max: Duration) -> Duration {
        let max_ms = max.as_millis() as u64;
        let min_ms = if max_ms < 100 { 0 } else { 50 };
        Duration::from_millis(rng.random_range(min_ms..=max_ms))
    }

    /// Puts a sequenced message in the history; returns its seq.
    fn record(&mut self, now: Time, msg: Sent, dest: Option<NodeName>) -> u64 {
        let (seq, evicted) = self.history.push(now, msg, dest);
        if let Some(e) = evicted {
            if let Sent::Cluster { handle } = e.msg {
                self.actions.push_back(Action::Release { handle });
            }
        }
        seq
    }

    fn send_status(&mut self, now: Time) {
        let state = match self.state {
            LocalState::Up => PeerState::Up,
            LocalState::Active => PeerState::Active,
            LocalState::Left => return,
        };
        let deadtime = self.advertised_deadtime(now);
        let seq = self.record(now, Sent::Status { state, deadtime }, None);
        self.actions.push_back(Action::SendStatus {
            seq,
            state,
            deadtime,
        });
        self.last_status_sent = now;
        self.stall_reported = false;
        self.next_status = now + self.cfg.keepalive;
    }

    fn evaluate_quorum(&self) -> QuorumStatus {
        self.evaluate_quorum_heard_since(None)
    }

    /// The quorum, counting only the members whose last status and the ping nodes whose
    /// last reply came at or after `since` (all of them with `None`).
    fn evaluate_quorum_heard_since(&self, since: Option<Time>) -> QuorumStatus {
        let fresh = |last: Option<Time>| since.is_none_or(|s| last.is_some_and(|t| t >= s));
        let me = (self.state != LocalState::Left).then_some(&self.local);
        let all = std::iter::once(&self.local).chain(self.peers.iter().map(|p| &p.name));
        let live = me.into_iter().chain(
            self.peers
                .iter()
                .filter(|p| p.is_member() && fresh(p.last_status_at))
                .map(|p| &p.name),
        );
        let pings_up = self
            .pings
            .iter()
            .filter(|p| p.status == NodeStatus::Ping && fresh(p.last_reply))
            .count();
        let qdisk = self.qdisk.map(|q| QdiskVotes {
            held: q.held && self.qdisk_master_in_partition(),
            ..q
        });
        self.quorum
            .evaluate(all, live, self.pings.len(), pings_up, qdisk)
    }

    /// The quorum at `now` counting only fresh votes: members whose last status and ping
    /// nodes whose last reply came within `warntime` (the quorum disk's votes count as
    /// [`Membership::quorum`] counts them: qdiskd's confirmations have their own time to
    /// live). A node cut off from every voter at once stays quorate in [`Membership::quorum`]
    /// until the last of them is declared dead, a deadtime after the silence began; in
    /// the moment between two of those deaths it must not act on its quorum. On fresh
    /// votes it is not quorate from `warntime` into the silence.
    pub fn fresh_quorum(&self, now: Time) -> QuorumStatus {
        let since = Time(now.0.saturating_sub(self.cfg.warntime));
        self.evaluate_quorum_heard_since(Some(since))
    }

    /// The voters counted in [`Membership::quorum`] but not in [`Membership::fresh_quorum`]
    /// at `now`, with how long they have been silent (for the log).
    pub fn stale_voters(&self, now: Time) -> Vec<(NodeName, Duration)> {
        let stale = |last: Option<Time>| {
            let silent = last.map_or(Duration::MAX, |t| now.since(t));
            (silent > self.cfg.warntime).then_some(silent)
        };
        let peers = self
            .peers
            .iter()
            .filter(|p| p.is_member())
            .filter_map(|p| stale(p.last_status_at).map(|d| (p.name.clone(), d)));
        let pings = self
            .pings
            .iter()
            .filter(|p| p.status == NodeStatus::Ping)
            .filter_map(|p| stale(p.last_reply).map(|d| (p.name.clone(), d)));
        peers.chain(pings).collect()
    }

    /// Whether the quorum disk's master is this node or a member of our partition.
    fn qdisk_master_in_partition(&self) -> bool {
        match &self.qdisk_master {
            Some(m) if *m == self.local => true,
            Some(m) => self
                .index
                .get(m)
                .is_some_and(|&i| self.peers[i].is_member()),
            None => false,
        }
    }

    /// This node's network partition: itself and the members that hear it (what qdiskd
    /// is told, so its master grants the disk's votes only within its own partition).
    pub fn partition(&self) -> Vec<NodeName> {
        std::iter::once(self.local.clone())
            .chain(
                self.peers
                    .iter()
                    .filter(|p| p.is_member())
                    .map(|p| p.name.clone()),
            )
            .collect()
    }

    /// After every input: comm up, quorum.
    fn after_input(&mut self, now: Time) {
        self.last_input = self.last_input.max(now);
        if !self.comm_up
            && self.peers.iter().all(|p| p.status != NodeStatus::Init)
            && self.pings.iter().all(|p| p.status != NodeStatus::Init)
        {
            self.comm_up = true;
            self.event(Event::CommUp);
            // The deadtime now applies instead of initdead: some peers (and links) may be
            // overdue.
            for idx in 0..self.peers.len() {
                self.check_timeout(now, idx);
                self.check_hears_us(now, idx);
                self.check_links(now, idx);
            }
            if self.state == LocalState::Up {
                self.state = LocalState::Active;
                self.event(Event::LocalState(LocalState::Active));
                self.send_status(now);
            }
        }
        let q = self.evaluate_quorum();
        if self.last_quorum != Some(q) {
            self.last_quorum = Some(q);
            self.event(Event::QuorumChanged(q));
        }
    }
}

#[cfg(test)]
mod tests;
