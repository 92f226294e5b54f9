//! The fence queue under simulated time with fake devices: level fallback, retries,
//! duplicate requests, delays, quorum gating, back-off, acknowledgement, unfencing.

use std::collections::BTreeMap;
use std::time::Duration;

use fenced::history::{DeviceAction, FenceAction, Origin, Outcome, Record};
use fenced::queue::{Action, FenceQueue, QueueConfig, QueueEvent, RequestError};
use fenced::time::BootTime;
use fenced::topology::{DeviceName, DeviceUse, Level, NodeFencing, NodeName, Topology};

/// How a fake device answers.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    Works,
    Fails,
    /// Fails this many times, then works.
    FailsTimes(u32),
    /// Works for off, fails for on.
    OnFails,
}

struct World {
    queue: FenceQueue,
    now: BootTime,
    devices: BTreeMap<String, Behaviour>,
    calls: Vec<(BootTime, String, DeviceAction, String)>,
    pending: Vec<(BootTime, fenced::queue::CallId, Result<(), String>)>,
    finished: Vec<Record>,
    events: Vec<QueueEvent>,
    latency: Duration,
    in_flight: std::collections::BTreeSet<String>,
    call_devices: BTreeMap<fenced::queue::CallId, String>,
}

fn dev(name: &str, port: &str) -> DeviceUse {
    DeviceUse {
        device: DeviceName(name.into()),
        args: [("port".to_string(), port.to_string())]
            .into_iter()
            .collect(),
    }
}

fn node(name: &str) -> NodeName {
    NodeName(name.into())
}

fn topology() -> Topology {
    let mut t = Topology::default();
    t.nodes.insert(
        node("web1"),
        NodeFencing {
            levels: vec![
                Level {
                    index: 1,
                    devices: vec![dev("ipmi1", "web1")],
                },
                Level {
                    index: 2,
                    devices: vec![dev("pduA", "3"), dev("pduB", "3")],
                },
            ],
            unfence: vec![dev("san", "7")],
            delay: Duration::ZERO,
        },
    );
    t.nodes.insert(
        node("web2"),
        NodeFencing {
            levels: vec![Level {
                index: 1,
                devices: vec![dev("ipmi2", "web2")],
            }],
            unfence: Vec::new(),
            delay: Duration::from_secs(5),
        },
    );
    t
}

impl World {
    fn new(cfg: QueueConfig, devices: &[(&str, Behaviour)]) -> Self {
        let mut queue = FenceQueue::new(cfg);
        let now = BootTime(Duration::from_secs(100));
        queue.handle_quorum(now, true);
        Self {
            queue,
            now,
            devices: devices.iter().map(|(n, b)| (n.to_string(), *b)).collect(),
            calls: Vec::new(),
            pending: Vec::new(),
            finished: Vec::new(),
            events: Vec::new(),
            latency: Duration::from_millis(200),
            in_flight: Default::default(),
            call_devices: BTreeMap::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(action) = self.queue.poll_action() {
            match action {
                Action::Run(call) => {
                    let name = call.device.0.clone();
                    // Invariants checked on every dispatch, in every test.
                    let op = self
                        .queue
                        .ops()
                        .into_iter()
                        .find(|o| o.id == call.op)
                        .expect("the call's operation runs");
                    if matches!(op.origin, Origin::Cluster(_)) && op.action != FenceAction::On {
                        assert!(
                            self.queue.is_quorate(),
                            "a cluster fence call while inquorate: {call:?}"
                        );
                    }
                    assert!(
                        !self.in_flight.contains(&name),
                        "two calls in flight on {name}"
                    );
                    self.in_flight.insert(name.clone());
                    let behaviour = self.devices.get_mut(&name).expect("known device");
                    let result = match (*behaviour, call.action) {
                        (Behaviour::Works, _) => Ok(()),
                        (Behaviour::Fails, _) => Err(format!("{name}: timed out")),
                        (Behaviour::FailsTimes(0), _) => Ok(()),
                        (Behaviour::FailsTimes(n), _) => {
                            *behaviour = Behaviour::FailsTimes(n - 1);
                            Err(format!("{name}: refused"))
                        }
                        (Behaviour::OnFails, DeviceAction::On) => Err(format!("{name}: on failed")),
                        (Behaviour::OnFails, _) => Ok(()),
                    };
                    let port = call.args.get("port").cloned().unwrap_or_default();
                    self.calls.push((self.now, name, call.action, port));
                    self.pending
                        .push((self.now + self.latency, call.call, result));
                    self.call_devices.insert(call.call, call.device.0.clone());
                }
                Action::Finished(record) => self.finished.push(record),
                Action::Event(e) => self.events.push(e),
            }
        }
    }

    /// Runs until nothing is pending or `limit` has passed.
    fn run(&mut self, limit: Duration) {
        let end = self.now + limit;
        self.drain();
        loop {
            let next_result = self.pending.iter().map(|p| p.0).min();
            let next = [next_result, self.queue.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|&n| n <= end) else {
                self.now = end.max(self.now);
                return;
            };
            self.now = next.max(self.now);
            if let Some(i) = self.pending.iter().position(|p| p.0 <= self.now) {
                let (_, call, result) = self.pending.remove(i);
                let device = self.call_devices.remove(&call).expect("known call");
                self.in_flight.remove(&device);
                self.queue.handle_result(self.now, call, result);
            } else {
                self.queue.handle_timeout(self.now);
            }
            self.drain();
        }
    }

    fn request(
        &mut self,
        target: &str,
        action: FenceAction,
        origin: Origin,
    ) -> Result<fenced::queue::OpId, RequestError> {
        let r = self
            .queue
            .handle_request(self.now, node(target), action, origin);
        self.drain();
        r
    }
}

/// The queue as these tests drive it: quorum is told once and holds (its expiry has a
/// test of its own).
fn cfg() -> QueueConfig {
    let mut c = QueueConfig::new(topology(), 7);
    c.quorum_ttl = None;
    c
}

fn cluster() -> Origin {
    Origin::Cluster("web2".into())
}

fn admin() -> Origin {
    Origin::Admin("root".into())
}

#[test]
fn a_working_first_level_fences_with_one_call() {
    let mut w = World::new(
        cfg(),
        &[
            ("ipmi1", Behaviour::Works),
            ("pduA", Behaviour::Works),
            ("pduB", Behaviour::Works),
        ],
    );
    w.request("web1", FenceAction::Off, cluster())
        .expect("accepted");
    w.run(Duration::from_secs(10));
    assert_eq!(w.calls.len(), 1);
    assert_eq!(w.calls[0].1, "ipmi1");
    assert_eq!(
        w.calls[0].3, "web1",
        "the node's own port argument is passed"
    );
    assert_eq!(w.finished.len(), 1);
    assert_eq!(w.finished[0].outcome, Outcome::Fenced);
    assert_eq!(w.finished[0].elapsed_ms, 200);
}

#[test]
fn a_dead_first_level_falls_back_to_the_second_after_its_retry() {
    let mut w = World::new(
        cfg(),
        &[
            ("ipmi1", Behaviour::Fails),
            ("pduA", Behaviour::Works),
            ("pduB", Behaviour::Works),
        ],
    );
    w.request("web1", FenceAction::Off, cluster())
        .expect("accepted");
    w.run(Duration::from_secs(10));
    let names: Vec<&str> = w.calls.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(
        names,
        ["ipmi1", "ipmi1", "pduA", "pduB"],
        "one retry, then every device of level 2"
    );
    let record = &w.finished[0];
    assert_eq!(record.outcome, Outcome::Fenced);
    assert_eq!(record.attempts.len(), 4);
    assert!(record.attempts[0]
        .error
        .as_deref()
        .is_some_and(|e| e.contains("timed out")));
    assert_eq!(record.attempts[2].level, 2);
    assert!(w.events.contains(&QueueEvent::LevelFailed(node("web1"), 1)));
}

#[test]
fn a_reboot_over_two_power_supplies_is_off_off_then_on_on() {
    let mut w = World::new(
        cfg(),
        &[
            ("ipmi1", Behaviour::Fails),
            ("pduA", Behaviour::Works),
            ("pduB", Behaviour::OnFails),
        ],
    );
    w.request("web1", FenceAction::Reboot, cluster())
        .expect("accepted");
    w.run(Duration::from_secs(10));
    let level2: Vec<(String, DeviceAction)> =
        w.calls.iter().skip(2).map(|c| (c.1.clone(), c.2)).collect();
    assert_eq!(
        level2,
        vec![
            ("pduA".into(), DeviceAction::Off),
            ("pduB".into(), DeviceAction::Off),
            ("pduA".into(), DeviceAction::On),
            ("pduB".into(), DeviceAction::On),
        ]
    );
    match &w.finished[0].outcome {
        Outcome::FencedOnFailed(why) => assert!(why.contains("pduB: on failed"), "{why}"),
        other => panic!("expected FencedOnFailed, got {other:?}"),
    }
    assert!(w.finished[0].outcome.is_fenced());
}

#[test]
fn when_every_level_fails_the_topology_is_retried_with_backoff_until_it_works() {
    let mut w = World::new(
        cfg(),
        &[
            ("ipmi1", Behaviour::FailsTimes(5)),
            ("pduA", Behaviour::Fails),
            ("pduB", Behaviour::Works),
        ],
    );
    w.request("web1", FenceAction::Off, cluster())
        .expect("accepted");
    w.run(Duration::from_secs(60));
    assert_eq!(w.finished.len(), 1, "{:?}", w.events);
    assert_eq!(w.finished[0].outcome, Outcome::Fenced);
    let backoffs: Vec<Duration> = w
        .events
        .iter()
        .filter_map(|e| match e {
            QueueEvent::BackingOff(_, _, d) => Some(*d),
            _ => None,
        })
        .collect();
    assert_eq!(
        backoffs,
        vec![Duration::from_secs(5), Duration::from_secs(10)]
    );
    // ipmi1 failed twice per round for two rounds, then worked in round 3.
    let rounds: Vec<u32> = w.finished[0].attempts.iter().map(|a| a.round).collect();
    assert_eq!(*rounds.last().expect("attempts"), 3);
}

#[test]
fn duplicate_requests_join_the_running_operation() {
    let mut w = World::new(cfg(), &[("ipmi1", Behaviour::Works)]);
    let a = w
        .request("web1", FenceAction::Off, cluster())
        .expect("accepted");
    let b = w
        .request("web1", FenceAction::Reboot, admin())
        .expect("joins");
    assert_eq!(a, b);
    w.run(Duration::from_secs(10));
    assert_eq!(w.calls.len(), 1, "one operation, one call");
    assert_eq!(w.finished.len(), 1);
    assert_eq!(w.finished[0].joined, vec![admin()]);
}

#[test]
fn nothing_is_fenced_without_quorum_and_it_proceeds_when_quorum_returns() {
    let mut w = World::new(cfg(), &[("ipmi1", Behaviour::Works)]);
    w.queue.handle_quorum(w.now, false);
    w.request("web1", FenceAction::Off, cluster())
        .expect("accepted");
    w.run(Duration::from_secs(30));
    assert!(w.calls.is_empty(), "no device call while inquorate");
    assert!(w.events.contains(&QueueEvent::AwaitingQuorum(node("web1"))));
    w.queue.handle_quorum(w.now, true);
    w.run(Duration::from_secs(5));
    assert_eq!(w.finished[0].outcome, Outcome::Fenced);
}

#[test]
fn an_administrator_request_is_not_gated_by_quorum() {
    let mut w = World::new(cfg(), &[("ipmi1", Behaviour::Works)]);
    w.queue.handle_quorum(w.now, false);
    w.request("web1", FenceAction::Off, admin())
        .expect("accepted");
    w.run(Duration::from_secs(5));
    assert_eq!(w.finished[0].outcome, Outcome::Fenced);
}

#[test]
fn delays_apply_to_cluster_requests_only() {
    let mut c = cfg();
    c.post_fail_delay = Duration::from_secs(3);
    c.random_delay_max = Duration::from_secs(4);
    let mut w = World::new(c.clone(), &[("ipmi2", Behaviour::Works)]);
    let start = w.now;
    w.request("web2", FenceAction::Off, cluster())
        .expect("accepted");
    w.run(Duration::from_secs(30));
    let waited = w.calls[0].0.since(start);
    // post_fail_delay 3 s + web2's static delay 5 s + random up to 4 s.
    assert!(
        waited >= Duration::from_secs(8) && waited <= Duration::from_secs(12),
        "{waited:?}"
    );
    let mut w = World::new(c, &[("ipmi2", Behaviour::Works)]);
    let start = w.now;
    w.request("web2", FenceAction::Off, admin())
        .expect("accepted");
    w.run(Duration::from_secs(30));
    assert_eq!(w.calls[0].0, start);
}

#[test]
fn random_delays_differ_between_seeds_and_repeat_for_the_same_seed() {
    let delay_for = |seed| {
        let mut c = cfg();
        c.rng_seed = seed;
        c.random_delay_max = Duration::from_secs(10);
        let mut w = World::new(c, &[("ipmi1", Behaviour::Works)]);
        let start = w.now;
        w.request("web1", FenceAction::Off, cluster())
            .expect("accepted");
        w.run(Duration::from_secs(30));
        w.calls[0].0.since(start)
    };
    assert_eq!(delay_for(1), delay_for(1));
    let delays: std::collections::BTreeSet<Duration> = (0..20).map(delay_for).collect();
    assert!(delays.len() > 10, "{delays:?}");
}

#[test]
fn a_node_that_rejoins_during_the_delay_is_not_fenced() {
    let mut w = World::new(cfg(), &[("ipmi2", Behaviour::Works)]);
    w.request("web2", FenceAction::Off, cluster())
        .expect("accepted");
    w.run(Duration::from_secs(2));
    w.queue.handle_rejoin(w.now, node("web2"));
    w.drain();
    w.run(Duration::from_secs(30));
    assert!(w.calls.is_empty());
    assert!(matches!(w.finished[0].outcome, Outcome::Cancelled(_)));
}

#[test]
fn a_rejoin_cancels_an_operation_in_back_off_and_its_retries() {
    let mut w = World::new(
        cfg(),
        &[
            ("ipmi1", Behaviour::Fails),
            ("pduA", Behaviour::Fails),
            ("pduB", Behaviour::Fails),
        ],
    );
    w.request("web1", FenceAction::Off, cluster())
        .expect("accepted");
    w.run(Duration::from_secs(3));
    assert!(
        matches!(
            w.queue.ops()[0].state,
            fenced::queue::OpState::BackingOff { .. }
        ),
        "every level failed once: {:?}",
        w.queue.ops()
    );
    let calls = w.calls.len();
    w.queue.handle_rejoin(w.now, node("web1"));
    w.drain();
    w.run(Duration::from_secs(300));
    assert_eq!(w.calls.len(), calls, "no device is called after the rejoin");
    assert!(matches!(w.finished[0].outcome, Outcome::Cancelled(_)));
    assert!(w.queue.ops().is_empty());
}

#[test]
fn a_rejoin_during_a_device_call_ends_the_operation_with_that_call() {
    let mut w = World::new(
        cfg(),
        &[
            ("ipmi1", Behaviour::Fails),
            ("pduA", Behaviour::Works),
            ("pduB", Behaviour::Works),
        ],
    );
    w.request("web1", FenceAction::Off, cluster())
        .expect("accepted");
    assert_eq!(w.calls.len(), 1, "ipmi1 is being called");
    w.queue.handle_rejoin(w.now, node("web1"));
    w.drain();
    w.run(Duration::from_secs(300));
    assert_eq!(
        w.calls.len(),
        1,
        "the failed call is not retried, no next level"
    );
    assert!(matches!(w.finished[0].outcome, Outcome::Cancelled(_)));
}

#[test]
fn a_withdrawn_request_is_cancelled_unless_another_requester_still_asks() {
    let mut w = World::new(cfg(), &[("ipmi2", Behaviour::Works)]);
    let other = Origin::Cluster("web3".into());
    w.request("web2", FenceAction::Off, cluster())
        .expect("accepted");
    w.request("web2", FenceAction::Off, other.clone())
        .expect("joined");
    w.queue.handle_withdraw(w.now, node("web2"), &cluster());
    w.drain();
    assert_eq!(w.queue.ops().len(), 1, "web3 still asks");
    assert_eq!(w.queue.ops()[0].origin, other);
    w.queue
        .handle_withdraw(w.now, node("web2"), &Origin::Cluster("nobody".into()));
    w.drain();
    assert_eq!(
        w.queue.ops().len(),
        1,
        "a stranger's withdrawal changes nothing"
    );
    w.queue.handle_withdraw(w.now, node("web2"), &other);
    w.drain();
    w.run(Duration::from_secs(30));
    assert!(w.calls.is_empty());
    assert!(matches!(w.finished[0].outcome, Outcome::Cancelled(_)));
}

#[test]
fn a_withdrawal_read_before_the_driver_took_the_call_means_no_call() {
    let mut w = World::new(cfg(), &[("ipmi2", Behaviour::Works)]);
    let now = w.now;
    // web1 has no static delay: its first level is called at once.
    w.queue
        .handle_request(now, node("web1"), FenceAction::Off, cluster())
        .expect("accepted");
    // The driver reads the queued withdrawal before it carries out the call.
    w.queue.handle_withdraw(now, node("web1"), &cluster());
    w.drain();
    w.run(Duration::from_secs(30));
    assert!(w.calls.is_empty(), "{:?}", w.calls);
    assert!(matches!(w.finished[0].outcome, Outcome::Cancelled(_)));
}

#[test]
fn after_a_stall_cluster_calls_wait_for_rejoins_to_be_told() {
    let mut w = World::new(
        cfg(),
        &[
            ("ipmi1", Behaviour::FailsTimes(1)),
            ("pduA", Behaviour::Works),
            ("pduB", Behaviour::Works),
        ],
    );
    w.request("web1", FenceAction::Off, cluster())
        .expect("accepted");
    assert_eq!(w.calls.len(), 1);
    // fenced stalls; the failed call's result and the victim's rejoin wait in its queue.
    w.queue.handle_stall(w.now);
    w.run(Duration::from_millis(500));
    assert_eq!(w.calls.len(), 1, "the retry waits: {:?}", w.calls);
    w.queue.handle_rejoin(w.now, node("web1"));
    w.drain();
    w.run(Duration::from_secs(30));
    assert_eq!(w.calls.len(), 1, "no call after the rejoin");
    assert!(matches!(w.finished[0].outcome, Outcome::Cancelled(_)));
}

#[test]
fn a_stall_delays_a_cluster_call_but_not_for_ever() {
    let mut w = World::new(cfg(), &[("ipmi1", Behaviour::Works)]);
    w.queue.handle_stall(w.now);
    w.request("web1", FenceAction::Off, cluster())
        .expect("accepted");
    assert!(w.calls.is_empty());
    let wake = w
        .queue
        .poll_timeout()
        .expect("a timer for the end of the hold");
    assert!(wake > w.now);
    w.run(Duration::from_secs(3));
    assert_eq!(w.calls.len(), 1);
    assert_eq!(w.finished[0].outcome, Outcome::Fenced);
}

#[test]
fn quorum_not_confirmed_again_expires_and_cluster_fencing_waits() {
    let mut c = cfg();
    c.quorum_ttl = Some(Duration::from_secs(15));
    let mut w = World::new(c, &[("ipmi1", Behaviour::Works)]);
    // Told quorate at the start; 20 s later nobody has said it again.
    w.run(Duration::from_secs(20));
    w.request("web1", FenceAction::Off, cluster())
        .expect("accepted");
    assert!(!w.queue.is_quorate());
    w.run(Duration::from_secs(5));
    assert!(
        w.calls.is_empty(),
        "no cluster fence without a fresh quorum"
    );
    w.queue.handle_quorum(w.now, true);
    w.drain();
    w.run(Duration::from_secs(5));
    assert_eq!(w.calls.len(), 1);
}

#[test]
fn an_acknowledgement_ends_an_endless_operation() {
    let mut w = World::new(
        cfg(),
        &[
            ("ipmi1", Behaviour::Fails),
            ("pduA", Behaviour::Fails),
            ("pduB", Behaviour::Fails),
        ],
    );
    w.request("web1", FenceAction::Off, cluster())
        .expect("accepted");
    w.run(Duration::from_secs(120));
    assert!(w.finished.is_empty(), "it keeps trying");
    assert_eq!(w.queue.ops().len(), 1);
    w.queue.handle_ack(w.now, node("web1"), "root".into());
    w.drain();
    assert_eq!(w.finished[0].outcome, Outcome::Acknowledged("root".into()));
    assert!(w.queue.ops().is_empty());
}

#[test]
fn unfencing_switches_the_nodes_ports_back_on_and_is_refused_while_fencing() {
    let mut w = World::new(
        cfg(),
        &[
            ("ipmi1", Behaviour::Fails),
            ("pduA", Behaviour::Fails),
            ("pduB", Behaviour::Fails),
            ("san", Behaviour::Works),
        ],
    );
    w.request("web1", FenceAction::Off, cluster())
        .expect("accepted");
    assert_eq!(
        w.request("web1", FenceAction::On, admin()),
        Err(RequestError::FencingInProgress(node("web1")))
    );
    w.queue.handle_ack(w.now, node("web1"), "root".into());
    w.drain();
    w.request("web1", FenceAction::On, admin())
        .expect("accepted");
    w.run(Duration::from_secs(10));
    let last = w.calls.last().expect("calls");
    assert_eq!(
        (last.1.as_str(), last.2, last.3.as_str()),
        ("san", DeviceAction::On, "7")
    );
    assert_eq!(
        w.finished.last().map(|r| r.outcome.clone()),
        Some(Outcome::Unfenced)
    );
    assert_eq!(
        w.request("web2", FenceAction::On, admin()),
        Err(RequestError::NothingToUnfence(node("web2")))
    );
}

#[test]
fn unfencing_gives_up_after_its_rounds() {
    let mut w = World::new(cfg(), &[("san", Behaviour::Fails)]);
    w.request("web1", FenceAction::On, admin())
        .expect("accepted");
    w.run(Duration::from_secs(300));
    assert!(matches!(w.finished[0].outcome, Outcome::Failed(_)));
}

#[test]
fn a_shared_device_runs_one_call_at_a_time() {
    let mut t = topology();
    t.nodes.get_mut(&node("web2")).expect("web2").levels[0].devices = vec![dev("ipmi1", "web2")];
    t.nodes.get_mut(&node("web2")).expect("web2").delay = Duration::ZERO;
    let mut w = World::new(QueueConfig::new(t, 1), &[("ipmi1", Behaviour::Works)]);
    w.request("web1", FenceAction::Off, admin())
        .expect("accepted");
    w.request("web2", FenceAction::Off, admin())
        .expect("accepted");
    w.run(Duration::from_secs(10));
    assert_eq!(w.calls.len(), 2);
    assert_eq!(
        w.calls[1].0.since(w.calls[0].0),
        Duration::from_millis(200),
        "the second waits for the first"
    );
    assert_eq!(w.finished.len(), 2);
}

#[test]
fn unknown_nodes_are_refused() {
    let mut w = World::new(cfg(), &[]);
    assert_eq!(
        w.request("db9", FenceAction::Off, admin()),
        Err(RequestError::UnknownNode(node("db9")))
    );
}

/// Random requests, quorum flips, rejoins and acknowledgements against devices that fail
/// at random. On every dispatch (checked by the world): no cluster-origin fence call while
/// inquorate, at most one call in flight per device. After every step: at most one
/// operation per victim. At the end, with quorum and working devices, every operation
/// finishes.
#[test]
fn random_schedules_keep_the_queue_invariants() {
    use rand::{Rng, SeedableRng};
    for seed in plumbing::seeds::seeds(2000) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut c = cfg();
        c.rng_seed = seed;
        c.random_delay_max = Duration::from_secs(rng.random_range(0..3));
        c.post_fail_delay = Duration::from_secs(rng.random_range(0..2));
        let behaviours = [
            Behaviour::Works,
            Behaviour::Fails,
            Behaviour::FailsTimes(2),
            Behaviour::OnFails,
        ];
        let pick =
            |rng: &mut rand_chacha::ChaCha8Rng| behaviours[rng.random_range(0..behaviours.len())];
        let devices: Vec<(&str, Behaviour)> = ["ipmi1", "pduA", "pduB", "ipmi2", "san"]
            .into_iter()
            .map(|d| (d, pick(&mut rng)))
            .collect();
        let mut w = World::new(c, &devices);
        w.latency = Duration::from_millis(rng.random_range(10..3000));
        for _ in 0..rng.random_range(5..30) {
            let target = if rng.random_bool(0.5) { "web1" } else { "web2" };
            match rng.random_range(0..10) {
                0..=3 => {
                    let action = [FenceAction::Off, FenceAction::Reboot, FenceAction::On]
                        [rng.random_range(0..3)];
                    let origin = if rng.random_bool(0.7) {
                        cluster()
                    } else {
                        admin()
                    };
                    let _ = w.request(target, action, origin);
                }
                4 | 5 => {
                    let q = rng.random_bool(0.6);
                    w.queue.handle_quorum(w.now, q);
                    w.drain();
                }
                6 => {
                    w.queue.handle_rejoin(w.now, node(target));
                    w.drain();
                }
                7 => {
                    w.queue.handle_ack(w.now, node(target), "root".into());
                    w.drain();
                }
                _ => {}
            }
            w.run(Duration::from_millis(rng.random_range(0..20_000)));
            for op in w.queue.ops() {
                let targets = w
                    .queue
                    .ops()
                    .iter()
                    .filter(|o| o.target == op.target)
                    .count();
                assert_eq!(targets, 1, "seed {seed}: one operation per victim");
            }
        }
        // Heal everything: every operation must finish.
        for b in w.devices.values_mut() {
            *b = Behaviour::Works;
        }
        w.queue.handle_quorum(w.now, true);
        w.drain();
        w.run(Duration::from_secs(600));
        assert!(
            w.queue.ops().is_empty(),
            "seed {seed}: left {:?}",
            w.queue.ops()
        );
        for r in &w.finished {
            if matches!(r.origin, Origin::Cluster(_)) && r.outcome == Outcome::Fenced {
                assert!(
                    !r.attempts.is_empty(),
                    "seed {seed}: fenced without a device call"
                );
            }
        }
    }
}

#[test]
fn nodes_missing_at_the_first_quorate_membership_are_fenced_after_post_join_delay_unless_they_join()
{
    let mut c = cfg();
    c.post_join_delay = Duration::from_secs(6);
    let mut w = World::new(
        c.clone(),
        &[("ipmi1", Behaviour::Works), ("ipmi2", Behaviour::Works)],
    );
    // World::new made the partition quorate; membership arrives: only web2 is up.
    let members = [node("web2")].into_iter().collect();
    w.queue.handle_membership(w.now, members);
    w.drain();
    w.run(Duration::from_secs(3));
    assert!(w.calls.is_empty(), "waits post_join_delay");
    w.run(Duration::from_secs(10));
    assert_eq!(w.calls.len(), 1);
    assert_eq!(w.calls[0].1, "ipmi1", "web1 never joined: fenced");
    assert_eq!(
        w.finished[0].origin,
        Origin::Cluster("startup fencing".into())
    );

    // web1 joins within the delay: averted.
    let mut w = World::new(
        c.clone(),
        &[("ipmi1", Behaviour::Works), ("ipmi2", Behaviour::Works)],
    );
    w.queue
        .handle_membership(w.now, [node("web2")].into_iter().collect());
    w.drain();
    w.run(Duration::from_secs(3));
    w.queue
        .handle_membership(w.now, [node("web1"), node("web2")].into_iter().collect());
    w.drain();
    w.run(Duration::from_secs(20));
    assert!(w.calls.is_empty());
    assert!(matches!(w.finished[0].outcome, Outcome::Cancelled(_)));

    // clean_start: nobody is fenced at start.
    c.clean_start = true;
    let mut w = World::new(
        c,
        &[("ipmi1", Behaviour::Works), ("ipmi2", Behaviour::Works)],
    );
    w.queue
        .handle_membership(w.now, [node("web2")].into_iter().collect());
    w.drain();
    w.run(Duration::from_secs(20));
    assert!(w.calls.is_empty() && w.finished.is_empty());
}
