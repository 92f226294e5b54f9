//! The cycle core's side of the poison pill, step by step: a pill in our own slot stops the
//! watchdog, makes one acknowledgement (never a normal block) and self-fences when it is
//! written or at its deadline; peers never count an acknowledgement as a sign of life;
//! eviction notices keep fencing without any write.

use std::time::Duration;

use qdisk::cycle::{Action, CoreConfig, Event, FenceReason, QdiskCore};
use qdisk::disk::SlotRead;
use qdisk::format::{NodeState, Pill, PillAction, StatusBlock};
use qdisk::geometry::Layout;
use qdisk::time::BootTime;
use qdisk::timing::{Timing, TimingRequest};
use qdisk::{Incarnation, NodeId};

const LAYOUT: Layout = Layout::Extended { max_nodes: 8 };
const ME: NodeId = NodeId(2);
const PILL: Pill = Pill {
    action: PillAction::Off,
    nonce: 0x5EED,
};

fn timing() -> Timing {
    Timing::resolve(
        TimingRequest {
            interval: Some(Duration::from_millis(250)),
            tko: Some(8),
            ..TimingRequest::default()
        },
        Duration::from_secs(5),
        true,
    )
    .expect("timing")
}

fn ms(ms: u64) -> BootTime {
    BootTime(Duration::from_millis(ms))
}

fn core(node: NodeId, watchdog: bool) -> QdiskCore {
    let cfg = CoreConfig {
        node,
        layout: LAYOUT,
        timing: timing(),
        master_wins: false,
        min_score: None,
        fence_on_score_loss: true,
        io_timeout: false,
        paranoid: false,
        max_error_cycles: 0,
        watchdog: watchdog.then_some(Duration::from_secs(1)),
    };
    QdiskCore::new(cfg, Incarnation(7), BootTime::ZERO)
}

fn drain(core: &mut QdiskCore) -> Vec<Action> {
    std::iter::from_fn(|| core.poll_action()).collect()
}

fn running(node: u32, heartbeat: u64) -> StatusBlock {
    StatusBlock {
        node: NodeId(node),
        updated_by: node,
        state: NodeState::Running,
        incarnation: Incarnation(u64::from(node) * 100),
        heartbeat,
        ..StatusBlock::default()
    }
}

/// Every slot: `own` in ours, `peer(id)` elsewhere.
fn slots(own: StatusBlock, peer: impl Fn(u32) -> StatusBlock) -> Vec<SlotRead> {
    (1..=LAYOUT.max_nodes())
        .map(|id| SlotRead {
            node: NodeId(id),
            block: Ok(if NodeId(id) == own.node {
                own.clone()
            } else {
                peer(id)
            }),
        })
        .collect()
}

/// Runs the core through `cycles` healthy cycles (every write completes at once); returns
/// the time of the last cycle's end and the actions seen.
fn run_cycles(core: &mut QdiskCore, cycles: u64) -> (BootTime, Vec<Action>) {
    let mut seen = drain(core);
    core.handle_write_done(BootTime::ZERO, ME, true, BootTime::ZERO);
    let mut now = BootTime::ZERO;
    for cycle in 0..cycles {
        now = ms(cycle * 250);
        core.handle_timeout(now);
        let actions = drain(core);
        assert!(actions.contains(&Action::ReadAll), "{actions:?}");
        seen.extend(actions);
        let own = running(ME.0, cycle);
        core.handle_read(now, now, &slots(own, |id| running(id, cycle)));
        for action in drain(core) {
            if let Action::Write { block, .. } = &action {
                core.handle_write_done(now, block.node, true, now);
            }
            seen.push(action);
        }
    }
    (now, seen)
}

fn pill_from(writer: u32) -> StatusBlock {
    StatusBlock::pill(ME, NodeId(writer), Incarnation(7), 3, PILL)
}

#[test]
fn a_pill_stops_the_watchdog_writes_one_acknowledgement_and_fences_when_it_is_written() {
    let mut c = core(ME, true);
    let (last, _) = run_cycles(&mut c, 4);
    let now = last + Duration::from_millis(250);
    c.handle_timeout(now);
    drain(&mut c);
    c.handle_read(now, now, &slots(pill_from(1), |id| running(id, 9)));
    let actions = drain(&mut c);
    let writes: Vec<&StatusBlock> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Write { block, .. } => Some(block),
            _ => None,
        })
        .collect();
    assert_eq!(
        writes.len(),
        1,
        "exactly one write, the acknowledgement: {actions:?}"
    );
    let ack = writes[0];
    assert_eq!(ack.node, ME);
    assert_eq!(
        ack.as_pill_ack(),
        Some(PILL),
        "it repeats the nonce: {ack:?}"
    );
    assert_eq!(ack.state, NodeState::Evicted);
    assert_eq!(ack.incarnation, Incarnation(7));
    assert!(!actions.iter().any(|a| matches!(a, Action::SelfFence(_))));
    assert!(
        actions.contains(&Action::Event(Event::VotesChanged { held: false }))
            || !c.status().votes_held
    );
    // Until the write completes: no pet, and the deadline is at most one interval away.
    let deadline = c.poll_timeout().expect("a deadline");
    assert!(deadline <= now + Duration::from_millis(250), "{deadline:?}");
    c.handle_timeout(now + Duration::from_millis(100));
    assert!(
        !drain(&mut c).contains(&Action::PetWatchdog),
        "the watchdog is no longer petted"
    );
    c.handle_write_done(now + Duration::from_millis(5), ME, true, now);
    let actions = drain(&mut c);
    assert_eq!(
        actions,
        vec![Action::SelfFence(FenceReason::Poisoned {
            by: 1,
            pill: PILL,
            acknowledged: true
        })]
    );
    assert!(c.is_done());
    match &actions[0] {
        Action::SelfFence(reason) => {
            assert!(reason.powers_off(), "the pill asked for off");
            assert!(reason.to_string().contains("acknowledged"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_hung_acknowledgement_delays_the_self_fence_by_at_most_one_interval() {
    let mut c = core(ME, true);
    let (last, _) = run_cycles(&mut c, 4);
    let now = last + Duration::from_millis(250);
    c.handle_timeout(now);
    drain(&mut c);
    c.handle_read(now, now, &slots(pill_from(3), |id| running(id, 9)));
    let not_after = drain(&mut c)
        .into_iter()
        .find_map(|a| match a {
            Action::Write { not_after, .. } => Some(not_after),
            _ => None,
        })
        .expect("the acknowledgement");
    let deadline = c.poll_timeout().expect("deadline");
    assert_eq!(
        not_after, deadline,
        "the write is never issued after the deadline"
    );
    // The write hangs: nothing happens before the deadline, the self-fence at it.
    c.handle_timeout(BootTime(deadline.0 - Duration::from_millis(1)));
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(deadline);
    assert_eq!(
        drain(&mut c),
        vec![Action::SelfFence(FenceReason::Poisoned {
            by: 3,
            pill: PILL,
            acknowledged: false
        })]
    );
    // A completion arriving after the fence changes nothing.
    c.handle_write_done(deadline + Duration::from_millis(1), ME, true, now);
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn the_acknowledgement_deadline_never_passes_the_write_deadline() {
    let mut c = core(ME, false);
    let (last, _) = run_cycles(&mut c, 4);
    // The next read completes late: 1.7 s after the last completed write's issue, the write
    // deadline (1.75 s) is 50 ms away.
    let now = last + Duration::from_millis(1700);
    c.handle_timeout(last + Duration::from_millis(250));
    drain(&mut c);
    c.handle_read(now, now, &slots(pill_from(1), |id| running(id, 9)));
    let not_after = drain(&mut c)
        .into_iter()
        .find_map(|a| match a {
            Action::Write { not_after, .. } => Some(not_after),
            _ => None,
        })
        .expect("the acknowledgement");
    assert_eq!(not_after, last + timing().write_deadline());
}

#[test]
fn an_eviction_notice_still_fences_without_any_write() {
    let mut c = core(ME, true);
    let (last, _) = run_cycles(&mut c, 4);
    let now = last + Duration::from_millis(250);
    c.handle_timeout(now);
    drain(&mut c);
    let notice = StatusBlock {
        node: ME,
        updated_by: 1,
        state: NodeState::Evicted,
        ..StatusBlock::default()
    };
    c.handle_read(now, now, &slots(notice, |id| running(id, 9)));
    let actions = drain(&mut c);
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Write { .. })),
        "{actions:?}"
    );
    assert!(actions.contains(&Action::SelfFence(FenceReason::Evicted { by: 1 })));
}

#[test]
fn peers_never_count_an_acknowledgement_as_a_sign_of_life() {
    // Node 1 watches node 2: up, then node 2 acknowledges a pill (its own write, with a
    // new heartbeat each time we look, as a confused writer might): node 1 must declare it
    // dead at the usual time, never "left" and never alive.
    let t = timing();
    let mut c = core(NodeId(1), false);
    drain(&mut c);
    c.handle_write_done(BootTime::ZERO, NodeId(1), true, BootTime::ZERO);
    let mut events = Vec::new();
    let mut acked_at = None;
    for cycle in 0..60u64 {
        let now = ms(cycle * 250);
        c.handle_timeout(now);
        drain(&mut c);
        let peer2 = if cycle < 20 {
            running(2, cycle)
        } else {
            acked_at.get_or_insert(now);
            StatusBlock::pill_ack(NodeId(2), Incarnation(200), cycle, PILL)
        };
        let own = running(1, cycle);
        let all = slots(own, |id| {
            if id == 2 {
                peer2.clone()
            } else {
                StatusBlock::initial(NodeId(id), 0)
            }
        });
        c.handle_read(now, now, &all);
        for action in drain(&mut c) {
            match action {
                Action::Write { block, .. } => c.handle_write_done(now, block.node, true, now),
                Action::Event(e) => events.push((now, e)),
                _ => {}
            }
        }
    }
    assert!(events.iter().any(|(_, e)| *e == Event::NodeUp(NodeId(2))));
    assert!(
        !events.iter().any(|(_, e)| *e == Event::NodeLeft(NodeId(2))),
        "{events:?}"
    );
    let (down_at, _) = events
        .iter()
        .find(|(_, e)| *e == Event::NodeDown(NodeId(2)))
        .expect("declared dead");
    let acked_at = acked_at.expect("acknowledged");
    // Its last sign of life was the cycle before the acknowledgement.
    let last_life = BootTime(acked_at.0 - Duration::from_millis(250));
    assert!(
        down_at.since(last_life) >= t.death_floor(),
        "dead {:?} after its last normal write",
        down_at.since(last_life)
    );
}
