//! The quorum disk: a Red Hat qdisk compatible on-disk format, sector I/O on shared block
//! storage, and (with the qdiskd issue) the daemon's core.
//!
//! The principal types are [`format::QuorumHeader`] and [`format::StatusBlock`], the
//! decoded contents of the header sector and of one node's status sector, and
//! [`disk::QuorumDisk`], an opened quorum disk that reads and writes them. Both layouts live
//! in [`geometry::Geometry`]: Red Hat's (16 nodes, one 4 KiB slot per node, readable by
//! Red Hat's tools) and our extended one (up to 256 nodes, one sector per node, packed so
//! that every node's status comes back in a single I/O).
//!
//! [`format`] does no I/O and reads no clock: wall-clock timestamps are passed in by the
//! caller. [`device`] is the only module that issues system calls on the disk; [`scan`]
//! finds candidate block devices in sysfs without opening any of them.

pub mod aligned;
pub mod api;
pub mod client;
pub mod config;
pub mod cycle;
pub mod daemon;
pub mod device;
pub mod disk;
pub mod format;
pub mod geometry;
pub mod heuristics;
pub mod ids;
pub mod mounts;
pub mod poison;
pub mod scan;
pub mod time;
pub mod timing;
pub mod watchdog;

pub use format::{BlockId, FormatError};
pub use ids::{Incarnation, NodeId};
