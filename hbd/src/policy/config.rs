//! What the policy knows about its cluster.

use std::time::Duration;

use thiserror::Error;

use super::types::{NodeId, MAX_NODES};
use crate::config::{AutoFailback, HaCf, NodeName, Resources};

/// [`PolicyConfig::quorum_settle`] in [`PolicyConfig::new`]: heartbeat's default deadtime.
pub const DEFAULT_QUORUM_SETTLE: Duration = Duration::from_secs(30);

/// One resource group as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// The group key (its first resource as written), which names it on the wire.
    pub key: String,
    /// The preferred (home) node.
    pub preferred: NodeId,
}

/// Restarting failed groups in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorConfig {
    /// Time between two monitor operations of a running group.
    pub interval: Duration,
    /// Restarts in place after failed monitors before the group is moved.
    pub max_restarts: u32,
}

/// The policy's configuration; identical on every node except `me` and `incarnation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    /// This node.
    pub me: NodeId,
    /// This process's incarnation: heartbeat's generation number, larger after every restart.
    pub incarnation: u64,
    /// Node names by id, sorted by name (whatever order `ha.cf` lists them in).
    pub nodes: Vec<NodeName>,
    /// Groups by id, sorted by key (whatever order `haresources` lists them in).
    pub groups: Vec<GroupSpec>,
    /// `auto_failback`.
    pub auto_failback: AutoFailback,
    /// How often reports and placements are sent again (lost messages); heartbeat's keepalive.
    pub resend_interval: Duration,
    /// Wait before asking again after a failed fence (heartbeat retries every 5 s).
    pub fence_retry: Duration,
    /// How long quorum must have held, without a break, before this node asks for any
    /// fence. A node that has just become quorate (again, or for the first time) may hold a
    /// view formed while it was cut off, in which every peer it could not hear is dead; in
    /// this time those peers get a chance to be heard (and are simply members again). The
    /// membership's deadtime ([`PolicyConfig::from_config`]); heartbeat's default deadtime,
    /// 30 s, in [`PolicyConfig::new`]. Zero turns the wait off.
    pub quorum_settle: Duration,
    /// Monitoring; `None` is heartbeat v1's behaviour (no monitoring).
    pub monitor: Option<MonitorConfig>,
    /// Probe every group at start ([`super::Action::Probe`]) and report nothing, take part
    /// in no placement and start nothing until every probe answered: a restarted daemon
    /// finds what still runs (as Pacemaker probes). On in the daemon
    /// ([`PolicyConfig::from_config`]); off in [`PolicyConfig::new`], for tests of a fresh
    /// node.
    pub probe: bool,
}

/// Why a [`PolicyConfig`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyConfigError {
    /// The local node is not a `node` in `ha.cf`.
    #[error("this node `{0}` is not a `node` in ha.cf: add it, or fix the host name")]
    UnknownLocalNode(String),
    /// A group's preferred node is not a `node` in `ha.cf`.
    #[error("group `{key}` prefers node `{node}`, which is not a `node` in ha.cf")]
    UnknownPreferred {
        /// The group key.
        key: String,
        /// The node named.
        node: String,
    },
    /// More nodes than the policy handles.
    #[error("{0} nodes configured; at most {MAX_NODES} are supported")]
    TooManyNodes(usize),
    /// More groups than the policy handles.
    #[error("{0} resource groups configured; at most 65535 are supported")]
    TooManyGroups(usize),
    /// A group key appears twice.
    #[error("group key `{0}` appears twice in haresources: keys name groups and must be unique")]
    DuplicateKey(String),
}

impl PolicyConfig {
    /// Builds the configuration from `ha.cf` and `haresources`, with heartbeat's defaults:
    /// resend every keepalive, fence retry every 5 s, quorum settle time = deadtime, no
    /// monitoring; groups probed at start.
    pub fn from_config(
        hacf: &HaCf,
        resources: &Resources,
        local: &NodeName,
        incarnation: u64,
    ) -> Result<Self, PolicyConfigError> {
        let nodes: Vec<NodeName> = hacf.nodes.iter().map(|n| n.name.clone()).collect();
        let groups = resources
            .groups
            .iter()
            .map(|g| (g.key.clone(), g.preferred.clone()))
            .collect::<Vec<_>>();
        let mut cfg = Self::new(local, nodes, &groups, incarnation)?;
        cfg.auto_failback = hacf.auto_failback;
        cfg.resend_interval = hacf.keepalive;
        cfg.quorum_settle = hacf.deadtime;
        cfg.probe = true;
        Ok(cfg)
    }

    /// A configuration from node names and `(key, preferred node)` pairs, with defaults.
    pub fn new(
        local: &NodeName,
        nodes: Vec<NodeName>,
        groups: &[(String, NodeName)],
        incarnation: u64,
    ) -> Result<Self, PolicyConfigError> {
        if nodes.len() > MAX_NODES {
            return Err(PolicyConfigError::TooManyNodes(nodes.len()));
        }
        if groups.len() > usize::from(u16::MAX) {
            return Err(PolicyConfigError::TooManyGroups(groups.len()));
        }
        // Identities never depend on the order the files list things in: node ids follow
        // the names, group ids the keys, on every node alike.
        let mut nodes = nodes;
        nodes.sort();
        nodes.dedup();
        let mut groups: Vec<&(String, NodeName)> = groups.iter().collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let id_of = |name: &NodeName| {
            nodes
                .iter()
                .position(|n| n == name)
                .map(|i| NodeId(i as u16))
        };
        let me =
            id_of(local).ok_or_else(|| PolicyConfigError::UnknownLocalNode(local.to_string()))?;
        let mut specs: Vec<GroupSpec> = Vec::with_capacity(groups.len());
        for (key, preferred) in groups {
            if specs.iter().any(|s| &s.key == key) {
                return Err(PolicyConfigError::DuplicateKey(key.clone()));
            }
            let preferred =
                id_of(preferred).ok_or_else(|| PolicyConfigError::UnknownPreferred {
                    key: key.clone(),
                    node: preferred.to_string(),
                })?;
            specs.push(GroupSpec {
                key: key.clone(),
                preferred,
            });
        }
        Ok(Self {
            me,
            incarnation,
            nodes,
            groups: specs,
            auto_failback: AutoFailback::On,
            resend_interval: Duration::from_secs(1),
            fence_retry: Duration::from_secs(5),
            quorum_settle: DEFAULT_QUORUM_SETTLE,
            monitor: None,
            probe: false,
        })
    }

    /// A digest of the cluster definition the nodes must share: the node names, every
    /// group's key and preferred node, and `auto_failback`. Nodes whose digests differ read
    /// each other's ids differently and never take part in placement together.
    pub fn digest(&self) -> u64 {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for n in &self.nodes {
            h.update(b"node ");
            h.update(n.as_str().as_bytes());
            h.update(b"\n");
        }
        for g in &self.groups {
            h.update(b"group ");
            h.update(g.key.as_bytes());
            h.update(b" ");
            h.update(self.node_name(g.preferred).as_bytes());
            h.update(b"\n");
        }
        h.update(format!("auto_failback {:?}\n", self.auto_failback).as_bytes());
        let d = h.finalize();
        u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }

    /// The name of node `id`, or its id when out of range.
    pub fn node_name(&self, id: NodeId) -> String {
        self.nodes
            .get(id.index())
            .map_or_else(|| id.to_string(), |n| n.to_string())
    }
}
