//! The lab's address plan: which networks exist, interface names, ifIndex values and
//! addresses. Everything lives in lab namespaces only, so every lab can use the same plan.
//!
//! | network | node interface | switch port (ifIndex) | node `i` address | other |
//! |---|---|---|---|---|
//! | heartbeat medium 0 | `hb0` | `n{i}h0` (100 + i) | `10.99.1.i/24` | |
//! | heartbeat medium 1 | `hb1` | `n{i}h1` (200 + i) | `10.99.2.i/24` | |
//! | management | `mgmt` | `n{i}m` (300 + i) | `10.99.0.i/24` | BMC of node i `10.99.0.(100+i)`, switch (SNMP) `10.99.0.254` |
//! | storage (SAN) | `san0` | `n{i}s` (400 + i) | `10.99.3.i/24` | carries no disk traffic: its switch port is the node's way to the shared disk (down = cut off) |

use std::fmt;
use std::net::Ipv4Addr;

/// Largest number of nodes the address plan has room for.
pub const MAX_NODES: usize = 99;

/// One of the lab's networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Net {
    /// Heartbeat medium 0 or 1: independent bridges, so one can be cut while the other works.
    Heartbeat(u8),
    /// The management network: BMCs and the switch's SNMP agent live here.
    Mgmt,
    /// The storage network (SAN): the node's shared-disk I/O passes its switch port, so
    /// disabling the port (fabric fencing) cuts the node off the shared disk.
    San,
}

impl Net {
    /// Interface name inside the node.
    pub fn node_ifname(self) -> String {
        match self {
            Net::Heartbeat(m) => format!("hb{m}"),
            Net::Mgmt => "mgmt".to_string(),
            Net::San => "san0".to_string(),
        }
    }

    /// Name of node `node`'s port on the switch (its `ifDescr`).
    pub fn port_name(self, node: usize) -> String {
        match self {
            Net::Heartbeat(m) => format!("n{node}h{m}"),
            Net::Mgmt => format!("n{node}m"),
            Net::San => format!("n{node}s"),
        }
    }

    /// Fixed `ifIndex` of node `node`'s port on the switch (IF-MIB index for SNMP).
    pub fn port_if_index(self, node: usize) -> u32 {
        let base = match self {
            Net::Heartbeat(m) => 100 * (u32::from(m) + 1),
            Net::Mgmt => 300,
            Net::San => 400,
        };
        base + node as u32
    }

    /// The Fibre Channel name (`fcSLOT/PORT`) of node `node`'s port, as the switch's
    /// FC-MIB serves it: slot 1 is heartbeat medium 0, slot 2 medium 1, slot 3 management,
    /// slot 4 storage;
    /// the port number is the node.
    pub fn fc_port_name(self, node: usize) -> String {
        let slot = match self {
            Net::Heartbeat(m) => u32::from(m) + 1,
            Net::Mgmt => 3,
            Net::San => 4,
        };
        format!("fc{slot}/{node}")
    }

    /// The bridge in the switch namespace.
    pub fn bridge(self) -> String {
        match self {
            Net::Heartbeat(m) => format!("br{m}"),
            Net::Mgmt => "brm".to_string(),
            Net::San => "brs".to_string(),
        }
    }

    /// The third octet of this network's `10.99.X.0/24`.
    fn subnet(self) -> u8 {
        match self {
            Net::Heartbeat(m) => m + 1,
            Net::Mgmt => 0,
            Net::San => 3,
        }
    }

    /// Node `node`'s address on this network.
    pub fn node_addr(self, node: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 99, self.subnet(), node as u8)
    }

    /// Prefix length of every lab network.
    pub const PREFIX_LEN: u8 = 24;
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Net::Heartbeat(m) => write!(f, "heartbeat{m}"),
            Net::Mgmt => f.write_str("mgmt"),
            Net::San => f.write_str("san"),
        }
    }
}

/// Address of node `node`'s BMC on the management network.
pub fn bmc_addr(node: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 99, 0, 100 + node as u8)
}

/// Address of the switch (its SNMP agent) on the management network.
pub const SWITCH_ADDR: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 254);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_gives_distinct_indexes_and_addresses() {
        assert_eq!(Net::Heartbeat(0).port_if_index(3), 103);
        assert_eq!(Net::Heartbeat(1).port_if_index(3), 203);
        assert_eq!(Net::Mgmt.port_if_index(3), 303);
        assert_eq!(Net::Heartbeat(1).node_addr(2).to_string(), "10.99.2.2");
        assert_eq!(bmc_addr(2).to_string(), "10.99.0.102");
        assert!(Net::Heartbeat(1).port_name(99).len() <= 15);
        assert_eq!(Net::Heartbeat(1).fc_port_name(4), "fc2/4");
        assert_eq!(Net::Mgmt.fc_port_name(1), "fc3/1");
        assert_eq!(Net::San.port_if_index(5), 405);
        assert_eq!(Net::San.fc_port_name(5), "fc4/5");
        assert_eq!(Net::San.port_name(12), "n12s");
    }
}
