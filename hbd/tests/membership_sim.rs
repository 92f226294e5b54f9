//! The membership core under simulated time: targeted scenarios, then thousands of random
//! schedules with crashes, restarts, pauses, link cuts, partitions, loss, duplication,
//! reordering and replays.
//!
//! `SIM_SEEDS=N` sets how many random schedules run (default 2000); `SIM_SEED=S` replays one.

mod seeds;
mod sim;

use std::time::Duration;

use hbd::membership::{DeadReason, Event, NodeStatus};
use sim::{Fault, Sim, Timing};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn cluster(seed: u64, n: usize, links: u16) -> Sim {
    let mut sim = Sim::new(seed, n, links, Timing::default());
    for i in 0..n {
        sim.start(i);
    }
    sim
}

fn dead_at(sim: &Sim, observer: usize, node: usize) -> Option<Duration> {
    let name = sim.nodes[node].name.clone();
    sim.first_event(|i, e| {
        i == observer && matches!(e, Event::NodeDead { node: n, .. } if *n == name)
    })
    .map(|t| t.0)
}

#[test]
fn a_quiet_cluster_comes_up_and_delivers_everything() {
    let mut sim = cluster(1, 4, 2);
    sim.run_until(secs(20));
    sim.check_end(secs(5));
    sim.assert_ok();
    for i in 0..4 {
        for x in 0..4 {
            if i != x {
                assert_eq!(sim.sees(i, x), Some(NodeStatus::Active));
            }
        }
    }
    assert!(
        sim.delivered.len() > 100,
        "{} deliveries",
        sim.delivered.len()
    );
    assert!(sim
        .first_event(|_, e| matches!(e, Event::NodeDead { .. }))
        .is_none());
}

#[test]
fn a_crashed_node_is_declared_dead_by_every_survivor_after_deadtime() {
    let t = Timing::default();
    let mut sim = cluster(2, 3, 2);
    sim.schedule(secs(10), 2, Fault::Crash);
    sim.run_until(secs(20));
    sim.assert_ok();
    for survivor in 0..2 {
        let at = dead_at(&sim, survivor, 2).expect("declared dead");
        let latency = at - secs(10);
        // The last status went out at most one keepalive before the crash.
        assert!(latency <= t.deadtime + ms(25), "{latency:?}");
        assert!(latency >= t.deadtime - t.keepalive, "{latency:?}");
    }
}

#[test]
fn a_cut_on_one_medium_only_kills_that_link() {
    let mut sim = cluster(3, 2, 2);
    sim.schedule(secs(8), 1, Fault::CutLink(0, secs(10)));
    sim.run_until(secs(25));
    sim.check_end(secs(5));
    sim.assert_ok();
    let name = sim.nodes[1].name.clone();
    assert!(sim
        .first_event(|i, e| i == 0
            && matches!(e, Event::LinkDead { node, link } if *node == name && link.0 == 0))
        .is_some());
    assert!(dead_at(&sim, 0, 1).is_none());
    let up_again = sim.first_event(|i, e| {
        i == 0 && matches!(e, Event::LinkUp { node, link } if *node == name && link.0 == 0)
    });
    assert!(up_again.is_some());
}

#[test]
fn a_partition_heals_with_returning_after_partition() {
    let mut sim = cluster(4, 2, 2);
    sim.schedule(secs(8), 1, Fault::Isolate(secs(5)));
    sim.run_until(secs(25));
    sim.assert_ok();
    assert!(dead_at(&sim, 0, 1).is_some());
    assert!(dead_at(&sim, 1, 0).is_some());
    assert!(sim
        .first_event(|i, e| i == 0 && matches!(e, Event::ReturningAfterPartition { .. }))
        .is_some());
    assert_eq!(sim.sees(0, 1), Some(NodeStatus::Active));
    assert_eq!(sim.sees(1, 0), Some(NodeStatus::Active));
}

#[test]
fn a_graceful_leave_is_seen_at_once() {
    let mut sim = cluster(5, 3, 1);
    sim.schedule(secs(8), 0, Fault::Leave);
    sim.run_until(secs(9));
    sim.assert_ok();
    let name = sim.nodes[0].name.clone();
    for i in 1..3 {
        let at = sim
            .first_event(|who, e| {
                who == i
                    && matches!(e, Event::NodeDead { node, reason: DeadReason::Left } if *node == name)
            })
            .expect("left");
        assert!(at.0 - secs(8) < ms(25), "{at:?}");
    }
}

#[test]
fn a_restart_is_a_new_generation_and_old_packets_are_rejected() {
    let mut sim = cluster(6, 2, 2);
    sim.schedule(secs(8), 1, Fault::Crash);
    sim.schedule(secs(9), 1, Fault::Restart);
    for k in 0..10 {
        sim.schedule(secs(12) + ms(100 * k), 0, Fault::Replay);
    }
    sim.run_until(secs(20));
    sim.check_end(secs(5));
    sim.assert_ok();
    assert!(sim
        .first_event(|i, e| i == 0 && matches!(e, Event::HeartbeatRestart { .. }))
        .is_some());
    assert_eq!(sim.sees(0, 1), Some(NodeStatus::Active));
}

#[test]
fn loss_on_every_medium_is_repaired_by_retransmission() {
    let mut sim = cluster(7, 3, 2);
    sim.schedule(secs(6), 0, Fault::Lossy(0, 0.3, secs(20)));
    sim.schedule(secs(6), 0, Fault::Lossy(1, 0.3, secs(20)));
    sim.run_until(secs(35));
    sim.check_end(secs(5));
    sim.assert_ok();
    assert!(sim
        .first_event(|_, e| matches!(e, Event::PacketsLost { .. }))
        .is_some());
}

#[test]
fn a_short_pause_is_survived_and_a_long_one_is_not() {
    let mut sim = cluster(8, 2, 1);
    sim.schedule(secs(8), 1, Fault::Pause(ms(1000)));
    sim.schedule(secs(15), 1, Fault::Pause(secs(4)));
    sim.run_until(secs(25));
    sim.assert_ok();
    let d = dead_at(&sim, 0, 1).expect("dead after the long pause");
    assert!(d > secs(15), "{d:?}");
}

/// Runs the seeds `s` with `(s / 4) % SHARDS == shard` (the shards run in parallel; every
/// shard gets every cluster size).
fn random_schedules(shard: u64) {
    const SHARDS: u64 = 4;
    let all = seeds::seeds();
    let single = all.len() == 1;
    let (mut deaths, mut replays, mut old_replays, mut deliveries) = (0, 0, 0, 0);
    for seed in all
        .iter()
        .copied()
        .filter(|s| single || (s / 4) % SHARDS == shard)
    {
        if single && shard != 0 {
            return;
        }
        let n = 2 + (seed % 4) as usize;
        let links = 1 + (seed % 3) as u16;
        let mut sim = cluster(seed, n, links);
        sim.random_faults(secs(18), 1 + (seed % 6) as usize);
        sim.run_until(secs(30));
        sim.check_end(secs(5));
        sim.assert_ok();
        deaths += sim
            .events
            .iter()
            .filter(|(_, _, e)| matches!(e, Event::NodeDead { .. }))
            .count();
        replays += sim.replays.0;
        old_replays += sim.replays.1;
        deliveries += sim.delivered.len();
    }
    eprintln!(
        "shard {shard}: {deaths} deaths declared, {replays} replays ({old_replays} of older generations), {deliveries} deliveries"
    );
    if all.len() > 100 {
        assert!(
            deaths > 0 && old_replays > 0,
            "the schedules must actually hurt"
        );
    }
}

#[test]
fn random_schedules_keep_every_invariant_0() {
    random_schedules(0);
}

#[test]
fn random_schedules_keep_every_invariant_1() {
    random_schedules(1);
}

#[test]
fn random_schedules_keep_every_invariant_2() {
    random_schedules(2);
}

#[test]
fn random_schedules_keep_every_invariant_3() {
    random_schedules(3);
}
