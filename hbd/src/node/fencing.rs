//! The node core's conversation with fenced: one request per victim, a reply deadline,
//! stale replies ignored, and a withdrawal when the victim rejoins.
//!
//! The policy asks for a fence ([`crate::policy::Action::RequestFence`]); this module turns
//! that into a [`FenceTicket`] the driver carries to fenced and back. A reply counts only
//! for the ticket still outstanding for that node: a reply that arrives after its deadline
//! or after a withdrawal is logged and ignored, so it can never confirm a later request.
//! A fenced that does not answer within the deadline is treated as a failed fence; the
//! policy asks again after its retry interval, and fenced joins the new request to the
//! operation it may still be running.

use std::collections::BTreeMap;
use std::time::Duration;

use fenced::history::Outcome;

use crate::membership::Time;
use crate::policy::NodeId;

/// Identifies one fence request from this node to fenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FenceTicket(pub u64);

/// What came back from fenced for a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FenceReply {
    /// The operation ended with this outcome.
    Finished(Outcome),
    /// fenced could not be asked, refused, or the connection broke.
    Error(String),
}

impl FenceReply {
    /// Whether the reply confirms the node fenced (off, or acknowledged down by an
    /// administrator).
    pub fn confirms_fenced(&self) -> bool {
        matches!(self, FenceReply::Finished(o) if o.is_fenced())
    }
}

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    ticket: FenceTicket,
    deadline: Time,
}

/// The requests outstanding at fenced, one per victim.
#[derive(Debug)]
pub(crate) struct FenceTalk {
    reply_timeout: Duration,
    next: u64,
    outstanding: BTreeMap<NodeId, Outstanding>,
}

impl FenceTalk {
    pub(crate) fn new(reply_timeout: Duration) -> Self {
        Self {
            reply_timeout,
            next: 1,
            outstanding: BTreeMap::new(),
        }
    }

    /// A new request for `node`; replaces any outstanding one (whose reply is then stale).
    pub(crate) fn request(&mut self, now: Time, node: NodeId) -> FenceTicket {
        let ticket = FenceTicket(self.next);
        self.next += 1;
        self.outstanding.insert(
            node,
            Outstanding {
                ticket,
                deadline: now + self.reply_timeout,
            },
        );
        ticket
    }

    /// A reply: the node it settles, if the ticket is still outstanding.
    pub(crate) fn reply(&mut self, ticket: FenceTicket) -> Option<NodeId> {
        let node = self
            .outstanding
            .iter()
            .find(|(_, o)| o.ticket == ticket)
            .map(|(n, _)| *n)?;
        self.outstanding.remove(&node);
        Some(node)
    }

    /// The ticket outstanding for `node`, if any.
    pub(crate) fn ticket_of(&self, node: NodeId) -> Option<FenceTicket> {
        self.outstanding.get(&node).map(|o| o.ticket)
    }

    /// Withdraws the outstanding request for `node`; whether there was one.
    pub(crate) fn withdraw(&mut self, node: NodeId) -> bool {
        self.outstanding.remove(&node).is_some()
    }

    /// Requests whose deadline passed at `now`, removed.
    pub(crate) fn expired(&mut self, now: Time) -> Vec<NodeId> {
        let late: Vec<NodeId> = self
            .outstanding
            .iter()
            .filter(|(_, o)| o.deadline <= now)
            .map(|(n, _)| *n)
            .collect();
        for n in &late {
            self.outstanding.remove(n);
        }
        late
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Time> {
        self.outstanding.values().map(|o| o.deadline).min()
    }

    /// How long fenced has to answer.
    pub(crate) fn reply_timeout(&self) -> Duration {
        self.reply_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_outstanding_ticket_settles_a_node() {
        let mut t = FenceTalk::new(Duration::from_secs(10));
        let first = t.request(Time::ZERO, NodeId(1));
        let second = t.request(Time::from_millis(5), NodeId(1));
        assert_eq!(t.reply(first), None, "a replaced request's reply is stale");
        assert_eq!(t.reply(second), Some(NodeId(1)));
        assert_eq!(t.reply(second), None, "a reply counts once");
    }

    #[test]
    fn deadlines_expire_and_withdrawals_make_replies_stale() {
        let mut t = FenceTalk::new(Duration::from_secs(10));
        let a = t.request(Time::ZERO, NodeId(0));
        let _b = t.request(Time::from_millis(1000), NodeId(2));
        assert_eq!(t.next_deadline(), Some(Time::from_millis(10_000)));
        assert_eq!(t.expired(Time::from_millis(9_999)), vec![]);
        assert_eq!(t.expired(Time::from_millis(10_000)), vec![NodeId(0)]);
        assert_eq!(t.reply(a), None, "a reply after the deadline is ignored");
        assert!(t.withdraw(NodeId(2)));
        assert!(!t.withdraw(NodeId(2)));
        assert_eq!(t.next_deadline(), None);
    }
}
