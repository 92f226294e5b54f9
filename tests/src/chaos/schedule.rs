//! Random fault schedules, drawn from a seed: the same seed gives the same cluster and the
//! same faults at the same moments, so a violation can be replayed.
//!
//! Every fault is lifted by its pair (a crash by a power cycle, a cut by a heal, a stall by
//! a disk heal, ...) after 3–15 s; at most two faults are active at once. After the last
//! fault, the campaign lifts whatever the cluster did to itself (see
//! [`crate::chaos::run`]).

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::playground::fault::{CutNet, Fault};
use crate::playground::Options;

/// One step: at `at` (from the end of the warm-up), do `fault`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// When, from the start of the fault phase.
    pub at: Duration,
    /// What.
    pub fault: Fault,
}

/// A whole schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The seed it was drawn from.
    pub seed: u64,
    /// The cluster to run it against.
    pub options: Options,
    /// Length of the fault phase.
    pub duration: Duration,
    /// The steps, in time order.
    pub steps: Vec<Step>,
}

/// What the campaign may vary; `None` means drawn from the seed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Constraints {
    /// Cluster size (2, 3 or 5 when drawn).
    pub nodes: Option<usize>,
    /// `ipmi`, `fabric` or (with the quorum disk) `poison` when drawn.
    pub fencing: Option<String>,
    /// With or without the quorum disk.
    pub qdisk: Option<bool>,
    /// `fast` or `demo` when drawn.
    pub timing: Option<String>,
    /// Length of the fault phase (30–120 s when drawn).
    pub duration: Option<Duration>,
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn web(i: usize) -> String {
    format!("web{i}")
}

/// A fault and the fault that lifts it. `slow_rng` decides, for a BMC fault, whether the
/// BMC stops answering or answers late (a stream of its own, added later, so the other
/// draws of every seed stay as they were).
fn draw_fault(rng: &mut StdRng, slow_rng: &mut StdRng, options: &Options) -> (Fault, Fault) {
    let n = options.nodes;
    let node = web(rng.random_range(1..=n));
    let ours = options.stack == "ours";
    let mut kinds: Vec<(&str, u32)> = vec![
        ("crash", 3),
        ("power-off", 2),
        ("pause", 3),
        ("kill-daemon", 3),
        ("pause-daemon", 2),
        ("cut", 3),
        ("cut-mgmt", 1),
        ("cut-all", 1),
        ("one-way", 2),
        ("partition", 3),
        ("loss", 2),
        ("bmc-down", 1),
    ];
    if ours && (options.qdisk || options.writer) {
        kinds.push(("disk-fail", 2));
        kinds.push(("disk-stall", 2));
    }
    let total: u32 = kinds.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    let kind = kinds
        .iter()
        .find(|(_, w)| {
            if x < *w {
                true
            } else {
                x -= w;
                false
            }
        })
        .map_or("crash", |(k, _)| *k);
    let one = vec![node.clone()];
    match kind {
        "crash" => (
            Fault::Crash(one.clone()),
            // The machine is reset: power off, then on.
            Fault::PowerOn(one),
        ),
        "power-off" => (Fault::PowerOff(one.clone()), Fault::PowerOn(one)),
        "pause" => (Fault::Pause(one.clone()), Fault::Resume(one)),
        "kill-daemon" | "pause-daemon" => {
            let daemons: &[&str] = match (ours, options.qdisk) {
                (true, true) => &["hbd", "fenced", "qdiskd"],
                (true, false) => &["hbd", "fenced"],
                (false, _) => &["heartbeat"],
            };
            let daemon = pick(rng, daemons).to_string();
            if kind == "kill-daemon" {
                (
                    Fault::KillDaemon(daemon.clone(), one.clone()),
                    Fault::RestartDaemon(daemon, one),
                )
            } else {
                (
                    Fault::PauseDaemon(daemon.clone(), one.clone()),
                    Fault::ResumeDaemon(daemon, one),
                )
            }
        }
        "cut" => (Fault::Cut(CutNet::Heartbeat, one.clone()), Fault::Heal(one)),
        "cut-mgmt" => (Fault::Cut(CutNet::Mgmt, one.clone()), Fault::Heal(one)),
        "cut-all" => (Fault::Cut(CutNet::All, one.clone()), Fault::Heal(one)),
        "one-way" => {
            let mut other = web(rng.random_range(1..=n));
            while other == node {
                other = web(rng.random_range(1..=n));
            }
            (
                Fault::CutOneWay {
                    from: node.clone(),
                    to: other.clone(),
                },
                Fault::Heal(vec![node, other]),
            )
        }
        "partition" => {
            // A random split into two non-empty groups.
            let mut a = Vec::new();
            let mut b = Vec::new();
            for i in 1..=n {
                if rng.random_bool(0.5) {
                    a.push(web(i));
                } else {
                    b.push(web(i));
                }
            }
            if a.is_empty() {
                a.push(b.remove(0));
            }
            if b.is_empty() {
                b.push(a.remove(0));
            }
            (Fault::Partition(vec![a, b]), Fault::Heal(Vec::new()))
        }
        "loss" => {
            let p = *pick(rng, &[20u8, 40, 60, 80]);
            (Fault::Loss(p, one.clone()), Fault::Loss(0, one))
        }
        "bmc-down" if slow_rng.random_bool(0.5) => (Fault::BmcSlow(one.clone()), Fault::BmcUp(one)),
        "bmc-down" => (Fault::BmcDown(one.clone()), Fault::BmcUp(one)),
        "disk-fail" => (Fault::DiskFail(one.clone()), Fault::DiskHeal(one)),
        _ => (Fault::DiskStall(one.clone()), Fault::DiskHeal(one)),
    }
}

/// Seeds the stream that draws poison-pill fencing.
const POISON_STREAM: u64 = 0x706f_6973_6f6e;

/// Seeds the stream that draws slow BMCs among the BMC faults.
const SLOW_BMC_STREAM: u64 = 0x0073_6c6f_7762_6d63;

/// Draws the schedule of `seed` within `constraints`.
pub fn draw(seed: u64, constraints: &Constraints) -> Schedule {
    let mut rng = StdRng::seed_from_u64(seed);
    let nodes = constraints
        .nodes
        .unwrap_or_else(|| *pick(&mut rng, &[2, 2, 3, 3, 5]));
    let fencing = constraints
        .fencing
        .clone()
        .unwrap_or_else(|| pick(&mut rng, &["ipmi", "fabric"]).to_string());
    let mut qdisk = constraints.qdisk.unwrap_or_else(|| rng.random_bool(0.6));
    // Poison-pill fencing came later: it is drawn from a stream of its own (a third of the
    // drawn clusters with the quorum disk), so every other seed keeps the schedule it had.
    let poison = constraints.fencing.is_none()
        && qdisk
        && StdRng::seed_from_u64(seed ^ POISON_STREAM).random_bool(1.0 / 3.0);
    let fencing = if poison {
        "poison".to_string()
    } else {
        fencing
    };
    if fencing == "poison" {
        qdisk = true;
    }
    let timing = constraints
        .timing
        .clone()
        .unwrap_or_else(|| pick(&mut rng, &["fast", "demo"]).to_string());
    // The nodes' watchdogs count whole seconds: poison-pill fencing needs demo timing.
    let timing = if fencing == "poison" && constraints.timing.is_none() {
        "demo".to_string()
    } else {
        timing
    };
    let duration = constraints
        .duration
        .unwrap_or_else(|| Duration::from_secs(rng.random_range(30..=120)));
    let options = Options {
        nodes,
        stack: "ours".into(),
        qdisk,
        fencing,
        timing,
        auto_failback: pick(&mut rng, &["on", "off"]).to_string(),
        prefer: web(rng.random_range(1..=nodes)),
        writer: true,
    };
    let mut slow_rng = StdRng::seed_from_u64(seed ^ SLOW_BMC_STREAM);
    let mut steps = Vec::new();
    // Lifts pending: (when, fault).
    let mut pending: Vec<(Duration, Fault)> = Vec::new();
    let mut t = Duration::from_millis(rng.random_range(500..3000));
    while t < duration {
        pending.sort_by_key(|(at, _)| *at);
        // Lift what is due before now.
        while let Some((at, _)) = pending.first() {
            if *at > t {
                break;
            }
            let (at, lift) = pending.remove(0);
            steps.push(Step { at, fault: lift });
        }
        if pending.len() < 2 {
            let (fault, lift) = draw_fault(&mut rng, &mut slow_rng, &options);
            let hold = Duration::from_millis(rng.random_range(3_000..15_000));
            let lift_at = (t + hold).min(duration);
            steps.push(Step { at: t, fault });
            pending.push((lift_at, lift));
        }
        t += Duration::from_millis(rng.random_range(2_000..10_000));
    }
    pending.sort_by_key(|(at, _)| *at);
    for (at, lift) in pending {
        steps.push(Step {
            at: at.min(duration),
            fault: lift,
        });
    }
    steps.sort_by_key(|s| s.at);
    Schedule {
        seed,
        options,
        duration,
        steps,
    }
}

impl Schedule {
    /// The schedule as lines `+12.345 s  lab cluster fault ...`, to read or replay.
    pub fn render(&self) -> String {
        let o = &self.options;
        let mut s = format!(
            "# seed {}: lab cluster up --nodes {} --stack {} --{} --fencing {} --timing {} \
             --auto-failback {} --prefer {}\n",
            self.seed,
            o.nodes,
            o.stack,
            if o.qdisk { "qdisk" } else { "no-qdisk" },
            o.fencing,
            o.timing,
            o.auto_failback,
            o.prefer
        );
        for step in &self.steps {
            s.push_str(&format!(
                "+{:>7.3} s  lab cluster fault {}\n",
                step.at.as_secs_f64(),
                step.fault
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_schedule_and_seeds_differ() {
        let c = Constraints::default();
        assert_eq!(draw(7, &c), draw(7, &c));
        assert_ne!(draw(7, &c).steps, draw(8, &c).steps);
    }

    #[test]
    fn every_fault_is_lifted_and_at_most_two_are_active() {
        for seed in 0..300 {
            let s = draw(seed, &Constraints::default());
            assert!((30..=120).contains(&s.duration.as_secs()), "seed {seed}");
            assert!(!s.steps.is_empty(), "seed {seed}");
            let mut active: Vec<Fault> = Vec::new();
            for step in &s.steps {
                assert!(step.at <= s.duration, "seed {seed}: {step:?}");
                let lifts = matches!(
                    step.fault,
                    Fault::PowerOn(_)
                        | Fault::Resume(_)
                        | Fault::RestartDaemon(..)
                        | Fault::ResumeDaemon(..)
                        | Fault::Heal(_)
                        | Fault::Loss(0, _)
                        | Fault::BmcUp(_)
                        | Fault::DiskHeal(_)
                );
                if lifts {
                    assert!(
                        !active.is_empty(),
                        "seed {seed}: a lift with nothing active"
                    );
                    active.remove(0);
                } else {
                    active.push(step.fault.clone());
                    assert!(active.len() <= 2, "seed {seed}: {active:?}");
                }
                for node in step.fault.nodes() {
                    let i: usize = node
                        .strip_prefix("web")
                        .and_then(|n| n.parse().ok())
                        .expect("a web node");
                    assert!((1..=s.options.nodes).contains(&i), "seed {seed}: {node}");
                }
            }
            assert!(active.is_empty(), "seed {seed}: never lifted: {active:?}");
        }
    }

    #[test]
    fn constraints_are_kept_and_every_kind_appears_over_many_seeds() {
        let c = Constraints {
            nodes: Some(3),
            fencing: Some("fabric".into()),
            qdisk: Some(true),
            timing: Some("fast".into()),
            duration: Some(Duration::from_secs(40)),
        };
        let mut kinds = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let s = draw(seed, &c);
            assert_eq!(s.options.nodes, 3);
            assert_eq!(s.options.fencing, "fabric");
            assert!(s.options.qdisk);
            assert_eq!(s.duration, Duration::from_secs(40));
            for step in &s.steps {
                kinds.insert(step.fault.kind());
            }
        }
        for kind in [
            "crash",
            "power-off",
            "power-on",
            "pause",
            "resume",
            "kill-daemon",
            "restart-daemon",
            "pause-daemon",
            "resume-daemon",
            "cut",
            "heal",
            "partition",
            "loss",
            "disk-fail",
            "disk-stall",
            "disk-heal",
            "bmc-down",
            "bmc-slow",
            "bmc-up",
        ] {
            assert!(kinds.contains(kind), "{kind} never drawn");
        }
        let rendered = draw(3, &c).render();
        assert!(
            rendered.starts_with("# seed 3: lab cluster up --nodes 3"),
            "{rendered}"
        );
        assert!(rendered.contains("lab cluster fault "), "{rendered}");
    }
}
