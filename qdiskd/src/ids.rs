//! Newtypes for the identifiers that appear on disk.

use std::fmt;

/// A cluster node's id: 1..=16 in Red Hat's layout, 1..=256 in the extended one (0, the
/// default, is no node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The node id as a plain number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A token fixed for the life of one qdiskd process, written in every status block.
///
/// A changed incarnation tells peers the daemon restarted; an unchanged one after a silence
/// tells them a hung node resumed (RHCS qdiskd, `ps_incarnation`). It is only ever compared
/// for equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct Incarnation(pub u64);

impl fmt::Display for Incarnation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}
