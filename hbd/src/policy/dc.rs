//! The designated coordinator: rounds, fencing and placement.

use std::time::Duration;

use super::msg::{AdminCommand, ClusterMsg, Placement, Reason, Report, Scope, Stamp};
use super::status::NodeHealth;
use super::types::{NodeId, NodeSet};
use super::{Action, Dest, FenceState, Policy};
use crate::config::AutoFailback;

/// The DC's state, alive while this node is the DC.
#[derive(Debug, Clone)]
pub(crate) struct Coordinator {
    /// The membership the current round was started for.
    view: NodeSet,
    /// First stamp of the current round.
    round_start: Stamp,
    /// Latest announcement (the round's sync, or a placement).
    current: Stamp,
    /// Whether any placement was made in this round (else the sync is resent).
    placed: bool,
    /// Targets seeded from the first complete set of reports.
    seeded: bool,
    pub(crate) targets: Vec<Option<NodeId>>,
    /// When each group's target last changed.
    changed_at: Vec<Stamp>,
    pub(crate) reasons: Vec<Option<Reason>>,
    pins: Vec<Option<NodeId>>,
    standby: Vec<NodeSet>,
    failed: Vec<NodeSet>,
    /// The members (and their incarnations) the latest placement was decided on.
    based_on: Vec<(NodeId, u64)>,
}

impl Coordinator {
    /// A new DC, inheriting administrative state from the last placement this node saw.
    pub(crate) fn new(p: &Policy) -> Self {
        let n = p.cfg.groups.len();
        let (pins, standby, failed) = match &p.placement {
            Some((_, pl)) => (pl.pins.clone(), pl.standby.clone(), pl.failed.clone()),
            None => (
                vec![None; n],
                vec![NodeSet::EMPTY; n],
                vec![NodeSet::EMPTY; n],
            ),
        };
        Coordinator {
            view: NodeSet::EMPTY,
            round_start: Stamp::default(),
            current: Stamp::default(),
            placed: false,
            seeded: false,
            targets: vec![None; n],
            changed_at: vec![Stamp::default(); n],
            reasons: vec![None; n],
            pins,
            standby,
            failed,
            based_on: Vec::new(),
        }
    }

    /// The next plan starts a new round (a member restarted).
    pub(crate) fn force_new_round(&mut self) {
        self.view = NodeSet::EMPTY;
    }

    fn placement(&self) -> Placement {
        Placement {
            stamp: self.current,
            targets: self.targets.clone(),
            reasons: self.reasons.clone(),
            pins: self.pins.clone(),
            standby: self.standby.clone(),
            failed: self.failed.clone(),
            based_on: self.based_on.clone(),
        }
    }
}

impl Policy {
    fn next_stamp(&mut self) -> Stamp {
        self.stamp_seq += 1;
        Stamp {
            incarnation: self.cfg.incarnation,
            seq: self.stamp_seq,
        }
    }

    /// The report of member `m` if it answers the current round: `(report, applied stamp)`.
    fn fresh(&self, dc: &Coordinator, m: NodeId) -> Option<(&Report, Stamp)> {
        let r = self.peers[m.index()].report.as_ref()?;
        match r.applied {
            Some((who, s)) if who == self.me() && s >= dc.round_start => Some((r, s)),
            _ => None,
        }
    }

    /// Resends the latest announcement (lost messages).
    pub(crate) fn dc_resend(&mut self) {
        let Some(dc) = &self.dc else { return };
        if dc.view.is_empty() {
            return;
        }
        let msg = if dc.placed {
            ClusterMsg::Placement(dc.placement())
        } else {
            ClusterMsg::Sync(dc.round_start)
        };
        self.send(Dest::All, msg);
    }

    /// A member reported without having applied the current round: send it the latest
    /// announcement at once rather than at the next resend.
    pub(crate) fn dc_answer_stale(&mut self, from: NodeId) {
        let Some(dc) = &self.dc else { return };
        if dc.view.is_empty() || !self.view.contains(from) || self.fresh(dc, from).is_some() {
            return;
        }
        let msg = if dc.placed {
            ClusterMsg::Placement(dc.placement())
        } else {
            ClusterMsg::Sync(dc.round_start)
        };
        self.send(Dest::Node(from), msg);
    }

    /// Earliest time a fence falls due (a retry, or the end of the quorum's settle time),
    /// if this node is the DC and would act on it.
    pub(crate) fn dc_next_retry(&self) -> Option<Duration> {
        self.dc.as_ref()?;
        if !self.comm_up {
            return None;
        }
        let settle = self.quorum_settles_at();
        self.fence_candidates()
            .filter_map(|i| match self.peers[i].fence {
                FenceState::Idle => settle,
                FenceState::RetryAt(t) => Some(settle.map_or(t, |s| s.max(t))),
                FenceState::Pending => None,
            })
            .min()
    }

    /// When this node's quorum will have held for [`super::PolicyConfig::quorum_settle`],
    /// while that is still ahead: until then it asks for no fence. `None` once it has held
    /// that long (or without quorum: there is no DC then).
    pub(crate) fn quorum_settles_at(&self) -> Option<Duration> {
        let at = self.quorate_since?.saturating_add(self.cfg.quorum_settle);
        (at > self.now).then_some(at)
    }

    /// Nodes that must be fenced: outside the view and not known clean. A retry time of
    /// any other node is never acted on, so it must never be a timer either.
    fn fence_candidates(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.peers.len()).filter(|&i| {
            !self.view.contains(NodeId(i as u16)) && self.peers[i].health != NodeHealth::Clean
        })
    }

    fn start_round(&mut self) {
        let stamp = self.next_stamp();
        let view = self.view;
        let Some(dc) = self.dc.as_mut() else { return };
        dc.view = view;
        dc.round_start = stamp;
        dc.current = stamp;
        dc.placed = false;
        // Marks of nodes that left are forgotten: a node comes back fresh.
        for g in 0..dc.targets.len() {
            dc.standby[g] = NodeSet(dc.standby[g].0 & view.0);
            dc.failed[g] = NodeSet(dc.failed[g].0 & view.0);
            if dc.pins[g].is_some_and(|p| !view.contains(p)) {
                dc.pins[g] = None;
            }
        }
        self.send(Dest::All, ClusterMsg::Sync(stamp));
        self.loopback.push_back(ClusterMsg::Sync(stamp));
    }

    /// Asks for every fence that is due, once quorum has settled.
    pub(crate) fn request_fences(&mut self) {
        if !self.quorate {
            return;
        }
        let now = self.now;
        let due: Vec<usize> = self
            .fence_candidates()
            .filter(|&i| match self.peers[i].fence {
                FenceState::Idle => true,
                FenceState::Pending => false,
                FenceState::RetryAt(t) => t <= now,
            })
            .collect();
        if let Some(until) = self.quorum_settles_at() {
            // Quorate only just now: this view of who is dead may date from a time this
            // node was cut off itself. Those nodes get until then to be heard (the DC's
            // timer, `dc_next_retry`, asks then); their groups wait for the fence.
            for i in due {
                let node = NodeId(i as u16);
                if !self.settle_noted.contains(node) {
                    self.settle_noted.insert(node);
                    self.actions
                        .push_back(Action::FenceDeferred { node, until });
                }
            }
            return;
        }
        for i in due {
            self.peers[i].fence = FenceState::Pending;
            self.actions
                .push_back(Action::RequestFence(NodeId(i as u16)));
        }
    }

    /// Decides; returns whether anything was announced.
    pub(crate) fn plan(&mut self) -> bool {
        if self.dc.as_ref().is_some_and(|dc| dc.view != self.view) {
            self.start_round();
            return true;
        }
        let Some(mut dc) = self.dc.take() else {
            return false;
        };
        let announced = self.plan_with(&mut dc);
        self.dc = Some(dc);
        announced
    }

    fn plan_with(&mut self, dc: &mut Coordinator) -> bool {
        let n = self.cfg.groups.len();
        if !self.comm_up {
            for g in 0..n {
                if dc.targets[g].is_none() {
                    dc.reasons[g] = Some(Reason::WaitingForCommUp);
                }
            }
            return false;
        }
        self.request_fences();
        let gone = |m: NodeId| {
            self.peers[m.index()]
                .report
                .as_ref()
                .is_some_and(|r| r.leaving && r.groups.iter().all(|s| !s.is_held()))
        };
        // A leaving node that reported everything stopped never starts anything again.
        let view: NodeSet = self.view.iter().filter(|&m| !gone(m)).collect();
        if let Some(m) = view.iter().find(|&m| self.fresh(dc, m).is_none()) {
            for g in 0..n {
                if dc.targets[g].is_none() {
                    dc.reasons[g] = Some(Reason::WaitingForReport(m));
                }
            }
            return false;
        }
        // Per member: its id, the stamp it applied, its report.
        let mut info: Vec<(NodeId, Stamp, &Report)> = Vec::with_capacity(view.len());
        for m in view.iter() {
            if let Some((r, s)) = self.fresh(dc, m) {
                info.push((m, s, r));
            }
        }
        let report = |m: NodeId| info.iter().find(|(id, _, _)| *id == m).map(|(_, _, r)| *r);
        // Every round ends in a placement, so members always follow their current DC's.
        let mut changed = !dc.placed;
        if !dc.seeded {
            dc.seeded = true;
            for g in 0..n {
                let mut holders = info.iter().filter(|(_, _, r)| r.groups[g].is_held());
                if let (Some((h, _, r)), None) = (holders.next(), holders.next()) {
                    if !matches!(r.groups[g], super::GroupState::Stopping) {
                        dc.targets[g] = Some(*h);
                    }
                }
            }
        }
        let unclean = (0..self.peers.len())
            .map(|i| NodeId(i as u16))
            .find(|&u| !self.view.contains(u) && self.peers[u.index()].health != NodeHealth::Clean);
        let mut load = vec![0usize; self.peers.len()];
        for t in dc.targets.iter().flatten() {
            if let Some(l) = load.get_mut(t.index()) {
                *l += 1;
            }
        }
        let next = Stamp {
            incarnation: self.cfg.incarnation,
            seq: self.stamp_seq + 1,
        };
        let af = self.cfg.auto_failback;
        for g in 0..n {
            let mut holders = NodeSet::EMPTY;
            for (m, _, r) in &info {
                if r.groups[g].is_held() {
                    holders.insert(*m);
                }
                if r.failed[g] {
                    dc.failed[g].insert(*m);
                }
            }
            let (desired, why) = choose(
                dc,
                g,
                self.cfg.groups[g].preferred,
                view,
                holders,
                &load,
                af,
                &report,
            );
            match dc.targets[g] {
                Some(t) if desired == Some(t) && view.contains(t) => dc.reasons[g] = None,
                Some(t) => {
                    dc.targets[g] = None;
                    dc.changed_at[g] = next;
                    changed = true;
                    if let Some(l) = load.get_mut(t.index()) {
                        *l = l.saturating_sub(1);
                    }
                    dc.reasons[g] = Some(if self.view.contains(t) {
                        Reason::WaitingForStop(t)
                    } else {
                        Reason::WaitingForFence(t)
                    });
                }
                None => match desired {
                    None => dc.reasons[g] = why,
                    Some(d) => {
                        let others = holders.minus(NodeSet::from_ids([d]));
                        if let Some(h) = others.lowest() {
                            dc.reasons[g] = Some(Reason::WaitingForStop(h));
                        } else if let Some((m, _, _)) =
                            info.iter().find(|(_, s, _)| *s < dc.changed_at[g])
                        {
                            dc.reasons[g] = Some(Reason::WaitingForReport(*m));
                        } else if let (true, Some(u)) = (holders.is_empty(), unclean) {
                            dc.reasons[g] = Some(Reason::WaitingForFence(u));
                        } else {
                            dc.targets[g] = Some(d);
                            dc.changed_at[g] = next;
                            dc.reasons[g] = None;
                            load[d.index()] += 1;
                            changed = true;
                        }
                    }
                },
            }
        }
        if !changed {
            return false;
        }
        dc.based_on = info.iter().map(|(m, _, r)| (*m, r.incarnation)).collect();
        self.stamp_seq = next.seq;
        dc.current = next;
        dc.placed = true;
        let p = dc.placement();
        self.send(Dest::All, ClusterMsg::Placement(p.clone()));
        self.loopback.push_back(ClusterMsg::Placement(p));
        true
    }

    /// An administrator's command issued on node `from`.
    pub(crate) fn dc_admin(&mut self, from: NodeId, cmd: AdminCommand) {
        if !self.view.contains(from) {
            return;
        }
        let Some(mut dc) = self.dc.take() else { return };
        let in_scope = |pref: NodeId, scope: Scope| match scope {
            Scope::All => true,
            Scope::Local => pref == from,
            Scope::Foreign => pref != from,
        };
        for g in 0..self.cfg.groups.len() {
            let pref = self.cfg.groups[g].preferred;
            match cmd {
                AdminCommand::Standby(scope) if in_scope(pref, scope) => {
                    // Only when another node could take it (heartbeat: no peer, no standby).
                    let other = self.view.iter().any(|m| {
                        m != from
                            && !dc.standby[g].contains(m)
                            && !dc.failed[g].contains(m)
                            && self.peers[m.index()]
                                .report
                                .as_ref()
                                .is_some_and(|r| r.ready && !r.leaving)
                    });
                    if other {
                        dc.standby[g].insert(from);
                        if dc.pins[g] == Some(from) {
                            dc.pins[g] = None;
                        }
                    }
                }
                AdminCommand::Takeover(scope) if in_scope(pref, scope) => {
                    dc.pins[g] = Some(from);
                    dc.standby[g].remove(from);
                    dc.failed[g].remove(from);
                }
                _ => {}
            }
        }
        self.dc = Some(dc);
    }
}

/// The node group `g` should run on, or why none.
#[allow(clippy::too_many_arguments)]
fn choose<'a>(
    dc: &Coordinator,
    g: usize,
    preferred: NodeId,
    view: NodeSet,
    holders: NodeSet,
    load: &[usize],
    af: AutoFailback,
    report: &impl Fn(NodeId) -> Option<&'a Report>,
) -> (Option<NodeId>, Option<Reason>) {
    let eligible = |m: NodeId| {
        view.contains(m)
            && !dc.standby[g].contains(m)
            && !dc.failed[g].contains(m)
            && report(m).is_some_and(|r| r.ready && !r.leaving)
    };
    let cands: NodeSet = view.iter().filter(|&m| eligible(m)).collect();
    if cands.is_empty() {
        let failed = !NodeSet(dc.failed[g].0 & view.0).is_empty();
        return (
            None,
            Some(if failed {
                Reason::FailedEverywhere
            } else {
                Reason::NoCandidate
            }),
        );
    }
    if let Some(pin) = dc.pins[g].filter(|&p| cands.contains(p)) {
        return (Some(pin), None);
    }
    let stable = |m: NodeId| report(m).is_some_and(|r| r.stable);
    if let Some(c) = dc.targets[g].filter(|&c| cands.contains(c)) {
        if c != preferred && cands.contains(preferred) {
            let back = match af {
                AutoFailback::Off => false,
                AutoFailback::Legacy => true,
                AutoFailback::On => stable(preferred) && stable(c),
            };
            return (Some(if back { preferred } else { c }), None);
        }
        return (Some(c), None);
    }
    // A new place: wait for the preferred node while it is a member still starting up.
    let p_waiting = view.contains(preferred)
        && !dc.standby[g].contains(preferred)
        && !dc.failed[g].contains(preferred)
        && report(preferred).is_some_and(|r| !r.ready && !r.leaving);
    if p_waiting && holders.is_empty() && dc.targets[g].is_none() {
        return (None, Some(Reason::WaitingForPreferred(preferred)));
    }
    if cands.contains(preferred) {
        return (Some(preferred), None);
    }
    let best = cands
        .iter()
        .min_by_key(|m| (load.get(m.index()).copied().unwrap_or(0), m.0));
    (best, None)
}
