//! What the core remembers about each peer and each of its links.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::NodeName;

use super::seqtrack::SeqTrack;
use super::time::Time;
use super::types::{LinkStatus, MsgHandle, NodeStatus, NodeUuid};

/// One (peer, medium) link.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// Last accepted or duplicate packet on it.
    pub last: Option<Time>,
    /// Its status.
    pub status: LinkStatus,
}

/// A normal peer.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Its name.
    pub name: NodeName,
    /// The uuid it last used.
    pub uuid: Option<NodeUuid>,
    /// Its status in our view.
    pub status: NodeStatus,
    /// The generation we remember (raised only by status packets).
    pub generation: u64,
    /// Seq of its last accepted status in `generation`.
    pub last_status_seq: u64,
    /// When that status arrived.
    pub last_status_at: Option<Time>,
    /// The deadtime it advertises.
    pub deadtime: Duration,
    /// Receive tracking.
    pub track: SeqTrack,
    /// Cluster messages received out of order, waiting for the holes below them.
    pub pending: BTreeMap<u64, MsgHandle>,
    /// Highest seq delivered in `generation` (never deliver at or below it again).
    pub delivered_upto: u64,
    /// Our highest seq it acknowledged.
    pub acked: u64,
    /// Its ACK trigger: we ACK its seq when `seq % 10 == ack_trigger`.
    pub ack_trigger: u64,
    /// Its links, indexed by [`super::LinkId`].
    pub links: Vec<Link>,
    /// Last time it showed it hears us (a status listing us, or one that does not say),
    /// or when it came alive.
    pub heard_us_at: Option<Time>,
    /// Whether it hears us (false once it has not listed us for its deadtime).
    pub hears_us: bool,
}

impl Peer {
    /// A never-heard peer.
    pub fn new(name: NodeName, deadtime: Duration, links: u16, ack_trigger: u64) -> Self {
        Self {
            name,
            uuid: None,
            status: NodeStatus::Init,
            generation: 0,
            last_status_seq: 0,
            last_status_at: None,
            deadtime,
            track: SeqTrack::default(),
            pending: BTreeMap::new(),
            delivered_upto: 0,
            acked: 0,
            ack_trigger,
            links: vec![
                Link {
                    last: None,
                    status: LinkStatus::Init,
                };
                links as usize
            ],
            heard_us_at: None,
            hears_us: true,
        }
    }

    /// Whether it is alive and hears us: a member of our partition.
    pub fn is_member(&self) -> bool {
        self.is_alive() && self.hears_us
    }

    /// Whether it is alive in our view.
    pub fn is_alive(&self) -> bool {
        matches!(self.status, NodeStatus::Up | NodeStatus::Active)
    }
}

/// A ping node.
#[derive(Debug, Clone)]
pub struct PingPeer {
    /// Its name.
    pub name: NodeName,
    /// Init, Ping (answering) or Dead.
    pub status: NodeStatus,
    /// Last reply.
    pub last_reply: Option<Time>,
}
