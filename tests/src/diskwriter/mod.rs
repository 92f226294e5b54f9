//! The chaos campaign's shared-disk writer: a cluster resource that, while it runs, writes
//! records with O_DIRECT to its node's part of a region of the shared disk, as a database
//! on shared storage would; and the checker that proves from the disk and the lab's landing
//! journal that no two writers ever owned the region at once (a write from node A landing
//! after node B started writing is the corruption STONITH exists to prevent).
//!
//! - [`record`]: the 512-byte record (node, incarnation, seq, issue time, CRC).
//! - [`region`]: the region (`OFFSET:LEN`), its per-node areas and the reader.
//! - [`writer`]: the writer (`lab disk-writer`).
//! - [`check`](mod@check): the checker: ownership spans and violations, from landing times the lab's
//!   disk layer recorded ([`crate::faultdisk::FaultControl::journal_writes`]), not from
//!   what the writers claim.
//! - [`resource`]: the heartbeat `resource.d` script that starts and stops the writer.

pub mod check;
pub mod record;
pub mod region;
pub mod resource;
pub mod writer;

pub use check::{check, CheckReport};
pub use record::Record;
pub use region::{read_region, Found, Region};
pub use resource::{ResourceScript, DISKWRITER_SCRIPT};
pub use writer::{run_writer, WriterOptions, WriterSummary};

use std::path::PathBuf;

/// What can go wrong with the writer, the region or the reader.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input: an option, a region spec, a layout that does not fit.
    #[error("{0}")]
    Invalid(String),
    /// The device or file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The device or file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Error {
    fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
