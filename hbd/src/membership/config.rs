//! What the membership core needs from the configuration.

use std::time::Duration;

use crate::config::{HaCf, NodeName};

use super::quorum::QuorumConfig;

/// Timing, nodes, media and votes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipConfig {
    /// Status interval.
    pub keepalive: Duration,
    /// Our deadtime (advertised as `dt`, and applied to peers that advertise none).
    pub deadtime: Duration,
    /// Late-heartbeat threshold.
    pub warntime: Duration,
    /// Deadtime before communications are up.
    pub initdead: Duration,
    /// Deadtime of ping nodes.
    pub deadping: Duration,
    /// Upper bound of the random retransmission-request delay, and the re-request period.
    pub max_rexmit_delay: Duration,
    /// Every normal node, ours included (it is skipped).
    pub nodes: Vec<NodeName>,
    /// Ping nodes (named by address or group name).
    pub ping_nodes: Vec<NodeName>,
    /// Number of media: [`super::LinkId`]s are `0..links`.
    pub links: u16,
    /// Votes.
    pub quorum: QuorumConfig,
    /// Seed of the core's random choices (ACK triggers, retransmission-request delays); the
    /// daemon seeds it from the OS, simulations from their seed.
    pub rng_seed: u64,
}

impl MembershipConfig {
    /// The settings from `ha.cf`: its timing, nodes, ping nodes and media, default votes
    /// (1 per node, 1 per answering ping node, no quorum disk).
    pub fn from_hacf(cf: &HaCf, rng_seed: u64) -> Self {
        Self {
            keepalive: cf.keepalive,
            deadtime: cf.deadtime,
            warntime: cf.warntime,
            initdead: cf.initdead,
            deadping: cf.deadping,
            max_rexmit_delay: cf.max_rexmit_delay,
            nodes: cf.node_names().cloned().collect(),
            ping_nodes: cf
                .ping_nodes
                .iter()
                .map(|p| NodeName::new(&p.name))
                .collect(),
            links: u16::try_from(cf.media.len()).unwrap_or(u16::MAX),
            quorum: QuorumConfig::default(),
            rng_seed,
        }
    }
}
