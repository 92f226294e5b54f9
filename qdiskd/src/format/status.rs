//! A node's status block (RHCS `status_block_t`, and our extended block).
//!
//! Red Hat layout, 80 bytes, big-endian except the incarnation:
//!
//! | off | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `0x47BACEF8` |
//! | 4 | 4 | writer's node id (the master's in an eviction notice) |
//! | 8 | 8 | write time, whole seconds (this is the heartbeat) |
//! | 16 | 4 | slot owner's node id |
//! | 20 | 4 | padding |
//! | 24 | 1 | state |
//! | 25 | 1 | padding |
//! | 26 | 2 | flags (always 0 in Red Hat's qdiskd; ours marks poison pills, [`super::pill`]) |
//! | 28 | 2+2 | score, maximum score (always 0 in Red Hat's qdiskd) |
//! | 32 | 4+4 | average write duration, s + µs |
//! | 40 | 4+4 | last write duration, s + µs |
//! | 48 | 8 | incarnation, **host order** (little-endian on x86; Red Hat forgot to swap it) |
//! | 56 | 2+2+4 | message, its sequence, its argument |
//! | 64 | 8 | mask: nodes this node sees up |
//! | 72 | 8 | master mask: nodes granted the vote (master only) |
//!
//! Extended layout, 128 bytes, all big-endian:
//!
//! | off | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `0x51445342` |
//! | 4 | 4 | writer's node id |
//! | 8 | 8 | write time, milliseconds since the epoch |
//! | 16 | 4 | slot owner's node id |
//! | 20 | 4 | padding |
//! | 24 | 1+1+2 | state, padding, flags ([`super::pill`]) |
//! | 28 | 2+2 | score, maximum score |
//! | 32 | 4+4 | average and last write duration, µs (saturating) |
//! | 40 | 8 | incarnation |
//! | 48 | 8 | heartbeat counter, incremented on every write |
//! | 56 | 2+2+4 | message, its sequence, its argument |
//! | 64 | 32 | mask |
//! | 96 | 32 | master mask |

use std::time::Duration;

use super::be;
use super::error::{BlockId, EncodeError, FormatError};
use super::frame;
use super::mask::{NodeMask, CLASSIC_MASK_LEN, EXTENDED_MASK_LEN};
use crate::geometry::Layout;
use crate::ids::{Incarnation, NodeId};

/// Red Hat status block magic (`STATE_MAGIC_NUMBER`).
pub const STATUS_MAGIC: u32 = 0x47BA_CEF8;
/// Extended status block magic ("QDSB").
pub const EXTENDED_STATUS_MAGIC: u32 = 0x5144_5342;
/// Payload length of a Red Hat status block.
pub const CLASSIC_STATUS_LEN: usize = 80;
/// Payload length of an extended status block.
pub const EXTENDED_STATUS_LEN: usize = 128;

/// A node's state as written on disk (`disk_node_state_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// 0: not running (also a freshly initialised slot).
    #[default]
    None,
    /// 1: evicted by the master.
    Evicted,
    /// 2: initialising (the first `tko` cycles).
    Initializing,
    /// 5: running.
    Running,
    /// 6: the master.
    Master,
    /// 7: the master is leaving cleanly (added to Red Hat's qdiskd in 2012).
    Exiting,
    /// A value no qdiskd writes; shown, never trusted.
    Unknown(u8),
}

impl NodeState {
    /// The on-disk code.
    pub fn code(self) -> u8 {
        match self {
            NodeState::None => 0,
            NodeState::Evicted => 1,
            NodeState::Initializing => 2,
            NodeState::Running => 5,
            NodeState::Master => 6,
            NodeState::Exiting => 7,
            NodeState::Unknown(code) => code,
        }
    }

    /// The state for an on-disk code.
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => NodeState::None,
            1 => NodeState::Evicted,
            2 => NodeState::Initializing,
            5 => NodeState::Running,
            6 => NodeState::Master,
            7 => NodeState::Exiting,
            other => NodeState::Unknown(other),
        }
    }

    /// Red Hat's display name (`state_str`), with a name for `Exiting` it lacks.
    pub fn name(self) -> &'static str {
        match self {
            NodeState::None => "None",
            NodeState::Evicted => "Evicted",
            NodeState::Initializing => "Initializing",
            NodeState::Running => "Running",
            NodeState::Master => "Master",
            NodeState::Exiting => "Exiting",
            NodeState::Unknown(_) => "ILLEGAL",
        }
    }
}

/// The kind of election message a status block carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// 0: no message.
    #[default]
    None,
    /// 1: bidding for master.
    Bid,
    /// 2: acknowledging a bid (argument: the bidder).
    Ack,
    /// 3: refusing a bid (defined, never sent by Red Hat's qdiskd).
    Nack,
    /// 4: defined, unused.
    Mask,
    /// 5 (ours): a poison pill or its acknowledgement; sequence = action, argument = nonce
    /// ([`super::pill`]).
    Poison,
    /// A value no qdiskd writes.
    Unknown(u16),
}

impl MessageKind {
    /// The on-disk code.
    pub fn code(self) -> u16 {
        match self {
            MessageKind::None => 0,
            MessageKind::Bid => 1,
            MessageKind::Ack => 2,
            MessageKind::Nack => 3,
            MessageKind::Mask => 4,
            MessageKind::Poison => 5,
            MessageKind::Unknown(code) => code,
        }
    }

    /// The kind for an on-disk code.
    pub fn from_code(code: u16) -> Self {
        match code {
            0 => MessageKind::None,
            1 => MessageKind::Bid,
            2 => MessageKind::Ack,
            3 => MessageKind::Nack,
            4 => MessageKind::Mask,
            5 => MessageKind::Poison,
            other => MessageKind::Unknown(other),
        }
    }
}

/// An election message: kind, sequence number and argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Message {
    /// What the message is.
    pub kind: MessageKind,
    /// Its sequence number (a bid's, or the acknowledged bid's).
    pub seq: u16,
    /// Its argument (the node voted for).
    pub arg: u32,
}

/// The decoded status block of one node slot.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct StatusBlock {
    /// The slot's owner.
    pub node: NodeId,
    /// Who wrote the block: the owner, or the master writing an eviction notice; 0 on a
    /// freshly initialised slot.
    pub updated_by: u32,
    /// Write time in milliseconds since the epoch, by the writer's clock (whole seconds in
    /// Red Hat's layout). Peers never compare it with their own clock.
    pub timestamp_ms: u64,
    /// The state.
    pub state: NodeState,
    /// Flags (unused by Red Hat's qdiskd; ours marks poison pills and their
    /// acknowledgements, see [`super::pill`]).
    pub flags: u16,
    /// Heuristic score.
    pub score: u16,
    /// Highest possible score.
    pub score_max: u16,
    /// Average duration of the writer's recent status writes.
    #[serde(rename = "average_write_us", serialize_with = "as_micros")]
    pub average_write: Duration,
    /// Duration of one recent status write.
    #[serde(rename = "last_write_us", serialize_with = "as_micros")]
    pub last_write: Duration,
    /// The writing daemon's incarnation.
    pub incarnation: Incarnation,
    /// What changes on every write, so peers judge liveness by change on their own clock.
    /// Extended layout: a counter. Red Hat's layout has none: decoding puts the timestamp's
    /// seconds here (what Red Hat's qdiskd watches), and encoding ignores it.
    pub heartbeat: u64,
    /// The election message.
    pub message: Message,
    /// Nodes this node sees up on disk.
    pub mask: NodeMask,
    /// Nodes the master grants the vote (meaningful in the master's block).
    pub master_mask: NodeMask,
}

impl StatusBlock {
    /// The block `mkqdisk` writes into every slot: owner set, state None, all else zero.
    pub fn initial(node: NodeId, timestamp_ms: u64) -> Self {
        Self {
            node,
            timestamp_ms,
            ..Self::default()
        }
    }
}

fn as_micros<S: serde::Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u128(d.as_micros())
}

fn micros_saturating(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn sec_usec(d: Duration) -> (u32, u32) {
    (
        u32::try_from(d.as_secs()).unwrap_or(u32::MAX),
        d.subsec_micros(),
    )
}

fn from_sec_usec(sec: u32, usec: u32) -> Duration {
    Duration::from_secs(u64::from(sec)) + Duration::from_micros(u64::from(usec))
}

/// Encodes `block` for `layout` into `sector` (exactly one sector), framed with the write
/// time `written_at` in seconds.
pub fn encode_status(
    block: &StatusBlock,
    layout: Layout,
    written_at: u64,
    sector: &mut [u8],
) -> Result<(), EncodeError> {
    let max = layout.max_nodes();
    if !(1..=max).contains(&block.node.0) {
        return Err(EncodeError::NodeOutOfRange {
            node: block.node.0,
            max,
        });
    }
    // 0 is a valid writer: a slot nobody has written since mkqdisk.
    if block.updated_by > max {
        return Err(EncodeError::NodeOutOfRange {
            node: block.updated_by,
            max,
        });
    }
    let highest_in_masks = block.mask.max().max(block.master_mask.max());
    if let Some(node) = highest_in_masks.filter(|n| n.0 > max) {
        return Err(EncodeError::NodeOutOfRange { node: node.0, max });
    }
    if sector.len() < frame::FRAME_LEN + EXTENDED_STATUS_LEN {
        return Err(EncodeError::BadBuffer {
            len: sector.len(),
            sector_size: 0,
        });
    }
    let mut p = [0u8; EXTENDED_STATUS_LEN];
    be::put(&mut p, 4, &block.updated_by.to_be_bytes());
    be::put(&mut p, 16, &block.node.0.to_be_bytes());
    be::put(&mut p, 24, &[block.state.code()]);
    be::put(&mut p, 26, &block.flags.to_be_bytes());
    be::put(&mut p, 28, &block.score.to_be_bytes());
    be::put(&mut p, 30, &block.score_max.to_be_bytes());
    be::put(&mut p, 56, &block.message.kind.code().to_be_bytes());
    be::put(&mut p, 58, &block.message.seq.to_be_bytes());
    be::put(&mut p, 60, &block.message.arg.to_be_bytes());
    let len = match layout {
        Layout::Classic => {
            be::put(&mut p, 0, &STATUS_MAGIC.to_be_bytes());
            be::put(&mut p, 8, &(block.timestamp_ms / 1000).to_be_bytes());
            let (s, us) = sec_usec(block.average_write);
            be::put(&mut p, 32, &s.to_be_bytes());
            be::put(&mut p, 36, &us.to_be_bytes());
            let (s, us) = sec_usec(block.last_write);
            be::put(&mut p, 40, &s.to_be_bytes());
            be::put(&mut p, 44, &us.to_be_bytes());
            be::put(&mut p, 48, &block.incarnation.0.to_le_bytes());
            be::put(&mut p, 64, block.mask.to_bytes(CLASSIC_MASK_LEN));
            be::put(&mut p, 72, block.master_mask.to_bytes(CLASSIC_MASK_LEN));
            CLASSIC_STATUS_LEN
        }
        Layout::Extended { .. } => {
            be::put(&mut p, 0, &EXTENDED_STATUS_MAGIC.to_be_bytes());
            be::put(&mut p, 8, &block.timestamp_ms.to_be_bytes());
            be::put(
                &mut p,
                32,
                &micros_saturating(block.average_write).to_be_bytes(),
            );
            be::put(
                &mut p,
                36,
                &micros_saturating(block.last_write).to_be_bytes(),
            );
            be::put(&mut p, 40, &block.incarnation.0.to_be_bytes());
            be::put(&mut p, 48, &block.heartbeat.to_be_bytes());
            be::put(&mut p, 64, block.mask.to_bytes(EXTENDED_MASK_LEN));
            be::put(&mut p, 96, block.master_mask.to_bytes(EXTENDED_MASK_LEN));
            EXTENDED_STATUS_LEN
        }
    };
    frame::seal(sector, &p[..len], written_at);
    Ok(())
}

/// Decodes the status block read from `slot`'s sector of a disk with `layout`.
pub fn decode_status(
    sector: &[u8],
    layout: Layout,
    slot: NodeId,
) -> Result<StatusBlock, FormatError> {
    let block = BlockId::Node(slot);
    let (_, p) = frame::open(sector, block)?;
    let (magic, expected_len) = match layout {
        Layout::Classic => (STATUS_MAGIC, CLASSIC_STATUS_LEN),
        Layout::Extended { .. } => (EXTENDED_STATUS_MAGIC, EXTENDED_STATUS_LEN),
    };
    if p.len() != expected_len {
        return Err(FormatError::BadLength {
            block,
            length: p.len() as u32,
            expected: expected_len as u32,
        });
    }
    let found = be::u32(p, 0);
    if found != magic {
        return Err(FormatError::BadMagic {
            block,
            found,
            expected: magic,
        });
    }
    let node = be::u32(p, 16);
    if node != slot.0 {
        return Err(FormatError::WrongSlot { block, found: node });
    }
    let mut status = StatusBlock {
        node: slot,
        updated_by: be::u32(p, 4),
        state: NodeState::from_code(p[24]),
        flags: be::u16(p, 26),
        score: be::u16(p, 28),
        score_max: be::u16(p, 30),
        message: Message {
            kind: MessageKind::from_code(be::u16(p, 56)),
            seq: be::u16(p, 58),
            arg: be::u32(p, 60),
        },
        ..StatusBlock::default()
    };
    match layout {
        Layout::Classic => {
            let seconds = be::u64(p, 8);
            status.timestamp_ms = seconds.saturating_mul(1000);
            status.heartbeat = seconds;
            status.average_write = from_sec_usec(be::u32(p, 32), be::u32(p, 36));
            status.last_write = from_sec_usec(be::u32(p, 40), be::u32(p, 44));
            status.incarnation = Incarnation(u64::from_le_bytes(be::array(p, 48)));
            status.mask = NodeMask::from_bytes(&p[64..64 + CLASSIC_MASK_LEN]);
            status.master_mask = NodeMask::from_bytes(&p[72..72 + CLASSIC_MASK_LEN]);
        }
        Layout::Extended { .. } => {
            status.timestamp_ms = be::u64(p, 8);
            status.average_write = Duration::from_micros(u64::from(be::u32(p, 32)));
            status.last_write = Duration::from_micros(u64::from(be::u32(p, 36)));
            status.incarnation = Incarnation(be::u64(p, 40));
            status.heartbeat = be::u64(p, 48);
            status.mask = NodeMask::from_bytes(&p[64..64 + EXTENDED_MASK_LEN]);
            status.master_mask = NodeMask::from_bytes(&p[96..96 + EXTENDED_MASK_LEN]);
        }
    }
    Ok(status)
}
