//! Doing a [`Fault`] to the running cluster, and saying what was done.
//!
//! Network cuts are drop rules on the node's switch port (nftables, in the switch
//! namespace), not the port's administrative state: fabric fencing owns that, so lifting a
//! cut can never unfence a node the cluster fenced.

use std::process::Command;
use std::time::Duration;

use crate::cmd::run_command;
use crate::error::{LabError, Result};
use crate::faultdisk::DiskFault;
use crate::hacluster::HaCluster;
use crate::nemesis::Direction;
use crate::playground::fault::{CutNet, Fault};
use crate::topology::Net;

/// How long a slow BMC ([`Fault::BmcSlow`]) stays frozen in each period: longer than the
/// IPMI agents' 1 s reply timeout, so some requests are answered only after a retransmission
/// or after the agent gave up.
const BMC_SLOW_FROZEN: Duration = Duration::from_millis(1_500);

/// How long a slow BMC answers in each period.
const BMC_SLOW_AWAKE: Duration = Duration::from_millis(500);

/// nftables table holding the nemesis's cuts of node `i`'s switch ports.
fn cut_table(i: usize) -> String {
    format!("qlabcut{i}")
}

/// nftables table, on node `to`, dropping what node `from` sends (a one-way cut).
fn one_way_table(from: usize) -> String {
    format!("qlabfrom{from}")
}

/// Node index of `name` (`web1` … `webN`, `client`).
pub fn node_index(cluster: &HaCluster, name: &str) -> Result<usize> {
    cluster
        .lab()
        .nodes()
        .iter()
        .find(|n| n.hostname() == name)
        .map(|n| n.index())
        .ok_or_else(|| {
            let names: Vec<&str> = cluster.lab().nodes().iter().map(|n| n.hostname()).collect();
            LabError::Invalid(format!(
                "no node {name:?}: the cluster has {}",
                names.join(", ")
            ))
        })
}

fn indexes(cluster: &HaCluster, names: &[String]) -> Result<Vec<(usize, String)>> {
    names
        .iter()
        .map(|n| node_index(cluster, n).map(|i| (i, n.clone())))
        .collect()
}

fn web_only(cluster: &HaCluster, names: &[String], what: &str) -> Result<Vec<(usize, String)>> {
    let nodes = indexes(cluster, names)?;
    if let Some((_, name)) = nodes.iter().find(|(i, _)| *i == cluster.client()) {
        return Err(LabError::Invalid(format!(
            "{what} {name}: the client has no {what} target; name a cluster node"
        )));
    }
    Ok(nodes)
}

fn nft(ns: &str, script: &str) -> Result<()> {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", ns, "nft", script]);
    run_command(&mut command).map(drop)
}

/// The switch-port networks a cut of `net` takes, among those the lab has.
fn cut_nets(cluster: &HaCluster, net: CutNet) -> Result<Vec<Net>> {
    let have = cluster.lab().switch()?.nets().to_vec();
    let want: Vec<Net> = match net {
        CutNet::Heartbeat => have
            .iter()
            .copied()
            .filter(|n| matches!(n, Net::Heartbeat(_)))
            .collect(),
        CutNet::Mgmt => vec![Net::Mgmt],
        CutNet::San => vec![Net::San],
        CutNet::All => have.clone(),
    };
    if let Some(missing) = want.iter().find(|n| !have.contains(n)) {
        return Err(LabError::Invalid(format!(
            "the cluster has no {missing} network (the storage network exists with --fencing fabric)"
        )));
    }
    Ok(want)
}

fn cut(cluster: &HaCluster, i: usize, nets: &[Net]) -> Result<()> {
    let switch = cluster.lab().switch()?.netns().name().to_string();
    let table = cut_table(i);
    let mut script = format!("add table netdev {table}\n");
    for net in nets {
        let port = net.port_name(i);
        script.push_str(&format!(
            "add chain netdev {table} out_{port} {{ type filter hook ingress device \"{port}\" priority -10; }}\n\
             flush chain netdev {table} out_{port}\n\
             add rule netdev {table} out_{port} drop\n\
             add chain netdev {table} in_{port} {{ type filter hook egress device \"{port}\" priority -10; }}\n\
             flush chain netdev {table} in_{port}\n\
             add rule netdev {table} in_{port} drop\n"
        ));
    }
    nft_file(cluster, &switch, &format!("cut{i}"), &script)
}

fn nft_file(cluster: &HaCluster, ns: &str, name: &str, script: &str) -> Result<()> {
    let file = cluster.lab().dir().join(format!("nft-{name}.txt"));
    std::fs::write(&file, script).map_err(|e| LabError::io(&file, e))?;
    let mut command = Command::new("ip");
    command.args(["netns", "exec", ns, "nft", "-f"]).arg(&file);
    run_command(&mut command).map(drop)
}

fn delete_table(ns: &str, family: &str, table: &str) -> Result<()> {
    // `add` first, so deleting a table that is not there is no error.
    nft(
        ns,
        &format!("add table {family} {table}; delete table {family} {table}"),
    )
}

/// Lifts the network faults of node `i`: its cuts, its loss, one-way cuts to and from it,
/// and its ports' partition bridges.
fn heal_node(cluster: &HaCluster, i: usize) -> Result<()> {
    let lab = cluster.lab();
    let switch = lab.switch()?;
    let sw = switch.netns().name();
    delete_table(sw, "netdev", &cut_table(i))?;
    lab.clear_packet_faults(i)?;
    for node in lab.nodes() {
        let ns = node.netns().name();
        if node.index() == i {
            for other in lab.nodes() {
                delete_table(ns, "inet", &one_way_table(other.index()))?;
            }
        } else {
            delete_table(ns, "inet", &one_way_table(i))?;
        }
    }
    for net in switch.nets().to_vec() {
        if matches!(net, Net::Heartbeat(_)) {
            switch.move_port(i, net, &net.bridge())?;
        }
    }
    Ok(())
}

/// Does `fault` to `cluster`; the sentence says what was done.
pub fn apply(cluster: &HaCluster, fault: &Fault) -> Result<String> {
    let lab = cluster.lab();
    let said = match fault {
        Fault::Crash(names) => {
            for (i, _) in indexes(cluster, names)? {
                lab.crash(i)?;
            }
            format!(
                "crashed {}: links down, every process killed, disk I/O lost (power-on brings it back)",
                names.join(", ")
            )
        }
        Fault::PowerOff(names) => {
            for (i, _) in indexes(cluster, names)? {
                lab.node(i).power_off()?;
            }
            lab.timeline()
                .record("nemesis", format!("power off {}", names.join(", ")));
            format!("powered off {}", names.join(", "))
        }
        Fault::PowerOn(names) => {
            let mut reset = Vec::new();
            for (i, name) in indexes(cluster, names)? {
                let node = lab.node(i);
                // A crashed machine is still on: the button that brings it back is reset.
                if node.power()? == crate::node::Power::On && node.disk_powered_off() {
                    node.power_cycle()?;
                    reset.push(name);
                } else {
                    node.power_on()?;
                }
            }
            lab.timeline()
                .record("nemesis", format!("power on {}", names.join(", ")));
            let mut said = format!(
                "powered on {}: links up, a new boot id, daemons starting",
                names.join(", ")
            );
            if !reset.is_empty() {
                said.push_str(&format!(" ({} had crashed: reset)", reset.join(", ")));
            }
            said
        }
        Fault::Pause(names) => {
            let nodes = indexes(cluster, names)?;
            if let Some((_, name)) = nodes
                .iter()
                .find(|(i, _)| lab.node(*i).power().ok() == Some(crate::node::Power::Off))
            {
                return Err(LabError::Invalid(format!(
                    "{name} is powered off: nothing runs there to pause"
                )));
            }
            for (i, _) in nodes {
                lab.pause(i)?;
            }
            format!("froze every process of {}", names.join(", "))
        }
        Fault::Resume(names) => {
            for (i, _) in indexes(cluster, names)? {
                lab.resume(i)?;
            }
            format!("thawed {}", names.join(", "))
        }
        Fault::KillDaemon(daemon, names) => {
            for (i, _) in web_only(cluster, names, "daemon")? {
                cluster.kill_daemon(i, daemon)?;
            }
            format!(
                "kill -9 {daemon} on {} (what it started keeps running)",
                names.join(", ")
            )
        }
        Fault::RestartDaemon(daemon, names) => {
            for (i, _) in web_only(cluster, names, "daemon")? {
                cluster.restart_daemon(i, daemon)?;
            }
            format!("started {daemon} again on {}", names.join(", "))
        }
        Fault::PauseDaemon(daemon, names) => {
            for (i, _) in web_only(cluster, names, "daemon")? {
                cluster.pause_daemon(i, daemon, true)?;
            }
            format!("kill -STOP {daemon} on {}", names.join(", "))
        }
        Fault::ResumeDaemon(daemon, names) => {
            for (i, _) in web_only(cluster, names, "daemon")? {
                cluster.pause_daemon(i, daemon, false)?;
            }
            format!("kill -CONT {daemon} on {}", names.join(", "))
        }
        Fault::Cut(net, names) => {
            let nets = cut_nets(cluster, *net)?;
            for (i, _) in indexes(cluster, names)? {
                cut(cluster, i, &nets)?;
            }
            let nets: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
            lab.timeline().record(
                "nemesis",
                format!("cut {} off {}", names.join(", "), nets.join(", ")),
            );
            format!(
                "cut {} off the {} network(s), both ways",
                names.join(", "),
                nets.join(", ")
            )
        }
        Fault::CutOneWay { from, to } => {
            let (f, t) = (node_index(cluster, from)?, node_index(cluster, to)?);
            if f == t {
                return Err(LabError::Invalid(format!(
                    "cut --from {from} --to {to}: name two different nodes"
                )));
            }
            let table = one_way_table(f);
            let mut script = format!(
                "add table inet {table}\nadd chain inet {table} input {{ type filter hook input priority -10; }}\nflush chain inet {table} input\n"
            );
            for net in cut_nets(cluster, CutNet::Heartbeat)? {
                script.push_str(&format!(
                    "add rule inet {table} input ip saddr {} drop\n",
                    lab.node(f).addr(net)
                ));
            }
            nft_file(
                cluster,
                lab.node(t).netns().name(),
                &format!("oneway{f}-{t}"),
                &script,
            )?;
            lab.timeline()
                .record("nemesis", format!("one-way cut {from} -> {to}"));
            format!("{to} no longer hears {from} (heartbeat network); {from} still hears {to}")
        }
        Fault::Heal(names) => {
            let targets: Vec<usize> = if names.is_empty() {
                lab.nodes().iter().map(|n| n.index()).collect()
            } else {
                indexes(cluster, names)?
                    .into_iter()
                    .map(|(i, _)| i)
                    .collect()
            };
            for i in &targets {
                heal_node(cluster, *i)?;
            }
            if names.is_empty() {
                lab.heal()?;
            }
            lab.timeline().record(
                "nemesis",
                format!(
                    "heal {}",
                    if names.is_empty() {
                        "everything".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            );
            format!(
                "lifted every cut, one-way cut, partition and packet loss of {}",
                if names.is_empty() {
                    "the cluster".to_string()
                } else {
                    names.join(", ")
                }
            )
        }
        Fault::Partition(groups) => {
            let mut idx: Vec<Vec<usize>> = Vec::new();
            for group in groups {
                idx.push(
                    indexes(cluster, group)?
                        .into_iter()
                        .map(|(i, _)| i)
                        .collect(),
                );
            }
            let mut seen = std::collections::BTreeSet::new();
            if let Some(dup) = idx.iter().flatten().find(|i| !seen.insert(**i)) {
                return Err(LabError::Invalid(format!(
                    "partition: {} is in two groups",
                    lab.node(*dup).hostname()
                )));
            }
            let refs: Vec<&[usize]> = idx.iter().map(Vec::as_slice).collect();
            lab.partition(&refs)?;
            let groups: Vec<String> = groups.iter().map(|g| g.join(",")).collect();
            format!(
                "split the heartbeat network into {} (unlisted nodes and the client stay with the first group)",
                groups.join(" | ")
            )
        }
        Fault::Loss(percent, names) => {
            let targets: Vec<(usize, String)> = if names.is_empty() {
                cluster
                    .web_nodes()
                    .map(|i| (i, lab.node(i).hostname().to_string()))
                    .collect()
            } else {
                indexes(cluster, names)?
            };
            for (i, _) in &targets {
                lab.clear_packet_faults(*i)?;
                if *percent > 0 {
                    for net in cut_nets(cluster, CutNet::Heartbeat)? {
                        lab.drop_packets(*i, net, Direction::Both, *percent)?;
                    }
                }
            }
            let who: Vec<&str> = targets.iter().map(|(_, n)| n.as_str()).collect();
            if *percent == 0 {
                format!("no more packet loss for {}", who.join(", "))
            } else {
                format!(
                    "{percent}% of {}'s heartbeat-network packets lost, both ways",
                    who.join(", ")
                )
            }
        }
        Fault::DiskFail(names) | Fault::DiskStall(names) | Fault::DiskHeal(names) => {
            let (fault, said) = match fault {
                Fault::DiskFail(_) => (DiskFault::Fail, "fails every request (EIO)"),
                Fault::DiskStall(_) => (DiskFault::Stall, "hangs every request"),
                _ => (
                    DiskFault::Healthy,
                    "works again (hanging requests complete)",
                ),
            };
            for (i, _) in indexes(cluster, names)? {
                lab.disk_fault(i, fault)?;
            }
            format!("the shared disk of {} {said}", names.join(", "))
        }
        Fault::BmcDown(names) | Fault::BmcSlow(names) | Fault::BmcUp(names) => {
            for (i, _) in web_only(cluster, names, "BMC")? {
                let bmc = lab.bmc(i)?;
                match fault {
                    Fault::BmcDown(_) => bmc.freeze()?,
                    Fault::BmcSlow(_) => bmc.slow(BMC_SLOW_FROZEN, BMC_SLOW_AWAKE)?,
                    _ => bmc.thaw()?,
                }
            }
            let (word, said) = match fault {
                Fault::BmcDown(_) => ("down", "no longer answers (ipmi_sim frozen)".to_string()),
                Fault::BmcSlow(_) => (
                    "slow",
                    format!(
                        "answers late (ipmi_sim frozen {:.1} s of every {:.1} s)",
                        BMC_SLOW_FROZEN.as_secs_f64(),
                        (BMC_SLOW_FROZEN + BMC_SLOW_AWAKE).as_secs_f64()
                    ),
                ),
                _ => ("up", "answers again".to_string()),
            };
            lab.timeline()
                .record("nemesis", format!("BMC of {} {word}", names.join(", ")));
            format!("the BMC of {} {said}", names.join(", "))
        }
        Fault::FenceLie | Fault::FenceHonest => {
            let lie = matches!(fault, Fault::FenceLie);
            cluster.set_fence_lie(lie)?;
            lab.timeline().record(
                "nemesis",
                if lie {
                    "fence agents lie"
                } else {
                    "fence agents honest"
                },
            );
            if lie {
                "every fence agent now reports success without doing anything".to_string()
            } else {
                "the fence agents act again".to_string()
            }
        }
    };
    Ok(said)
}
