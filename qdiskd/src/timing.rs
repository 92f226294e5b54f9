//! qdiskd's timing: Red Hat's automatic values, its sanity rules, and our safety margins.
//!
//! # Values (RHCS `qdiskd/main.c`, cluster 3.2, auto-configuration since Feb 2010)
//!
//! | value | default | rule |
//! |---|---|---|
//! | `tko` | ((token − interval) / 2) in whole seconds/cycles | < 4 warns "TKO too low"; we refuse < 3 |
//! | `tko_up` | ⌊tko / 3⌋ | at least 2 |
//! | `upgrade_wait` | 2 | at least 1 |
//! | `master_wait` | ⌊tko / 2⌋ | raised to tko_up + 1 when ≤ tko_up |
//!
//! Red Hat refuses to start when the membership token is under 10 s, or when the master
//! recovery time `interval·(tko + master_wait + upgrade_wait)` is not below the token: while
//! a new master is elected nobody grants the quorum-disk votes, and the membership layer must
//! not time the disk out meanwhile. We apply the same rule to hbd's `deadtime`, which plays
//! the token's part, except that the 10 s floor applies only to the Red Hat layout (the
//! extended layout allows sub-second intervals on purpose).
//!
//! # Failure timeline (interval I, tko T)
//!
//! ```text
//! t = 0           node N's last status write completes (c)
//! t ≤ (T−1)·I     N must have written again; if not (hung I/O, paused, slow path) N
//!                 self-fences at this deadline, from a timer, even while its write is stuck
//!                 in the kernel. No write of N is ever issued after this point.
//! t ≥ (T+1)·I     earliest moment a peer may declare N dead: T+1 consecutive reads without
//!                 a change AND (T+1)·I of the peer's own clock since it first saw N's last
//!                 change, measured to the *start* of its read (a write that completed before
//!                 a read started is visible to that read).
//!                 The master then writes the eviction notice into N's slot.
//! ```
//!
//! The two-interval gap between N's own deadline and the earliest eviction is what makes
//! "an evicted node never writes again" hold without comparing clocks: each side measures a
//! duration on its own monotonic clock (sanlock `timeouts.h` reasons the same way). Red Hat's
//! qdiskd has no such deadline (`io_timeout` is off by default and checked only after a cycle
//! completes), so a node paused between its read and its write overwrites the notice.

use std::time::Duration;

/// Smallest `tko` we accept.
pub const MIN_TKO: u32 = 3;
/// Red Hat's floor for the membership token when qdiskd is used.
pub const MIN_TOKEN_REDHAT: Duration = Duration::from_secs(10);
/// Shortest interval, extended layout only.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// The effective timing of a qdiskd instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Time between cycles.
    pub interval: Duration,
    /// Missed updates before a node is declared dead.
    pub tko: u32,
    /// Observed updates before a node is declared up.
    pub tko_up: u32,
    /// Cycles to wait after becoming eligible before bidding for master.
    pub upgrade_wait: u32,
    /// Cycles a bid must stand before its bidder becomes master.
    pub master_wait: u32,
}

/// What the user set; `None` means "automatic".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimingRequest {
    /// `interval` (default 1 s).
    pub interval: Option<Duration>,
    /// `tko`.
    pub tko: Option<u32>,
    /// `tko_up`.
    pub tko_up: Option<u32>,
    /// `upgrade_wait`.
    pub upgrade_wait: Option<u32>,
    /// `master_wait`.
    pub master_wait: Option<u32>,
}

/// A timing rule that is broken, with the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    /// `tko` below [`MIN_TKO`].
    #[error("tko {tko} is too low: at least {MIN_TKO} missed updates are needed to tell a slow disk from a dead node (Red Hat warns below 4)")]
    TkoTooLow {
        /// The value.
        tko: u32,
    },
    /// An interval below 1 s on the Red Hat layout, or below 100 ms on any.
    #[error("interval {interval:?} is too short: {why}")]
    IntervalTooShort {
        /// The value.
        interval: Duration,
        /// Why, and the fix.
        why: &'static str,
    },
    /// The membership timeout is under Red Hat's 10 s floor.
    #[error("the membership timeout {token:?} is too fast to use with a Red Hat layout quorum disk (at least 10 s); raise it, or use the extended layout")]
    TokenTooFast {
        /// The membership timeout.
        token: Duration,
    },
    /// Master recovery would outlast the membership timeout.
    #[error("quorum disk timings are too slow for the membership timeout {token:?}: a master failover takes interval·(tko + master_wait + upgrade_wait) = {failover:?}; raise the membership timeout to at least {suggested:?} or lower interval/tko")]
    FailoverTooSlow {
        /// The membership timeout.
        token: Duration,
        /// `interval·(tko + master_wait + upgrade_wait)`.
        failover: Duration,
        /// The smallest timeout that works: failover + interval.
        suggested: Duration,
    },
}

impl Timing {
    /// Resolves the automatic values as Red Hat does, given the membership timeout `token`
    /// (hbd's deadtime; Red Hat's totem token), and checks the rules. `extended` says whether
    /// the disk uses the extended layout (sub-second intervals allowed).
    pub fn resolve(
        request: TimingRequest,
        token: Duration,
        extended: bool,
    ) -> Result<Self, TimingError> {
        let interval = request.interval.unwrap_or(Duration::from_secs(1));
        if interval < MIN_INTERVAL {
            return Err(TimingError::IntervalTooShort {
                interval,
                why: "the shortest interval is 100 ms",
            });
        }
        if !extended && interval < Duration::from_secs(1) {
            return Err(TimingError::IntervalTooShort {
                interval,
                why: "the Red Hat layout records whole seconds, so a node could not be seen to change more than once a second; use 1 s or more, or re-create the disk with the extended layout (mkqdisk --layout extended)",
            });
        }
        if !extended && token < MIN_TOKEN_REDHAT {
            return Err(TimingError::TokenTooFast { token });
        }
        let tko = match request.tko {
            Some(tko) => tko,
            // ((token − interval) / 2) counted in intervals.
            None => {
                let spare = token.saturating_sub(interval);
                ((spare.as_secs_f64() / interval.as_secs_f64()) / 2.0).floor() as u32
            }
        };
        if tko < MIN_TKO {
            return Err(TimingError::TkoTooLow { tko });
        }
        let tko_up = request.tko_up.unwrap_or(tko / 3).max(2);
        let upgrade_wait = request.upgrade_wait.unwrap_or(2).max(1);
        let mut master_wait = request.master_wait.unwrap_or(tko / 2);
        if master_wait <= tko_up {
            master_wait = tko_up + 1;
        }
        let timing = Self {
            interval,
            tko,
            tko_up,
            upgrade_wait,
            master_wait,
        };
        let failover = timing.master_failover();
        if failover >= token {
            return Err(TimingError::FailoverTooSlow {
                token,
                failover,
                suggested: failover + interval,
            });
        }
        Ok(timing)
    }

    /// `interval·(tko + master_wait + upgrade_wait)`: the longest time without a master.
    pub fn master_failover(&self) -> Duration {
        self.interval * (self.tko + self.master_wait + self.upgrade_wait)
    }

    /// How long after its last completed write a node may still issue one: (tko − 1)·interval.
    pub fn write_deadline(&self) -> Duration {
        self.interval * self.tko.saturating_sub(1)
    }

    /// How long a peer's marker must stay unchanged, on the reader's clock, before the peer
    /// may be declared dead: (tko + 1)·interval.
    pub fn death_floor(&self) -> Duration {
        self.interval * (self.tko + 1)
    }

    /// Heuristic hard timeout: interval·(tko − 1) (Red Hat's `maxtime`).
    pub fn heuristic_timeout(&self) -> Duration {
        self.interval * self.tko.saturating_sub(1)
    }

    /// `io_timeout`/`paranoid` limit: interval·tko.
    pub fn io_limit(&self) -> Duration {
        self.interval * self.tko
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn auto(token: u64, interval: u64, tko: Option<u32>) -> Result<Timing, TimingError> {
        Timing::resolve(
            TimingRequest {
                interval: Some(secs(interval)),
                tko,
                ..TimingRequest::default()
            },
            secs(token),
            false,
        )
    }

    /// The worked examples of the reference (qdisk.md §2.3).
    #[test]
    fn red_hat_worked_examples_resolve_the_same() {
        let t = auto(10, 1, None).expect("ok");
        assert_eq!(
            (t.tko, t.tko_up, t.master_wait, t.upgrade_wait),
            (4, 2, 3, 2)
        );
        assert_eq!(t.master_failover(), secs(9));
        let t = auto(21, 1, None).expect("ok");
        assert_eq!(
            (t.tko, t.tko_up, t.master_wait, t.upgrade_wait),
            (10, 3, 5, 2)
        );
        assert_eq!(t.master_failover(), secs(17));
        assert_eq!(
            auto(10, 1, Some(10)),
            Err(TimingError::FailoverTooSlow {
                token: secs(10),
                failover: secs(17),
                suggested: secs(18)
            })
        );
        assert!(matches!(
            auto(10, 2, None),
            Err(TimingError::TkoTooLow { .. }) | Err(TimingError::FailoverTooSlow { .. })
        ));
    }

    #[test]
    fn the_man_page_example_needs_a_24_second_token() {
        let request = TimingRequest {
            interval: Some(secs(2)),
            tko: Some(7),
            master_wait: Some(2),
            upgrade_wait: Some(2),
            ..TimingRequest::default()
        };
        // master_wait 2 ≤ tko_up 2 is raised to 3, so failover = 2·(7+3+2) = 24 s.
        assert!(Timing::resolve(request, secs(24), false).is_err());
        assert!(Timing::resolve(request, secs(25), false).is_ok());
    }

    #[test]
    fn sub_second_intervals_need_the_extended_layout() {
        let request = TimingRequest {
            interval: Some(Duration::from_millis(100)),
            tko: Some(10),
            ..TimingRequest::default()
        };
        assert!(matches!(
            Timing::resolve(request, secs(3), false),
            Err(TimingError::IntervalTooShort { .. })
        ));
        let t = Timing::resolve(request, secs(3), true).expect("extended allows it");
        assert_eq!(
            t.master_failover(),
            Duration::from_millis(100 * (10 + 5 + 2))
        );
    }

    #[test]
    fn a_node_stops_writing_two_intervals_before_anyone_may_evict_it() {
        let t = auto(21, 1, None).expect("ok");
        assert_eq!(t.death_floor() - t.write_deadline(), 2 * t.interval);
    }
}
