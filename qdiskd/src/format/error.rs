//! Errors from decoding untrusted bytes read off a disk, and from misusing the encoder.

use std::fmt;

use crate::ids::NodeId;

/// Which block of a quorum disk an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockId {
    /// The quorum header at offset 0.
    Header,
    /// The status block of one node.
    Node(NodeId),
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockId::Header => f.write_str("the quorum header"),
            BlockId::Node(node) => write!(f, "the status block of node {node}"),
        }
    }
}

/// Bytes on a disk that are not a valid quorum disk block.
///
/// Every variant names the block, so an administrator can tell one damaged slot from a
/// disk that was never initialised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The 32-byte frame does not start with 0x00DEBB1E: the sector was never written by a
    /// qdisk tool (blank, or another format).
    #[error("{block}: no qdisk frame (magic {found:#010x}, expected 0x00debb1e); the sector was never initialised or holds other data")]
    BadFrameMagic {
        /// The block.
        block: BlockId,
        /// The magic found.
        found: u32,
    },
    /// The frame's own CRC does not match: the sector is damaged or torn.
    #[error("{block}: frame CRC mismatch (stored {stored:#010x}, computed {computed:#010x}); the sector is damaged or was torn by a partial write")]
    BadFrameCrc {
        /// The block.
        block: BlockId,
        /// CRC stored in the frame.
        stored: u32,
        /// CRC computed over the frame.
        computed: u32,
    },
    /// The payload length in the frame does not fit in the sector or is not what this
    /// block type needs.
    #[error("{block}: payload length {length} is impossible here (expected {expected})")]
    BadLength {
        /// The block.
        block: BlockId,
        /// Length claimed by the frame.
        length: u32,
        /// Length this block type has.
        expected: u32,
    },
    /// The payload CRC does not match: the payload is damaged.
    #[error("{block}: bad CRC (stored {stored:#010x}, computed {computed:#010x}); the payload is damaged")]
    BadCrc {
        /// The block.
        block: BlockId,
        /// CRC stored in the frame.
        stored: u32,
        /// CRC computed over the payload.
        computed: u32,
    },
    /// The payload's own magic number is not a quorum header or status block magic.
    #[error("{block}: wrong magic {found:#010x} (expected {expected:#010x})")]
    BadMagic {
        /// The block.
        block: BlockId,
        /// The magic found.
        found: u32,
        /// The magic expected.
        expected: u32,
    },
    /// A Red Hat Cluster Manager 1.2.x partition header (magic 0x39119fcd).
    #[error("the quorum header is from Red Hat Cluster Manager 1.2.x (magic 0x39119fcd); re-initialise the disk with mkqdisk -c")]
    LegacyRhcmHeader,
    /// A status block that sits in another node's slot.
    #[error("{block}: the block says it belongs to node {found}")]
    WrongSlot {
        /// The block (the slot read).
        block: BlockId,
        /// The node id recorded in the block.
        found: u32,
    },
    /// The header describes a geometry this implementation cannot use.
    #[error("the quorum header describes an impossible geometry: {reason}")]
    BadGeometry {
        /// What is wrong.
        reason: String,
    },
    /// The device is smaller than the layout needs, or a read came back short.
    #[error("{block}: truncated (needs {needed} bytes, the device has {available})")]
    Truncated {
        /// The block that does not fit.
        block: BlockId,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// The sector size recorded at creation differs from what the kernel reports now.
    #[error("the disk was initialised with {recorded}-byte sectors but the device now reports {device}-byte sectors; re-initialise it with mkqdisk -c (this destroys its state)")]
    SectorSizeMismatch {
        /// Sector size in the header.
        recorded: u32,
        /// Sector size the device reports.
        device: u32,
    },
}

/// Misuse of the encoder: a value that cannot be represented in the chosen layout.
///
/// Kept apart from [`FormatError`], which is about untrusted input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A node id outside the layout's range.
    #[error("node id {node} is outside 1..={max} for this layout")]
    NodeOutOfRange {
        /// The node id.
        node: u32,
        /// The largest node id of the layout.
        max: u32,
    },
    /// A label that is empty, too long, or contains a NUL byte or a control character.
    #[error("label {label:?} is invalid: {reason}")]
    BadLabel {
        /// The label.
        label: String,
        /// What is wrong.
        reason: String,
    },
    /// The output buffer is not one whole sector.
    #[error("output buffer of {len} bytes is not one sector of {sector_size} bytes")]
    BadBuffer {
        /// Its length.
        len: usize,
        /// The sector size.
        sector_size: u32,
    },
}
