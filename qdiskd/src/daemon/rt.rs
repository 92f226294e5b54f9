//! Locked memory and real-time scheduling, as Red Hat's qdiskd does (rr, priority 1): the
//! workspace's one implementation ([`plumbing::rt`]).

pub use plumbing::rt::{lock_memory, set_scheduler};
