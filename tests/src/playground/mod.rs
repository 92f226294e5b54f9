//! The playground: the tutorial's web cluster, up for people and scripts to break by hand
//! (`lab cluster up`, `lab cluster fault`, `lab cluster down`).
//!
//! - [`fault`]: the faults and their words.
//! - [`apply`]: doing a fault to the running cluster.
//! - [`state`]: the state file (a stable JSON contract).
//! - [`control`]: the socket `fault` and `down` talk to the holding process through.

pub mod apply;
pub mod control;
pub mod fault;
pub mod hold;
pub mod state;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::hacluster::{Fencing, HaCluster, Spec, Stack, Timing};

pub use fault::Fault;
pub use state::{ClusterState, NodeState, Options};

/// A timing profile by name: heartbeat's timings and the quorum disk's interval and tko.
pub fn timing_profile(name: &str) -> Result<(Timing, (Duration, u32))> {
    match name {
        // The tutorial's (deadtime 8 s): the disk every 500 ms, tko 6 (a master failover
        // takes up to 0.5 s · (6 + 3 + 4.5) = 6.75 s, inside the deadtime).
        "seed" => Ok((Timing::SEED, (Duration::from_millis(500), 6))),
        "demo" => Ok((Timing::DEMO, (Duration::from_millis(350), 5))),
        // Deadtime 2 s: the disk every 100 ms, tko 5 (failover 1.25 s).
        "fast" => Ok((Timing::FAST, (Duration::from_millis(100), 5))),
        _ => Err(LabError::Invalid(format!(
            "timing {name:?}: use seed (the tutorial's: keepalive 1 s, deadtime 8 s), demo \
             (500 ms, 5 s) or fast (250 ms, 2 s)"
        ))),
    }
}

/// The cluster [`Options`] ask for.
pub fn spec_of(options: &Options) -> Result<Spec> {
    let stack = match options.stack.as_str() {
        "ours" => Stack::Ours,
        "heartbeat" => Stack::Heartbeat,
        other => {
            return Err(LabError::Invalid(format!(
                "stack {other:?}: use ours (hbd, fenced, qdiskd) or heartbeat (Debian's 3.0.6)"
            )))
        }
    };
    let fencing = match options.fencing.as_str() {
        "ipmi" => Fencing::Ipmi,
        "fabric" => Fencing::Fabric,
        "poison" => Fencing::Poison,
        "noop" => Fencing::NoOp,
        other => {
            return Err(LabError::Invalid(format!(
                "fencing {other:?}: use ipmi (BMC power off), fabric (switch ports off), \
                 poison (a poison pill on the quorum disk, with watchdogs) or noop (reports \
                 success, fences nothing)"
            )))
        }
    };
    if fencing == Fencing::Poison && !options.qdisk {
        return Err(LabError::Invalid(
            "poison-pill fencing goes through the quorum disk: add --qdisk".into(),
        ));
    }
    if stack == Stack::Heartbeat && options.qdisk {
        return Err(LabError::Invalid(
            "heartbeat 3.0.6 has no quorum disk: add --no-qdisk with --stack heartbeat".into(),
        ));
    }
    let auto_failback: &'static str = match options.auto_failback.as_str() {
        "on" => "on",
        "off" => "off",
        "legacy" => "legacy",
        other => {
            return Err(LabError::Invalid(format!(
                "auto_failback {other:?}: use on, off or legacy"
            )))
        }
    };
    let (timing, mut qdisk_timing) = timing_profile(&options.timing)?;
    if fencing == Fencing::Poison {
        // A hardware watchdog counts whole seconds: qdiskd arms it only when 1 s plus 1.5
        // intervals fit in the write deadline, (tko − 1) · interval.
        if options.timing == "fast" {
            return Err(LabError::Invalid(
                "poison-pill fencing needs the nodes' watchdogs, whose timeout is whole \
                 seconds: the fast profile's quorum disk (100 ms, tko 5) has no room for 1 s; \
                 use --timing demo or seed"
                    .into(),
            ));
        }
        // demo: 350 ms, tko 6: 1.75 s ≥ 1 s + 525 ms (a master failover, 350 ms · (6 + 3 +
        // 3.5) = 4.4 s, stays inside the 5 s deadtime).
        qdisk_timing.1 = qdisk_timing.1.max(6);
    }
    Ok(Spec {
        nodes: options.nodes,
        stack,
        timing,
        qdisk: options.qdisk,
        qdisk_timing,
        fencing,
        // Without the quorum disk, the client answers ping for hbd's quorum.
        ping_node: !options.qdisk && stack == Stack::Ours,
        auto_failback,
        preferred: options.prefer.clone(),
        monitor: None,
        writer: options.writer,
    })
}

fn node_state(cluster: &HaCluster, i: usize) -> NodeState {
    let node = cluster.node(i);
    let addrs: BTreeMap<String, String> = node
        .nets()
        .iter()
        .map(|net| (net.to_string(), node.addr(*net).to_string()))
        .collect();
    let bmc = (i != cluster.client())
        .then(|| cluster.lab().bmc(i).ok().map(|b| b.addr().to_string()))
        .flatten();
    NodeState {
        name: node.hostname().to_string(),
        netns: node.netns().name().to_string(),
        cgroup: node.cgroup().path().to_path_buf(),
        addrs,
        bmc,
        exec: vec![node.enter_script().display().to_string()],
        logs: node.log_dir(),
    }
}

/// The state file of a running cluster.
pub fn state_of(cluster: &HaCluster, options: &Options, control: &std::path::Path) -> ClusterState {
    ClusterState {
        version: state::STATE_VERSION,
        pid: std::process::id(),
        control: control.to_path_buf(),
        lab: cluster.lab().id().to_string(),
        vip: cluster.vip().to_string(),
        options: options.clone(),
        nodes: cluster
            .web_nodes()
            .map(|i| node_state(cluster, i))
            .collect(),
        client: node_state(cluster, cluster.client()),
    }
}

/// Ready command lines, per node, to run the cluster's tools there.
pub fn tool_lines(cluster: &HaCluster, state: &ClusterState) -> String {
    let bins = cluster.binaries();
    let mut s = String::new();
    for node in &state.nodes {
        let enter = node.exec.join(" ");
        s.push_str(&format!("  {}:\n", node.name));
        match cluster.spec().stack {
            Stack::Ours => {
                s.push_str(&format!(
                    "    {enter} {} status\n",
                    bins.path("hbctl").display()
                ));
                s.push_str(&format!(
                    "    {enter} {} ls\n",
                    bins.path("fence_tool").display()
                ));
                if cluster.spec().qdisk {
                    if let Ok(disk) = cluster.lab().disk() {
                        if let Ok(i) = apply::node_index(cluster, &node.name) {
                            if let Ok(device) = disk.device(i) {
                                s.push_str(&format!(
                                    "    {enter} {} -d {}\n",
                                    bins.path("mkqdisk").display(),
                                    device.display()
                                ));
                            }
                        }
                    }
                }
            }
            Stack::Heartbeat => {
                s.push_str(&format!("    {enter} cl_status hbstatus\n"));
            }
        }
        s.push_str(&format!("    {enter} bash    # a shell on {}\n", node.name));
    }
    s.push_str(&format!(
        "  client:\n    {} curl -s http://{}/\n",
        state.client.exec.join(" "),
        state.vip
    ));
    s
}
