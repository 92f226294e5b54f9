//! The writer region on the shared disk, its per-node areas, and the reader.
//!
//! The region (`OFFSET:LEN`, both multiples of 512) is split into `max_nodes` equal areas,
//! each a whole number of slots; node `i` (from 1) writes only area `i`, as a ring of
//! slots, one record per slot. A slot is one logical sector of the device (512 or 4096
//! bytes); the record is its first 512 bytes, the rest is zero. The reader needs no layout:
//! it decodes every 512-byte sector of the region.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::str::FromStr;

use super::record::{Record, RECORD_SIZE};
use super::Error;

/// A byte range of the shared disk holding the writers' areas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

/// One node's area of the region: `slots` slots of `slot_size` bytes from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    /// First byte on the device.
    pub offset: u64,
    /// How many slots.
    pub slots: u64,
    /// Bytes per slot.
    pub slot_size: u64,
}

impl Area {
    /// Byte offset of slot `slot` (taken modulo the number of slots: a ring).
    pub fn slot_offset(&self, slot: u64) -> u64 {
        self.offset + (slot % self.slots.max(1)) * self.slot_size
    }

    /// The slot at byte offset `offset`, if it starts one of this area's slots.
    pub fn slot_at(&self, offset: u64) -> Option<u64> {
        let rel = offset.checked_sub(self.offset)?;
        (rel % self.slot_size == 0 && rel / self.slot_size < self.slots)
            .then_some(rel / self.slot_size)
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.slots * self.slot_size
    }

    /// Whether the area has no slot.
    pub fn is_empty(&self) -> bool {
        self.slots == 0
    }
}

/// A record the reader found, at byte `offset` of the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Byte offset of its sector on the device.
    pub offset: u64,
    /// The record.
    pub record: Record,
    /// The sector's 512 bytes, as on the disk.
    pub sector: Vec<u8>,
}

impl Region {
    /// The region of `len` bytes from `offset`: both multiples of 512, `len` positive.
    pub fn new(offset: u64, len: u64) -> Result<Region, Error> {
        if offset % 512 != 0 || len % 512 != 0 {
            return Err(Error::Invalid(format!(
                "region {offset}:{len}: offset and length must be multiples of 512"
            )));
        }
        if len == 0 {
            return Err(Error::Invalid(
                "region length 0: the region is empty".into(),
            ));
        }
        if offset.checked_add(len).is_none() {
            return Err(Error::Invalid(format!(
                "region {offset}:{len} ends beyond 2^64"
            )));
        }
        Ok(Region { offset, len })
    }

    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.offset + self.len
    }

    /// The byte range, e.g. for [`crate::disk::SharedDisk::journal_writes`].
    pub fn range(&self) -> std::ops::Range<u64> {
        self.offset..self.end()
    }

    /// Node `node`'s area (node from 1 to `max_nodes`) with slots of `slot_size` bytes
    /// (512 or 4096, the device's logical sector size, which the region must be aligned
    /// to). Fails if the node is out of range or an area would hold no slot.
    pub fn node_area(&self, node: u32, max_nodes: u32, slot_size: u64) -> Result<Area, Error> {
        if max_nodes == 0 {
            return Err(Error::Invalid("max nodes 0: at least one node".into()));
        }
        if node == 0 || node > max_nodes {
            return Err(Error::Invalid(format!(
                "node id {node}: must be 1 to {max_nodes} (the maximum number of nodes)"
            )));
        }
        if slot_size < RECORD_SIZE as u64 || !slot_size.is_power_of_two() {
            return Err(Error::Invalid(format!(
                "slot size {slot_size}: a power of two of at least 512"
            )));
        }
        if self.offset % slot_size != 0 || self.len % slot_size != 0 {
            return Err(Error::Invalid(format!(
                "region {}:{} is not aligned to the device's {slot_size}-byte sectors",
                self.offset, self.len
            )));
        }
        let slots = self.len / slot_size / u64::from(max_nodes);
        if slots == 0 {
            return Err(Error::Invalid(format!(
                "region of {} bytes is too small for {max_nodes} nodes with {slot_size}-byte slots",
                self.len
            )));
        }
        Ok(Area {
            offset: self.offset + u64::from(node - 1) * slots * slot_size,
            slots,
            slot_size,
        })
    }
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.offset, self.len)
    }
}

impl FromStr for Region {
    type Err = Error;

    /// `OFFSET:LEN`, each plain bytes or with a binary suffix `K`, `M`, `G`, `T` (also
    /// `KiB` ...), e.g. `16M:16M` or `1048576:65536`.
    fn from_str(s: &str) -> Result<Region, Error> {
        let (offset, len) = s.split_once(':').ok_or_else(|| {
            Error::Invalid(format!("region {s:?}: expected OFFSET:LEN, e.g. 16M:16M"))
        })?;
        Region::new(parse_size(offset)?, parse_size(len)?)
    }
}

/// A size in bytes: digits, optionally followed by `K`, `M`, `G` or `T` (powers of 1024,
/// `KiB` etc. also accepted, case-insensitive).
pub fn parse_size(s: &str) -> Result<u64, Error> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, suffix) = t.split_at(digits);
    let bad = |why: &str| Error::Invalid(format!("size {s:?}: {why}"));
    if number.is_empty() {
        return Err(bad("expected a number of bytes, e.g. 16M or 4096"));
    }
    let number: u64 = number.parse().map_err(|_| bad("too large"))?;
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        _ => return Err(bad("unknown unit (K, M, G, T)")),
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| bad("too large"))
}

/// Every valid record in `region` of `path` (a block device or a regular file), with the
/// offset of its sector, in offset order. A plain buffered read: for the checker, after
/// the writers stopped. Fails if the region goes beyond the end of the file.
pub fn read_region(path: &Path, region: &Region) -> Result<Vec<Found>, Error> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let size = device_size(&mut file).map_err(|e| Error::io(path, e))?;
    if region.end() > size {
        return Err(Error::Invalid(format!(
            "region {region} goes beyond the end of {} ({size} bytes)",
            path.display()
        )));
    }
    let mut found = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = region.offset;
    while at < region.end() {
        let n = (region.end() - at).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], at)
            .map_err(|e| Error::io(path, e))?;
        for (i, sector) in buf[..n].chunks_exact(RECORD_SIZE).enumerate() {
            if let Ok(record) = Record::decode(sector) {
                found.push(Found {
                    offset: at + (i * RECORD_SIZE) as u64,
                    record,
                    sector: sector.to_vec(),
                });
            }
        }
        at += n as u64;
    }
    Ok(found)
}

/// The size of a regular file or a block device (whose metadata says 0).
fn device_size(file: &mut File) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let meta = file.metadata()?;
    if meta.is_file() {
        return Ok(meta.len());
    }
    file.seek(SeekFrom::End(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn regions_parse_with_units_and_say_what_is_wrong() {
        assert_eq!(
            "16M:16M".parse::<Region>().expect("parse"),
            Region {
                offset: 16 << 20,
                len: 16 << 20
            }
        );
        assert_eq!(
            "1048576:64KiB".parse::<Region>().expect("parse"),
            Region {
                offset: 1 << 20,
                len: 64 << 10
            }
        );
        assert_eq!("0:512".parse::<Region>().expect("parse").end(), 512);
        for (bad, says) in [
            ("16M", "OFFSET:LEN"),
            ("16M:", "expected a number"),
            ("x:1M", "expected a number"),
            ("1M:3Q", "unknown unit"),
            ("100:512", "multiples of 512"),
            ("0:0", "empty"),
            ("99999999999999999999:512", "too large"),
            ("0:16777216T", "too large"),
            ("18446744073709551104:1024", "beyond"),
        ] {
            let e = bad.parse::<Region>().expect_err(bad).to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn node_areas_split_the_region_into_whole_slots() {
        let r: Region = "16M:16M".parse().expect("parse");
        let a1 = r.node_area(1, 8, 512).expect("area");
        let a8 = r.node_area(8, 8, 512).expect("area");
        assert_eq!(a1.offset, 16 << 20);
        assert_eq!(a1.slots, 4096);
        assert_eq!(a8.offset + a8.len(), 32 << 20);
        assert_eq!(a1.slot_offset(4096), a1.offset, "a ring");
        assert_eq!(a1.slot_at(a1.offset + 512 * 3), Some(3));
        assert_eq!(a1.slot_at(a1.offset + 100), None);
        assert_eq!(a1.slot_at(a8.offset), None);
        // Uneven: 3 nodes, 10 slots: 3 each, the rest unused.
        let r = Region::new(0, 5120).expect("region");
        let a3 = r.node_area(3, 3, 512).expect("area");
        assert_eq!((a3.offset, a3.slots), (3072, 3));
        // 4096-byte slots.
        let a = "16M:16M".parse::<Region>().expect("parse");
        assert_eq!(a.node_area(2, 8, 4096).expect("area").slots, 512);
        for (region, node, max, slot, says) in [
            ("0:4K", 0, 8, 512, "1 to 8"),
            ("0:4K", 9, 8, 512, "1 to 8"),
            ("0:4K", 1, 0, 512, "at least one"),
            ("0:4K", 1, 9, 512, "too small"),
            ("512:4K", 1, 1, 4096, "not aligned"),
            ("0:4K", 1, 1, 1000, "power of two"),
        ] {
            let r: Region = region.parse().expect("parse");
            let e = r.node_area(node, max, slot).expect_err(region).to_string();
            assert!(e.contains(says), "{region} {node} {max} {slot}: {e}");
        }
    }

    #[test]
    fn the_reader_finds_every_record_of_the_region() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("disk");
        let mut file = File::create(&path).expect("create");
        file.write_all(&vec![0u8; 64 << 10]).expect("zero");
        let record = |seq| Record {
            node_id: 1,
            incarnation: 7,
            seq,
            issued_ns: seq * 1000,
            node_name: "n1".into(),
        };
        for (offset, seq) in [(4096u64, 1), (8192 - 512, 2), (8192, 3), (1024, 4)] {
            let bytes = record(seq).encode().expect("encode");
            file.write_all_at(&bytes, offset).expect("write");
        }
        // Garbage in the region is skipped.
        file.write_all_at(&[0xaa; 512], 5120).expect("write");
        let found = read_region(&path, &Region::new(4096, 4096).expect("region")).expect("read");
        let seqs: Vec<(u64, u64)> = found.iter().map(|f| (f.offset, f.record.seq)).collect();
        assert_eq!(seqs, vec![(4096, 1), (7680, 2)]);
        assert_eq!(
            found[0].sector,
            record(1).encode().expect("encode").to_vec()
        );
        let e = read_region(&path, &Region::new(60 << 10, 8192).expect("region"))
            .expect_err("beyond")
            .to_string();
        assert!(e.contains("beyond the end"), "{e}");
        let e = read_region(
            &dir.path().join("none"),
            &Region::new(0, 512).expect("region"),
        )
        .expect_err("missing")
        .to_string();
        assert!(e.contains("none"), "{e}");
    }
}
