//! The node's persistent identity in the state directory (heartbeat's `/var/lib/heartbeat`):
//! its UUID and its generation number. This module does file I/O; the membership core only
//! receives the values.
//!
//! - `hb_uuid`: 16 raw bytes, created at random when absent, as heartbeat does. With
//!   `uuidfrom nodename` the UUID is instead derived from the node name: the RFC 4122
//!   name-based (version 5, SHA-1) UUID of the lower-cased node name in the DNS namespace,
//!   so every installation computes the same value for the same name and nothing is stored.
//! - `hb_generation`: 16 bytes, the decimal number right-justified in 15 columns and a
//!   newline. Every start reads it, adds 1 and writes it back durably *before* the number is
//!   used; when the file is missing or unreadable the generation starts from the current
//!   wall-clock time in seconds (`time()`), as heartbeat does. With `hbgenmethod time` the
//!   wall-clock time is used on every start.
//!
//! Files are written to a temporary name with `O_SYNC`, fsynced, renamed into place, and the
//! directory fsynced, so a crash leaves either the old or the new content.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use sha1::{Digest, Sha1};

use crate::config::hacf::{GenMethod, UuidFrom};
use crate::config::NodeName;
use crate::membership::NodeUuid;

/// File name of the UUID.
pub const UUID_FILE: &str = "hb_uuid";
/// File name of the generation counter.
pub const GENERATION_FILE: &str = "hb_generation";

/// The RFC 4122 DNS namespace, used for name-derived UUIDs.
const DNS_NAMESPACE: [u8; 16] = [
    0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
];

/// What went wrong with the state directory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file could not be read or written.
    #[error("{path}: {source}; check that the state directory exists and is writable by root")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The UUID file does not hold exactly 16 bytes.
    #[error("{path}: holds {len} bytes, a node uuid is 16; delete the file to create a new uuid")]
    BadUuid {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
}

/// Where a generation number came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerationSource {
    /// The counter file, incremented.
    File,
    /// The counter file was missing: started from the clock.
    Missing,
    /// The counter file could not be read or parsed (the reason): started from the clock.
    Unreadable(String),
    /// `hbgenmethod time`.
    Clock,
}

/// A generation number, already stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// The number to use for this run.
    pub value: u64,
    /// Where it came from (for the log).
    pub source: GenerationSource,
}

/// The node's UUID: from the name, or from `dir/hb_uuid` (created at random when absent).
pub fn load_uuid(dir: &Path, from: UuidFrom, name: &NodeName) -> Result<NodeUuid, StateError> {
    match from {
        UuidFrom::NodeName => Ok(uuid_from_name(name)),
        UuidFrom::File => load_or_create_uuid(dir),
    }
}

/// The RFC 4122 version-5 UUID of the (lower-cased) node name in the DNS namespace.
pub fn uuid_from_name(name: &NodeName) -> NodeUuid {
    let mut h = Sha1::new();
    h.update(DNS_NAMESPACE);
    h.update(name.as_str().as_bytes());
    let digest = h.finalize();
    let mut u = [0u8; 16];
    u.copy_from_slice(&digest[..16]);
    u[6] = (u[6] & 0x0f) | 0x50;
    u[8] = (u[8] & 0x3f) | 0x80;
    NodeUuid(u)
}

/// Reads `dir/hb_uuid`, or creates it with 16 random bytes.
pub fn load_or_create_uuid(dir: &Path) -> Result<NodeUuid, StateError> {
    let path = dir.join(UUID_FILE);
    match read_all(&path) {
        Ok(bytes) => {
            let arr: [u8; 16] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| StateError::BadUuid {
                    path: path.clone(),
                    len: bytes.len(),
                })?;
            Ok(NodeUuid(arr))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let uuid: [u8; 16] = rand::random();
            write_durably(&path, &uuid)?;
            Ok(NodeUuid(uuid))
        }
        Err(source) => Err(StateError::Io { path, source }),
    }
}

/// The generation for this run, stored in `dir/hb_generation` before it is returned.
pub fn next_generation(dir: &Path, method: GenMethod) -> Result<Generation, StateError> {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    next_generation_at(dir, method, wall)
}

/// [`next_generation`] with the wall-clock seconds given.
pub fn next_generation_at(
    dir: &Path,
    method: GenMethod,
    wall_secs: u64,
) -> Result<Generation, StateError> {
    let path = dir.join(GENERATION_FILE);
    let generation = match method {
        GenMethod::Time => Generation {
            value: wall_secs,
            source: GenerationSource::Clock,
        },
        GenMethod::File => match read_all(&path) {
            Ok(bytes) => match parse_generation(&bytes) {
                Some(g) => Generation {
                    value: g.saturating_add(1),
                    source: GenerationSource::File,
                },
                None => Generation {
                    value: wall_secs,
                    source: GenerationSource::Unreadable(format!(
                        "{}: not a decimal number",
                        path.display()
                    )),
                },
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Generation {
                value: wall_secs,
                source: GenerationSource::Missing,
            },
            Err(e) => Generation {
                value: wall_secs,
                source: GenerationSource::Unreadable(format!("{}: {e}", path.display())),
            },
        },
    };
    write_durably(&path, format_generation(generation.value).as_bytes())?;
    Ok(generation)
}

/// The 16-byte file content: right-justified decimal and a newline.
pub fn format_generation(value: u64) -> String {
    format!("{value:>15}\n")
}

/// Parses the counter file (surrounding blanks allowed).
pub fn parse_generation(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

fn read_all(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)?.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Writes `bytes` to a temporary file with `O_SYNC`, fsyncs, renames it over `path` and
/// fsyncs the directory.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let io_err = |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let sync = rustix::fs::OFlags::SYNC.bits() as i32;
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(sync)
        .open(&tmp)
        .map_err(io_err)?;
    f.write_all(bytes).map_err(io_err)?;
    f.sync_all().map_err(io_err)?;
    drop(f);
    fs::rename(&tmp, path).map_err(io_err)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| StateError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generation_file_is_16_bytes_right_justified() {
        let s = format_generation(1_700_000_123);
        assert_eq!(s.len(), 16);
        assert_eq!(s, "     1700000123\n");
        assert_eq!(parse_generation(s.as_bytes()), Some(1_700_000_123));
        assert_eq!(parse_generation(b"x\n"), None);
    }

    #[test]
    fn a_missing_generation_starts_from_the_clock_then_counts_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let g = next_generation_at(dir.path(), GenMethod::File, 1000).expect("first");
        assert_eq!(g.value, 1000);
        assert_eq!(g.source, GenerationSource::Missing);
        let g = next_generation_at(dir.path(), GenMethod::File, 5).expect("second");
        assert_eq!((g.value, g.source), (1001, GenerationSource::File));
        let on_disk = fs::read(dir.path().join(GENERATION_FILE)).expect("read");
        assert_eq!(on_disk, b"           1001\n");
    }

    #[test]
    fn a_garbled_generation_restarts_from_the_clock_and_says_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(GENERATION_FILE), b"garbage").expect("write");
        let g = next_generation_at(dir.path(), GenMethod::File, 77).expect("gen");
        assert_eq!(g.value, 77);
        assert!(
            matches!(g.source, GenerationSource::Unreadable(ref why) if why.contains(GENERATION_FILE))
        );
        let g = next_generation_at(dir.path(), GenMethod::Time, 90).expect("gen");
        assert_eq!((g.value, g.source), (90, GenerationSource::Clock));
    }

    #[test]
    fn the_uuid_is_created_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = load_or_create_uuid(dir.path()).expect("create");
        let b = load_or_create_uuid(dir.path()).expect("load");
        assert_eq!(a, b);
        assert_eq!(fs::read(dir.path().join(UUID_FILE)).expect("read"), a.0);
        assert!(!dir.path().join("hb_uuid.tmp").exists());
    }

    #[test]
    fn a_wrong_sized_uuid_file_is_an_error_naming_the_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(UUID_FILE), b"short").expect("write");
        let err = load_or_create_uuid(dir.path()).expect_err("bad");
        let msg = err.to_string();
        assert!(msg.contains(UUID_FILE) && msg.contains("delete"), "{msg}");
    }

    #[test]
    fn name_derived_uuids_are_rfc4122_v5_and_case_insensitive() {
        let a = uuid_from_name(&NodeName::new("Web1.Example.com"));
        let b = load_uuid(
            Path::new("/nonexistent"),
            UuidFrom::NodeName,
            &NodeName::new("web1.example.com"),
        )
        .expect("no file needed");
        assert_eq!(a, b);
        assert_eq!(a.0[6] >> 4, 5, "version 5");
        assert_eq!(a.0[8] >> 6, 0b10, "RFC 4122 variant");
        assert_ne!(a, uuid_from_name(&NodeName::new("web2.example.com")));
        // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
        let py = uuid_from_name(&NodeName::new("python.org"));
        assert_eq!(py.to_string(), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
    }
}
