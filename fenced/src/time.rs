//! Time as the core sees it: the workspace's one `CLOCK_BOOTTIME` clock
//! ([`plumbing::time`]), read only by drivers.

pub use plumbing::time::BootTime;
