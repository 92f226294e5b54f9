//! Time as the core sees it: a point on the local boot-time clock, read only by drivers.

use std::ops::Add;
use std::time::Duration;

/// A point in time on the local boot-time clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BootTime(pub Duration);

impl BootTime {
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
