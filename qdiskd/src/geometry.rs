//! Where things are on a quorum disk: the two layouts and their offsets.
//!
//! | item | Red Hat layout | extended layout |
//! |---|---|---|
//! | header | offset 0, one sector | offset 0, one sector |
//! | node *n*'s status | 4096 + (n−1)·max(ssz, 4096) | 4096 + (n−1)·ssz |
//! | nodes | 1..=16 | 1..=`max_nodes` (17..=256, or fewer on request) |
//! | end of disk | 4096 + 17·max(ssz, 4096) (73 728 B) | 4096 + max_nodes·ssz |
//!
//! In Red Hat's layout each slot is 4 KiB apart and only its first sector is used (RHCS
//! `qdisk_nodeid_offset`, `END_OF_DISK`; the 17th slot is a spare nobody writes). The
//! extended layout packs one sector per node back to back, so the whole status area is one
//! contiguous range that a single O_DIRECT read returns: 255 nodes cost one I/O instead of
//! 255. Each node still owns whole sectors, so single-sector writes by different nodes
//! never overlap.

use crate::ids::NodeId;

/// Offset of the first status block in both layouts.
pub const FIRST_STATUS_OFFSET: u64 = 4096;
/// Nodes in Red Hat's layout (`MAX_NODES_DISK`).
pub const CLASSIC_MAX_NODES: u32 = 16;
/// Slots reserved in Red Hat's layout: 16 nodes plus one spare.
pub const CLASSIC_SLOTS: u32 = 17;
/// Most nodes the extended layout can describe (its masks hold 256 bits).
pub const EXTENDED_MAX_NODES: u32 = 256;
/// Smallest and largest logical sector sizes accepted.
pub const SECTOR_SIZES: std::ops::RangeInclusive<u32> = 512..=65536;

/// Which of the two on-disk layouts a disk uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Layout {
    /// Red Hat's layout: 16 nodes, readable and writable by Red Hat's qdiskd and mkqdisk.
    #[serde(rename = "redhat")]
    Classic,
    /// Our layout for larger or faster clusters; Red Hat's tools do not recognise it.
    Extended {
        /// Number of node slots (node ids 1..=max_nodes).
        max_nodes: u32,
    },
}

impl Layout {
    /// The highest node id this layout has a slot for.
    pub fn max_nodes(self) -> u32 {
        match self {
            Layout::Classic => CLASSIC_MAX_NODES,
            Layout::Extended { max_nodes } => max_nodes,
        }
    }

    /// A short name for listings: `redhat` or `extended`.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Classic => "redhat",
            Layout::Extended { .. } => "extended",
        }
    }
}

/// A layout on a device with a given logical sector size: every offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    layout: Layout,
    sector_size: u32,
}

/// Why a layout and sector size do not make a geometry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeometryError {
    /// The sector size is not a power of two in 512..=65536.
    #[error("sector size {0} is not supported (a power of two from 512 to 65536 is)")]
    SectorSize(u32),
    /// The extended layout's node count is out of range.
    #[error("the extended layout holds 1 to {EXTENDED_MAX_NODES} nodes, not {0}")]
    NodeCount(u32),
}

impl Geometry {
    /// The geometry of `layout` on a device with `sector_size`-byte logical sectors.
    pub fn new(layout: Layout, sector_size: u32) -> Result<Self, GeometryError> {
        if !SECTOR_SIZES.contains(&sector_size) || !sector_size.is_power_of_two() {
            return Err(GeometryError::SectorSize(sector_size));
        }
        if let Layout::Extended { max_nodes } = layout {
            if !(1..=EXTENDED_MAX_NODES).contains(&max_nodes) {
                return Err(GeometryError::NodeCount(max_nodes));
            }
        }
        Ok(Self {
            layout,
            sector_size,
        })
    }

    /// The layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Logical sector size: the unit of every I/O.
    pub fn sector_size(&self) -> u32 {
        self.sector_size
    }

    /// Distance between two consecutive nodes' status blocks.
    pub fn slot_stride(&self) -> u64 {
        match self.layout {
            Layout::Classic => u64::from(self.sector_size.max(4096)),
            Layout::Extended { .. } => u64::from(self.sector_size),
        }
    }

    /// Whether `node` has a slot in this layout.
    pub fn contains(&self, node: NodeId) -> bool {
        (1..=self.layout.max_nodes()).contains(&node.0)
    }

    /// Byte offset of `node`'s status block, or `None` when the layout has no slot for it.
    pub fn status_offset(&self, node: NodeId) -> Option<u64> {
        self.contains(node)
            .then(|| FIRST_STATUS_OFFSET + u64::from(node.0 - 1) * self.slot_stride())
    }

    /// The byte range holding every node's status block, for one bulk read.
    ///
    /// In Red Hat's layout the range spans the 16 slots with their unused tails (64 KiB);
    /// in the extended layout it is exactly one sector per node.
    pub fn status_area(&self) -> std::ops::Range<u64> {
        let nodes = u64::from(self.layout.max_nodes());
        let end =
            FIRST_STATUS_OFFSET + (nodes - 1) * self.slot_stride() + u64::from(self.sector_size);
        FIRST_STATUS_OFFSET..end
    }

    /// The smallest device that holds this layout (Red Hat's `END_OF_DISK` for its layout).
    pub fn end_of_disk(&self) -> u64 {
        match self.layout {
            Layout::Classic => FIRST_STATUS_OFFSET + u64::from(CLASSIC_SLOTS) * self.slot_stride(),
            Layout::Extended { max_nodes } => {
                FIRST_STATUS_OFFSET + u64::from(max_nodes) * self.slot_stride()
            }
        }
    }

    /// Every node id with a slot, in order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeId> {
        (1..=self.layout.max_nodes()).map(NodeId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_offsets_match_red_hat_for_both_sector_sizes() {
        for ssz in [512, 4096] {
            let g = Geometry::new(Layout::Classic, ssz).expect("valid");
            assert_eq!(g.status_offset(NodeId(1)), Some(4096));
            assert_eq!(g.status_offset(NodeId(16)), Some(65536));
            assert_eq!(g.status_offset(NodeId(17)), None);
            assert_eq!(g.status_offset(NodeId(0)), None);
            assert_eq!(g.end_of_disk(), 73_728);
        }
    }

    #[test]
    fn extended_layout_packs_one_sector_per_node() {
        let g = Geometry::new(Layout::Extended { max_nodes: 255 }, 512).expect("valid");
        assert_eq!(g.status_offset(NodeId(2)), Some(4096 + 512));
        assert_eq!(g.status_area(), 4096..4096 + 255 * 512);
        assert_eq!(g.end_of_disk(), 4096 + 255 * 512);
        let g = Geometry::new(Layout::Extended { max_nodes: 255 }, 4096).expect("valid");
        assert_eq!(g.status_area().end - g.status_area().start, 255 * 4096);
    }

    #[test]
    fn impossible_geometries_are_refused() {
        assert_eq!(
            Geometry::new(Layout::Classic, 1000),
            Err(GeometryError::SectorSize(1000))
        );
        assert_eq!(
            Geometry::new(Layout::Extended { max_nodes: 257 }, 512),
            Err(GeometryError::NodeCount(257))
        );
    }
}
