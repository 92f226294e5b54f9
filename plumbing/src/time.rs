//! Time as the pure cores see it: a point on the local `CLOCK_BOOTTIME` clock.
//!
//! Only drivers read the clock ([`BootTime::now`]); the cores take a `BootTime` as an
//! argument, and simulations start it at zero. `CLOCK_BOOTTIME` keeps counting through
//! suspend and is never stepped by NTP, so neither can fake liveness.

use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time on the local boot-time clock, as a duration since its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BootTime(pub Duration);

impl BootTime {
    /// The clock's origin.
    pub const ZERO: BootTime = BootTime(Duration::ZERO);

    /// Reads `CLOCK_BOOTTIME` (drivers only).
    pub fn now() -> Self {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        BootTime(Duration::new(
            u64::try_from(ts.tv_sec).unwrap_or(0),
            u32::try_from(ts.tv_nsec).unwrap_or(0),
        ))
    }

    /// A time `ms` milliseconds after the origin (handy in tests and simulations).
    pub const fn from_millis(ms: u64) -> BootTime {
        BootTime(Duration::from_millis(ms))
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: BootTime) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for BootTime {
    type Output = BootTime;
    /// Saturates instead of overflowing (a timer "never" is `Duration::MAX` away).
    fn add(self, rhs: Duration) -> BootTime {
        BootTime(self.0.saturating_add(rhs))
    }
}

impl Sub<BootTime> for BootTime {
    type Output = Duration;
    /// The same as [`BootTime::since`].
    fn sub(self, rhs: BootTime) -> Duration {
        self.since(rhs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_the_clock_moves_forward() {
        let t = BootTime::from_millis(1500);
        assert_eq!(t + Duration::from_millis(500), BootTime::from_millis(2000));
        assert_eq!(t.since(BootTime::from_millis(2000)), Duration::ZERO);
        assert_eq!(BootTime::from_millis(2000) - t, Duration::from_millis(500));
        assert_eq!(t + Duration::MAX, BootTime(Duration::MAX));
        let a = BootTime::now();
        let b = BootTime::now();
        assert!(b >= a && a > BootTime::ZERO);
    }
}
