//! Time as the cores see it: the workspace's one `CLOCK_BOOTTIME` clock
//! ([`plumbing::time`]).

pub use plumbing::time::BootTime;
