//! A deterministic simulation of N membership cores exchanging packets over several media.
//!
//! Time is virtual and starts at zero; each step jumps to the earliest pending thing (a
//! packet arriving, a core's timeout, a fault, a node resuming, a cluster message to send),
//! processes everything due then, and checks the invariants. Packets get a random latency
//! (so they reorder), may be duplicated, lost on a lossy medium, blocked by a cut medium or a
//! partition. Faults: crash, restart (new generation), pause (SIGSTOP: packets queue up and
//! are handled on resume), link cut on one medium, full partition, lossy medium, graceful
//! leave, and replays of recorded packets (older generations and the current one).
//!
//! Invariants (checked as the run goes; a failure names the seed, `SIM_SEED` replays it):
//! 1. a peer that sees a node alive declares it dead no later than its last accepted
//!    status + the timeout the core must apply (dt, or max(dt, initdead) before comm up)
//!    + one timer granule;
//! 2. a node is never declared dead by timeout while it ran unpaused and had a medium to the
//!    observer that lost nothing for a whole deadtime (and the observer was not paused);
//! 3. a replayed packet of an older generation yields nothing but `ReplayRejected`; a
//!    replayed status no newer than one already handed over never revives a dead node;
//! 4. cluster messages are delivered per sender generation in seq order, each once, and
//!    every handle handed in comes back exactly once;
//! 5. every message sent while the receiver saw the sender alive is delivered, when neither
//!    end restarted, left or declared the other dead afterwards;
//! 6. a `shutdone` handed to a peer that sees the node alive makes it dead at once.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::Duration;

use hbd::config::NodeName;
use hbd::membership::{
    Action, DeadReason, Event, Incoming, IncomingKind, LinkId, Membership, MembershipConfig,
    MsgHandle, NodeStatus, NodeUuid, PeerState, QuorumConfig, Sent, Time, GRANULE,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The timing every node uses.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// keepalive.
    pub keepalive: Duration,
    /// deadtime.
    pub deadtime: Duration,
    /// warntime.
    pub warntime: Duration,
    /// initdead.
    pub initdead: Duration,
    /// max_rexmit_delay.
    pub max_rexmit_delay: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            keepalive: Duration::from_millis(500),
            deadtime: Duration::from_secs(2),
            warntime: Duration::from_secs(1),
            initdead: Duration::from_secs(4),
            max_rexmit_delay: Duration::from_millis(250),
        }
    }
}

/// A fault the schedule injects.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Kill the node.
    Crash,
    /// Start a stopped node with a new generation.
    Restart,
    /// Stop the process for this long.
    Pause(Duration),
    /// The node's interface on one medium is down for this long.
    CutLink(u16, Duration),
    /// The node is cut off on every medium for this long.
    Isolate(Duration),
    /// A medium loses this share of packets for this long.
    Lossy(u16, f64, Duration),
    /// Leave gracefully (the node then stops).
    Leave,
    /// Replay recorded packets to this node.
    Replay,
}

#[derive(Debug, Clone)]
struct Packet {
    to: usize,
    link: u16,
    pkt: Incoming,
}

/// The newest status handed over: (generation, seq, when, advertised dt).
type Fresh = (u64, u64, Time, Duration);

/// One simulated node.
pub struct SimNode {
    /// Its name.
    pub name: NodeName,
    uuid: NodeUuid,
    /// Its current generation.
    pub generation: u64,
    /// The core while it runs.
    pub core: Option<Membership>,
    paused_until: Option<Time>,
    inbox: Vec<(u16, Incoming)>,
    running_since: Time,
    last_pause_end: Time,
    /// After a stall the core reported, it judges nobody before this time.
    judge_after: Time,
    isolated_until: Time,
    cut_until: Vec<Time>,
    handles_in: u64,
    handles_out: u64,
    archive: Vec<Incoming>,
}

/// A message the sim sent.
#[derive(Debug, Clone)]
struct SentMsg {
    from: usize,
    generation: u64,
    seq: u64,
    at: Time,
    dest: Option<usize>,
    /// Peers that saw the sender alive with this generation at send time.
    seen_by: Vec<usize>,
}

/// The simulated cluster.
pub struct Sim {
    /// The seed.
    pub seed: u64,
    rng: ChaCha8Rng,
    /// Virtual now.
    pub now: Time,
    /// The nodes.
    pub nodes: Vec<SimNode>,
    links: u16,
    timing: Timing,
    /// (arrival, order, slot in `slab`).
    net: BinaryHeap<Reverse<(Time, u64, usize)>>,
    slab: Vec<Option<Packet>>,
    free: Vec<usize>,
    order: u64,
    wake: Vec<Option<Time>>,
    lossy: Vec<(f64, Time)>,
    faults: Vec<(Time, usize, Fault)>,
    /// Mean interval between cluster messages per node (`None`: no traffic).
    pub traffic: Option<Duration>,
    next_traffic: Vec<Time>,
    dup_rate: f64,
    /// Every event: (time, node, event).
    pub events: Vec<(Time, usize, Event)>,
    msgs: HashMap<u64, SentMsg>,
    next_msg: u64,
    /// Deliveries: (receiver, msg id, time).
    pub delivered: Vec<(usize, u64, Time)>,
    delivered_set: HashSet<(usize, u64)>,
    last_delivered_seq: HashMap<(usize, usize, u64), u64>,
    /// [receiver][sender] → (generation, seq, time handed over, advertised dt) of the newest
    /// status handed over.
    fresh: Vec<Vec<Option<Fresh>>>,
    /// [sender][receiver][link] → last time a packet on it was lost or blocked.
    last_loss: Vec<Vec<Vec<Option<Time>>>>,
    /// Replays injected, and how many were of an older generation.
    pub replays: (u64, u64),
    /// Violations found.
    pub violations: Vec<String>,
}

fn name_of(i: usize) -> NodeName {
    NodeName::new(&format!("node{}", i + 1))
}

impl Sim {
    /// `n` nodes on `links` media, none started.
    pub fn new(seed: u64, n: usize, links: u16, timing: Timing) -> Self {
        let nodes = (0..n)
            .map(|i| SimNode {
                name: name_of(i),
                uuid: NodeUuid([i as u8 + 1; 16]),
                generation: 1000 + i as u64 * 10,
                core: None,
                paused_until: None,
                inbox: Vec::new(),
                running_since: Time::ZERO,
                last_pause_end: Time::ZERO,
                judge_after: Time::ZERO,
                isolated_until: Time::ZERO,
                cut_until: vec![Time::ZERO; links as usize],
                handles_in: 0,
                handles_out: 0,
                archive: Vec::new(),
            })
            .collect();
        Self {
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: Time::ZERO,
            nodes,
            links,
            timing,
            net: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            order: 0,
            wake: vec![None; n],
            lossy: vec![(0.0, Time::ZERO); links as usize],
            faults: Vec::new(),
            traffic: Some(Duration::from_millis(1000)),
            next_traffic: vec![Time::ZERO; n],
            dup_rate: 0.03,
            events: Vec::new(),
            msgs: HashMap::new(),
            next_msg: 1,
            delivered: Vec::new(),
            delivered_set: HashSet::new(),
            last_delivered_seq: HashMap::new(),
            fresh: vec![vec![None; n]; n],
            last_loss: vec![vec![vec![None; links as usize]; n]; n],
            replays: (0, 0),
            violations: Vec::new(),
        }
    }

    fn config(&self, i: usize) -> MembershipConfig {
        let t = self.timing;
        MembershipConfig {
            keepalive: t.keepalive,
            deadtime: t.deadtime,
            warntime: t.warntime,
            initdead: t.initdead,
            deadping: t.deadtime,
            max_rexmit_delay: t.max_rexmit_delay,
            nodes: (0..self.nodes.len()).map(name_of).collect(),
            ping_nodes: Vec::new(),
            links: self.links,
            quorum: QuorumConfig::default(),
            rng_seed: self.seed ^ (i as u64 * 0x9e37_79b9) ^ self.nodes[i].generation,
        }
    }

    /// Starts (or restarts, with the next generation) node `i` now.
    pub fn start(&mut self, i: usize) {
        let now = self.now;
        let node = &mut self.nodes[i];
        if node.core.is_some() {
            return;
        }
        node.generation += 1;
        node.running_since = now;
        node.handles_in = 0;
        node.handles_out = 0;
        self.fresh[i].iter_mut().for_each(|f| *f = None);
        // A new incarnation of the receiver starts delivering afresh.
        self.last_delivered_seq.retain(|&(p, _, _), _| p != i);
        self.delivered_set.retain(|&(p, _)| p != i);
        let core = Membership::new(
            self.config(i),
            name_of(i),
            self.nodes[i].uuid,
            self.nodes[i].generation,
            now,
        );
        self.nodes[i].core = Some(core);
        let jitter = self.rng.random_range(0..1000);
        self.next_traffic[i] = now + Duration::from_millis(jitter);
        self.drain(i);
    }

    /// Schedules `fault` on node `i` at `at`.
    pub fn schedule(&mut self, at: Duration, i: usize, fault: Fault) {
        self.faults.push((Time(at), i, fault));
        self.faults.sort_by_key(|f| Reverse(f.0));
    }

    /// `count` random faults in [2 s, until].
    pub fn random_faults(&mut self, until: Duration, count: usize) {
        let n = self.nodes.len();
        for _ in 0..count {
            let at = Duration::from_millis(self.rng.random_range(2000..until.as_millis() as u64));
            let i = self.rng.random_range(0..n);
            let secs = |rng: &mut ChaCha8Rng, lo: u64, hi: u64| {
                Duration::from_millis(rng.random_range(lo * 1000..hi * 1000))
            };
            match self.rng.random_range(0..9) {
                0 => {
                    self.schedule(at, i, Fault::Crash);
                    let back = secs(&mut self.rng, 1, 8);
                    self.schedule(at + back, i, Fault::Restart);
                }
                1 => {
                    let d = secs(&mut self.rng, 0, 5);
                    self.schedule(at, i, Fault::Pause(d));
                }
                2 | 3 => {
                    let l = self.rng.random_range(0..self.links);
                    let d = secs(&mut self.rng, 1, 10);
                    self.schedule(at, i, Fault::CutLink(l, d));
                }
                4 => {
                    let d = secs(&mut self.rng, 1, 8);
                    self.schedule(at, i, Fault::Isolate(d));
                }
                5 => {
                    let l = self.rng.random_range(0..self.links);
                    let p = self.rng.random_range(0.05..0.5);
                    let d = secs(&mut self.rng, 2, 10);
                    self.schedule(at, i, Fault::Lossy(l, p, d));
                }
                6 => {
                    self.schedule(at, i, Fault::Leave);
                    let back = secs(&mut self.rng, 1, 6);
                    self.schedule(at + back, i, Fault::Restart);
                }
                _ => self.schedule(at, i, Fault::Replay),
            }
        }
        // Replays throughout, and once more after the last restart.
        let mut t = 3000;
        while t < until.as_millis() as u64 + 5000 {
            let i = self.rng.random_range(0..n);
            self.schedule(Duration::from_millis(t), i, Fault::Replay);
            t += self.rng.random_range(500..3000);
        }
    }

    fn next_time(&self) -> Option<Time> {
        let mut next: Option<Time> = None;
        let mut consider = |t: Time| next = Some(next.map_or(t, |n: Time| n.min(t)));
        if let Some(Reverse((t, _, _))) = self.net.peek() {
            consider(*t);
        }
        if let Some((t, _, _)) = self.faults.last() {
            consider(*t);
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if node.core.is_none() {
                continue;
            }
            if let Some(p) = node.paused_until {
                consider(p);
                continue;
            }
            if let Some(t) = self.wake[i] {
                consider(t);
            }
            if self.traffic.is_some() {
                consider(self.next_traffic[i]);
            }
        }
        next
    }

    /// Runs until virtual time `end`.
    pub fn run_until(&mut self, end: Duration) {
        let end = Time(end);
        while let Some(t) = self.next_time() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.step();
            self.check_detection();
        }
        self.now = end;
    }

    fn step(&mut self) {
        let now = self.now;
        // Resumes first: the queued packets, then the timers.
        for i in 0..self.nodes.len() {
            if self.nodes[i].paused_until.is_some_and(|p| p <= now) {
                self.nodes[i].paused_until = None;
                self.nodes[i].last_pause_end = now;
                let inbox = std::mem::take(&mut self.nodes[i].inbox);
                for (link, pkt) in inbox {
                    self.hand(i, link, pkt, false);
                }
            }
        }
        while self.faults.last().is_some_and(|f| f.0 <= now) {
            if let Some((_, i, fault)) = self.faults.pop() {
                self.apply(i, fault);
            }
        }
        while self.net.peek().is_some_and(|p| p.0 .0 <= now) {
            if let Some(Reverse((_, _, slot))) = self.net.pop() {
                self.free.push(slot);
                if let Some(p) = self.slab[slot].take() {
                    self.arrive(p);
                }
            }
        }
        for i in 0..self.nodes.len() {
            let runnable = self.nodes[i].core.is_some() && self.nodes[i].paused_until.is_none();
            if !runnable {
                continue;
            }
            if self.traffic.is_some() && self.next_traffic[i] <= now {
                self.send_traffic(i);
            }
            let due = self.wake[i].is_some_and(|t| t <= now);
            if due {
                if let Some(c) = self.nodes[i].core.as_mut() {
                    c.on_tick(now);
                }
                self.drain(i);
            }
        }
    }

    fn send_traffic(&mut self, i: usize) {
        let now = self.now;
        let n = self.nodes.len();
        let mean = self.traffic.map_or(1000, |d| d.as_millis() as u64);
        self.next_traffic[i] = now + Duration::from_millis(self.rng.random_range(1..2 * mean));
        let dest = if n > 2 && self.rng.random_bool(0.2) {
            let d = self.rng.random_range(0..n);
            (d != i).then_some(d)
        } else {
            None
        };
        let id = self.next_msg;
        self.next_msg += 1;
        let generation = self.nodes[i].generation;
        let seen_by: Vec<usize> = (0..n)
            .filter(|&p| p != i)
            .filter(|&p| {
                self.nodes[p].core.as_ref().is_some_and(|c| {
                    c.node(&self.nodes[i].name)
                        .is_some_and(|v| v.status.is_alive() && v.generation == generation)
                })
            })
            .collect();
        let Some(core) = self.nodes[i].core.as_mut() else {
            return;
        };
        let Some(seq) = core.send_cluster(now, MsgHandle(id), dest.map(name_of)) else {
            return;
        };
        self.msgs.insert(
            id,
            SentMsg {
                from: i,
                generation,
                seq,
                at: now,
                dest,
                seen_by,
            },
        );
        self.drain(i);
    }

    fn apply(&mut self, i: usize, fault: Fault) {
        let now = self.now;
        if std::env::var_os("SIM_TRACE").is_some() {
            eprintln!("{:>10?} node{}: fault {fault:?}", now.0, i + 1);
        }
        match fault {
            Fault::Crash => {
                let node = &mut self.nodes[i];
                node.core = None;
                node.paused_until = None;
                node.inbox.clear();
            }
            Fault::Restart => self.start(i),
            Fault::Pause(d) => {
                if self.nodes[i].core.is_some() && self.nodes[i].paused_until.is_none() {
                    self.nodes[i].paused_until = Some(now + d);
                }
            }
            Fault::CutLink(l, d) => {
                let c = &mut self.nodes[i].cut_until[l as usize];
                *c = (*c).max(now + d);
            }
            Fault::Isolate(d) => {
                let c = &mut self.nodes[i].isolated_until;
                *c = (*c).max(now + d);
            }
            Fault::Lossy(l, p, d) => self.lossy[l as usize] = (p, now + d),
            Fault::Leave => {
                if self.nodes[i].paused_until.is_none() {
                    if let Some(c) = self.nodes[i].core.as_mut() {
                        c.leave(now);
                        self.drain(i);
                        self.nodes[i].core = None;
                    }
                }
            }
            Fault::Replay => self.replay(i),
        }
    }

    fn blocked(&self, from: usize, to: usize, link: u16) -> bool {
        let now = self.now;
        let (a, b) = (&self.nodes[from], &self.nodes[to]);
        a.isolated_until > now
            || b.isolated_until > now
            || a.cut_until[link as usize] > now
            || b.cut_until[link as usize] > now
    }

    /// Sends `pkt` from `from` to every other node (or only `only`) on every medium.
    fn broadcast(&mut self, from: usize, pkt: Incoming, only: Option<usize>) {
        let now = self.now;
        for to in 0..self.nodes.len() {
            if to == from || only.is_some_and(|o| o != to) {
                continue;
            }
            for link in 0..self.links {
                let (p, until) = self.lossy[link as usize];
                let lost = self.blocked(from, to, link) || (until > now && self.rng.random_bool(p));
                if lost {
                    self.last_loss[from][to][link as usize] = Some(now);
                    continue;
                }
                let copies = if self.rng.random_bool(self.dup_rate) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let latency = Duration::from_millis(self.rng.random_range(1..20));
                    self.order += 1;
                    let packet = Packet {
                        to,
                        link,
                        pkt: pkt.clone(),
                    };
                    let slot = match self.free.pop() {
                        Some(slot) => {
                            self.slab[slot] = Some(packet);
                            slot
                        }
                        None => {
                            self.slab.push(Some(packet));
                            self.slab.len() - 1
                        }
                    };
                    self.net.push(Reverse((now + latency, self.order, slot)));
                }
            }
        }
    }

    fn arrive(&mut self, p: Packet) {
        let node = &mut self.nodes[p.to];
        if node.core.is_none() {
            return;
        }
        if node.paused_until.is_some() {
            node.inbox.push((p.link, p.pkt));
            return;
        }
        self.hand(p.to, p.link, p.pkt, false);
    }

    /// Hands a packet to node `i`'s core and carries out what it asks.
    fn hand(&mut self, i: usize, link: u16, pkt: Incoming, replay: bool) {
        let now = self.now;
        let x = self.index_of(&pkt.from);
        let before = x.and_then(|x| self.view(i, x));
        let mut stale_status = false;
        if let (Some(x), IncomingKind::Status { deadtime, .. }) = (x, &pkt.kind) {
            let key = (pkt.generation, pkt.seq.unwrap_or(0));
            let fresh = self.fresh[i][x];
            if fresh.is_none_or(|f| key > (f.0, f.1)) {
                let dt = deadtime.unwrap_or(self.timing.deadtime);
                self.fresh[i][x] = Some((key.0, key.1, now, dt));
            } else {
                stale_status = true;
            }
        }
        let is_shutdone = matches!(pkt.kind, IncomingKind::Shutdone);
        let current_gen = x.map(|x| self.nodes[x].generation);
        if matches!(pkt.kind, IncomingKind::Cluster { .. }) {
            self.nodes[i].handles_in += 1;
        }
        let Some(core) = self.nodes[i].core.as_mut() else {
            return;
        };
        core.on_packet(now, LinkId(link), pkt.clone());
        let after = x.and_then(|x| self.view(i, x));
        if let (Some(before), Some(after)) = (before, after) {
            if replay && stale_status && !before.is_alive() && after.is_alive() {
                self.violation(format!(
                    "node{} revived {} on a replayed status {pkt:?}",
                    i + 1,
                    pkt.from
                ));
            }
            if is_shutdone
                && before.is_alive()
                && Some(pkt.generation) == current_gen
                && after != NodeStatus::Dead
            {
                self.violation(format!(
                    "node{} still sees {} {after:?} after its shutdone",
                    i + 1,
                    pkt.from
                ));
            }
        }
        self.drain(i);
    }

    fn index_of(&self, name: &NodeName) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == *name)
    }

    fn view(&self, i: usize, x: usize) -> Option<NodeStatus> {
        self.nodes[i].core.as_ref()?.status_of(&self.nodes[x].name)
    }

    fn replay(&mut self, i: usize) {
        let now = self.now;
        let n = self.nodes.len();
        if self.nodes[i].core.is_none() || self.nodes[i].paused_until.is_some() {
            return;
        }
        let x = self.rng.random_range(0..n);
        if x == i || self.nodes[x].archive.is_empty() {
            return;
        }
        let k = self.rng.random_range(0..self.nodes[x].archive.len());
        let pkt = self.nodes[x].archive[k].clone();
        let link = self.rng.random_range(0..self.links);
        self.replays.0 += 1;
        let known_gen = self.nodes[i]
            .core
            .as_ref()
            .and_then(|c| c.node(&name_of(x)))
            .map_or(0, |v| v.generation);
        if pkt.generation < known_gen {
            self.replays.1 += 1;
            // Settle the timers first, so that whatever follows is the packet's doing.
            if let Some(c) = self.nodes[i].core.as_mut() {
                c.on_tick(now);
            }
            self.drain(i);
            let handle = match pkt.kind {
                IncomingKind::Cluster { handle } => Some(handle),
                _ => None,
            };
            let Some(c) = self.nodes[i].core.as_mut() else {
                return;
            };
            c.on_packet(now, LinkId(link), pkt.clone());
            let actions: Vec<Action> = std::iter::from_fn(|| c.poll_action()).collect();
            for a in &actions {
                let ok = match a {
                    Action::Event(Event::ReplayRejected {
                        node,
                        generation,
                        current,
                    }) => {
                        *node == name_of(x)
                            && *generation == pkt.generation
                            && *current == known_gen
                    }
                    Action::Discard { handle: h } => Some(*h) == handle,
                    // A replay handed over after a pause is the first input that sees the
                    // stall: the status that was due goes out, and the stall is reported.
                    Action::SendStatus { .. }
                    | Action::Event(Event::Stalled { .. } | Event::NoLocalHeartbeat { .. }) => true,
                    _ => false,
                };
                if !ok {
                    self.violation(format!(
                        "node{} acted on a replayed generation-{} packet of {}: {a:?}",
                        i + 1,
                        pkt.generation,
                        name_of(x)
                    ));
                }
            }
            if handle.is_some() {
                self.nodes[i].handles_in += 1;
                self.nodes[i].handles_out += 1;
            }
            self.drain(i);
        } else {
            self.hand(i, link, pkt, true);
        }
    }

    fn packet(
        &self,
        i: usize,
        seq: Option<u64>,
        dest: Option<NodeName>,
        kind: IncomingKind,
    ) -> Incoming {
        let node = &self.nodes[i];
        Incoming {
            from: node.name.clone(),
            uuid: Some(node.uuid),
            generation: node.generation,
            seq,
            dest,
            kind,
        }
    }

    fn archive(&mut self, i: usize, pkt: &Incoming) {
        let a = &mut self.nodes[i].archive;
        if a.len() < 64 {
            a.push(pkt.clone());
        } else {
            let k = self.rng.random_range(0..a.len());
            self.nodes[i].archive[k] = pkt.clone();
        }
    }

    /// Carries out node `i`'s actions.
    fn drain(&mut self, i: usize) {
        loop {
            let Some(a) = self.nodes[i].core.as_mut().and_then(|c| c.poll_action()) else {
                self.wake[i] = self.nodes[i].core.as_ref().and_then(|c| c.poll_timeout());
                return;
            };
            let now = self.now;
            match a {
                Action::SendStatus {
                    seq,
                    state,
                    deadtime,
                } => self.send_seq(i, seq, None, status_kind(state, deadtime)),
                Action::SendShutdone { seq } => self.send_seq(i, seq, None, IncomingKind::Shutdone),
                Action::Transmit { seq, handle, dest } => {
                    self.send_seq(i, seq, dest, IncomingKind::Cluster { handle })
                }
                Action::Retransmit { seq, msg, dest, .. } => {
                    let kind = match msg {
                        Sent::Status { state, deadtime } => status_kind(state, deadtime),
                        Sent::Shutdone => IncomingKind::Shutdone,
                        Sent::Cluster { handle } => IncomingKind::Cluster { handle },
                    };
                    self.send_seq(i, seq, dest, kind);
                }
                Action::Release { .. } => {}
                Action::SendRexmitRequest { to, seq } => self.send_ns(
                    i,
                    to,
                    IncomingKind::Rexmit {
                        first: seq,
                        last: seq,
                    },
                ),
                Action::SendNak { to, seq } => self.send_ns(i, to, IncomingKind::NakRexmit { seq }),
                Action::SendAck { to, seq } => self.send_ns(i, to, IncomingKind::Ack { seq }),
                Action::Deliver { from, seq, handle } => {
                    self.nodes[i].handles_out += 1;
                    self.delivered_msg(i, &from, seq, handle);
                }
                Action::Discard { .. } => self.nodes[i].handles_out += 1,
                Action::Event(e) => self.on_event(i, e),
            }
            let _ = now;
        }
    }

    fn send_seq(&mut self, i: usize, seq: u64, dest: Option<NodeName>, kind: IncomingKind) {
        let pkt = self.packet(i, Some(seq), dest, kind);
        if !matches!(pkt.kind, IncomingKind::Shutdone) {
            self.archive(i, &pkt);
        }
        self.broadcast(i, pkt, None);
    }

    fn send_ns(&mut self, i: usize, to: NodeName, kind: IncomingKind) {
        let Some(t) = self.index_of(&to) else { return };
        let pkt = self.packet(i, None, Some(to), kind);
        self.broadcast(i, pkt, Some(t));
    }

    fn delivered_msg(&mut self, i: usize, from: &NodeName, seq: u64, handle: MsgHandle) {
        let now = self.now;
        let id = handle.0;
        let Some(m) = self.msgs.get(&id) else {
            return self.violation(format!("node{} delivered unknown message {id}", i + 1));
        };
        if self.nodes[m.from].name != *from || m.seq != seq {
            let msg = format!(
                "node{} delivered {id} as {from}#{seq}, sent as {m:?}",
                i + 1
            );
            return self.violation(msg);
        }
        if m.dest.is_some_and(|d| d != i) {
            let msg = format!("node{} delivered {id}, addressed to another node", i + 1);
            return self.violation(msg);
        }
        let key = (i, m.from, m.generation);
        if self.last_delivered_seq.get(&key).is_some_and(|&s| s >= seq) {
            let msg = format!(
                "node{} delivered {from}#{seq} out of order (after #{:?})",
                i + 1,
                self.last_delivered_seq.get(&key)
            );
            return self.violation(msg);
        }
        self.last_delivered_seq.insert(key, seq);
        if !self.delivered_set.insert((i, id)) {
            return self.violation(format!("node{} delivered {id} twice", i + 1));
        }
        self.delivered.push((i, id, now));
    }

    fn on_event(&mut self, i: usize, e: Event) {
        let now = self.now;
        if let Event::NodeDead {
            node,
            reason: DeadReason::Timeout,
        } = &e
        {
            if let Some(x) = self.index_of(node) {
                self.check_false_death(i, x);
            }
        }
        if let Event::Stalled { grace, .. } = &e {
            self.nodes[i].judge_after = now + *grace;
        }
        self.events.push((now, i, e));
    }

    /// Invariant 2.
    fn check_false_death(&mut self, p: usize, x: usize) {
        let now = self.now;
        let window = self.timing.deadtime;
        let since = |t: Time| now.since(t) > window;
        let xn = &self.nodes[x];
        let pn = &self.nodes[p];
        let x_steady = xn.core.is_some()
            && xn.paused_until.is_none()
            && since(xn.running_since)
            && since(xn.last_pause_end);
        let p_steady = since(pn.last_pause_end);
        if !(x_steady && p_steady) {
            return;
        }
        let clean = (0..self.links).find(|&l| {
            self.last_loss[x][p][l as usize]
                .is_none_or(|t| now.since(t) > window + Duration::from_millis(20))
        });
        if let Some(l) = clean {
            self.violation(format!(
                "node{} declared node{} dead although it ran and medium {l} lost nothing for {window:?}",
                p + 1,
                x + 1
            ));
        }
    }

    /// Invariant 1, after every step.
    fn check_detection(&mut self) {
        let now = self.now;
        let initdead = self.timing.initdead;
        let mut found = Vec::new();
        for (p, pn) in self.nodes.iter().enumerate() {
            let Some(core) = &pn.core else { continue };
            if pn.paused_until.is_some() {
                continue;
            }
            for x in 0..self.nodes.len() {
                if x == p {
                    continue;
                }
                let Some(status) = core.status_of(&self.nodes[x].name) else {
                    continue;
                };
                if !status.is_alive() {
                    continue;
                }
                let Some((_, _, at, dt)) = self.fresh[p][x] else {
                    continue;
                };
                let timeout = if core.comm_is_up() {
                    dt
                } else {
                    dt.max(initdead)
                };
                if now > (at + timeout).max(pn.judge_after) + GRANULE {
                    found.push(format!(
                        "node{} still sees node{} alive at {:?}: last status handed over at {:?}, timeout {timeout:?}",
                        p + 1,
                        x + 1,
                        now.0,
                        at.0
                    ));
                }
            }
        }
        for v in found {
            self.violation(v);
        }
    }

    /// Invariants 4 and 5 at the end of a run: messages sent more than `settle` before now
    /// must have arrived.
    pub fn check_end(&mut self, settle: Duration) {
        let mut found = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(c) = &n.core {
                let out = n.handles_out + c.pending_deliveries() as u64;
                if n.handles_in != out {
                    found.push(format!(
                        "node{}: {} handles in, {} delivered or discarded, {} pending",
                        i + 1,
                        n.handles_in,
                        n.handles_out,
                        c.pending_deliveries()
                    ));
                }
            }
        }
        let mut ids: Vec<&u64> = self.msgs.keys().collect();
        ids.sort();
        for id in ids {
            let m = &self.msgs[id];
            if self.now.since(m.at) < settle {
                continue;
            }
            let x = m.from;
            let sender_same =
                self.nodes[x].core.is_some() && self.nodes[x].generation == m.generation;
            if !sender_same {
                continue;
            }
            for &p in &m.seen_by {
                if m.dest.is_some_and(|d| d != p) {
                    continue;
                }
                let pn = &self.nodes[p];
                if pn.core.is_none() || pn.running_since > m.at {
                    continue;
                }
                let disturbed = self.events.iter().any(|(t, who, e)| {
                    *t >= m.at
                        && match e {
                            Event::NodeDead { node, .. } => {
                                (*who == p && *node == self.nodes[x].name)
                                    || (*who == x && *node == self.nodes[p].name)
                            }
                            Event::TooManyLost { node, .. }
                            | Event::IrretrievablyLost { node, .. } => {
                                *who == p && *node == self.nodes[x].name
                            }
                            _ => false,
                        }
                });
                if disturbed {
                    continue;
                }
                if !self.delivered_set.contains(&(p, *id)) {
                    found.push(format!(
                        "node{} never got message {id} ({}#{} sent at {:?})",
                        p + 1,
                        name_of(x),
                        m.seq,
                        m.at.0
                    ));
                }
            }
        }
        for v in found {
            self.violation(v);
        }
    }

    fn violation(&mut self, v: String) {
        if self.violations.len() < 20 {
            self.violations
                .push(format!("seed {} at {:?}: {v}", self.seed, self.now.0));
        }
    }

    /// Panics with every violation found (`SIM_TRACE=1` prints every event first).
    pub fn assert_ok(&self) {
        if !self.violations.is_empty() && std::env::var_os("SIM_TRACE").is_some() {
            for (t, i, e) in &self.events {
                eprintln!("{:>10?} node{}: {e:?}", t.0, i + 1);
            }
        }
        assert!(
            self.violations.is_empty(),
            "{} violation(s):\n{}",
            self.violations.len(),
            self.violations.join("\n")
        );
    }

    /// The first time node `i` emitted an event matching `f`.
    pub fn first_event(&self, f: impl Fn(usize, &Event) -> bool) -> Option<Time> {
        self.events
            .iter()
            .find(|(_, i, e)| f(*i, e))
            .map(|(t, _, _)| *t)
    }

    /// Whether node `i` sees node `x` with `status`.
    pub fn sees(&self, i: usize, x: usize) -> Option<NodeStatus> {
        self.view(i, x)
    }
}

fn status_kind(state: PeerState, deadtime: Duration) -> IncomingKind {
    IncomingKind::Status {
        state,
        deadtime: Some(deadtime),
        hears: None,
    }
}
