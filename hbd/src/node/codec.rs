//! Translations between the wire ([`crate::proto`]) and the cores' types, and the cores'
//! events in words.

use std::time::Duration;

use crate::config::NodeName;
use crate::membership::{self, Event, IncomingKind, MsgHandle, NodeUuid, PeerState};
use crate::policy::ClusterMsg as PolicyMsg;
use crate::proto::{self, AckMsg, Body, NakRexmit, NodeStatus, Rexmit, Seq, Status};
use crate::wire::Message;

/// The message type hbd's policies talk in (heartbeat passes unknown types to API
/// clients and otherwise ignores them).
pub const POLICY_TYPE: &str = "hbd-policy";
/// The field holding the policy message (JSON).
const POLICY_FIELD: &str = "msg";

/// A parsed packet as the membership core takes it; `None` for what it does not handle.
pub fn to_membership(
    i: &proto::Incoming,
    handle: Option<MsgHandle>,
) -> Option<membership::Incoming> {
    let kind = match &i.body {
        Body::Status(Status {
            status,
            deadtime,
            hears,
            ..
        }) => {
            let hears = hears
                .as_ref()
                .map(|h| h.iter().map(|n| NodeName::new(n)).collect());
            match status {
                NodeStatus::Init | NodeStatus::Up => IncomingKind::Status {
                    state: PeerState::Up,
                    deadtime: *deadtime,
                    hears,
                },
                NodeStatus::Active => IncomingKind::Status {
                    state: PeerState::Active,
                    deadtime: *deadtime,
                    hears,
                },
                NodeStatus::Dead => IncomingKind::Shutdone,
            }
        }
        Body::Shutdone => IncomingKind::Shutdone,
        Body::Rexmit(r) => IncomingKind::Rexmit {
            first: r.first_seq.0,
            last: r.last_seq.0,
        },
        Body::NakRexmit(n) => IncomingKind::NakRexmit { seq: n.first_seq.0 },
        Body::AckMsg(a) => IncomingKind::Ack { seq: a.ack_seq.0 },
        Body::Cluster(_) => IncomingKind::Cluster { handle: handle? },
    };
    Some(membership::Incoming {
        from: NodeName::new(&i.header.src),
        uuid: i.header.src_uuid.map(NodeUuid),
        generation: i.header.generation.map_or(0, |g| g.0),
        seq: i.header.seq.map(|s| s.0),
        dest: i.header.dest.as_deref().map(NodeName::new),
        kind,
    })
}

/// A status body, saying which peers we hear.
pub fn status_body(state: PeerState, deadtime: Duration, hears: &[NodeName]) -> Body {
    Body::Status(Status {
        status: match state {
            PeerState::Up => NodeStatus::Up,
            PeerState::Active => NodeStatus::Active,
        },
        deadtime: Some(deadtime),
        protocol: Some(proto::PROTOCOL_VERSION),
        hears: Some(hears.iter().map(ToString::to_string).collect()),
    })
}

/// `NS_rexmit` for one seq.
pub fn rexmit(to: &NodeName, seq: u64) -> Body {
    Body::Rexmit(Rexmit {
        dest: to.to_string(),
        first_seq: Seq(seq),
        last_seq: Seq(seq),
    })
}

/// `NS_nak_rexmit`.
pub fn nak(to: &NodeName, seq: u64) -> Body {
    Body::NakRexmit(NakRexmit {
        dest: to.to_string(),
        first_seq: Seq(seq),
        info: "seqno not found".into(),
    })
}

/// `NS_ackmsg`.
pub fn ack(to: &NodeName, seq: u64) -> Body {
    Body::AckMsg(AckMsg {
        dest: to.to_string(),
        ack_seq: Seq(seq),
    })
}

/// heartbeat's request for the node list, sent when its communication comes up.
pub const REQNODES: &str = "reqnodes";

/// heartbeat's answer to `reqnodes`: every node, each followed by a space (as heartbeat
/// writes the list), and no deleted nodes.
pub fn repnodes(nodes: &[NodeName], to: &NodeName) -> proto::ClusterMsg {
    let mut fields = Message::with_capacity(2);
    let list: String = nodes.iter().map(|n| format!("{n} ")).collect();
    fields.add("nodelist", list).add("delnodelist", " ");
    proto::ClusterMsg {
        msg_type: "repnodes".into(),
        dest: Some(to.to_string()),
        fields,
    }
}

/// A policy message as a cluster message body.
pub fn policy_body(msg: &PolicyMsg, dest: Option<&NodeName>) -> proto::ClusterMsg {
    let mut fields = Message::with_capacity(1);
    fields.add(POLICY_FIELD, serde_json::to_string(msg).unwrap_or_default());
    proto::ClusterMsg {
        msg_type: POLICY_TYPE.into(),
        dest: dest.map(ToString::to_string),
        fields,
    }
}

/// The policy message in a cluster message, if it is one.
pub fn policy_msg(c: &proto::ClusterMsg) -> Option<PolicyMsg> {
    if c.msg_type != POLICY_TYPE {
        return None;
    }
    serde_json::from_str(c.fields.get_str(POLICY_FIELD)?).ok()
}

/// A membership event in heartbeat's words where heartbeat has them.
pub fn describe(e: &Event) -> String {
    match e {
        Event::LocalState(s) => format!("local status now {s:?}").to_lowercase(),
        Event::CommUp => "Comm_now_up(): updating status to active".into(),
        Event::NodeUp { node } => format!("Status update for node {node}: status up"),
        Event::NodeActive { node } => format!("Status update for node {node}: status active"),
        Event::NodeDead { node, reason } => match reason {
            membership::DeadReason::Left => format!("node {node}: left the cluster (shutdone)"),
            membership::DeadReason::NeverHeard => {
                format!("node {node}: is dead (never heard within initdead)")
            }
            membership::DeadReason::Timeout => format!("node {node}: is dead"),
        },
        Event::LateHeartbeat { node, interval } => format!(
            "Late heartbeat: Node {node}: interval {} ms",
            interval.as_millis()
        ),
        Event::LinkUp { node, link } => format!("Link {node}:{} up.", link.0),
        Event::LinkDead { node, link } => format!("Link {node}:{} dead.", link.0),
        Event::PingNodeUp { node } => format!("Ping node {node} is up"),
        Event::PingNodeDead { node } => format!("Ping node {node} is dead"),
        Event::ReplayRejected {
            node,
            generation,
            current,
        } => format!(
            "should_drop_message: attempted replay attack [{node}]? [gen = {generation}, curgen = {current}]"
        ),
        Event::HeartbeatRestart { node, .. } => format!("Heartbeat restart on node {node}"),
        Event::ReturningAfterPartition { node } => format!(
            "Cluster node {node} returning after partition; deadtime may be too small"
        ),
        Event::UuidClash(c) => c.to_string(),
        Event::UuidChanged { node, old, new } => format!("node {node} uuid changed from {old} to {new}"),
        Event::UnknownNode { name } => format!(
            "packets from {name}, which is not a node in ha.cf (another cluster on this network? give it its own udpport or mcast group)"
        ),
        Event::PacketsLost { node, first, last } => {
            format!("{} lost packet(s) for [{node}] [{first}:{last}]", last - first + 1)
        }
        Event::TooManyLost { node, gap } => format!("lost a lot of packets from {node} ({gap})!"),
        Event::IrretrievablyLost { node, seq } => {
            format!("Irretrievably lost packet: node {node}: seq {seq}")
        }
        Event::NoLocalHeartbeat { silent } => format!(
            "No local heartbeat for {} ms: this process was starved",
            silent.as_millis()
        ),
        Event::Stalled { overdue, grace } => format!(
            "this process was stalled (its status {} ms overdue): nobody is judged dead for the next {} ms, so every peer can be heard again first",
            overdue.as_millis(),
            grace.as_millis()
        ),
        Event::NotHearingUs { node } => format!(
            "node {node} has not heard this node for its deadtime (a one-way cut): no member until it does"
        ),
        Event::HearingUsAgain { node } => format!("node {node} hears this node again"),
        Event::QuorumChanged(q) => format!(
            "votes now {} of {}: {}",
            q.votes,
            q.expected,
            if q.quorate { "quorate" } else { "NOT quorate" }
        ),
    }
}
