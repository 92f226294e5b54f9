//! Time-driven work: statuses every keepalive, deaths, link and ping timeouts, initdead,
//! retransmission requests; and when the next of them is due.

use super::time::Time;
use super::types::{Action, DeadReason, Event, LinkStatus, LocalState, NodeStatus};
use super::{Membership, GRANULE};

impl Membership {
    /// The time [`Membership::poll_timeout`] asked for has come (calling it earlier or
    /// later is harmless).
    pub fn on_tick(&mut self, now: Time) {
        self.notice_stall(now);
        if self.state != LocalState::Left {
            self.tick(now);
        }
        self.after_input(now);
    }

    fn tick(&mut self, now: Time) {
        let silent = now.since(self.last_status_sent);
        if silent > self.cfg.deadtime && !self.stall_reported {
            self.stall_reported = true;
            self.event(Event::NoLocalHeartbeat { silent });
        }
        let judging = self.may_judge(now);
        let initdead_over = judging && now.since(self.started) > self.cfg.initdead;
        for idx in 0..self.peers.len() {
            self.check_timeout(now, idx);
            self.check_hears_us(now, idx);
            if initdead_over && self.peers[idx].status == NodeStatus::Init {
                self.mark_dead(idx, DeadReason::NeverHeard);
            }
            self.check_links(now, idx);
            if self.peers[idx].is_alive() {
                let every = self.cfg.max_rexmit_delay;
                let mut due = std::mem::take(&mut self.scratch);
                due.clear();
                self.peers[idx].track.due(now, every, &mut due);
                for &seq in &due {
                    let to = self.peers[idx].name.clone();
                    self.actions
                        .push_back(Action::SendRexmitRequest { to, seq });
                }
                self.scratch = due;
            }
        }
        let deadping = self.cfg.deadping;
        let mut died = Vec::new();
        for p in &mut self.pings {
            let overdue = match p.status {
                NodeStatus::Ping => {
                    judging && p.last_reply.is_some_and(|t| now.since(t) > deadping)
                }
                NodeStatus::Init => initdead_over,
                _ => false,
            };
            if overdue {
                p.status = NodeStatus::Dead;
                died.push(p.name.clone());
            }
        }
        for node in died {
            self.event(Event::PingNodeDead { node });
        }
        if now >= self.next_status {
            self.send_status(now);
        }
    }

    /// When the core next needs [`Membership::on_tick`]; `None` after leaving.
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.state == LocalState::Left {
            return None;
        }
        let mut next = self.next_status;
        // Judging timers wait while a stall's grace lasts.
        let floor = self.judge_after.unwrap_or(Time::ZERO);
        let mut consider = |t: Time| {
            let t = t.max(floor);
            if t < next {
                next = t;
            }
        };
        let mut any_init = false;
        for p in &self.peers {
            let timeout = self.timeout_of(p);
            if p.is_alive() {
                if let Some(at) = p.last_status_at {
                    consider(at + timeout + GRANULE);
                }
                // Judged only while its status is fresh (see `check_hears_us`): once the
                // status is older than warntime, the next status re-arms it. Judging waits
                // for a stall's grace too: a grace ending past that is no time to judge.
                // A window already over at the latest input is no timer either (the
                // timeout shrinks from initdead to deadtime at comm up, which can move the
                // due time into a past the status was still fresh in).
                if let (true, Some(at), Some(seen)) = (p.hears_us, p.heard_us_at, p.last_status_at)
                {
                    let due = (at + timeout + GRANULE).max(floor);
                    let fresh_until = seen + self.cfg.warntime;
                    if due <= fresh_until && self.last_input <= fresh_until {
                        consider(due);
                    }
                }
                if let Some(t) = p.track.next_due() {
                    consider(t);
                }
            }
            any_init |= p.status == NodeStatus::Init;
            for l in &p.links {
                if let (LinkStatus::Up, Some(t)) = (l.status, l.last) {
                    consider(t + timeout + GRANULE);
                }
            }
        }
        for p in &self.pings {
            any_init |= p.status == NodeStatus::Init;
            if let (NodeStatus::Ping, Some(t)) = (p.status, p.last_reply) {
                consider(t + self.cfg.deadping + GRANULE);
            }
        }
        if any_init {
            consider(self.started + self.cfg.initdead + GRANULE);
        }
        Some(next)
    }
}

impl Membership {
    /// Marks dead every link of peer `idx` silent past its timeout (not during a stall's
    /// grace).
    pub(super) fn check_links(&mut self, now: Time, idx: usize) {
        if !self.may_judge(now) {
            return;
        }
        let timeout = self.timeout_of(&self.peers[idx]);
        let peer = &mut self.peers[idx];
        let mut dead_links = Vec::new();
        for (i, l) in peer.links.iter_mut().enumerate() {
            if l.status == LinkStatus::Up && l.last.is_some_and(|t| now.since(t) > timeout) {
                l.status = LinkStatus::Dead;
                dead_links.push(i);
            }
        }
        for i in dead_links {
            let node = self.peers[idx].name.clone();
            self.event(Event::LinkDead {
                node,
                link: super::LinkId(i as u16),
            });
        }
    }

    /// Whether deaths may be judged at `now` (not within a stall's grace).
    pub(super) fn may_judge(&self, now: Time) -> bool {
        self.judge_after.is_none_or(|t| now >= t)
    }

    /// Every input starts here: a status overdue by more than a keepalive means this
    /// process did not run (paused, starved, suspended). The packets that queued up meanwhile
    /// are about to be read, and the peers' timestamps are stale, so deaths are not judged
    /// until every live peer had a keepalive and a warntime to be heard again.
    pub(super) fn notice_stall(&mut self, now: Time) {
        if self.state == LocalState::Left {
            return;
        }
        let overdue = now.since(self.next_status);
        if overdue > self.cfg.keepalive {
            let grace = self.cfg.keepalive + self.cfg.warntime;
            let until = now + grace;
            if self.judge_after.is_none_or(|t| t < until) {
                self.judge_after = Some(until);
            }
            let silent = now.since(self.last_status_sent);
            if silent > self.cfg.deadtime && !self.stall_reported {
                self.event(Event::NoLocalHeartbeat { silent });
            }
            // Our status is due now; sending it here keeps one stall from being seen twice.
            self.send_status(now);
            self.event(Event::Stalled { overdue, grace });
        }
    }
}
