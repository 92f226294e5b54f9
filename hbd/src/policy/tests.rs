//! Unit tests, one or more per rule, on a tiny synchronous cluster: messages are delivered
//! at once, operations complete when the test says so (or at once, with `auto_ops`).

use std::collections::VecDeque;
use std::time::Duration;

use super::*;
use crate::config::{AutoFailback, NodeName};

const T0: Duration = Duration::ZERO;

fn cfg(n: usize, groups: &[(&str, usize)], me: usize, af: AutoFailback) -> PolicyConfig {
    let nodes: Vec<NodeName> = (1..=n).map(|i| NodeName::new(&format!("web{i}"))).collect();
    let gs: Vec<(String, NodeName)> = groups
        .iter()
        .map(|(k, p)| (k.to_string(), nodes[*p].clone()))
        .collect();
    let mut c = PolicyConfig::new(&nodes[me], nodes.clone(), &gs, 1).expect("config");
    c.auto_failback = af;
    // These tests are about the other rules and keep time still: no settle time after
    // quorum is gained (the `quorum_settle` tests set one).
    c.quorum_settle = Duration::ZERO;
    c
}

struct Cluster {
    now: Duration,
    nodes: Vec<Option<Policy>>,
    /// Ops waiting for the test: (node, action).
    ops: Vec<(usize, Action)>,
    fences: Vec<(usize, NodeId)>,
    /// Fences said to wait for the quorum to settle: (node, victim, until).
    deferred: Vec<(usize, NodeId, Duration)>,
    /// When each fence in `fences` was asked for.
    fence_times: Vec<Duration>,
    self_fenced: Vec<(usize, SelfFenceReason)>,
    shutdown: Vec<usize>,
    auto_ops: bool,
    /// Links cut: (a, b) means a's messages do not reach b.
    cut: Vec<(usize, usize)>,
    queue: VecDeque<(usize, usize, ClusterMsg)>,
    /// Every message sent: (from, to, msg).
    log: Vec<(usize, usize, ClusterMsg)>,
}

impl Cluster {
    fn new(n: usize, groups: &[(&str, usize)], af: AutoFailback) -> Self {
        Cluster {
            now: T0,
            nodes: (0..n)
                .map(|me| Some(Policy::new(cfg(n, groups, me, af), T0)))
                .collect(),
            ops: Vec::new(),
            fences: Vec::new(),
            deferred: Vec::new(),
            fence_times: Vec::new(),
            self_fenced: Vec::new(),
            shutdown: Vec::new(),
            auto_ops: true,
            cut: Vec::new(),
            queue: VecDeque::new(),
            log: Vec::new(),
        }
    }

    fn input(&mut self, i: usize, input: Input) {
        if let Some(p) = self.nodes[i].as_mut() {
            p.handle(self.now, input);
        }
        self.pump();
    }

    /// Tells each listed node the view `members` with `quorate`.
    fn view(&mut self, who: &[usize], members: &[usize], quorate: bool) {
        self.view_after_deaths(who, members, quorate, &[]);
    }

    /// Tells each listed node the view `members` with `quorate` that the deaths of `dead`
    /// produced.
    fn view_after_deaths(
        &mut self,
        who: &[usize],
        members: &[usize],
        quorate: bool,
        dead: &[usize],
    ) {
        let set = |nodes: &[usize]| NodeSet::from_ids(nodes.iter().map(|&m| NodeId(m as u16)));
        for &i in who {
            self.input(
                i,
                Input::Membership {
                    members: set(members),
                    quorate,
                    dead: set(dead),
                },
            );
        }
    }

    fn boot(&mut self, members: &[usize]) {
        self.view(members, members, true);
        for &i in members {
            self.input(i, Input::CommUp);
        }
    }

    fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut any = false;
            for i in 0..self.nodes.len() {
                while let Some(a) = self.nodes[i].as_mut().and_then(|p| p.poll_action()) {
                    any = true;
                    match a {
                        Action::Send { to, msg } => {
                            let dests: Vec<usize> = match to {
                                Dest::All => (0..self.nodes.len()).filter(|&j| j != i).collect(),
                                Dest::Node(n) => vec![n.index()],
                            };
                            for j in dests {
                                self.log.push((i, j, msg.clone()));
                                if !self.cut.contains(&(i, j)) {
                                    self.queue.push_back((i, j, msg.clone()));
                                }
                            }
                        }
                        Action::RequestFence(n) => {
                            self.fences.push((i, n));
                            self.fence_times.push(self.now);
                        }
                        Action::FenceDeferred { node, until } => {
                            self.deferred.push((i, node, until))
                        }
                        Action::SelfFence(r) => self.self_fenced.push((i, r)),
                        Action::ShutdownComplete => self.shutdown.push(i),
                        Action::Monitor(_) | Action::Probe(_) => {}
                        op => self.ops.push((i, op)),
                    }
                }
            }
            while let Some((from, to, msg)) = self.queue.pop_front() {
                any = true;
                if let Some(p) = self.nodes[to].as_mut() {
                    p.handle(
                        self.now,
                        Input::Message {
                            from: NodeId(from as u16),
                            msg,
                        },
                    );
                }
            }
            if self.auto_ops && !self.ops.is_empty() {
                any = true;
                for (i, op) in std::mem::take(&mut self.ops) {
                    let input = match op {
                        Action::Start(g) => Input::Started(g),
                        Action::Stop(g) => Input::Stopped(g),
                        _ => continue,
                    };
                    if let Some(p) = self.nodes[i].as_mut() {
                        p.handle(self.now, input);
                    }
                }
            }
            if !any {
                return;
            }
        }
        panic!("no quiescence");
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self
                .nodes
                .iter()
                .flatten()
                .filter_map(|p| p.poll_timeout())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for p in self.nodes.iter_mut().flatten() {
                        if p.poll_timeout().is_some_and(|t| t <= self.now) {
                            p.handle_timeout(self.now);
                            let after = p.poll_timeout();
                            assert!(
                                after.is_none_or(|a| a > self.now),
                                "handle_timeout({:?}) left the next timeout at {after:?}: a busy loop",
                                self.now
                            );
                        }
                    }
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn state(&self, i: usize, g: u16) -> GroupState {
        self.nodes[i]
            .as_ref()
            .and_then(|p| p.group_state(GroupId(g)))
            .unwrap_or(GroupState::Stopped)
    }

    fn running_on(&self, g: u16) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.state(i, g) == GroupState::Running)
            .collect()
    }

    fn kill(&mut self, i: usize) {
        self.nodes[i] = None;
    }

    fn status(&self, i: usize) -> Status {
        self.nodes[i].as_ref().expect("running").status()
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const TWO: &[(&str, usize)] = &[("10.0.0.10", 0), ("10.0.0.20", 1)];

#[test]
fn the_dc_is_the_lowest_quorate_member() {
    let mut c = Cluster::new(3, TWO, AutoFailback::On);
    c.boot(&[1, 2]);
    assert_eq!(
        c.nodes[1].as_ref().and_then(|p| p.coordinator()),
        Some(NodeId(1))
    );
    assert_eq!(
        c.nodes[2].as_ref().and_then(|p| p.coordinator()),
        Some(NodeId(1))
    );
    c.boot(&[0, 1, 2]);
    for i in 0..3 {
        assert_eq!(
            c.nodes[i].as_ref().and_then(|p| p.coordinator()),
            Some(NodeId(0))
        );
    }
    // Without quorum there is no DC.
    c.view(&[2], &[2], false);
    assert_eq!(c.nodes[2].as_ref().and_then(|p| p.coordinator()), None);
}

#[test]
fn only_the_dc_places_and_nodes_ignore_other_senders() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    c.boot(&[0, 1]);
    assert_eq!(c.running_on(0), [0]);
    assert_eq!(c.running_on(1), [1]);
    let placements_from_1 = c
        .log
        .iter()
        .filter(|(from, _, m)| *from == 1 && matches!(m, ClusterMsg::Placement(_)))
        .count();
    assert_eq!(placements_from_1, 0, "node 1 is not the DC");
    // A forged placement from node 1 (not the DC) moving everything to node 1 is ignored.
    let forged = Placement {
        stamp: Stamp {
            incarnation: 99,
            seq: 99,
        },
        targets: vec![Some(NodeId(1)), Some(NodeId(1))],
        reasons: vec![None; 2],
        pins: vec![None; 2],
        standby: vec![NodeSet::EMPTY; 2],
        failed: vec![NodeSet::EMPTY; 2],
        based_on: vec![(NodeId(0), 1), (NodeId(1), 1)],
    };
    c.input(
        0,
        Input::Message {
            from: NodeId(1),
            msg: ClusterMsg::Placement(forged),
        },
    );
    assert_eq!(c.running_on(0), [0]);
}

#[test]
fn an_old_placement_arriving_late_is_ignored() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    c.boot(&[0, 1]);
    let old = c
        .log
        .iter()
        .find_map(|(from, to, m)| match m {
            ClusterMsg::Placement(p) if *from == 0 && *to == 1 => Some(p.clone()),
            _ => None,
        })
        .expect("a placement");
    // Node 0 in standby: both groups go to node 1 by newer placements.
    c.input(0, Input::Admin(AdminCommand::Standby(Scope::All)));
    assert_eq!(c.running_on(0), [1]);
    // The first placement (group 0 on node 0, group 1 on node 1) replayed at node 1.
    let mut stale = old.clone();
    stale.targets = vec![None, None];
    c.input(
        1,
        Input::Message {
            from: NodeId(0),
            msg: ClusterMsg::Placement(stale),
        },
    );
    assert_eq!(
        c.running_on(0),
        [1],
        "a stale placement must not stop anything"
    );
}

#[test]
fn initial_acquisition_waits_for_comm_up() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    c.view(&[0, 1], &[0, 1], true);
    assert!(c.ops.is_empty());
    assert_eq!(c.running_on(0), Vec::<usize>::new());
    let st = c.status(0);
    assert_eq!(st.groups[0].reason, Some(Reason::WaitingForCommUp));
    c.input(0, Input::CommUp);
    // Node 1 is a member still starting up: its group waits for it; node 0's starts.
    assert_eq!(c.running_on(0), [0]);
    assert_eq!(c.running_on(1), Vec::<usize>::new());
    assert_eq!(
        c.status(0).groups[1].reason,
        Some(Reason::WaitingForPreferred(NodeId(1)))
    );
    c.input(1, Input::CommUp);
    assert_eq!(c.running_on(1), [1]);
}

#[test]
fn a_dead_node_is_fenced_before_takeover_and_no_confirmation_means_no_takeover() {
    let mut c = Cluster::new(3, &[("a", 0), ("b", 1), ("c", 2)], AutoFailback::On);
    c.boot(&[0, 1, 2]);
    assert_eq!(c.running_on(2), [2]);
    c.kill(2);
    c.view_after_deaths(&[0, 1], &[0, 1], true, &[2]);
    // Only the DC asks for the fence.
    assert_eq!(c.fences, [(0, NodeId(2))]);
    assert_eq!(c.running_on(2), Vec::<usize>::new());
    let st = c.status(0);
    assert_eq!(
        st.groups[2].reason,
        Some(Reason::WaitingForFence(NodeId(2)))
    );
    assert_eq!(
        st.groups[2].reason_text.as_deref(),
        Some("waiting for fence of web3")
    );
    assert_eq!(st.pending_fences, [NodeId(2)]);
    // The non-DC shows the same reason, from the DC's placement.
    c.advance(secs(1));
    assert_eq!(
        c.status(1).groups[2].reason,
        Some(Reason::WaitingForFence(NodeId(2)))
    );
    // A failed fence: still nothing, and a retry after fence_retry (5 s).
    c.input(
        0,
        Input::FenceDone {
            node: NodeId(2),
            ok: false,
        },
    );
    assert_eq!(c.running_on(2), Vec::<usize>::new());
    c.advance(secs(4));
    assert_eq!(c.fences.len(), 1);
    c.advance(secs(2));
    assert_eq!(c.fences.len(), 2, "retried");
    c.input(
        0,
        Input::FenceDone {
            node: NodeId(2),
            ok: true,
        },
    );
    assert_eq!(c.running_on(2).len(), 1);
    assert_eq!(c.running_on(0), [0]);
    assert_eq!(c.running_on(1), [1]);
}

#[test]
fn r_a_node_back_after_a_failed_fence_leaves_no_timer_in_the_past() {
    // Found by the hbd benchmark: node2 died, its fence failed (no fenced), it came back;
    // the DC kept its retry time, which lay in the past for ever: a busy loop.
    let mut c = Cluster::new(2, &[("a", 0)], AutoFailback::On);
    c.boot(&[0, 1]);
    c.kill(1);
    c.view_after_deaths(&[0], &[0], true, &[1]);
    c.input(
        0,
        Input::FenceDone {
            node: NodeId(1),
            ok: false,
        },
    );
    c.nodes[1] = Some(Policy::new(cfg(2, &[("a", 0)], 1, AutoFailback::On), c.now));
    c.view(&[0, 1], &[0, 1], true);
    c.input(1, Input::CommUp);
    c.advance(secs(30));
    let p = c.nodes[0].as_ref().expect("node 1 runs");
    let next = p.poll_timeout().expect("a timeout");
    assert!(
        next > c.now,
        "next timeout {next:?} is not after now {:?}",
        c.now
    );
}

#[test]
fn a_dead_dc_is_replaced_and_the_new_dc_fences_it() {
    let mut c = Cluster::new(3, &[("a", 0), ("b", 1), ("c", 2)], AutoFailback::On);
    c.boot(&[0, 1, 2]);
    c.kill(0);
    c.view(&[1, 2], &[1, 2], true);
    assert_eq!(
        c.nodes[2].as_ref().and_then(|p| p.coordinator()),
        Some(NodeId(1))
    );
    assert_eq!(c.fences, [(1, NodeId(0))]);
    assert_eq!(c.running_on(0), Vec::<usize>::new());
    // The survivors' groups were never disturbed.
    assert_eq!(c.running_on(1), [1]);
    assert_eq!(c.running_on(2), [2]);
    c.input(
        1,
        Input::FenceDone {
            node: NodeId(0),
            ok: true,
        },
    );
    assert_eq!(c.running_on(0).len(), 1);
}

#[test]
fn losing_quorum_stops_everything() {
    let mut c = Cluster::new(3, &[("a", 0), ("b", 1), ("c", 2)], AutoFailback::On);
    c.boot(&[0, 1, 2]);
    c.view(&[2], &[2], false);
    assert_eq!(c.running_on(2), Vec::<usize>::new());
    assert_eq!(c.status(2).groups[2].reason, Some(Reason::NoQuorum));
}

#[test]
fn a_stop_failing_while_losing_quorum_self_fences() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    c.boot(&[0, 1]);
    c.auto_ops = false;
    c.view(&[1], &[1], false);
    assert_eq!(c.ops, [(1, Action::Stop(GroupId(1)))]);
    c.ops.clear();
    c.input(1, Input::StopFailed(GroupId(1)));
    assert_eq!(
        c.self_fenced,
        [(
            1,
            SelfFenceReason::StopFailed {
                group: GroupId(1),
                quorate: false
            }
        )]
    );
    assert!(c.nodes[1].as_ref().is_some_and(|p| p.is_done()));
}

#[test]
fn any_failed_stop_self_fences() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    c.boot(&[0, 1]);
    c.auto_ops = false;
    c.input(1, Input::Admin(AdminCommand::Standby(Scope::All)));
    assert_eq!(c.ops, [(1, Action::Stop(GroupId(1)))]);
    c.input(1, Input::StopFailed(GroupId(1)));
    assert!(matches!(
        c.self_fenced[..],
        [(1, SelfFenceReason::StopFailed { quorate: true, .. })]
    ));
}

#[test]
fn a_group_moves_only_after_the_old_node_stopped_it() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    c.boot(&[0, 1]);
    c.auto_ops = false;
    c.input(1, Input::Admin(AdminCommand::Standby(Scope::All)));
    // Node 1 is stopping; node 0 must not start yet.
    assert_eq!(c.ops, [(1, Action::Stop(GroupId(1)))]);
    assert_eq!(
        c.status(0).groups[1].reason,
        Some(Reason::WaitingForStop(NodeId(1)))
    );
    c.ops.clear();
    c.input(1, Input::Stopped(GroupId(1)));
    assert_eq!(c.ops, [(0, Action::Start(GroupId(1)))]);
}

#[test]
fn graceful_shutdown_hands_groups_over_without_fencing() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    c.boot(&[0, 1]);
    c.input(0, Input::Shutdown);
    assert_eq!(c.shutdown, [0]);
    assert_eq!(c.running_on(0), [1]);
    assert_eq!(c.running_on(1), [1]);
    c.kill(0);
    c.view(&[1], &[1], true);
    c.input(1, Input::NodeLeft(NodeId(0)));
    assert!(c.fences.is_empty());
    assert_eq!(c.running_on(0), [1]);
}

#[test]
fn auto_failback_on_returns_groups_once_the_home_node_is_stable() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    c.boot(&[0, 1]);
    c.kill(0);
    c.view(&[1], &[1], true);
    c.input(
        1,
        Input::FenceDone {
            node: NodeId(0),
            ok: true,
        },
    );
    assert_eq!(c.running_on(0), [1]);
    // Node 0 comes back (new incarnation).
    let mut cf = cfg(2, TWO, 0, AutoFailback::On);
    cf.incarnation = 2;
    c.nodes[0] = Some(Policy::new(cf, c.now));
    c.boot(&[0, 1]);
    assert_eq!(c.running_on(0), [0]);
    assert_eq!(c.running_on(1), [1]);
}

#[test]
fn auto_failback_off_leaves_groups_where_they_are() {
    let mut c = Cluster::new(2, TWO, AutoFailback::Off);
    c.boot(&[0, 1]);
    c.kill(0);
    c.view(&[1], &[1], true);
    c.input(
        1,
        Input::FenceDone {
            node: NodeId(0),
            ok: true,
        },
    );
    let mut cf = cfg(2, TWO, 0, AutoFailback::Off);
    cf.incarnation = 2;
    c.nodes[0] = Some(Policy::new(cf, c.now));
    c.boot(&[0, 1]);
    assert_eq!(c.running_on(0), [1]);
    assert_eq!(c.running_on(1), [1]);
}

#[test]
fn auto_failback_on_waits_for_stability_but_legacy_does_not() {
    for (af, moves) in [(AutoFailback::On, false), (AutoFailback::Legacy, true)] {
        let mut c = Cluster::new(2, TWO, af);
        c.boot(&[0, 1]);
        c.kill(0);
        c.view(&[1], &[1], true);
        c.input(
            1,
            Input::FenceDone {
                node: NodeId(0),
                ok: true,
            },
        );
        assert_eq!(c.running_on(0), [1]);
        // Node 1 is busy restarting group 1 in place: not stable.
        if let Some(p) = c.nodes[1].as_mut() {
            p.cfg.monitor = Some(MonitorConfig {
                interval: secs(10),
                max_restarts: 1,
            });
        }
        c.auto_ops = false;
        c.input(1, Input::MonitorFailed(GroupId(1)));
        assert_eq!(c.ops, [(1, Action::Stop(GroupId(1)))]);
        let mut cf = cfg(2, TWO, 0, af);
        cf.incarnation = 2;
        c.nodes[0] = Some(Policy::new(cf, c.now));
        c.boot(&[0, 1]);
        let failback = c.ops.contains(&(1, Action::Stop(GroupId(0))));
        assert_eq!(failback, moves, "{af:?}: {:?}", c.ops);
        // Once node 1 is stable again, `on` fails back too.
        c.auto_ops = true;
        c.pump();
        assert_eq!(c.running_on(0), [0], "{af:?}");
        assert_eq!(c.running_on(1), [1], "{af:?}");
    }
}

#[test]
fn standby_and_takeover_move_groups_relative_to_the_issuer() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    c.boot(&[0, 1]);
    c.input(0, Input::Admin(AdminCommand::Standby(Scope::Local)));
    assert_eq!(c.running_on(0), [1]);
    assert_eq!(c.running_on(1), [1]);
    // Auto failback does not undo a standby.
    c.advance(secs(5));
    assert_eq!(c.running_on(0), [1]);
    // Node 0 takes over everything (its own and the foreign group).
    c.input(0, Input::Admin(AdminCommand::Takeover(Scope::All)));
    assert_eq!(c.running_on(0), [0]);
    assert_eq!(c.running_on(1), [0]);
    // Node 1 takes its foreign group (group 0) back... no: takeover local on node 1.
    c.input(1, Input::Admin(AdminCommand::Takeover(Scope::Local)));
    assert_eq!(c.running_on(1), [1]);
    assert_eq!(c.running_on(0), [0]);
}

#[test]
fn standby_without_a_peer_does_nothing() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    c.boot(&[0]);
    c.input(
        0,
        Input::FenceDone {
            node: NodeId(1),
            ok: true,
        },
    );
    assert_eq!(c.running_on(1), [0]);
    c.input(0, Input::Admin(AdminCommand::Standby(Scope::All)));
    assert_eq!(c.running_on(0), [0]);
    assert_eq!(c.running_on(1), [0]);
}

#[test]
fn a_failed_start_moves_the_group_and_is_remembered() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    c.auto_ops = false;
    c.boot(&[0, 1]);
    // Node 0 was told to start group 0: it fails.
    assert!(c.ops.contains(&(0, Action::Start(GroupId(0)))));
    c.ops.retain(|o| *o != (0, Action::Start(GroupId(0))));
    c.input(0, Input::StartFailed(GroupId(0)));
    assert!(
        c.ops.contains(&(0, Action::Stop(GroupId(0)))),
        "cleanup stop"
    );
    c.auto_ops = true;
    c.pump();
    assert_eq!(c.running_on(0), [1]);
    // Failover back never goes to the node it failed on.
    c.advance(secs(5));
    assert_eq!(c.running_on(0), [1]);
}

#[test]
fn a_group_failing_everywhere_says_so() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    c.auto_ops = false;
    c.boot(&[0, 1]);
    for _ in 0..4 {
        for (i, op) in std::mem::take(&mut c.ops) {
            let input = match op {
                Action::Start(g) if g == GroupId(0) => Input::StartFailed(g),
                Action::Start(g) => Input::Started(g),
                Action::Stop(g) => Input::Stopped(g),
                _ => continue,
            };
            c.input(i, input);
        }
    }
    assert_eq!(c.running_on(0), Vec::<usize>::new());
    assert_eq!(c.status(0).groups[0].reason, Some(Reason::FailedEverywhere));
}

#[test]
fn failed_monitors_restart_in_place_then_move() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    for p in c.nodes.iter_mut().flatten() {
        p.cfg.monitor = Some(MonitorConfig {
            interval: secs(10),
            max_restarts: 2,
        });
    }
    c.boot(&[0, 1]);
    for round in 0..2 {
        c.input(0, Input::MonitorFailed(GroupId(0)));
        assert_eq!(c.running_on(0), [0], "restart {round} in place");
    }
    c.input(0, Input::MonitorFailed(GroupId(0)));
    assert_eq!(c.running_on(0), [1], "moved after 2 restarts");
}

#[test]
fn monitors_are_scheduled_while_running() {
    let mut cf = cfg(1, &[("a", 0)], 0, AutoFailback::On);
    cf.monitor = Some(MonitorConfig {
        interval: secs(10),
        max_restarts: 1,
    });
    let mut p = Policy::new(cf, T0);
    p.handle(
        T0,
        Input::Membership {
            members: NodeSet::from_ids([NodeId(0)]),
            quorate: true,
            dead: NodeSet::EMPTY,
        },
    );
    p.handle(T0, Input::CommUp);
    let actions: Vec<Action> = std::iter::from_fn(|| p.poll_action()).collect();
    assert!(actions.contains(&Action::Start(GroupId(0))));
    p.handle(secs(1), Input::Started(GroupId(0)));
    while p.poll_action().is_some() {}
    assert!(p.poll_timeout().is_some_and(|t| t <= secs(11)));
    let mut monitors = 0;
    let mut now = secs(1);
    while now < secs(31) {
        now = p.poll_timeout().expect("timer");
        p.handle_timeout(now);
        monitors += std::iter::from_fn(|| p.poll_action())
            .filter(|a| *a == Action::Monitor(GroupId(0)))
            .count();
    }
    assert_eq!(monitors, 3);
}

#[test]
fn never_seen_nodes_are_fenced_at_startup_before_their_groups_are_taken() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    c.boot(&[0]);
    assert_eq!(c.fences, [(0, NodeId(1))]);
    // Web2 might hold anything: nothing starts until it is confirmed fenced.
    assert_eq!(c.running_on(0), Vec::<usize>::new());
    assert_eq!(c.running_on(1), Vec::<usize>::new());
    c.input(
        0,
        Input::FenceDone {
            node: NodeId(1),
            ok: true,
        },
    );
    assert_eq!(c.running_on(0), [0]);
    assert_eq!(c.running_on(1), [0]);
}

#[test]
fn a_partitioned_member_that_rejoins_keeps_its_groups_without_overlap() {
    let mut c = Cluster::new(3, &[("a", 0), ("b", 1), ("c", 2)], AutoFailback::On);
    c.boot(&[0, 1, 2]);
    // Node 2 is cut off: it loses quorum and stops; the others wait for its fence.
    c.cut = vec![(0, 2), (2, 0), (1, 2), (2, 1)];
    c.view(&[0, 1], &[0, 1], true);
    c.view(&[2], &[2], false);
    assert_eq!(c.running_on(2), Vec::<usize>::new());
    // Healed before the fence completed.
    c.cut.clear();
    c.view(&[0, 1, 2], &[0, 1, 2], true);
    c.advance(secs(2));
    assert_eq!(c.running_on(2), [2]);
}

#[test]
fn config_errors_name_the_fix() {
    let nodes = vec![NodeName::new("a"), NodeName::new("b")];
    let err = PolicyConfig::new(&NodeName::new("c"), nodes.clone(), &[], 1).expect_err("must fail");
    assert!(err.to_string().contains("not a `node` in ha.cf"));
    let err = PolicyConfig::new(
        &NodeName::new("a"),
        nodes.clone(),
        &[("x".into(), NodeName::new("z"))],
        1,
    )
    .expect_err("must fail");
    assert!(matches!(err, PolicyConfigError::UnknownPreferred { .. }));
    let err = PolicyConfig::new(
        &NodeName::new("a"),
        nodes,
        &[
            ("x".into(), NodeName::new("a")),
            ("x".into(), NodeName::new("b")),
        ],
        1,
    )
    .expect_err("must fail");
    assert!(matches!(err, PolicyConfigError::DuplicateKey(_)));
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Two nodes whose policies wait `settle` after gaining quorum; both booted and running
/// their groups at 1 s.
fn settling_pair(settle: Duration) -> Cluster {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    for p in c.nodes.iter_mut().flatten() {
        p.cfg.quorum_settle = settle;
    }
    c.boot(&[0, 1]);
    c.advance(secs(1));
    assert_eq!(c.running_on(0), [0]);
    assert_eq!(c.running_on(1), [1]);
    c
}

/// The chaos campaign's web1/web2 with a ping node (3 votes, quorum 2): web1 is cut off
/// from web2 and the ping node. web1 (1 vote) loses quorum with web2 dead in its view;
/// web2 (2 votes) stays quorate, declares web1 dead and asks for its fence, which fails.
/// Then web1 hears the ping node again before web2: quorate (2 of 3) with a view in which
/// web2 is dead, a view formed while web1 itself was cut off. Returns the time it became
/// quorate again.
fn isolate_web1_then_regain_quorum(c: &mut Cluster) -> Duration {
    c.cut = vec![(0, 1), (1, 0)];
    c.view_after_deaths(&[0], &[0], false, &[1]);
    c.view_after_deaths(&[1], &[1], true, &[0]);
    assert_eq!(c.running_on(0), Vec::<usize>::new(), "web1 released");
    // web2 was quorate all along: it asks at once.
    assert_eq!(c.fences, [(1, NodeId(0))]);
    c.input(
        1,
        Input::FenceDone {
            node: NodeId(0),
            ok: false,
        },
    );
    c.advance(secs(2));
    // The ping node answers web1 again; web2 is not heard yet.
    c.view(&[0], &[0], true);
    c.now
}

#[test]
fn quorum_settle_a_node_quorate_again_asks_no_fence_and_a_peer_heard_meanwhile_is_a_member() {
    let mut c = settling_pair(ms(500));
    let regained = isolate_web1_then_regain_quorum(&mut c);
    assert_eq!(
        c.fences,
        [(1, NodeId(0))],
        "web1 must not ask to fence web2 the instant it is quorate again"
    );
    assert_eq!(
        c.deferred,
        [(0, NodeId(1), regained + ms(500))],
        "said once"
    );
    // Its groups wait: web2 is not known clean.
    assert_eq!(
        c.status(0).groups[1].reason,
        Some(Reason::WaitingForFence(NodeId(1)))
    );
    assert_eq!(c.running_on(0), Vec::<usize>::new());
    c.advance(ms(10));
    // web2's heartbeat arrives within the settle time: it is simply a member again.
    c.cut.clear();
    c.view(&[0, 1], &[0, 1], true);
    c.advance(secs(10));
    assert!(
        c.fences.iter().all(|&(by, _)| by != 0),
        "web1 never asks to fence web2: {:?}",
        c.fences
    );
    assert_eq!(c.deferred.len(), 1, "said once: {:?}", c.deferred);
    assert_eq!(c.running_on(0), [0]);
    assert_eq!(c.running_on(1), [1]);
    assert!(c.status(0).pending_fences.is_empty());
}

#[test]
fn quorum_settle_a_peer_still_away_is_fenced_when_the_settle_time_is_up() {
    let mut c = settling_pair(ms(500));
    let regained = isolate_web1_then_regain_quorum(&mut c);
    let due = regained + ms(500);
    // The DC's timer is the end of the settle time: the fence comes without another event.
    assert_eq!(
        c.nodes[0].as_ref().and_then(|p| p.poll_timeout()),
        Some(due)
    );
    let by_web1 = |c: &Cluster| -> Vec<(NodeId, Duration)> {
        c.fences
            .iter()
            .zip(&c.fence_times)
            .filter(|((by, _), _)| *by == 0)
            .map(|((_, n), t)| (*n, *t))
            .collect()
    };
    c.advance(ms(499));
    assert!(by_web1(&c).is_empty(), "{:?}", c.fences);
    c.advance(ms(1));
    assert_eq!(by_web1(&c), [(NodeId(1), due)]);
    // Confirmed (web2 is off): its group moves to web1.
    c.kill(1);
    c.input(
        0,
        Input::FenceDone {
            node: NodeId(1),
            ok: true,
        },
    );
    assert_eq!(c.running_on(0), [0]);
    assert_eq!(c.running_on(1), [0]);
    assert_eq!(c.deferred.len(), 1, "said once: {:?}", c.deferred);
}

#[test]
fn quorum_settle_applies_to_the_first_quorum_too_and_not_to_deaths_seen_while_quorate() {
    let mut c = Cluster::new(2, TWO, AutoFailback::On);
    for p in c.nodes.iter_mut().flatten() {
        p.cfg.quorum_settle = ms(500);
    }
    // Booted alone: web2 never heard, but web1 only just became quorate.
    c.boot(&[0]);
    assert!(c.fences.is_empty(), "{:?}", c.fences);
    assert_eq!(c.deferred, [(0, NodeId(1), ms(500))]);
    // web2 comes up within the settle time: no fence, and both run their groups.
    c.advance(ms(200));
    c.boot(&[0, 1]);
    c.advance(secs(5));
    assert!(c.fences.is_empty(), "{:?}", c.fences);
    assert_eq!(c.running_on(0), [0]);
    assert_eq!(c.running_on(1), [1]);
    // Quorate for long: a death is fenced at once.
    c.kill(1);
    c.view_after_deaths(&[0], &[0], true, &[1]);
    assert_eq!(c.fences, [(0, NodeId(1))]);
    assert_eq!(c.deferred.len(), 1);
}

#[test]
fn quorum_settle_is_the_deadtime_in_the_daemon_and_never_zero_by_default() {
    let hacf = crate::config::parse_hacf(
        std::path::Path::new("ha.cf"),
        "keepalive 1\ndeadtime 7\nbcast eth0\nnode web1 web2\n",
    )
    .into_result()
    .expect("ha.cf");
    let res = crate::config::haresources::parse_haresources(
        std::path::Path::new("haresources"),
        "web1 10.0.0.10\n",
    )
    .into_result()
    .expect("haresources");
    let cf = PolicyConfig::from_config(&hacf, &res, &NodeName::new("web1"), 1).expect("config");
    assert_eq!(cf.quorum_settle, secs(7));
    let nodes = vec![NodeName::new("a"), NodeName::new("b")];
    let cf = PolicyConfig::new(&NodeName::new("a"), nodes, &[], 1).expect("config");
    assert_eq!(cf.quorum_settle, DEFAULT_QUORUM_SETTLE);
    assert!(!cf.quorum_settle.is_zero());
}

/// Found by the whole-cluster simulation once it had ping nodes: a partition that is not
/// transitive. web3 left gracefully (clean, for everyone), restarted and rejoined web1,
/// which web2 hears but web3 does not (and web3 not web2). web1, the DC, gives web3 its
/// group back. When web1 leaves too, web2 is DC of a view without web3: its old "clean"
/// for web3 must not let it start the group web3 runs.
#[test]
fn a_node_that_left_and_rejoined_out_of_view_is_unclean_again() {
    let groups = &[("c", 2)];
    let mut c = Cluster::new(3, groups, AutoFailback::On);
    c.boot(&[0, 1, 2]);
    assert_eq!(c.running_on(0), [2]);
    // web3 leaves gracefully: its group moves, nobody fences it.
    c.input(2, Input::Shutdown);
    c.kill(2);
    c.view(&[0, 1], &[0, 1], true);
    c.input(0, Input::NodeLeft(NodeId(2)));
    c.input(1, Input::NodeLeft(NodeId(2)));
    assert_eq!(c.running_on(0).len(), 1);
    assert!(!c.running_on(0).contains(&2));
    // web3 restarts where only web1 hears it (and it hears only web1).
    let mut cf = cfg(3, groups, 2, AutoFailback::On);
    cf.incarnation = 2;
    c.nodes[2] = Some(Policy::new(cf, c.now));
    c.cut = vec![(1, 2), (2, 1)];
    c.view(&[0], &[0, 1, 2], true);
    c.view(&[2], &[0, 2], true);
    c.input(2, Input::CommUp);
    c.advance(secs(3));
    assert_eq!(c.running_on(0), [2], "web1 gave web3 its group back");
    assert!(c.fences.is_empty(), "{:?}", c.fences);
    // web1 leaves: web2 and web3 are each DC of their own side.
    c.input(0, Input::Shutdown);
    c.kill(0);
    c.view(&[1], &[1], true);
    c.view(&[2], &[2], true);
    c.input(1, Input::NodeLeft(NodeId(0)));
    c.input(2, Input::NodeLeft(NodeId(0)));
    c.advance(secs(3));
    assert_eq!(c.running_on(0), [2], "web2 must not start web3's group");
    assert!(c.fences.contains(&(1, NodeId(2))), "{:?}", c.fences);
    assert_eq!(
        c.status(1).groups[0].reason,
        Some(Reason::WaitingForFence(NodeId(2)))
    );
}
