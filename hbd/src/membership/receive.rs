//! Handling of incoming packets: identity, `should_drop_message`, sequence tracking,
//! status, leave, in-order delivery, ACKs and retransmission requests from peers.

use std::time::Duration;

use super::history::{History, Lookup};
use super::seqtrack::Fit;
use super::time::Time;
use super::types::{
    Action, DeadReason, Event, Incoming, IncomingKind, LinkId, LinkStatus, LocalState, NodeStatus,
    NodeUuid, PeerState, Sent, UuidClash,
};
use super::{Membership, Reported, MAX_REXMIT_PER_REQUEST};

impl Membership {
    /// An authenticated packet arrived on `link`.
    pub fn on_packet(&mut self, now: Time, link: LinkId, pkt: Incoming) {
        self.notice_stall(now);
        self.receive(now, link, pkt);
        self.after_input(now);
    }

    fn receive(&mut self, now: Time, link: LinkId, pkt: Incoming) {
        let handle = match pkt.kind {
            IncomingKind::Cluster { handle } => Some(handle),
            _ => None,
        };
        if self.state == LocalState::Left {
            return self.discard(handle);
        }
        if pkt.from == self.local {
            let own_uuid = pkt.uuid.is_none_or(|u| u == self.uuid);
            let own = own_uuid && (pkt.kind.is_ns() || pkt.generation == self.generation);
            if !own {
                self.report_once(Reported::Clash(UuidClash::OurName {
                    uuid: pkt.uuid,
                    generation: pkt.generation,
                }));
            }
            return self.discard(handle);
        }
        let Some(&idx) = self.index.get(&pkt.from) else {
            self.report_once(Reported::Unknown(pkt.from));
            return self.discard(handle);
        };
        if link.0 >= self.cfg.links {
            return self.discard(handle);
        }
        if let Some(uuid) = pkt.uuid {
            self.check_uuid(idx, uuid);
        }
        // What a tick would have done by now.
        self.check_timeout(now, idx);
        if pkt.kind.is_ns() {
            return self.receive_ns(now, idx, pkt);
        }
        let for_us = pkt.dest.as_ref().is_none_or(|d| *d == self.local);
        let Some(seq) = pkt.seq.filter(|s| *s > 0) else {
            return self.discard(handle);
        };
        let peer = &self.peers[idx];
        if pkt.generation < peer.generation {
            let e = Event::ReplayRejected {
                node: peer.name.clone(),
                generation: pkt.generation,
                current: peer.generation,
            };
            self.event(e);
            return self.discard(handle);
        }
        let is_status = matches!(pkt.kind, IncomingKind::Status { .. });
        if is_status {
            if pkt.generation > peer.generation {
                let old = peer.generation;
                if old > 0 {
                    let node = peer.name.clone();
                    self.event(Event::HeartbeatRestart {
                        node,
                        old,
                        new: pkt.generation,
                    });
                }
                self.restart_tracking(idx, pkt.generation);
            } else if peer.status == NodeStatus::Dead {
                if seq <= peer.last_status_seq {
                    return; // stale: changes nothing
                }
                let node = peer.name.clone();
                self.event(Event::ReturningAfterPartition { node });
            }
        } else if pkt.generation > peer.generation || !peer.is_alive() {
            return self.discard(handle);
        }

        let max = self.cfg.max_rexmit_delay;
        let rng = &mut self.rng;
        let peer = &mut self.peers[idx];
        let receipt = peer
            .track
            .receive(seq, now, || Membership::rexmit_delay(rng, max));
        self.touch_link(now, idx, link);
        let node = self.peers[idx].name.clone();
        if let Some(gap) = receipt.reset_gap {
            self.event(Event::TooManyLost {
                node: node.clone(),
                gap,
            });
        }
        if let Some((first, last)) = receipt.lost {
            self.event(Event::PacketsLost {
                node: node.clone(),
                first,
                last,
            });
        }
        if receipt.fit == Fit::Duplicate {
            return self.discard(handle);
        }
        match pkt.kind {
            IncomingKind::Status {
                state,
                deadtime,
                hears,
            } if seq > self.peers[idx].last_status_seq => {
                let hears_us = hears.is_none_or(|h| h.contains(&self.local));
                self.accept_status(now, idx, seq, state, deadtime, hears_us);
            }
            IncomingKind::Shutdone => self.mark_dead(idx, DeadReason::Left),
            IncomingKind::Cluster { handle } => {
                let peer = &mut self.peers[idx];
                if for_us && seq > peer.delivered_upto && peer.is_alive() {
                    peer.pending.insert(seq, handle);
                } else {
                    self.discard(Some(handle));
                }
            }
            _ => {}
        }
        self.flush(idx, false);
        let peer = &self.peers[idx];
        if peer.is_alive() && peer.track.missing_count() == 0 {
            let trigger = receipt.fit == Fit::New && seq % 10 == peer.ack_trigger;
            if trigger || receipt.filled {
                let seq = peer.track.last().unwrap_or(seq);
                self.actions.push_back(Action::SendAck { to: node, seq });
            }
        }
    }

    /// An `NS_*` packet: no sequence, no generation check.
    fn receive_ns(&mut self, now: Time, idx: usize, pkt: Incoming) {
        if pkt.dest.as_ref().is_some_and(|d| *d != self.local) {
            return;
        }
        match pkt.kind {
            IncomingKind::Rexmit { first, last } => {
                if !self.peers[idx].is_alive() || last < first {
                    return;
                }
                let last = last.min(first.saturating_add(MAX_REXMIT_PER_REQUEST - 1));
                for seq in first..=last {
                    self.serve_rexmit(now, idx, seq);
                }
            }
            IncomingKind::NakRexmit { seq } => {
                let (was, _) = self.peers[idx].track.forget(seq);
                if was {
                    let node = self.peers[idx].name.clone();
                    self.event(Event::IrretrievablyLost { node, seq });
                    self.flush(idx, false);
                }
            }
            IncomingKind::Ack { seq }
                if seq <= self.history.high() && self.peers[idx].is_alive() =>
            {
                let peer = &mut self.peers[idx];
                peer.acked = peer.acked.max(seq);
                self.trim_history();
            }
            _ => {}
        }
    }

    /// Retransmits `seq` to the peer at `idx`, or NAKs it.
    fn serve_rexmit(&mut self, now: Time, idx: usize, seq: u64) {
        let to = self.peers[idx].name.clone();
        if seq <= self.peers[idx].acked {
            return;
        }
        let min_gap = self
            .cfg
            .max_rexmit_delay
            .saturating_sub(Duration::from_millis(10));
        match self.history.lookup(seq) {
            Lookup::Gone => self.actions.push_back(Action::SendNak { to, seq }),
            Lookup::Found(e) => {
                if !History::too_soon(e, now, min_gap) {
                    e.last_sent = now;
                    let (msg, dest) = (e.msg, e.dest.clone());
                    self.actions
                        .push_back(Action::Retransmit { seq, to, msg, dest });
                }
            }
        }
    }

    /// Drops history every live peer acknowledged.
    fn trim_history(&mut self) {
        let Some(low) = self
            .peers
            .iter()
            .filter(|p| p.is_alive())
            .map(|p| p.acked)
            .min()
        else {
            return;
        };
        let mut released = Vec::new();
        self.history.trim_upto(low, |e| {
            if let Sent::Cluster { handle } = e.msg {
                released.push(Action::Release { handle });
            }
        });
        self.actions.extend(released);
    }

    fn check_uuid(&mut self, idx: usize, uuid: NodeUuid) {
        let name = self.peers[idx].name.clone();
        if uuid == self.uuid {
            return self.report_once(Reported::Clash(UuidClash::OurUuid { name }));
        }
        match self.uuid_owner.get(&uuid) {
            Some(owner) if *owner != name => {
                let first = owner.clone();
                self.report_once(Reported::Clash(UuidClash::Shared {
                    uuid,
                    first,
                    second: name.clone(),
                }));
            }
            Some(_) => {}
            None => {
                self.uuid_owner.insert(uuid, name.clone());
            }
        }
        let old = self.peers[idx].uuid.replace(uuid);
        if let Some(old) = old.filter(|o| *o != uuid) {
            if self
                .reported
                .insert(Reported::UuidChanged(name.clone(), uuid))
            {
                self.event(Event::UuidChanged {
                    node: name,
                    old,
                    new: uuid,
                });
            }
        }
    }

    /// A status with a new generation: forget the old incarnation's sequence.
    fn restart_tracking(&mut self, idx: usize, generation: u64) {
        self.flush(idx, true);
        let peer = &mut self.peers[idx];
        peer.track.reset();
        peer.generation = generation;
        peer.last_status_seq = 0;
        peer.last_status_at = None;
        peer.delivered_upto = 0;
        peer.acked = 0;
    }

    fn accept_status(
        &mut self,
        now: Time,
        idx: usize,
        seq: u64,
        state: PeerState,
        deadtime: Option<Duration>,
        hears_us: bool,
    ) {
        let warntime = self.cfg.warntime;
        let default_dt = self.cfg.deadtime;
        let peer = &mut self.peers[idx];
        let was = peer.status;
        peer.last_status_seq = seq;
        let prev = peer.last_status_at.replace(now);
        peer.deadtime = deadtime.unwrap_or(default_dt);
        peer.status = match state {
            PeerState::Up => NodeStatus::Up,
            PeerState::Active => NodeStatus::Active,
        };
        let now_status = peer.status;
        let node = peer.name.clone();
        if let Some(prev) = prev.filter(|_| was.is_alive()) {
            let interval = now.since(prev);
            if interval > warntime {
                self.event(Event::LateHeartbeat {
                    node: node.clone(),
                    interval,
                });
            }
        }
        let peer = &mut self.peers[idx];
        if !was.is_alive() {
            // Coming alive: it has its deadtime to show it hears us.
            peer.heard_us_at = Some(now);
            peer.hears_us = true;
        } else if hears_us {
            peer.heard_us_at = Some(now);
            if !peer.hears_us {
                peer.hears_us = true;
                self.event(Event::HearingUsAgain { node: node.clone() });
            }
        }
        if !was.is_alive() {
            self.event(Event::NodeUp { node: node.clone() });
        }
        if now_status == NodeStatus::Active && was != NodeStatus::Active {
            self.event(Event::NodeActive { node });
        }
    }

    /// Marks the alive peer at `idx` as not hearing us when it has not listed us for its
    /// timeout (not during a stall's grace) while we still hear it: its last status is no
    /// older than warntime. A peer we no longer hear either is no evidence of a one-way cut
    /// (more likely this node is the one cut off): it takes the ordinary way to dead, at the
    /// same time as every other silent peer and ping node, so this node loses quorum before
    /// it could act on a stale view (fence a peer that stopped listing it only because this
    /// node's own link had just gone down).
    pub(super) fn check_hears_us(&mut self, now: Time, idx: usize) {
        if !self.may_judge(now) {
            return;
        }
        let timeout = self.timeout_of(&self.peers[idx]);
        let warntime = self.cfg.warntime;
        let peer = &mut self.peers[idx];
        if peer.is_alive()
            && peer.hears_us
            && peer.heard_us_at.is_some_and(|t| now.since(t) > timeout)
            && peer
                .last_status_at
                .is_some_and(|t| now.since(t) <= warntime)
        {
            peer.hears_us = false;
            let node = peer.name.clone();
            self.event(Event::NotHearingUs { node });
        }
    }

    /// Declares the peer at `idx` dead.
    pub(super) fn mark_dead(&mut self, idx: usize, reason: DeadReason) {
        self.flush(idx, true);
        let peer = &mut self.peers[idx];
        peer.status = NodeStatus::Dead;
        peer.track.reset();
        peer.acked = 0;
        let node = peer.name.clone();
        self.event(Event::NodeDead { node, reason });
    }

    /// Declares the peer at `idx` dead if its status is overdue.
    pub(super) fn check_timeout(&mut self, now: Time, idx: usize) {
        if !self.may_judge(now) {
            return;
        }
        let peer = &self.peers[idx];
        if !peer.is_alive() {
            return;
        }
        if let Some(at) = peer.last_status_at {
            if now.since(at) > self.timeout_of(peer) {
                self.mark_dead(idx, DeadReason::Timeout);
            }
        }
    }

    fn touch_link(&mut self, now: Time, idx: usize, link: LinkId) {
        let peer = &mut self.peers[idx];
        let Some(l) = peer.links.get_mut(link.0 as usize) else {
            return;
        };
        l.last = Some(now);
        if l.status != LinkStatus::Up {
            l.status = LinkStatus::Up;
            let node = peer.name.clone();
            self.event(Event::LinkUp { node, link });
        }
    }

    /// Delivers the waiting cluster messages below the lowest hole (all of them with
    /// `all`), in seq order, each at most once.
    pub(super) fn flush(&mut self, idx: usize, all: bool) {
        let peer = &mut self.peers[idx];
        let bound = if all {
            None
        } else {
            peer.track.lowest_missing()
        };
        while let Some((&seq, _)) = peer.pending.first_key_value() {
            if bound.is_some_and(|b| seq >= b) {
                break;
            }
            let Some((seq, handle)) = peer.pending.pop_first() else {
                break;
            };
            let action = if seq > peer.delivered_upto {
                peer.delivered_upto = seq;
                Action::Deliver {
                    from: peer.name.clone(),
                    seq,
                    handle,
                }
            } else {
                Action::Discard { handle }
            };
            self.actions.push_back(action);
        }
    }
}
