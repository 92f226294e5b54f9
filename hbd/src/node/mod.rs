//! The node core: every decision hbd takes on one node, as one pure state machine.
//!
//! [`NodeCore`] owns the membership core ([`crate::membership`]) and the failover policy
//! ([`crate::policy`]) and everything that orders them and talks for them: which view,
//! quorum and death reach the policy and in which order, the quorum disk's vote freshness,
//! the conversation with fenced (requests, reply deadlines, withdrawals, the outcome
//! mapping), resource-group results, `reqnodes` answers, and what fenced is told about
//! quorum and membership. It does no I/O and reads no clock: the driver hands it
//! [`Input`]s with the time (`CLOCK_BOOTTIME`), carries out the [`Action`]s drained from
//! [`NodeCore::poll_action`], and calls [`NodeCore::handle_timeout`] when
//! [`NodeCore::poll_timeout`] is reached. The whole-cluster simulation runs these cores
//! exactly as the daemon does.
//!
//! # Ordering rules
//! - A death reaches the policy inside the view it produced, with that view's quorum
//!   ([`crate::policy::Input::Membership`]): the losing side of a split never fences on
//!   the old verdict.
//! - A graceful leave is known clean before the view without the node is handed over.
//! - Before communication is up the policy sees no views, only deaths (a node seen and lost
//!   during initdead is still fenced).
//! - A node that rejoins withdraws an outstanding fence request for it (fenced cancels the
//!   operation unless a device is being called) and tells fenced it rejoined.
//! - fenced's reply counts only for the request still outstanding; silence past the reply
//!   deadline is a failed fence (retried by the policy).
//! - The quorum disk's votes count only while qdiskd keeps confirming them ([`votes`]).
//! - fenced is told the partition is quorate only once its quorum has held without a break
//!   for the policy's settle time ([`PolicyConfig::quorum_settle`]), and at once when it is
//!   not: a fence it holds back for want of quorum (an earlier request, its startup fencing)
//!   is not carried out on a view formed while this node was cut off. The policy waits as
//!   long before it asks for any fence.
//! - A fence request reaches fenced only while this node is quorate on fresh votes
//!   ([`Membership::fresh_quorum`]: every vote counted was heard within warntime) and its
//!   quorum has held for the settle time; until then the core holds it (under its ticket,
//!   so the reply deadline, a withdrawal or a newer request end it as they would at
//!   fenced). A node cut off from all its voters at once declares them dead one by one, a
//!   few milliseconds apart, and is still quorate on the ones not yet declared: it must
//!   not fence the first one in that moment while the other side fences it.

mod codec;
mod fencing;
mod votes;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use crate::agents::{GroupOutcome, GroupStatus};
use crate::config::NodeName;

use crate::membership::{
    self, Event, LinkId, Membership, MembershipConfig, MsgHandle, NodeStatus, NodeUuid, Time,
};
use crate::policy::{self, AdminCommand, GroupId, NodeId, NodeSet, Policy, PolicyConfig};
use crate::proto::{self, Body};

pub use fencing::{FenceReply, FenceTicket};
pub use votes::QdiskReport;

use fencing::FenceTalk;
use votes::VoteFreshness;

/// A resource-group operation for the driver's agent runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupOp {
    /// Start left to right.
    Start,
    /// Stop right to left.
    Stop,
    /// Check every resource.
    Monitor,
    /// Check every resource at start: does anything of the group still run here?
    Probe,
}

/// What an operation found, as the agent runner reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupResult {
    /// A start or stop ended so.
    Done(GroupOutcome),
    /// A monitor read these statuses.
    Status(GroupStatus),
}

/// What fenced must be told (in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FencedNotice {
    /// Whether this partition is quorate (fenced fences for the cluster only then).
    Quorum(bool),
    /// The current members, once communication is up (startup fencing, averted fencing).
    Membership(Vec<NodeName>),
    /// A node rejoined: pending fence work for it is cancelled, fabric ports unfenced.
    Rejoined(NodeName),
}

/// A message for the driver to sign and send on every link.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// What to send.
    pub body: Body,
    /// Its sequence number (0 for unsequenced `NS_*` packets).
    pub seq: u64,
    /// The node it is for, if only one.
    pub dest: Option<NodeName>,
    /// That node's uuid, when known.
    pub dest_uuid: Option<[u8; 16]>,
}

/// Something that happened, for [`NodeCore::handle`].
#[derive(Debug, Clone)]
pub enum Input {
    /// An authenticated, parsed packet from a medium.
    Packet {
        /// The medium it came on.
        link: LinkId,
        /// The packet.
        msg: proto::Incoming,
    },
    /// A resource-group operation ended.
    Group {
        /// The group.
        group: GroupId,
        /// The operation.
        op: GroupOp,
        /// What it found.
        result: GroupResult,
    },
    /// fenced answered a [`Action::Fence`].
    FenceReply {
        /// The request.
        ticket: FenceTicket,
        /// The answer.
        reply: FenceReply,
    },
    /// qdiskd's latest status (or that it could not be reached).
    Qdisk {
        /// The answer.
        report: QdiskReport,
        /// When it was asked for: a report is good for the vote TTL from then, so an
        /// answer that waited (this process was stalled) is not taken as fresh.
        asked_at: Time,
    },
    /// A ping node answered.
    PingReply(NodeName),
    /// An administrator's command on this node (`hbctl standby|takeover`).
    Admin(AdminCommand),
    /// SIGTERM: stop the local groups, then leave.
    Terminate,
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Sign and send a message on every link.
    Send(Outgoing),
    /// Send one echo request to every ping node.
    PingRound,
    /// Run a group operation; answer [`Input::Group`].
    Group(GroupId, GroupOp),
    /// Ask fenced to power `node` off; answer [`Input::FenceReply`] with the ticket.
    Fence {
        /// The request.
        ticket: FenceTicket,
        /// The victim.
        node: NodeName,
    },
    /// Withdraw this node's request to fence `node` (it rejoined).
    WithdrawFence {
        /// The node.
        node: NodeName,
    },
    /// Tell fenced.
    TellFenced(FencedNotice),
    /// Fence this node now, for this reason.
    SelfFence(String),
    /// Everything is stopped and the leave announced: exit.
    Exit,
}

/// How the node core is set up.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node.
    pub local: NodeName,
    /// Its uuid.
    pub uuid: NodeUuid,
    /// This run's generation (the policy's incarnation too).
    pub generation: u64,
    /// The membership core's configuration.
    pub membership: MembershipConfig,
    /// The policy's configuration.
    pub policy: PolicyConfig,
    /// `Some(reply deadline)` when fenced is configured; without it no fence can succeed
    /// and a dead node's groups stay down.
    pub fenced: Option<Duration>,
    /// `Some(ttl)` when qdiskd is configured: how long a report that this node holds the
    /// disk's votes stays good.
    pub qdisk_vote_ttl: Option<Duration>,
}

/// How long fenced may take to answer a fence request before hbd counts it failed and
/// asks again (fenced joins the new request to an operation still running).
pub const DEFAULT_FENCE_REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a report from qdiskd that this node holds the disk's votes is good for.
pub const DEFAULT_QDISK_VOTE_TTL: Duration = Duration::from_secs(2);

/// One node's decisions. See the [module documentation](self).
#[derive(Debug)]
pub struct NodeCore {
    membership: Membership,
    policy: Policy,
    fencing: Option<FenceTalk>,
    votes: Option<VoteFreshness>,
    payloads: HashMap<MsgHandle, proto::ClusterMsg>,
    next_handle: u64,
    actions: VecDeque<Action>,
    group_state: HashMap<GroupId, &'static str>,
    comm_up: bool,
    left: bool,
    exited: bool,
    replays: u64,
    last_members: Option<NodeSet>,
    /// Since when the membership has been quorate without a break.
    quorate_since: Option<Time>,
    /// When fenced is to be told the partition is quorate (the settle time is up then).
    tell_quorate_at: Option<Time>,
    /// Fence requests held until this node is quorate on fresh votes, with their tickets.
    held_fences: BTreeMap<NodeId, FenceTicket>,
    /// When the settle time that holds them ends, while that is ahead.
    held_wake: Option<Time>,
}

impl NodeCore {
    /// The core of a node starting at `now`.
    pub fn new(cfg: NodeConfig, now: Time) -> Self {
        let qdisk_votes = cfg.membership.quorum.qdisk_votes;
        let membership = Membership::new(
            cfg.membership,
            cfg.local.clone(),
            cfg.uuid,
            cfg.generation,
            now,
        );
        let policy = Policy::new(cfg.policy, now.0);
        let mut core = NodeCore {
            membership,
            policy,
            fencing: cfg.fenced.map(FenceTalk::new),
            votes: cfg
                .qdisk_vote_ttl
                .map(|ttl| VoteFreshness::new(qdisk_votes, ttl)),
            payloads: HashMap::new(),
            next_handle: 0,
            actions: VecDeque::new(),
            group_state: HashMap::new(),
            comm_up: false,
            left: false,
            exited: false,
            replays: 0,
            last_members: None,
            quorate_since: None,
            tell_quorate_at: None,
            held_fences: BTreeMap::new(),
            held_wake: None,
        };
        core.drain(now);
        core
    }

    // ----- outputs -------------------------------------------------------------------

    /// The next thing to do, in order. Drain after every input.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`NodeCore::handle_timeout`] must next be called; `None` once exited.
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.exited {
            return None;
        }
        [
            self.membership.poll_timeout(),
            self.policy.poll_timeout().map(Time),
            self.fencing.as_ref().and_then(FenceTalk::next_deadline),
            self.votes.as_ref().and_then(VoteFreshness::deadline),
            self.tell_quorate_at,
            self.held_fences_wake(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----- inputs --------------------------------------------------------------------

    /// Feeds one input at `now`.
    pub fn handle(&mut self, now: Time, input: Input) {
        if self.exited {
            return;
        }
        match input {
            Input::Packet { link, msg } => self.on_packet(now, link, msg),
            Input::Group { group, op, result } => self.on_group(now, group, op, result),
            Input::FenceReply { ticket, reply } => self.on_fence_reply(now, ticket, reply),
            Input::Qdisk { report, asked_at } => {
                if let Some(v) = &mut self.votes {
                    let master = match &report {
                        QdiskReport::Votes(_, master) => master.clone(),
                        QdiskReport::Unreachable => None,
                    };
                    let votes = v.report(now, asked_at, report);
                    self.membership.on_qdisk(now, votes, master);
                }
            }
            Input::PingReply(name) => self.membership.on_ping_reply(now, &name),
            Input::Admin(cmd) => self.policy.handle(now.0, policy::Input::Admin(cmd)),
            Input::Terminate => {
                if !self.left {
                    tracing::info!("shutting down: stopping local resource groups, then leaving");
                    self.policy.handle(now.0, policy::Input::Shutdown);
                }
            }
        }
        self.drain(now);
        self.release_held_fences(now);
    }

    /// Time passed: runs whatever fell due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.exited {
            return;
        }
        if self.membership.poll_timeout().is_some_and(|t| t <= now) {
            self.membership.on_tick(now);
        }
        self.drain(now);
        if self.tell_quorate_at.is_some_and(|t| t <= now) {
            self.tell_fenced_quorum(now);
        }
        if self.policy.poll_timeout().is_some_and(|t| t <= now.0) {
            self.policy.handle_timeout(now.0);
        }
        let late = self
            .fencing
            .as_mut()
            .map(|f| f.expired(now))
            .unwrap_or_default();
        for id in late {
            let timeout = self
                .fencing
                .as_ref()
                .map_or(Duration::ZERO, FenceTalk::reply_timeout);
            tracing::error!(
                "fenced did not answer the request to fence {} within {}; counted as failed, asked again after the retry interval",
                self.name_of(id),
                humantime::format_duration(timeout)
            );
            self.policy.handle(
                now.0,
                policy::Input::FenceDone {
                    node: id,
                    ok: false,
                },
            );
        }
        if let Some(v) = &mut self.votes {
            if let Some(votes) = v.expire(now) {
                tracing::warn!(
                    "quorum disk: qdiskd did not confirm this node's {} vote(s) within {}; not counted until it does",
                    votes.votes,
                    humantime::format_duration(v.ttl())
                );
                self.membership.on_qdisk(now, votes, None);
            }
        }
        self.drain(now);
        self.release_held_fences(now);
    }

    // ----- queries -------------------------------------------------------------------

    /// The membership core (for status).
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// The policy (for status).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What the driver last ran on each group, in words (`starting`, `running`, ...).
    pub fn group_states(&self) -> &HashMap<GroupId, &'static str> {
        &self.group_state
    }

    /// Replayed packets rejected so far.
    pub fn replays(&self) -> u64 {
        self.replays
    }

    /// Whether the core has finished (left the cluster or fenced itself).
    pub fn has_exited(&self) -> bool {
        self.exited
    }

    /// The node id of `name` in this node's configuration.
    pub fn node_id(&self, name: &NodeName) -> Option<NodeId> {
        self.policy
            .config()
            .nodes
            .iter()
            .position(|n| n == name)
            .map(|i| NodeId(i as u16))
    }

    /// The members of this node's current view, itself included: peers alive in the
    /// membership that hear this node too.
    pub fn members(&self) -> NodeSet {
        let mut set = NodeSet::EMPTY;
        if let Some(me) = self.node_id(self.membership.local()) {
            set.insert(me);
        }
        for n in self.membership.nodes() {
            if matches!(n.status, NodeStatus::Up | NodeStatus::Active) && n.hears_us {
                if let Some(id) = self.node_id(&n.name) {
                    set.insert(id);
                }
            }
        }
        set
    }

    // ----- input handlers ------------------------------------------------------------

    fn name_of(&self, id: NodeId) -> NodeName {
        self.policy
            .config()
            .nodes
            .get(id.index())
            .cloned()
            .unwrap_or_else(|| NodeName::new(&format!("node#{}", id.0)))
    }

    fn new_handle(&mut self) -> MsgHandle {
        let h = MsgHandle(self.next_handle);
        self.next_handle += 1;
        h
    }

    fn on_packet(&mut self, now: Time, link: LinkId, msg: proto::Incoming) {
        let me = &self.membership;
        if msg.header.src.eq_ignore_ascii_case(me.local().as_str())
            && msg.header.src_uuid == Some(me.uuid().0)
            && msg.header.generation == Some(proto::Generation(me.generation()))
        {
            return; // our own broadcast or multicast, looped back
        }
        let handle = if let Body::Cluster(c) = &msg.body {
            let h = self.new_handle();
            self.payloads.insert(h, c.clone());
            Some(h)
        } else {
            None
        };
        match codec::to_membership(&msg, handle) {
            Some(pkt) => self.membership.on_packet(now, link, pkt),
            None => {
                if let Some(h) = handle {
                    self.payloads.remove(&h);
                }
            }
        }
    }

    fn on_group(&mut self, now: Time, g: GroupId, op: GroupOp, result: GroupResult) {
        let input = match (op, result) {
            (GroupOp::Start, GroupResult::Done(GroupOutcome::Started { .. })) => {
                self.group_state.insert(g, "running");
                policy::Input::Started(g)
            }
            // A start whose clean-up could not stop a resource leaves it maybe running:
            // the same as a failed stop (this node fences itself).
            (_, GroupResult::Done(GroupOutcome::StopFailed { .. })) => {
                self.group_state.insert(g, "failed");
                policy::Input::StopFailed(g)
            }
            (GroupOp::Start, _) => {
                self.group_state.insert(g, "failed");
                policy::Input::StartFailed(g)
            }
            (GroupOp::Stop, GroupResult::Done(GroupOutcome::Stopped)) => {
                self.group_state.insert(g, "stopped");
                policy::Input::Stopped(g)
            }
            (GroupOp::Stop, _) => {
                self.group_state.insert(g, "failed");
                policy::Input::StopFailed(g)
            }
            (GroupOp::Monitor, GroupResult::Status(s)) if s.not_running().is_empty() => return,
            (GroupOp::Monitor, _) => policy::Input::MonitorFailed(g),
            (GroupOp::Probe, result) => {
                // Anything but "every resource stopped" is held: it is then stopped where
                // it must not run, and a stop that fails fences.
                let running = !matches!(
                    result,
                    GroupResult::Status(ref s) if s.held() == crate::agents::Held::None
                );
                if running {
                    tracing::warn!(
                        "probe: resource group {} runs here (or could not tell): reported as held",
                        g.0
                    );
                }
                self.group_state
                    .insert(g, if running { "running" } else { "stopped" });
                policy::Input::Probed { group: g, running }
            }
        };
        self.policy.handle(now.0, input);
    }

    fn on_fence_reply(&mut self, now: Time, ticket: FenceTicket, reply: FenceReply) {
        let Some(node) = self.fencing.as_mut().and_then(|f| f.reply(ticket)) else {
            tracing::info!("fenced: a stale answer ({reply:?}) ignored");
            return;
        };
        let ok = reply.confirms_fenced();
        match &reply {
            FenceReply::Finished(o) => tracing::info!("fenced: {}: {o:?}", self.name_of(node)),
            FenceReply::Error(e) => tracing::error!("fencing {} failed: {e}", self.name_of(node)),
        }
        self.policy
            .handle(now.0, policy::Input::FenceDone { node, ok });
    }

    // ----- the cores' actions --------------------------------------------------------

    /// Drains both cores until neither has anything left to do. The policy's actions are
    /// carried out after every membership action, so they follow the view they were decided
    /// on: a fence asked for on a death is seen before the rejoin that withdraws it.
    fn drain(&mut self, now: Time) {
        loop {
            let mut busy = false;
            while let Some(a) = self.membership.poll_action() {
                busy = true;
                self.membership_action(now, a);
                self.drain_policy(now);
            }
            busy |= self.drain_policy(now);
            if !busy {
                return;
            }
        }
    }

    /// Carries out the policy's actions; whether there were any.
    fn drain_policy(&mut self, now: Time) -> bool {
        let mut any = false;
        while let Some(a) = self.policy.poll_action() {
            any = true;
            self.policy_action(now, a);
        }
        any
    }

    fn send(&mut self, body: Body, seq: u64, dest: Option<NodeName>) {
        let dest_uuid = dest
            .as_ref()
            .and_then(|d| self.membership.node(d))
            .and_then(|v| v.uuid)
            .map(|u| u.0);
        self.actions.push_back(Action::Send(Outgoing {
            body,
            seq,
            dest,
            dest_uuid,
        }));
    }

    fn send_cluster(&mut self, now: Time, body: proto::ClusterMsg, dest: Option<NodeName>) {
        let h = self.new_handle();
        self.payloads.insert(h, body);
        if self.membership.send_cluster(now, h, dest).is_none() {
            self.payloads.remove(&h);
        }
    }

    fn membership_action(&mut self, now: Time, a: membership::Action) {
        use membership::Action as A;
        match a {
            A::SendStatus {
                seq,
                state,
                deadtime,
            } => {
                let hears = self.membership.hearing();
                self.send(codec::status_body(state, deadtime, &hears), seq, None);
                self.actions.push_back(Action::PingRound);
            }
            A::SendShutdone { seq } => {
                self.send(Body::Shutdone, seq, None);
                self.left = true;
            }
            A::Transmit { seq, handle, dest } => {
                if let Some(c) = self.payloads.get(&handle).cloned() {
                    self.send(Body::Cluster(c), seq, dest);
                }
            }
            A::Retransmit { seq, msg, dest, .. } => {
                let body = match msg {
                    membership::Sent::Status { state, deadtime } => {
                        codec::status_body(state, deadtime, &self.membership.hearing())
                    }
                    membership::Sent::Shutdone => Body::Shutdone,
                    membership::Sent::Cluster { handle } => match self.payloads.get(&handle) {
                        Some(c) => Body::Cluster(c.clone()),
                        None => return,
                    },
                };
                self.send(body, seq, dest);
            }
            A::Release { handle } | A::Discard { handle } => {
                self.payloads.remove(&handle);
            }
            A::SendRexmitRequest { to, seq } => self.send(codec::rexmit(&to, seq), 0, None),
            A::SendNak { to, seq } => self.send(codec::nak(&to, seq), 0, None),
            A::SendAck { to, seq } => self.send(codec::ack(&to, seq), 0, None),
            A::Deliver { from, handle, .. } => {
                let Some(c) = self.payloads.remove(&handle) else {
                    return;
                };
                if c.msg_type == codec::REQNODES {
                    // heartbeat 3.0.6 waits for this answer before it calls a link up.
                    let body = codec::repnodes(&self.policy.config().nodes, &from);
                    self.send_cluster(now, body, Some(from));
                    return;
                }
                match (codec::policy_msg(&c), self.node_id(&from)) {
                    (Some(msg), Some(id)) => {
                        self.policy
                            .handle(now.0, policy::Input::Message { from: id, msg });
                    }
                    _ => tracing::debug!("message {} from {from} ignored", c.msg_type),
                }
            }
            A::Event(e) => self.membership_event(now, e),
        }
    }

    fn membership_event(&mut self, now: Time, e: Event) {
        match &e {
            Event::LateHeartbeat { node, interval } => tracing::warn!(
                "Late heartbeat: Node {node}: interval {} ms",
                interval.as_millis()
            ),
            Event::NodeDead { .. }
            | Event::ReplayRejected { .. }
            | Event::UuidClash(_)
            | Event::ReturningAfterPartition { .. }
            | Event::NoLocalHeartbeat { .. }
            | Event::TooManyLost { .. }
            | Event::Stalled { .. }
            | Event::NotHearingUs { .. } => tracing::warn!("{}", codec::describe(&e)),
            _ => tracing::info!("{}", codec::describe(&e)),
        }
        match e {
            Event::CommUp => {
                self.comm_up = true;
                self.send_view(now, NodeSet::EMPTY);
                // fenced learns the members first, then the quorum of that view.
                self.tell_fenced_quorum(now);
                self.policy.handle(now.0, policy::Input::CommUp);
            }
            Event::NodeDead { node, reason } => {
                let id = self.node_id(&node);
                if reason == membership::DeadReason::Left {
                    // Known clean first, so the new view never asks to fence it.
                    if let Some(id) = id {
                        self.policy.handle(now.0, policy::Input::NodeLeft(id));
                    }
                    self.view_changed(now);
                } else if let Some(id) = id {
                    // The death goes with the view and quorum it produced.
                    self.send_view(now, NodeSet::from_ids([id]));
                }
            }
            Event::NotHearingUs { node } => {
                // Gone from this side's view as if dead: it must be fenced before what it
                // holds moves (it may still run it, and it does not hear us).
                if let Some(id) = self.node_id(&node) {
                    self.send_view(now, NodeSet::from_ids([id]));
                }
            }
            Event::NodeUp { node }
            | Event::NodeActive { node }
            | Event::HearingUsAgain { node } => {
                // The view with the node first, so the policy never asks afresh for the
                // fence it is about to withdraw.
                self.view_changed(now);
                if let Some(id) = self
                    .node_id(&node)
                    .filter(|id| self.members().contains(*id))
                {
                    self.rejoined(now, id, &node);
                }
            }
            Event::ReplayRejected { .. } => self.replays += 1,
            Event::HeartbeatRestart { node, .. } => {
                if let Some(id) = self.node_id(&node) {
                    self.policy.handle(now.0, policy::Input::PeerRestarted(id));
                }
            }
            Event::QuorumChanged(q) => {
                if !q.quorate {
                    self.quorate_since = None;
                } else if self.quorate_since.is_none() {
                    self.quorate_since = Some(now);
                }
                self.view_changed(now);
                self.tell_fenced_quorum(now);
            }
            _ => {}
        }
    }

    /// Tells fenced whether the partition is quorate: not quorate at once; quorate only
    /// once communication is up (before, the view is not complete, and fenced's startup
    /// fencing would act on members it was not told of yet) and the quorum has held for the
    /// settle time (a fence fenced holds back for want of quorum must not be carried out on
    /// a view formed while this node was cut off): until then a timer waits.
    fn tell_fenced_quorum(&mut self, now: Time) {
        let waiting = self.tell_quorate_at.take().is_some();
        if self.left {
            return;
        }
        let quorate = self.membership.quorum().quorate;
        if !quorate {
            self.actions
                .push_back(Action::TellFenced(FencedNotice::Quorum(false)));
            return;
        }
        if !self.comm_up {
            return;
        }
        let settle = self.policy.config().quorum_settle;
        let since = self.quorate_since.unwrap_or(now);
        let at = since + settle;
        if at > now {
            if !waiting {
                tracing::info!(
                    "fenced is told the partition is quorate once quorum has held for {}",
                    humantime::format_duration(settle)
                );
            }
            self.tell_quorate_at = Some(at);
        } else {
            self.actions
                .push_back(Action::TellFenced(FencedNotice::Quorum(true)));
        }
    }

    /// Why a fence request must not reach fenced now (`None`: it may): this node is not
    /// quorate on votes heard within warntime, or its quorum has not held for the settle
    /// time.
    fn why_not_ask_fenced(&self, now: Time) -> Option<String> {
        let fresh = self.membership.fresh_quorum(now);
        if !fresh.quorate {
            let silent: Vec<String> = self
                .membership
                .stale_voters(now)
                .into_iter()
                .map(|(n, d)| match d {
                    Duration::MAX => format!("{n} never heard"),
                    d => {
                        let ms = Duration::from_millis(d.as_millis() as u64);
                        format!("{n} silent for {}", humantime::format_duration(ms))
                    }
                })
                .collect();
            let q = self.membership.quorum();
            return Some(format!(
                "quorate on {} of {} votes, but only {} were heard within warntime ({}): this node may be the one cut off",
                q.votes,
                q.expected,
                fresh.votes,
                silent.join(", ")
            ));
        }
        match self.quorum_settled_at() {
            Some(at) if at > now => Some(format!(
                "quorum has not held for the settle time yet ({} more)",
                humantime::format_duration(at.since(now))
            )),
            Some(_) => None,
            None => Some("not quorate".to_string()),
        }
    }

    /// When this node's current quorum will have held for the settle time (`None`: not
    /// quorate).
    fn quorum_settled_at(&self) -> Option<Time> {
        self.quorate_since
            .map(|since| since + self.policy.config().quorum_settle)
    }

    /// Sends the held fence requests that may now reach fenced; forgets those whose ticket
    /// is no longer outstanding (withdrawn, timed out, replaced).
    fn release_held_fences(&mut self, now: Time) {
        if self.held_fences.is_empty() {
            return;
        }
        let Some(f) = self.fencing.as_ref() else {
            self.held_fences.clear();
            return;
        };
        self.held_fences
            .retain(|id, ticket| f.ticket_of(*id) == Some(*ticket));
        self.held_wake = self.quorum_settled_at().filter(|&at| at > now);
        if self.held_fences.is_empty() || self.why_not_ask_fenced(now).is_some() {
            return;
        }
        for (id, ticket) in std::mem::take(&mut self.held_fences) {
            let node = self.name_of(id);
            tracing::info!("asking fenced to fence {node} (the request was held until now)");
            self.actions.push_back(Action::Fence { ticket, node });
        }
    }

    /// When a held fence request may next be released by time alone: the end of the settle
    /// time, while it is still ahead (fresh votes come with inputs).
    fn held_fences_wake(&self) -> Option<Time> {
        self.held_wake.filter(|_| !self.held_fences.is_empty())
    }

    /// `node` is alive again: pending fence work for it is withdrawn, fenced is told.
    fn rejoined(&mut self, now: Time, id: NodeId, node: &NodeName) {
        if self.left {
            return;
        }
        if self.fencing.as_mut().is_some_and(|f| f.withdraw(id)) {
            tracing::info!("{node} rejoined: the request to fence it is withdrawn");
            if self.held_fences.remove(&id).is_none() {
                self.actions
                    .push_back(Action::WithdrawFence { node: node.clone() });
            }
            self.policy.handle(now.0, policy::Input::FenceWithdrawn(id));
        }
        self.actions
            .push_back(Action::TellFenced(FencedNotice::Rejoined(node.clone())));
    }

    /// Hands the policy the current view, once communication is up (before, the view is
    /// still filling in).
    fn view_changed(&mut self, now: Time) {
        if self.comm_up {
            self.send_view(now, NodeSet::EMPTY);
        }
    }

    fn send_view(&mut self, now: Time, dead: NodeSet) {
        let members = self.members();
        let quorate = self.membership.quorum().quorate;
        self.policy.handle(
            now.0,
            policy::Input::Membership {
                members,
                quorate,
                dead,
            },
        );
        if self.comm_up && !self.left && self.last_members != Some(members) {
            self.last_members = Some(members);
            let names = members.iter().map(|id| self.name_of(id)).collect();
            self.actions
                .push_back(Action::TellFenced(FencedNotice::Membership(names)));
        }
    }

    fn policy_action(&mut self, now: Time, a: policy::Action) {
        use policy::Action as A;
        match a {
            A::Send { to, msg } => {
                let dest = match to {
                    policy::Dest::All => None,
                    policy::Dest::Node(id) => self.policy.config().nodes.get(id.index()).cloned(),
                };
                let body = codec::policy_body(&msg, dest.as_ref());
                self.send_cluster(now, body, dest);
            }
            A::Start(g) => {
                self.group_state.insert(g, "starting");
                self.actions.push_back(Action::Group(g, GroupOp::Start));
            }
            A::Stop(g) => {
                self.group_state.insert(g, "stopping");
                self.actions.push_back(Action::Group(g, GroupOp::Stop));
            }
            A::Monitor(g) => self.actions.push_back(Action::Group(g, GroupOp::Monitor)),
            A::Probe(g) => {
                self.group_state.insert(g, "probing");
                self.actions.push_back(Action::Group(g, GroupOp::Probe));
            }
            A::RequestFence(id) => {
                let node = self.name_of(id);
                if self.members().contains(id) {
                    // Never ask to fence a node this node sees as a member; the policy
                    // asks again after its retry interval if it still must.
                    tracing::warn!("{node} is a member: no fence asked for");
                    self.policy.handle(
                        now.0,
                        policy::Input::FenceDone {
                            node: id,
                            ok: false,
                        },
                    );
                    return;
                }
                match &mut self.fencing {
                    Some(f) => {
                        let ticket = f.request(now, id);
                        match self.why_not_ask_fenced(now) {
                            None => {
                                self.held_fences.remove(&id);
                                tracing::info!("asking fenced to fence {node}");
                                self.actions.push_back(Action::Fence { ticket, node });
                            }
                            Some(why) => {
                                tracing::warn!(
                                    "the request to fence {node} is held until it may reach fenced: {why}"
                                );
                                self.held_fences.insert(id, ticket);
                            }
                        }
                    }
                    None => {
                        tracing::error!(
                            "node {node} must be fenced before its groups move, but no fenced is configured (--fenced-socket); its groups stay down"
                        );
                        self.policy.handle(
                            now.0,
                            policy::Input::FenceDone {
                                node: id,
                                ok: false,
                            },
                        );
                    }
                }
            }
            A::FenceDeferred { node, until } => {
                let wait = until.saturating_sub(now.0);
                tracing::info!(
                    "fencing of {} waits until quorum has held for {} ({} from now): this node was not quorate until just now, so its view of {} may be out of date",
                    self.name_of(node),
                    humantime::format_duration(self.policy.config().quorum_settle),
                    humantime::format_duration(wait),
                    self.name_of(node),
                );
            }
            A::SelfFence(reason) => {
                self.exited = true;
                self.actions
                    .push_back(Action::SelfFence(format!("{reason:?}")));
            }
            A::ShutdownComplete => {
                // Without hbd fenced has no quorum: it must not fence for a partition it no
                // longer hears of.
                self.actions
                    .push_back(Action::TellFenced(FencedNotice::Quorum(false)));
                self.membership.leave(now);
                while let Some(a) = self.membership.poll_action() {
                    self.membership_action(now, a);
                }
                tracing::info!("left the cluster");
                self.exited = true;
                self.actions.push_back(Action::Exit);
            }
        }
    }
}
