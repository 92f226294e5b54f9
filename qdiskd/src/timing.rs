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
//! # Failure timeline (interval I, tko T, watchdog timeout W)
//!
//! ```text
//! t = i           node N issues the write system call of its last status write that
//!                 completes (it lands on the disk at some moment ≥ i, so every reader
//!                 that sees it sees it no earlier than i)
//! t ≤ i + (T−1)·I N must have issued its next write; if not (hung I/O, paused, slow path) N
//!                 self-fences at this deadline, from a timer, even while its write is stuck
//!                 in the kernel. No write of N is issued after this point: the deadline
//!                 runs from the *issue* of the last completed write, so a pause between a
//!                 completion and its processing cannot move it.
//! t < i + (T−1)·I with a watchdog: N pets it only while a hang starting now would let it
//!                 fire before the write deadline (pet at p only if p + W < i + (T−1)·I),
//!                 so the hardware resets N before the deadline. A write N issued earlier
//!                 and that is still in flight (stuck in a path, parked in a SAN queue) dies
//!                 with the reset.
//! t ≥ i + (T+1)·I earliest moment a peer may declare N dead: T+1 consecutive reads without
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
//!
//! **In-flight writes.** The deadline bounds when a write is *issued*; when it *lands* is up
//! to the storage. Without a watchdog the rule holds only for writes that land within two
//! intervals of the deadline (a write stuck longer in a path can land after the eviction;
//! the lab's fault disk does exactly that when a stall is released). With a watchdog the
//! bound is the hardware: N is reset before i + (T−1)·I, and a reset machine's queued I/O
//! is gone. That is why the watchdog timeout must fit inside the write deadline with room
//! for one cycle: W + 1.5·I ≤ (T−1)·I ([`Timing::watchdog_timeout`]).

use std::time::Duration;

/// Smallest `tko` we accept.
pub const MIN_TKO: u32 = 3;
/// Red Hat's floor for the membership token when qdiskd is used.
pub const MIN_TOKEN_REDHAT: Duration = Duration::from_secs(10);
/// How often hbd asks qdiskd whether it holds the votes: a failover is seen this much
/// later by the membership layer.
pub const VOTE_POLL: Duration = Duration::from_millis(250);
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

/// A duration the way an administrator writes it: `350 ms`, `1 s`, `13.5 s`.
pub fn human(d: &Duration) -> String {
    if d.is_zero() {
        "0 s".to_string()
    } else if *d < Duration::from_secs(1) {
        let ms = d.as_secs_f64() * 1000.0;
        format!("{} ms", trim(ms))
    } else {
        format!("{} s", trim(d.as_secs_f64()))
    }
}

/// A number with at most three decimals and no trailing zeros.
fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
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
    #[error("interval {} is too short: {why}", human(.interval))]
    IntervalTooShort {
        /// The value.
        interval: Duration,
        /// Why, and the fix.
        why: &'static str,
    },
    /// The membership timeout is under Red Hat's 10 s floor.
    #[error("the membership timeout {} is too fast to use with a Red Hat layout quorum disk (at least 10 s); raise it, or use the extended layout", human(.token))]
    TokenTooFast {
        /// The membership timeout.
        token: Duration,
    },
    /// The watchdog timeout does not fit inside the write deadline.
    #[error("watchdog timeout {} is too long for interval {} and tko {tko}: the watchdog must fire before the write deadline (tko−1)·interval = {}, with 1.5 intervals to spare for the cycle that pets it; {fix}", human(.timeout), human(.interval), human(.deadline))]
    WatchdogTooSlow {
        /// The timeout asked for.
        timeout: Duration,
        /// The interval.
        interval: Duration,
        /// tko.
        tko: u32,
        /// The write deadline.
        deadline: Duration,
        /// The largest timeout that works (whole seconds; zero when none does).
        max: Duration,
        /// What to change, in words.
        fix: String,
    },
    /// The watchdog API counts whole seconds.
    #[error("watchdog timeout {} is not a whole number of seconds of at least 1 (the Linux watchdog API counts seconds)", human(.timeout))]
    WatchdogNotWholeSeconds {
        /// The timeout asked for.
        timeout: Duration,
    },
    /// Master recovery would outlast the membership timeout.
    #[error("quorum disk timings are too slow for the membership timeout {}: a master failover takes up to interval·(tko + master_wait + 4.5) = {}, and hbd sees it up to 250 ms later; raise the membership timeout to at least {} (hbd's deadtime) or lower interval/tko", human(.token), human(.failover), human(.suggested))]
    FailoverTooSlow {
        /// The membership timeout.
        token: Duration,
        /// `interval·(tko + master_wait + upgrade_wait)`.
        failover: Duration,
        /// A timeout that works: failover + vote poll + interval.
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
        let with_tko = |tko: u32| {
            let tko_up = request.tko_up.unwrap_or(tko / 3).max(2);
            let upgrade_wait = request.upgrade_wait.unwrap_or(2).max(1);
            let mut master_wait = request.master_wait.unwrap_or(tko / 2);
            if master_wait <= tko_up {
                master_wait = tko_up + 1;
            }
            Self {
                interval,
                tko,
                tko_up,
                upgrade_wait,
                master_wait,
            }
        };
        let fits = |t: &Timing| t.master_failover() + VOTE_POLL < token;
        let timing = match request.tko {
            Some(tko) => with_tko(tko),
            // Red Hat's ((token − interval) / 2) counted in intervals, lowered (not below
            // MIN_TKO) until a master failover fits inside the token.
            None => {
                let spare = token.saturating_sub(interval);
                let mut tko = ((spare.as_secs_f64() / interval.as_secs_f64()) / 2.0).floor() as u32;
                while tko > MIN_TKO && !fits(&with_tko(tko)) {
                    tko -= 1;
                }
                with_tko(tko)
            }
        };
        if timing.tko < MIN_TKO {
            return Err(TimingError::TkoTooLow { tko: timing.tko });
        }
        if !fits(&timing) {
            let failover = timing.master_failover();
            return Err(TimingError::FailoverTooSlow {
                token,
                failover,
                suggested: failover + VOTE_POLL + interval,
            });
        }
        Ok(timing)
    }

    /// The longest time from a master's last write to every running survivor holding the
    /// votes under a new master, derived from the cycle's code: a survivor sees the last
    /// change at its first read after the write landed (up to one cycle), declares death at
    /// the first read starting (tko+1) intervals after that (up to one cycle more): tko + 3
    /// cycles; the lowest survivor bids in that cycle if its `upgrade_wait` has run out (it
    /// counts from the moment the node became eligible, so only an `upgrade_wait` longer
    /// than those cycles adds to the failover), becomes master when its bid has stood
    /// `master_wait` cycles, and its peers count the vote grant at their next read, one
    /// cycle later; half an interval more leaves room for the reads and writes of those
    /// cycles: `interval·(tko + master_wait + 4.5 + max(0, upgrade_wait − tko − 3))`.
    /// Red Hat's rule, `interval·(tko + master_wait + upgrade_wait)`, is not what its code
    /// takes. Checked by the simulation (`master_failover_fits_the_timing_rule`); a daemon
    /// that is not scheduled for a whole interval is slower still, which no timing rule
    /// can bound.
    pub fn master_failover(&self) -> Duration {
        let late_upgrade = self.upgrade_wait.saturating_sub(self.tko + 3);
        self.interval * (self.tko + self.master_wait + late_upgrade + 4) + self.interval / 2
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

    /// The watchdog timeout to use: `requested`, or automatically the longest whole number
    /// of seconds with W + 1.5·interval ≤ (tko − 1)·interval. See the module documentation.
    pub fn watchdog_timeout(&self, requested: Option<Duration>) -> Result<Duration, TimingError> {
        let deadline = self.write_deadline();
        let room = deadline.saturating_sub(self.interval * 3 / 2);
        let max = Duration::from_secs(room.as_secs());
        // The smallest tko with room for a 1 s watchdog: (tko − 1)·interval ≥ 1 s + 1.5·interval.
        let needed = Duration::from_secs(1) + self.interval * 3 / 2;
        let min_tko = 1 + needed.as_nanos().div_ceil(self.interval.as_nanos().max(1)) as u64;
        let fix = if max >= Duration::from_secs(1) {
            format!("use at most {}, or raise tko", human(&max))
        } else {
            format!(
                "no whole-second timeout fits (the watchdog API counts seconds): raise tko to at least {min_tko} or the interval, or run without a watchdog (watchdog = \"none\")"
            )
        };
        let too_slow = |timeout| TimingError::WatchdogTooSlow {
            timeout,
            interval: self.interval,
            tko: self.tko,
            deadline,
            max,
            fix: fix.clone(),
        };
        match requested {
            Some(t) if t.subsec_nanos() != 0 || t < Duration::from_secs(1) => {
                Err(TimingError::WatchdogNotWholeSeconds { timeout: t })
            }
            Some(t) if t > room => Err(too_slow(t)),
            Some(t) => Ok(t),
            None if max >= Duration::from_secs(1) => Ok(max),
            None => Err(too_slow(Duration::from_secs(1))),
        }
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

    #[test]
    fn durations_read_as_an_administrator_writes_them() {
        assert_eq!(human(&Duration::ZERO), "0 s");
        assert_eq!(human(&Duration::from_millis(350)), "350 ms");
        assert_eq!(human(&Duration::from_secs(1)), "1 s");
        assert_eq!(human(&Duration::from_millis(13_500)), "13.5 s");
        assert_eq!(human(&Duration::from_micros(1_500)), "1.5 ms");
        let e = TimingError::IntervalTooShort {
            interval: Duration::ZERO,
            why: "x",
        };
        assert_eq!(e.to_string(), "interval 0 s is too short: x");
    }

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

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// The worked examples of the reference (qdisk.md §2.3), with the failover rule
    /// derived from our code: a 10 s token is too short for a 1 s interval (even tko 3
    /// fails over in up to 10.5 s), a 12 s token gets tko 4 instead of Red Hat's 5, a 21 s
    /// token the same values as Red Hat.
    #[test]
    fn red_hat_worked_examples_resolve_within_the_failover_rule() {
        assert_eq!(
            auto(10, 1, None),
            Err(TimingError::FailoverTooSlow {
                token: secs(10),
                failover: ms(10_500),
                suggested: ms(11_750)
            })
        );
        let t = auto(12, 1, None).expect("ok");
        assert_eq!(
            (t.tko, t.tko_up, t.master_wait, t.upgrade_wait),
            (4, 2, 3, 2)
        );
        assert_eq!(t.master_failover(), ms(11_500));
        let t = auto(21, 1, None).expect("ok");
        assert_eq!(
            (t.tko, t.tko_up, t.master_wait, t.upgrade_wait),
            (10, 3, 5, 2)
        );
        assert_eq!(t.master_failover(), ms(19_500));
        assert_eq!(
            auto(21, 1, Some(12)),
            Err(TimingError::FailoverTooSlow {
                token: secs(21),
                failover: ms(22_500),
                suggested: ms(23_750)
            })
        );
        assert!(matches!(
            auto(10, 2, None),
            Err(TimingError::TkoTooLow { .. }) | Err(TimingError::FailoverTooSlow { .. })
        ));
    }

    #[test]
    fn the_man_page_example_needs_a_30_second_token() {
        let request = TimingRequest {
            interval: Some(secs(2)),
            tko: Some(7),
            master_wait: Some(2),
            upgrade_wait: Some(2),
            ..TimingRequest::default()
        };
        // master_wait 2 ≤ tko_up 2 is raised to 3, so failover = 2·(7+3+4.5) = 29 s
        // (Red Hat's rule said 2·(7+3+2) = 24 s).
        assert!(Timing::resolve(request, secs(29), false).is_err());
        assert!(Timing::resolve(request, secs(30), false).is_ok());
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
        assert_eq!(t.master_failover(), ms(100 * (10 + 5 + 4) + 50));
    }

    #[test]
    fn the_watchdog_fires_before_the_write_deadline_with_a_cycle_to_spare() {
        // A 14 s token: interval 1 s, tko 6: write deadline 5 s, watchdog at most 3 s.
        let t = auto(14, 1, None).expect("ok");
        assert_eq!(t.tko, 6);
        assert_eq!(t.watchdog_timeout(None), Ok(secs(3)));
        assert_eq!(t.watchdog_timeout(Some(secs(1))), Ok(secs(1)));
        assert!(matches!(
            t.watchdog_timeout(Some(secs(4))),
            Err(TimingError::WatchdogTooSlow { max, .. }) if max == secs(3)
        ));
        // A 12 s token leaves tko 4, a 3 s write deadline: a 1 s watchdog.
        assert_eq!(
            auto(12, 1, None).expect("ok").watchdog_timeout(None),
            Ok(secs(1))
        );
        let t = auto(21, 1, None).expect("ok");
        assert_eq!(t.watchdog_timeout(None), Ok(secs(7)));
        // No whole second fits: the error says which tko would do (the lab's demo profile:
        // 350 ms, tko 5 refused, 6 works).
        let demo = |tko| Timing {
            interval: ms(350),
            tko,
            ..auto(14, 1, None).expect("ok")
        };
        let e = demo(5).watchdog_timeout(None).expect_err("too slow");
        assert!(
            e.to_string()
                .contains("no whole-second timeout fits (the watchdog API counts seconds): raise tko to at least 6"),
            "{e}"
        );
        assert_eq!(demo(6).watchdog_timeout(None), Ok(secs(1)));
        assert!(matches!(
            t.watchdog_timeout(Some(Duration::from_millis(1500))),
            Err(TimingError::WatchdogNotWholeSeconds { .. })
        ));
        // A sub-second extended-layout timing leaves no room for a 1 s watchdog.
        let fast = Timing::resolve(
            TimingRequest {
                interval: Some(Duration::from_millis(100)),
                tko: Some(10),
                ..TimingRequest::default()
            },
            secs(3),
            true,
        )
        .expect("ok");
        let e = fast.watchdog_timeout(None).expect_err("no room");
        assert!(e.to_string().contains("raise tko"), "{e}");
    }

    #[test]
    fn a_node_stops_writing_two_intervals_before_anyone_may_evict_it() {
        let t = auto(21, 1, None).expect("ok");
        assert_eq!(t.death_floor() - t.write_deadline(), 2 * t.interval);
    }
}
