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
