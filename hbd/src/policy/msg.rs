//! What policies say to each other over the cluster, and what an administrator asks.
//!
//! The wire codec carries these between nodes; the sender's identity must come from the
//! authenticated transport, not from the message.

use super::types::{NodeId, NodeSet};

/// Orders a coordinator's announcements: its incarnation (heartbeat's generation number,
/// which grows on every restart), then a counter it increments for every announcement.
///
/// A node never acts on an announcement older than one it has already acted on from the
/// same coordinator.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Stamp {
    /// The coordinator's incarnation.
    pub incarnation: u64,
    /// The announcement counter within the incarnation.
    pub seq: u64,
}

/// A group's state on one node, as that node reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum GroupState {
    /// Not running here (stop completed, or never started).
    Stopped,
    /// A start is in progress.
    Starting,
    /// Started and running.
    Running,
    /// A stop is in progress.
    Stopping,
}

impl GroupState {
    /// Whether any part of the group may be active (everything but `Stopped`).
    pub fn is_held(self) -> bool {
        self != GroupState::Stopped
    }
}

/// Why a group is not running where it should, as the coordinator (or the local node)
/// sees it. hbctl prints these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Reason {
    /// This partition has no quorum.
    NoQuorum,
    /// The coordinator has not declared communication up yet (initdead).
    WaitingForCommUp,
    /// Waiting for a current report from this member.
    WaitingForReport(NodeId),
    /// Waiting for fencing to confirm this node fenced.
    WaitingForFence(NodeId),
    /// Waiting for this node to finish stopping the group.
    WaitingForStop(NodeId),
    /// Waiting for the preferred node, a member, to finish starting up.
    WaitingForPreferred(NodeId),
    /// Waiting for placement from this coordinator.
    WaitingForCoordinator(NodeId),
    /// No eligible node (all in standby, shutting down, or not ready).
    NoCandidate,
    /// The group failed on every eligible member.
    FailedEverywhere,
    /// This member's cluster definition (nodes, groups) differs from ours: no placement
    /// until the configurations agree.
    DefinitionDiffers(NodeId),
}

/// What a node holds, sent to every node after every change and periodically.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// The reporter's incarnation.
    pub incarnation: u64,
    /// Grows with every report of this incarnation (older reports are discarded).
    pub seq: u64,
    /// The coordinator this node follows and its latest announcement this node applied.
    pub applied: Option<(NodeId, Stamp)>,
    /// State of every group on this node, by group index.
    pub groups: Vec<GroupState>,
    /// Groups that failed here (start failed, or monitor restarts exhausted), by index.
    pub failed: Vec<bool>,
    /// Communication is up on this node (initial acquisition may begin).
    pub ready: bool,
    /// Ready, no operation in flight, not leaving: heartbeat's "stable" for failback.
    pub stable: bool,
    /// The node is shutting down: it releases everything and takes nothing.
    pub leaving: bool,
    /// The digest of the sender's cluster definition ([`super::PolicyConfig::digest`]);
    /// `None` from a sender that does not say.
    #[serde(default)]
    pub digest: Option<u64>,
}

/// The coordinator's decision: where every group runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Placement {
    /// Orders announcements.
    pub stamp: Stamp,
    /// The node that runs each group, by group index; `None` = nowhere.
    pub targets: Vec<Option<NodeId>>,
    /// Why each group without a target is not placed.
    pub reasons: Vec<Option<Reason>>,
    /// Groups an administrator pinned to a node (`takeover`).
    pub pins: Vec<Option<NodeId>>,
    /// Nodes each group must avoid because of `standby`.
    pub standby: Vec<NodeSet>,
    /// Nodes each group failed on.
    pub failed: Vec<NodeSet>,
    /// The members whose reports this placement was decided on, with the incarnation of
    /// each: a node applies a placement only if it names its own current incarnation (an
    /// answer meant for its previous incarnation, or decided before its report, is not for
    /// it).
    #[serde(default)]
    pub based_on: Vec<(NodeId, u64)>,
}

/// A cluster message between policies.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ClusterMsg {
    /// From a coordinator: a new round begins; reply with a [`Report`] applying this stamp.
    Sync(Stamp),
    /// From a coordinator: the placement.
    Placement(Placement),
    /// From any node: what it holds.
    Report(Report),
    /// From any node to its coordinator: an administrator's request made on the sender.
    Admin(AdminCommand),
}

/// Which groups an administrative command covers, relative to the node it was issued on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Scope {
    /// Every group.
    All,
    /// Groups whose preferred node is the issuing node.
    Local,
    /// Groups whose preferred node is another node.
    Foreign,
}

/// `hbctl standby|takeover [all|local|foreign]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AdminCommand {
    /// Move these groups away from the issuing node (they will not come back to it until
    /// it restarts or an administrator takes them over).
    Standby(Scope),
    /// Move these groups to the issuing node.
    Takeover(Scope),
}
