//! Who fences whom with what: fence levels per node, and the devices to unfence.
//!
//! A node's levels are tried in order; every device of a level must succeed for the level to
//! succeed (RHCS `<method>`, Pacemaker `fencing-level`). Per-node device arguments (the
//! outlet, port or plug of this node on that device) override the device's own.

use std::collections::BTreeMap;

/// A node's name.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct NodeName(pub String);

impl std::fmt::Display for NodeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A fence device's name in the configuration.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct DeviceName(pub String);

impl std::fmt::Display for DeviceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One device as used for one node: the device and this node's arguments on it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceUse {
    /// The device.
    pub device: DeviceName,
    /// This node's arguments (`port`, `plug`, ...), overriding the device's own.
    pub args: BTreeMap<String, String>,
}

/// A fence level: devices that must all succeed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Level {
    /// 1-based position.
    pub index: u8,
    /// Its devices, in order.
    pub devices: Vec<DeviceUse>,
}

/// How one node is fenced and unfenced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeFencing {
    /// Levels, tried in order.
    pub levels: Vec<Level>,
    /// Devices switched back on when the node rejoins (resource-level devices: fabric ports).
    pub unfence: Vec<DeviceUse>,
    /// Static delay before fencing this node (the two halves of a split two-node cluster
    /// must not shoot at once: give one node a delay).
    pub delay: std::time::Duration,
}

/// Every node's fencing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    /// By node.
    pub nodes: BTreeMap<NodeName, NodeFencing>,
}

impl Topology {
    /// The fencing of `node`, if it is configured.
    pub fn node(&self, node: &NodeName) -> Option<&NodeFencing> {
        self.nodes.get(node)
    }
}
