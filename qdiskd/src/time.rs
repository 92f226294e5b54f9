//! Time as the cores see it: a point on the local `CLOCK_BOOTTIME` clock.
//!
//! Only drivers read the clock; the cores take `BootTime` as an argument, and simulations
//! start it at zero. `CLOCK_BOOTTIME` keeps counting through suspend and is never stepped by
//! NTP, so neither can fake liveness.

use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time on the local boot-time clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BootTime(pub Duration);

impl BootTime {
    /// The clock's zero.
    pub const ZERO: BootTime = BootTime(Duration::ZERO);

    /// Reads `CLOCK_BOOTTIME` (drivers only).
    pub fn now() -> Self {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        BootTime(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: BootTime) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for BootTime {
    type Output = BootTime;
    fn add(self, rhs: Duration) -> BootTime {
        BootTime(self.0 + rhs)
    }
}

impl Sub<BootTime> for BootTime {
    type Output = Duration;
    fn sub(self, rhs: BootTime) -> Duration {
        self.since(rhs)
    }
}
