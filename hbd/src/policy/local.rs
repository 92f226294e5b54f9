//! The member side: what this node runs, following its DC's placement.

use super::msg::{ClusterMsg, GroupState, Placement, Report, Stamp};
use super::types::{GroupId, NodeId};
use super::{Action, Dest, Done, Policy, SelfFenceReason};

/// This node's view of one of its groups.
#[derive(Debug, Clone)]
pub(crate) struct LocalGroup {
    pub(crate) state: GroupState,
    /// The latest placement from the DC gives the group to this node.
    pub(crate) assigned: bool,
    /// While starting: stop once the start completes.
    pub(crate) then_stop: bool,
    /// While stopping: start again once stopped (restart in place).
    pub(crate) restart: bool,
    /// Failed here (start failed or restarts exhausted) and not yet taken away by the DC.
    pub(crate) failed: bool,
    /// Restarts in place since the group was assigned here.
    pub(crate) restarts: u32,
    pub(crate) next_monitor: Option<std::time::Duration>,
}

impl Default for LocalGroup {
    fn default() -> Self {
        LocalGroup {
            state: GroupState::Stopped,
            assigned: false,
            then_stop: false,
            restart: false,
            failed: false,
            restarts: 0,
            next_monitor: None,
        }
    }
}

impl Policy {
    fn can_start(&self, g: usize) -> bool {
        let l = &self.local[g];
        self.quorate
            && self.follow.is_some()
            && !self.probing()
            && !self.leaving
            && self.done.is_none()
            && l.assigned
            && !l.failed
    }

    fn start(&mut self, g: usize) {
        let l = &mut self.local[g];
        l.state = GroupState::Starting;
        l.then_stop = false;
        l.restart = false;
        self.actions.push_back(Action::Start(GroupId(g as u16)));
        self.report_dirty = true;
    }

    fn stop(&mut self, g: usize) {
        let l = &mut self.local[g];
        l.state = GroupState::Stopping;
        l.restart = false;
        l.next_monitor = None;
        self.actions.push_back(Action::Stop(GroupId(g as u16)));
        self.report_dirty = true;
    }

    /// Stops or arranges to stop a group this node must not keep.
    fn release(&mut self, g: usize) {
        match self.local[g].state {
            GroupState::Running => self.stop(g),
            GroupState::Starting => self.local[g].then_stop = true,
            GroupState::Stopping => self.local[g].restart = false,
            GroupState::Stopped => {}
        }
    }

    /// Whether start-up probes are still out.
    pub(crate) fn probing(&self) -> bool {
        self.unprobed.iter().any(|w| *w)
    }

    /// A start-up probe answered. A group found running is held (and reported so) until
    /// the node knows where it stands: its DC's placement keeps or stops it, and without a
    /// DC once communication is up it is stopped.
    pub(crate) fn on_probed(&mut self, g: GroupId, running: bool) {
        let g = g.index();
        if !self.unprobed.get(g).copied().unwrap_or(false) {
            return;
        }
        self.unprobed[g] = false;
        if running && self.local[g].state == GroupState::Stopped {
            self.local[g].state = GroupState::Running;
            self.local[g].next_monitor = self.cfg.monitor.map(|m| self.now + m.interval);
        }
        self.report_dirty = true;
        if self.leaving {
            // Shutting down: what the probe found is stopped before the node leaves.
            self.local[g].assigned = false;
            self.release(g);
        }
        if self.probing() {
            return;
        }
        self.release_without_dc();
        for g in 0..self.local.len() {
            let l = &self.local[g];
            if l.assigned && l.state == GroupState::Stopped && self.can_start(g) {
                self.start(g);
            } else if !l.assigned
                && self
                    .placement
                    .as_ref()
                    .is_some_and(|(from, _)| self.follow == Some(*from))
            {
                // The DC this node follows already placed it elsewhere (or nowhere).
                self.release(g);
            }
        }
    }

    /// Once communication is up, a node without a DC (no quorum) holds nothing.
    pub(crate) fn release_without_dc(&mut self) {
        if self.comm_up && self.follow.is_none() && !self.probing() {
            for g in 0..self.local.len() {
                self.local[g].assigned = false;
                self.release(g);
            }
        }
    }

    /// A peer restarted: its old reports are void; as DC, a new round waits for its new one.
    pub(crate) fn on_peer_restarted(&mut self, n: NodeId) {
        if n == self.me() {
            return;
        }
        if let Some(p) = self.peers.get_mut(n.index()) {
            p.report = None;
        }
        if let Some(dc) = self.dc.as_mut() {
            dc.force_new_round();
        }
    }

    /// The DC this node follows changed (or there is none any more).
    pub(crate) fn on_follow_changed(&mut self) {
        self.report_dirty = true;
        for l in &mut self.local {
            l.restart = false;
        }
        if self.follow.is_none() {
            // No quorum: release everything.
            for g in 0..self.local.len() {
                self.local[g].assigned = false;
                self.release(g);
            }
        }
    }

    fn accepts(&self, from: NodeId, stamp: Stamp) -> bool {
        self.follow == Some(from)
            && self.peers[from.index()]
                .highwater
                .is_none_or(|hw| stamp >= hw)
    }

    pub(crate) fn on_sync(&mut self, from: NodeId, stamp: Stamp) {
        if !self.accepts(from, stamp) {
            return;
        }
        let hw = &mut self.peers[from.index()].highwater;
        if *hw != Some(stamp) {
            *hw = Some(stamp);
            self.report_dirty = true;
        }
    }

    pub(crate) fn on_placement(&mut self, from: NodeId, p: Placement) {
        let n = self.cfg.groups.len();
        // Decided on this incarnation's report, or not for this node.
        let mine = (self.me(), self.cfg.incarnation);
        if !p.based_on.contains(&mine) {
            return;
        }
        if !self.accepts(from, p.stamp)
            || p.targets.len() != n
            || p.reasons.len() != n
            || p.pins.len() != n
            || p.standby.len() != n
            || p.failed.len() != n
        {
            return;
        }
        let hw = &mut self.peers[from.index()].highwater;
        if *hw != Some(p.stamp) {
            *hw = Some(p.stamp);
            self.report_dirty = true;
        }
        let me = self.me();
        for g in 0..n {
            let mine = p.targets[g] == Some(me);
            let l = &mut self.local[g];
            if mine {
                if !l.assigned {
                    l.restarts = 0;
                }
                l.assigned = true;
                match l.state {
                    GroupState::Stopped => {
                        if self.can_start(g) {
                            self.start(g);
                        }
                    }
                    GroupState::Starting => l.then_stop = false,
                    GroupState::Stopping => l.restart = !l.failed,
                    GroupState::Running => {}
                }
            } else {
                l.assigned = false;
                l.failed = false;
                self.release(g);
            }
        }
        self.placement = Some((from, p));
    }

    pub(crate) fn on_started(&mut self, g: GroupId) {
        let g = g.index();
        if self
            .local
            .get(g)
            .is_none_or(|l| l.state != GroupState::Starting)
        {
            return;
        }
        let l = &self.local[g];
        if l.then_stop || !self.can_start(g) {
            self.stop(g);
            return;
        }
        let l = &mut self.local[g];
        l.state = GroupState::Running;
        l.next_monitor = self.cfg.monitor.map(|m| self.now + m.interval);
        self.report_dirty = true;
    }

    pub(crate) fn on_start_failed(&mut self, g: GroupId) {
        let g = g.index();
        if self
            .local
            .get(g)
            .is_none_or(|l| l.state != GroupState::Starting)
        {
            return;
        }
        // Clean up whatever part started, right to left, like heartbeat's takegroup.
        self.local[g].failed = true;
        self.stop(g);
    }

    pub(crate) fn on_stopped(&mut self, g: GroupId) {
        let g = g.index();
        if self
            .local
            .get(g)
            .is_none_or(|l| l.state != GroupState::Stopping)
        {
            return;
        }
        let restart = self.local[g].restart;
        self.local[g].state = GroupState::Stopped;
        self.local[g].restart = false;
        self.report_dirty = true;
        if restart && self.can_start(g) {
            self.start(g);
        }
    }

    pub(crate) fn on_stop_failed(&mut self, g: GroupId) {
        if self.local.get(g.index()).is_none() {
            return;
        }
        self.self_fence(SelfFenceReason::StopFailed {
            group: g,
            quorate: self.quorate,
        });
    }

    pub(crate) fn on_monitor_failed(&mut self, g: GroupId) {
        let g = g.index();
        if self
            .local
            .get(g)
            .is_none_or(|l| l.state != GroupState::Running)
        {
            return;
        }
        let max = self.cfg.monitor.map_or(0, |m| m.max_restarts);
        let l = &mut self.local[g];
        l.restarts += 1;
        if l.restarts <= max {
            self.stop(g);
            self.local[g].restart = true;
        } else {
            l.failed = true;
            self.stop(g);
        }
    }

    pub(crate) fn run_monitors(&mut self) {
        let Some(m) = self.cfg.monitor else { return };
        for g in 0..self.local.len() {
            let l = &mut self.local[g];
            if l.state == GroupState::Running && l.next_monitor.is_some_and(|t| t <= self.now) {
                l.next_monitor = Some(self.now + m.interval);
                self.actions.push_back(Action::Monitor(GroupId(g as u16)));
            }
        }
    }

    pub(crate) fn on_shutdown(&mut self) {
        self.leaving = true;
        self.report_dirty = true;
        for g in 0..self.local.len() {
            self.local[g].assigned = false;
            self.release(g);
        }
    }

    pub(crate) fn check_shutdown_complete(&mut self) {
        if self.leaving
            && self.done.is_none()
            && !self.probing()
            && self.local.iter().all(|l| l.state == GroupState::Stopped)
        {
            if self.report_dirty {
                self.send_report();
            }
            self.done = Some(Done::Finished);
            self.actions.push_back(Action::ShutdownComplete);
        }
    }

    fn self_fence(&mut self, reason: SelfFenceReason) {
        self.done = Some(Done::SelfFenced);
        self.actions.push_back(Action::SelfFence(reason));
    }

    /// The report this node sends now.
    pub(crate) fn build_report(&self) -> Report {
        let applied = self
            .follow
            .and_then(|dc| self.peers[dc.index()].highwater.map(|s| (dc, s)));
        let busy = self
            .local
            .iter()
            .any(|l| matches!(l.state, GroupState::Starting | GroupState::Stopping));
        Report {
            incarnation: self.cfg.incarnation,
            seq: self.report_seq,
            applied,
            groups: self.local.iter().map(|l| l.state).collect(),
            failed: self.local.iter().map(|l| l.failed).collect(),
            ready: self.comm_up,
            stable: self.comm_up && !busy && !self.leaving,
            leaving: self.leaving,
            digest: Some(self.digest),
        }
    }

    pub(crate) fn send_report(&mut self) {
        self.report_dirty = false;
        self.report_seq += 1;
        let r = self.build_report();
        let me = self.me().index();
        self.peers[me].report = Some(r.clone());
        self.send(Dest::All, ClusterMsg::Report(r));
    }
}
