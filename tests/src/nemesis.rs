//! The nemesis: faults a test injects into a running lab. Every action is recorded on the
//! lab's timeline.
//!
//! - Nodes: [`Lab::crash`] (off the network, every process SIGKILLed), [`Lab::kill_processes`]
//!   (daemons die, the machine stays up and on the network), [`Lab::pause`]/[`Lab::resume`]
//!   (cgroup freezer).
//! - Links: [`Lab::cut_link`]/[`Lab::restore_link`] set the node's switch port down/up
//!   (both directions, like a pulled cable); [`Lab::partition`]/[`Lab::heal`] split the
//!   heartbeat networks into groups of nodes by moving ports onto separate bridges.
//! - Packets: [`Lab::drop_packets`] drops a share of one node's packets on one network in
//!   one direction or both (nftables `numgen random` rules on the node's switch port);
//!   [`Lab::clear_packet_faults`] removes them. This kernel has no `sch_netem` and cannot
//!   load modules, so fixed delay and jitter are not offered here.
//! - Disk: [`Lab::disk_fault`] makes one node's shared-disk I/O fail or hang.

use crate::cmd::run_command;
use crate::error::{LabError, Result};
use crate::faultdisk::DiskFault;
use crate::topology::Net;
use crate::Lab;

/// Which packets of a node a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Packets the node sends.
    Outgoing,
    /// Packets the node receives.
    Incoming,
    /// Both.
    Both,
}

impl Lab {
    /// Crashes node `node` like a machine that died: links down, addresses gone, every
    /// process SIGKILLed. Its BMC still reports power on; a power cycle brings it back.
    pub fn crash(&self, node: usize) -> Result<()> {
        self.try_node(node)?.crash()?;
        self.timeline()
            .record("nemesis", format!("crash node{node}"));
        Ok(())
    }

    /// SIGKILLs every process of node `node`; the node stays on the network (its addresses
    /// keep answering ARP), which is the case only fencing protects against.
    pub fn kill_processes(&self, node: usize) -> Result<()> {
        self.try_node(node)?.kill_processes()?;
        self.timeline()
            .record("nemesis", format!("kill all processes of node{node}"));
        Ok(())
    }

    /// Freezes every process of node `node`.
    pub fn pause(&self, node: usize) -> Result<()> {
        self.try_node(node)?.pause()?;
        self.timeline()
            .record("nemesis", format!("pause node{node}"));
        Ok(())
    }

    /// Thaws node `node`.
    pub fn resume(&self, node: usize) -> Result<()> {
        self.try_node(node)?.resume()?;
        self.timeline()
            .record("nemesis", format!("resume node{node}"));
        Ok(())
    }

    /// Cuts node `node`'s link on `net` in both directions (its switch port goes down).
    pub fn cut_link(&self, node: usize, net: Net) -> Result<()> {
        self.try_node(node)?;
        self.switch()?.set_port(node, net, false)?;
        self.timeline()
            .record("nemesis", format!("cut node{node} {net}"));
        Ok(())
    }

    /// Restores node `node`'s link on `net`.
    pub fn restore_link(&self, node: usize, net: Net) -> Result<()> {
        self.try_node(node)?;
        self.switch()?.set_port(node, net, true)?;
        self.timeline()
            .record("nemesis", format!("restore node{node} {net}"));
        Ok(())
    }

    /// Cuts every heartbeat link of node `node` (the management network stays, so its BMC
    /// and the fencing path keep working).
    pub fn isolate(&self, node: usize) -> Result<()> {
        for net in self.heartbeat_nets()? {
            self.cut_link(node, net)?;
        }
        Ok(())
    }

    /// Restores every heartbeat link of node `node`.
    pub fn unisolate(&self, node: usize) -> Result<()> {
        for net in self.heartbeat_nets()? {
            self.restore_link(node, net)?;
        }
        Ok(())
    }

    fn heartbeat_nets(&self) -> Result<Vec<Net>> {
        Ok(self
            .switch()?
            .nets()
            .iter()
            .copied()
            .filter(|n| matches!(n, Net::Heartbeat(_)))
            .collect())
    }

    /// Splits the heartbeat networks into `groups` of nodes that reach each other only
    /// within their group. Nodes in no group stay with the first group.
    pub fn partition(&self, groups: &[&[usize]]) -> Result<()> {
        for group in groups {
            for node in *group {
                self.try_node(*node)?;
            }
        }
        let switch = self.switch()?;
        for (k, group) in groups.iter().enumerate().skip(1) {
            for net in self.heartbeat_nets()? {
                let bridge = format!("p{k}{}", net.bridge());
                for node in *group {
                    switch.move_port(*node, net, &bridge)?;
                }
                let mut extra = self.extra_bridges.lock().unwrap_or_else(|p| p.into_inner());
                if !extra.contains(&bridge) {
                    extra.push(bridge);
                }
            }
        }
        self.timeline()
            .record("nemesis", format!("partition {groups:?}"));
        Ok(())
    }

    /// Ends every partition: all heartbeat ports back on their bridges.
    pub fn heal(&self) -> Result<()> {
        let switch = self.switch()?;
        for node in self.nodes() {
            for net in self.heartbeat_nets()? {
                switch.move_port(node.index(), net, &net.bridge())?;
            }
        }
        let extra: Vec<String> =
            std::mem::take(&mut *self.extra_bridges.lock().unwrap_or_else(|p| p.into_inner()));
        for bridge in extra {
            switch.delete_bridge(&bridge)?;
        }
        self.timeline().record("nemesis", "heal partitions");
        Ok(())
    }

    /// Drops `percent` (1–100) of node `node`'s packets on `net` in `direction`.
    ///
    /// The drop happens on the node's switch port (nftables `netdev` ingress/egress hooks in
    /// the switch namespace), i.e. on the wire: the sender sees no error, as with real loss.
    pub fn drop_packets(
        &self,
        node: usize,
        net: Net,
        direction: Direction,
        percent: u8,
    ) -> Result<()> {
        if !(1..=100).contains(&percent) {
            return Err(LabError::Invalid(format!("drop {percent}%: use 1 to 100")));
        }
        self.try_node(node)?;
        let switch = self.switch()?;
        if !switch.nets().contains(&net) {
            return Err(LabError::Invalid(format!("the lab has no {net} network")));
        }
        let port = net.port_name(node);
        let table = format!("qlabn{node}");
        let matcher = if percent == 100 {
            String::new()
        } else {
            format!("numgen random mod 100 < {percent} ")
        };
        let mut script = format!("add table netdev {table}\n");
        // What the node sends enters the switch at its port (ingress); what it receives
        // leaves the switch there (egress).
        if direction != Direction::Incoming {
            script.push_str(&format!(
                "add chain netdev {table} out_{port} {{ type filter hook ingress device \"{port}\" priority 0; }}\n\
                 add rule netdev {table} out_{port} {matcher}drop\n"
            ));
        }
        if direction != Direction::Outgoing {
            script.push_str(&format!(
                "add chain netdev {table} in_{port} {{ type filter hook egress device \"{port}\" priority 0; }}\n\
                 add rule netdev {table} in_{port} {matcher}drop\n"
            ));
        }
        self.nft(switch.netns().name(), &script)?;
        self.timeline().record(
            "nemesis",
            format!("drop {percent}% of node{node} {net} {direction:?}"),
        );
        Ok(())
    }

    /// Removes every packet fault of node `node`.
    pub fn clear_packet_faults(&self, node: usize) -> Result<()> {
        self.try_node(node)?;
        let table = format!("qlabn{node}");
        self.nft(
            self.switch()?.netns().name(),
            &format!("add table netdev {table}\ndelete table netdev {table}\n"),
        )?;
        self.timeline()
            .record("nemesis", format!("clear packet faults of node{node}"));
        Ok(())
    }

    fn nft(&self, ns: &str, script: &str) -> Result<()> {
        let file = self.dir().join(format!("nft-{ns}.txt"));
        std::fs::write(&file, script).map_err(|e| LabError::io(&file, e))?;
        let mut command = std::process::Command::new("ip");
        command.args(["netns", "exec", ns, "nft", "-f"]).arg(&file);
        run_command(&mut command).map(drop)
    }

    /// Sets node `node`'s shared-disk fault (healthy, failing with EIO, or hanging).
    pub fn disk_fault(&self, node: usize, fault: DiskFault) -> Result<()> {
        self.try_node(node)?;
        self.disk()?.set_fault(node, fault)?;
        self.timeline()
            .record("nemesis", format!("disk of node{node}: {fault:?}"));
        Ok(())
    }
}
