//! The bytes of a quorum disk: frames, the quorum header and status blocks.
//!
//! Everything here is pure: it turns structs into sector images and back, does no I/O and
//! reads no clock (timestamps are arguments). Decoders take untrusted bytes, never panic,
//! never trust a length or count from disk, and name the block in every error.
//!
//! # The Red Hat layout, bit-exactly (RHCS `cman/qdisk/disk.h`, cluster 3.2)
//!
//! Every sector starts with a 32-byte **little-endian** frame ([`frame`]): magic
//! `0x00DEBB1E`, a CRC-32 of the frame (computed with its own CRC field zeroed), a CRC-32 of
//! the payload, the payload length, a view (always 0) and the write time. The payload
//! follows, **big-endian**; the rest of the sector is padding that no CRC covers (we write
//! zeros; Red Hat leaves heap garbage there, so readers ignore it).
//!
//! | magic | where | meaning |
//! |---|---|---|
//! | `0x00DEBB1E` | frame | every sector |
//! | `0xEB7A62C2` | header payload | Red Hat quorum header |
//! | `0x389FABC4` | header version | "V2": the sector size is recorded |
//! | `0x39119FCD` | header payload | Red Hat Cluster Manager 1.2.x (refused, with a warning) |
//! | `0x47BACEF8` | status payload | Red Hat status block |
//! | `0x51445848` | header payload | **extended** quorum header (ours) |
//! | `0x51445342` | status payload | **extended** status block (ours) |
//!
//! # The extended layout (ours)
//!
//! Red Hat's `check_device` accepts any header whose magic is `0xEB7A62C2` whatever its
//! version, so marking a different layout with a new version number would make Red Hat's
//! qdiskd read status blocks at the wrong offsets. The extended header therefore carries its
//! own magic: Red Hat's `mkqdisk -L` does not list such a disk and its qdiskd refuses it
//! with "does not have a qdisk label", while the frame stays the same, so the bytes are
//! still recognisably ours. The header payload is Red Hat's 272 bytes (same field offsets)
//! followed by the geometry: node slots, slot size and the offset of the first slot.
//! Status blocks are 128 bytes: millisecond timestamps, a heartbeat counter that changes on
//! every write (sub-second intervals need a marker that changes every cycle), a big-endian
//! incarnation, and 256-bit node masks.
//!
//! # Version log
//! - Red Hat V2 (`0x389FABC4`, 2008): sector size recorded in the header.
//! - Extended v1 (this crate): first extended layout.
//! - Poison pills (this crate, both layouts, no version change): status `flags` bit 0
//!   marks a pill written into a node's slot by a fence agent, bit 1 the owner's
//!   acknowledgement; message kind 5 carries the action and the sender's nonce
//!   ([`pill`]). Readers that do not know them see an eviction notice (a pill) and a node
//!   that left (an acknowledgement), which is what they are.

pub mod error;
pub mod frame;
pub mod header;
pub mod mask;
pub mod pill;
pub mod status;

pub use error::{BlockId, EncodeError, FormatError};
pub use header::{decode_header, encode_header, QuorumHeader};
pub use mask::NodeMask;
pub use pill::{Pill, PillAction, FLAG_PILL, FLAG_PILL_ACK};
pub use status::{decode_status, encode_status, Message, MessageKind, NodeState, StatusBlock};

/// Big-endian field readers over a payload whose length the caller has already checked.
pub(crate) mod be {
    /// `N` bytes at `at`, or zeros if out of range (callers check lengths first; this only
    /// keeps a mistake from becoming a panic on untrusted input).
    pub fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
        bytes
            .get(at..at + N)
            .and_then(|slice| slice.try_into().ok())
            .unwrap_or([0; N])
    }

    pub fn u16(bytes: &[u8], at: usize) -> u16 {
        u16::from_be_bytes(array(bytes, at))
    }

    pub fn u32(bytes: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(array(bytes, at))
    }

    pub fn u64(bytes: &[u8], at: usize) -> u64 {
        u64::from_be_bytes(array(bytes, at))
    }

    /// Writes `value` at `at`; `out` is a buffer the encoder sized itself.
    pub fn put(out: &mut [u8], at: usize, value: &[u8]) {
        if let Some(slot) = out.get_mut(at..at + value.len()) {
            slot.copy_from_slice(value);
        }
    }
}
