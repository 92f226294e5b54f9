//! The quorum disk's votes as hbd may count them: only while qdiskd keeps confirming them.
//!
//! qdiskd is asked for its status several times a second. A report that this node holds
//! the disk's votes is good for `ttl`; if no new report confirms it by then (qdiskd hung,
//! paused, unreachable, or this node itself was stalled), the votes are no longer held.
//! An unreachable qdiskd never makes the disk's votes vanish from the *expected* votes:
//! the membership core only ever raises them ([`crate::membership::Membership::on_qdisk`]).

use std::time::Duration;

use crate::config::NodeName;
use crate::membership::{QdiskVotes, Time};

/// What qdiskd's latest answer was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QdiskReport {
    /// qdiskd answered: its votes, whether this node holds them, and the disk's master
    /// (its node name), if any.
    Votes(QdiskVotes, Option<NodeName>),
    /// qdiskd could not be reached or did not answer.
    Unreachable,
}

/// Vote freshness.
#[derive(Debug)]
pub(crate) struct VoteFreshness {
    ttl: Duration,
    /// The disk's votes as last reported (or configured).
    votes: u32,
    /// While held: until when.
    held_until: Option<Time>,
}

impl VoteFreshness {
    pub(crate) fn new(configured_votes: u32, ttl: Duration) -> Self {
        Self {
            ttl,
            votes: configured_votes,
            held_until: None,
        }
    }

    /// A report asked for at `asked_at`, handed over at `now`: what the membership core
    /// must be told. Held votes are good for the TTL from when they were asked for.
    pub(crate) fn report(&mut self, now: Time, asked_at: Time, r: QdiskReport) -> QdiskVotes {
        match r {
            QdiskReport::Votes(v, _) => {
                self.votes = v.votes;
                let until = asked_at + self.ttl;
                self.held_until = (v.held && until > now).then_some(until);
                QdiskVotes {
                    votes: v.votes,
                    held: self.held_until.is_some(),
                }
            }
            QdiskReport::Unreachable => {
                self.held_until = None;
                QdiskVotes {
                    votes: self.votes,
                    held: false,
                }
            }
        }
    }

    /// At `now`: `Some` with what to tell the membership core when held votes just expired.
    pub(crate) fn expire(&mut self, now: Time) -> Option<QdiskVotes> {
        match self.held_until {
            Some(t) if t <= now => {
                self.held_until = None;
                Some(QdiskVotes {
                    votes: self.votes,
                    held: false,
                })
            }
            _ => None,
        }
    }

    /// When held votes expire.
    pub(crate) fn deadline(&self) -> Option<Time> {
        self.held_until
    }

    /// How long a report is good for.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_votes_expire_unless_confirmed() {
        let mut f = VoteFreshness::new(1, Duration::from_secs(2));
        let held = QdiskVotes {
            votes: 1,
            held: true,
        };
        assert_eq!(
            f.report(Time::ZERO, Time::ZERO, QdiskReport::Votes(held, None)),
            held
        );
        assert_eq!(f.expire(Time::from_millis(1999)), None);
        let t = Time::from_millis(1500);
        f.report(t, t, QdiskReport::Votes(held, None));
        assert_eq!(f.expire(Time::from_millis(3000)), None);
        assert_eq!(
            f.expire(Time::from_millis(3500)),
            Some(QdiskVotes {
                votes: 1,
                held: false
            })
        );
        assert_eq!(f.deadline(), None);
    }

    #[test]
    fn an_answer_that_waited_past_the_ttl_is_not_taken_as_fresh() {
        let mut f = VoteFreshness::new(1, Duration::from_secs(2));
        let held = QdiskVotes {
            votes: 1,
            held: true,
        };
        // Asked at 0, handed over at 5 s (the process was stopped in between).
        let v = f.report(
            Time::from_millis(5000),
            Time::ZERO,
            QdiskReport::Votes(held, None),
        );
        assert!(!v.held);
        assert_eq!(f.deadline(), None);
        // Asked at 4 s, handed over at 5 s: good until 6 s.
        let v = f.report(
            Time::from_millis(5000),
            Time::from_millis(4000),
            QdiskReport::Votes(held, None),
        );
        assert!(v.held);
        assert_eq!(f.deadline(), Some(Time::from_millis(6000)));
    }

    #[test]
    fn an_unreachable_qdiskd_keeps_the_votes_but_not_the_hold() {
        let mut f = VoteFreshness::new(3, Duration::from_secs(2));
        let v = f.report(Time::ZERO, Time::ZERO, QdiskReport::Unreachable);
        assert_eq!(
            v,
            QdiskVotes {
                votes: 3,
                held: false
            }
        );
    }
}
