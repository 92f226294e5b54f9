//! Unit tests, one rule each.

use std::time::Duration;

use super::*;

const A: &str = "a";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at(n: u64) -> Time {
    Time::from_millis(n)
}

fn name(n: &str) -> NodeName {
    NodeName::new(n)
}

fn uuid(n: u8) -> NodeUuid {
    NodeUuid([n; 16])
}

fn cfg(peers: &[&str], pings: &[&str]) -> MembershipConfig {
    let mut nodes = vec![name(A)];
    nodes.extend(peers.iter().map(|p| name(p)));
    MembershipConfig {
        keepalive: ms(1000),
        deadtime: ms(4000),
        warntime: ms(2500),
        initdead: ms(10_000),
        deadping: ms(3000),
        max_rexmit_delay: ms(250),
        nodes,
        ping_nodes: pings.iter().map(|p| name(p)).collect(),
        links: 2,
        quorum: QuorumConfig::default(),
        rng_seed: 7,
    }
}

fn core(peers: &[&str]) -> Membership {
    Membership::new(cfg(peers, &[]), name(A), uuid(1), 100, Time::ZERO)
}

/// Runs the core's timers up to `t` as a driver does (every timeout it asks for), then
/// ticks at `t`; the actions stay queued.
fn run_to(m: &mut Membership, t: u64) {
    while let Some(next) = m.poll_timeout().filter(|n| *n < at(t)) {
        m.on_tick(next);
    }
    m.on_tick(at(t));
}

fn drain(m: &mut Membership) -> Vec<Action> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

fn events(actions: &[Action]) -> Vec<Event> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn has(actions: &[Action], e: &Event) -> bool {
    events(actions).contains(e)
}

fn pkt(from: &str, generation: u64, seq: u64, kind: IncomingKind) -> Incoming {
    let n = from.as_bytes()[0];
    Incoming {
        from: name(from),
        uuid: Some(uuid(n)),
        generation,
        seq: Some(seq),
        dest: None,
        kind,
    }
}

fn status(from: &str, generation: u64, seq: u64) -> Incoming {
    pkt(
        from,
        generation,
        seq,
        IncomingKind::Status {
            state: PeerState::Active,
            deadtime: Some(ms(4000)),
            hears: None,
        },
    )
}

fn cluster(from: &str, generation: u64, seq: u64, h: u64) -> Incoming {
    pkt(
        from,
        generation,
        seq,
        IncomingKind::Cluster {
            handle: MsgHandle(h),
        },
    )
}

fn ns(from: &str, kind: IncomingKind) -> Incoming {
    Incoming {
        from: name(from),
        uuid: None,
        generation: 0,
        seq: None,
        dest: Some(name(A)),
        kind,
    }
}

fn dead(node: &str, reason: DeadReason) -> Event {
    Event::NodeDead {
        node: name(node),
        reason,
    }
}

fn delivered(actions: &[Action]) -> Vec<u64> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Deliver { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect()
}

/// `a` with peer `b` heard (generation 5, seq 1), comm up; actions drained.
fn with_b() -> Membership {
    let mut m = core(&["b"]);
    m.on_packet(at(10), LinkId(0), status("b", 5, 1));
    drain(&mut m);
    m
}

#[test]
fn start_is_up_with_a_status_then_active_at_comm_up() {
    let mut m = core(&["b"]);
    let first = drain(&mut m);
    assert_eq!(first[0], Action::Event(Event::LocalState(LocalState::Up)));
    assert_eq!(
        first[1],
        Action::SendStatus {
            seq: 1,
            state: PeerState::Up,
            deadtime: ms(6000)
        },
        "deadtime + 2 s during the first 5 s"
    );
    assert!(!m.comm_is_up());
    m.on_packet(at(100), LinkId(0), status("b", 5, 1));
    let a = drain(&mut m);
    let ev = events(&a);
    assert!(ev.contains(&Event::NodeUp { node: name("b") }));
    assert!(ev.contains(&Event::NodeActive { node: name("b") }));
    assert!(ev.contains(&Event::CommUp));
    assert!(ev.contains(&Event::LocalState(LocalState::Active)));
    assert!(a.contains(&Action::SendStatus {
        seq: 2,
        state: PeerState::Active,
        deadtime: ms(6000)
    }));
    assert_eq!(m.local_state(), LocalState::Active);
    // Every keepalive after that.
    m.on_tick(at(1100));
    assert!(drain(&mut m)
        .iter()
        .any(|a| matches!(a, Action::SendStatus { seq: 3, .. })));
    m.on_tick(at(6100));
    assert!(drain(&mut m).contains(&Action::SendStatus {
        seq: 4,
        state: PeerState::Active,
        deadtime: ms(4000)
    }));
}

#[test]
fn never_heard_nodes_are_declared_dead_at_initdead_then_comm_is_up() {
    let mut m = core(&["b", "c"]);
    m.on_packet(at(100), LinkId(0), status("b", 5, 1));
    drain(&mut m);
    // b keeps talking; c never does.
    for i in 1..10 {
        run_to(&mut m, i * 1000);
        m.on_packet(at(i * 1000), LinkId(0), status("b", 5, 1 + i));
    }
    run_to(&mut m, 10_000);
    assert!(!m.comm_is_up(), "initdead is not over yet");
    let a = drain(&mut m);
    assert!(!events(&a)
        .iter()
        .any(|e| matches!(e, Event::NodeDead { .. })));
    m.on_tick(at(10_001));
    let a = drain(&mut m);
    assert!(has(&a, &dead("c", DeadReason::NeverHeard)));
    assert!(has(&a, &Event::CommUp));
    assert_eq!(m.status_of(&name("c")), Some(NodeStatus::Dead));
    assert_eq!(m.status_of(&name("b")), Some(NodeStatus::Active));
}

#[test]
fn a_peer_is_dead_after_its_advertised_deadtime_and_not_before() {
    let mut m = with_b();
    let mut s = status("b", 5, 2);
    s.kind = IncomingKind::Status {
        state: PeerState::Active,
        deadtime: Some(ms(3000)),
        hears: None,
    };
    m.on_packet(at(1000), LinkId(0), s);
    drain(&mut m);
    assert_eq!(m.node(&name("b")).map(|n| n.deadtime), Some(ms(3000)));
    run_to(&mut m, 4000);
    assert!(!has(&drain(&mut m), &dead("b", DeadReason::Timeout)));
    let wake = m.poll_timeout().expect("a timer");
    assert!(wake <= at(4001), "{wake:?}");
    m.on_tick(at(4001));
    let a = drain(&mut m);
    assert!(has(&a, &dead("b", DeadReason::Timeout)));
    assert!(has(
        &a,
        &Event::LinkDead {
            node: name("b"),
            link: LinkId(0)
        }
    ));
}

#[test]
fn a_late_heartbeat_is_reported() {
    let mut m = with_b();
    m.on_packet(at(2000), LinkId(0), status("b", 5, 2));
    assert!(!events(&drain(&mut m))
        .iter()
        .any(|e| matches!(e, Event::LateHeartbeat { .. })));
    m.on_packet(at(5000), LinkId(0), status("b", 5, 3));
    assert!(has(
        &drain(&mut m),
        &Event::LateHeartbeat {
            node: name("b"),
            interval: ms(3000)
        }
    ));
}

#[test]
fn a_link_cut_alone_only_kills_the_link() {
    let mut m = with_b();
    m.on_packet(at(20), LinkId(1), status("b", 5, 1));
    assert!(has(
        &drain(&mut m),
        &Event::LinkUp {
            node: name("b"),
            link: LinkId(1)
        }
    ));
    for i in 1..12u64 {
        m.on_packet(at(i * 1000), LinkId(1), status("b", 5, 1 + i));
        m.on_tick(at(i * 1000 + 1));
    }
    let a = drain(&mut m);
    assert!(has(
        &a,
        &Event::LinkDead {
            node: name("b"),
            link: LinkId(0)
        }
    ));
    assert!(!events(&a)
        .iter()
        .any(|e| matches!(e, Event::NodeDead { .. })));
    let view = m.node(&name("b")).expect("b");
    assert_eq!(view.links, vec![LinkStatus::Dead, LinkStatus::Up]);
    assert_eq!(view.status, NodeStatus::Active);
}

#[test]
fn a_replayed_older_generation_is_rejected_and_changes_nothing() {
    let mut m = with_b();
    run_to(&mut m, 4000);
    m.on_packet(at(4000), LinkId(0), status("b", 5, 2));
    run_to(&mut m, 9000);
    drain(&mut m);
    assert_eq!(m.status_of(&name("b")), Some(NodeStatus::Dead));
    for kind in [
        IncomingKind::Status {
            state: PeerState::Active,
            deadtime: None,
            hears: None,
        },
        IncomingKind::Shutdone,
        IncomingKind::Cluster {
            handle: MsgHandle(9),
        },
    ] {
        m.on_packet(at(9100), LinkId(0), pkt("b", 4, 999, kind.clone()));
        let a = drain(&mut m);
        let expected_discard = matches!(kind, IncomingKind::Cluster { .. });
        let mut want = vec![Action::Event(Event::ReplayRejected {
            node: name("b"),
            generation: 4,
            current: 5,
        })];
        if expected_discard {
            want.push(Action::Discard {
                handle: MsgHandle(9),
            });
        }
        assert_eq!(a, want);
    }
    assert_eq!(m.status_of(&name("b")), Some(NodeStatus::Dead));
}

#[test]
fn a_stale_same_generation_status_does_not_revive_a_dead_node() {
    let mut m = with_b();
    m.on_packet(at(1000), LinkId(0), status("b", 5, 2));
    run_to(&mut m, 6000);
    drain(&mut m);
    m.on_packet(at(6100), LinkId(0), status("b", 5, 2));
    m.on_packet(at(6100), LinkId(0), status("b", 5, 1));
    assert_eq!(drain(&mut m), vec![]);
    assert_eq!(m.status_of(&name("b")), Some(NodeStatus::Dead));
    // A newer one: the partition healed.
    m.on_packet(at(6200), LinkId(0), status("b", 5, 9));
    let a = drain(&mut m);
    assert!(has(&a, &Event::ReturningAfterPartition { node: name("b") }));
    assert!(has(&a, &Event::NodeUp { node: name("b") }));
}

#[test]
fn a_higher_generation_is_a_restart() {
    let mut m = with_b();
    m.on_packet(at(500), LinkId(0), status("b", 5, 40));
    drain(&mut m);
    m.on_packet(at(1000), LinkId(0), status("b", 6, 1));
    let a = drain(&mut m);
    assert!(has(
        &a,
        &Event::HeartbeatRestart {
            node: name("b"),
            old: 5,
            new: 6
        }
    ));
    assert!(!events(&a)
        .iter()
        .any(|e| matches!(e, Event::PacketsLost { .. })));
    assert_eq!(m.node(&name("b")).map(|n| n.generation), Some(6));
    // Non-status packets of a newer generation wait for its status.
    m.on_packet(at(1100), LinkId(0), cluster("b", 7, 2, 3));
    assert_eq!(
        drain(&mut m),
        vec![Action::Discard {
            handle: MsgHandle(3)
        }]
    );
}

#[test]
fn shutdone_makes_the_node_dead_at_once() {
    let mut m = with_b();
    m.on_packet(at(500), LinkId(0), pkt("b", 5, 2, IncomingKind::Shutdone));
    assert!(has(&drain(&mut m), &dead("b", DeadReason::Left)));
    assert_eq!(m.status_of(&name("b")), Some(NodeStatus::Dead));
}

#[test]
fn leaving_sends_shutdone_and_stops() {
    let mut m = with_b();
    let seq = m.send_cluster(at(100), MsgHandle(1), None).expect("sent");
    assert_eq!(seq, m.last_seq());
    drain(&mut m);
    m.leave(at(200));
    let a = drain(&mut m);
    assert!(a.contains(&Action::SendShutdone { seq: seq + 1 }));
    assert!(a.contains(&Action::Release {
        handle: MsgHandle(1)
    }));
    assert_eq!(m.local_state(), LocalState::Left);
    assert_eq!(m.poll_timeout(), None);
    assert_eq!(m.send_cluster(at(300), MsgHandle(2), None), None);
    m.on_packet(at(300), LinkId(0), cluster("b", 5, 2, 4));
    assert_eq!(
        drain(&mut m),
        vec![Action::Discard {
            handle: MsgHandle(4)
        }]
    );
}

#[test]
fn a_gap_is_requested_after_a_random_delay_and_delivery_waits_for_it() {
    let mut m = with_b();
    m.on_packet(at(100), LinkId(0), cluster("b", 5, 2, 2));
    assert_eq!(delivered(&drain(&mut m)), vec![2]);
    m.on_packet(at(200), LinkId(0), cluster("b", 5, 5, 5));
    let a = drain(&mut m);
    assert!(has(
        &a,
        &Event::PacketsLost {
            node: name("b"),
            first: 3,
            last: 4
        }
    ));
    assert!(delivered(&a).is_empty(), "5 waits for 3 and 4");
    assert_eq!(m.pending_deliveries(), 1);
    let wake = m.poll_timeout().expect("timer");
    assert!(wake >= at(250) && wake <= at(450), "{wake:?}");
    m.on_tick(at(450));
    let reqs: Vec<_> = drain(&mut m)
        .into_iter()
        .filter(|a| matches!(a, Action::SendRexmitRequest { .. }))
        .collect();
    assert_eq!(
        reqs,
        vec![
            Action::SendRexmitRequest {
                to: name("b"),
                seq: 3
            },
            Action::SendRexmitRequest {
                to: name("b"),
                seq: 4
            }
        ]
    );
    // Re-requested every max_rexmit_delay while missing.
    m.on_tick(at(700));
    assert_eq!(
        drain(&mut m)
            .iter()
            .filter(|a| matches!(a, Action::SendRexmitRequest { .. }))
            .count(),
        2
    );
    m.on_packet(at(710), LinkId(1), cluster("b", 5, 4, 4));
    assert!(delivered(&drain(&mut m)).is_empty());
    m.on_packet(at(720), LinkId(0), cluster("b", 5, 3, 3));
    assert_eq!(delivered(&drain(&mut m)), vec![3, 4, 5]);
    // A duplicate is discarded.
    m.on_packet(at(730), LinkId(0), cluster("b", 5, 4, 44));
    assert_eq!(
        drain(&mut m),
        vec![Action::Discard {
            handle: MsgHandle(44)
        }]
    );
}

#[test]
fn a_nak_gives_the_hole_up_and_releases_what_waited() {
    let mut m = with_b();
    m.on_packet(at(100), LinkId(0), cluster("b", 5, 3, 3));
    drain(&mut m);
    m.on_packet(
        at(150),
        LinkId(0),
        ns("b", IncomingKind::NakRexmit { seq: 2 }),
    );
    let a = drain(&mut m);
    assert!(has(
        &a,
        &Event::IrretrievablyLost {
            node: name("b"),
            seq: 2
        }
    ));
    assert_eq!(delivered(&a), vec![3]);
}

#[test]
fn a_gap_over_250_resets_tracking() {
    let mut m = with_b();
    m.on_packet(at(100), LinkId(0), cluster("b", 5, 300, 1));
    let a = drain(&mut m);
    assert!(has(
        &a,
        &Event::TooManyLost {
            node: name("b"),
            gap: 298
        }
    ));
    assert_eq!(delivered(&a), vec![300]);
    m.on_tick(at(1000));
    assert!(!drain(&mut m)
        .iter()
        .any(|a| matches!(a, Action::SendRexmitRequest { .. })));
}

#[test]
fn messages_not_for_us_are_tracked_but_not_delivered() {
    let mut m = with_b();
    let mut p = cluster("b", 5, 2, 2);
    p.dest = Some(name("c"));
    m.on_packet(at(100), LinkId(0), p);
    assert_eq!(
        drain(&mut m),
        vec![Action::Discard {
            handle: MsgHandle(2)
        }]
    );
    m.on_packet(at(110), LinkId(0), cluster("b", 5, 3, 3));
    let a = drain(&mut m);
    assert_eq!(delivered(&a), vec![3]);
    assert!(!events(&a)
        .iter()
        .any(|e| matches!(e, Event::PacketsLost { .. })));
}

#[test]
fn acks_follow_the_random_trigger() {
    let mut m = with_b();
    let mut acks = Vec::new();
    for seq in 2..=41 {
        m.on_packet(at(seq * 10), LinkId(0), cluster("b", 5, seq, seq));
        for a in drain(&mut m) {
            if let Action::SendAck { to, seq } = a {
                assert_eq!(to, name("b"));
                acks.push(seq);
            }
        }
    }
    assert_eq!(acks.len(), 4, "{acks:?}");
    let trigger = acks[0] % 10;
    assert!(acks.iter().all(|s| s % 10 == trigger), "{acks:?}");
}

#[test]
fn retransmission_requests_are_served_once_per_period_and_nakked_when_gone() {
    let mut m = with_b();
    m.send_cluster(at(100), MsgHandle(7), None);
    let seq = m.last_seq();
    drain(&mut m);
    let req = |first, last| ns("b", IncomingKind::Rexmit { first, last });
    m.on_packet(at(500), LinkId(0), req(seq, seq));
    assert_eq!(
        drain(&mut m),
        vec![Action::Retransmit {
            seq,
            to: name("b"),
            msg: Sent::Cluster {
                handle: MsgHandle(7)
            },
            dest: None
        }]
    );
    m.on_packet(at(600), LinkId(0), req(seq, seq));
    assert_eq!(
        drain(&mut m),
        vec![],
        "not twice within max_rexmit_delay - 10 ms"
    );
    m.on_packet(at(800), LinkId(0), req(seq + 5, seq + 5));
    assert_eq!(
        drain(&mut m),
        vec![Action::SendNak {
            to: name("b"),
            seq: seq + 5
        }]
    );
    // The ACK trims the history (releasing the payload); later requests are ignored.
    m.on_packet(at(900), LinkId(0), ns("b", IncomingKind::Ack { seq }));
    assert_eq!(
        drain(&mut m),
        vec![Action::Release {
            handle: MsgHandle(7)
        }]
    );
    assert_eq!(m.history_len(), 0);
    m.on_packet(at(1200), LinkId(0), req(seq, seq));
    assert_eq!(drain(&mut m), vec![]);
    // Addressed to someone else: ignored.
    let mut other = req(1, 1);
    other.dest = Some(name("c"));
    m.on_packet(at(1300), LinkId(0), other);
    assert_eq!(drain(&mut m), vec![]);
}

#[test]
fn a_clone_of_our_uuid_is_reported_once_and_still_tracked_by_name() {
    let mut m = core(&["b"]);
    drain(&mut m);
    let mut s = status("b", 5, 1);
    s.uuid = Some(uuid(1));
    m.on_packet(at(10), LinkId(0), s.clone());
    let a = drain(&mut m);
    assert!(has(
        &a,
        &Event::UuidClash(UuidClash::OurUuid { name: name("b") })
    ));
    assert_eq!(m.status_of(&name("b")), Some(NodeStatus::Active));
    s.seq = Some(2);
    m.on_packet(at(20), LinkId(0), s);
    assert!(!events(&drain(&mut m))
        .iter()
        .any(|e| matches!(e, Event::UuidClash(_))));
}

#[test]
fn our_name_with_another_identity_is_dropped_and_reported() {
    let mut m = core(&["b"]);
    drain(&mut m);
    let mut s = status(A, 100, 1);
    s.uuid = Some(uuid(1));
    m.on_packet(at(10), LinkId(0), s.clone());
    assert_eq!(drain(&mut m), vec![], "our own echo");
    s.uuid = Some(uuid(9));
    m.on_packet(at(20), LinkId(0), s);
    assert_eq!(
        events(&drain(&mut m)),
        vec![Event::UuidClash(UuidClash::OurName {
            uuid: Some(uuid(9)),
            generation: 100
        })]
    );
}

#[test]
fn two_peers_sharing_a_uuid_are_reported_and_both_stay_up() {
    let mut m = core(&["b", "c"]);
    drain(&mut m);
    m.on_packet(at(10), LinkId(0), status("b", 5, 1));
    let mut c = status("c", 9, 1);
    c.uuid = Some(uuid(b'b'));
    m.on_packet(at(20), LinkId(0), c);
    let a = drain(&mut m);
    assert!(has(
        &a,
        &Event::UuidClash(UuidClash::Shared {
            uuid: uuid(b'b'),
            first: name("b"),
            second: name("c")
        })
    ));
    assert_eq!(m.status_of(&name("b")), Some(NodeStatus::Active));
    assert_eq!(m.status_of(&name("c")), Some(NodeStatus::Active));
}

#[test]
fn unknown_nodes_are_dropped_and_reported_once() {
    let mut m = with_b();
    m.on_packet(at(10), LinkId(0), cluster("z", 1, 1, 1));
    let a = drain(&mut m);
    assert!(has(&a, &Event::UnknownNode { name: name("z") }));
    assert!(a.contains(&Action::Discard {
        handle: MsgHandle(1)
    }));
    m.on_packet(at(20), LinkId(0), status("z", 1, 2));
    assert_eq!(drain(&mut m), vec![]);
}

#[test]
fn ping_nodes_live_within_deadping_and_count_for_quorum() {
    let mut m = Membership::new(cfg(&["b"], &["10.0.0.254"]), name(A), uuid(1), 1, at(0));
    let gw = name("10.0.0.254");
    drain(&mut m);
    assert_eq!(
        m.quorum(),
        QuorumStatus {
            votes: 1,
            expected: 3,
            quorate: false
        }
    );
    m.on_ping_reply(at(100), &gw);
    let a = drain(&mut m);
    assert!(has(&a, &Event::PingNodeUp { node: gw.clone() }));
    assert!(has(
        &a,
        &Event::QuorumChanged(QuorumStatus {
            votes: 2,
            expected: 3,
            quorate: true
        })
    ));
    run_to(&mut m, 3100);
    assert_eq!(m.status_of(&gw), Some(NodeStatus::Ping));
    m.on_tick(at(3101));
    let a = drain(&mut m);
    assert!(has(&a, &Event::PingNodeDead { node: gw.clone() }));
    assert!(!m.quorum().quorate);
}

#[test]
fn the_quorum_disk_breaks_a_two_node_tie() {
    let mut c = cfg(&["b"], &[]);
    c.quorum.qdisk_votes = 1;
    let mut m = Membership::new(c, name(A), uuid(1), 1, at(0));
    m.on_packet(at(10), LinkId(0), status("b", 5, 1));
    m.on_qdisk(
        at(20),
        QdiskVotes {
            votes: 1,
            held: true,
        },
        Some(name(A)),
    );
    assert_eq!(m.quorum().votes, 3);
    run_to(&mut m, 20_000);
    drain(&mut m);
    assert_eq!(m.status_of(&name("b")), Some(NodeStatus::Dead));
    assert_eq!(
        m.quorum(),
        QuorumStatus {
            votes: 2,
            expected: 3,
            quorate: true
        }
    );
    m.on_qdisk(
        at(20_100),
        QdiskVotes {
            votes: 1,
            held: false,
        },
        Some(name(A)),
    );
    let a = drain(&mut m);
    assert!(has(
        &a,
        &Event::QuorumChanged(QuorumStatus {
            votes: 1,
            expected: 3,
            quorate: false
        })
    ));
}

#[test]
fn a_stalled_local_process_is_reported_and_judges_nobody_until_it_could_hear_again() {
    let mut m = with_b();
    // Nothing ran for 9 s: b's last status (at 10 ms) looks old, but only because this
    // process did not read what b sent meanwhile.
    m.on_tick(at(9000));
    let a = drain(&mut m);
    assert!(has(&a, &Event::NoLocalHeartbeat { silent: ms(8990) }));
    assert!(has(
        &a,
        &Event::Stalled {
            overdue: ms(7990),
            grace: ms(3500)
        }
    ));
    assert!(!has(&a, &dead("b", DeadReason::Timeout)));
    // The queued status from b arrives: b lives.
    m.on_packet(at(9001), LinkId(0), status("b", 5, 2));
    run_to(&mut m, 12_501);
    assert!(!has(&drain(&mut m), &dead("b", DeadReason::Timeout)));
    assert_eq!(m.status_of(&name("b")), Some(NodeStatus::Active));
}

#[test]
fn after_a_stall_a_peer_that_stays_silent_is_dead_once_the_grace_ends() {
    let mut m = with_b();
    m.on_tick(at(9000));
    drain(&mut m);
    let wake = m.poll_timeout().expect("a timer");
    assert!(wake > at(9000), "no timer at or before now: {wake:?}");
    run_to(&mut m, 12_499);
    assert!(!has(&drain(&mut m), &dead("b", DeadReason::Timeout)));
    run_to(&mut m, 12_500);
    assert!(has(&drain(&mut m), &dead("b", DeadReason::Timeout)));
}

#[test]
fn out_of_range_links_and_missing_seqs_are_dropped() {
    let mut m = with_b();
    m.on_packet(at(10), LinkId(7), cluster("b", 5, 2, 2));
    assert_eq!(
        drain(&mut m),
        vec![Action::Discard {
            handle: MsgHandle(2)
        }]
    );
    let mut p = cluster("b", 5, 2, 3);
    p.seq = None;
    m.on_packet(at(10), LinkId(0), p);
    assert_eq!(
        drain(&mut m),
        vec![Action::Discard {
            handle: MsgHandle(3)
        }]
    );
}

fn status_hearing(from: &str, generation: u64, seq: u64, hears: &[&str]) -> Incoming {
    pkt(
        from,
        generation,
        seq,
        IncomingKind::Status {
            state: PeerState::Active,
            deadtime: Some(ms(4000)),
            hears: Some(hears.iter().map(|n| name(n)).collect()),
        },
    )
}

#[test]
fn a_peer_that_stops_hearing_us_leaves_the_members_after_its_deadtime() {
    let mut m = core(&["b"]);
    m.on_packet(at(10), LinkId(0), status_hearing("b", 5, 1, &[]));
    drain(&mut m);
    // b just started: it has its deadtime to list us.
    run_to(&mut m, 1000);
    m.on_packet(at(1000), LinkId(0), status_hearing("b", 5, 2, &["a"]));
    assert!(m.quorum().quorate);
    // From now on b hears nobody (our packets no longer reach it); we still hear it.
    for i in 2..6u64 {
        run_to(&mut m, i * 1000);
        m.on_packet(at(i * 1000), LinkId(0), status_hearing("b", 5, 1 + i, &[]));
    }
    let a = drain(&mut m);
    assert!(!has(&a, &Event::NotHearingUs { node: name("b") }));
    run_to(&mut m, 5001);
    let a = drain(&mut m);
    assert!(has(&a, &Event::NotHearingUs { node: name("b") }), "{a:?}");
    assert_eq!(
        m.status_of(&name("b")),
        Some(NodeStatus::Active),
        "still alive"
    );
    assert!(
        !m.quorum().quorate,
        "a peer that does not hear us brings no vote"
    );
    assert!(m.hearing().contains(&name("b")), "we still say we hear b");
    m.on_packet(at(5100), LinkId(0), status_hearing("b", 5, 7, &["a"]));
    assert!(has(
        &drain(&mut m),
        &Event::HearingUsAgain { node: name("b") }
    ));
    assert!(m.quorum().quorate);
}

/// Seen in the lab (chaos seed 104): web1 stops listing web2 (a one-way cut), then web2's
/// own link goes down (web1 fenced it at the switch). web2 hears nothing more, from web1 or
/// the ping node; it must not judge web1 "not hearing us" on web1's stale last status while
/// its ping vote has not expired yet: it would be quorate for that instant and fence web1.
/// web1 takes the ordinary way to dead instead, with the ping node.
#[test]
fn a_peer_we_no_longer_hear_is_not_judged_deaf_on_its_stale_status() {
    let mut m = core(&["b"]);
    m.on_packet(at(10), LinkId(0), status_hearing("b", 5, 1, &[]));
    m.on_packet(at(1000), LinkId(0), status_hearing("b", 5, 2, &["a"]));
    // b's last words: it no longer lists us; then nothing more arrives from b at all.
    m.on_packet(at(1500), LinkId(0), status_hearing("b", 5, 3, &[]));
    drain(&mut m);
    run_to(&mut m, 5400);
    let a = drain(&mut m);
    assert!(
        !has(&a, &Event::NotHearingUs { node: name("b") }),
        "judged on a status 3.9 s old: {a:?}"
    );
    run_to(&mut m, 6000);
    let a = drain(&mut m);
    assert!(
        a.iter()
            .any(|a| matches!(a, Action::Event(Event::NodeDead { .. }))),
        "b goes the ordinary way, dead after its deadtime: {a:?}"
    );
}

#[test]
fn a_peer_that_does_not_say_whom_it_hears_is_taken_to_hear_us() {
    let mut m = with_b();
    for i in 1..20u64 {
        run_to(&mut m, i * 1000);
        m.on_packet(at(i * 1000), LinkId(0), status("b", 5, 1 + i));
    }
    assert!(!drain(&mut m)
        .iter()
        .any(|a| matches!(a, Action::Event(Event::NotHearingUs { .. }))));
    assert!(m.quorum().quorate);
}

/// After a stall, the peer's status that arrives first no longer lists us and is older than
/// warntime when the stall's grace ends (the peer is not dead yet): it is not judged deaf
/// then, and no timer may stay at or before now for it (a busy loop, found by the
/// whole-cluster simulation once it had ping nodes).
#[test]
fn a_stall_grace_ending_past_warntime_of_a_status_leaves_no_timer_in_the_past() {
    let mut m = core(&["b"]);
    m.on_packet(at(10), LinkId(0), status_hearing("b", 5, 1, &[]));
    m.on_packet(at(1000), LinkId(0), status_hearing("b", 5, 2, &["a"]));
    run_to(&mut m, 2000);
    drain(&mut m);
    // Nothing ran until 6.5 s; the first thing read is b's status, no longer listing us.
    m.on_packet(at(6500), LinkId(0), status_hearing("b", 5, 3, &[]));
    drain(&mut m);
    let mut now = at(6500);
    while now < at(12_000) {
        let next = m.poll_timeout().expect("a timer");
        assert!(next > now, "a timer at {next:?}, not after {now:?}");
        now = next;
        m.on_tick(now);
        drain(&mut m);
    }
}
