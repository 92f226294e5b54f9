//! What happened to every fence and unfence operation: the record [`crate::queue`] produces
//! and the daemon persists.

use crate::topology::{DeviceName, NodeName};

/// What was asked for a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FenceAction {
    /// Power it off (and keep it off).
    Off,
    /// Power it off, confirm, and on again.
    Reboot,
    /// Unfence: switch its resource-level devices back on (fabric ports).
    On,
}

/// What one device was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceAction {
    /// Off, confirmed.
    Off,
    /// On.
    On,
    /// Off confirmed, then on.
    Reboot,
}

/// Who asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Origin {
    /// The cluster (hbd or qdiskd on this node) after a node failure: subject to the quorum
    /// gate and the delays.
    Cluster(String),
    /// An administrator (`fence_node`, `fence_tool`): acts at once, as `fence_node` and
    /// `stonith_admin` do.
    Admin(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Cluster(n) => write!(f, "cluster ({n})"),
            Origin::Admin(n) => write!(f, "administrator ({n})"),
        }
    }
}

/// One device invocation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attempt {
    /// Round of the whole topology (1-based).
    pub round: u32,
    /// Level index.
    pub level: u8,
    /// Device.
    pub device: DeviceName,
    /// Action.
    pub action: DeviceAction,
    /// How long it took.
    pub duration_ms: u64,
    /// `None` on success, else why it failed.
    pub error: Option<String>,
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Outcome {
    /// The node is fenced (every device of a level confirmed).
    Fenced,
    /// Fenced (every off confirmed) but switching it on again failed on some device.
    FencedOnFailed(String),
    /// Unfenced.
    Unfenced,
    /// An administrator declared the node safely down.
    Acknowledged(String),
    /// Not done: why.
    Cancelled(String),
    /// Unfencing gave up.
    Failed(String),
}

impl Outcome {
    /// Whether the node is now known to be unable to touch shared resources.
    pub fn is_fenced(&self) -> bool {
        matches!(
            self,
            Outcome::Fenced | Outcome::FencedOnFailed(_) | Outcome::Acknowledged(_)
        )
    }
}

/// The history of one operation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// Operation id.
    pub id: u64,
    /// The victim.
    pub target: NodeName,
    /// What was asked.
    pub action: FenceAction,
    /// Who asked first.
    pub origin: Origin,
    /// Who asked again while it ran (duplicate requests join the running operation).
    pub joined: Vec<Origin>,
    /// Every device invocation, in order.
    pub attempts: Vec<Attempt>,
    /// How it ended.
    pub outcome: Outcome,
    /// From request to end.
    pub elapsed_ms: u64,
    /// Wall-clock time of the request, seconds since the epoch (filled in by the daemon).
    #[serde(default)]
    pub requested_at: u64,
    /// Wall-clock time of the end (filled in by the daemon).
    #[serde(default)]
    pub finished_at: u64,
}
