//! Self-fencing: checked at start (the daemon says which action is set and refuses an
//! action that cannot work), carried out at once when the core asks. The workspace's one
//! implementation ([`plumbing::selffence`]), armed in qdiskd's name.

pub use plumbing::selffence::{fire, fire_action, say_without_blocking, Armed};

use crate::config::SelfFenceAction;

/// Checks that `action` can fire here, and returns it armed (its messages say "qdiskd").
pub fn arm(action: SelfFenceAction) -> Result<Armed, String> {
    plumbing::selffence::arm(action, "qdiskd")
}
