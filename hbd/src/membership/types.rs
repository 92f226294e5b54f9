//! The core's inputs ([`Incoming`]) and outputs ([`Action`], [`Event`]).

use std::fmt;
use std::time::Duration;

use crate::config::NodeName;

use super::quorum::QuorumStatus;

/// A heartbeat medium, as an index into the driver's list of media (`ha.cf` order). Every
/// (peer, medium) pair is one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u16);

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "link {}", self.0)
    }
}

/// A node's UUID (`srcuuid` on the wire): 16 raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeUuid(pub [u8; 16]);

impl fmt::Display for NodeUuid {
    /// The usual 8-4-4-4-12 hex form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// An opaque reference to a cluster message's payload, chosen by the driver. The core never
/// looks inside; it hands the handle back in [`Action::Deliver`], [`Action::Discard`],
/// [`Action::Transmit`], [`Action::Retransmit`] and [`Action::Release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MsgHandle(pub u64);

/// The `st` a node advertises in its status packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// Its daemon runs; communications are not up yet (`st=up`).
    Up,
    /// Communications are up (`st=active`).
    Active,
}

impl PeerState {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerState::Up => "up",
            PeerState::Active => "active",
        }
    }
}

/// A decoded, authenticated packet from a peer, as the driver maps it from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// `src`: the sender's node name.
    pub from: NodeName,
    /// `srcuuid`, when present.
    pub uuid: Option<NodeUuid>,
    /// `hg`: the sender's generation (0 for `NS_*` packets, which carry none that matters).
    pub generation: u64,
    /// `seq`: the sender's sequence number; `None` for `NS_*` packets (and for a sequenced
    /// packet whose `seq` did not parse, which is then dropped).
    pub seq: Option<u64>,
    /// `dest`, when present: the packet is meant for that node only.
    pub dest: Option<NodeName>,
    /// What it is.
    pub kind: IncomingKind,
}

/// The kinds of packet the membership core handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncomingKind {
    /// `t=status`: a heartbeat.
    Status {
        /// `st`.
        state: PeerState,
        /// `dt`: the deadtime the sender asks us to apply to it; `None` when absent
        /// (pre-2.x peers), then our own deadtime applies.
        deadtime: Option<Duration>,
        /// *Ours:* the peers the sender hears (`hears`); `None` from peers that do not say
        /// (heartbeat), which are taken to hear us.
        hears: Option<Vec<NodeName>>,
    },
    /// `t=shutdone`: the sender released everything and is leaving.
    Shutdone,
    /// Any other sequenced message (`starting`, `resource`, `ip-request`, client messages...):
    /// delivered in order through [`Action::Deliver`], payload kept by the driver.
    Cluster {
        /// The driver's handle for the payload; it comes back exactly once, in
        /// [`Action::Deliver`] or [`Action::Discard`].
        handle: MsgHandle,
    },
    /// `t=NS_rexmit`: please retransmit `first..=last`.
    Rexmit {
        /// `firstseq`.
        first: u64,
        /// `lastseq`.
        last: u64,
    },
    /// `t=NS_nak_rexmit`: the sender cannot retransmit `seq`.
    NakRexmit {
        /// `firstseq`.
        seq: u64,
    },
    /// `t=NS_ackmsg`: the sender has everything of ours up to `seq`.
    Ack {
        /// `ackseq`.
        seq: u64,
    },
}

impl IncomingKind {
    /// Whether this kind is an unsequenced `NS_*` packet.
    pub fn is_ns(&self) -> bool {
        matches!(
            self,
            IncomingKind::Rexmit { .. } | IncomingKind::NakRexmit { .. } | IncomingKind::Ack { .. }
        )
    }
}

/// Our own state, as advertised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalState {
    /// Running, communications not up yet (initdead applies).
    Up,
    /// Communications up.
    Active,
    /// [`crate::membership::Membership::leave`] was called: `shutdone` sent, nothing more.
    Left,
}

/// A node's status as this node sees it (`cl_status nodestatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeStatus {
    /// Never heard.
    Init,
    /// Alive, advertising `up`.
    Up,
    /// Alive, advertising `active`.
    Active,
    /// Declared dead.
    Dead,
    /// A ping node that answers.
    Ping,
}

impl NodeStatus {
    /// `cl_status`'s spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Init => "init",
            NodeStatus::Up => "up",
            NodeStatus::Active => "active",
            NodeStatus::Dead => "dead",
            NodeStatus::Ping => "ping",
        }
    }

    /// Whether the node counts as alive.
    pub fn is_alive(self) -> bool {
        matches!(self, NodeStatus::Up | NodeStatus::Active | NodeStatus::Ping)
    }
}

/// A link's status (`cl_status hblinkstatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkStatus {
    /// Nothing heard on it yet.
    Init,
    /// Heard within the node's deadtime.
    Up,
    /// Silent for the node's deadtime.
    Dead,
}

/// Why a node was declared dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadReason {
    /// No status for its deadtime (initdead before comm up).
    Timeout,
    /// Never heard at all within initdead after our start.
    NeverHeard,
    /// It announced a graceful leave (`shutdone`).
    Left,
}

/// A message we sent and may have to send again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// A status packet with this content.
    Status {
        /// `st`.
        state: PeerState,
        /// `dt`.
        deadtime: Duration,
    },
    /// `shutdone`.
    Shutdone,
    /// A cluster message.
    Cluster {
        /// The driver's handle.
        handle: MsgHandle,
    },
}

/// Someone else uses our identity, or two peers share one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UuidClash {
    /// A node called `name` sends with OUR uuid: it is a clone of this machine (copied disk
    /// or VM image). Its packets are still matched by name, so it is not stuck; fix: stop
    /// the daemon on the clone, delete its UUID file, start it again.
    OurUuid {
        /// The clone's node name.
        name: NodeName,
    },
    /// Packets carry OUR node name but another uuid or generation: another machine was
    /// given this node's name. They are dropped.
    OurName {
        /// The uuid it uses.
        uuid: Option<NodeUuid>,
        /// Its generation.
        generation: u64,
    },
    /// Two configured peers send with the same uuid (one is a clone of the other). Both are
    /// still matched by name; fix: delete the UUID file on the clone and restart it.
    Shared {
        /// The uuid.
        uuid: NodeUuid,
        /// The node first seen with it.
        first: NodeName,
        /// The other node.
        second: NodeName,
    },
}

impl fmt::Display for UuidClash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UuidClash::OurUuid { name } => write!(
                f,
                "node {name} uses this node's uuid: it is a clone of this machine; stop it, delete its uuid file and start it again"
            ),
            UuidClash::OurName { uuid, generation } => {
                write!(f, "another machine sends as this node's name (uuid ")?;
                match uuid {
                    Some(u) => write!(f, "{u}")?,
                    None => f.write_str("none")?,
                }
                write!(
                    f,
                    ", generation {generation}); its packets are dropped: give it its own node name"
                )
            }
            UuidClash::Shared { uuid, first, second } => write!(
                f,
                "nodes {first} and {second} share uuid {uuid}: one is a clone; delete the uuid file on the clone and restart it"
            ),
        }
    }
}

/// Something the cluster (the resource manager, the API, the log) should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Our own state changed.
    LocalState(LocalState),
    /// Communications are up: every configured node was heard or declared dead.
    CommUp,
    /// A peer is alive (first heard, revived, or restarted).
    NodeUp {
        /// The node.
        node: NodeName,
    },
    /// A peer advertises `active`.
    NodeActive {
        /// The node.
        node: NodeName,
    },
    /// A peer is dead.
    NodeDead {
        /// The node.
        node: NodeName,
        /// Why.
        reason: DeadReason,
    },
    /// A status arrived more than `warntime` after the previous one.
    LateHeartbeat {
        /// The node.
        node: NodeName,
        /// Time since its previous status.
        interval: Duration,
    },
    /// A link carries packets again (or for the first time).
    LinkUp {
        /// The node.
        node: NodeName,
        /// The medium.
        link: LinkId,
    },
    /// A link was silent for the node's deadtime. On its own this never makes the node dead.
    LinkDead {
        /// The node.
        node: NodeName,
        /// The medium.
        link: LinkId,
    },
    /// A ping node answers.
    PingNodeUp {
        /// The ping node.
        node: NodeName,
    },
    /// A ping node stopped answering for `deadping`.
    PingNodeDead {
        /// The ping node.
        node: NodeName,
    },
    /// A packet's generation is lower than the one we remember for its sender: dropped
    /// (heartbeat's "attempted replay attack").
    ReplayRejected {
        /// The node.
        node: NodeName,
        /// The packet's generation.
        generation: u64,
        /// The one we remember.
        current: u64,
    },
    /// A peer's daemon restarted (a status with a higher generation).
    HeartbeatRestart {
        /// The node.
        node: NodeName,
        /// The generation we knew.
        old: u64,
        /// Its new one.
        new: u64,
    },
    /// A peer we declared dead sends again with the same generation: the cluster was
    /// partitioned (heartbeat then restarts the local daemon to sort out resources; the
    /// driver decides). The node is alive again after this event.
    ReturningAfterPartition {
        /// The node.
        node: NodeName,
    },
    /// A node identity problem. Reported once per clash.
    UuidClash(UuidClash),
    /// A configured peer's uuid changed (reinstalled, or its uuid file deleted).
    UuidChanged {
        /// The node.
        node: NodeName,
        /// The uuid we knew.
        old: NodeUuid,
        /// The new one.
        new: NodeUuid,
    },
    /// A packet from a node that is not in the configuration (dropped). Reported once per name.
    UnknownNode {
        /// The name.
        name: NodeName,
    },
    /// A gap in a peer's sequence: retransmission will be requested.
    PacketsLost {
        /// The node.
        node: NodeName,
        /// First missing seq.
        first: u64,
        /// Last missing seq.
        last: u64,
    },
    /// A gap above 250 (heartbeat's "lost a lot of packets!"): sequence tracking restarts
    /// at the new packet and the gap is not retransmitted.
    TooManyLost {
        /// The node.
        node: NodeName,
        /// How many were skipped.
        gap: u64,
    },
    /// The peer said it cannot retransmit `seq` ("Irretrievably lost packet").
    IrretrievablyLost {
        /// The node.
        node: NodeName,
        /// The seq.
        seq: u64,
    },
    /// Our own status was not sent for longer than our deadtime (the process was stalled):
    /// peers have probably declared us dead (heartbeat: "No local heartbeat").
    NoLocalHeartbeat {
        /// Time since our previous status.
        silent: Duration,
    },
    /// This node was stalled (its own status overdue by more than a keepalive): its
    /// peers' timestamps are stale, so nobody is judged dead for `grace` (keepalive +
    /// warntime), by which time every live peer has had the chance to be heard again.
    Stalled {
        /// How late our status was.
        overdue: Duration,
        /// How long judging waits.
        grace: Duration,
    },
    /// *Ours:* an alive peer has not listed us among the peers it hears for its deadtime
    /// (a one-way cut: we hear it, it does not hear us): it is no member of ours until it
    /// does again.
    NotHearingUs {
        /// The peer.
        node: NodeName,
    },
    /// *Ours:* a peer that did not hear us lists us again.
    HearingUsAgain {
        /// The peer.
        node: NodeName,
    },
    /// The quorum changed (votes, expected votes or the verdict).
    QuorumChanged(QuorumStatus),
}

/// An instruction to the driver. Drain [`crate::membership::Membership::poll_action`]
/// after every input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a status packet on every medium (and, with ping nodes, the echo requests).
    SendStatus {
        /// `seq`.
        seq: u64,
        /// `st`.
        state: PeerState,
        /// `dt`.
        deadtime: Duration,
    },
    /// Send `shutdone` (`st=dead`) on every medium.
    SendShutdone {
        /// `seq`.
        seq: u64,
    },
    /// Send the cluster message `handle` for the first time, on every medium.
    Transmit {
        /// `seq` assigned to it.
        seq: u64,
        /// The payload.
        handle: MsgHandle,
        /// `dest`, if it is for one node.
        dest: Option<NodeName>,
    },
    /// Send `msg` again with its original `seq` (asked for by `to`); heartbeat sends it on
    /// every medium.
    Retransmit {
        /// The original seq.
        seq: u64,
        /// Who asked.
        to: NodeName,
        /// What it was.
        msg: Sent,
        /// Its original `dest`, for cluster messages.
        dest: Option<NodeName>,
    },
    /// The history no longer holds this cluster message: the driver may free the payload.
    Release {
        /// The payload.
        handle: MsgHandle,
    },
    /// Send `NS_rexmit dest=to firstseq=lastseq=seq`.
    SendRexmitRequest {
        /// The node that should retransmit.
        to: NodeName,
        /// The missing seq.
        seq: u64,
    },
    /// Send `NS_nak_rexmit dest=to firstseq=seq`: we cannot retransmit it.
    SendNak {
        /// The requester.
        to: NodeName,
        /// The seq.
        seq: u64,
    },
    /// Send `NS_ackmsg dest=to ackseq=seq`.
    SendAck {
        /// The node whose messages we acknowledge.
        to: NodeName,
        /// Everything up to this seq arrived.
        seq: u64,
    },
    /// Hand a received cluster message to its consumers: per sender, in seq order, once.
    Deliver {
        /// The sender.
        from: NodeName,
        /// Its seq.
        seq: u64,
        /// The driver's handle from [`IncomingKind::Cluster`].
        handle: MsgHandle,
    },
    /// A received cluster message that will not be delivered (duplicate, not for us, from
    /// a dead node...): free the payload.
    Discard {
        /// The driver's handle.
        handle: MsgHandle,
    },
    /// Report this.
    Event(Event),
}
