//! Quorum: whether the partition this node is in may act.
//!
//! # Rule
//!
//! `votes` = the votes of every live normal node in our view (ourselves included: 1 each
//! unless configured otherwise) + `ping_votes` for every ping node that answers + the quorum
//! disk's votes while the quorum-disk daemon says this node holds them.
//! `expected` = the configured expected votes, or else the sum of every configured node's
//! votes + `ping_votes` × the number of ping nodes + the quorum disk's votes.
//! **Quorate when `2 × votes > expected`** (a strict majority).
//!
//! Two nodes and a quorum disk worth 1 vote: expected 3. A node alone with the disk has
//! 1 + 1 = 2 > 1.5 → quorate; the other node, cut off from both, has 1 → not quorate. So the
//! disk breaks the tie, and only one side of a split can win it (qdiskd grants the votes to
//! the master's side). Two nodes without a disk: expected 2, a lone node has 1 → never
//! quorate alone. Ping nodes counted as votes help only when the two sides cannot both
//! reach them; with `ping_votes` 0 they do not count.

use crate::config::NodeName;

/// Votes configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumConfig {
    /// Nodes whose vote is not 1.
    pub node_votes: Vec<(NodeName, u32)>,
    /// Votes of each ping node that answers (0: ping nodes do not count).
    pub ping_votes: u32,
    /// The quorum disk's votes until the qdisk daemon reports them (0: no quorum disk).
    pub qdisk_votes: u32,
    /// Expected votes; `None` computes them from the configuration.
    pub expected_votes: Option<u32>,
}

impl Default for QuorumConfig {
    fn default() -> Self {
        Self {
            node_votes: Vec::new(),
            ping_votes: 1,
            qdisk_votes: 0,
            expected_votes: None,
        }
    }
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuorumStatus {
    /// Votes this partition holds.
    pub votes: u32,
    /// Votes expected.
    pub expected: u32,
    /// `2 × votes > expected`.
    pub quorate: bool,
}

/// The quorum disk as the qdisk daemon reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QdiskVotes {
    /// The disk's votes.
    pub votes: u32,
    /// Whether this node holds them now.
    pub held: bool,
}

/// The quorum calculation.
#[derive(Debug, Clone)]
pub struct Quorum {
    cfg: QuorumConfig,
}

impl Quorum {
    /// A calculator for `cfg`.
    pub fn new(cfg: QuorumConfig) -> Self {
        Self { cfg }
    }

    /// The votes of `node`.
    pub fn votes_of(&self, node: &NodeName) -> u32 {
        self.cfg
            .node_votes
            .iter()
            .find(|(n, _)| n == node)
            .map_or(1, |(_, v)| *v)
    }

    /// The verdict for: `all_nodes` configured (normal) nodes, of which `live` are alive in
    /// our view (ourselves included), `pings` ping nodes of which `pings_up` answer, and
    /// the quorum disk (`None` until the qdisk daemon reported).
    pub fn evaluate<'a>(
        &self,
        all_nodes: impl Iterator<Item = &'a NodeName>,
        live: impl Iterator<Item = &'a NodeName>,
        pings: usize,
        pings_up: usize,
        qdisk: Option<QdiskVotes>,
    ) -> QuorumStatus {
        let qdisk_votes = qdisk.map_or(self.cfg.qdisk_votes, |q| q.votes);
        let ping = |n: usize| self.cfg.ping_votes.saturating_mul(n as u32);
        let expected = self.cfg.expected_votes.unwrap_or_else(|| {
            all_nodes
                .map(|n| self.votes_of(n))
                .fold(0u32, u32::saturating_add)
                .saturating_add(ping(pings))
                .saturating_add(qdisk_votes)
        });
        let votes = live
            .map(|n| self.votes_of(n))
            .fold(0u32, u32::saturating_add)
            .saturating_add(ping(pings_up))
            .saturating_add(if qdisk.is_some_and(|q| q.held) {
                qdisk_votes
            } else {
                0
            });
        QuorumStatus {
            votes,
            expected,
            quorate: is_quorate(votes, expected),
        }
    }
}

/// A strict majority: `2 × votes > expected`.
pub fn is_quorate(votes: u32, expected: u32) -> bool {
    u64::from(votes) * 2 > u64::from(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<NodeName> {
        list.iter().map(|n| NodeName::new(n)).collect()
    }

    fn q(cfg: QuorumConfig, all: &[&str], live: &[&str], qd: Option<QdiskVotes>) -> QuorumStatus {
        let (all, live) = (names(all), names(live));
        Quorum::new(cfg).evaluate(all.iter(), live.iter(), 0, 0, qd)
    }

    #[test]
    fn a_strict_majority_is_needed() {
        assert!(!is_quorate(1, 2));
        assert!(is_quorate(2, 3));
        assert!(!is_quorate(2, 4));
        assert!(is_quorate(3, 4));
        assert!(!is_quorate(0, 0));
    }

    #[test]
    fn two_nodes_and_a_one_vote_disk_break_the_tie() {
        let cfg = QuorumConfig {
            qdisk_votes: 1,
            ..QuorumConfig::default()
        };
        let held = Some(QdiskVotes {
            votes: 1,
            held: true,
        });
        let lost = Some(QdiskVotes {
            votes: 1,
            held: false,
        });
        let with_disk = q(cfg.clone(), &["a", "b"], &["a"], held);
        assert_eq!((with_disk.votes, with_disk.expected), (2, 3));
        assert!(with_disk.quorate);
        let without = q(cfg.clone(), &["a", "b"], &["b"], lost);
        assert_eq!((without.votes, without.expected), (1, 3));
        assert!(!without.quorate);
        // Before qdiskd reports, the configured disk votes are expected but not held.
        let early = q(cfg, &["a", "b"], &["a"], None);
        assert_eq!((early.votes, early.expected, early.quorate), (1, 3, false));
    }

    #[test]
    fn two_nodes_without_a_disk_are_never_quorate_alone() {
        let s = q(QuorumConfig::default(), &["a", "b"], &["a"], None);
        assert_eq!((s.votes, s.expected, s.quorate), (1, 2, false));
        let s = q(QuorumConfig::default(), &["a", "b"], &["a", "b"], None);
        assert!(s.quorate);
    }

    #[test]
    fn configured_votes_ping_nodes_and_expected_votes_count() {
        let cfg = QuorumConfig {
            node_votes: vec![(NodeName::new("a"), 3)],
            ping_votes: 1,
            qdisk_votes: 0,
            expected_votes: None,
        };
        let all = names(&["a", "b", "c"]);
        let live = names(&["b", "c"]);
        let s = Quorum::new(cfg.clone()).evaluate(all.iter(), live.iter(), 2, 1, None);
        assert_eq!((s.votes, s.expected, s.quorate), (3, 7, false));
        let live = names(&["a"]);
        let s = Quorum::new(cfg.clone()).evaluate(all.iter(), live.iter(), 2, 2, None);
        assert_eq!((s.votes, s.expected, s.quorate), (5, 7, true));
        let fixed = QuorumConfig {
            expected_votes: Some(12),
            ..cfg
        };
        let s = Quorum::new(fixed).evaluate(all.iter(), live.iter(), 2, 2, None);
        assert_eq!((s.votes, s.expected, s.quorate), (5, 12, false));
    }
}
