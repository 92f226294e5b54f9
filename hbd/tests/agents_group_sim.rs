//! Group start/stop sequencing over simulated resources with random behaviour.
//!
//! Each simulated resource has a true state (running or not) and a random character: starts
//! that fail (leaving it running or not), stops that fail a few times, stops that always fail
//! while it keeps running, non-LSB stops that fail although it is stopped, hung agents, and
//! status calls that time out. After every group operation the checker compares the report
//! with the true states. `SIM_SEEDS=N` sets the number of schedules (default 2000),
//! `SIM_SEED=S` replays one.

use std::time::Duration;

use hbd::agents::group::{monitor_group, start_group, stop_group, Executor, Held, StopPolicy};
use hbd::agents::{GroupOutcome, Op, Outcome};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone)]
struct SimResource {
    running: bool,
    /// Start fails; if `start_leaves_running`, the resource runs anyway.
    start_fails: bool,
    start_leaves_running: bool,
    /// Stop fails this many times before it works (u32::MAX: never works).
    stop_failures: u32,
    /// Stop fails but does stop it (non-LSB script).
    stop_fails_but_stops: bool,
    /// Stop hangs until killed; the resource keeps running.
    stop_hangs: bool,
    /// Status times out.
    status_hangs: bool,
    starts: u32,
    stops: u32,
}

struct Sim {
    rs: Vec<SimResource>,
    clock: Duration,
    calls: Vec<(usize, Op)>,
}

fn fail() -> Outcome {
    Outcome::Failed {
        code: 1,
        stderr: "simulated".into(),
    }
}

impl Executor for Sim {
    fn execute(&mut self, index: usize, op: Op) -> Outcome {
        self.calls.push((index, op));
        self.clock += Duration::from_millis(10);
        let r = &mut self.rs[index];
        match op {
            Op::Status if r.status_hangs => Outcome::TimedOut {
                after: Duration::from_secs(20),
            },
            Op::Status if r.running => Outcome::Running,
            Op::Status => Outcome::Stopped,
            Op::Start => {
                r.starts += 1;
                if r.start_fails {
                    r.running = r.start_leaves_running;
                    fail()
                } else {
                    r.running = true;
                    Outcome::Running
                }
            }
            Op::Stop => {
                r.stops += 1;
                if r.stop_hangs {
                    return Outcome::TimedOut {
                        after: Duration::from_secs(60),
                    };
                }
                if r.stop_fails_but_stops {
                    r.running = false;
                    return fail();
                }
                if r.stop_failures > 0 {
                    r.stop_failures = r.stop_failures.saturating_sub(1);
                    return fail();
                }
                r.running = false;
                Outcome::Stopped
            }
        }
    }

    fn pause(&mut self, d: Duration) {
        self.clock += d;
    }
}

fn random_resource(rng: &mut ChaCha8Rng) -> SimResource {
    let odd = |rng: &mut ChaCha8Rng, p: f64| rng.random_bool(p);
    SimResource {
        running: odd(rng, 0.2),
        start_fails: odd(rng, 0.1),
        start_leaves_running: odd(rng, 0.5),
        stop_failures: match rng.random_range(0..10) {
            0 => u32::MAX,
            1..=2 => rng.random_range(1..15),
            _ => 0,
        },
        stop_fails_but_stops: odd(rng, 0.05),
        stop_hangs: odd(rng, 0.03),
        status_hangs: odd(rng, 0.03),
        starts: 0,
        stops: 0,
    }
}

fn seeds() -> Vec<u64> {
    plumbing::seeds::seeds(2000)
}

const POLICY: StopPolicy = StopPolicy {
    retries: 10,
    interval: Duration::from_secs(1),
};

fn check_stop_bounds(sim: &Sim, seed: u64) {
    for (i, r) in sim.rs.iter().enumerate() {
        assert!(
            r.stops <= 2 * (POLICY.retries + 1),
            "seed {seed}: resource {i} stopped {} times",
            r.stops
        );
    }
}

/// Safety of a stop: Stopped means nothing runs; StopFailed names a resource and nothing
/// right of it runs.
fn check_stopped_claim(sim: &Sim, outcome: &GroupOutcome, seed: u64) {
    match outcome {
        GroupOutcome::Stopped | GroupOutcome::StartFailed { .. } => {
            for (i, r) in sim.rs.iter().enumerate() {
                assert!(
                    !r.running,
                    "seed {seed}: reported {outcome:?} but resource {i} runs: {:?}",
                    sim.rs
                );
            }
        }
        GroupOutcome::StopFailed { index, .. } => {
            for (i, r) in sim.rs.iter().enumerate().skip(index + 1) {
                let stopped_by_us = sim.calls.contains(&(i, Op::Stop));
                assert!(
                    !r.running || !stopped_by_us,
                    "seed {seed}: resource {i} right of the failed {index} still runs"
                );
            }
        }
        GroupOutcome::Started { .. } => {}
    }
}

#[test]
fn random_resource_behaviour_never_yields_a_false_stopped_or_started() {
    let (mut started, mut start_failed, mut stopped, mut fenced) = (0, 0, 0, 0);
    for seed in seeds() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let len = rng.random_range(1..6);
        let rs: Vec<SimResource> = (0..len).map(|_| random_resource(&mut rng)).collect();
        let mut sim = Sim {
            rs,
            clock: Duration::ZERO,
            calls: vec![],
        };
        let report = start_group(&mut sim, len, POLICY);
        assert!(sim.calls.iter().all(|(i, _)| *i < len));
        match &report.outcome {
            GroupOutcome::Started { skipped } => {
                started += 1;
                assert!(
                    sim.rs.iter().all(|r| r.running),
                    "seed {seed}: Started but not all run: {:?}",
                    sim.rs
                );
                for &i in skipped {
                    assert_eq!(sim.rs[i].starts, 0, "seed {seed}: skipped {i} was started");
                }
            }
            GroupOutcome::StartFailed { index, .. } => {
                start_failed += 1;
                assert!(sim.rs[*index].start_fails, "seed {seed}");
                for r in &sim.rs[index + 1..] {
                    assert_eq!(r.starts, 0, "seed {seed}: started past the failure");
                }
                // The whole group was given up, right to left.
                let stops: Vec<usize> = report
                    .steps
                    .iter()
                    .filter(|s| s.op == Op::Stop)
                    .map(|s| s.index)
                    .collect();
                assert_eq!(stops.first(), Some(&(len - 1)), "seed {seed}");
            }
            GroupOutcome::StopFailed { .. } => fenced += 1,
            GroupOutcome::Stopped => panic!("seed {seed}: start reported Stopped"),
        }
        check_stopped_claim(&sim, &report.outcome, seed);
        if report.outcome.needs_fencing() {
            check_stop_bounds(&sim, seed);
            continue;
        }

        sim.calls.clear();
        let before = sim.clock;
        let report = stop_group(&mut sim, len, POLICY);
        match &report.outcome {
            GroupOutcome::Stopped => stopped += 1,
            GroupOutcome::StopFailed { index, outcome, .. } => {
                fenced += 1;
                assert!(!outcome.is_success_of(Op::Stop), "seed {seed}");
                assert!(*index < len);
            }
            other => panic!("seed {seed}: stop reported {other:?}"),
        }
        check_stopped_claim(&sim, &report.outcome, seed);
        check_stop_bounds(&sim, seed);
        // Right to left: the first stop is the last resource.
        assert_eq!(sim.calls.first(), Some(&(len - 1, Op::Stop)), "seed {seed}");
        let paused = sim.clock - before;
        assert!(
            paused
                <= (POLICY.interval + Duration::from_millis(10))
                    * (POLICY.retries + 2)
                    * len as u32,
            "seed {seed}: paused {paused:?}"
        );

        let status = monitor_group(&mut sim, len);
        if report.outcome == GroupOutcome::Stopped {
            assert!(
                matches!(status.held(), Held::None | Held::Some),
                "seed {seed}: {status:?}"
            );
            assert!(status.resources.iter().all(|o| *o != Outcome::Running));
        }
    }
    eprintln!("started {started}, start failed {start_failed}, stopped {stopped}, fence {fenced}");
    assert!(started > 0 && start_failed > 0 && stopped > 0 && fenced > 0);
}

#[test]
fn failed_start_rolls_back_right_to_left_and_skips_running_resources() {
    let ok = SimResource {
        running: false,
        start_fails: false,
        start_leaves_running: false,
        stop_failures: 0,
        stop_fails_but_stops: false,
        stop_hangs: false,
        status_hangs: false,
        starts: 0,
        stops: 0,
    };
    let mut rs = vec![ok.clone(), ok.clone(), ok.clone(), ok];
    rs[1].running = true;
    rs[2].start_fails = true;
    rs[2].start_leaves_running = true;
    let mut sim = Sim {
        rs,
        clock: Duration::ZERO,
        calls: vec![],
    };
    let report = start_group(&mut sim, 4, POLICY);
    assert_eq!(
        report.outcome,
        GroupOutcome::StartFailed {
            index: 2,
            outcome: fail()
        }
    );
    use Op::*;
    assert_eq!(
        sim.calls,
        vec![
            (0, Status),
            (0, Start),
            (1, Status),
            (2, Status),
            (2, Start),
            (3, Stop),
            (2, Stop),
            (1, Stop),
            (0, Stop)
        ]
    );
    assert!(sim.rs.iter().all(|r| !r.running));
}

#[test]
fn stop_retries_like_heartbeat_then_escalates_when_status_says_running() {
    let r = SimResource {
        running: true,
        start_fails: false,
        start_leaves_running: false,
        stop_failures: u32::MAX,
        stop_fails_but_stops: false,
        stop_hangs: false,
        status_hangs: false,
        starts: 0,
        stops: 0,
    };
    let mut fine = r.clone();
    fine.stop_failures = 0;
    let mut sim = Sim {
        rs: vec![fine, r],
        clock: Duration::ZERO,
        calls: vec![],
    };
    let report = stop_group(&mut sim, 2, POLICY);
    assert!(report.outcome.needs_fencing(), "{report:?}");
    assert!(matches!(
        report.outcome,
        GroupOutcome::StopFailed { index: 1, .. }
    ));
    assert_eq!(sim.rs[1].stops, 11, "1 attempt + HA_STOPRETRYMAX 10");
    assert_eq!(
        sim.clock,
        Duration::from_secs(10) + Duration::from_millis(10 * 12)
    );
    assert!(
        sim.rs[0].running,
        "left of the failure is left alone for fencing"
    );

    // A non-LSB script: stop fails, status says stopped: only a warning.
    sim.rs[1].stop_failures = 0;
    sim.rs[1].stop_fails_but_stops = true;
    sim.rs[1].stops = 0;
    sim.clock = Duration::ZERO;
    let report = stop_group(&mut sim, 2, POLICY);
    assert_eq!(report.outcome, GroupOutcome::Stopped);

    // A hung stop is not retried.
    sim.rs[1].running = true;
    sim.rs[1].stop_hangs = true;
    sim.rs[1].stops = 0;
    let report = stop_group(&mut sim, 2, POLICY);
    assert!(report.outcome.needs_fencing());
    assert_eq!(sim.rs[1].stops, 1);
}
