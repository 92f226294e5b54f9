//! The qdiskd API: newline-delimited JSON over a Unix socket (root only, mode 0600).
//!
//! Every request and reply carries `"version": 1`. Requests:
//! `{"version":1,"request":"status"}` answers one [`StatusReply`]; the membership layer (hbd)
//! adds `"partition":["web1","web2"]`, the nodes of its network partition, with every poll;
//! `{"version":1,"request":"subscribe"}` answers a stream of [`EventReply`] lines, one per
//! event, until the client hangs up. Errors come back as `{"version":1,"error":"..."}`.

use serde::{Deserialize, Serialize};

/// Protocol version.
pub const API_VERSION: u32 = 1;

/// A request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// One status snapshot.
    Status,
    /// A stream of events.
    Subscribe,
}

/// A request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Protocol version.
    pub version: u32,
    /// What is asked.
    pub request: RequestKind,
    /// With `status` from the membership layer: the node names of this node's network
    /// partition (itself and the members that hear it). The master grants the disk's votes
    /// only within its own partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Vec<String>>,
}

/// One node as this qdiskd sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReport {
    /// Node id.
    pub node: u32,
    /// `unknown`, `coming`, `up`, or `down`.
    pub view: String,
    /// State in its status block.
    pub disk_state: String,
}

/// A status snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StatusReply {
    /// Protocol version.
    pub version: u32,
    /// This node's id.
    pub node: u32,
    /// This node's name.
    pub node_name: String,
    /// Our state (`Initializing`, `Running`, `Master`, `None`, ...).
    pub state: String,
    /// The master's node id.
    pub master: Option<u32>,
    /// The master's node name (from the cluster file), so the membership layer can tell
    /// whether the master is in its partition.
    #[serde(default)]
    pub master_name: Option<String>,
    /// Whether this node holds the quorum-disk votes.
    pub votes_held: bool,
    /// Votes the quorum disk contributes.
    pub votes: u32,
    /// Heuristic score.
    pub score: u32,
    /// Maximum score.
    pub score_max: u32,
    /// Score needed.
    pub required_score: u32,
    /// The device in use.
    pub device: String,
    /// Its label.
    pub label: String,
    /// `redhat` or `extended`.
    pub layout: String,
    /// Cycle interval in milliseconds.
    pub interval_ms: u64,
    /// tko.
    pub tko: u32,
    /// Every other node with a slot that has been seen.
    pub nodes: Vec<NodeReport>,
    /// Nodes we see running.
    pub visible: Vec<u32>,
    /// The master's quorate set.
    pub quorate: Vec<u32>,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventReply {
    /// Protocol version.
    pub version: u32,
    /// Milliseconds on this node's boot-time clock.
    pub at_ms: u64,
    /// `node_up`, `node_down`, `node_left`, `node_restarted`, `node_undead`,
    /// `eviction_written`, `master_changed`, `state_changed`, `votes_changed`,
    /// `score_changed`, `self_fence`.
    pub event: String,
    /// The node it is about, if any.
    pub node: Option<u32>,
    /// Human detail.
    pub detail: String,
}
