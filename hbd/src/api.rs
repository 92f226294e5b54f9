//! hbd's API: newline-delimited JSON over a Unix socket (root only, mode 0600), used by
//! `hbctl` and by other programs.
//!
//! Every request and reply carries `"version": 1`. `{"version":1,"request":"status"}`
//! answers one [`StatusReply`]; `{"version":1,"request":{"standby":"all"}}` and
//! `{"version":1,"request":{"takeover":"foreign"}}` ask for resource moves and answer a
//! [`CommandReply`]. Errors come back as `{"version":1,"error":"..."}`.

use serde::{Deserialize, Serialize};

/// Protocol version.
pub const API_VERSION: u32 = 1;

/// Which resource groups a standby or takeover concerns, relative to the asking node
/// (heartbeat's `hb_standby`/`hb_takeover` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupSet {
    /// Every group.
    All,
    /// Groups whose preferred node is the asking node.
    Local,
    /// Groups whose preferred node is another node.
    Foreign,
}

/// A request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// One status snapshot.
    Status,
    /// Give these groups to the peer(s).
    Standby(GroupSet),
    /// Take these groups from the peer(s).
    Takeover(GroupSet),
}

/// A request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Protocol version.
    pub version: u32,
    /// What is asked.
    pub request: RequestKind,
}

/// A link (one medium to one node) as hbd sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkReport {
    /// The link name (interface or tty), as `cl_status listhblinks` prints it.
    pub name: String,
    /// `up` or `dead`.
    pub status: String,
}

/// A node as hbd sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReport {
    /// Node name (lower case).
    pub name: String,
    /// `normal` or `ping`.
    pub node_type: String,
    /// `init`, `up`, `active`, `dead` or `ping`.
    pub status: String,
    /// Its links (none for the local node's own view of itself unless it hears itself).
    pub links: Vec<LinkReport>,
    /// Milliseconds since the last accepted status from it, if any.
    pub last_heard_ms: Option<u64>,
}

/// A resource group as hbd sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupReport {
    /// The group key (its first resource, as heartbeat names groups).
    pub key: String,
    /// Its preferred node.
    pub preferred: String,
    /// The node running it, if any.
    pub owner: Option<String>,
    /// `running`, `starting`, `stopping`, `stopped`, `failed` or `waiting`.
    pub state: String,
    /// Why it is not running where it should, when it is not (e.g. "waiting for the fence
    /// of web1 to be confirmed", "no quorum").
    pub reason: Option<String>,
}

/// Quorum as hbd computes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct QuorumReport {
    /// Votes present (members, ping nodes, quorum disk).
    pub votes: u32,
    /// Votes expected.
    pub expected: u32,
    /// Votes from the quorum disk included above (held by this node now).
    pub qdisk_votes: u32,
    /// Whether this partition has quorum.
    pub quorate: bool,
}

/// The answer to `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StatusReply {
    /// Protocol version.
    pub version: u32,
    /// This node's name.
    pub local: String,
    /// hbd's version.
    pub hbversion: String,
    /// Every node (normal and ping), in `ha.cf` order.
    pub nodes: Vec<NodeReport>,
    /// Resource groups.
    pub groups: Vec<GroupReport>,
    /// What this node holds, as `cl_status rscstatus` prints it: `none`, `local`,
    /// `foreign`, `all` or `transition`.
    pub rscstatus: String,
    /// Quorum.
    pub quorum: QuorumReport,
    /// Effective parameters by `ha.cf` name (`keepalive`, `deadtime`, ...), as
    /// `cl_status hbparameter` prints them.
    pub parameters: Vec<(String, String)>,
    /// Packets dropped since start because of a missing or bad signature.
    pub auth_failures: u64,
    /// Packets dropped as replays or duplicates.
    pub replays: u64,
}

/// The answer to a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandReply {
    /// Protocol version.
    pub version: u32,
    /// Whether it was accepted.
    pub accepted: bool,
    /// What happens now, or why not.
    pub message: String,
}
