//! The small shared plumbing of the daemons (qdiskd, fenced, hbd): what each of them would
//! otherwise write again, so that the same key means the same thing to every daemon. It
//! depends on no member of the workspace.
//!
//! - [`duration`]: a duration in the cluster file, read one way everywhere;
//! - [`text`]: line numbers of positions in a file, for `file:line` errors;
//! - [`socket`]: the API sockets, private and never stolen from a live daemon;
//! - [`time`]: the cores' clock, `CLOCK_BOOTTIME`.

pub mod duration;
pub mod socket;
pub mod text;
pub mod time;
