//! hbd on a simulated machine: its node core started and killed, its inputs (queued while
//! it is paused), and what it asks for carried out: packets, resource operations, requests
//! to fenced.

use super::*;

impl World {
    pub(super) fn start(&mut self, i: usize, d: Daemon) {
        if !self.machines[i].powered {
            return;
        }
        let pid = self.pid();
        let now = self.now;
        match d {
            Daemon::Hbd => {
                if self.machines[i].hbd.is_some() {
                    return;
                }
                self.machines[i].generation += 1;
                let generation = self.machines[i].generation;
                let m = &self.machines[i];
                let mut quorum = QuorumConfig {
                    ping_votes: u32::from(self.params.ping),
                    ..QuorumConfig::default()
                };
                if self.params.qdisk {
                    quorum.qdisk_votes = self.params.nodes as u32 - 1;
                }
                let membership = MembershipConfig {
                    keepalive: KEEPALIVE,
                    deadtime: DEADTIME,
                    warntime: WARNTIME,
                    initdead: INITDEAD,
                    // ha.cf's default: deadping = deadtime.
                    deadping: DEADTIME,
                    max_rexmit_delay: ms(50),
                    nodes: m.order.clone(),
                    ping_nodes: if self.params.ping {
                        vec![NodeName::new(PING_NODE)]
                    } else {
                        Vec::new()
                    },
                    links: self.params.links,
                    quorum,
                    rng_seed: self.seed ^ pid,
                };
                let mut policy = PolicyConfig::new(&m.name, m.order.clone(), &m.specs, generation)
                    .expect("policy configuration");
                policy.auto_failback = self.params.auto_failback;
                policy.resend_interval = KEEPALIVE;
                policy.fence_retry = Duration::from_secs(1);
                // As the daemon: the settle time after quorum is gained is the deadtime.
                policy.quorum_settle = DEADTIME;
                policy.probe = self.params.probe;
                let cfg = NodeConfig {
                    local: m.name.clone(),
                    uuid: m.uuid,
                    generation,
                    membership,
                    policy,
                    fenced: Some(FENCE_REPLY_TIMEOUT),
                    qdisk_vote_ttl: self.params.qdisk.then_some(VOTE_TTL),
                };
                let origin = proto::Origin {
                    node: m.name.to_string(),
                    uuid: m.uuid.0,
                    generation: proto::Generation(generation),
                    ttl: 1 + self.params.nodes as u32,
                };
                let core = NodeCore::new(cfg, now);
                self.machines[i].hbd = Some(Hbd {
                    core,
                    pid,
                    paused: false,
                    inbox: VecDeque::new(),
                    origin,
                    quorum: None,
                    members: None,
                });
                self.note(format!(
                    "{}: hbd started (generation {generation})",
                    self.names[i]
                ));
                self.after(Duration::from_secs(5), Ev::NotifierRefresh(i, pid));
                self.hbd_actions(i);
            }
            Daemon::Fenced => {
                if self.machines[i].fenced.is_some() {
                    return;
                }
                let mut cfg = QueueConfig::new(self.topology(), self.seed ^ pid);
                cfg.post_fail_delay = self.params.post_fail_delay;
                cfg.random_delay_max = self.params.random_delay_max;
                cfg.backoff_initial = Duration::from_secs(1);
                cfg.backoff_max = Duration::from_secs(5);
                cfg.post_join_delay = Duration::from_secs(3);
                self.machines[i].fenced = Some(Fenced {
                    queue: FenceQueue::new(cfg),
                    pid,
                    paused: false,
                    paused_since: Time::ZERO,
                    inbox: VecDeque::new(),
                    waiting: BTreeMap::new(),
                });
                self.note(format!("{}: fenced started", self.names[i]));
            }
            Daemon::Qdiskd => {
                if !self.params.qdisk || self.machines[i].qdiskd.is_some() {
                    return;
                }
                let core = self.new_qdisk_core(i, pid);
                self.machines[i].qdiskd = Some(Qdiskd {
                    pid,
                    paused_since: None,
                    core,
                    queue: VecDeque::new(),
                    in_flight: None,
                    undelivered: VecDeque::new(),
                });
                self.qdisk_drain(i);
            }
        }
    }

    pub(super) fn kill(&mut self, i: usize, d: Daemon) {
        self.note(format!("{}: {d:?} killed", self.names[i]));
        let m = &mut self.machines[i];
        match d {
            Daemon::Hbd => {
                // fenced sees the requester hang up: its requests are withdrawn.
                let Some(h) = m.hbd.take() else { return };
                let mut gone = Vec::new();
                if let Some(f) = m.fenced.as_mut() {
                    for waiters in f.waiting.values_mut() {
                        waiters.retain(|(pid, _, target)| {
                            if *pid == h.pid {
                                gone.push(target.clone());
                            }
                            *pid != h.pid
                        });
                    }
                }
                let origin = Origin::Cluster(format!("hbd on {}", self.names[i]));
                for target in gone {
                    self.fenced_input(
                        i,
                        FencedInput::Withdraw {
                            target,
                            origin: origin.clone(),
                        },
                    );
                }
                // hbd's connection to fenced closes: nobody vouches for quorum any more.
                self.fenced_input(i, FencedInput::Notice(FencedNotice::Quorum(false)));
            }
            Daemon::Fenced => {
                // hbd's waiting requests see the connection break.
                if let Some(f) = m.fenced.take() {
                    let waiting: Vec<(u64, FenceTicket, NodeName)> =
                        f.waiting.into_values().flatten().collect();
                    for (hbd_pid, ticket, _) in waiting {
                        self.reply_to_hbd(
                            i,
                            hbd_pid,
                            ticket,
                            FenceReply::Error("fenced: connection reset".into()),
                        );
                    }
                }
            }
            Daemon::Qdiskd => {
                m.qdiskd = None;
            }
        }
    }

    /// Hands `input` to hbd on `i` (to the process `pid` only, when given): at once, or into
    /// its inbox while it is paused.
    pub(super) fn hbd_input(&mut self, i: usize, pid: Option<u64>, input: Input) {
        let m = &mut self.machines[i];
        if !m.powered {
            return;
        }
        let paused = m.paused;
        let Some(h) = m.hbd.as_mut() else { return };
        if pid.is_some_and(|p| p != h.pid) {
            return;
        }
        if paused || h.paused {
            h.inbox.push_back(input);
            return;
        }
        let now = self.now;
        let _span = trace_span(&self.names[i], now).entered();
        h.core.handle(now, input);
        self.hbd_actions(i);
    }

    /// Hands a resumed hbd everything that queued up, in order, before any timer.
    pub(super) fn hbd_resume(&mut self, i: usize) {
        let now = self.now;
        while let Some(input) = self.machines[i]
            .hbd
            .as_mut()
            .and_then(|h| h.inbox.pop_front())
        {
            if let Some(h) = self.machines[i].hbd.as_mut() {
                let _span = trace_span(&self.names[i], now).entered();
                h.core.handle(now, input);
            }
            self.hbd_actions(i);
            if !self.hbd_running(i) {
                break;
            }
        }
    }

    pub(super) fn hbd_actions(&mut self, i: usize) {
        self.track_quorum(i);
        loop {
            let Some(h) = self.machines[i].hbd.as_mut() else {
                return;
            };
            let Some(a) = h.core.poll_action() else {
                return;
            };
            let pid = h.pid;
            match a {
                Action::Send(out) => self.transmit(i, &out),
                Action::PingRound => self.ping_round(i, pid),
                Action::Group(g, op) => {
                    self.note(format!("{}: {op:?} group{}", self.names[i], g.0));
                    self.group_op(i, pid, g, op)
                }
                Action::Fence { ticket, node } => {
                    self.note(format!(
                        "{}: hbd asks to fence {node} ({ticket:?})",
                        self.names[i]
                    ));
                    let origin = Origin::Cluster(format!("hbd on {}", self.names[i]));
                    self.fenced_input(
                        i,
                        FencedInput::Request {
                            hbd_pid: pid,
                            ticket,
                            target: node,
                            origin,
                        },
                    );
                }
                Action::WithdrawFence { node } => {
                    self.note(format!(
                        "{}: hbd withdraws the fence of {node}",
                        self.names[i]
                    ));
                    let origin = Origin::Cluster(format!("hbd on {}", self.names[i]));
                    self.fenced_input(
                        i,
                        FencedInput::Withdraw {
                            target: node,
                            origin,
                        },
                    );
                }
                Action::TellFenced(n) => {
                    self.note(format!("{}: hbd tells fenced {n:?}", self.names[i]));
                    if let Some(h) = self.machines[i].hbd.as_mut() {
                        match &n {
                            FencedNotice::Quorum(q) => h.quorum = Some(*q),
                            FencedNotice::Membership(m) => h.members = Some(m.clone()),
                            FencedNotice::Rejoined(_) => {}
                        }
                    }
                    self.fenced_input(i, FencedInput::Notice(n));
                }
                Action::SelfFence(reason) => {
                    self.stats.self_fences += 1;
                    self.power_off(i, &format!("hbd self-fence: {reason}"));
                    let d = ms(self.rng.random_range(1000..3000));
                    self.after(d, Ev::Reboot(i));
                    return;
                }
                Action::Exit => {
                    self.note(format!("{}: hbd left the cluster", self.names[i]));
                    self.machines[i].hbd = None;
                    // Without hbd the node is unreachable: a restarted fenced's startup
                    // fencing may fence it.
                    self.begin_disturbance(i);
                    return;
                }
            }
        }
    }

    pub(super) fn transmit(&mut self, from: usize, out: &node::Outgoing) {
        let Some(h) = self.machines[from].hbd.as_ref() else {
            return;
        };
        let stamp = proto::Stamp {
            seq: proto::Seq(out.seq),
            unix_time: 1_700_000_000 + self.now.0.as_secs(),
            load: "0.00 0.00 0.00 1/100 1".into(),
        };
        let message = proto::build(&out.body, &h.origin, out.dest_uuid, &stamp);
        let Ok(msg) = proto::parse(&message) else {
            self.violation(format!(
                "{}: sent a message hbd cannot parse",
                self.names[from]
            ));
            return;
        };
        if self.archive.len() >= 400 {
            self.archive.pop_front();
        }
        self.archive.push_back((from, msg.clone()));
        for to in 0..self.params.nodes {
            if to == from || !self.machines[to].powered || self.cut[from][to].is_some() {
                continue;
            }
            for link in 0..self.params.links {
                if let Some((_, p)) = self.loss {
                    if self.rng.random_bool(p) {
                        continue;
                    }
                }
                let copies = if self.rng.random_bool(0.01) { 2 } else { 1 };
                for _ in 0..copies {
                    let d = ms(self.rng.random_range(1..=20));
                    self.after(
                        d,
                        Ev::Packet {
                            to,
                            link,
                            msg: msg.clone(),
                        },
                    );
                }
            }
        }
    }

    /// hbd on `i` sends an echo request to the ping node: the reply comes back unless a
    /// cut or loss stands in the way (either way).
    pub(super) fn ping_round(&mut self, i: usize, pid: u64) {
        if !self.params.ping {
            return;
        }
        let p = self.ping_endpoint();
        if self.cut[i][p].is_some() || self.cut[p][i].is_some() {
            return;
        }
        if let Some((_, loss)) = self.loss {
            if self.rng.random_bool(loss) || self.rng.random_bool(loss) {
                return;
            }
        }
        let rtt = ms(self.rng.random_range(1..=20) + self.rng.random_range(1..=20));
        self.after(rtt, Ev::PingReply(i, pid));
    }

    pub(super) fn group_op(&mut self, i: usize, pid: u64, g: GroupId, op: GroupOp) {
        let ok = match op {
            GroupOp::Start => {
                self.machines[i].holds[g.index()] = true;
                true
            }
            GroupOp::Stop => !self.rng.random_bool(self.params.stop_fail_rate),
            GroupOp::Monitor | GroupOp::Probe => true,
        };
        let d = ms(self.rng.random_range(10..300));
        let done = self.now.max(self.machines[i].ops_busy_until) + d;
        self.machines[i].ops_busy_until = done;
        self.at(
            done,
            Ev::GroupDone {
                node: i,
                hbd_pid: pid,
                group: g,
                op,
                ok,
            },
        );
    }

    pub(super) fn group_done(&mut self, i: usize, pid: u64, g: GroupId, op: GroupOp, ok: bool) {
        if !self.machines[i].powered {
            return;
        }
        // The physical effect happens whoever is left to hear of it.
        let held = &mut self.machines[i].holds[g.index()];
        if op == GroupOp::Stop && ok {
            *held = false;
        }
        let result = match op {
            GroupOp::Start => GroupResult::Done(GroupOutcome::Started {
                skipped: Vec::new(),
            }),
            GroupOp::Stop if ok => GroupResult::Done(GroupOutcome::Stopped),
            GroupOp::Stop => GroupResult::Done(GroupOutcome::StopFailed {
                index: 0,
                outcome: AgentOutcome::TimedOut { after: ms(300) },
                start_failure: None,
            }),
            GroupOp::Monitor | GroupOp::Probe => GroupResult::Status(GroupStatus {
                resources: vec![if *held {
                    AgentOutcome::Running
                } else {
                    AgentOutcome::Stopped
                }],
            }),
        };
        self.hbd_input(
            i,
            Some(pid),
            Input::Group {
                group: g,
                op,
                result,
            },
        );
    }

    pub(super) fn notifier_refresh(&mut self, i: usize, pid: u64) {
        let Some(h) = self.machines[i].hbd.as_ref().filter(|h| h.pid == pid) else {
            return;
        };
        if self.hbd_running(i) {
            let q = h.quorum;
            let m = h.members.clone();
            if let Some(q) = q {
                self.fenced_input(i, FencedInput::Notice(FencedNotice::Quorum(q)));
            }
            if let Some(m) = m {
                self.fenced_input(i, FencedInput::Notice(FencedNotice::Membership(m)));
            }
        }
        self.after(Duration::from_secs(5), Ev::NotifierRefresh(i, pid));
    }
}
