//! The quorum header at offset 0 (RHCS `quorum_header_t`, plus our extended geometry).
//!
//! | off | size | field | notes |
//! |---|---|---|---|
//! | 0 | 4 | magic | `0xEB7A62C2` Red Hat, `0x51445848` extended |
//! | 4 | 4 | version | `0x389FABC4` (V2) for Red Hat; 1 for extended |
//! | 8 | 8 | creation time | seconds since the epoch |
//! | 16 | 128 | host | NUL-terminated; bytes after the NUL are garbage on Red Hat disks |
//! | 144 | 120 | label | NUL-terminated, at most 118 bytes (Red Hat's `snprintf(…, size−1)`) |
//! | 264 | 4 | sector size at creation | |
//! | 268 | 4 | kernel sector size | written as 0 |
//! | 272 | 4 | node slots | extended only |
//! | 276 | 4 | slot size | extended only; equals the sector size |
//! | 280 | 8 | offset of node 1's slot | extended only; 4096 |

use super::be;
use super::error::{BlockId, EncodeError, FormatError};
use super::frame;
use crate::geometry::{Layout, EXTENDED_MAX_NODES, FIRST_STATUS_OFFSET};

/// Red Hat quorum header magic (`HEADER_MAGIC_NUMBER`).
pub const HEADER_MAGIC: u32 = 0xEB7A_62C2;
/// Red Hat Cluster Manager 1.2.x header magic (`HEADER_MAGIC_OLD`).
pub const HEADER_MAGIC_RHCM12: u32 = 0x3911_9FCD;
/// Red Hat header version that records the sector size (`VERSION_MAGIC_V2`).
pub const VERSION_MAGIC_V2: u32 = 0x389F_ABC4;
/// Extended layout header magic ("QDXH"): unknown to Red Hat's tools on purpose.
pub const EXTENDED_HEADER_MAGIC: u32 = 0x5144_5848;
/// Extended layout version written by this crate.
pub const EXTENDED_VERSION: u32 = 1;
/// Payload length of a Red Hat header.
pub const CLASSIC_HEADER_LEN: usize = 272;
/// Payload length of an extended header.
pub const EXTENDED_HEADER_LEN: usize = 288;
/// Size of the host field.
pub const HOST_FIELD_LEN: usize = 128;
/// Size of the label field.
pub const LABEL_FIELD_LEN: usize = 120;
/// Longest label Red Hat's mkqdisk stores (120-byte field, `snprintf` with size − 1).
pub const MAX_LABEL_LEN: usize = LABEL_FIELD_LEN - 2;

/// A decoded quorum header.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuorumHeader {
    /// Which layout the disk uses.
    pub layout: Layout,
    /// When the disk was initialised (seconds since the epoch).
    pub created: u64,
    /// The host that initialised it.
    pub host: String,
    /// The label qdiskd finds the disk by.
    pub label: String,
    /// Sector size at creation; `None` on Red Hat headers older than V2, which did not
    /// record it.
    pub recorded_sector_size: Option<u32>,
}

impl QuorumHeader {
    /// Checks that `label` can be stored: not empty, at most 118 bytes, no NUL, no control
    /// characters (labels are shown on terminals and in logs).
    pub fn validate_label(label: &str) -> Result<(), EncodeError> {
        let reason = if label.is_empty() {
            Some("it is empty".to_string())
        } else if label.len() > MAX_LABEL_LEN {
            Some(format!(
                "it is {} bytes long; Red Hat's header holds at most {MAX_LABEL_LEN}",
                label.len()
            ))
        } else if label.contains('\0') {
            Some("it contains a NUL byte".to_string())
        } else {
            label.chars().find(|c| c.is_control()).map(|c| {
                format!(
                    "it contains the control character {c:?}: labels are shown on terminals \
                     and in logs; use printable characters"
                )
            })
        };
        match reason {
            Some(reason) => Err(EncodeError::BadLabel {
                label: label.to_string(),
                reason,
            }),
            None => Ok(()),
        }
    }
}

/// Text up to the first NUL (Red Hat leaves garbage after it).
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn put_c_string(out: &mut [u8], at: usize, field_len: usize, text: &str) {
    let bytes = text.as_bytes();
    let n = bytes.len().min(field_len - 1);
    be::put(out, at, &bytes[..n]);
}

/// Encodes `header` into `sector` (exactly one sector), framed with `written_at`.
pub fn encode_header(
    header: &QuorumHeader,
    written_at: u64,
    sector: &mut [u8],
) -> Result<(), EncodeError> {
    QuorumHeader::validate_label(&header.label)?;
    if sector.len() < frame::FRAME_LEN + EXTENDED_HEADER_LEN {
        return Err(EncodeError::BadBuffer {
            len: sector.len(),
            sector_size: header.recorded_sector_size.unwrap_or(0),
        });
    }
    let mut payload = [0u8; EXTENDED_HEADER_LEN];
    let (magic, version, len) = match header.layout {
        Layout::Classic => (HEADER_MAGIC, VERSION_MAGIC_V2, CLASSIC_HEADER_LEN),
        Layout::Extended { max_nodes } => {
            if !(1..=EXTENDED_MAX_NODES).contains(&max_nodes) {
                return Err(EncodeError::NodeOutOfRange {
                    node: max_nodes,
                    max: EXTENDED_MAX_NODES,
                });
            }
            be::put(&mut payload, 272, &max_nodes.to_be_bytes());
            let slot = header.recorded_sector_size.unwrap_or(0);
            be::put(&mut payload, 276, &slot.to_be_bytes());
            be::put(&mut payload, 280, &FIRST_STATUS_OFFSET.to_be_bytes());
            (EXTENDED_HEADER_MAGIC, EXTENDED_VERSION, EXTENDED_HEADER_LEN)
        }
    };
    be::put(&mut payload, 0, &magic.to_be_bytes());
    be::put(&mut payload, 4, &version.to_be_bytes());
    be::put(&mut payload, 8, &header.created.to_be_bytes());
    put_c_string(&mut payload, 16, HOST_FIELD_LEN, &header.host);
    put_c_string(&mut payload, 144, LABEL_FIELD_LEN, &header.label);
    let blksz = header.recorded_sector_size.unwrap_or(0);
    be::put(&mut payload, 264, &blksz.to_be_bytes());
    frame::seal(sector, &payload[..len], written_at);
    Ok(())
}

/// Decodes the header sector.
pub fn decode_header(sector: &[u8]) -> Result<QuorumHeader, FormatError> {
    let block = BlockId::Header;
    let (_, payload) = frame::open(sector, block)?;
    if payload.len() < 4 {
        return Err(FormatError::BadLength {
            block,
            length: payload.len() as u32,
            expected: CLASSIC_HEADER_LEN as u32,
        });
    }
    let magic = be::u32(payload, 0);
    let expected_len = match magic {
        HEADER_MAGIC => CLASSIC_HEADER_LEN,
        EXTENDED_HEADER_MAGIC => EXTENDED_HEADER_LEN,
        HEADER_MAGIC_RHCM12 => return Err(FormatError::LegacyRhcmHeader),
        found => {
            return Err(FormatError::BadMagic {
                block,
                found,
                expected: HEADER_MAGIC,
            })
        }
    };
    // Red Hat copies exactly `length` bytes; a shorter payload is zero-filled there, but
    // a header that short was not written by any mkqdisk, so refuse it.
    if payload.len() < expected_len {
        return Err(FormatError::BadLength {
            block,
            length: payload.len() as u32,
            expected: expected_len as u32,
        });
    }
    let version = be::u32(payload, 4);
    let blksz = be::u32(payload, 264);
    let mut header = QuorumHeader {
        layout: Layout::Classic,
        created: be::u64(payload, 8),
        host: c_string(&payload[16..16 + HOST_FIELD_LEN]),
        label: c_string(&payload[144..144 + LABEL_FIELD_LEN]),
        recorded_sector_size: (version == VERSION_MAGIC_V2).then_some(blksz),
    };
    if magic == EXTENDED_HEADER_MAGIC {
        if version != EXTENDED_VERSION {
            return Err(FormatError::BadGeometry {
                reason: format!(
                    "extended layout version {version} is newer than this tool understands (it knows {EXTENDED_VERSION})"
                ),
            });
        }
        let max_nodes = be::u32(payload, 272);
        let slot = be::u32(payload, 276);
        let first = be::u64(payload, 280);
        if !(1..=EXTENDED_MAX_NODES).contains(&max_nodes) {
            return Err(FormatError::BadGeometry {
                reason: format!("{max_nodes} node slots (1 to {EXTENDED_MAX_NODES} possible)"),
            });
        }
        if slot != blksz {
            return Err(FormatError::BadGeometry {
                reason: format!("slot size {slot} differs from the sector size {blksz}"),
            });
        }
        if first != FIRST_STATUS_OFFSET {
            return Err(FormatError::BadGeometry {
                reason: format!("first slot at offset {first}, not {FIRST_STATUS_OFFSET}"),
            });
        }
        header.layout = Layout::Extended { max_nodes };
        header.recorded_sector_size = Some(blksz);
    }
    Ok(header)
}
