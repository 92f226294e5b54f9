//! The status view for `hbctl`: who holds what, pending fences, why groups are down.

use std::fmt;

use super::config::PolicyConfig;
use super::msg::{GroupState, Reason};
use super::types::{GroupId, NodeId, NodeSet};
use super::{FenceState, Policy};

/// What this node knows about a node's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeHealth {
    /// Not seen since this node started.
    Unknown,
    /// In the current membership.
    Member,
    /// Gone without a graceful leave and not confirmed fenced since: it may hold groups.
    Unclean,
    /// Confirmed fenced, or left gracefully, and not seen since.
    Clean,
}

/// One node in the status view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// Its id.
    pub id: NodeId,
    /// Its name.
    pub name: String,
    /// Its health as this node sees it.
    pub health: NodeHealth,
    /// Fence request progress.
    pub fence: FenceState,
    /// Failed fence attempts since the last success.
    pub fence_failures: u32,
}

/// One group in the status view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    /// Its id.
    pub id: GroupId,
    /// Its key.
    pub key: String,
    /// Its state on this node.
    pub local: GroupState,
    /// Nodes reporting it held (any state but stopped), from their latest reports.
    pub holders: Vec<(NodeId, GroupState)>,
    /// Where the DC's latest placement puts it.
    pub target: Option<NodeId>,
    /// Why it is not running, when it is not.
    pub reason: Option<Reason>,
    /// The reason in words, with node names.
    pub reason_text: Option<String>,
}

/// The policy's state as `hbctl` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// This node.
    pub node: NodeId,
    /// The DC this node follows.
    pub coordinator: Option<NodeId>,
    /// Whether this partition has quorum.
    pub quorate: bool,
    /// Whether communication is up.
    pub comm_up: bool,
    /// Whether this node is shutting down.
    pub leaving: bool,
    /// Current members.
    pub members: NodeSet,
    /// Every configured node.
    pub nodes: Vec<NodeStatus>,
    /// Nodes with a fence requested and not yet confirmed.
    pub pending_fences: Vec<NodeId>,
    /// Every group.
    pub groups: Vec<GroupStatus>,
}

/// A [`Reason`] in words.
pub fn describe(reason: Reason, cfg: &PolicyConfig) -> String {
    let name = |n: NodeId| cfg.node_name(n);
    match reason {
        Reason::NoQuorum => "no quorum".into(),
        Reason::WaitingForCommUp => "waiting for communication to come up (initdead)".into(),
        Reason::WaitingForReport(n) => format!("waiting for a report from {}", name(n)),
        Reason::WaitingForFence(n) => format!("waiting for fence of {}", name(n)),
        Reason::WaitingForStop(n) => format!("waiting for {} to stop it", name(n)),
        Reason::WaitingForPreferred(n) => format!("waiting for {} to finish starting", name(n)),
        Reason::WaitingForCoordinator(n) => format!("waiting for the coordinator {}", name(n)),
        Reason::NoCandidate => "no eligible node (standby, shutting down or not ready)".into(),
        Reason::FailedEverywhere => "failed on every eligible node".into(),
        Reason::DefinitionDiffers(n) => format!(
            "the cluster definition (ha.cf nodes, haresources, auto_failback) on {} differs from this node's: make them the same",
            name(n)
        ),
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "node {} coordinator {} quorate {} comm_up {}",
            self.node.0,
            self.coordinator.map_or("-".into(), |c| c.0.to_string()),
            self.quorate,
            self.comm_up
        )?;
        for g in &self.groups {
            let holders: Vec<String> = self
                .holders_names(g)
                .into_iter()
                .map(|(n, s)| format!("{n}:{s:?}"))
                .collect();
            writeln!(
                f,
                "  {} held by [{}]{}",
                g.key,
                holders.join(" "),
                g.reason_text
                    .as_ref()
                    .map_or(String::new(), |r| format!(" — {r}"))
            )?;
        }
        Ok(())
    }
}

impl Status {
    fn holders_names(&self, g: &GroupStatus) -> Vec<(String, GroupState)> {
        g.holders
            .iter()
            .map(|(n, s)| {
                let name = self
                    .nodes
                    .get(n.index())
                    .map_or(n.to_string(), |x| x.name.clone());
                (name, *s)
            })
            .collect()
    }
}

impl Policy {
    /// The status view.
    pub fn status(&self) -> Status {
        let placement = self
            .placement
            .as_ref()
            .filter(|(from, _)| Some(*from) == self.follow)
            .map(|(_, p)| p);
        let groups = self
            .cfg
            .groups
            .iter()
            .enumerate()
            .map(|(g, spec)| {
                let holders: Vec<(NodeId, GroupState)> = self
                    .peers
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| {
                        let s = p.report.as_ref()?.groups[g];
                        s.is_held().then_some((NodeId(i as u16), s))
                    })
                    .collect();
                let running = holders.iter().any(|(_, s)| *s == GroupState::Running);
                let target = match &self.dc {
                    Some(dc) => dc.targets[g],
                    None => placement.and_then(|p| p.targets[g]),
                };
                let reason = if let Some(n) = self.differing_member() {
                    Some(Reason::DefinitionDiffers(n))
                } else if running {
                    None
                } else if !self.quorate {
                    Some(Reason::NoQuorum)
                } else if let Some(dc) = &self.dc {
                    dc.reasons[g]
                } else {
                    match placement {
                        Some(p) => p.reasons[g],
                        None => self.follow.map(Reason::WaitingForCoordinator),
                    }
                };
                GroupStatus {
                    id: GroupId(g as u16),
                    key: spec.key.clone(),
                    local: self.local[g].state,
                    holders,
                    target,
                    reason,
                    reason_text: reason.map(|r| describe(r, &self.cfg)),
                }
            })
            .collect();
        Status {
            node: self.cfg.me,
            coordinator: self.follow,
            quorate: self.quorate,
            comm_up: self.comm_up,
            leaving: self.leaving,
            members: self.view,
            nodes: self
                .peers
                .iter()
                .enumerate()
                .map(|(i, p)| NodeStatus {
                    id: NodeId(i as u16),
                    name: self.cfg.node_name(NodeId(i as u16)),
                    health: p.health,
                    fence: p.fence,
                    fence_failures: p.fence_failures,
                })
                .collect(),
            pending_fences: self
                .peers
                .iter()
                .enumerate()
                .filter(|(_, p)| p.fence != FenceState::Idle)
                .map(|(i, _)| NodeId(i as u16))
                .collect(),
            groups,
        }
    }
}
