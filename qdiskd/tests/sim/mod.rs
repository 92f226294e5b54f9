//! A deterministic simulation of N qdiskd cores sharing one disk.
//!
//! Time is virtual and starts at zero; each step jumps to the earliest pending event (a
//! core's timeout, an I/O completing, a fault being injected or lifted), as quinn's test
//! `Pair` does. The disk holds real sector images: cores' blocks go through the real encoder
//! and decoder. Each node has its own boot-time offset and wall-clock offset, so nothing can
//! depend on clocks agreeing. Faults: crash (power loss: in-flight I/O is lost), pause
//! (SIGSTOP: the process stops, its I/O in flight completes), I/O failure, I/O stall (held
//! until released), and restart with a new incarnation.
//!
//! Storage is not polite: a write lands on the disk at a random moment between its issue
//! and its completion (a stalled one when the stall is released), a completion may reach
//! the core late (the process was not scheduled), and a write in flight survives the
//! node's software self-fence: only a reset (a crash, or the hardware watchdog, modelled
//! here as the kernel's: armed at start, reset when not petted for its timeout, disarmed
//! only by a clean stop) makes it vanish.
//!
//! A fence agent can poison a node ([`Sim::poison`]): the real sender core
//! ([`qdisk::poison::PillSender`]) writes its pill and reads the slot through the same disk
//! (its own I/O is instantaneous). Every start of a node is a new boot (its incarnation
//! carries a new boot tag), as after a power loss or a self-fence.
//!
//! After every step the [`Checker`] asserts the safety properties; a failure names the
//! seed, which `SIM_SEED` replays.

use std::collections::VecDeque;
use std::time::Duration;

use qdisk::cycle::{Action, CoreConfig, Event, QdiskCore, Score};
use qdisk::disk::SlotRead;
use qdisk::format::{decode_status, encode_status, NodeState, StatusBlock};
use qdisk::geometry::Layout;
use qdisk::poison::{Fenced, NotFenced, PillSender, SenderAction, SenderConfig};
use qdisk::time::BootTime;
use qdisk::timing::Timing;
use qdisk::{Incarnation, NodeId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Virtual time since the start of the simulation.
pub type Time = Duration;

const SECTOR: usize = 512;

/// A fault the schedule injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Kill the node (power loss).
    Crash,
    /// Stop the process for this long.
    Pause(Duration),
    /// Make every I/O fail for this long.
    FailIo(Duration),
    /// Hold every I/O for this long.
    StallIo(Duration),
    /// Start a stopped node again.
    Restart,
}

#[derive(Debug, Clone)]
enum Op {
    Read { started: Time },
    Write { block: StatusBlock },
}

#[derive(Debug, Clone)]
struct InFlight {
    op: Op,
    /// When the system call was issued.
    issued: Time,
    /// When it completes; `None` while stalled.
    done_at: Option<Time>,
    /// When a write reaches the disk; `None` while stalled (then at the release).
    lands_at: Option<Time>,
    landed: bool,
    ok: bool,
    /// What a read found, taken when it completed, with each slot's last own write then.
    found: Option<(Vec<SlotRead>, Vec<Option<Time>>)>,
}

/// What the simulation remembers about one node.
pub struct SimNode {
    /// Its id.
    pub id: NodeId,
    /// The core while the node runs.
    pub core: Option<QdiskCore>,
    boot_offset: Duration,
    wall_offset_ms: i64,
    paused_until: Option<Time>,
    io_fail_until: Time,
    io_stall_until: Time,
    queue: VecDeque<Op>,
    in_flight: Option<InFlight>,
    /// Completions not yet seen by the core: (when it may see it, the completion). Held
    /// while paused, or late at random.
    undelivered: VecDeque<(Time, InFlight)>,
    /// A write in flight when the process died (software self-fence): it still lands.
    orphan: Option<InFlight>,
    /// The hardware watchdog: when it fires, while armed.
    watchdog_fires_at: Option<Time>,
    incarnations: u64,
    /// Why it last stopped.
    pub fenced: Vec<(Time, String)>,
    /// Last time it was paused or its I/O was disturbed (for the "fences promptly" check).
    last_disturbed: Time,
    /// Its core has read a poison pill in its own slot (from then on: no normal write).
    read_pill: bool,
}

/// A fence agent poisoning one node.
pub struct SimAgent {
    /// The node it fences.
    pub victim: u32,
    /// When it starts.
    pub start: Time,
    config: SenderConfig,
    sender: Option<PillSender>,
    /// The victim's incarnations that ran before the first pill landed.
    doomed: Vec<Incarnation>,
    /// When it finished, and how.
    pub result: Option<(Time, Result<Fenced, NotFenced>)>,
}

/// The simulated cluster.
pub struct Sim {
    /// Seed of this run.
    pub seed: u64,
    rng: ChaCha8Rng,
    /// Virtual now.
    pub now: Time,
    /// The nodes, index = id − 1.
    pub nodes: Vec<SimNode>,
    disk: Vec<Vec<u8>>,
    layout: Layout,
    cfg: CoreConfig,
    faults: Vec<(Time, usize, Fault)>,
    latency: (Duration, Duration),
    /// The hardware watchdog's timeout, when nodes arm one.
    watchdog: Option<Duration>,
    /// Chance that a completion reaches the core late.
    late_completions: f64,
    /// Every event the cores emitted: (time, node, event).
    pub events: Vec<(Time, NodeId, Event)>,
    /// The fence agent, if one was scheduled.
    pub agent: Option<SimAgent>,
    /// The safety checker.
    pub checker: Checker,
}

/// Safety properties checked after every step.
#[derive(Default)]
pub struct Checker {
    /// (slot, incarnation evicted, time the notice landed).
    evicted: Vec<(NodeId, Incarnation, Time)>,
    /// Completion time of each node's last own write that landed, per slot.
    last_own_write: Vec<Option<Time>>,
    /// Start time of the read pass each node is processing.
    current_read_start: Vec<Time>,
    /// Each slot's last own write as of the completion of the read each node is processing.
    current_read_writes: Vec<Vec<Option<Time>>>,
    /// Since when two nodes act as master at once.
    overlap_since: Option<Time>,
    /// Longest period with two acting masters.
    pub longest_overlap: Duration,
    /// Violations found.
    pub violations: Vec<String>,
}

impl Sim {
    /// A cluster of `n` nodes on `layout` with `timing`, all started at time zero unless
    /// `staggered`.
    pub fn new(seed: u64, n: u32, layout: Layout, timing: Timing, master_wins: bool) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let cfg = CoreConfig {
            node: NodeId(1),
            layout,
            timing,
            master_wins,
            min_score: None,
            fence_on_score_loss: true,
            io_timeout: false,
            paranoid: false,
            max_error_cycles: 0,
            watchdog: None,
        };
        let mut disk = vec![vec![0u8; SECTOR]; layout.max_nodes() as usize + 1];
        for id in 1..=layout.max_nodes() {
            encode_status(
                &StatusBlock::initial(NodeId(id), 1_700_000_000_000),
                layout,
                1_700_000_000,
                &mut disk[id as usize],
            )
            .expect("encode");
        }
        let nodes = (1..=n)
            .map(|id| SimNode {
                id: NodeId(id),
                core: None,
                boot_offset: Duration::from_millis(rng.random_range(0..10_000_000)),
                wall_offset_ms: rng.random_range(-30_000..30_000),
                paused_until: None,
                io_fail_until: Duration::ZERO,
                io_stall_until: Duration::ZERO,
                queue: VecDeque::new(),
                in_flight: None,
                undelivered: VecDeque::new(),
                orphan: None,
                watchdog_fires_at: None,
                incarnations: 0,
                fenced: Vec::new(),
                last_disturbed: Duration::ZERO,
                read_pill: false,
            })
            .collect();
        let interval = timing.interval;
        Self {
            seed,
            rng,
            now: Duration::ZERO,
            nodes,
            disk,
            layout,
            cfg,
            faults: Vec::new(),
            latency: (interval / 200, interval / 20),
            watchdog: None,
            late_completions: 0.0,
            events: Vec::new(),
            agent: None,
            checker: Checker {
                last_own_write: vec![None; n as usize + 1],
                current_read_start: vec![Duration::ZERO; n as usize + 1],
                current_read_writes: vec![Vec::new(); n as usize + 1],
                ..Checker::default()
            },
        }
    }

    /// Nodes arm a hardware watchdog with `timeout` (before they start).
    pub fn with_watchdog(mut self, timeout: Duration) -> Self {
        self.watchdog = Some(timeout);
        self.cfg.watchdog = Some(timeout);
        self
    }

    /// A completion reaches the core up to one interval late with this probability.
    pub fn with_late_completions(mut self, probability: f64) -> Self {
        self.late_completions = probability;
        self
    }

    /// Schedules `fault` for node `id` at `at`.
    pub fn schedule(&mut self, at: Time, id: u32, fault: Fault) {
        self.faults.push((at, id as usize - 1, fault));
        self.faults.sort_by_key(|f| f.0);
    }

    /// Starts node `id` now (new incarnation).
    pub fn start(&mut self, id: u32) {
        let i = id as usize - 1;
        let now = self.boot_now(i);
        let node = &mut self.nodes[i];
        node.incarnations += 1;
        // Every start is a new boot (power loss, watchdog reset, self-fence): a new tag.
        let incarnation = Incarnation::from_boot(id << 16 | node.incarnations as u32, id);
        let cfg = CoreConfig {
            node: NodeId(id),
            ..self.cfg.clone()
        };
        node.core = Some(QdiskCore::new(cfg, incarnation, now));
        node.queue.clear();
        node.in_flight = None;
        node.undelivered.clear();
        node.paused_until = None;
        node.read_pill = false;
        node.watchdog_fires_at = self.watchdog.map(|w| self.now + w);
        self.drain(i);
    }

    /// A fence agent starts poisoning node `victim` at `at` with `config` (its victim and
    /// writer are set here).
    pub fn poison(&mut self, at: Time, victim: u32, mut config: SenderConfig) {
        config.victim = NodeId(victim);
        config.writer = qdisk::poison::pill_writer(NodeId(victim), None, self.layout.max_nodes());
        self.agent = Some(SimAgent {
            victim,
            start: at,
            config,
            sender: None,
            doomed: Vec::new(),
            result: None,
        });
    }

    /// Starts the agent when due, and reads when its timer says so.
    fn step_agent(&mut self) {
        let now = self.now;
        let Some(agent) = self.agent.as_mut() else {
            return;
        };
        if agent.result.is_some() {
            return;
        }
        match agent.sender.as_mut() {
            None if agent.start <= now => {
                agent.sender = Some(PillSender::new(agent.config.clone()));
            }
            Some(sender) => {
                if sender.poll_timeout().is_some_and(|t| t.0 <= now) {
                    sender.handle_timeout(BootTime(now));
                }
            }
            None => return,
        }
        self.drain_agent();
    }

    fn drain_agent(&mut self) {
        loop {
            let now = self.now;
            let Some(agent) = self.agent.as_mut() else {
                return;
            };
            let Some(action) = agent.sender.as_mut().and_then(PillSender::poll_action) else {
                return;
            };
            let slot = agent.victim as usize;
            match action {
                SenderAction::ReadSlot => {
                    let block = decode_status(&self.disk[slot], self.layout, NodeId(agent.victim))
                        .map_err(|e| e.to_string());
                    if let Some(sender) = agent.sender.as_mut() {
                        sender.handle_read(BootTime(now), BootTime(now), block);
                    }
                }
                SenderAction::WritePill(block) => {
                    if agent.doomed.is_empty() {
                        let node = &self.nodes[slot - 1];
                        agent.doomed = (1..=node.incarnations)
                            .map(|n| {
                                Incarnation::from_boot(agent.victim << 16 | n as u32, agent.victim)
                            })
                            .collect();
                    }
                    let wall = 1_700_000_000 + now.as_secs();
                    let mut block = block;
                    block.timestamp_ms = wall * 1000;
                    encode_status(&block, self.layout, wall, &mut self.disk[slot])
                        .expect("encodable");
                    if let Some(sender) = agent.sender.as_mut() {
                        sender.handle_write_done(BootTime(now), Ok(()));
                    }
                }
                SenderAction::Finish(result) => {
                    agent.result = Some((now, result));
                    return;
                }
            }
        }
    }

    /// Gives node `id` a score.
    pub fn set_score(&mut self, id: u32, score: Score) {
        let i = id as usize - 1;
        let now = self.boot_now(i);
        if let Some(core) = self.nodes[i].core.as_mut() {
            core.handle_score(now, score);
        }
    }

    /// Asks node `id` to shut down cleanly.
    pub fn shutdown(&mut self, id: u32) {
        let i = id as usize - 1;
        let now = self.boot_now(i);
        if let Some(core) = self.nodes[i].core.as_mut() {
            core.handle_shutdown(now);
        }
    }

    fn boot_now(&self, i: usize) -> BootTime {
        BootTime(self.now + self.nodes[i].boot_offset)
    }

    fn wall_ms(&self, i: usize) -> u64 {
        let base = 1_700_000_000_000i64 + self.now.as_millis() as i64;
        (base + self.nodes[i].wall_offset_ms) as u64
    }

    /// Random schedule of faults over `duration`.
    pub fn random_faults(&mut self, duration: Duration, count: usize) {
        let t = self.cfg.timing;
        let n = self.nodes.len() as u32;
        for _ in 0..count {
            let at = Duration::from_millis(self.rng.random_range(0..duration.as_millis() as u64));
            let id = self.rng.random_range(1..=n);
            let short = t.interval * self.rng.random_range(1..t.tko.max(2));
            let long = t.interval * self.rng.random_range(t.tko..t.tko * 3);
            let length = if self.rng.random_bool(0.5) {
                short
            } else {
                long
            };
            let fault = match self.rng.random_range(0..6) {
                0 => Fault::Crash,
                1 | 2 => Fault::Pause(length),
                3 => Fault::FailIo(length),
                4 => Fault::StallIo(length),
                _ => Fault::Restart,
            };
            self.schedule(at, id, fault);
        }
    }

    fn next_event_time(&self) -> Option<Time> {
        let mut next: Option<Time> = self.faults.first().map(|f| f.0);
        let mut consider = |t: Time| next = Some(next.map_or(t, |n| n.min(t)));
        if let Some(agent) = self.agent.as_ref().filter(|a| a.result.is_none()) {
            match &agent.sender {
                None => consider(agent.start.max(self.now)),
                Some(sender) => {
                    if let Some(BootTime(t)) = sender.poll_timeout() {
                        consider(t.max(self.now));
                    }
                }
            }
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if let Some(t) = node.watchdog_fires_at {
                consider(t.max(self.now));
            }
            for f in node.in_flight.iter().chain(node.orphan.iter()) {
                if let (false, Some(t)) = (f.landed, f.lands_at) {
                    consider(t.max(self.now));
                }
            }
            if node.orphan.as_ref().is_some_and(|f| f.lands_at.is_none()) {
                consider(node.io_stall_until.max(self.now));
            }
            if let Some(until) = node.paused_until {
                consider(until);
                continue;
            }
            if let Some((at, _)) = node.undelivered.front() {
                consider((*at).max(self.now));
            }
            if let Some(core) = &node.core {
                if let Some(BootTime(t)) = core.poll_timeout() {
                    consider(t.saturating_sub(node.boot_offset).max(self.now));
                }
            }
            if let Some(f) = &node.in_flight {
                match f.done_at {
                    Some(t) => consider(t),
                    None => consider(node.io_stall_until.max(self.now)),
                }
            }
            let _ = i;
        }
        next
    }

    /// Runs until virtual time `until`.
    pub fn run_until(&mut self, until: Time) {
        while let Some(t) = self.next_event_time() {
            if t > until {
                break;
            }
            self.now = t;
            self.step();
            self.check();
        }
        self.now = until;
    }

    fn step(&mut self) {
        while self.faults.first().is_some_and(|f| f.0 <= self.now) {
            let (_, i, fault) = self.faults.remove(0);
            self.apply_fault(i, fault);
        }
        self.step_agent();
        for i in 0..self.nodes.len() {
            // The hardware watchdog resets the node: everything in flight is gone.
            if self.nodes[i]
                .watchdog_fires_at
                .is_some_and(|t| t <= self.now)
            {
                let node = &mut self.nodes[i];
                node.watchdog_fires_at = None;
                if node.core.take().is_some() || node.orphan.is_some() {
                    node.fenced.push((self.now, "watchdog reset".into()));
                }
                node.in_flight = None;
                node.orphan = None;
                node.queue.clear();
                node.undelivered.clear();
                node.paused_until = None;
            }
            self.land_orphan(i);
            // Resume.
            if self.nodes[i].paused_until.is_some_and(|u| u <= self.now) {
                self.nodes[i].paused_until = None;
                self.nodes[i].last_disturbed = self.now;
                self.tick(i);
            }
            // Completions the core may see now.
            while self.nodes[i].paused_until.is_none()
                && self.nodes[i]
                    .undelivered
                    .front()
                    .is_some_and(|(at, _)| *at <= self.now)
            {
                let (_, done) = self.nodes[i].undelivered.pop_front().expect("front");
                self.deliver(i, self.now, done);
            }
            // I/O.
            self.progress_io(i);
            if self.nodes[i].paused_until.is_none() {
                self.tick(i);
            }
        }
    }

    fn tick(&mut self, i: usize) {
        let now = self.boot_now(i);
        if let Some(core) = self.nodes[i].core.as_mut() {
            if core.poll_timeout().is_some_and(|t| t <= now) {
                core.handle_timeout(now);
            }
        }
        self.drain(i);
    }

    fn apply_fault(&mut self, i: usize, fault: Fault) {
        let now = self.now;
        let node = &mut self.nodes[i];
        match fault {
            Fault::Crash => {
                if node.core.take().is_some() {
                    node.fenced.push((now, "crashed".into()));
                }
                node.in_flight = None;
                node.orphan = None;
                node.watchdog_fires_at = None;
                node.queue.clear();
                node.undelivered.clear();
                node.paused_until = None;
            }
            Fault::Pause(d) => {
                if node.core.is_some() && node.paused_until.is_none() {
                    node.paused_until = Some(now + d);
                    node.last_disturbed = now + d;
                }
            }
            Fault::FailIo(d) => {
                node.io_fail_until = now + d;
                node.last_disturbed = node.last_disturbed.max(now + d);
            }
            Fault::StallIo(d) => {
                node.io_stall_until = now + d;
                node.last_disturbed = node.last_disturbed.max(now + d);
            }
            Fault::Restart => {
                if node.core.is_none() && node.orphan.is_none() {
                    let id = node.id.0;
                    self.start(id);
                }
            }
        }
    }

    fn latency(&mut self) -> Duration {
        let (lo, hi) = self.latency;
        lo + Duration::from_micros(self.rng.random_range(0..=(hi - lo).as_micros() as u64))
    }

    /// A write that outlived its process lands when its time comes (or the stall ends).
    fn land_orphan(&mut self, i: usize) {
        let stall_over = self.nodes[i].io_stall_until <= self.now;
        let Some(f) = self.nodes[i].orphan.as_mut() else {
            return;
        };
        let due = match f.lands_at {
            Some(t) => t <= self.now,
            None => stall_over,
        };
        if !due {
            return;
        }
        let f = self.nodes[i].orphan.take().expect("orphan");
        if let (Op::Write { block }, true, false) = (&f.op, f.ok, f.landed) {
            self.land_write(i, block.clone());
        }
    }

    /// Starts the next queued I/O, lands a write when its moment comes, and completes the
    /// one in flight when due.
    fn progress_io(&mut self, i: usize) {
        loop {
            let stall_over = self.nodes[i].io_stall_until <= self.now;
            if let Some(f) = self.nodes[i].in_flight.as_mut() {
                let lands = match f.lands_at {
                    Some(t) => t <= self.now,
                    None => stall_over,
                };
                if !f.landed && lands {
                    f.landed = true;
                    if let (Op::Write { block }, true) = (f.op.clone(), f.ok) {
                        self.land_write(i, block);
                    }
                }
            }
            if let Some(f) = &self.nodes[i].in_flight {
                let due = match f.done_at {
                    Some(t) => t <= self.now,
                    None => stall_over,
                };
                if !due {
                    return;
                }
                let mut f = self.nodes[i].in_flight.take().expect("in flight");
                f.done_at = Some(self.now);
                if matches!(f.op, Op::Read { .. }) {
                    f.found = Some((self.snapshot(), self.checker.last_own_write.clone()));
                }
                let late =
                    self.late_completions > 0.0 && self.rng.random_bool(self.late_completions);
                let see_at = if late {
                    let interval = self.cfg.timing.interval;
                    self.now
                        + Duration::from_micros(
                            self.rng.random_range(0..=interval.as_micros() as u64),
                        )
                } else {
                    self.now
                };
                if self.nodes[i].paused_until.is_some()
                    || see_at > self.now
                    || !self.nodes[i].undelivered.is_empty()
                {
                    self.nodes[i].undelivered.push_back((see_at, f));
                } else {
                    // Delivering may start the next I/O (the core reacts at once).
                    self.deliver(i, self.now, f);
                }
                continue;
            }
            if self.nodes[i].core.is_none() {
                return;
            }
            let Some(op) = self.nodes[i].queue.pop_front() else {
                return;
            };
            let stalled = self.nodes[i].io_stall_until > self.now;
            let ok = self.nodes[i].io_fail_until <= self.now;
            let (done_at, lands_at) = if stalled {
                (None, None)
            } else {
                let latency = self.latency();
                let lands =
                    Duration::from_micros(self.rng.random_range(0..=latency.as_micros() as u64));
                (Some(self.now + latency), Some(self.now + lands))
            };
            if std::env::var("SIM_TRACE").is_ok() {
                eprintln!(
                    "{:?} node {}: start {op:?} done_at={done_at:?} lands_at={lands_at:?}",
                    self.now,
                    i + 1
                );
            }
            self.nodes[i].in_flight = Some(InFlight {
                op,
                issued: self.now,
                done_at,
                lands_at,
                landed: false,
                ok,
                found: None,
            });
        }
    }

    /// A write reaches the disk.
    fn land_write(&mut self, i: usize, mut block: StatusBlock) {
        block.timestamp_ms = self.wall_ms(i);
        let slot = block.node.0 as usize;
        let writer = self.nodes[i].id;
        if block.updated_by == writer.0 && block.node == writer && block.is_pill_ack() {
            // An acknowledgement: the node's last write, not a sign of life.
        } else if block.updated_by == writer.0 && block.node == writer {
            // Check: an evicted incarnation never writes its own slot again.
            for &(victim, incarnation, at) in &self.checker.evicted {
                if victim == writer && incarnation == block.incarnation {
                    self.checker.violations.push(format!(
                        "t={:?}: node {writer} wrote its slot after its eviction at {at:?} (incarnation {incarnation})",
                        self.now
                    ));
                }
            }
            self.checker.last_own_write[slot] = Some(self.now);
            // Check: once a fence agent has declared the node fenced, none of the
            // incarnations it fenced writes a normal block again.
            if let Some(agent) = &self.agent {
                if let Some((at, Ok(how))) = &agent.result {
                    if agent.victim == writer.0 && agent.doomed.contains(&block.incarnation) {
                        self.checker.violations.push(format!(
                            "t={:?}: node {writer} wrote a normal block after the agent declared it fenced at {at:?} ({how:?})",
                            self.now
                        ));
                    }
                }
            }
        } else if block.state == NodeState::Evicted {
            // The incarnation the master declared dead (the one the notice is for); the
            // slot may already hold the victim's next one, restarted meanwhile. If the
            // master's process is gone, the slot's current incarnation.
            let declared = self.nodes[i].core.as_ref().and_then(|core| {
                core.status()
                    .peers
                    .iter()
                    .find_map(|(id, view)| match view {
                        qdisk::cycle::PeerView::Down { evil } if *id == block.node => Some(*evil),
                        _ => None,
                    })
            });
            let victim_incarnation = declared.unwrap_or_else(|| {
                decode_status(&self.disk[slot], self.layout, block.node)
                    .map(|b| b.incarnation)
                    .unwrap_or_default()
            });
            self.checker
                .evicted
                .push((block.node, victim_incarnation, self.now));
        }
        let wall = self.wall_ms(i) / 1000;
        encode_status(&block, self.layout, wall, &mut self.disk[slot]).expect("encodable");
    }

    fn snapshot(&self) -> Vec<SlotRead> {
        (1..=self.layout.max_nodes())
            .map(|id| SlotRead {
                node: NodeId(id),
                block: decode_status(&self.disk[id as usize], self.layout, NodeId(id)),
            })
            .collect()
    }

    fn deliver(&mut self, i: usize, at: Time, f: InFlight) {
        let now = BootTime(at + self.nodes[i].boot_offset);
        let (snapshot, writes) = f.found.unzip();
        let boot_offset = self.nodes[i].boot_offset;
        let id = self.nodes[i].id;
        let Some(core) = self.nodes[i].core.as_mut() else {
            return;
        };
        if std::env::var("SIM_TRACE").is_ok() {
            eprintln!(
                "{at:?} node {}: done {:?} ok={}",
                i + 1,
                matches!(f.op, Op::Read { .. }),
                f.ok
            );
        }
        match f.op {
            Op::Read { started } => {
                self.checker.current_read_start[i + 1] = started;
                self.checker.current_read_writes[i + 1] = writes.unwrap_or_default();
                if f.ok {
                    let snapshot = snapshot.unwrap_or_default();
                    let pill = snapshot
                        .iter()
                        .find(|s| s.node == id)
                        .and_then(|s| s.block.as_ref().ok())
                        .is_some_and(|b| b.as_pill().is_some());
                    core.handle_read(now, BootTime(started + boot_offset), &snapshot);
                    if pill {
                        self.nodes[i].read_pill = true;
                    }
                } else {
                    core.handle_read_failed(now);
                }
            }
            Op::Write { block } => {
                core.handle_write_done(now, block.node, f.ok, BootTime(f.issued + boot_offset))
            }
        }
        self.drain(i);
    }

    fn drain(&mut self, i: usize) {
        loop {
            let now = self.boot_now(i);
            let Some(core) = self.nodes[i].core.as_mut() else {
                return;
            };
            let Some(action) = core.poll_action() else {
                return;
            };
            let id = self.nodes[i].id;
            if std::env::var("SIM_TRACE").is_ok() {
                eprintln!("{:?} node {id}: {action:?}", self.now);
            }
            match action {
                Action::ReadAll => self.nodes[i]
                    .queue
                    .push_back(Op::Read { started: self.now }),
                Action::Write { block, not_after } => {
                    if self.nodes[i].read_pill && !block.is_pill_ack() {
                        self.checker.violations.push(format!(
                            "t={:?}: node {id} issued a normal write after reading a poison pill: {block:?}",
                            self.now
                        ));
                    }
                    if now > not_after {
                        let core = self.nodes[i].core.as_mut().expect("core");
                        core.handle_write_done(now, block.node, false, now);
                    } else {
                        self.nodes[i].queue.push_back(Op::Write { block });
                    }
                }
                Action::Event(event) => {
                    self.check_event(i, &event);
                    self.events.push((self.now, id, event));
                }
                Action::SelfFence(reason) => {
                    let node = &mut self.nodes[i];
                    node.core = None;
                    node.queue.clear();
                    // The process is gone, not the storage path: a write in flight still
                    // lands (unless a reset comes first: the watchdog stays armed).
                    node.orphan = node.in_flight.take().filter(|f| !f.landed);
                    node.undelivered.clear();
                    node.fenced.push((self.now, reason.to_string()));
                    return;
                }
                Action::PetWatchdog => {
                    let node = &mut self.nodes[i];
                    if let Some(w) = self.watchdog {
                        node.watchdog_fires_at = Some(self.now + w);
                    }
                }
                Action::Exit(reason) => {
                    let node = &mut self.nodes[i];
                    node.core = None;
                    node.queue.clear();
                    if matches!(reason, qdisk::cycle::ExitReason::Shutdown) {
                        node.watchdog_fires_at = None;
                    }
                    node.fenced.push((self.now, format!("exit: {reason:?}")));
                    return;
                }
            }
            self.progress_io(i);
        }
    }

    fn check_event(&mut self, i: usize, event: &Event) {
        let t = self.cfg.timing;
        if let Event::NodeDown(victim) = event {
            // A pill may hide the victim's latest writes from a peer (it overwrote them
            // before the peer read them): the peer judges it by the last one it saw, which
            // can be any time earlier. The victim writes nothing normal after reading the
            // pill; the agent's checks, and the check that no write lands after an
            // eviction notice, cover it.
            if self
                .agent
                .as_ref()
                .is_some_and(|a| a.victim == victim.0 && !a.doomed.is_empty())
            {
                return;
            }
            let read_start = self.checker.current_read_start[i + 1];
            // What the victim had written by the time the read completed (a completion seen
            // late must not be blamed for writes that landed after it).
            let writes = &self.checker.current_read_writes[i + 1];
            if let Some(last) = writes.get(victim.0 as usize).copied().flatten() {
                if read_start.saturating_sub(last) < t.interval * t.tko {
                    self.checker.violations.push(format!(
                        "t={:?}: node {} declared node {victim} dead from a read started at {read_start:?}, but it wrote at {last:?}",
                        self.now,
                        i + 1
                    ));
                }
            }
        }
    }

    /// Nodes acting as master: running, not paused, state Master, write deadline not past.
    pub fn acting_masters(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|n| n.paused_until.is_none())
            .filter_map(|n| {
                let core = n.core.as_ref()?;
                let deadline_ok = core.poll_timeout().is_some_and(|t| {
                    t.0 >= self.now + n.boot_offset || core.status().state != NodeState::Master
                });
                (core.status().state == NodeState::Master && deadline_ok).then_some(n.id)
            })
            .collect()
    }

    fn check(&mut self) {
        if let Some(agent) = &self.agent {
            if let Some((at, Ok(how))) = &agent.result {
                // An acknowledgement lands before the self-fence that follows it: the node
                // is gone within its acknowledgement deadline (one interval) if it runs, or
                // its watchdog's timeout if it hangs right then. Anything else is silence
                // for the whole message wait: it must be gone already.
                let grace = match how {
                    Fenced::Acknowledged { .. } => self
                        .cfg
                        .timing
                        .interval
                        .max(self.watchdog.unwrap_or_default()),
                    _ => Duration::ZERO,
                };
                let node = &self.nodes[agent.victim as usize - 1];
                if let Some(core) = node.core.as_ref().filter(|_| self.now > *at + grace) {
                    if agent.doomed.contains(&core.incarnation()) {
                        self.checker.violations.push(format!(
                            "t={:?}: node {} still runs the incarnation the agent declared fenced at {at:?} ({how:?})",
                            self.now, node.id
                        ));
                    }
                }
            }
        }
        let masters = self.acting_masters();
        if masters.len() > 1 {
            let since = *self.checker.overlap_since.get_or_insert(self.now);
            let overlap = self.now - since;
            self.checker.longest_overlap = self.checker.longest_overlap.max(overlap);
        } else {
            self.checker.overlap_since = None;
        }
        // An evicted node that runs undisturbed must fence within a few intervals.
        let t = self.cfg.timing;
        let bound = t.interval * 3;
        for node in &self.nodes {
            let Some(core) = &node.core else { continue };
            if node.paused_until.is_some() {
                continue;
            }
            for &(victim, incarnation, at) in &self.checker.evicted {
                if victim == node.id
                    && incarnation == core.incarnation()
                    && self.now > at.max(node.last_disturbed) + bound
                {
                    self.checker.violations.push(format!(
                        "t={:?}: node {} still runs {bound:?} after its eviction at {at:?}",
                        self.now, node.id
                    ));
                }
            }
        }
    }

    /// Panics with the seed and the violations if any were found.
    pub fn assert_safe(&self) {
        assert!(
            self.checker.violations.is_empty(),
            "seed {} (replay with SIM_SEED={}):\n{}",
            self.seed,
            self.seed,
            self.checker.violations.join("\n")
        );
    }

    /// The core state of node `id`, if it runs.
    pub fn state(&self, id: u32) -> Option<NodeState> {
        self.nodes[id as usize - 1]
            .core
            .as_ref()
            .map(|c| c.status().state)
    }

    /// The master node `id` believes in, if it runs.
    pub fn master_seen_by(&self, id: u32) -> Option<NodeId> {
        self.nodes[id as usize - 1]
            .core
            .as_ref()
            .and_then(|c| c.status().master)
    }

    /// Whether node `id` holds the votes.
    pub fn votes(&self, id: u32) -> bool {
        self.nodes[id as usize - 1]
            .core
            .as_ref()
            .is_some_and(|c| c.status().votes_held)
    }

    /// Events of one kind seen by anyone.
    pub fn first_event(&self, pred: impl Fn(NodeId, &Event) -> bool) -> Option<Time> {
        self.events
            .iter()
            .find(|(_, n, e)| pred(*n, e))
            .map(|(t, _, _)| *t)
    }
}
