//! The 32-byte little-endian frame at the start of every sector (RHCS `shared_header_t`).
//!
//! | off | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `0x00DEBB1E` |
//! | 4 | 4 | CRC-32 of these 32 bytes with this field zero |
//! | 8 | 4 | CRC-32 of the payload |
//! | 12 | 4 | payload length |
//! | 16 | 8 | view, always 0 |
//! | 24 | 8 | write time, seconds since the epoch |
//!
//! The CRC is zlib's CRC-32 (reflected polynomial 0xEDB88320), from `crc32fast`.

use super::error::{BlockId, FormatError};

/// Frame magic number (`SHARED_HEADER_MAGIC`).
pub const FRAME_MAGIC: u32 = 0x00DE_BB1E;
/// Size of the frame.
pub const FRAME_LEN: usize = 32;

/// The decoded frame of one sector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Payload length in bytes.
    pub length: u32,
    /// Write time (seconds since the epoch) as the writer's clock had it.
    pub written_at: u64,
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(super::be::array(bytes, at))
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(super::be::array(bytes, at))
}

/// Fills `sector` with a frame around `payload`: zeroes the sector, copies the payload
/// after the frame and writes the frame with both CRCs.
///
/// The caller guarantees `FRAME_LEN + payload.len() <= sector.len()`; encoders size their
/// payloads from constants far below the smallest sector.
pub fn seal(sector: &mut [u8], payload: &[u8], written_at: u64) {
    sector.fill(0);
    super::be::put(sector, FRAME_LEN, payload);
    let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut frame = [0u8; FRAME_LEN];
    frame[0..4].copy_from_slice(&FRAME_MAGIC.to_le_bytes());
    frame[8..12].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    frame[12..16].copy_from_slice(&length.to_le_bytes());
    frame[24..32].copy_from_slice(&written_at.to_le_bytes());
    let frame_crc = crc32fast::hash(&frame);
    frame[4..8].copy_from_slice(&frame_crc.to_le_bytes());
    super::be::put(sector, 0, &frame);
}

/// Checks the frame of `sector` and returns it with its payload.
///
/// Checks, in order: magic, frame CRC, that the length fits the sector, payload CRC.
/// (Red Hat checks the frame CRC before the magic; the order changes only which error a
/// blank sector gets, and "never written" is the more useful one.)
pub fn open(sector: &[u8], block: BlockId) -> Result<(Frame, &[u8]), FormatError> {
    if sector.len() < FRAME_LEN {
        return Err(FormatError::Truncated {
            block,
            needed: FRAME_LEN as u64,
            available: sector.len() as u64,
        });
    }
    let magic = le_u32(sector, 0);
    if magic != FRAME_MAGIC {
        return Err(FormatError::BadFrameMagic {
            block,
            found: magic,
        });
    }
    let stored = le_u32(sector, 4);
    let mut frame: [u8; FRAME_LEN] = super::be::array(sector, 0);
    frame[4..8].fill(0);
    let computed = crc32fast::hash(&frame);
    if stored != computed {
        return Err(FormatError::BadFrameCrc {
            block,
            stored,
            computed,
        });
    }
    let length = le_u32(sector, 12);
    let room = sector.len() - FRAME_LEN;
    if length as usize > room {
        return Err(FormatError::BadLength {
            block,
            length,
            expected: u32::try_from(room).unwrap_or(u32::MAX),
        });
    }
    let payload = &sector[FRAME_LEN..FRAME_LEN + length as usize];
    let stored = le_u32(sector, 8);
    let computed = crc32fast::hash(payload);
    if stored != computed {
        return Err(FormatError::BadCrc {
            block,
            stored,
            computed,
        });
    }
    Ok((
        Frame {
            length,
            written_at: le_u64(sector, 24),
        },
        payload,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_sector_opens_to_the_same_payload() {
        let mut sector = vec![0xAA; 512];
        seal(&mut sector, b"hello", 1234);
        let (frame, payload) = open(&sector, BlockId::Header).expect("valid");
        assert_eq!(payload, b"hello");
        assert_eq!(frame.written_at, 1234);
        assert!(
            sector[FRAME_LEN + 5..].iter().all(|&b| b == 0),
            "padding zeroed"
        );
    }

    #[test]
    fn a_flipped_payload_bit_is_a_bad_crc_naming_the_block() {
        let mut sector = vec![0; 512];
        seal(&mut sector, b"hello", 1);
        sector[FRAME_LEN] ^= 1;
        let block = BlockId::Node(crate::NodeId(3));
        assert!(matches!(
            open(&sector, block),
            Err(FormatError::BadCrc { block: b, .. }) if b == block
        ));
    }

    #[test]
    fn a_blank_sector_is_reported_as_never_written() {
        assert_eq!(
            open(&[0; 512], BlockId::Header),
            Err(FormatError::BadFrameMagic {
                block: BlockId::Header,
                found: 0
            })
        );
    }
}
