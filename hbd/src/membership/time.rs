//! Time as the membership core sees it: a point on the driver's monotonic clock.

use std::ops::Add;
use std::time::Duration;

/// A point in time on the local monotonic clock (`CLOCK_BOOTTIME` in the daemon, so that
/// suspend and NTP steps cannot fake liveness), as a duration since an arbitrary origin.
/// Only the driver reads the clock; simulations start it at zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(pub Duration);

impl Time {
    /// The origin.
    pub const ZERO: Time = Time(Duration::ZERO);

    /// A time `ms` milliseconds after the origin (handy in tests).
    pub const fn from_millis(ms: u64) -> Time {
        Time(Duration::from_millis(ms))
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, rhs: Duration) -> Time {
        Time(self.0.saturating_add(rhs))
    }
}
