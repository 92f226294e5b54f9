//! Sets of node ids as stored on disk: bit (id−1)&7 of byte (id−1)>>3, least significant
//! bit first (RHCS `bitmap.c`). Red Hat stores 8 bytes (64 ids, 16 used); the extended
//! layout stores 32 bytes (256 ids).

use crate::ids::NodeId;

/// Bytes of a mask in Red Hat's layout.
pub const CLASSIC_MASK_LEN: usize = 8;
/// Bytes of a mask in the extended layout.
pub const EXTENDED_MASK_LEN: usize = 32;

/// A set of node ids 1..=256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct NodeMask([u8; EXTENDED_MASK_LEN]);

impl NodeMask {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A mask from its on-disk bytes (8 or 32 of them; extra bytes are ignored).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut mask = [0u8; EXTENDED_MASK_LEN];
        let n = bytes.len().min(EXTENDED_MASK_LEN);
        mask[..n].copy_from_slice(&bytes[..n]);
        Self(mask)
    }

    /// The first `len` on-disk bytes.
    pub fn to_bytes(&self, len: usize) -> &[u8] {
        &self.0[..len.min(EXTENDED_MASK_LEN)]
    }

    fn position(node: NodeId) -> Option<(usize, u8)> {
        let index = node.0.checked_sub(1)? as usize;
        (index < EXTENDED_MASK_LEN * 8).then(|| (index >> 3, 1u8 << (index & 7)))
    }

    /// Adds `node`; ids outside 1..=256 are ignored.
    pub fn insert(&mut self, node: NodeId) {
        if let Some((byte, bit)) = Self::position(node) {
            self.0[byte] |= bit;
        }
    }

    /// Removes `node`.
    pub fn remove(&mut self, node: NodeId) {
        if let Some((byte, bit)) = Self::position(node) {
            self.0[byte] &= !bit;
        }
    }

    /// Whether `node` is in the set.
    pub fn contains(&self, node: NodeId) -> bool {
        Self::position(node).is_some_and(|(byte, bit)| self.0[byte] & bit != 0)
    }

    /// The members in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        (1..=(EXTENDED_MASK_LEN as u32 * 8))
            .map(NodeId)
            .filter(|&node| self.contains(node))
    }

    /// The highest member, if any.
    pub fn max(&self) -> Option<NodeId> {
        self.iter().last()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

impl FromIterator<NodeId> for NodeMask {
    fn from_iter<T: IntoIterator<Item = NodeId>>(iter: T) -> Self {
        let mut mask = Self::new();
        for node in iter {
            mask.insert(node);
        }
        mask
    }
}

impl serde::Serialize for NodeMask {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl std::fmt::Display for NodeMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("{")?;
        for (i, node) in self.iter().enumerate() {
            write!(f, "{}{node}", if i == 0 { " " } else { ", " })?;
        }
        f.write_str(" }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_bits_match_the_reference_example() {
        let mask: NodeMask = [1, 2, 8, 9, 16].into_iter().map(NodeId).collect();
        assert_eq!(
            mask.to_bytes(CLASSIC_MASK_LEN),
            &[0x83, 0x81, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(NodeMask::from_bytes(mask.to_bytes(8)), mask);
        assert_eq!(mask.to_string(), "{ 1, 2, 8, 9, 16 }");
    }

    #[test]
    fn out_of_range_ids_are_ignored() {
        let mut mask = NodeMask::new();
        mask.insert(NodeId(0));
        mask.insert(NodeId(257));
        assert!(mask.is_empty());
        mask.insert(NodeId(256));
        assert_eq!(mask.max(), Some(NodeId(256)));
    }
}
