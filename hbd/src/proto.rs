//! Typed heartbeat protocol messages over [`Message`].
//!
//! Outgoing: a [`Body`] (the type-specific fields) plus an [`Origin`] (who we are) and a
//! [`Stamp`] (this packet's sequence number, wall time and load) become a [`Message`] with
//! [`build`], in heartbeat's field order (`add_control_msg_fields`): the type fields, then
//! `destuuid` when a destination with a known UUID is set, then
//!
//! `src`, `srcuuid` (16 raw bytes), `seq` (hex), `hg` (hex), `ts` (hex seconds), `ld`
//! (`/proc/loadavg`), `ttl` (decimal)
//!
//! where types starting with `NS_` get neither `seq` nor `ld`, and keep any of these fields
//! they already carry. The wire layer then appends the classic `auth` field and the
//! signature ([`crate::wire::encode`]).
//!
//! Incoming: [`parse`] turns a verified [`Message`] into an [`Incoming`], a [`Header`] plus a
//! [`Body`], with a [`ProtoError`] naming the missing or malformed field.
//!
//! Numbers: hex in `seq`, `hg`, `ts`, `dt`, `ackseq` and the NAK's `firstseq`; decimal in
//! `ttl`, `protocol` and the rexmit request's `firstseq`/`lastseq`.

use std::fmt;
use std::time::Duration;

use crate::wire::{FieldError, Message, Value};

/// Field names used by heartbeat (`ha_msg.h`, `heartbeat.h`).
pub mod field {
    /// Message type.
    pub const TYPE: &str = "t";
    /// Sender node name.
    pub const SRC: &str = "src";
    /// Sender UUID, 16 raw bytes.
    pub const SRC_UUID: &str = "srcuuid";
    /// Destination node name.
    pub const DEST: &str = "dest";
    /// Destination UUID, 16 raw bytes.
    pub const DEST_UUID: &str = "destuuid";
    /// Sequence number, hex.
    pub const SEQ: &str = "seq";
    /// Generation, hex.
    pub const GENERATION: &str = "hg";
    /// Sender wall time, hex seconds.
    pub const TIME: &str = "ts";
    /// Sender load average line.
    pub const LOAD: &str = "ld";
    /// Hop count limit, decimal.
    pub const TTL: &str = "ttl";
    /// Classic signature.
    pub const AUTH: &str = "auth";
    /// Node status.
    pub const STATUS: &str = "st";
    /// Advertised dead time, hex milliseconds.
    pub const DEADTIME: &str = "dt";
    /// Protocol version, decimal.
    pub const PROTOCOL: &str = "protocol";
    /// *Ours:* the nodes the sender hears, space separated (heartbeat ignores it).
    pub const HEARS: &str = "hears";
    /// First sequence number of a retransmission request (decimal) or NAK (hex).
    pub const FIRST_SEQ: &str = "firstseq";
    /// Last sequence number of a retransmission request, decimal.
    pub const LAST_SEQ: &str = "lastseq";
    /// Acknowledged sequence number, hex.
    pub const ACK_SEQ: &str = "ackseq";
    /// Free-form comment (`F_COMMENT`).
    pub const INFO: &str = "info";

    /// Every field that [`super::build`] adds or [`super::parse`] reads into the header.
    pub const STANDARD: [&str; 11] = [
        TYPE, DEST, DEST_UUID, SRC, SRC_UUID, SEQ, GENERATION, TIME, LOAD, TTL, AUTH,
    ];
}

/// Message type names.
pub mod msg_type {
    /// Heartbeat.
    pub const STATUS: &str = "status";
    /// "I have released everything and am leaving."
    pub const SHUTDONE: &str = "shutdone";
    /// Retransmission request.
    pub const REXMIT: &str = "NS_rexmit";
    /// Cannot retransmit.
    pub const NAK_REXMIT: &str = "NS_nak_rexmit";
    /// Flow-control acknowledgement.
    pub const ACK: &str = "NS_ackmsg";
    /// Prefix of types outside the sequence-number protocol.
    pub const UNSEQUENCED_PREFIX: &str = "NS_";
}

/// heartbeat's `PROTOCOL_VERSION`, sent in every status.
pub const PROTOCOL_VERSION: u32 = 1;

/// A per-sender packet sequence number (starts at 1 in each generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seq(pub u64);

/// A node's generation (`hb_generation`, +1 at every start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Generation(pub u64);

/// A node's status as carried in `st`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeStatus {
    /// `init`: the daemon is starting.
    Init,
    /// `up`: running, communication not yet up.
    Up,
    /// `active`: communication up.
    Active,
    /// `dead`: leaving (shutdone) or declared dead.
    Dead,
}

impl NodeStatus {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Init => "init",
            NodeStatus::Up => "up",
            NodeStatus::Active => "active",
            NodeStatus::Dead => "dead",
        }
    }

    /// From the wire text.
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "init" => Some(NodeStatus::Init),
            "up" => Some(NodeStatus::Up),
            "active" => Some(NodeStatus::Active),
            "dead" => Some(NodeStatus::Dead),
            _ => None,
        }
    }
}

impl fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `t=status`: a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `st`.
    pub status: NodeStatus,
    /// `dt`: the dead time the sender wants peers to use for it (hex milliseconds on the
    /// wire; heartbeat always sends it, but treats it as optional).
    pub deadtime: Option<Duration>,
    /// `protocol`: absent from pre-2.0 peers (which disables flow control).
    pub protocol: Option<u32>,
    /// `hears` (*ours*): the nodes the sender hears; absent from heartbeat's statuses.
    pub hears: Option<Vec<String>>,
}

/// `t=NS_rexmit`: please resend `first_seq..=last_seq` (decimal on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rexmit {
    /// The node asked to resend.
    pub dest: String,
    /// First sequence number.
    pub first_seq: Seq,
    /// Last sequence number.
    pub last_seq: Seq,
}

/// `t=NS_nak_rexmit`: cannot resend `first_seq` (hex on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NakRexmit {
    /// The node that asked.
    pub dest: String,
    /// The sequence number that cannot be resent.
    pub first_seq: Seq,
    /// Why (`seqno too low`, `seqno not found`).
    pub info: String,
}

/// `t=NS_ackmsg`: everything up to `ack_seq` of `dest` arrived (hex on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckMsg {
    /// The node whose packets are acknowledged.
    pub dest: String,
    /// The acknowledged sequence number.
    pub ack_seq: Seq,
}

/// Any other message: `t` plus its own fields (resource, starting, ip-request...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMsg {
    /// `t`.
    pub msg_type: String,
    /// `dest`, when addressed to one node.
    pub dest: Option<String>,
    /// The other type-specific fields, in order (never the standard ones).
    pub fields: Message,
}

/// The type-specific part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `status`.
    Status(Status),
    /// `shutdone` (`st=dead`).
    Shutdone,
    /// `NS_rexmit`.
    Rexmit(Rexmit),
    /// `NS_nak_rexmit`.
    NakRexmit(NakRexmit),
    /// `NS_ackmsg`.
    AckMsg(AckMsg),
    /// Anything else.
    Cluster(ClusterMsg),
}

impl Body {
    /// The `t` value.
    pub fn msg_type(&self) -> &str {
        match self {
            Body::Status(_) => msg_type::STATUS,
            Body::Shutdone => msg_type::SHUTDONE,
            Body::Rexmit(_) => msg_type::REXMIT,
            Body::NakRexmit(_) => msg_type::NAK_REXMIT,
            Body::AckMsg(_) => msg_type::ACK,
            Body::Cluster(c) => &c.msg_type,
        }
    }

    /// The destination node, if addressed to one.
    pub fn dest(&self) -> Option<&str> {
        match self {
            Body::Status(_) | Body::Shutdone => None,
            Body::Rexmit(r) => Some(&r.dest),
            Body::NakRexmit(n) => Some(&n.dest),
            Body::AckMsg(a) => Some(&a.dest),
            Body::Cluster(c) => c.dest.as_deref(),
        }
    }

    /// True when the message takes part in sequencing (its type does not start with `NS_`).
    pub fn is_sequenced(&self) -> bool {
        !self.msg_type().starts_with(msg_type::UNSEQUENCED_PREFIX)
    }

    /// The type-specific fields, in heartbeat's order.
    pub fn type_fields(&self) -> Message {
        let mut m = Message::with_capacity(16);
        m.add(field::TYPE, self.msg_type());
        match self {
            Body::Status(s) => {
                m.add(field::STATUS, s.status.as_str());
                if let Some(dt) = s.deadtime {
                    m.add(field::DEADTIME, format!("{:x}", dt.as_millis()));
                }
                if let Some(p) = s.protocol {
                    m.add(field::PROTOCOL, p.to_string());
                }
                if let Some(h) = &s.hears {
                    m.add(field::HEARS, h.join(" "));
                }
            }
            Body::Shutdone => {
                m.add(field::STATUS, NodeStatus::Dead.as_str());
            }
            Body::Rexmit(r) => {
                m.add(field::DEST, r.dest.as_str())
                    .add(field::FIRST_SEQ, r.first_seq.0.to_string())
                    .add(field::LAST_SEQ, r.last_seq.0.to_string());
            }
            Body::NakRexmit(n) => {
                m.add(field::FIRST_SEQ, format!("{:x}", n.first_seq.0))
                    .add(field::DEST, n.dest.as_str())
                    .add(field::INFO, n.info.as_str());
            }
            Body::AckMsg(a) => {
                m.add(field::DEST, a.dest.as_str())
                    .add(field::ACK_SEQ, format!("{:x}", a.ack_seq.0));
            }
            Body::Cluster(c) => {
                if let Some(d) = &c.dest {
                    m.add(field::DEST, d.as_str());
                }
                for f in &c.fields {
                    m.add(f.name.clone(), f.value.clone());
                }
            }
        }
        m
    }
}

/// Who sends: fixed for the life of the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Our node name (`uname -n`, lower case).
    pub node: String,
    /// Our UUID (`hb_uuid`).
    pub uuid: [u8; 16],
    /// Our generation (`hb_generation`).
    pub generation: Generation,
    /// `ttl`: heartbeat's hopfudge (1) + number of nodes.
    pub ttl: u32,
}

/// Per-packet values the driver supplies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The sequence number, for sequenced types (ignored for `NS_` types).
    pub seq: Seq,
    /// Wall time, seconds since the epoch (`ts`).
    pub unix_time: u64,
    /// The first line of `/proc/loadavg`, without its newline (`ld`, sequenced types only).
    pub load: String,
}

/// Builds an outgoing message: `body`'s fields, then `destuuid` (if `dest_uuid` is given and
/// the body has a destination), then the standard fields in heartbeat's order.
pub fn build(body: &Body, origin: &Origin, dest_uuid: Option<[u8; 16]>, stamp: &Stamp) -> Message {
    let mut m = body.type_fields();
    if body.dest().is_some() {
        if let Some(u) = dest_uuid {
            m.set(field::DEST_UUID, u);
        }
    }
    let sequenced = body.is_sequenced();
    let standard: [(&str, Value, bool); 7] = [
        (field::SRC, Value::from(origin.node.as_str()), false),
        (field::SRC_UUID, Value::from(origin.uuid), false),
        (field::SEQ, Value::Str(format!("{:x}", stamp.seq.0)), true),
        (
            field::GENERATION,
            Value::Str(format!("{:x}", origin.generation.0)),
            false,
        ),
        (
            field::TIME,
            Value::Str(format!("{:x}", stamp.unix_time)),
            false,
        ),
        (field::LOAD, Value::from(stamp.load.as_str()), true),
        (field::TTL, Value::Str(origin.ttl.to_string()), false),
    ];
    for (name, value, seq_only) in standard {
        if !sequenced && (seq_only || m.contains(name)) {
            continue;
        }
        m.set(name, value);
    }
    m
}

/// Why a verified message is not a valid protocol message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// A required field is missing or malformed.
    #[error("{0}")]
    Field(#[from] FieldError),
    /// `st` is not init/up/active/dead.
    #[error("unknown node status {0:?} in field `st`")]
    UnknownStatus(String),
    /// `shutdone` whose `st` is not `dead`.
    #[error("shutdone with st={0:?}, expected dead")]
    ShutdoneNotDead(String),
}

/// The standard fields of an incoming message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `src`.
    pub src: String,
    /// `srcuuid`, when present (heartbeat maps nodes by UUID first).
    pub src_uuid: Option<[u8; 16]>,
    /// `seq`: present in sequenced types (required there), absent from `NS_` types.
    pub seq: Option<Seq>,
    /// `hg`: required in sequenced types.
    pub generation: Option<Generation>,
    /// `ts`, seconds since the epoch.
    pub unix_time: Option<u64>,
    /// `ld`.
    pub load: Option<String>,
    /// `ttl`.
    pub ttl: Option<u32>,
    /// `dest`.
    pub dest: Option<String>,
    /// `destuuid`.
    pub dest_uuid: Option<[u8; 16]>,
}

/// A parsed incoming message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The standard fields.
    pub header: Header,
    /// The type-specific part.
    pub body: Body,
}

fn opt<T>(
    m: &Message,
    name: &str,
    f: impl Fn(&Message, &str) -> Result<T, FieldError>,
) -> Result<Option<T>, FieldError> {
    if m.contains(name) {
        f(m, name).map(Some)
    } else {
        Ok(None)
    }
}

fn bad(name: &str, value: &str, expected: &'static str) -> FieldError {
    FieldError::Bad {
        name: name.into(),
        value: value.chars().take(64).collect(),
        expected,
    }
}

/// Parses a verified message. Sequenced types need `seq` and `hg`; every type needs `t` and
/// `src`; fields that are present must be well-formed.
pub fn parse(m: &Message) -> Result<Incoming, ProtoError> {
    let t = m.require_str(field::TYPE)?;
    let src = m.require_str(field::SRC)?.to_owned();
    let sequenced = !t.starts_with(msg_type::UNSEQUENCED_PREFIX);
    let seq = if sequenced {
        Some(Seq(m.get_hex_u64(field::SEQ)?))
    } else {
        opt(m, field::SEQ, Message::get_hex_u64)?.map(Seq)
    };
    let generation = if sequenced {
        Some(Generation(m.get_hex_u64(field::GENERATION)?))
    } else {
        opt(m, field::GENERATION, Message::get_hex_u64)?.map(Generation)
    };
    let ttl = match opt(m, field::TTL, Message::get_dec_u64)? {
        Some(v) => {
            Some(u32::try_from(v).map_err(|_| bad(field::TTL, &v.to_string(), "a small number"))?)
        }
        None => None,
    };
    let header = Header {
        src,
        src_uuid: opt(m, field::SRC_UUID, Message::get_uuid)?,
        seq,
        generation,
        unix_time: opt(m, field::TIME, Message::get_hex_u64)?,
        load: m.get_str(field::LOAD).map(str::to_owned),
        ttl,
        dest: opt(m, field::DEST, |m, n| m.require_str(n).map(str::to_owned))?,
        dest_uuid: opt(m, field::DEST_UUID, Message::get_uuid)?,
    };
    let dest = || -> Result<String, FieldError> { Ok(m.require_str(field::DEST)?.to_owned()) };
    let body = match t {
        msg_type::STATUS => {
            let st = m.require_str(field::STATUS)?;
            let status =
                NodeStatus::from_wire(st).ok_or_else(|| ProtoError::UnknownStatus(st.into()))?;
            let deadtime =
                opt(m, field::DEADTIME, Message::get_hex_u64)?.map(Duration::from_millis);
            let protocol = match opt(m, field::PROTOCOL, Message::get_dec_u64)? {
                Some(p) => Some(
                    u32::try_from(p)
                        .map_err(|_| bad(field::PROTOCOL, &p.to_string(), "a small number"))?,
                ),
                None => None,
            };
            let hears = m
                .get_str(field::HEARS)
                .map(|h| h.split_whitespace().map(str::to_owned).collect());
            Body::Status(Status {
                status,
                deadtime,
                protocol,
                hears,
            })
        }
        msg_type::SHUTDONE => match m.get_str(field::STATUS) {
            Some("dead") | None => Body::Shutdone,
            Some(other) => return Err(ProtoError::ShutdoneNotDead(other.into())),
        },
        msg_type::REXMIT => Body::Rexmit(Rexmit {
            dest: dest()?,
            first_seq: Seq(m.get_dec_u64(field::FIRST_SEQ)?),
            last_seq: Seq(m.get_dec_u64(field::LAST_SEQ)?),
        }),
        msg_type::NAK_REXMIT => Body::NakRexmit(NakRexmit {
            dest: dest()?,
            first_seq: Seq(m.get_hex_u64(field::FIRST_SEQ)?),
            info: m.get_str(field::INFO).unwrap_or_default().to_owned(),
        }),
        msg_type::ACK => Body::AckMsg(AckMsg {
            dest: dest()?,
            ack_seq: Seq(m.get_hex_u64(field::ACK_SEQ)?),
        }),
        other => {
            let mut fields = Message::new();
            for f in m {
                if !field::STANDARD.contains(&f.name.as_str()) {
                    fields.add(f.name.clone(), f.value.clone());
                }
            }
            Body::Cluster(ClusterMsg {
                msg_type: other.to_owned(),
                dest: header.dest.clone(),
                fields,
            })
        }
    };
    Ok(Incoming { header, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            node: "web2".into(),
            uuid: [7; 16],
            generation: Generation(0x10),
            ttl: 3,
        }
    }

    fn stamp() -> Stamp {
        Stamp {
            seq: Seq(0x2a),
            unix_time: 0x6b06990c,
            load: "0.00 0.00 0.00 1/1 1".into(),
        }
    }

    fn names(m: &Message) -> Vec<&str> {
        m.fields().iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn unsequenced_types_get_neither_seq_nor_ld_and_keep_heartbeats_order() {
        let rexmit = Body::Rexmit(Rexmit {
            dest: "web1".into(),
            first_seq: Seq(26),
            last_seq: Seq(26),
        });
        let m = build(&rexmit, &origin(), Some([1; 16]), &stamp());
        assert_eq!(
            names(&m),
            ["t", "dest", "firstseq", "lastseq", "destuuid", "src", "srcuuid", "hg", "ts", "ttl"]
        );
        assert_eq!(m.get_str("firstseq"), Some("26"), "decimal");
        let nak = Body::NakRexmit(NakRexmit {
            dest: "web1".into(),
            first_seq: Seq(26),
            info: "seqno not found".into(),
        });
        let m = build(&nak, &origin(), None, &stamp());
        assert_eq!(
            names(&m),
            ["t", "firstseq", "dest", "info", "src", "srcuuid", "hg", "ts", "ttl"]
        );
        assert_eq!(m.get_str("firstseq"), Some("1a"), "hex");
        assert_eq!(parse(&m).map(|i| i.body), Ok(nak));
    }

    #[test]
    fn status_is_type_fields_then_standard_fields() {
        let st = Body::Status(Status {
            status: NodeStatus::Active,
            deadtime: Some(Duration::from_secs(8)),
            protocol: Some(PROTOCOL_VERSION),
            hears: None,
        });
        let m = build(&st, &origin(), None, &stamp());
        assert_eq!(
            names(&m),
            ["t", "st", "dt", "protocol", "src", "srcuuid", "seq", "hg", "ts", "ld", "ttl"]
        );
        assert_eq!(m.get_str("dt"), Some("1f40"));
        let inc = parse(&m).expect("parses");
        assert_eq!(inc.body, st);
        assert_eq!(inc.header.seq, Some(Seq(0x2a)));
        assert_eq!(inc.header.src_uuid, Some([7; 16]));
    }

    #[test]
    fn missing_or_bad_fields_are_named() {
        let mut m = build(&Body::Shutdone, &origin(), None, &stamp());
        m.remove("seq");
        assert_eq!(
            parse(&m),
            Err(ProtoError::Field(FieldError::Missing {
                name: "seq".into()
            }))
        );
        let mut m = build(&Body::Shutdone, &origin(), None, &stamp());
        m.set("hg", "zz");
        assert!(
            matches!(parse(&m), Err(ProtoError::Field(FieldError::Bad { name, .. })) if name == "hg")
        );
        let mut m = build(&Body::Shutdone, &origin(), None, &stamp());
        m.set("t", "status").set("st", "sleepy");
        assert_eq!(parse(&m), Err(ProtoError::UnknownStatus("sleepy".into())));
        let mut m = Message::new();
        m.add("t", "NS_ackmsg")
            .add("src", "web1")
            .add("dest", "web2");
        assert_eq!(
            parse(&m),
            Err(ProtoError::Field(FieldError::Missing {
                name: "ackseq".into()
            }))
        );
    }
}
