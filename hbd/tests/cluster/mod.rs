//! The whole-cluster simulation: every node runs hbd's node core and fenced's queue core
//! (the daemons' own decision code, unchanged) over a simulated network, simulated fence
//! devices, resource agents and a quorum disk, in virtual time. One seed replays one whole
//! history (TigerBeetle's VOPR is the model).
//!
//! # The world
//! - **Machines** run up to three daemons: hbd ([`hbd::node::NodeCore`]), fenced
//!   ([`fenced::queue::FenceQueue`]) and qdiskd ([`qdisk::cycle::QdiskCore`]).
//!   Each can be killed (`kill -9`) and restarted on its own, or paused and resumed on its
//!   own; a whole machine can crash (power off), be paused (SIGSTOP of everything: its
//!   inputs queue up and are handed over on resume, before any timer), and be powered on.
//! - **Resources**: a group is *physically held* by a machine from the moment hbd issues
//!   its start until its stop (or failed start) completes, or the machine is off. Killing
//!   hbd does not stop what it started. Operations take 10–300 ms; a few stops fail.
//! - **Network**: every message hbd sends is built and parsed with hbd's wire protocol
//!   module ([`hbd::proto`]) and delivered on every medium to every machine, after 1–20 ms
//!   (so it reorders), sometimes twice. Faults: symmetric partitions, one-way cuts, loss,
//!   and replays of recorded packets.
//! - **Ping node** (some runs; every node gives it `ping_votes` 1): an address on the same
//!   network answering ICMP echo. hbd sends one echo request with every status; the reply
//!   comes back after 1–20 ms each way, unless a cut (either way) or loss stands between
//!   the node and it. It is one more endpoint of the network: partitions put it on one
//!   side, one-way cuts may involve it.
//! - **Fencing**: one IPMI-like device per node, called by fenced; slow, failing, down for
//!   a while, or (in the checker's own test) lying: it reports success without acting.
//!   A successful honest off powers the target machine off. `fence_tool ack` is given only
//!   for machines that are really off.
//! - **Quorum disk** (two nodes: `master_wins`, 1 vote; more: nodes − 1 votes, which the
//!   master grants only within its network partition as hbd tells it, and which hbd counts
//!   only while the master is in its partition): qdiskd's cycle core on each machine over
//!   one simulated disk of real sector images; it answers hbd's polls every 250 ms, which
//!   carry hbd's partition; its self-fence (evicted, write deadline) powers its machine off.
//!
//! # Invariants, checked after every step
//! 1. No group is physically held by two machines.
//! 2. A machine is powered off by a fence only if the model made it unreachable or paused
//!    (crash, pause, a daemon killed or paused, a partition, cut or loss touching it) at
//!    some time within [`JUSTIFY_WINDOW`] before the device was called.
//! 3. No fence device is called for a node that the calling node's hbd sees as a member.
//! 4. No core's next timeout is at or before the time it was just called at.
//! 5. After the faults stop (everything healed, resumed, restarted and powered on), every
//!    group runs on exactly one machine within [`Params::settle_bound`].
//! 6. A node that is up and running hbd, and that the fencer's hbd hears (or could hear:
//!    nothing stands between them either way) within the settle time ([`DEADTIME`]) after
//!    the fencer's quorum was (re)gained, is never fenced on a device call the fencer made
//!    in that time: a view formed while the fencer was not quorate (cut off itself, most
//!    likely) is not acted on before its peers could be heard. Judged after every step and
//!    before the call's power-off takes effect.

#![allow(dead_code)]

mod faults;
mod fenced_side;
mod hbd_side;
mod qdisk_model;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::time::Duration;

use fenced::history::{FenceAction, Origin, Outcome};
use fenced::queue::{Action as QAction, CallId, FenceQueue, OpId, QueueConfig};
use fenced::time::BootTime;
use fenced::topology::{
    DeviceName, DeviceUse, Level, NodeFencing, NodeName as FNodeName, Topology,
};
use hbd::agents::{GroupOutcome, GroupStatus, Outcome as AgentOutcome};
use hbd::config::{AutoFailback, NodeName};
use hbd::membership::{LinkId, MembershipConfig, NodeUuid, QdiskVotes, QuorumConfig, Time};
use hbd::node::{
    self, Action, FenceReply, FenceTicket, FencedNotice, GroupOp, GroupResult, Input, NodeConfig,
    NodeCore, QdiskReport,
};
use hbd::policy::{GroupId, PolicyConfig};
use hbd::proto;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// hbd's timing in the simulation.
pub const KEEPALIVE: Duration = Duration::from_millis(100);
/// deadtime.
pub const DEADTIME: Duration = Duration::from_millis(500);
/// warntime.
pub const WARNTIME: Duration = Duration::from_millis(300);
/// initdead.
pub const INITDEAD: Duration = Duration::from_secs(1);
/// The quorum disk's tko (interval × tko).
pub const TKO: Duration = Duration::from_secs(1);
/// How long fenced may take to answer hbd.
pub const FENCE_REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a qdiskd report of held votes stays good.
pub const VOTE_TTL: Duration = Duration::from_secs(1);
/// A fence is justified if its target was disturbed at most this long before.
pub const JUSTIFY_WINDOW: Duration = Duration::from_secs(3);
/// A run stops after this many violations (the report shows the first few).
pub const MAX_VIOLATIONS: usize = 100;
/// The ping node's name (its address), in runs that have one.
pub const PING_NODE: &str = "10.99.1.3";

/// A span naming the node and the virtual time, for `SIM_TRACE=1` (the cores' own log
/// lines then say where and when they happened).
fn trace_span(node: &NodeName, now: Time) -> tracing::Span {
    tracing::info_span!("sim", node = %node, t = now.0.as_secs_f64())
}

/// With `SIM_TRACE=1`, the cores' log lines go to stderr (use with `SIM_SEED`).
pub fn init_trace() {
    if std::env::var("SIM_TRACE").is_ok_and(|v| v == "1") {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .without_time()
            .with_target(false)
            .try_init();
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Which faults a run may inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Faults {
    /// Machine crash / power-off, and power-on later.
    pub crash: bool,
    /// kill -9 of one daemon, restarted later (resources still up).
    pub kill_daemon: bool,
    /// Pause of a whole machine.
    pub pause_node: bool,
    /// Pause of one daemon.
    pub pause_daemon: bool,
    /// Symmetric partitions.
    pub partition: bool,
    /// One-way cuts.
    pub one_way: bool,
    /// Packet loss.
    pub loss: bool,
    /// Replays of recorded packets.
    pub replay: bool,
    /// A fence device down for a while.
    pub device_down: bool,
    /// `fence_tool ack` for machines that are really off.
    pub ack: bool,
    /// Graceful shutdown of hbd, restarted later.
    pub shutdown: bool,
}

impl Faults {
    /// Every fault.
    pub const ALL: Faults = Faults {
        crash: true,
        kill_daemon: true,
        pause_node: true,
        pause_daemon: true,
        partition: true,
        one_way: true,
        loss: true,
        replay: true,
        device_down: true,
        ack: true,
        shutdown: true,
    };
    /// None.
    pub const NONE: Faults = Faults {
        crash: false,
        kill_daemon: false,
        pause_node: false,
        pause_daemon: false,
        partition: false,
        one_way: false,
        loss: false,
        replay: false,
        device_down: false,
        ack: false,
        shutdown: false,
    };
}

/// One run's shape.
#[derive(Debug, Clone)]
pub struct Params {
    /// Nodes (2 to 5).
    pub nodes: usize,
    /// Resource groups.
    pub groups: usize,
    /// Each group's preferred node (index).
    pub preferred: Vec<usize>,
    /// Heartbeat media.
    pub links: u16,
    /// A quorum disk: two nodes with `master_wins` (1 vote), more with nodes − 1 votes.
    pub qdisk: bool,
    /// A ping node worth one vote on every node ([`PING_NODE`]).
    pub ping: bool,
    /// `auto_failback`.
    pub auto_failback: AutoFailback,
    /// How long faults are injected.
    pub chaos: Duration,
    /// Which.
    pub faults: Faults,
    /// Share of fence device calls that fail.
    pub device_fail_rate: f64,
    /// Fence device call time, most.
    pub device_latency_max: Duration,
    /// The fence devices report success without acting (the checker's own test).
    pub lying_devices: bool,
    /// Each node writes the node list and the groups in its own order.
    pub shuffled_node_lists: bool,
    /// This node's haresources prefers another node for the first group (a definition
    /// that differs).
    pub differing_definition: Option<usize>,
    /// Share of stops that fail.
    pub stop_fail_rate: f64,
    /// fenced's delays.
    pub post_fail_delay: Duration,
    /// fenced's random delay, most.
    pub random_delay_max: Duration,
    /// Every group must run on exactly one machine within this after the faults stop.
    pub settle_bound: Duration,
    /// hbd probes its groups at start (off only to show the restart hole).
    pub probe: bool,
}

impl Params {
    /// A random shape for `seed`.
    pub fn random(seed: u64) -> Params {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x005e_edc1_u64);
        let nodes = rng.random_range(2..=4);
        let groups = rng.random_range(1..=3);
        let preferred = (0..groups).map(|_| rng.random_range(0..nodes)).collect();
        let links = rng.random_range(1..=2);
        // Two nodes: master_wins; more: nodes − 1 votes, granted by the master within its
        // partition (drawn apart so older seeds keep their shapes).
        let qdisk = if nodes == 2 {
            rng.random_bool(0.7)
        } else {
            ChaCha8Rng::seed_from_u64(seed ^ 0x0d15_c0de).random_bool(0.5)
        };
        Params {
            nodes,
            groups,
            preferred,
            links,
            qdisk,
            // Drawn apart too: two nodes without the disk are never quorate alone unless a
            // ping node breaks the tie; others have one now and then.
            ping: ChaCha8Rng::seed_from_u64(seed ^ 0x0091_6e0d)
                .random_bool(if nodes == 2 && !qdisk { 0.8 } else { 0.25 }),
            auto_failback: match rng.random_range(0..3) {
                0 => AutoFailback::On,
                1 => AutoFailback::Off,
                _ => AutoFailback::Legacy,
            },
            chaos: Duration::from_secs(40),
            faults: Faults::ALL,
            device_fail_rate: [0.0, 0.2, 0.5][rng.random_range(0..3)],
            device_latency_max: ms([100, 1000, 3000][rng.random_range(0..3)]),
            lying_devices: false,
            shuffled_node_lists: false,
            differing_definition: None,
            stop_fail_rate: 0.02,
            post_fail_delay: ms([0, 0, 500][rng.random_range(0..3)]),
            random_delay_max: ms([0, 300, 1000][rng.random_range(0..3)]),
            settle_bound: Duration::from_secs(20),
            probe: true,
        }
        .with_shuffle(rng.random_bool(0.5))
    }

    fn with_shuffle(mut self, shuffled: bool) -> Params {
        self.shuffled_node_lists = shuffled;
        self
    }

    /// A quiet shape: `nodes` nodes, one group preferring node 0, no faults.
    pub fn quiet(nodes: usize) -> Params {
        Params {
            nodes,
            groups: 1,
            preferred: vec![0],
            links: 1,
            qdisk: nodes == 2,
            ping: false,
            auto_failback: AutoFailback::Off,
            chaos: Duration::ZERO,
            faults: Faults::NONE,
            device_fail_rate: 0.0,
            device_latency_max: ms(100),
            lying_devices: false,
            shuffled_node_lists: false,
            differing_definition: None,
            stop_fail_rate: 0.0,
            post_fail_delay: Duration::ZERO,
            random_delay_max: Duration::ZERO,
            settle_bound: Duration::from_secs(20),
            probe: true,
        }
    }
}

/// A daemon of a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// hbd.
    Hbd,
    /// fenced.
    Fenced,
    /// qdiskd.
    Qdiskd,
}

struct Hbd {
    core: NodeCore,
    pid: u64,
    paused: bool,
    inbox: VecDeque<Input>,
    origin: proto::Origin,
    /// What the notifier thread repeats to fenced.
    quorum: Option<bool>,
    members: Option<Vec<NodeName>>,
}

enum FencedInput {
    Request {
        hbd_pid: u64,
        ticket: FenceTicket,
        target: NodeName,
        origin: Origin,
    },
    Withdraw {
        target: NodeName,
        origin: Origin,
    },
    Notice(FencedNotice),
    Result {
        call: CallId,
        ok: bool,
    },
    Ack(NodeName),
}

struct Fenced {
    queue: FenceQueue,
    pid: u64,
    paused: bool,
    paused_since: Time,
    inbox: VecDeque<FencedInput>,
    /// Who waits for each operation: (hbd pid, ticket, target).
    waiting: BTreeMap<OpId, Vec<(u64, FenceTicket, NodeName)>>,
}

struct Qdiskd {
    pid: u64,
    paused_since: Option<Time>,
    core: qdisk::cycle::QdiskCore,
    queue: VecDeque<qdisk_model::DiskOp>,
    in_flight: Option<qdisk_model::DiskOp>,
    /// Completions reached while paused, handed over on resume.
    undelivered: VecDeque<qdisk_model::DiskOp>,
}

struct Machine {
    name: NodeName,
    uuid: NodeUuid,
    /// The node list as this node's ha.cf writes it.
    order: Vec<NodeName>,
    /// The groups as this node's haresources writes them.
    specs: Vec<(String, NodeName)>,
    powered: bool,
    /// Power-on count (the qdisk poll of an earlier boot stops).
    boot: u64,
    paused: bool,
    paused_since: Time,
    generation: u64,
    hbd: Option<Hbd>,
    fenced: Option<Fenced>,
    qdiskd: Option<Qdiskd>,
    holds: Vec<bool>,
    /// When the resource operation last queued on this machine ends: operations run one
    /// at a time, and one that a killed hbd left running is waited for by its successor
    /// (hbd's operation ledger), so a probe never races a stop still under way.
    ops_busy_until: Time,
    /// Disturbances: (start, end).
    disturbed: Vec<(Time, Option<Time>)>,
    /// Since when its hbd has been quorate without a break (invariant 6).
    quorate_since: Option<Time>,
}

/// A fence device call made within the settle time after the fencer's quorum was gained.
#[derive(Debug, Clone)]
struct EarlyCall {
    fencer: usize,
    target: usize,
    /// When the fencer's hbd became quorate.
    quorate_at: Time,
    /// When the device was called.
    called_at: Time,
}

#[derive(Debug, Clone)]
enum Ev {
    Packet {
        to: usize,
        link: u16,
        msg: proto::Incoming,
    },
    GroupDone {
        node: usize,
        hbd_pid: u64,
        group: GroupId,
        op: GroupOp,
        ok: bool,
    },
    DeviceDone {
        fencer: usize,
        fenced_pid: u64,
        call: CallId,
        target: usize,
        off: bool,
        ok: bool,
        /// Whether the target had been disturbed when the call was made.
        justified: bool,
    },
    FenceReply {
        node: usize,
        hbd_pid: u64,
        ticket: FenceTicket,
        reply: FenceReply,
    },
    QdiskPoll(usize, u64),
    /// The ping node's echo reply reaches hbd (machine, hbd pid).
    PingReply(usize, u64),
    /// A disk I/O of qdiskd (machine, pid) completes.
    DiskIo(usize, u64),
    NotifierRefresh(usize, u64),
    Fault,
    Undo(Undo),
    Reboot(usize),
    /// After the faults: power on whatever is off (a fence still in flight when the faults
    /// stopped may power a machine off), every second.
    Revive,
}

#[derive(Debug, Clone)]
enum Undo {
    PowerOn(usize),
    Restart(usize, Daemon),
    ResumeNode(usize),
    ResumeDaemon(usize, Daemon),
    Heal(u64),
    Loss(u64),
    DeviceUp(usize, u64),
}

/// Counts worth printing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Machines powered off by a fence.
    pub fenced: u64,
    /// Self-fences (hbd or qdiskd).
    pub self_fences: u64,
    /// Faults injected.
    pub faults: u64,
    /// Time from the end of the faults until every group ran once.
    pub settled_after: Option<Duration>,
}

/// The simulated cluster.
pub struct World {
    /// The seed.
    pub seed: u64,
    /// The shape.
    pub params: Params,
    /// Virtual now.
    pub now: Time,
    rng: ChaCha8Rng,
    machines: Vec<Machine>,
    names: Vec<NodeName>,
    specs: Vec<(String, NodeName)>,
    queue: BinaryHeap<Reverse<(Time, u64)>>,
    events: BTreeMap<u64, Ev>,
    seq: u64,
    next_pid: u64,
    /// `cut[a][b]`: a's packets do not reach b (`Some(fault id)`). Endpoints are the
    /// machines, then the ping node ([`World::ping_endpoint`]).
    cut: Vec<Vec<Option<u64>>>,
    loss: Option<(u64, f64)>,
    device_down: Vec<Option<u64>>,
    archive: VecDeque<(usize, proto::Incoming)>,
    /// The shared disk's sectors, by slot.
    disk: Vec<Vec<u8>>,
    chaos_over: bool,
    chaos_end: Time,
    /// Every violation found, with its time.
    pub violations: Vec<String>,
    /// Device calls made by a fencer whose quorum had not yet held for the settle time,
    /// on a target up and running hbd (invariant 6).
    early_calls: Vec<EarlyCall>,
    /// Counts.
    pub stats: Stats,
    /// Log of what happened (printed on failure).
    pub log: Vec<String>,
}

impl World {
    /// A cluster for `seed` with shape `params`, every machine booted at time zero.
    pub fn new(seed: u64, params: Params) -> World {
        let rng = ChaCha8Rng::seed_from_u64(seed);
        let n = params.nodes;
        let names: Vec<NodeName> = (1..=n)
            .map(|i| NodeName::new(&format!("node{i}")))
            .collect();
        let specs: Vec<(String, NodeName)> = (0..params.groups)
            .map(|g| (format!("group{g}"), names[params.preferred[g]].clone()))
            .collect();
        let mut w = World {
            seed,
            now: Time::ZERO,
            rng,
            machines: Vec::new(),
            names: names.clone(),
            specs,
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            seq: 0,
            next_pid: 1,
            cut: vec![vec![None; n + usize::from(params.ping)]; n + usize::from(params.ping)],
            loss: None,
            device_down: vec![None; n],
            archive: VecDeque::new(),
            disk: qdisk_model::blank_disk(),
            chaos_over: params.chaos.is_zero(),
            chaos_end: Time(params.chaos),
            violations: Vec::new(),
            early_calls: Vec::new(),
            stats: Stats::default(),
            log: Vec::new(),
            params,
        };
        // Each node's files may list nodes and groups in its own order (their own random
        // source, so the rest of the history does not change with it).
        let mut shuffle = ChaCha8Rng::seed_from_u64(seed ^ 0x0005_4f4f);
        for i in 0..n {
            let mut order = names.clone();
            let mut specs = w.specs.clone();
            if w.params.shuffled_node_lists {
                order.rotate_left(i % n);
                let k = i % specs.len().max(1);
                specs.rotate_left(k);
                if shuffle.random_bool(0.5) {
                    order.reverse();
                    specs.reverse();
                }
            }
            if w.params.differing_definition == Some(i) {
                // This node's haresources prefers another node for the first group.
                let other = names
                    .iter()
                    .find(|n| **n != specs[0].1)
                    .cloned()
                    .unwrap_or_else(|| names[0].clone());
                specs[0].1 = other;
            }
            w.machines.push(Machine {
                name: names[i].clone(),
                uuid: NodeUuid([i as u8 + 1; 16]),
                order,
                specs,
                powered: false,
                boot: 0,
                paused: false,
                paused_since: Time::ZERO,
                generation: 0,
                hbd: None,
                fenced: None,
                qdiskd: None,
                holds: vec![false; w.params.groups],
                disturbed: Vec::new(),
                ops_busy_until: Time::ZERO,
                quorate_since: None,
            });
        }
        for i in 0..n {
            w.power_on(i);
        }
        if !w.params.chaos.is_zero() {
            let first = w.now + ms(w.rng.random_range(300..3000));
            w.at(first, Ev::Fault);
        }
        w
    }

    fn note(&mut self, what: String) {
        self.log
            .push(format!("{:>9.3}s {what}", self.now.0.as_secs_f64()));
    }

    fn violation(&mut self, what: String) {
        let v = format!(
            "seed {} at {:.3}s: {what}",
            self.seed,
            self.now.0.as_secs_f64()
        );
        self.log.push(format!("VIOLATION {v}"));
        self.violations.push(v);
    }

    fn at(&mut self, t: Time, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq)));
        self.events.insert(self.seq, ev);
    }

    fn after(&mut self, d: Duration, ev: Ev) {
        let t = self.now + d;
        self.at(t, ev);
    }

    fn pid(&mut self) -> u64 {
        self.next_pid += 1;
        self.next_pid
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.as_str() == name)
    }

    /// Network endpoints: the machines, then the ping node if there is one.
    fn endpoints(&self) -> usize {
        self.params.nodes + usize::from(self.params.ping)
    }

    /// The ping node's endpoint (meaningful only with [`Params::ping`]).
    pub fn ping_endpoint(&self) -> usize {
        self.params.nodes
    }

    fn endpoint_name(&self, e: usize) -> String {
        self.names
            .get(e)
            .map_or_else(|| format!("ping node {PING_NODE}"), |n| n.to_string())
    }

    // ----- machines and daemons ------------------------------------------------------

    fn power_on(&mut self, i: usize) {
        if self.machines[i].powered {
            return;
        }
        self.note(format!("{} powered on", self.names[i]));
        let m = &mut self.machines[i];
        m.powered = true;
        m.paused = false;
        m.boot += 1;
        let boot = m.boot;
        debug_assert!(m.holds.iter().all(|h| !h));
        if self.params.qdisk {
            self.after(ms(250), Ev::QdiskPoll(i, boot));
        }
        self.start(i, Daemon::Fenced);
        self.start(i, Daemon::Qdiskd);
        self.start(i, Daemon::Hbd);
        self.end_disturbance(i);
    }

    /// Power off: every process dies, what the machine held is gone, it leaves the network.
    fn power_off(&mut self, i: usize, why: &str) {
        if !self.machines[i].powered {
            return;
        }
        self.note(format!("{} powered off ({why})", self.names[i]));
        self.begin_disturbance(i);
        let m = &mut self.machines[i];
        m.powered = false;
        m.paused = false;
        m.hbd = None;
        m.fenced = None;
        m.qdiskd = None;
        m.holds = vec![false; self.params.groups];
        m.ops_busy_until = Time::ZERO;
    }

    fn hbd_running(&self, i: usize) -> bool {
        let m = &self.machines[i];
        m.powered && !m.paused && m.hbd.as_ref().is_some_and(|h| !h.paused)
    }

    fn fenced_running(&self, i: usize) -> bool {
        let m = &self.machines[i];
        m.powered && !m.paused && m.fenced.as_ref().is_some_and(|f| !f.paused)
    }

    // ----- disturbances (invariant 2) --------------------------------------------------

    fn begin_disturbance(&mut self, i: usize) {
        let now = self.now;
        if let Some(m) = self.machines.get_mut(i) {
            m.disturbed.push((now, None));
        }
    }

    /// Ends every open disturbance of `i` that nothing else keeps open.
    fn end_disturbance(&mut self, i: usize) {
        if i >= self.machines.len() || self.still_disturbed(i) {
            return;
        }
        let now = self.now;
        for d in &mut self.machines[i].disturbed {
            if d.1.is_none() {
                d.1 = Some(now);
            }
        }
    }

    fn still_disturbed(&self, i: usize) -> bool {
        let m = &self.machines[i];
        let cut =
            (0..self.endpoints()).any(|j| self.cut[i][j].is_some() || self.cut[j][i].is_some());
        !m.powered
            || m.paused
            || m.hbd.as_ref().is_none_or(|h| h.paused)
            || cut
            || self.loss.is_some()
    }

    fn justified(&self, i: usize) -> bool {
        let now = self.now;
        self.machines[i]
            .disturbed
            .iter()
            .any(|(_, end)| end.is_none_or(|e| now.since(e) <= JUSTIFY_WINDOW))
    }

    // ----- the run loop ----------------------------------------------------------------

    /// Runs until `end`, or until so many violations were found that going on would only
    /// repeat them (a timer stuck in the past spins without time advancing).
    pub fn run_until(&mut self, end: Time) {
        loop {
            if self.violations.len() >= MAX_VIOLATIONS {
                return;
            }
            let next_event = self.queue.peek().map(|r| r.0 .0);
            let next_timer = self.next_timer();
            let next = [next_event, next_timer].into_iter().flatten().min();
            let Some(next) = next.filter(|t| *t <= end) else {
                self.now = self.now.max(end);
                return;
            };
            self.now = self.now.max(next);
            if next_event.is_some_and(|t| t <= self.now) {
                let Some(Reverse((_, id))) = self.queue.pop() else {
                    continue;
                };
                if let Some(ev) = self.events.remove(&id) {
                    self.handle(ev);
                }
            } else {
                self.run_timers();
            }
            self.check();
        }
    }

    fn next_timer(&self) -> Option<Time> {
        let mut next: Option<Time> = None;
        for (i, m) in self.machines.iter().enumerate() {
            if self.hbd_running(i) {
                if let Some(t) = m.hbd.as_ref().and_then(|h| h.core.poll_timeout()) {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
            if self.fenced_running(i) {
                if let Some(t) = m.fenced.as_ref().and_then(|f| f.queue.poll_timeout()) {
                    let t = Time(t.0);
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
            if let Some(t) = self.qdisk_timeout(i) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        next
    }

    fn run_timers(&mut self) {
        let now = self.now;
        for i in 0..self.machines.len() {
            self.qdisk_run_timer(i);
            if self.hbd_running(i) {
                let due = self.machines[i]
                    .hbd
                    .as_ref()
                    .and_then(|h| h.core.poll_timeout())
                    .is_some_and(|t| t <= now);
                if due {
                    let mut late = None;
                    if let Some(h) = self.machines[i].hbd.as_mut() {
                        let _span = trace_span(&self.names[i], now).entered();
                        h.core.handle_timeout(now);
                        // Invariant 4.
                        late = h.core.poll_timeout().filter(|t| *t <= now).map(|t| {
                            format!(
                                "{:?} (membership {:?}, policy {:?})",
                                t.0,
                                h.core.membership().poll_timeout(),
                                h.core.policy().poll_timeout()
                            )
                        });
                    }
                    if let Some(t) = late {
                        let v = format!(
                            "{}: hbd's next timeout {t} is not after the time it was just called at",
                            self.names[i]
                        );
                        self.violation(v);
                    }
                    self.hbd_actions(i);
                }
            }
            if self.fenced_running(i) {
                let due = self.machines[i]
                    .fenced
                    .as_ref()
                    .and_then(|f| f.queue.poll_timeout())
                    .is_some_and(|t| t.0 <= now.0);
                if due {
                    let mut late = None;
                    if let Some(f) = self.machines[i].fenced.as_mut() {
                        f.queue.handle_timeout(BootTime(now.0));
                        late = f.queue.poll_timeout().filter(|t| t.0 <= now.0);
                    }
                    if let Some(t) = late {
                        let v = format!(
                            "{}: fenced's next timeout {:?} is not after the time it was just called at",
                            self.names[i], t.0
                        );
                        self.violation(v);
                    }
                    self.fenced_actions(i);
                }
            }
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Packet { to, link, msg } => {
                self.hbd_input(
                    to,
                    None,
                    Input::Packet {
                        link: LinkId(link),
                        msg,
                    },
                );
            }
            Ev::GroupDone {
                node,
                hbd_pid,
                group,
                op,
                ok,
            } => self.group_done(node, hbd_pid, group, op, ok),
            Ev::DeviceDone {
                fencer,
                fenced_pid,
                call,
                target,
                off,
                ok,
                justified,
            } => self.device_done(fencer, fenced_pid, call, target, (off, ok), justified),
            Ev::FenceReply {
                node,
                hbd_pid,
                ticket,
                reply,
            } => self.hbd_input(node, Some(hbd_pid), Input::FenceReply { ticket, reply }),
            Ev::QdiskPoll(i, boot) => self.qdisk_poll(i, boot),
            Ev::PingReply(i, pid) => {
                self.hbd_input(i, Some(pid), Input::PingReply(NodeName::new(PING_NODE)))
            }
            Ev::DiskIo(i, pid) => self.disk_io_done(i, pid),
            Ev::NotifierRefresh(i, pid) => self.notifier_refresh(i, pid),
            Ev::Fault => self.fault(),
            Ev::Undo(u) => self.undo(u),
            Ev::Reboot(i) => self.power_on(i),
            Ev::Revive => {
                for i in 0..self.params.nodes {
                    self.power_on(i);
                }
                if self.now.since(self.chaos_end) < self.params.settle_bound {
                    self.after(Duration::from_secs(1), Ev::Revive);
                }
            }
        }
    }

    // ----- hbd ---------------------------------------------------------------------------

    // ----- fenced ------------------------------------------------------------------------

    // ----- the quorum disk model ---------------------------------------------------------

    // ----- faults --------------------------------------------------------------------------

    // ----- invariants ----------------------------------------------------------------------

    fn holders(&self, g: usize) -> Vec<usize> {
        (0..self.params.nodes)
            .filter(|&i| self.machines[i].powered && self.machines[i].holds[g])
            .collect()
    }

    /// Follows hbd's quorum on machine `i` (invariant 6).
    fn track_quorum(&mut self, i: usize) {
        let quorate = self.quorate(i);
        let now = self.now;
        let m = &mut self.machines[i];
        if !quorate {
            m.quorate_since = None;
        } else if m.quorate_since.is_none() {
            m.quorate_since = Some(now);
        }
    }

    /// Invariant 6, when fencer `i`'s fenced calls a device to power `target` off: a call
    /// made before the fencer's quorum held for the settle time, on a target up and
    /// running hbd, is watched until the settle time is up.
    fn watch_early_call(&mut self, i: usize, target: usize) {
        self.track_quorum(i);
        let Some(quorate_at) = self.machines[i].quorate_since else {
            return;
        };
        if self.now >= quorate_at + DEADTIME || !self.hbd_running(target) {
            return;
        }
        self.early_calls.push(EarlyCall {
            fencer: i,
            target,
            quorate_at,
            called_at: self.now,
        });
    }

    /// Invariant 6: a watched call whose target, up and running hbd, the fencer hears or
    /// could hear (no cut either way, no loss) within the settle time.
    pub(super) fn check_early_calls(&mut self) {
        let now = self.now;
        self.early_calls.retain(|c| now <= c.quorate_at + DEADTIME);
        let heard: Vec<(EarlyCall, bool)> = self
            .early_calls
            .iter()
            .filter_map(|c| {
                let (f, t) = (c.fencer, c.target);
                let sees = self.sees(f, t);
                let reachable = self.hbd_running(t)
                    && self.cut[f][t].is_none()
                    && self.cut[t][f].is_none()
                    && self.loss.is_none();
                (sees || reachable).then(|| (c.clone(), sees))
            })
            .collect();
        for (c, sees) in heard {
            self.early_calls
                .retain(|x| (x.fencer, x.target) != (c.fencer, c.target));
            self.violation(format!(
                "{}'s fenced called the fence device of {} at {:.3}s, {} ms after {}'s hbd became quorate, and at {:.3}s, within the settle time, {} (up and running hbd) {}: fenced on a view formed before quorum",
                self.names[c.fencer],
                self.names[c.target],
                c.called_at.0.as_secs_f64(),
                c.called_at.since(c.quorate_at).as_millis(),
                self.names[c.fencer],
                now.0.as_secs_f64(),
                self.names[c.target],
                if sees { "was heard" } else { "could be heard" },
            ));
        }
    }

    fn check(&mut self) {
        for i in 0..self.params.nodes {
            self.track_quorum(i);
        }
        self.check_early_calls();
        for g in 0..self.params.groups {
            let h = self.holders(g);
            if h.len() > 1 {
                let names: Vec<String> = h.iter().map(|&i| self.names[i].to_string()).collect();
                self.violation(format!("group{g} is held by {names:?} at once"));
            }
        }
        if self.chaos_over && self.stats.settled_after.is_none() && self.settled() {
            self.stats.settled_after = Some(self.now.since(self.chaos_end));
        }
    }

    /// Every group runs on exactly one machine, whose hbd knows it runs there.
    fn settled(&self) -> bool {
        (0..self.params.groups).all(|g| {
            let h = self.holders(g);
            h.len() == 1
                && self.machines[h[0]].hbd.as_ref().is_some_and(|hb| {
                    hb.core.policy().group_state(GroupId(g as u16))
                        == Some(hbd::policy::GroupState::Running)
                })
        })
    }

    /// Runs the whole schedule: the faults, then the quiet period, then invariant 5.
    pub fn run(&mut self) {
        let chaos = self.params.chaos;
        self.run_until(Time(chaos));
        self.end_chaos();
        let bound = self.params.settle_bound;
        let end = self.now + bound + Duration::from_secs(5);
        self.run_until(end);
        match self.stats.settled_after {
            Some(t) if t <= bound => {}
            Some(t) => self.violation(format!(
                "groups settled only {:.1}s after the faults stopped (bound {:?})",
                t.as_secs_f64(),
                bound
            )),
            None => {
                let state: Vec<String> = (0..self.params.groups)
                    .map(|g| format!("group{g}: holders {:?}", self.holders(g)))
                    .collect();
                self.violation(format!(
                    "groups not settled {:?} after the faults stopped: {state:?}",
                    bound
                ));
            }
        }
    }

    /// Whether the run found nothing.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// The failure report: the violations, and the history up to the first one.
    pub fn report(&self) -> String {
        let first = self
            .log
            .iter()
            .position(|l| l.starts_with("VIOLATION"))
            .unwrap_or(self.log.len());
        let from = first.saturating_sub(120);
        let to = (first + 10).min(self.log.len());
        let mut s = format!(
            "seed {} ({:?})\nreplay with SIM_SEED={}\n",
            self.seed, self.params, self.seed
        );
        for v in self.violations.iter().take(5) {
            s.push_str(v);
            s.push('\n');
        }
        s.push_str("history before the first violation:\n");
        for l in &self.log[from..to] {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    /// Machines powered now.
    pub fn powered(&self, i: usize) -> bool {
        self.machines[i].powered
    }

    /// Where group `g` is physically held.
    pub fn holders_of(&self, g: usize) -> Vec<usize> {
        self.holders(g)
    }

    /// Makes machine `i`'s fence device fail (or work again) (a scenario step).
    pub fn set_device_down(&mut self, i: usize, down: bool) {
        self.device_down[i] = down.then_some(u64::MAX);
    }

    /// Pauses (or resumes) one daemon of machine `i` (a scenario step).
    pub fn pause_one(&mut self, i: usize, d: Daemon, pause: bool) {
        let now = self.now;
        if pause {
            match d {
                Daemon::Hbd => {
                    if let Some(h) = self.machines[i].hbd.as_mut() {
                        h.paused = true;
                    }
                    self.begin_disturbance(i);
                }
                Daemon::Fenced => {
                    if let Some(f) = self.machines[i].fenced.as_mut() {
                        f.paused = true;
                        f.paused_since = now;
                    }
                }
                Daemon::Qdiskd => {
                    if let Some(q) = self.machines[i].qdiskd.as_mut() {
                        q.paused_since = Some(now);
                    }
                }
            }
        } else {
            self.resume_daemon(i, d);
        }
    }

    /// Crashes machine `i` now (a scenario step).
    pub fn crash(&mut self, i: usize) {
        self.power_off(i, "crash");
    }

    /// Powers machine `i` on now (a scenario step).
    pub fn boot(&mut self, i: usize) {
        self.power_on(i);
    }

    /// Kills one daemon now (a scenario step).
    pub fn kill_daemon(&mut self, i: usize, d: Daemon) {
        if d == Daemon::Hbd {
            self.begin_disturbance(i);
        }
        self.kill(i, d);
    }

    /// Asks hbd on machine `i` to shut down gracefully, as SIGTERM does (a scenario step).
    pub fn shutdown_hbd(&mut self, i: usize) {
        self.note(format!("{}: hbd asked to shut down", self.names[i]));
        self.hbd_input(i, None, Input::Terminate);
    }

    /// Starts one daemon now (a scenario step).
    pub fn start_daemon(&mut self, i: usize, d: Daemon) {
        self.start(i, d);
        self.end_disturbance(i);
    }

    /// Cuts `a`'s packets to `b` (one way) until healed (endpoints: the ping node too).
    pub fn cut_one_way(&mut self, a: usize, b: usize) {
        self.cut[a][b] = Some(u64::MAX);
        self.begin_disturbance(a);
        self.begin_disturbance(b);
        self.note(format!(
            "one-way cut {} -> {}",
            self.endpoint_name(a),
            self.endpoint_name(b)
        ));
    }

    /// Cuts both ways between endpoints `a` and `b` until healed.
    pub fn cut_between(&mut self, a: usize, b: usize) {
        self.cut_one_way(a, b);
        self.cut_one_way(b, a);
    }

    /// Heals the cuts between endpoints `a` and `b`, both ways.
    pub fn heal_between(&mut self, a: usize, b: usize) {
        self.cut[a][b] = None;
        self.cut[b][a] = None;
        self.note(format!(
            "healed {} <-> {}",
            self.endpoint_name(a),
            self.endpoint_name(b)
        ));
        self.end_disturbance(a);
        self.end_disturbance(b);
    }

    /// Cuts both ways between the two sides: the machines listed (and the ping node, if
    /// listed) and every other endpoint.
    pub fn partition(&mut self, side_a: &[usize]) {
        let n = self.endpoints();
        for a in 0..n {
            for b in 0..n {
                if side_a.contains(&a) != side_a.contains(&b) {
                    self.cut[a][b] = Some(u64::MAX);
                }
            }
        }
        for a in 0..n {
            self.begin_disturbance(a);
        }
        self.note(format!("partition {side_a:?}"));
    }

    /// Heals every cut made by a scenario.
    pub fn heal(&mut self) {
        self.undo(Undo::Heal(u64::MAX));
    }

    /// Pauses a whole machine.
    pub fn pause_node(&mut self, i: usize) {
        let m = &mut self.machines[i];
        m.paused = true;
        m.paused_since = self.now;
        self.begin_disturbance(i);
        self.note(format!("{} paused", self.names[i]));
    }

    /// Resumes it.
    pub fn resume(&mut self, i: usize) {
        self.resume_node(i);
    }

    /// The name of machine `i`.
    pub fn name(&self, i: usize) -> &NodeName {
        &self.names[i]
    }

    /// The node core of machine `i`, while hbd runs there.
    pub fn core(&self, i: usize) -> Option<&NodeCore> {
        self.machines[i].hbd.as_ref().map(|h| &h.core)
    }

    /// Whether hbd runs on machine `i` and its partition is quorate.
    pub fn quorate(&self, i: usize) -> bool {
        self.machines[i].powered
            && self
                .core(i)
                .is_some_and(|c| c.membership().quorum().quorate)
    }

    /// Whether hbd on machine `i` sees machine `j` as a member.
    pub fn sees(&self, i: usize, j: usize) -> bool {
        self.core(i).is_some_and(|c| {
            c.node_id(&self.names[j])
                .is_some_and(|id| c.members().contains(id))
        })
    }

    /// Fences that powered a machine off so far.
    pub fn fences(&self) -> u64 {
        self.stats.fenced
    }

    /// An outcome the checker must see for the lying-device test.
    pub fn outcome_is_fenced(o: &Outcome) -> bool {
        o.is_fenced()
    }
}
