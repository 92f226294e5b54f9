//! The fence queue: requests in, device calls out, history at the end.
//!
//! [`FenceQueue`] does no I/O and reads no clock. The driver feeds it requests
//! ([`FenceQueue::handle_request`]), device results ([`FenceQueue::handle_result`]), the
//! partition's quorum ([`FenceQueue::handle_quorum`]), administrator acknowledgements
//! ([`FenceQueue::handle_ack`]), rejoins ([`FenceQueue::handle_rejoin`]) and the time
//! ([`FenceQueue::handle_timeout`]); it drains [`FenceQueue::poll_action`] after each and
//! sleeps until [`FenceQueue::poll_timeout`].
//!
//! # Rules
//! - One operation per victim: a second fence request joins the running one; an unfence
//!   request while the node is being fenced is refused; a fence request cancels a running
//!   unfence.
//! - Levels in order; every device of a level must succeed; a failed level is retried
//!   `level_retries` more times, then the next level is tried; when every level failed the
//!   whole topology is tried again after a back-off (doubling, capped), forever, until it
//!   succeeds or an administrator acknowledges the node as safely down (RHCS fenced).
//! - A reboot over a level of several devices (dual power supplies) is off on every device,
//!   then on on every device; the node counts as fenced once every off succeeded, and a
//!   failed on is reported as such (Pacemaker's remapping).
//! - Cluster requests (a node failure) are only carried out while this partition is
//!   quorate, after `post_fail_delay` plus the victim's static delay plus a random delay up
//!   to `random_delay_max` (so the halves of a split two-node cluster do not shoot each
//!   other at once). Administrator requests act at once, as `fence_node` and
//!   `stonith_admin` do. A victim that rejoins before any device was called is not fenced.
//! - One call at a time per device (Pacemaker's `pcmk_action_limit` default).
//! - Unfencing calls `on` on the node's unfence devices; it gives up after
//!   `unfence_rounds` rounds.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::history::{Attempt, DeviceAction, FenceAction, Origin, Outcome, Record};
use crate::time::BootTime;
use crate::topology::{DeviceName, DeviceUse, NodeName, Topology};

/// Policy of the queue.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Who fences whom.
    pub topology: Topology,
    /// Wait after a node failure before fencing it (RHCS `post_fail_delay`, default 0).
    pub post_fail_delay: Duration,
    /// Random extra delay up to this (Pacemaker `pcmk_delay_max`), off/reboot only.
    pub random_delay_max: Duration,
    /// Extra attempts of a failed level before the next one.
    pub level_retries: u32,
    /// First back-off after every level failed; doubles each round.
    pub backoff_initial: Duration,
    /// Largest back-off.
    pub backoff_max: Duration,
    /// Rounds before unfencing gives up.
    pub unfence_rounds: u32,
    /// At the first quorate membership, wait this long for missing nodes to join before
    /// fencing them (RHCS `post_join_delay`, default 6 s).
    pub post_join_delay: Duration,
    /// Do not fence nodes missing at the first quorate membership (RHCS `clean_start`).
    pub clean_start: bool,
    /// Seed of the random delays (`None`: from the driver's entropy).
    pub rng_seed: u64,
    /// After a stall of the daemon, how long cluster fence calls wait for the membership
    /// layer to tell of rejoins ([`FenceQueue::handle_stall`]).
    pub stall_grace: Duration,
    /// How long a "quorate" from the membership layer stays good unless told again (hbd
    /// repeats it every 5 s): a membership layer that died leaves no quorum behind. `None`:
    /// never expires (a partition assumed quorate).
    pub quorum_ttl: Option<Duration>,
}

impl QueueConfig {
    /// The defaults with `topology`: no delays, one retry per level, back-off 5 s to 60 s.
    pub fn new(topology: Topology, rng_seed: u64) -> Self {
        Self {
            topology,
            post_fail_delay: Duration::ZERO,
            random_delay_max: Duration::ZERO,
            level_retries: 1,
            backoff_initial: Duration::from_secs(5),
            backoff_max: Duration::from_secs(60),
            unfence_rounds: 3,
            post_join_delay: Duration::from_secs(6),
            clean_start: false,
            rng_seed,
            stall_grace: Duration::from_secs(2),
            quorum_ttl: Some(Duration::from_secs(15)),
        }
    }
}

/// An operation's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct OpId(pub u64);

/// A device call's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct CallId(pub u64);

/// A device invocation for the driver to carry out, then report with
/// [`FenceQueue::handle_result`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCall {
    /// The call.
    pub call: CallId,
    /// The operation it belongs to.
    pub op: OpId,
    /// The victim.
    pub target: NodeName,
    /// The device.
    pub device: DeviceName,
    /// The victim's arguments on it.
    pub args: BTreeMap<String, String>,
    /// What to do.
    pub action: DeviceAction,
    /// Level index (0 for unfencing).
    pub level: u8,
}

/// Progress worth logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueEvent {
    /// The membership layer stopped confirming quorum: inquorate until it does again.
    QuorumExpired,
    /// Waiting for the partition to be quorate before fencing `target`.
    AwaitingQuorum(NodeName),
    /// Waiting this long before fencing `target`.
    Delaying(NodeName, Duration),
    /// Every level failed; trying again after this long.
    BackingOff(NodeName, u32, Duration),
    /// A level failed.
    LevelFailed(NodeName, u8),
}

/// An instruction to the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Call a device.
    Run(DeviceCall),
    /// An operation ended: persist and report it.
    Finished(Record),
    /// Log it.
    Event(QueueEvent),
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The node is not in the configuration.
    #[error("node {0} is not in the cluster configuration")]
    UnknownNode(NodeName),
    /// Unfencing while the node is being fenced.
    #[error("node {0} is being fenced; unfence it after that finished")]
    FencingInProgress(NodeName),
    /// Unfencing a node with no unfence devices.
    #[error("node {0} has no unfence devices (only resource-level devices, such as fabric ports, are unfenced)")]
    NothingToUnfence(NodeName),
}

/// Where an operation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpState {
    /// Waiting until the delay passes.
    Delaying {
        /// When it ends.
        until: BootTime,
    },
    /// Waiting for quorum.
    AwaitingQuorum,
    /// Walking the levels.
    RunningLevel {
        /// Position in the level list (0-based).
        level: usize,
        /// Attempt at this level (0-based).
        attempt: u32,
        /// Next device step of the level (see [`Step`]).
        step: usize,
        /// The call in flight, if any.
        call: Option<CallId>,
    },
    /// Every level failed this round; waiting before the next.
    BackingOff {
        /// When the next round starts.
        until: BootTime,
    },
}

#[derive(Debug, Clone)]
struct Op {
    id: OpId,
    target: NodeName,
    action: FenceAction,
    origin: Origin,
    joined: Vec<Origin>,
    state: OpState,
    round: u32,
    started: BootTime,
    attempts: Vec<Attempt>,
    on_failures: Vec<String>,
    failed_this_level: bool,
    /// Set while a device is being called when the operation must end at the next step
    /// (the victim rejoined, or every requester withdrew): why.
    cancel_at_step: Option<String>,
}

/// A snapshot of an operation, for `fence_tool ls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpStatus {
    /// Its id.
    pub id: OpId,
    /// The victim.
    pub target: NodeName,
    /// What is asked.
    pub action: FenceAction,
    /// Who asked.
    pub origin: Origin,
    /// Where it stands.
    pub state: OpState,
    /// Round of the topology.
    pub round: u32,
    /// Attempts so far.
    pub attempts: usize,
}

/// The fence queue. See the module documentation.
#[derive(Debug)]
pub struct FenceQueue {
    cfg: QueueConfig,
    rng: ChaCha8Rng,
    quorate: bool,
    ops: BTreeMap<OpId, Op>,
    calls: BTreeMap<CallId, (OpId, DeviceName, BootTime, DeviceAction, u8)>,
    busy: BTreeSet<DeviceName>,
    next_op: u64,
    next_call: u64,
    actions: VecDeque<Action>,
    members: Option<BTreeSet<NodeName>>,
    startup_done: bool,
    /// After a stall of the daemon: no cluster fence call starts before this time.
    hold_until: Option<BootTime>,
    /// Quorate until then unless told again.
    quorate_until: Option<BootTime>,
}

/// One device step of a level for an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Index of the device in the level.
    pub device: usize,
    /// What to ask it.
    pub action: DeviceAction,
    /// Whether a failure of this step fails the level (an `on` after a confirmed off does
    /// not: the node is fenced).
    pub must_succeed: bool,
}

/// The configured index of position `level` of `target`'s levels (0 for unfencing).
fn level_index(topology: &Topology, target: &NodeName, action: FenceAction, level: usize) -> u8 {
    match action {
        FenceAction::On => 0,
        _ => topology
            .node(target)
            .and_then(|n| n.levels.get(level))
            .map_or(0, |l| l.index),
    }
}

/// The steps of a level of `devices` devices for `action`.
pub fn steps(action: FenceAction, devices: usize) -> Vec<Step> {
    let step = |device, action, must_succeed| Step {
        device,
        action,
        must_succeed,
    };
    match action {
        FenceAction::Off => (0..devices)
            .map(|d| step(d, DeviceAction::Off, true))
            .collect(),
        FenceAction::On => (0..devices)
            .map(|d| step(d, DeviceAction::On, true))
            .collect(),
        FenceAction::Reboot if devices == 1 => vec![step(0, DeviceAction::Reboot, true)],
        FenceAction::Reboot => (0..devices)
            .map(|d| step(d, DeviceAction::Off, true))
            .chain((0..devices).map(|d| step(d, DeviceAction::On, false)))
            .collect(),
    }
}

impl FenceQueue {
    /// An empty queue; the partition is assumed inquorate until told otherwise.
    pub fn new(cfg: QueueConfig) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(cfg.rng_seed);
        Self {
            cfg,
            rng,
            quorate: false,
            ops: BTreeMap::new(),
            calls: BTreeMap::new(),
            busy: BTreeSet::new(),
            next_op: 1,
            next_call: 1,
            actions: VecDeque::new(),
            members: None,
            startup_done: false,
            hold_until: None,
            quorate_until: None,
        }
    }

    /// Makes new operation ids start after `last` (ids in the history never repeat).
    pub fn skip_ids(&mut self, last: u64) {
        self.next_op = self.next_op.max(last + 1);
    }

    // ----- getters -------------------------------------------------------------------

    /// Operations in progress.
    pub fn ops(&self) -> Vec<OpStatus> {
        self.ops
            .values()
            .map(|op| OpStatus {
                id: op.id,
                target: op.target.clone(),
                action: op.action,
                origin: op.origin.clone(),
                state: op.state.clone(),
                round: op.round,
                attempts: op.attempts.len(),
            })
            .collect()
    }

    /// Whether the partition is quorate as last told.
    pub fn is_quorate(&self) -> bool {
        self.quorate
    }

    // ----- outputs -------------------------------------------------------------------

    /// The next instruction.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`FenceQueue::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<BootTime> {
        let hold = self.hold_until.filter(|_| !self.ops.is_empty());
        let expiry = self.quorate_until.filter(|_| !self.ops.is_empty());
        let ops = self
            .ops
            .values()
            .filter_map(|op| match op.state {
                OpState::Delaying { until } | OpState::BackingOff { until } => {
                    Some(hold.map_or(until, |h| until.max(h)))
                }
                OpState::RunningLevel { call: None, .. } => hold,
                _ => None,
            })
            .min();
        [ops, expiry].into_iter().flatten().min()
    }

    // ----- inputs --------------------------------------------------------------------

    /// A request to fence (`Off`, `Reboot`) or unfence (`On`) `target`.
    pub fn handle_request(
        &mut self,
        now: BootTime,
        target: NodeName,
        action: FenceAction,
        origin: Origin,
    ) -> Result<OpId, RequestError> {
        let node = self
            .cfg
            .topology
            .node(&target)
            .ok_or_else(|| RequestError::UnknownNode(target.clone()))?
            .clone();
        let running = self
            .ops
            .values()
            .find(|op| op.target == target)
            .map(|op| (op.id, op.action));
        match (running, action) {
            (
                Some((id, FenceAction::Off | FenceAction::Reboot)),
                FenceAction::Off | FenceAction::Reboot,
            ) => {
                if let Some(op) = self.ops.get_mut(&id) {
                    op.joined.push(origin);
                }
                return Ok(id);
            }
            (Some(_), FenceAction::On) if running.is_some_and(|(_, a)| a != FenceAction::On) => {
                return Err(RequestError::FencingInProgress(target));
            }
            (Some((id, FenceAction::On)), FenceAction::On) => {
                if let Some(op) = self.ops.get_mut(&id) {
                    op.joined.push(origin);
                }
                return Ok(id);
            }
            (Some((id, FenceAction::On)), _) => {
                self.finish(
                    id,
                    now,
                    Outcome::Cancelled("a fence request overrides unfencing".into()),
                );
            }
            _ => {}
        }
        if action == FenceAction::On && node.unfence.is_empty() {
            return Err(RequestError::NothingToUnfence(target));
        }
        let id = OpId(self.next_op);
        self.next_op += 1;
        let cluster = matches!(origin, Origin::Cluster(_));
        let delay = if cluster && action != FenceAction::On {
            let random = if self.cfg.random_delay_max.is_zero() {
                Duration::ZERO
            } else {
                let max = self.cfg.random_delay_max.as_millis() as u64;
                Duration::from_millis(self.rng.random_range(0..=max))
            };
            self.cfg.post_fail_delay + node.delay + random
        } else {
            Duration::ZERO
        };
        let op = Op {
            id,
            target: target.clone(),
            action,
            origin,
            joined: Vec::new(),
            state: OpState::Delaying { until: now + delay },
            round: 1,
            started: now,
            attempts: Vec::new(),
            on_failures: Vec::new(),
            failed_this_level: false,
            cancel_at_step: None,
        };
        if !delay.is_zero() {
            self.actions
                .push_back(Action::Event(QueueEvent::Delaying(target, delay)));
        }
        self.ops.insert(id, op);
        self.advance(now);
        Ok(id)
    }

    /// The partition became quorate or lost quorum (or the membership layer says it again).
    pub fn handle_quorum(&mut self, now: BootTime, quorate: bool) {
        self.quorate = quorate;
        self.quorate_until = self.cfg.quorum_ttl.filter(|_| quorate).map(|ttl| now + ttl);
        self.startup_fencing(now);
        self.advance(now);
    }

    /// The membership layer's current members. Nodes that joined are treated as rejoined
    /// (their pending fencing is averted); at the first quorate membership, every configured
    /// node that is missing is fenced after `post_join_delay`, unless `clean_start`.
    pub fn handle_membership(&mut self, now: BootTime, members: BTreeSet<NodeName>) {
        let previous = self.members.replace(members.clone());
        for node in &members {
            if previous.as_ref().is_none_or(|p| !p.contains(node)) {
                self.handle_rejoin(now, node.clone());
            }
        }
        self.startup_fencing(now);
        self.advance(now);
    }

    fn startup_fencing(&mut self, now: BootTime) {
        if self.startup_done || !self.quorate {
            return;
        }
        let Some(members) = self.members.clone() else {
            return;
        };
        self.startup_done = true;
        if self.cfg.clean_start {
            return;
        }
        let missing: Vec<NodeName> = self
            .cfg
            .topology
            .nodes
            .keys()
            .filter(|n| !members.contains(*n))
            .cloned()
            .collect();
        for node in missing {
            let id = OpId(self.next_op);
            self.next_op += 1;
            self.actions.push_back(Action::Event(QueueEvent::Delaying(
                node.clone(),
                self.cfg.post_join_delay,
            )));
            self.ops.insert(
                id,
                Op {
                    id,
                    target: node,
                    action: FenceAction::Off,
                    origin: Origin::Cluster("startup fencing".into()),
                    joined: Vec::new(),
                    state: OpState::Delaying {
                        until: now + self.cfg.post_join_delay,
                    },
                    round: 1,
                    started: now,
                    attempts: Vec::new(),
                    on_failures: Vec::new(),
                    failed_this_level: false,
                    cancel_at_step: None,
                },
            );
        }
    }

    /// A device call ended: `Ok(())` or why it failed (timeouts included).
    pub fn handle_result(&mut self, now: BootTime, call: CallId, result: Result<(), String>) {
        let Some((op_id, device, started, action, level)) = self.calls.remove(&call) else {
            return;
        };
        self.busy.remove(&device);
        if let Some(op) = self.ops.get_mut(&op_id) {
            if let OpState::RunningLevel {
                call: in_flight, ..
            } = &mut op.state
            {
                if *in_flight == Some(call) {
                    *in_flight = None;
                    op.attempts.push(Attempt {
                        round: op.round,
                        level,
                        device: device.clone(),
                        action,
                        duration_ms: now.since(started).as_millis() as u64,
                        error: result.clone().err(),
                    });
                    self.step_done(op_id, now, result);
                }
            }
        }
        self.advance(now);
    }

    /// An administrator declares `target` safely down (`fence_tool ack`): any fence
    /// operation on it ends as acknowledged; without one, the acknowledgement is recorded.
    pub fn handle_ack(&mut self, now: BootTime, target: NodeName, by: String) {
        let outcome = Outcome::Acknowledged(by.clone());
        let running = self
            .ops
            .values()
            .find(|op| op.target == target && op.action != FenceAction::On)
            .map(|op| op.id);
        match running {
            Some(id) => self.finish(id, now, outcome),
            None => {
                let id = OpId(self.next_op);
                self.next_op += 1;
                self.actions.push_back(Action::Finished(Record {
                    id: id.0,
                    target,
                    action: FenceAction::Off,
                    origin: Origin::Admin(by),
                    joined: Vec::new(),
                    attempts: Vec::new(),
                    outcome,
                    elapsed_ms: 0,
                    requested_at: 0,
                    finished_at: 0,
                }));
            }
        }
        self.advance(now);
    }

    /// `target` rejoined the cluster cleanly: its fence operation is cancelled, retries and
    /// back-off included (RHCS "averting fence"). An operation calling a device now ends
    /// when that call does: as fenced if it completed the level, else cancelled.
    pub fn handle_rejoin(&mut self, now: BootTime, target: NodeName) {
        let ids: Vec<OpId> = self
            .ops
            .values()
            .filter(|op| op.target == target && op.action != FenceAction::On)
            .map(|op| op.id)
            .collect();
        for id in ids {
            self.cancel_or_mark(
                id,
                now,
                "the node rejoined the cluster before it was fenced",
            );
        }
        self.advance(now);
    }

    /// `origin` no longer asks for `target` to be fenced. The operation goes on for its
    /// other requesters; without any, it is cancelled as [`FenceQueue::handle_rejoin`]
    /// cancels.
    pub fn handle_withdraw(&mut self, now: BootTime, target: NodeName, origin: &Origin) {
        let Some(op) = self
            .ops
            .values_mut()
            .find(|op| op.target == target && op.action != FenceAction::On)
        else {
            return;
        };
        let id = op.id;
        if let Some(pos) = op.joined.iter().position(|o| o == origin) {
            op.joined.remove(pos);
            return;
        }
        if op.origin != *origin {
            return;
        }
        if !op.joined.is_empty() {
            op.origin = op.joined.remove(0);
            return;
        }
        self.cancel_or_mark(id, now, "its requester withdrew the request");
        self.advance(now);
    }

    /// Cancels an operation now, or at its next step if a device is being called. A call
    /// the driver has not taken yet ([`FenceQueue::poll_action`]) is not being called: it
    /// is taken back and the operation cancelled at once.
    fn cancel_or_mark(&mut self, id: OpId, now: BootTime, why: &str) {
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        if let OpState::RunningLevel {
            call: Some(call), ..
        } = op.state
        {
            let queued = self
                .actions
                .iter()
                .position(|a| matches!(a, Action::Run(c) if c.call == call));
            match queued {
                Some(pos) => {
                    self.actions.remove(pos);
                    if let Some((_, device, ..)) = self.calls.remove(&call) {
                        self.busy.remove(&device);
                    }
                }
                None => {
                    op.cancel_at_step = Some(why.to_string());
                    return;
                }
            }
        }
        self.finish(id, now, Outcome::Cancelled(why.to_string()));
    }

    /// The driver saw that fenced did not run for a while (stopped, starved, suspended):
    /// what queued up meanwhile (a victim's rejoin, a withdrawal) may not have been told
    /// yet, so no cluster fence call starts for `stall_grace` (calls of operations already
    /// past that point, and administrator requests, are not held).
    pub fn handle_stall(&mut self, now: BootTime) {
        self.hold_until = Some(now + self.cfg.stall_grace);
        self.advance(now);
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: BootTime) {
        self.advance(now);
    }

    // ----- internals -----------------------------------------------------------------

    fn levels_of(&self, op: &Op) -> Vec<Vec<DeviceUse>> {
        let Some(node) = self.cfg.topology.node(&op.target) else {
            return Vec::new();
        };
        match op.action {
            FenceAction::On => vec![node.unfence.clone()],
            _ => node.levels.iter().map(|l| l.devices.clone()).collect(),
        }
    }

    fn finish(&mut self, id: OpId, now: BootTime, outcome: Outcome) {
        let Some(op) = self.ops.remove(&id) else {
            return;
        };
        self.actions.push_back(Action::Finished(Record {
            id: op.id.0,
            target: op.target,
            action: op.action,
            origin: op.origin,
            joined: op.joined,
            attempts: op.attempts,
            outcome,
            elapsed_ms: now.since(op.started).as_millis() as u64,
            requested_at: 0,
            finished_at: 0,
        }));
    }

    /// A step of a level ended.
    fn step_done(&mut self, id: OpId, now: BootTime, result: Result<(), String>) {
        let levels = match self.ops.get(&id) {
            Some(op) => self.levels_of(op),
            None => return,
        };
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        let OpState::RunningLevel {
            level,
            attempt,
            step,
            ..
        } = op.state.clone()
        else {
            return;
        };
        let devices = levels.get(level).map_or(0, Vec::len);
        let plan = steps(op.action, devices);
        let this = &plan[step.min(plan.len().saturating_sub(1))];
        match result {
            Ok(()) => {}
            Err(e) if !this.must_succeed => {
                let device = levels[level][this.device].device.clone();
                op.on_failures.push(format!("{device}: {e}"));
            }
            Err(_) => op.failed_this_level = true,
        }
        let level_done = !op.failed_this_level && step + 1 >= plan.len();
        if let (Some(why), false) = (op.cancel_at_step.clone(), level_done) {
            self.finish(id, now, Outcome::Cancelled(why));
            return;
        }
        if op.failed_this_level {
            // The level failed: retry it, or the next level, or back off.
            op.failed_this_level = false;
            let failed_level = level_index(&self.cfg.topology, &op.target, op.action, level);
            self.actions
                .push_back(Action::Event(QueueEvent::LevelFailed(
                    op.target.clone(),
                    failed_level,
                )));
            if attempt < self.cfg.level_retries {
                op.state = OpState::RunningLevel {
                    level,
                    attempt: attempt + 1,
                    step: 0,
                    call: None,
                };
            } else if level + 1 < levels.len() {
                op.state = OpState::RunningLevel {
                    level: level + 1,
                    attempt: 0,
                    step: 0,
                    call: None,
                };
            } else if op.action == FenceAction::On && op.round >= self.cfg.unfence_rounds {
                let rounds = op.round;
                self.finish(
                    id,
                    now,
                    Outcome::Failed(format!("unfencing failed in {rounds} rounds")),
                );
            } else {
                let shift = (op.round - 1).min(16);
                let delay = (self.cfg.backoff_initial * (1u32 << shift)).min(self.cfg.backoff_max);
                op.round += 1;
                op.state = OpState::BackingOff { until: now + delay };
                self.actions.push_back(Action::Event(QueueEvent::BackingOff(
                    op.target.clone(),
                    op.round,
                    delay,
                )));
            }
            return;
        }
        if step + 1 < plan.len() {
            op.state = OpState::RunningLevel {
                level,
                attempt,
                step: step + 1,
                call: None,
            };
            return;
        }
        // The level succeeded.
        let outcome = match op.action {
            FenceAction::On => Outcome::Unfenced,
            _ if op.on_failures.is_empty() => Outcome::Fenced,
            _ => Outcome::FencedOnFailed(op.on_failures.join("; ")),
        };
        self.finish(id, now, outcome);
    }

    /// Moves every operation as far as it can go now.
    fn advance(&mut self, now: BootTime) {
        if self.hold_until.is_some_and(|t| t <= now) {
            self.hold_until = None;
        }
        if self.quorate_until.is_some_and(|t| t <= now) {
            self.quorate_until = None;
            self.quorate = false;
            self.actions
                .push_back(Action::Event(QueueEvent::QuorumExpired));
        }
        let ids: Vec<OpId> = self.ops.keys().copied().collect();
        for id in ids {
            let levels = match self.ops.get(&id) {
                Some(op) => self.levels_of(op),
                None => continue,
            };
            let quorate = self.quorate;
            let Some(op) = self.ops.get_mut(&id) else {
                continue;
            };
            let needs_quorum =
                matches!(op.origin, Origin::Cluster(_)) && op.action != FenceAction::On;
            match op.state.clone() {
                OpState::Delaying { until } | OpState::BackingOff { until } if now < until => {
                    continue
                }
                OpState::Delaying { .. } | OpState::BackingOff { .. } | OpState::AwaitingQuorum => {
                    if needs_quorum && !quorate {
                        if op.state != OpState::AwaitingQuorum {
                            op.state = OpState::AwaitingQuorum;
                            self.actions
                                .push_back(Action::Event(QueueEvent::AwaitingQuorum(
                                    op.target.clone(),
                                )));
                        }
                        continue;
                    }
                    if levels.iter().all(Vec::is_empty) {
                        // No way to fence it: only an acknowledgement ends this.
                        op.state = OpState::AwaitingQuorum;
                        continue;
                    }
                    op.state = OpState::RunningLevel {
                        level: 0,
                        attempt: 0,
                        step: 0,
                        call: None,
                    };
                }
                OpState::RunningLevel { call: Some(_), .. } => continue,
                OpState::RunningLevel { .. } => {
                    if needs_quorum && !quorate {
                        // Lost quorum between two calls: stop here.
                        op.state = OpState::AwaitingQuorum;
                        self.actions
                            .push_back(Action::Event(QueueEvent::AwaitingQuorum(
                                op.target.clone(),
                            )));
                        continue;
                    }
                }
            }
            if needs_quorum && self.held_at(now) {
                // Just back from a stall: the membership layer first tells of rejoins.
                continue;
            }
            self.dispatch(id, &levels, now);
        }
    }

    fn held_at(&self, now: BootTime) -> bool {
        self.hold_until.is_some_and(|t| now < t)
    }

    /// Issues the next device call of an operation standing in a level, if its device is
    /// free. Skips empty levels.
    fn dispatch(&mut self, id: OpId, levels: &[Vec<DeviceUse>], now: BootTime) {
        loop {
            let Some(op) = self.ops.get_mut(&id) else {
                return;
            };
            let OpState::RunningLevel {
                level,
                attempt,
                step,
                call: None,
            } = op.state.clone()
            else {
                return;
            };
            let devices = levels.get(level).cloned().unwrap_or_default();
            if devices.is_empty() {
                if level + 1 < levels.len() {
                    op.state = OpState::RunningLevel {
                        level: level + 1,
                        attempt: 0,
                        step: 0,
                        call: None,
                    };
                    continue;
                }
                return;
            }
            let plan = steps(op.action, devices.len());
            let Some(this) = plan.get(step) else { return };
            let use_ = &devices[this.device];
            if self.busy.contains(&use_.device) {
                return;
            }
            let call = CallId(self.next_call);
            self.next_call += 1;
            let level_index = level_index(&self.cfg.topology, &op.target, op.action, level);
            op.state = OpState::RunningLevel {
                level,
                attempt,
                step,
                call: Some(call),
            };
            self.busy.insert(use_.device.clone());
            self.calls.insert(
                call,
                (id, use_.device.clone(), now, this.action, level_index),
            );
            self.actions.push_back(Action::Run(DeviceCall {
                call,
                op: id,
                target: op.target.clone(),
                device: use_.device.clone(),
                args: use_.args.clone(),
                action: this.action,
                level: level_index,
            }));
            return;
        }
    }
}
