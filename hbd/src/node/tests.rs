//! The node core's own rules, one test each (the whole-cluster simulation runs it with
//! every other core).

use std::time::Duration;

use super::*;
use crate::agents::Outcome as AgentOutcome;
use crate::membership::{QdiskVotes, QuorumConfig};

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn at(v: u64) -> Time {
    Time::from_millis(v)
}

fn name(n: &str) -> NodeName {
    NodeName::new(n)
}

/// Node `a` of a two-node cluster (`a`, `b`) with one group preferring `a`, a quorum disk
/// worth one vote, fenced answering within 10 s.
fn core() -> NodeCore {
    let nodes = vec![name("a"), name("b")];
    let membership = MembershipConfig {
        keepalive: ms(100),
        deadtime: ms(500),
        warntime: ms(300),
        initdead: ms(1000),
        deadping: ms(1000),
        max_rexmit_delay: ms(50),
        nodes: nodes.clone(),
        ping_nodes: Vec::new(),
        links: 1,
        quorum: QuorumConfig {
            qdisk_votes: 1,
            ping_votes: 0,
            ..QuorumConfig::default()
        },
        rng_seed: 1,
    };
    let mut policy = PolicyConfig::new(&name("a"), nodes, &[("g".into(), name("a"))], 1)
        .expect("policy configuration");
    policy.resend_interval = ms(100);
    policy.fence_retry = ms(1000);
    // These tests time the first fence from communication up: no settle time after quorum
    // is gained (the pair below has one).
    policy.quorum_settle = Duration::ZERO;
    NodeCore::new(
        NodeConfig {
            local: name("a"),
            uuid: NodeUuid([1; 16]),
            generation: 1,
            membership,
            policy,
            fenced: Some(Duration::from_secs(10)),
            qdisk_vote_ttl: Some(Duration::from_secs(1)),
        },
        Time::ZERO,
    )
}

/// Runs the core's timers up to `t`, feeding qdiskd's report every 250 ms when given;
/// returns every action.
fn run(c: &mut NodeCore, from: u64, to: u64, qdisk: Option<QdiskReport>) -> Vec<Action> {
    let mut out = Vec::new();
    let mut next_poll = from;
    let mut now = from;
    loop {
        let timer = c
            .poll_timeout()
            .map_or(u64::MAX, |t| t.0.as_millis() as u64);
        let poll = if qdisk.is_some() { next_poll } else { u64::MAX };
        now = now.max(timer.min(poll));
        if now > to {
            break;
        }
        if now == poll {
            if let Some(r) = qdisk.clone() {
                c.handle(
                    at(now),
                    Input::Qdisk {
                        report: r,
                        asked_at: at(now),
                    },
                );
            }
            next_poll += 250;
        } else {
            c.handle_timeout(at(now));
            let after = c.poll_timeout();
            assert!(
                after.is_none_or(|t| t > at(now)),
                "a timer at or before now"
            );
        }
        out.extend(std::iter::from_fn(|| c.poll_action()));
    }
    out
}

/// qdiskd on "a" holds the vote as the disk's master.
fn held() -> QdiskReport {
    QdiskReport::Votes(
        QdiskVotes {
            votes: 1,
            held: true,
        },
        Some(name("a")),
    )
}

fn fences(actions: &[Action]) -> Vec<FenceTicket> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Fence { ticket, .. } => Some(*ticket),
            _ => None,
        })
        .collect()
}

#[test]
fn the_disk_votes_count_only_while_qdiskd_confirms_them() {
    let mut c = core();
    let a = run(&mut c, 0, 1500, Some(held()));
    assert!(c.membership().quorum().quorate, "a + the disk: 2 of 3");
    assert_eq!(
        fences(&a).len(),
        1,
        "b never heard: fenced once communication is up"
    );
    // qdiskd stops answering (hung): the votes expire within the TTL.
    run(&mut c, 1501, 2300, None);
    assert!(c.membership().quorum().quorate, "still within the TTL");
    run(&mut c, 2301, 2600, None);
    let q = c.membership().quorum();
    assert!(!q.quorate, "{q:?}");
    assert_eq!(q.expected, 3, "expected votes keep the disk's vote");
}

#[test]
fn an_unreachable_qdiskd_never_shrinks_the_expected_votes() {
    let mut c = core();
    run(&mut c, 0, 1500, Some(QdiskReport::Unreachable));
    let q = c.membership().quorum();
    assert_eq!((q.votes, q.expected, q.quorate), (1, 3, false));
}

#[test]
fn a_silent_fenced_counts_as_a_failed_fence_and_is_asked_again() {
    let mut c = core();
    let a = run(&mut c, 0, 1500, Some(held()));
    let first = fences(&a);
    assert_eq!(first.len(), 1);
    // fenced never answers: after 10 s the request counts as failed, and the policy asks
    // again after its retry interval (1 s).
    let a = run(&mut c, 1501, 11_000, Some(held()));
    assert!(fences(&a).is_empty(), "{a:?}");
    let a = run(&mut c, 11_001, 13_000, Some(held()));
    let again = fences(&a);
    assert_eq!(again.len(), 1, "{a:?}");
    // The late answer to the first request is stale and changes nothing.
    c.handle(
        at(13_001),
        Input::FenceReply {
            ticket: first[0],
            reply: FenceReply::Finished(fenced::history::Outcome::Fenced),
        },
    );
    let status = c.policy().status();
    assert!(
        status.groups[0].local == policy::GroupState::Stopped,
        "nothing starts on a stale confirmation: {status:?}"
    );
    // The answer to the outstanding request confirms b fenced: the group starts here.
    c.handle(
        at(13_002),
        Input::FenceReply {
            ticket: again[0],
            reply: FenceReply::Finished(fenced::history::Outcome::Fenced),
        },
    );
    let a = run(&mut c, 13_003, 14_000, Some(held()));
    assert!(
        a.contains(&Action::Group(GroupId(0), GroupOp::Start)),
        "{a:?}"
    );
}

#[test]
fn fenced_is_told_the_membership_once_communication_is_up() {
    let mut c = core();
    let a = run(&mut c, 0, 1500, Some(held()));
    let told: Vec<&FencedNotice> = a
        .iter()
        .filter_map(|x| match x {
            Action::TellFenced(n @ FencedNotice::Membership(_)) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(told, [&FencedNotice::Membership(vec![name("a")])]);
}

#[test]
fn a_start_whose_clean_up_failed_fences_this_node() {
    let mut c = core();
    let first = fences(&run(&mut c, 0, 1500, Some(held())))[0];
    c.handle(
        at(1501),
        Input::FenceReply {
            ticket: first,
            reply: FenceReply::Finished(fenced::history::Outcome::Fenced),
        },
    );
    let a = run(&mut c, 1502, 2000, Some(held()));
    assert!(
        a.contains(&Action::Group(GroupId(0), GroupOp::Start)),
        "{a:?}"
    );
    c.handle(
        at(2001),
        Input::Group {
            group: GroupId(0),
            op: GroupOp::Start,
            result: GroupResult::Done(GroupOutcome::StopFailed {
                index: 0,
                outcome: AgentOutcome::TimedOut { after: ms(100) },
                start_failure: Some((
                    0,
                    AgentOutcome::Failed {
                        code: 1,
                        stderr: String::new(),
                    },
                )),
            }),
        },
    );
    let a: Vec<Action> = std::iter::from_fn(|| c.poll_action()).collect();
    assert!(a.iter().any(|x| matches!(x, Action::SelfFence(_))), "{a:?}");
    assert!(c.has_exited());
}

// ----- two cores and a ping node on a tiny network ----------------------------------------

/// What a [`Pair`] delivers.
enum Delivery {
    Packet(proto::Incoming),
    PingReply,
    Input(Input),
}

/// Nodes `a` (0) and `b` (1), no quorum disk, and a ping node `p` worth one vote (3 votes,
/// quorum 2): the chaos campaign's web1, web2 and the client 10.99.1.3. Packets take 2 ms,
/// echo replies 1 ms; group operations succeed after 5 ms; fence requests by `b` fail
/// after 5 ms (its fence device is unreachable), those by `a` are left unanswered. The
/// settle time is the deadtime (500 ms), as in the daemon.
struct Pair {
    now: u64,
    cores: Vec<NodeCore>,
    origins: Vec<proto::Origin>,
    /// `cut[i]`: nothing passes between the nodes.
    cut: bool,
    /// `ping_cut[i]`: node i's echo requests go unanswered.
    ping_cut: [bool; 2],
    queue: Vec<(u64, usize, Delivery)>,
    /// Every action, with its time and node.
    actions: Vec<(u64, usize, Action)>,
    /// Node a's log lines, with their time.
    log_a: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    dispatch_a: tracing::Dispatch,
    /// Node b's log goes nowhere (a subscriber of its own: `Dispatch::none` would make
    /// tracing cache "nobody is interested" for a log line b reaches first).
    dispatch_b: tracing::Dispatch,
}

/// A writer into a shared buffer (node a's log).
struct LogBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Pair {
    fn new() -> Pair {
        let nodes = vec![name("a"), name("b")];
        let core = |i: usize| {
            let me = nodes[i].clone();
            let membership = MembershipConfig {
                keepalive: ms(100),
                deadtime: ms(500),
                warntime: ms(300),
                initdead: ms(1000),
                deadping: ms(500),
                max_rexmit_delay: ms(50),
                nodes: nodes.clone(),
                ping_nodes: vec![name("p")],
                links: 1,
                quorum: QuorumConfig {
                    qdisk_votes: 0,
                    ping_votes: 1,
                    ..QuorumConfig::default()
                },
                rng_seed: i as u64,
            };
            // The group is web2's: b serves it.
            let mut policy = PolicyConfig::new(&me, nodes.clone(), &[("g".into(), name("b"))], 1)
                .expect("policy configuration");
            policy.resend_interval = ms(100);
            policy.fence_retry = ms(1000);
            policy.quorum_settle = ms(500);
            NodeCore::new(
                NodeConfig {
                    local: me,
                    uuid: NodeUuid([i as u8 + 1; 16]),
                    generation: 1,
                    membership,
                    policy,
                    fenced: Some(Duration::from_secs(10)),
                    qdisk_vote_ttl: None,
                },
                Time::ZERO,
            )
        };
        let log_a = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let buf = std::sync::Arc::clone(&log_a);
        let dispatch_a = tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .with_writer(move || LogBuf(std::sync::Arc::clone(&buf)))
                .with_ansi(false)
                .with_target(false)
                .without_time()
                .finish(),
        );
        let dispatch_b = tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .with_writer(std::io::sink)
                .finish(),
        );
        let mut p = Pair {
            now: 0,
            cores: Vec::new(),
            origins: Vec::new(),
            cut: false,
            ping_cut: [false; 2],
            queue: Vec::new(),
            actions: Vec::new(),
            log_a,
            dispatch_a,
            dispatch_b,
        };
        for (i, node) in nodes.iter().enumerate() {
            let c = tracing::dispatcher::with_default(&p.dispatch(i), || core(i));
            p.cores.push(c);
            p.origins.push(proto::Origin {
                node: node.to_string(),
                uuid: [i as u8 + 1; 16],
                generation: proto::Generation(1),
                ttl: 3,
            });
        }
        for i in 0..2 {
            p.take_actions(i);
        }
        p
    }

    /// Node a logs into `log_a`; node b's log goes nowhere.
    fn dispatch(&self, i: usize) -> tracing::Dispatch {
        if i == 0 {
            self.dispatch_a.clone()
        } else {
            self.dispatch_b.clone()
        }
    }

    fn take_actions(&mut self, i: usize) {
        while let Some(a) = self.cores[i].poll_action() {
            match &a {
                Action::Send(out) => {
                    let stamp = proto::Stamp {
                        seq: proto::Seq(out.seq),
                        unix_time: 1_700_000_000 + self.now / 1000,
                        load: "0.00 0.00 0.00 1/100 1".into(),
                    };
                    let m = proto::build(&out.body, &self.origins[i], out.dest_uuid, &stamp);
                    let msg = proto::parse(&m).expect("parses");
                    if !self.cut {
                        self.queue
                            .push((self.now + 2, 1 - i, Delivery::Packet(msg)));
                    }
                }
                Action::PingRound if !self.ping_cut[i] => {
                    self.queue.push((self.now + 1, i, Delivery::PingReply));
                }
                Action::Group(g, op) => {
                    let result = match op {
                        GroupOp::Start => GroupResult::Done(GroupOutcome::Started {
                            skipped: Vec::new(),
                        }),
                        GroupOp::Stop => GroupResult::Done(GroupOutcome::Stopped),
                        GroupOp::Monitor | GroupOp::Probe => {
                            GroupResult::Status(crate::agents::GroupStatus {
                                resources: vec![AgentOutcome::Stopped],
                            })
                        }
                    };
                    let input = Input::Group {
                        group: *g,
                        op: *op,
                        result,
                    };
                    self.queue.push((self.now + 5, i, Delivery::Input(input)));
                }
                Action::Fence { ticket, .. } if i == 1 => {
                    let input = Input::FenceReply {
                        ticket: *ticket,
                        reply: FenceReply::Error("ipmi-a: BMC unreachable".into()),
                    };
                    self.queue.push((self.now + 5, i, Delivery::Input(input)));
                }
                _ => {}
            }
            self.actions.push((self.now, i, a));
        }
    }

    /// Runs until `to` (ms), calling `each` after every step.
    fn run(&mut self, to: u64, mut each: impl FnMut(&mut Pair)) {
        loop {
            let timer = (0..2)
                .filter_map(|i| self.cores[i].poll_timeout())
                .map(|t| t.0.as_millis() as u64)
                .min()
                .unwrap_or(u64::MAX);
            let delivery = self.queue.iter().map(|d| d.0).min().unwrap_or(u64::MAX);
            let next = timer.min(delivery);
            if next > to {
                self.now = to;
                return;
            }
            self.now = self.now.max(next);
            let now = at(self.now);
            if delivery <= timer {
                let k = self
                    .queue
                    .iter()
                    .position(|d| d.0 == delivery)
                    .expect("a delivery");
                let (_, i, d) = self.queue.remove(k);
                let input = match d {
                    Delivery::Packet(msg) => Input::Packet {
                        link: LinkId(0),
                        msg,
                    },
                    Delivery::PingReply => Input::PingReply(name("p")),
                    Delivery::Input(input) => input,
                };
                let d = self.dispatch(i);
                let core = &mut self.cores[i];
                tracing::dispatcher::with_default(&d, || core.handle(now, input));
                self.take_actions(i);
            } else {
                for i in 0..2 {
                    if self.cores[i].poll_timeout().is_some_and(|t| t <= now) {
                        let d = self.dispatch(i);
                        let core = &mut self.cores[i];
                        tracing::dispatcher::with_default(&d, || core.handle_timeout(now));
                        self.take_actions(i);
                    }
                }
            }
            each(self);
        }
    }

    /// Node a's log lines from `from` on (the line numbers of `log_len`).
    fn log_a(&self) -> Vec<String> {
        let buf = self.log_a.lock().expect("log");
        String::from_utf8_lossy(&buf)
            .lines()
            .map(|l| l.trim().trim_start_matches("INFO").trim().to_string())
            .collect()
    }

    fn quorate(&self, i: usize) -> bool {
        self.cores[i].membership().quorum().quorate
    }

    /// Whether node `i` sees the other as a member.
    fn sees(&self, i: usize) -> bool {
        self.cores[i].members().contains(NodeId(1 - i as u16))
    }

    /// Node `i`'s actions since `from` (ms) matching `f`.
    fn since(&self, from: u64, i: usize, f: impl Fn(&Action) -> bool) -> Vec<(u64, &Action)> {
        self.actions
            .iter()
            .filter(|(t, n, a)| *t >= from && *n == i && f(a))
            .map(|(t, _, a)| (*t, a))
            .collect()
    }

    /// Both up, b serving; then a is cut off from b and from the ping node until it has
    /// lost quorum and b has declared it dead and failed to fence it.
    fn isolate_a() -> Pair {
        let mut p = Pair::new();
        p.run(3000, |_| {});
        assert!(p.quorate(0) && p.quorate(1) && p.sees(0) && p.sees(1));
        assert_eq!(
            p.cores[1].policy().group_state(GroupId(0)),
            Some(policy::GroupState::Running)
        );
        p.cut = true;
        p.ping_cut[0] = true;
        p.run(6000, |_| {});
        assert!(!p.quorate(0) && !p.sees(0), "a: 1 of 3, b dead");
        assert!(p.quorate(1) && !p.sees(1), "b: 2 of 3, a dead");
        assert!(
            !p.since(3000, 1, |a| matches!(a, Action::Fence { .. }))
                .is_empty(),
            "b asked to fence a"
        );
        p
    }
}

fn is_fence(a: &Action) -> bool {
    matches!(a, Action::Fence { .. })
}

/// The chaos campaign's log: web1, cut off, hears the ping node a few milliseconds before
/// web2's heartbeat. Quorate again (2 of 3) with web2 dead in a view formed while it was
/// cut off, it must not ask to fence web2: it waits the settle time, in which web2 is heard
/// and is simply a member again.
#[test]
fn a_node_quorate_again_through_a_ping_node_asks_no_fence_of_a_peer_heard_within_the_settle_time() {
    let mut p = Pair::isolate_a();
    let log_before = p.log_a().len();
    // The ping node answers a again; b's heartbeats reach a from the moment a is quorate.
    p.ping_cut[0] = false;
    let mut regained = None;
    p.run(9000, |p| {
        if regained.is_none() && p.quorate(0) {
            regained = Some(p.now);
            p.cut = false;
        }
    });
    let regained = regained.expect("a quorate again");
    assert!(p.sees(0) && p.sees(1), "members again");
    assert!(
        p.since(6000, 0, is_fence).is_empty(),
        "a asked to fence b: {:?}",
        p.since(6000, 0, is_fence)
    );
    assert_eq!(
        p.cores[1].policy().group_state(GroupId(0)),
        Some(policy::GroupState::Running),
        "b still serves"
    );
    let log = p.log_a()[log_before..].to_vec();
    let find = |what: &str| log.iter().position(|l| l.contains(what));
    let quorate = find("votes now 2 of 3: quorate").expect("quorate");
    let waits = find("fencing of b waits until quorum has held for 500ms").expect("waits");
    let told = find("fenced is told the partition is quorate once quorum has held for 500ms")
        .expect("fenced waits too");
    let rejoined = find("votes now 3 of 3: quorate").expect("b heard");
    assert!(
        quorate < waits && waits < rejoined && quorate < told,
        "{log:#?}"
    );
    assert_eq!(
        log.iter()
            .filter(|l| l.contains("waits until quorum"))
            .count(),
        1,
        "said once: {log:#?}"
    );
    assert!(find("asking fenced to fence b").is_none(), "{log:#?}");
    assert!(
        find("request to fence it is withdrawn").is_none(),
        "{log:#?}"
    );
    // fenced heard "quorate" only once the quorum had held for the settle time.
    let told: Vec<u64> = p
        .since(regained, 0, |a| {
            matches!(a, Action::TellFenced(FencedNotice::Quorum(true)))
        })
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert!(
        told.first().is_some_and(|&t| t >= regained + 500),
        "a quorate at {regained} ms, fenced told at {told:?}"
    );
}

/// A fence fenced holds back for want of quorum is not carried out on a view formed while
/// this node was cut off: a and b both hear the ping node but not each other (both
/// quorate: a asks to fence b, fenced takes its time), then a loses the ping node too. When
/// a hears it again, b is heard within the settle time: the request is withdrawn before
/// fenced is told the partition is quorate (it would carry it out at once).
#[test]
fn fenced_hears_quorate_only_once_quorum_has_held_for_the_settle_time() {
    let mut p = Pair::new();
    // Past the first 5 s, in which a node advertises a longer deadtime.
    p.run(6000, |_| {});
    p.cut = true;
    p.run(7000, |_| {});
    assert!(p.quorate(0) && p.quorate(1), "both hear the ping node");
    assert!(!p.sees(0) && !p.sees(1));
    assert_eq!(p.since(6000, 0, is_fence).len(), 1, "a asked to fence b");
    p.ping_cut[0] = true;
    p.run(8000, |_| {});
    assert!(!p.quorate(0));
    p.ping_cut[0] = false;
    let mut regained = None;
    p.run(11_000, |p| {
        if regained.is_none() && p.quorate(0) {
            regained = Some(p.now);
            p.cut = false;
        }
    });
    let regained = regained.expect("a quorate again");
    assert!(p.sees(0) && p.sees(1), "members again");
    let withdrawn = p.since(regained, 0, |a| matches!(a, Action::WithdrawFence { .. }));
    let told = p.since(regained, 0, |a| {
        matches!(a, Action::TellFenced(FencedNotice::Quorum(true)))
    });
    assert_eq!(withdrawn.len(), 1, "{:?}", p.since(regained, 0, |_| true));
    assert!(
        told.first()
            .is_some_and(|&(t, _)| t >= regained + 500 && t > withdrawn[0].0),
        "a quorate again at {regained} ms; b's fence withdrawn at {withdrawn:?}; fenced told quorate at {told:?}"
    );
    assert!(p.since(regained, 0, is_fence).is_empty());
}

/// The chaos campaign's mutual fencing: a node cut off from its peer and, a moment later,
/// from the ping node declares the peer dead while the ping node is silent past warntime
/// but not yet dead. Quorate on paper (2 of 3), it holds the request: it may be the one cut
/// off. The ping node answering again (while the peer stays silent) makes the votes fresh,
/// and the held request goes to fenced under its ticket.
#[test]
fn a_fence_asked_on_votes_not_heard_within_warntime_is_held_until_they_are() {
    let mut p = Pair::new();
    p.run(6000, |_| {});
    p.cut = true;
    p.run(6100, |_| {});
    p.ping_cut[0] = true;
    let mut held_at = None;
    p.run(8000, |p| {
        if held_at.is_none()
            && p.log_a()
                .iter()
                .any(|l| l.contains("the request to fence b is held"))
        {
            held_at = Some(p.now);
            p.ping_cut[0] = false;
        }
    });
    let held_at = held_at.expect("a held its request to fence b");
    let log = p.log_a();
    let held = log
        .iter()
        .find(|l| l.contains("the request to fence b is held"))
        .expect("held");
    assert!(
        held.contains(
            "quorate on 2 of 3 votes, but only 1 were heard within warntime (p silent for"
        ) && held.contains("this node may be the one cut off"),
        "{held}"
    );
    let asked = p.since(6000, 0, is_fence);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].0 > held_at,
        "sent when the ping node answered: {asked:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("asking fenced to fence b (the request was held until now)")),
        "{log:#?}"
    );
    assert!(p.quorate(0) && !p.sees(0));
}

/// Cut off from the peer and the ping node at one moment, a node asks for no fence at all,
/// whichever of the two it declares dead first; and a request it held is withdrawn without
/// a word to fenced (which never had it) when the peer is heard again.
#[test]
fn a_node_cut_off_from_every_voter_at_once_asks_for_no_fence() {
    let mut p = Pair::new();
    p.run(6000, |_| {});
    p.cut = true;
    p.ping_cut[0] = true;
    p.run(8000, |_| {});
    assert!(!p.quorate(0) && p.quorate(1));
    assert!(p.since(6000, 0, is_fence).is_empty());
    p.cut = false;
    p.ping_cut[0] = false;
    p.run(10_000, |_| {});
    assert!(p.sees(0) && p.sees(1), "members again");
    assert!(p.since(6000, 0, is_fence).is_empty());
    assert!(p
        .since(6000, 0, |a| matches!(a, Action::WithdrawFence { .. }))
        .is_empty());
}
