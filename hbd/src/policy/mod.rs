//! The failover policy: who runs which resource group, as a pure state machine.
//!
//! Every node runs one [`Policy`]. It does no I/O and reads no clock: the driver feeds it
//! [`Input`]s with the current monotonic time, carries out the [`Action`]s drained from
//! [`Policy::poll_action`] after every input, and calls [`Policy::handle_timeout`] when
//! [`Policy::poll_timeout`] is reached. [`Policy::status`] is the view for `hbctl`.
//!
//! # Rules
//!
//! - **One decider.** The designated coordinator (DC) is the lowest node id in the quorate
//!   membership, leaving nodes excluded; every node computes it from its own view. A node
//!   without quorum has no DC.
//! - **Rounds.** A DC starts a round on every view change: it announces a [`Stamp`] and
//!   decides nothing until every member has answered with a [`Report`] that applied a stamp of
//!   the round. A node answers (and obeys) only the node it believes is its DC, and never
//!   acts on an announcement older than one it already applied, so once a member has
//!   answered, no earlier decision (of this DC or any other) can still reach it.
//! - **Placement.** A node starts a group only when its DC's latest [`Placement`] names it,
//!   and stops a group the placement does not give it. To move a group the DC first places it
//!   nowhere, waits until every member has applied that and nobody reports it held, then
//!   names the new node. A group nobody holds is placed only when every configured node
//!   outside the membership is known clean: fenced since it was last seen, or left
//!   gracefully. Until then the DC asks for fencing (and again every `fence_retry` after a
//!   failure) and the group's reason says which fence it waits for. A node the followed
//!   DC's placement names with a newer incarnation than this node knows, from outside this
//!   node's view (a partition that is not transitive), is not known clean any more.
//! - **Quorum loss** (or losing the DC): a node stops everything it holds; a stop that
//!   fails makes it fence itself. A failed stop always self-fences: never half-stopped.
//! - **Quorum settle.** A node that becomes quorate (again, or for the first time) asks for
//!   no fence until its quorum has held without a break for `quorum_settle` (the deadtime):
//!   its view of who is dead may have been formed while it was itself cut off, and the
//!   peers it could not hear are to be heard first. A peer heard in that time is simply a
//!   member again; one still away is fenced when the time is up. Meanwhile the groups of an
//!   unclean node stay down (they wait for its fence, as ever).
//! - **Choice of node.** Pinned node (`takeover`) > current node (with `auto_failback`
//!   `on`: the preferred node once both are stable; `legacy`: the preferred node as soon as
//!   it is back; `off`: stay) > preferred node > least loaded node. Nodes in standby for the
//!   group, nodes the group failed on, nodes not ready (before CommUp) and leaving nodes are
//!   not eligible. Before its first placement a group waits for its preferred node while
//!   that node is a member still starting up.
//! - **Monitoring** (optional): a failed monitor restarts the group in place up to
//!   `max_restarts` times, then the node reports it failed and the DC moves it.
//! - **Graceful shutdown**: the node stops everything, reports, and announces
//!   [`Action::ShutdownComplete`]; the DC places its groups on others without fencing.

mod config;
mod dc;
mod local;
mod msg;
mod status;
mod types;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::Duration;

pub use config::{
    GroupSpec, MonitorConfig, PolicyConfig, PolicyConfigError, DEFAULT_QUORUM_SETTLE,
};
pub use msg::{AdminCommand, ClusterMsg, GroupState, Placement, Reason, Report, Scope, Stamp};
pub use status::{GroupStatus, NodeHealth, NodeStatus, Status};
pub use types::{GroupId, NodeId, NodeSet, MAX_NODES};

use dc::Coordinator;
use local::LocalGroup;

/// Something that happened, fed to [`Policy::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The membership layer's current view: the active members (including this node) and
    /// whether they form a quorate partition (votes of members, ping nodes and qdisk).
    ///
    /// A death comes with the view it produced, never on its own: the decision to fence is
    /// taken with that view's quorum, so a partition that loses quorum with a death never
    /// fences on the old verdict (the losing side of a split must not fence the winner).
    Membership {
        /// Active members.
        members: NodeSet,
        /// Whether this partition has quorum.
        quorate: bool,
        /// Nodes declared dead with this view (silence past deadtime): they must be fenced,
        /// also one this node never had in its view (a death before communication was up).
        /// A node that merely drops out of the view is treated the same.
        dead: NodeSet,
    },
    /// Communication is up (every node heard from or declared dead after initdead).
    CommUp,
    /// A node left gracefully after releasing everything: no fence needed.
    NodeLeft(NodeId),
    /// The result of a [`Action::RequestFence`].
    FenceDone {
        /// The node fenced.
        node: NodeId,
        /// Whether fencing confirmed the node off.
        ok: bool,
    },
    /// The request to fence this node was withdrawn (the node rejoined): no answer will
    /// come; if it goes again it is asked for afresh.
    FenceWithdrawn(NodeId),
    /// What the start-up probe found: whether any part of the group runs here (an unclear
    /// status counts as running: it is then stopped, and a failed stop fences).
    Probed {
        /// The group.
        group: GroupId,
        /// Whether it (or part of it) runs.
        running: bool,
    },
    /// A peer's daemon restarted (a new incarnation) without being declared dead: what it
    /// reported before is void; its probe report decides.
    PeerRestarted(NodeId),
    /// A group started here.
    Started(GroupId),
    /// A group failed to start here.
    StartFailed(GroupId),
    /// A group stopped here (every resource stopped).
    Stopped(GroupId),
    /// A group failed to stop here.
    StopFailed(GroupId),
    /// A running group's monitor failed.
    MonitorFailed(GroupId),
    /// A cluster message from a peer (sender authenticated by the transport).
    Message {
        /// The sender.
        from: NodeId,
        /// The message.
        msg: ClusterMsg,
    },
    /// An administrator's command issued on this node.
    Admin(AdminCommand),
    /// Shut down gracefully.
    Shutdown,
}

/// Where a cluster message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// Every other node.
    All,
    /// One node.
    Node(NodeId),
}

/// Why the node fences itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfFenceReason {
    /// A stop failed: the group may be half-stopped.
    StopFailed {
        /// The group.
        group: GroupId,
        /// Whether the node had quorum at the time.
        quorate: bool,
    },
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a cluster message.
    Send {
        /// Destination.
        to: Dest,
        /// The message.
        msg: ClusterMsg,
    },
    /// Start a group (resources left to right); answer `Started` or `StartFailed`.
    Start(GroupId),
    /// Stop a group (resources right to left); answer `Stopped` or `StopFailed`.
    Stop(GroupId),
    /// Run the group's monitor now; answer `MonitorFailed` if it fails (nothing otherwise).
    Monitor(GroupId),
    /// Find out whether the group runs here (at start); answer `Probed`.
    Probe(GroupId),
    /// Ask fenced to fence a node; answer `FenceDone`.
    RequestFence(NodeId),
    /// Nothing to carry out, something to say (log): this node would ask to fence `node`,
    /// but it became quorate only recently, so the fence waits until quorum has held for
    /// [`PolicyConfig::quorum_settle`], at `until`, in case `node` is heard first. Said once
    /// per node each time the node becomes quorate.
    FenceDeferred {
        /// The node whose fence waits.
        node: NodeId,
        /// When quorum will have held for the settle time (the fence is asked for then).
        until: Duration,
    },
    /// Fence this node now (reboot). The policy does nothing more afterwards.
    SelfFence(SelfFenceReason),
    /// Everything is stopped after `Shutdown`: announce the graceful leave and exit.
    ShutdownComplete,
}

/// A fence request's progress, as tracked by this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FenceState {
    /// Nothing asked.
    Idle,
    /// Asked, no answer yet.
    Pending,
    /// The last attempt failed; ask again at this time.
    RetryAt(Duration),
}

/// What this node knows about one node.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub(crate) health: NodeHealth,
    pub(crate) fence: FenceState,
    pub(crate) fence_failures: u32,
    pub(crate) report: Option<Report>,
    /// Latest announcement applied from this node as DC.
    pub(crate) highwater: Option<Stamp>,
    /// Its latest report said its cluster definition differs from ours (the report itself
    /// is not kept: its ids would be misread).
    pub(crate) differs: bool,
    /// The highest incarnation known of it (its reports, the DC's placements), kept after
    /// it is gone: a newer one is a restart.
    pub(crate) incarnation: u64,
}

/// Why the policy stopped acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Done {
    Finished,
    SelfFenced,
}

/// One node's failover policy. See the [module documentation](self).
#[derive(Debug)]
pub struct Policy {
    pub(crate) cfg: PolicyConfig,
    pub(crate) now: Duration,
    pub(crate) actions: VecDeque<Action>,
    /// Messages from this node to itself.
    pub(crate) loopback: VecDeque<ClusterMsg>,
    pub(crate) view: NodeSet,
    pub(crate) quorate: bool,
    /// Since when this node has been quorate without a break (`None` while it is not).
    pub(crate) quorate_since: Option<Duration>,
    /// Nodes whose fence was said to wait for the quorum to settle, this quorate period.
    pub(crate) settle_noted: NodeSet,
    pub(crate) comm_up: bool,
    pub(crate) peers: Vec<Peer>,
    pub(crate) local: Vec<LocalGroup>,
    pub(crate) leaving: bool,
    pub(crate) done: Option<Done>,
    pub(crate) report_seq: u64,
    pub(crate) report_dirty: bool,
    /// The DC this node follows.
    pub(crate) follow: Option<NodeId>,
    /// Latest placement applied (from any DC), for status and for a new DC to inherit.
    pub(crate) placement: Option<(NodeId, Placement)>,
    pub(crate) next_resend: Duration,
    /// Announcement counter when this node is DC.
    pub(crate) stamp_seq: u64,
    pub(crate) dc: Option<Coordinator>,
    /// Groups whose start-up probe has not answered yet.
    pub(crate) unprobed: Vec<bool>,
    /// This node's cluster definition digest.
    pub(crate) digest: u64,
}

impl Policy {
    /// A policy for a node that has just started, holding nothing.
    pub fn new(cfg: PolicyConfig, now: Duration) -> Self {
        let n = cfg.nodes.len();
        let g = cfg.groups.len();
        let mut peers = vec![
            Peer {
                health: NodeHealth::Unknown,
                fence: FenceState::Idle,
                fence_failures: 0,
                report: None,
                highwater: None,
                differs: false,
                incarnation: 0,
            };
            n
        ];
        if let Some(p) = peers.get_mut(cfg.me.index()) {
            p.health = NodeHealth::Member;
        }
        let mut policy = Policy {
            now,
            actions: VecDeque::new(),
            loopback: VecDeque::new(),
            view: NodeSet::EMPTY,
            quorate: false,
            quorate_since: None,
            settle_noted: NodeSet::EMPTY,
            comm_up: false,
            peers,
            local: vec![LocalGroup::default(); g],
            leaving: false,
            done: None,
            report_seq: 0,
            report_dirty: true,
            follow: None,
            placement: None,
            next_resend: now,
            stamp_seq: 0,
            dc: None,
            unprobed: vec![cfg.probe; g],
            digest: cfg.digest(),
            cfg,
        };
        for (i, waiting) in policy.unprobed.iter().enumerate() {
            if *waiting {
                policy.actions.push_back(Action::Probe(GroupId(i as u16)));
            }
        }
        policy
    }

    /// The configuration.
    pub fn config(&self) -> &PolicyConfig {
        &self.cfg
    }

    /// Feeds one input at time `now` (monotonic). Drain [`Policy::poll_action`] afterwards.
    pub fn handle(&mut self, now: Duration, input: Input) {
        if self.done.is_some() {
            return;
        }
        self.now = self.now.max(now);
        match input {
            Input::Membership {
                members,
                quorate,
                dead,
            } => self.on_membership(members, quorate, dead),
            Input::CommUp => {
                self.comm_up = true;
                self.report_dirty = true;
                self.release_without_dc();
            }
            Input::Probed { group, running } => self.on_probed(group, running),
            Input::PeerRestarted(n) => self.on_peer_restarted(n),
            Input::NodeLeft(n) => self.on_node_left(n),
            Input::FenceDone { node, ok } => self.on_fence_done(node, ok),
            Input::FenceWithdrawn(node) => {
                if let Some(p) = self.peers.get_mut(node.index()) {
                    if p.fence == FenceState::Pending {
                        p.fence = FenceState::Idle;
                    }
                }
            }
            Input::Started(g) => self.on_started(g),
            Input::StartFailed(g) => self.on_start_failed(g),
            Input::Stopped(g) => self.on_stopped(g),
            Input::StopFailed(g) => self.on_stop_failed(g),
            Input::MonitorFailed(g) => self.on_monitor_failed(g),
            Input::Message { from, msg } => {
                if from != self.cfg.me && from.index() < self.cfg.nodes.len() {
                    self.on_message(from, msg);
                }
            }
            Input::Admin(cmd) => self.on_admin(cmd),
            Input::Shutdown => self.on_shutdown(),
        }
        self.settle();
    }

    /// Call when [`Policy::poll_timeout`] is reached.
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.done.is_some() {
            return;
        }
        self.now = self.now.max(now);
        if self.now >= self.next_resend {
            self.next_resend = self.now + self.cfg.resend_interval;
            self.report_dirty = true;
            self.dc_resend();
        }
        if self.dc.is_some() && self.comm_up {
            // A fence retry that fell due, or the end of the quorum's settle time (the
            // round may not be planning right now).
            self.request_fences();
        }
        self.run_monitors();
        self.settle();
    }

    /// When [`Policy::handle_timeout`] must next be called; `None` once done.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.done.is_some() {
            return None;
        }
        let mut t = self.next_resend;
        for g in &self.local {
            if let Some(m) = g.next_monitor {
                t = t.min(m);
            }
        }
        if let Some(r) = self.dc_next_retry() {
            t = t.min(r);
        }
        Some(t)
    }

    /// The next action to carry out, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Whether the policy has finished (shut down, or fenced itself).
    pub fn is_done(&self) -> bool {
        self.done.is_some()
    }

    /// The node this one follows as DC.
    pub fn coordinator(&self) -> Option<NodeId> {
        self.follow
    }

    /// The local state of a group.
    pub fn group_state(&self, g: GroupId) -> Option<GroupState> {
        self.local.get(g.index()).map(|l| l.state)
    }

    pub(crate) fn me(&self) -> NodeId {
        self.cfg.me
    }

    pub(crate) fn send(&mut self, to: Dest, msg: ClusterMsg) {
        self.actions.push_back(Action::Send { to, msg });
    }

    fn on_membership(&mut self, members: NodeSet, quorate: bool, dead: NodeSet) {
        let me = self.me();
        let old = self.view;
        // Only configured nodes; a dead node is no member whatever the view says.
        let known = NodeSet::from_ids((0..self.cfg.nodes.len()).map(|i| NodeId(i as u16)));
        let mut dead = NodeSet(dead.0 & known.0);
        dead.remove(me);
        let mut members = NodeSet(members.0 & known.0).minus(dead);
        let was_quorate = self.quorate;
        self.quorate = quorate && members.contains(me);
        if !self.quorate {
            self.quorate_since = None;
        } else if !was_quorate {
            // Quorate from now on: the settle time starts (see `request_fences`).
            self.quorate_since = Some(self.now);
            self.settle_noted = NodeSet::EMPTY;
        }
        members.insert(me);
        self.view = members;
        for n in NodeSet(old.minus(members).0 | dead.0).iter() {
            self.mark_gone(n, false);
        }
        for n in members.minus(old).iter() {
            let p = &mut self.peers[n.index()];
            p.health = NodeHealth::Member;
            // A fence still being retried is moot once the node is back: it is asked
            // afresh if it goes again (a stale retry time would be a timer in the past).
            if p.fence != FenceState::Pending {
                p.fence = FenceState::Idle;
            }
            p.fence_failures = 0;
        }
    }

    /// A graceful leave: the node released everything, so it is known clean.
    fn on_node_left(&mut self, n: NodeId) {
        if n == self.me() || n.index() >= self.peers.len() {
            return;
        }
        self.view.remove(n);
        self.mark_gone(n, true);
    }

    fn mark_gone(&mut self, n: NodeId, graceful: bool) {
        let p = &mut self.peers[n.index()];
        // Its last word was that it is leaving and holds nothing: it never starts anything
        // again, so this is a graceful leave even if the view change came first.
        let released = p
            .report
            .as_ref()
            .is_some_and(|r| r.leaving && r.groups.iter().all(|s| !s.is_held()));
        if graceful || released {
            p.health = NodeHealth::Clean;
        } else if p.health != NodeHealth::Clean {
            // A node already known clean (and not seen since) stays clean.
            p.health = NodeHealth::Unclean;
        }
        p.report = None;
    }

    fn on_fence_done(&mut self, n: NodeId, ok: bool) {
        let retry = self.now + self.cfg.fence_retry;
        let member = self.view.contains(n);
        let Some(p) = self.peers.get_mut(n.index()) else {
            return;
        };
        if ok {
            p.fence = FenceState::Idle;
            p.fence_failures = 0;
            if !member {
                p.health = NodeHealth::Clean;
                p.report = None;
            }
        } else {
            p.fence_failures += 1;
            p.fence = FenceState::RetryAt(retry);
        }
    }

    /// A member whose cluster definition differs from this node's, if any.
    pub(crate) fn differing_member(&self) -> Option<NodeId> {
        self.view
            .iter()
            .find(|&n| n != self.me() && self.peers[n.index()].differs)
    }

    /// The DC as this node sees it: lowest member that is not leaving. None without quorum,
    /// or while a member's cluster definition differs (ids would be misread).
    fn elect(&self) -> Option<NodeId> {
        if !self.quorate || self.done.is_some() || self.differing_member().is_some() {
            return None;
        }
        let me = self.me();
        let leaving = |n: NodeId| {
            if n == me {
                self.leaving
            } else {
                self.peers[n.index()]
                    .report
                    .as_ref()
                    .is_some_and(|r| r.leaving)
            }
        };
        self.view
            .iter()
            .find(|&n| !leaving(n))
            .or_else(|| self.view.lowest())
    }

    fn update_dc(&mut self) {
        let new = self.elect();
        if new != self.follow {
            self.follow = new;
            self.on_follow_changed();
        }
        let me = Some(self.me());
        if self.follow == me {
            if self.dc.is_none() {
                self.dc = Some(Coordinator::new(self));
            }
        } else {
            self.dc = None;
        }
    }

    /// Runs internal consequences until nothing changes.
    fn settle(&mut self) {
        for _ in 0..64 {
            if self.done.is_some() {
                break;
            }
            self.update_dc();
            let mut progressed = false;
            while let Some(msg) = self.loopback.pop_front() {
                let me = self.me();
                self.on_message(me, msg);
                progressed = true;
            }
            if self.report_dirty && !self.probing() {
                self.send_report();
                progressed = true;
            }
            if self.dc.is_some() && self.plan() {
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        self.check_shutdown_complete();
    }

    fn on_message(&mut self, from: NodeId, msg: ClusterMsg) {
        match msg {
            ClusterMsg::Sync(stamp) => self.on_sync(from, stamp),
            ClusterMsg::Placement(p) => {
                if from != self.me()
                    && self.follow == Some(from)
                    && !self.peers[from.index()].differs
                {
                    self.note_members_out_of_view(&p.based_on);
                }
                self.on_placement(from, p)
            }
            ClusterMsg::Report(r) => {
                if from == self.me() {
                    return;
                }
                let mine = self.digest;
                let p = &mut self.peers[from.index()];
                p.differs = r.digest != Some(mine);
                if p.differs {
                    p.report = None;
                    return;
                }
                p.incarnation = p.incarnation.max(r.incarnation);
                let newer = p
                    .report
                    .as_ref()
                    .is_none_or(|old| (r.incarnation, r.seq) > (old.incarnation, old.seq));
                let restarted = p
                    .report
                    .as_ref()
                    .is_some_and(|old| r.incarnation > old.incarnation);
                if newer
                    && r.groups.len() == self.cfg.groups.len()
                    && r.failed.len() == r.groups.len()
                {
                    p.report = Some(r);
                    if restarted {
                        // A new incarnation: placements decided on the old one are not
                        // for it; a new round includes it.
                        if let Some(dc) = self.dc.as_mut() {
                            dc.force_new_round();
                        }
                    }
                    self.dc_answer_stale(from);
                }
            }
            ClusterMsg::Admin(cmd) => {
                if self.dc.is_some() {
                    self.dc_admin(from, cmd);
                }
            }
        }
    }

    /// The DC this node follows decided on these members (with their incarnations). One
    /// outside this node's view, listed with an incarnation newer than any this node knows,
    /// restarted and joined the DC where this node cannot hear it (the partition is not
    /// transitive): what this node knew of it being clean (it left gracefully, or was
    /// fenced) is out of date, for it may hold groups again. It is unclean until fenced or
    /// seen: should this node become DC, nothing it could hold is placed elsewhere first.
    fn note_members_out_of_view(&mut self, based_on: &[(NodeId, u64)]) {
        for &(n, incarnation) in based_on {
            if n == self.me() || self.view.contains(n) {
                continue;
            }
            let Some(p) = self.peers.get_mut(n.index()) else {
                continue;
            };
            if incarnation > p.incarnation {
                p.incarnation = incarnation;
                if p.health == NodeHealth::Clean {
                    p.health = NodeHealth::Unclean;
                }
            }
        }
    }

    fn on_admin(&mut self, cmd: AdminCommand) {
        match self.follow {
            Some(dc) if dc == self.me() => self.loopback.push_back(ClusterMsg::Admin(cmd)),
            Some(dc) => self.send(Dest::Node(dc), ClusterMsg::Admin(cmd)),
            None => {}
        }
    }
}
