//! The whole-setup check behind `hbd --check`, like Pacemaker's `crm_verify -L`: not only
//! whether each file parses, but whether the setup as it will run can do its job. It reads
//! what a node runs (ha.cf, authkeys, haresources, the cluster file that fenced and qdiskd
//! read, hbd's own options) and reports, each with its fix:
//!
//! - no fencing (a dead node's groups would never move), a peer without fence levels;
//! - two nodes and no tie-breaker (no quorum disk, no ping votes: one node alone is never
//!   quorate, so any heartbeat blip stops both);
//! - node names that differ between ha.cf and the cluster file;
//! - fence agents that do not exist, or whose parameters fail the agent's own validate-all;
//! - interfaces, serial devices and resource agents that do not exist on this node;
//! - the timing rules across files (the quorum disk's master failover within hbd's
//!   deadtime; the cluster file's deadtime, which qdiskd checks against, equal to ha.cf's).
//!
//! The judging is pure over a [`Setup`] and an [`Environment`] (what exists on this node),
//! so every rule is tested without the machine; [`System`] is the real environment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use fenced::config::{Device, FencedConfig};
use fenced::topology::NodeName as FenceNodeName;
use qdisk::config::QdiskdConfig;
use qdisk::timing::{human, Timing};

use crate::agents::config::AgentConfig;
use crate::agents::lookup::resolve;
use crate::config::{Config, Medium};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The setup cannot work as written: fix it before starting.
    Error,
    /// It runs, but will not do what a cluster is for in some failure.
    Warning,
}

/// One thing the check found, with its fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub what: String,
    /// How to fix it.
    pub fix: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let word = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{word}: {}; {}", self.what, self.fix)
    }
}

/// The cluster file as the other daemons read it.
#[derive(Debug, Clone)]
pub struct ClusterFile {
    /// Where it is.
    pub path: PathBuf,
    /// fenced's reading of it (an error text when it does not parse).
    pub fenced: Result<FencedConfig, String>,
    /// qdiskd's reading, when it has a `[quorumd]` section.
    pub qdisk: Option<Result<QdiskdConfig, String>>,
    /// Every `[[node]]` name in it.
    pub nodes: Vec<String>,
}

impl ClusterFile {
    /// Reads `path` as fenced and qdiskd would on node `local`. `Ok(None)` when there is
    /// no file.
    pub fn read(path: &Path, local: &str) -> Result<Option<ClusterFile>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: cannot read it: {e}", path.display())),
        };
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| format!("{}: not a valid TOML file: {}", path.display(), e.message()))?;
        let nodes = table
            .get("node")
            .and_then(toml::Value::as_array)
            .map(|nodes| {
                nodes
                    .iter()
                    .filter_map(|n| n.get("name").and_then(toml::Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let qdisk = table
            .contains_key("quorumd")
            .then(|| QdiskdConfig::parse(path, &text, local).map_err(|e| e.to_string()));
        Ok(Some(ClusterFile {
            path: path.to_path_buf(),
            fenced: FencedConfig::parse(path, &text).map_err(|e| e.to_string()),
            qdisk,
            nodes,
        }))
    }
}

/// Everything a node runs, as hbd would start.
#[derive(Debug, Clone)]
pub struct Setup<'a> {
    /// ha.cf, authkeys and haresources.
    pub config: &'a Config,
    /// `--fenced-socket`.
    pub fenced_socket: Option<&'a Path>,
    /// `--qdisk-socket`.
    pub qdisk_socket: Option<&'a Path>,
    /// `--ping-votes`.
    pub ping_votes: u32,
    /// Where resource agents are looked up.
    pub agents: &'a AgentConfig,
    /// The cluster file fenced and qdiskd read, if there is one.
    pub cluster_file: Option<&'a ClusterFile>,
}

/// What exists on this node.
pub trait Environment {
    /// Whether network interface `name` exists.
    fn has_interface(&self, name: &str) -> bool;
    /// Whether `path` exists.
    fn has_path(&self, path: &Path) -> bool;
    /// Where fence agent `agent` is, if installed.
    fn find_fence_agent(&self, agent: &str) -> Option<PathBuf>;
    /// Runs `validate-all` of `device` for `target` with the level's `args`.
    fn validate_fence_device(
        &self,
        device: &Device,
        target: &FenceNodeName,
        args: &BTreeMap<String, String>,
    ) -> Result<(), String>;
}

/// The machine hbd runs on.
#[derive(Debug, Clone, Copy, Default)]
pub struct System;

impl Environment for System {
    fn has_interface(&self, name: &str) -> bool {
        // Names with a slash are no interface and must not walk the file system.
        !name.contains('/') && Path::new("/sys/class/net").join(name).exists()
    }

    fn has_path(&self, path: &Path) -> bool {
        path.exists()
    }

    fn find_fence_agent(&self, agent: &str) -> Option<PathBuf> {
        fenced::agent::find_agent(agent)
    }

    fn validate_fence_device(
        &self,
        device: &Device,
        target: &FenceNodeName,
        args: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        fenced::agent::run(device, target, args, "validate-all")
    }
}

fn error(what: String, fix: &str) -> Finding {
    Finding {
        severity: Severity::Error,
        what,
        fix: fix.to_string(),
    }
}

fn warning(what: String, fix: &str) -> Finding {
    Finding {
        severity: Severity::Warning,
        what,
        fix: fix.to_string(),
    }
}

/// Judges `setup` on `env`: every finding, errors first.
pub fn check(setup: &Setup<'_>, env: &dyn Environment) -> Vec<Finding> {
    let mut out = Vec::new();
    fencing(setup, &mut out);
    tie_breaker(setup, &mut out);
    if let Some(file) = setup.cluster_file {
        same_nodes(setup, file, &mut out);
        fence_agents(file, env, &mut out);
        disk_timing(setup, file, &mut out);
    }
    media(setup, env, &mut out);
    resource_agents(setup, &mut out);
    out.sort_by_key(|f| f.severity);
    out
}

fn fencing(setup: &Setup<'_>, out: &mut Vec<Finding>) {
    if setup.fenced_socket.is_none() {
        out.push(warning(
            "no fencing: hbd is not given --fenced-socket, so a dead node's resource groups \
             never move (hbd takes nothing over before the node is fenced)"
                .into(),
            "run fenced on every node and start hbd with --fenced-socket \
             /run/fenced/fenced.sock",
        ));
        return;
    }
    let Some(file) = setup.cluster_file else {
        out.push(warning(
            "hbd asks fenced to fence, but there is no cluster file for fenced to read its \
             fence devices from"
                .into(),
            "write /etc/cluster/cluster.toml with a [[fence_device]] and [[node.fence]] \
             levels for every node (fenced --check validates it)",
        ));
        return;
    };
    let Ok(fenced) = &file.fenced else {
        return; // reported by fence_agents
    };
    for node in &setup.config.hacf.nodes {
        let name = FenceNodeName(node.name.to_string());
        let levels = fenced
            .topology
            .nodes
            .iter()
            .find(|(n, _)| n.0.eq_ignore_ascii_case(&name.0))
            .map_or(0, |(_, f)| f.levels.len());
        if levels == 0 && node.name != setup.config.local_node {
            out.push(warning(
                format!(
                    "node {} has no fence level in {}: fenced cannot fence it, so its groups \
                     never move when it dies",
                    node.name,
                    file.path.display()
                ),
                "add [[node.fence]] levels with devices for it",
            ));
        }
    }
}

fn tie_breaker(setup: &Setup<'_>, out: &mut Vec<Finding>) {
    let hacf = &setup.config.hacf;
    if hacf.nodes.len() != 2 {
        return;
    }
    let disk = setup.qdisk_socket.is_some();
    let ping = setup.ping_votes > 0 && !hacf.ping_nodes.is_empty();
    if !disk && !ping {
        out.push(warning(
            "two nodes and no tie-breaker: quorum is a strict majority, so a node alone is \
             never quorate and any heartbeat blip stops both nodes' takeover"
                .into(),
            "add a quorum disk (qdiskd, and hbd --qdisk-socket /run/qdiskd/qdiskd.sock), or \
             ping nodes in ha.cf with hbd --ping-votes 1",
        ));
    }
}

fn same_nodes(setup: &Setup<'_>, file: &ClusterFile, out: &mut Vec<Finding>) {
    let lower = |n: &str| n.to_ascii_lowercase();
    let hacf: BTreeSet<String> = setup
        .config
        .hacf
        .nodes
        .iter()
        .map(|n| lower(&n.name.to_string()))
        .collect();
    let cluster: BTreeSet<String> = file.nodes.iter().map(|n| lower(n)).collect();
    for missing in hacf.difference(&cluster) {
        out.push(error(
            format!(
                "node {missing} is in ha.cf but not in {}: fenced and qdiskd do not know it",
                file.path.display()
            ),
            "give every node the same name in both files (add a [[node]] with its name and id)",
        ));
    }
    for extra in cluster.difference(&hacf) {
        out.push(error(
            format!(
                "node {extra} is in {} but not in ha.cf: hbd never hears of it",
                file.path.display()
            ),
            "give every node the same name in both files (add `node NAME` to ha.cf, or \
             remove the [[node]])",
        ));
    }
}

fn fence_agents(file: &ClusterFile, env: &dyn Environment, out: &mut Vec<Finding>) {
    let fenced = match &file.fenced {
        Ok(f) => f,
        Err(e) => {
            out.push(error(
                format!("fenced cannot read the cluster file: {e}"),
                "fix it (fenced --check shows the same)",
            ));
            return;
        }
    };
    // Each device once, validated with the arguments of its first use in a node's levels.
    let mut uses: BTreeMap<String, (FenceNodeName, BTreeMap<String, String>)> = BTreeMap::new();
    for (node, fencing) in &fenced.topology.nodes {
        for level in &fencing.levels {
            for u in &level.devices {
                uses.entry(u.device.0.clone())
                    .or_insert_with(|| (node.clone(), u.args.clone()));
            }
        }
    }
    for (name, device) in &fenced.devices {
        if env.find_fence_agent(&device.agent).is_none() {
            out.push(error(
                format!(
                    "fence device {}: the agent {} is not installed on this node",
                    name.0, device.agent
                ),
                "install it (fence-agents, or our fence_qd_* agents) or give its full path",
            ));
            continue;
        }
        let Some((target, args)) = uses.get(&name.0) else {
            continue;
        };
        if let Err(e) = env.validate_fence_device(device, target, args) {
            out.push(error(
                format!(
                    "fence device {} ({} validate-all for {}): {e}",
                    name.0, device.agent, target.0
                ),
                "fix the device's parameters in the cluster file (the agent's -o metadata \
                 lists them)",
            ));
        }
    }
}

fn disk_timing(setup: &Setup<'_>, file: &ClusterFile, out: &mut Vec<Finding>) {
    let Some(qdisk) = &file.qdisk else {
        return;
    };
    let qdisk = match qdisk {
        Ok(q) => q,
        Err(e) => {
            out.push(error(
                format!("qdiskd cannot read the cluster file: {e}"),
                "fix it (qdiskd --check shows the same)",
            ));
            return;
        }
    };
    let deadtime = setup.config.hacf.deadtime;
    if qdisk.membership_timeout != deadtime {
        out.push(warning(
            format!(
                "qdiskd checks its timing against the membership timeout {} ({}'s [cluster] \
                 deadtime, or its default), but hbd's deadtime is {}",
                human(&qdisk.membership_timeout),
                file.path.display(),
                human(&deadtime)
            ),
            "set [cluster] deadtime in the cluster file to ha.cf's deadtime",
        ));
    }
    // The rule itself, against the deadtime hbd really uses (either layout may be on disk:
    // the extended layout's is the looser, so a failure there fails both).
    match Timing::resolve(qdisk.timing, deadtime, true) {
        Err(e) => out.push(error(
            format!("the quorum disk timing does not fit hbd's deadtime: {e}"),
            "lower [quorumd] interval or tko, or raise deadtime in ha.cf",
        )),
        Ok(t) => {
            let takes = t.master_failover() + Duration::from_millis(250);
            if takes > deadtime {
                out.push(error(
                    format!(
                        "a quorum disk master failover takes up to {} (hbd sees it 250 ms \
                         later), longer than hbd's deadtime {}",
                        human(&takes),
                        human(&deadtime)
                    ),
                    "lower [quorumd] interval or tko, or raise deadtime in ha.cf",
                ));
            }
        }
    }
    if setup.qdisk_socket.is_none() {
        out.push(warning(
            "the cluster file has a quorum disk, but hbd is not given --qdisk-socket: its \
             votes never count"
                .into(),
            "start hbd with --qdisk-socket /run/qdiskd/qdiskd.sock",
        ));
    }
}

fn media(setup: &Setup<'_>, env: &dyn Environment, out: &mut Vec<Finding>) {
    for medium in &setup.config.hacf.media {
        match medium {
            Medium::Bcast { iface, .. }
            | Medium::Mcast { iface, .. }
            | Medium::Ucast { iface, .. } => {
                if !env.has_interface(iface) {
                    out.push(error(
                        format!("ha.cf names interface {iface}, which this node does not have"),
                        "use this node's interface name (ip link lists them); node-specific \
                         names need the same name on every node, or a udev rename",
                    ));
                }
            }
            Medium::Serial { device, .. } => {
                if !env.has_path(device) {
                    out.push(error(
                        format!(
                            "ha.cf names serial device {}, which does not exist here",
                            device.display()
                        ),
                        "use this node's serial port (ls /dev/ttyS* /dev/ttyUSB*)",
                    ));
                }
            }
        }
    }
}

fn resource_agents(setup: &Setup<'_>, out: &mut Vec<Finding>) {
    for group in &setup.config.resources.groups {
        for resource in &group.resources {
            if let Err(outcome) = resolve(setup.agents, resource) {
                out.push(error(
                    format!(
                        "{}:{}: group {}: {outcome}",
                        setup.config.resources.file.display(),
                        group.line,
                        group.key
                    ),
                    "install the resource agent, or fix its name in haresources",
                ));
            }
        }
    }
}
