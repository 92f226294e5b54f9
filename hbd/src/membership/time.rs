//! Time as the membership core sees it: the workspace's one `CLOCK_BOOTTIME` clock
//! ([`plumbing::time`]), read only by the driver; simulations start it at zero.

pub use plumbing::time::BootTime as Time;
