//! How hbd runs: paths, peers (fenced, qdiskd), agents, and the self-fence action.

use std::path::PathBuf;
use std::time::Duration;

use crate::agents::AgentConfig;

/// What hbd does when it must fence itself (a stop failed: a group may be half-stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfFence {
    /// Reboot at once, no sync: production.
    Reboot,
    /// Kill every process of hbd's own cgroup: test labs, where a node is a cgroup.
    KillCgroup,
}

impl std::fmt::Display for SelfFence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SelfFence::Reboot => "reboot",
            SelfFence::KillCgroup => "kill-cgroup",
        })
    }
}

/// A self-fence action checked at start and ready to fire.
pub type Armed = plumbing::selffence::Armed;

impl SelfFence {
    /// Checks that the action can work here (its messages say "hbd").
    pub fn arm(self) -> Result<Armed, String> {
        plumbing::selffence::arm(
            match self {
                SelfFence::Reboot => plumbing::selffence::SelfFenceAction::Reboot,
                SelfFence::KillCgroup => plumbing::selffence::SelfFenceAction::KillCgroup,
            },
            "hbd",
        )
    }
}

/// Fences this node now.
pub fn fire(armed: &Armed, reason: &str) -> ! {
    plumbing::selffence::fire(armed, reason)
}

/// Everything hbd needs besides the cluster configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// State directory (`hb_uuid`, `hb_generation`).
    pub state_dir: PathBuf,
    /// The API socket.
    pub socket: PathBuf,
    /// fenced's socket; without it a dead node's groups never move.
    pub fenced_socket: Option<PathBuf>,
    /// qdiskd's socket, to count the quorum disk's votes.
    pub qdisk_socket: Option<PathBuf>,
    /// The quorum disk's votes (used with `qdisk_socket`).
    pub qdisk_votes: u32,
    /// Votes of each answering ping node.
    pub ping_votes: u32,
    /// Resource agents.
    pub agents: AgentConfig,
    /// Monitor running groups this often (heartbeat v1 never did).
    pub monitor_interval: Option<Duration>,
    /// Restarts in place before a group moves.
    pub max_restarts: u32,
    /// The self-fence action.
    pub self_fence: SelfFence,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hbd_arms_its_self_fence_in_its_own_name() {
        let armed = SelfFence::Reboot.arm().expect("reboot arms anywhere");
        assert_eq!(armed.daemon(), "hbd");
    }
}
