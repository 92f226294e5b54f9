//! Identifiers and the node set the policy works with.

use std::fmt;

/// Most nodes a cluster may have: node sets are 64-bit masks.
pub const MAX_NODES: usize = 64;

/// A node's stable id: its position (from 0) in the `ha.cf` node list.
///
/// The designated coordinator is the lowest id among the quorate membership.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct NodeId(pub u16);

impl NodeId {
    /// The id as an index into per-node tables.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node#{}", self.0)
    }
}

/// A resource group: its position (from 0) in `haresources`, which must be identical on all
/// nodes (heartbeat's rule). On the wire it is named by its key.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct GroupId(pub u16);

impl GroupId {
    /// The id as an index into per-group tables.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "group#{}", self.0)
    }
}

/// A set of nodes (ids below [`MAX_NODES`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct NodeSet(pub u64);

impl NodeSet {
    /// The empty set.
    pub const EMPTY: NodeSet = NodeSet(0);

    /// A set from ids; ids at or above [`MAX_NODES`] are ignored.
    pub fn from_ids(ids: impl IntoIterator<Item = NodeId>) -> Self {
        let mut s = NodeSet::EMPTY;
        for id in ids {
            s.insert(id);
        }
        s
    }

    /// Whether `id` is in the set.
    pub fn contains(self, id: NodeId) -> bool {
        id.index() < MAX_NODES && self.0 & (1u64 << id.0) != 0
    }

    /// Adds `id` (ignored at or above [`MAX_NODES`]).
    pub fn insert(&mut self, id: NodeId) {
        if id.index() < MAX_NODES {
            self.0 |= 1u64 << id.0;
        }
    }

    /// Removes `id`.
    pub fn remove(&mut self, id: NodeId) {
        if id.index() < MAX_NODES {
            self.0 &= !(1u64 << id.0);
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of nodes in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The lowest id in the set.
    pub fn lowest(self) -> Option<NodeId> {
        (self.0 != 0).then(|| NodeId(self.0.trailing_zeros() as u16))
    }

    /// Members of `self` not in `other`.
    pub fn minus(self, other: NodeSet) -> NodeSet {
        NodeSet(self.0 & !other.0)
    }

    /// Whether every member of `self` is in `other`.
    pub fn is_subset(self, other: NodeSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The ids, lowest first.
    pub fn iter(self) -> impl Iterator<Item = NodeId> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let i = bits.trailing_zeros();
                bits &= bits - 1;
                NodeId(i as u16)
            })
        })
    }
}

impl FromIterator<NodeId> for NodeSet {
    fn from_iter<T: IntoIterator<Item = NodeId>>(iter: T) -> Self {
        NodeSet::from_ids(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_sets_behave_like_sets() {
        let mut s = NodeSet::from_ids([NodeId(3), NodeId(0), NodeId(63)]);
        assert_eq!(s.len(), 3);
        assert_eq!(s.lowest(), Some(NodeId(0)));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [NodeId(0), NodeId(3), NodeId(63)]
        );
        s.remove(NodeId(0));
        assert_eq!(s.lowest(), Some(NodeId(3)));
        s.insert(NodeId(64));
        assert!(!s.contains(NodeId(64)));
        assert!(NodeSet::from_ids([NodeId(3)]).is_subset(s));
        assert_eq!(s.minus(NodeSet::from_ids([NodeId(3)])).iter().count(), 1);
        assert_eq!(NodeSet::EMPTY.lowest(), None);
    }
}
