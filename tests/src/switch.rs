//! The switch: one namespace holding a bridge per network, with one veth port per node.
//! Setting a port down (by `ip` or by SNMP `ifAdminStatus`) cuts that node off in both
//! directions, like pulling its cable.

use crate::error::Result;
use crate::netns::NetNs;
use crate::topology::{Net, SWITCH_ADDR};

/// The switch namespace and its bridges.
#[derive(Debug)]
pub struct Switch {
    ns: NetNs,
    nets: Vec<Net>,
}

impl Switch {
    /// Creates the namespace `name` with a bridge for each of `nets`; the management bridge
    /// also gets the switch's own address.
    pub fn create(name: &str, nets: &[Net]) -> Result<Switch> {
        let ns = NetNs::create(name)?;
        for net in nets {
            let bridge = net.bridge();
            ns.ip(&["link", "add", &bridge, "type", "bridge"])?;
            ns.ip(&["link", "set", &bridge, "up"])?;
            if *net == Net::Mgmt {
                let addr = format!("{SWITCH_ADDR}/{}", Net::PREFIX_LEN);
                ns.ip(&["addr", "add", &addr, "dev", &bridge])?;
            }
        }
        Ok(Switch {
            ns,
            nets: nets.to_vec(),
        })
    }

    /// The switch's namespace.
    pub fn netns(&self) -> &NetNs {
        &self.ns
    }

    /// The networks this switch carries.
    pub fn nets(&self) -> &[Net] {
        &self.nets
    }

    /// Wires node `node` (namespace `node_ns`) to `net`: a veth pair whose switch end is the
    /// port (fixed ifIndex, on the bridge) and whose node end is configured and up.
    pub fn connect(&self, node: usize, node_ns: &NetNs, net: Net) -> Result<()> {
        let port = net.port_name(node);
        let index = net.port_if_index(node).to_string();
        let ifname = net.node_ifname();
        self.ns.ip(&[
            "link",
            "add",
            &port,
            "index",
            &index,
            "type",
            "veth",
            "peer",
            "name",
            &ifname,
            "netns",
            node_ns.name(),
        ])?;
        self.ns
            .ip(&["link", "set", &port, "master", &net.bridge()])?;
        self.ns.ip(&["link", "set", &port, "up"])?;
        let addr = format!("{}/{}", net.node_addr(node), Net::PREFIX_LEN);
        node_ns.ip(&["addr", "add", &addr, "dev", &ifname])?;
        node_ns.ip(&["link", "set", &ifname, "up"])?;
        Ok(())
    }

    /// Sets node `node`'s port on `net` administratively up or down.
    pub fn set_port(&self, node: usize, net: Net, up: bool) -> Result<()> {
        let state = if up { "up" } else { "down" };
        self.ns
            .ip(&["link", "set", &net.port_name(node), state])
            .map(drop)
    }

    /// Whether node `node`'s port on `net` is administratively up.
    pub fn port_is_up(&self, node: usize, net: Net) -> Result<bool> {
        let out = self.ns.ip(&["-o", "link", "show", &net.port_name(node)])?;
        Ok(flags_of(&out).contains(&"UP"))
    }

    /// Moves node `node`'s port on `net` onto bridge `bridge` (created if missing); the
    /// nemesis builds partitions this way.
    pub fn move_port(&self, node: usize, net: Net, bridge: &str) -> Result<()> {
        if self.ns.ip(&["link", "show", bridge]).is_err() {
            self.ns.ip(&["link", "add", bridge, "type", "bridge"])?;
            self.ns.ip(&["link", "set", bridge, "up"])?;
        }
        self.ns
            .ip(&["link", "set", &net.port_name(node), "master", bridge])
            .map(drop)
    }

    /// Deletes the switch namespace (and with it every port and bridge).
    pub fn destroy(&mut self) -> Result<()> {
        self.ns.delete()
    }

    /// Deletes a bridge made by [`Switch::move_port`] (its ports must have moved away).
    pub fn delete_bridge(&self, bridge: &str) -> Result<()> {
        self.ns.ip(&["link", "delete", bridge]).map(drop)
    }
}

/// The flags between `<` and `>` of an `ip -o link show` line.
fn flags_of(line: &str) -> Vec<&str> {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(flags, _)| flags.split(',').collect())
        .unwrap_or_default()
}
