//! Heuristics: programs whose success keeps this node eligible for the quorum-disk votes.
//!
//! [`Heuristics`] is a pure core like [`crate::cycle::QdiskCore`]: it says which program to
//! start and when ([`Heuristics::poll_run`], [`Heuristics::poll_timeout`]), takes results
//! ([`Heuristics::handle_result`]) and the passing of time ([`Heuristics::handle_timeout`]),
//! and reports the [`Score`]. The driver runs the programs (`/bin/sh -c`).
//!
//! Rules (RHCS `score.c`): a heuristic starts DOWN and is UP after its first success; a
//! failure is a miss, and `tko` consecutive misses make it DOWN again. A run still going
//! after the hard timeout (interval·(tko−1) of qdiskd, Red Hat's `maxtime`) makes it DOWN at
//! once; *ours:* the driver kills that run (Red Hat let it run and discarded its result).
//! Only one run of a heuristic is in flight at a time. The score is the sum of the UP
//! heuristics' scores; with no heuristics it is 1 of 1.

use std::time::Duration;

use crate::cycle::Score;
use crate::time::BootTime;

/// Most heuristics Red Hat's qdiskd accepts.
pub const MAX_HEURISTICS: usize = 10;

/// One heuristic as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeuristicSpec {
    /// Shell command line, run with `/bin/sh -c`.
    pub program: String,
    /// Points it adds while up.
    pub score: u32,
    /// Time between runs.
    pub interval: Duration,
    /// Consecutive failures before it is down.
    pub tko: u32,
    /// Hard limit for one run.
    pub timeout: Duration,
}

/// Red Hat's automatic heuristic interval for a hard timeout `absmax` (seconds):
/// ≤4 → 1, ≤22 → 2, ≤39 → 3, ≤50 → 4, else 5; tko = absmax / interval.
pub fn automatic_interval_and_tko(absmax: Duration) -> (Duration, u32) {
    let secs = absmax.as_secs_f64();
    let interval: f64 = match secs {
        s if s <= 4.0 => 1.0,
        s if s <= 22.0 => 2.0,
        s if s <= 39.0 => 3.0,
        s if s <= 50.0 => 4.0,
        _ => 5.0,
    };
    // Sub-second qdiskd intervals: keep the heuristic interval below the hard timeout.
    let interval = Duration::from_secs_f64(interval.min((secs / 2.0).max(0.05)));
    let tko = ((secs / interval.as_secs_f64()).floor() as u32).max(1);
    (interval, tko)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    up: bool,
    misses: u32,
    next_run: BootTime,
    running_since: Option<BootTime>,
    /// The current run already timed out: its result is ignored.
    timed_out: bool,
}

/// A change the driver should log or act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeuristicEvent {
    /// Heuristic `index` went up.
    Up(usize),
    /// Heuristic `index` went down after `misses` misses.
    Down {
        /// Which.
        index: usize,
        /// Consecutive misses.
        misses: u32,
    },
    /// Run of heuristic `index` exceeded its timeout: kill it.
    TimedOut(usize),
}

/// The state of every heuristic.
#[derive(Debug, Clone)]
pub struct Heuristics {
    specs: Vec<HeuristicSpec>,
    states: Vec<State>,
    events: Vec<HeuristicEvent>,
}

impl Heuristics {
    /// All heuristics down, each due to run at `now`.
    pub fn new(specs: Vec<HeuristicSpec>, now: BootTime) -> Self {
        let states = specs
            .iter()
            .map(|_| State {
                up: false,
                misses: 0,
                next_run: now,
                running_since: None,
                timed_out: false,
            })
            .collect();
        Self {
            specs,
            states,
            events: Vec::new(),
        }
    }

    /// The configured heuristics.
    pub fn specs(&self) -> &[HeuristicSpec] {
        &self.specs
    }

    /// Whether heuristic `index` is up.
    pub fn is_up(&self, index: usize) -> bool {
        self.states.get(index).is_some_and(|s| s.up)
    }

    /// The current score.
    pub fn score(&self) -> Score {
        if self.specs.is_empty() {
            return Score::NO_HEURISTICS;
        }
        let max = self.specs.iter().map(|s| s.score).sum();
        let score = self
            .specs
            .iter()
            .zip(&self.states)
            .filter(|(_, st)| st.up)
            .map(|(sp, _)| sp.score)
            .sum();
        Score { score, max }
    }

    /// A heuristic to start now, if one is due and not already running. Call until `None`.
    pub fn poll_run(&mut self, now: BootTime) -> Option<usize> {
        let index = self
            .states
            .iter()
            .position(|s| s.running_since.is_none() && s.next_run <= now)?;
        let state = &mut self.states[index];
        state.running_since = Some(now);
        state.timed_out = false;
        state.next_run = now + self.specs[index].interval;
        Some(index)
    }

    /// The next moment something is due: a run, or a running one's timeout.
    pub fn poll_timeout(&self) -> Option<BootTime> {
        self.states
            .iter()
            .zip(&self.specs)
            .map(|(s, spec)| match s.running_since {
                Some(since) if !s.timed_out => since + spec.timeout,
                Some(_) => BootTime(Duration::MAX),
                None => s.next_run,
            })
            .min()
    }

    /// Marks runs past their timeout as failed-and-down.
    pub fn handle_timeout(&mut self, now: BootTime) {
        for (index, (state, spec)) in self.states.iter_mut().zip(&self.specs).enumerate() {
            if let Some(since) = state.running_since {
                if !state.timed_out && now.since(since) >= spec.timeout {
                    state.timed_out = true;
                    state.misses = state.misses.saturating_add(1);
                    self.events.push(HeuristicEvent::TimedOut(index));
                    if state.up {
                        state.up = false;
                        self.events.push(HeuristicEvent::Down {
                            index,
                            misses: state.misses,
                        });
                    }
                }
            }
        }
    }

    /// A run of heuristic `index` ended (`success`: exit status 0).
    pub fn handle_result(&mut self, index: usize, now: BootTime, success: bool) {
        let Some(state) = self.states.get_mut(index) else {
            return;
        };
        let spec = &self.specs[index];
        let timed_out = state.timed_out;
        state.running_since = None;
        state.timed_out = false;
        if state.next_run < now {
            state.next_run = now;
        }
        if timed_out {
            return;
        }
        if success {
            state.misses = 0;
            if !state.up {
                state.up = true;
                self.events.push(HeuristicEvent::Up(index));
            }
        } else {
            state.misses = state.misses.saturating_add(1);
            if state.up && state.misses >= spec.tko {
                state.up = false;
                self.events.push(HeuristicEvent::Down {
                    index,
                    misses: state.misses,
                });
            }
        }
    }

    /// Changes since the last call.
    pub fn take_events(&mut self) -> Vec<HeuristicEvent> {
        std::mem::take(&mut self.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> BootTime {
        BootTime(Duration::from_millis(ms))
    }

    fn spec(score: u32) -> HeuristicSpec {
        HeuristicSpec {
            program: "true".into(),
            score,
            interval: Duration::from_secs(2),
            tko: 3,
            timeout: Duration::from_secs(9),
        }
    }

    #[test]
    fn heuristics_start_down_and_come_up_on_first_success() {
        let mut h = Heuristics::new(vec![spec(1), spec(2)], at(0));
        assert_eq!(h.score(), Score { score: 0, max: 3 });
        assert_eq!(h.poll_run(at(0)), Some(0));
        assert_eq!(h.poll_run(at(0)), Some(1));
        assert_eq!(h.poll_run(at(0)), None, "one run at a time");
        h.handle_result(1, at(100), true);
        assert_eq!(h.score(), Score { score: 2, max: 3 });
        assert_eq!(h.take_events(), vec![HeuristicEvent::Up(1)]);
        assert_eq!(h.poll_run(at(100)), None, "next run after its interval");
        assert_eq!(h.poll_run(at(2000)), Some(1));
    }

    #[test]
    fn tko_failures_take_a_heuristic_down() {
        let mut h = Heuristics::new(vec![spec(1)], at(0));
        let mut t = 0;
        let mut run = |h: &mut Heuristics, ok: bool| {
            let i = h.poll_run(at(t)).expect("due");
            h.handle_result(i, at(t + 10), ok);
            t += 2000;
        };
        run(&mut h, true);
        run(&mut h, false);
        run(&mut h, false);
        assert!(h.is_up(0), "two misses of three");
        run(&mut h, false);
        assert!(!h.is_up(0));
        assert_eq!(h.score().score, 0);
    }

    #[test]
    fn a_run_past_its_timeout_is_down_at_once_and_its_late_result_ignored() {
        let mut h = Heuristics::new(vec![spec(1)], at(0));
        let i = h.poll_run(at(0)).expect("due");
        h.handle_result(i, at(10), true);
        let i = h.poll_run(at(2000)).expect("due");
        assert_eq!(h.poll_timeout(), Some(at(11_000)));
        h.handle_timeout(at(11_000));
        assert!(!h.is_up(0));
        let events = h.take_events();
        assert!(events.contains(&HeuristicEvent::TimedOut(0)));
        h.handle_result(i, at(12_000), true);
        assert!(!h.is_up(0), "the late success does not count");
    }

    #[test]
    fn no_heuristics_score_one_of_one() {
        assert_eq!(
            Heuristics::new(Vec::new(), at(0)).score(),
            Score::NO_HEURISTICS
        );
    }

    #[test]
    fn automatic_timing_follows_red_hat() {
        let s = Duration::from_secs;
        assert_eq!(automatic_interval_and_tko(s(9)), (s(2), 4));
        assert_eq!(automatic_interval_and_tko(s(4)), (s(1), 4));
        assert_eq!(automatic_interval_and_tko(s(45)), (s(4), 11));
    }
}
