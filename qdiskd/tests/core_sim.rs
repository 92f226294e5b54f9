//! The qdiskd core under simulated time: targeted scenarios, then thousands of random
//! schedules with crashes, pauses, restarts, I/O failures and stalls.
//!
//! `SIM_SEEDS=N` sets how many random schedules run (default 2000); `SIM_SEED=S` replays one.

mod sim;

use std::time::Duration;

use qdisk::cycle::{Event, Score};
use qdisk::format::NodeState;
use qdisk::geometry::Layout;
use qdisk::timing::{Timing, TimingRequest};
use qdisk::NodeId;
use sim::{Fault, Sim};

fn timing(layout: Layout) -> Timing {
    let request = TimingRequest {
        interval: Some(Duration::from_secs(1)),
        tko: Some(6),
        ..TimingRequest::default()
    };
    Timing::resolve(
        request,
        Duration::from_secs(14),
        matches!(layout, Layout::Extended { .. }),
    )
    .expect("valid timing")
}

const EXTENDED: Layout = Layout::Extended { max_nodes: 20 };

/// The automatic watchdog timeout for [`timing`]: (tko−1)·interval − 1.5·interval, whole
/// seconds.
const WATCHDOG: Duration = Duration::from_secs(3);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn cluster(seed: u64, n: u32, layout: Layout) -> Sim {
    let mut sim = Sim::new(seed, n, layout, timing(layout), false);
    for id in 1..=n {
        sim.start(id);
    }
    sim
}

#[test]
fn a_quiet_cluster_elects_the_lowest_node_and_everyone_holds_votes() {
    for layout in [Layout::Classic, EXTENDED] {
        let mut sim = cluster(1, 3, layout);
        sim.run_until(secs(30));
        sim.assert_safe();
        assert_eq!(sim.state(1), Some(NodeState::Master), "{layout:?}");
        assert_eq!(sim.state(2), Some(NodeState::Running));
        assert_eq!(sim.state(3), Some(NodeState::Running));
        assert!((1..=3).all(|id| sim.votes(id)), "all three hold the votes");
        // Master only after init (tko) + upgrade_wait + master_wait cycles, not before.
        let t = timing(layout);
        let became = sim
            .first_event(|n, e| n == NodeId(1) && *e == Event::MasterChanged(Some(NodeId(1))))
            .expect("node 1 became master");
        assert!(became >= t.interval * (t.tko + t.master_wait), "{became:?}");
        assert!(sim.nodes.iter().all(|n| n.fenced.is_empty()));
    }
}

#[test]
fn a_lone_node_becomes_master() {
    let mut sim = cluster(2, 1, EXTENDED);
    sim.run_until(secs(20));
    assert_eq!(sim.state(1), Some(NodeState::Master));
    assert!(sim.votes(1));
}

#[test]
fn a_killed_master_is_declared_dead_and_replaced() {
    let t = timing(EXTENDED);
    let mut sim = cluster(3, 3, EXTENDED);
    sim.schedule(secs(30), 1, Fault::Crash);
    sim.run_until(secs(60));
    sim.assert_safe();
    let down = sim
        .first_event(|n, e| n == NodeId(2) && *e == Event::NodeDown(NodeId(1)))
        .expect("node 2 declares node 1 dead");
    let detection = down - secs(30);
    // Dead after (tko+1)·interval without a change, plus at most one cycle.
    assert!(detection >= t.interval * (t.tko + 1), "{detection:?}");
    assert!(detection <= t.interval * (t.tko + 3), "{detection:?}");
    assert_eq!(sim.state(2), Some(NodeState::Master));
    assert_eq!(sim.state(3), Some(NodeState::Running));
    assert!(sim.votes(2) && sim.votes(3));
}

#[test]
fn a_node_paused_past_tko_is_evicted_and_fences_on_resume_without_writing() {
    let mut sim = cluster(4, 3, EXTENDED);
    sim.schedule(secs(30), 3, Fault::Pause(secs(15)));
    sim.run_until(secs(60));
    // The checker verifies that node 3 never wrote after the notice landed.
    sim.assert_safe();
    assert!(sim
        .first_event(|n, e| n == NodeId(1) && *e == Event::EvictionWritten(NodeId(3)))
        .is_some());
    let fenced = &sim.nodes[2].fenced;
    assert_eq!(fenced.len(), 1, "{fenced:?}");
    assert!(
        fenced[0].0 == secs(45),
        "fenced the moment it resumed: {fenced:?}"
    );
    assert!(
        fenced[0].1.contains("no status write completed"),
        "{fenced:?}"
    );
}

#[test]
fn a_short_pause_is_survived() {
    let t = timing(EXTENDED);
    let mut sim = cluster(5, 3, EXTENDED);
    sim.schedule(secs(30), 2, Fault::Pause(t.interval * (t.tko - 2)));
    sim.run_until(secs(60));
    sim.assert_safe();
    assert!(sim.nodes.iter().all(|n| n.fenced.is_empty()));
    assert!(sim
        .first_event(|_, e| matches!(e, Event::NodeDown(_)))
        .is_none());
}

#[test]
fn a_stuck_write_fences_at_the_deadline_while_the_write_hangs() {
    let t = timing(EXTENDED);
    let mut sim = cluster(6, 2, EXTENDED);
    sim.schedule(secs(30), 2, Fault::StallIo(secs(100)));
    sim.run_until(secs(60));
    sim.assert_safe();
    let (at, why) = &sim.nodes[1].fenced[0];
    assert!(why.contains("no status write completed"), "{why}");
    assert!(*at <= secs(30) + t.write_deadline() + t.interval, "{at:?}");
}

#[test]
fn failing_io_fences_before_the_peers_could_evict() {
    let mut sim = cluster(7, 3, EXTENDED);
    sim.schedule(secs(30), 3, Fault::FailIo(secs(100)));
    sim.run_until(secs(60));
    sim.assert_safe();
    assert_eq!(sim.nodes[2].fenced.len(), 1);
    assert!(sim
        .first_event(|n, e| n == NodeId(1) && *e == Event::NodeDown(NodeId(3)))
        .is_some());
}

#[test]
fn a_restarted_node_rejoins_with_a_new_incarnation() {
    let mut sim = cluster(8, 2, EXTENDED);
    sim.schedule(secs(30), 2, Fault::Crash);
    sim.schedule(secs(50), 2, Fault::Restart);
    sim.run_until(secs(90));
    sim.assert_safe();
    assert_eq!(sim.state(2), Some(NodeState::Running));
    assert!(sim.votes(2));
    let ups = sim
        .events
        .iter()
        .filter(|(_, n, e)| *n == NodeId(1) && *e == Event::NodeUp(NodeId(2)))
        .count();
    assert_eq!(ups, 2, "seen up before the crash and after the restart");
}

#[test]
fn losing_the_score_withdraws_the_votes_and_fences() {
    let mut sim = cluster(9, 2, EXTENDED);
    sim.run_until(secs(30));
    assert!(sim.votes(2));
    sim.set_score(2, Score { score: 0, max: 2 });
    sim.run_until(secs(40));
    sim.assert_safe();
    assert!(sim.nodes[1].fenced[0]
        .1
        .contains("score 0/2 is below the required 2"));
}

#[test]
fn with_master_wins_only_the_master_holds_votes() {
    let mut sim = Sim::new(10, 2, EXTENDED, timing(EXTENDED), true);
    sim.start(1);
    sim.start(2);
    sim.run_until(secs(30));
    assert!(sim.votes(1));
    assert!(!sim.votes(2));
}

#[test]
fn a_master_shutting_down_hands_over_without_waiting_for_tko() {
    let t = timing(EXTENDED);
    let mut sim = cluster(11, 3, EXTENDED);
    sim.run_until(secs(30));
    sim.shutdown(1);
    sim.run_until(secs(60));
    sim.assert_safe();
    assert!(sim.nodes[0].fenced[0].1.contains("Shutdown"));
    let left = sim
        .first_event(|n, e| n == NodeId(2) && *e == Event::NodeLeft(NodeId(1)))
        .expect("node 2 sees node 1 leave");
    let master = sim
        .first_event(|n, e| n == NodeId(2) && *e == Event::MasterChanged(Some(NodeId(2))))
        .expect("node 2 takes over");
    assert!(left - secs(30) <= t.interval * 3, "{left:?}");
    assert!(master - left <= t.interval * (t.upgrade_wait + t.master_wait + 3));
    assert!(sim
        .first_event(|_, e| matches!(e, Event::NodeDown(_)))
        .is_none());
}

#[test]
fn a_foreign_block_in_our_slot_fences_before_any_write() {
    use qdisk::cycle::{Action, CoreConfig, FenceReason, QdiskCore};
    use qdisk::disk::SlotRead;
    use qdisk::format::StatusBlock;
    use qdisk::time::BootTime;
    use qdisk::Incarnation;

    let cfg = CoreConfig {
        node: NodeId(2),
        layout: EXTENDED,
        timing: timing(EXTENDED),
        master_wins: false,
        min_score: None,
        fence_on_score_loss: true,
        io_timeout: false,
        paranoid: false,
        max_error_cycles: 0,
        watchdog: None,
    };
    let mut core = QdiskCore::new(cfg, Incarnation(7), BootTime::ZERO);
    while core.poll_action().is_some() {}
    core.handle_write_done(BootTime::ZERO, NodeId(2), true, BootTime::ZERO);
    core.handle_timeout(BootTime::ZERO);
    assert_eq!(core.poll_action(), Some(Action::ReadAll));
    let slots: Vec<SlotRead> = (1..=20)
        .map(|id| SlotRead {
            node: NodeId(id),
            block: Ok(if id == 2 {
                StatusBlock {
                    node: NodeId(2),
                    updated_by: 1,
                    state: NodeState::Evicted,
                    ..StatusBlock::default()
                }
            } else {
                StatusBlock::initial(NodeId(id), 0)
            }),
        })
        .collect();
    let now = BootTime(Duration::from_millis(10));
    core.handle_read(now, BootTime::ZERO, &slots);
    let actions: Vec<Action> = std::iter::from_fn(|| core.poll_action()).collect();
    assert!(
        actions.contains(&Action::SelfFence(FenceReason::Evicted { by: 1 })),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Write { .. })),
        "no write after the notice: {actions:?}"
    );
    assert!(core.is_done());
    assert_eq!(core.poll_timeout(), None);
}

fn seeds() -> Vec<u64> {
    plumbing::seeds::seeds(2000)
}

#[test]
fn random_schedules_never_break_safety() {
    let mut longest_overlap = Duration::ZERO;
    let mut fences = 0;
    let mut downs = 0;
    for seed in seeds() {
        let layout = if seed % 3 == 0 {
            Layout::Classic
        } else {
            EXTENDED
        };
        let n = 2 + (seed % 5) as u32;
        let mut sim = Sim::new(seed, n, layout, timing(layout), false)
            .with_watchdog(WATCHDOG)
            .with_late_completions(0.1);
        for id in 1..=n {
            sim.start(id);
        }
        sim.random_faults(secs(120), 2 + (seed % 7) as usize);
        sim.run_until(secs(150));
        sim.assert_safe();
        longest_overlap = longest_overlap.max(sim.checker.longest_overlap);
        fences += sim.nodes.iter().map(|n| n.fenced.len()).sum::<usize>();
        downs += sim
            .events
            .iter()
            .filter(|(_, _, e)| matches!(e, Event::NodeDown(_)))
            .count();
    }
    let t = timing(EXTENDED);
    eprintln!(
        "longest two-master overlap {longest_overlap:?}; {fences} fences, {downs} deaths declared"
    );
    assert!(fences > 0 && downs > 0, "the schedules must actually hurt");
    assert!(
        longest_overlap <= t.interval * (t.master_wait + 2),
        "two masters for {longest_overlap:?}"
    );
}

/// Writes stalled in the storage path past the node's eviction: without a watchdog some of
/// them land after the eviction notice (the checker sees it: this is why the watchdog is
/// needed); with one, the node is reset before its write deadline and none lands.
#[test]
fn a_write_stuck_past_the_eviction_lands_unless_the_watchdog_reset_the_node() {
    let run = |watchdog: bool, offset_ms: u64| {
        let layout = EXTENDED;
        let mut sim = Sim::new(100 + offset_ms, 3, layout, timing(layout), false);
        if watchdog {
            sim = sim.with_watchdog(WATCHDOG);
        }
        for id in 1..=3 {
            sim.start(id);
        }
        // Node 3's path hangs for 20 s: its write in flight (if one is) lands at the release.
        sim.schedule(
            secs(30) + Duration::from_millis(offset_ms),
            3,
            Fault::StallIo(secs(20)),
        );
        sim.run_until(secs(70));
        sim
    };
    let mut landed_late = 0;
    for offset_ms in (0..1000).step_by(20) {
        let without = run(false, offset_ms);
        if !without.checker.violations.is_empty() {
            landed_late += 1;
        }
        let with = run(true, offset_ms);
        with.assert_safe();
        let fenced = &with.nodes[2].fenced;
        assert!(
            fenced.iter().any(|(_, why)| why == "watchdog reset"),
            "node 3 is reset by its watchdog: {fenced:?}"
        );
        let t = timing(EXTENDED);
        let reset = fenced
            .iter()
            .find(|(_, why)| why == "watchdog reset")
            .map(|(at, _)| *at)
            .expect("reset");
        assert!(
            reset < secs(30) + Duration::from_millis(offset_ms) + t.write_deadline(),
            "reset at {reset:?}, before the write deadline"
        );
    }
    assert!(
        landed_late > 0,
        "without a watchdog, some stalled writes must land after the eviction"
    );
    eprintln!("without a watchdog: {landed_late} of 50 schedules wrote after the eviction");
}

/// The master failover, measured: from the master's crash to the moment every survivor
/// holds the disk's votes again under a new master, over many schedules. It must fit the
/// bound the timing rules use ([`Timing::master_failover`]).
#[test]
fn master_failover_fits_the_timing_rule() {
    let mut worst = Duration::ZERO;
    let count = plumbing::seeds::count(300);
    for seed in 0..count {
        let layout = if seed % 2 == 0 {
            EXTENDED
        } else {
            Layout::Classic
        };
        let n = 2 + (seed % 4) as u32;
        let t = timing(layout);
        let mut sim = Sim::new(1000 + seed, n, layout, t, false).with_watchdog(WATCHDOG);
        for id in 1..=n {
            sim.start(id);
        }
        if seed % 3 == 0 {
            // Node 2 rejoins under a master: its upgrade_wait is still ahead of it.
            sim.schedule(secs(15), 2, Fault::Crash);
            sim.schedule(secs(16), 2, Fault::Restart);
        }
        sim.run_until(secs(40));
        assert_eq!(sim.state(1), Some(NodeState::Master), "seed {seed}");
        let crash = secs(40) + Duration::from_millis(seed * 37 % 1000);
        sim.schedule(crash, 1, Fault::Crash);
        let mut now = crash;
        let back = loop {
            now += Duration::from_millis(10);
            sim.run_until(now);
            if (2..=n).all(|id| sim.votes(id) && sim.master_seen_by(id) == Some(NodeId(2))) {
                break now - crash;
            }
            assert!(now < crash + secs(60), "seed {seed}: no failover");
        };
        sim.assert_safe();
        assert!(
            back <= t.master_failover(),
            "seed {seed}: failover took {back:?}, the rule says {:?}; crash at {crash:?}; events after the crash:\n{}",
            t.master_failover(),
            sim.events
                .iter()
                .filter(|(at, _, _)| *at >= crash)
                .map(|(at, n, e)| format!("{at:?} node {n}: {e:?}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        worst = worst.max(back);
    }
    let t = timing(EXTENDED);
    eprintln!(
        "worst master failover {worst:?}; rule {:?} (interval {:?}, tko {}, upgrade_wait {}, master_wait {})",
        t.master_failover(),
        t.interval,
        t.tko,
        t.upgrade_wait,
        t.master_wait
    );
}

// ----- poison pills ------------------------------------------------------------------

fn pill_config(watchdog: bool) -> qdisk::poison::SenderConfig {
    let t = timing(EXTENDED);
    qdisk::poison::SenderConfig {
        victim: NodeId(0),
        writer: NodeId(0),
        pill: qdisk::format::Pill {
            action: qdisk::format::PillAction::Reboot,
            nonce: 0xC0FFEE,
        },
        msgwait: qdisk::poison::default_msgwait(&t, WATCHDOG),
        watchdog,
        poll: qdisk::poison::poll_period(&t),
        max_deliveries: 5,
        read_grace: t.interval * 4,
    }
}

#[test]
fn a_poison_pill_to_a_live_node_is_acknowledged_at_once_and_nothing_normal_follows() {
    for seed in 0..20 {
        let t = timing(EXTENDED);
        let mut sim = Sim::new(200 + seed, 3, EXTENDED, t, false).with_watchdog(WATCHDOG);
        for id in 1..=3 {
            sim.start(id);
        }
        let at = secs(30) + Duration::from_millis(seed * 97 % 1000);
        sim.poison(at, 3, pill_config(true));
        sim.run_until(secs(45));
        sim.assert_safe();
        let agent = sim.agent.as_ref().expect("agent");
        let (done, result) = agent.result.as_ref().expect("finished");
        match result {
            Ok(qdisk::poison::Fenced::Acknowledged { after, .. }) => assert!(
                *after <= t.interval * 2,
                "seed {seed}: acknowledged after {after:?}"
            ),
            other => panic!("seed {seed}: {other:?}"),
        }
        let fenced = &sim.nodes[2].fenced;
        assert_eq!(fenced.len(), 1, "seed {seed}: {fenced:?}");
        assert!(
            fenced[0].1.contains("poison pill") && fenced[0].1.contains("acknowledged"),
            "seed {seed}: {fenced:?}"
        );
        // The acknowledgement lands before its write completes, and the self-fence follows
        // the completion.
        assert!(
            fenced[0].0 <= *done + t.interval,
            "seed {seed}: fenced at {:?}, the agent returned at {done:?}",
            fenced[0].0
        );
        // The others go on: node 3 is declared dead, nobody else fenced.
        assert!(sim.nodes[..2].iter().all(|n| n.fenced.is_empty()));
        assert!(sim
            .first_event(|n, e| n == NodeId(1) && *e == Event::NodeDown(NodeId(3)))
            .is_some());
    }
}

#[test]
fn a_poison_pill_to_a_paused_node_succeeds_after_the_message_wait_once_its_watchdog_reset_it() {
    let t = timing(EXTENDED);
    let msgwait = pill_config(true).msgwait;
    for seed in 0..20 {
        let mut sim = Sim::new(300 + seed, 3, EXTENDED, t, false).with_watchdog(WATCHDOG);
        for id in 1..=3 {
            sim.start(id);
        }
        let pause = secs(30) + Duration::from_millis(seed * 53 % 1000);
        sim.schedule(pause, 3, Fault::Pause(secs(60)));
        let at = secs(30) + Duration::from_millis(seed * 131 % 1500);
        sim.poison(at, 3, pill_config(true));
        sim.run_until(secs(60));
        sim.assert_safe();
        let (done, result) = sim
            .agent
            .as_ref()
            .and_then(|a| a.result.clone())
            .expect("finished");
        let fenced = &sim.nodes[2].fenced;
        match result {
            Ok(qdisk::poison::Fenced::MessageWaitPassed { after, .. }) => {
                assert!(after >= msgwait, "seed {seed}: {after:?}");
                let reset = fenced
                    .iter()
                    .find(|(_, why)| why == "watchdog reset")
                    .unwrap_or_else(|| panic!("seed {seed}: reset by its watchdog: {fenced:?}"));
                assert!(
                    reset.0 < done,
                    "seed {seed}: reset {reset:?} before {done:?}"
                );
            }
            // The pause began after the pill: the node read it first and acknowledged.
            Ok(qdisk::poison::Fenced::Acknowledged { .. }) => assert!(pause > at, "seed {seed}"),
            other => panic!("seed {seed}: {other:?}"),
        }
    }
}

#[test]
fn without_a_watchdog_silence_proves_nothing_and_the_pill_waits_for_the_node() {
    let t = timing(EXTENDED);
    let mut sim = Sim::new(400, 3, EXTENDED, t, false);
    for id in 1..=3 {
        sim.start(id);
    }
    sim.schedule(secs(29), 3, Fault::Pause(secs(20)));
    sim.poison(secs(30), 3, pill_config(false));
    sim.run_until(secs(60));
    sim.assert_safe();
    let (_, result) = sim
        .agent
        .as_ref()
        .and_then(|a| a.result.clone())
        .expect("finished");
    assert!(
        matches!(
            result,
            Err(qdisk::poison::NotFenced::NoAcknowledgement {
                why: qdisk::poison::NoProof::NoWatchdog,
                ..
            })
        ),
        "{result:?}"
    );
    // On resume it fences itself (its write deadline passed long ago) without writing.
    let fenced = &sim.nodes[2].fenced;
    assert_eq!(fenced.len(), 1, "{fenced:?}");
    assert_eq!(fenced[0].0, secs(49));
}

/// Random faults around a poison pill: whatever happens, a node the agent declares fenced
/// never runs or writes again with the incarnations it had, and no node writes a normal
/// block after reading a pill (the checker); a healthy victim is always acknowledged.
#[test]
fn poison_pills_under_random_faults_never_declare_a_running_node_fenced() {
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    // 1000 schedules unless SIM_SEEDS or SIM_SEED say otherwise.
    let seeds = plumbing::seeds::seeds(1000);
    for seed in seeds {
        let layout = if seed % 3 == 0 {
            Layout::Classic
        } else {
            EXTENDED
        };
        let n = 2 + (seed % 4) as u32;
        let mut sim = Sim::new(seed, n, layout, timing(layout), false)
            .with_watchdog(WATCHDOG)
            .with_late_completions(0.1);
        for id in 1..=n {
            sim.start(id);
        }
        sim.random_faults(secs(60), 1 + (seed % 4) as usize);
        let victim = 1 + (seed % u64::from(n)) as u32;
        let at = secs(20) + Duration::from_millis(seed * 7919 % 30_000);
        sim.poison(at, victim, pill_config(true));
        sim.run_until(secs(90));
        sim.assert_safe();
        let result = sim.agent.as_ref().and_then(|a| a.result.clone());
        let name = match &result {
            Some((_, Ok(f))) => format!("{f:?}")
                .split([' ', '{'])
                .next()
                .unwrap_or_default()
                .to_string(),
            Some((_, Err(e))) => format!("{e:?}")
                .split([' ', '{'])
                .next()
                .unwrap_or_default()
                .to_string(),
            None => "unfinished".into(),
        };
        assert!(result.is_some(), "seed {seed}: the agent never finished");
        *outcomes.entry(name).or_default() += 1;
    }
    eprintln!("poison pill outcomes: {outcomes:?}");
    assert!(outcomes.get("Acknowledged").copied().unwrap_or(0) > 0);
}
