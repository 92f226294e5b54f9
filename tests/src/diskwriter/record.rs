//! One record of the shared-disk writer: 512 bytes, little-endian.
//!
//! | bytes     | field                                                             |
//! |-----------|-------------------------------------------------------------------|
//! | 0..8      | magic `QLABWREC`                                                  |
//! | 8..12     | format version (1)                                                |
//! | 12..16    | node id (u32, the lab node index, from 1)                         |
//! | 16..24    | incarnation (u64, random at every writer start)                   |
//! | 24..32    | seq (u64, from 1, per incarnation)                                |
//! | 32..40    | issued_ns (u64, `CLOCK_MONOTONIC` when the write was issued)      |
//! | 40..72    | node name (UTF-8, NUL-padded, at most 32 bytes)                   |
//! | 72..508   | zero                                                              |
//! | 508..512  | CRC-32 (IEEE, `crc32fast`) of bytes 0..508                         |
//!
//! `issued_ns` is on the clock of [`std::time::Instant`] (`CLOCK_MONOTONIC` on Linux); the
//! lab uses no time namespaces, so it is one clock for every node and the lab itself.
//! [`monotonic_ns`] and [`instant_ns`] convert.

use std::time::Instant;

use super::Error;

/// Size of a record.
pub const RECORD_SIZE: usize = 512;
/// The magic at the start of every record.
pub const MAGIC: &[u8; 8] = b"QLABWREC";
/// The format version this code writes and reads.
pub const VERSION: u32 = 1;
/// The longest node name a record holds, in bytes.
pub const NAME_LEN: usize = 32;

const NAME_AT: usize = 40;
const CRC_AT: usize = RECORD_SIZE - 4;

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The writer's node (lab node index, from 1).
    pub node_id: u32,
    /// The writer's incarnation (random at every start).
    pub incarnation: u64,
    /// The record's number in its incarnation, from 1.
    pub seq: u64,
    /// `CLOCK_MONOTONIC` nanoseconds when the writer issued the write.
    pub issued_ns: u64,
    /// The writer's node name (at most [`NAME_LEN`] bytes, no NUL).
    pub node_name: String,
}

/// Why a sector is not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotARecord {
    /// The buffer is not [`RECORD_SIZE`] bytes.
    #[error("{0} bytes, a record is 512")]
    WrongSize(usize),
    /// All zero: never written.
    #[error("zeroed")]
    Zeroed,
    /// Something else than a record.
    #[error("bad magic")]
    BadMagic,
    /// A record whose bytes changed (torn or overwritten in part).
    #[error("bad CRC (stored {stored:#010x}, computed {computed:#010x})")]
    BadCrc {
        /// The CRC in the record.
        stored: u32,
        /// The CRC of its bytes.
        computed: u32,
    },
    /// A record of another format version.
    #[error("format version {0}, this reader knows {VERSION}")]
    UnsupportedVersion(u32),
    /// The node name is not NUL-padded UTF-8.
    #[error("bad node name")]
    BadName,
}

impl Record {
    /// The record's 512 bytes. Fails if the node name is too long, empty or holds a NUL.
    pub fn encode(&self) -> Result<[u8; RECORD_SIZE], Error> {
        check_name(&self.node_name)?;
        let mut b = [0u8; RECORD_SIZE];
        b[0..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&self.node_id.to_le_bytes());
        b[16..24].copy_from_slice(&self.incarnation.to_le_bytes());
        b[24..32].copy_from_slice(&self.seq.to_le_bytes());
        b[32..40].copy_from_slice(&self.issued_ns.to_le_bytes());
        let name = self.node_name.as_bytes();
        b[NAME_AT..NAME_AT + name.len()].copy_from_slice(name);
        let crc = crc32fast::hash(&b[..CRC_AT]);
        b[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        Ok(b)
    }

    /// The record in `sector`, or why it is none.
    pub fn decode(sector: &[u8]) -> Result<Record, NotARecord> {
        if sector.len() != RECORD_SIZE {
            return Err(NotARecord::WrongSize(sector.len()));
        }
        if sector.iter().all(|b| *b == 0) {
            return Err(NotARecord::Zeroed);
        }
        if &sector[0..8] != MAGIC {
            return Err(NotARecord::BadMagic);
        }
        let stored = u32::from_le_bytes(le(&sector[CRC_AT..]));
        let computed = crc32fast::hash(&sector[..CRC_AT]);
        if stored != computed {
            return Err(NotARecord::BadCrc { stored, computed });
        }
        let version = u32::from_le_bytes(le(&sector[8..12]));
        if version != VERSION {
            return Err(NotARecord::UnsupportedVersion(version));
        }
        let name = &sector[NAME_AT..NAME_AT + NAME_LEN];
        let len = name.iter().position(|b| *b == 0).unwrap_or(NAME_LEN);
        if name[len..].iter().any(|b| *b != 0) {
            return Err(NotARecord::BadName);
        }
        let node_name = std::str::from_utf8(&name[..len])
            .map_err(|_| NotARecord::BadName)?
            .to_string();
        Ok(Record {
            node_id: u32::from_le_bytes(le(&sector[12..16])),
            incarnation: u64::from_le_bytes(le(&sector[16..24])),
            seq: u64::from_le_bytes(le(&sector[24..32])),
            issued_ns: u64::from_le_bytes(le(&sector[32..40])),
            node_name,
        })
    }
}

/// A little-endian field (the slices above have the array's length).
fn le<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&bytes[..N]);
    a
}

/// Checks that `name` fits a record: 1 to [`NAME_LEN`] bytes, no NUL.
pub fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > NAME_LEN || name.contains('\0') {
        return Err(Error::Invalid(format!(
            "node name {name:?}: 1 to {NAME_LEN} bytes without NUL"
        )));
    }
    Ok(())
}

/// `CLOCK_MONOTONIC` now, in nanoseconds: the clock of [`Instant`].
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

/// `at` as `CLOCK_MONOTONIC` nanoseconds (exact to the time between two clock reads).
pub fn instant_ns(at: Instant) -> u64 {
    let (now, now_ns) = (Instant::now(), monotonic_ns());
    match now.checked_duration_since(at) {
        Some(ago) => now_ns.saturating_sub(ago.as_nanos() as u64),
        None => now_ns.saturating_add(at.duration_since(now).as_nanos() as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            node_id: 2,
            incarnation: 0xdead_beef_0123_4567,
            seq: 42,
            issued_ns: 123_456_789_012,
            node_name: "web2".into(),
        }
    }

    #[test]
    fn a_record_round_trips() {
        let bytes = record().encode().expect("encode");
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(Record::decode(&bytes), Ok(record()));
        let long = Record {
            node_name: "n".repeat(NAME_LEN),
            ..record()
        };
        assert_eq!(Record::decode(&long.encode().expect("encode")), Ok(long));
    }

    #[test]
    fn decode_says_why_a_sector_is_not_a_record() {
        assert_eq!(Record::decode(&[0; 512]), Err(NotARecord::Zeroed));
        assert_eq!(Record::decode(&[0; 511]), Err(NotARecord::WrongSize(511)));
        assert_eq!(Record::decode(&[0xff; 512]), Err(NotARecord::BadMagic));
        let mut torn = record().encode().expect("encode");
        torn[30] ^= 1;
        assert!(matches!(
            Record::decode(&torn),
            Err(NotARecord::BadCrc { .. })
        ));
        let mut v2 = record().encode().expect("encode");
        v2[8] = 2;
        let crc = crc32fast::hash(&v2[..CRC_AT]);
        v2[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(Record::decode(&v2), Err(NotARecord::UnsupportedVersion(2)));
        let mut holed = record().encode().expect("encode");
        holed[NAME_AT + 10] = b'x';
        let crc = crc32fast::hash(&holed[..CRC_AT]);
        holed[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(Record::decode(&holed), Err(NotARecord::BadName));
    }

    #[test]
    fn encode_refuses_bad_names() {
        for name in ["", "a\0b", &"x".repeat(NAME_LEN + 1)] {
            let r = Record {
                node_name: name.to_string(),
                ..record()
            };
            assert!(r.encode().is_err(), "{name:?}");
        }
    }

    #[test]
    fn instants_and_monotonic_nanoseconds_are_one_clock() {
        let before = monotonic_ns();
        let at = Instant::now();
        let after = monotonic_ns();
        let ns = instant_ns(at);
        assert!(ns >= before.saturating_sub(1_000_000) && ns <= after + 1_000_000);
        let later = at + std::time::Duration::from_secs(3);
        let diff = instant_ns(later) as i128 - ns as i128;
        assert!((diff - 3_000_000_000).abs() < 1_000_000, "{diff}");
    }
}
