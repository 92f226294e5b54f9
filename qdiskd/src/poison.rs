//! The poison-pill sender: how a fence agent fences a node through the quorum disk, as a
//! state machine ([`PillSender`]) that does no I/O and reads no clock.
//!
//! The agent writes a pill ([`crate::format::pill`]) into the victim's slot and watches
//! the slot. The node is fenced when
//! - it **acknowledges** the pill (its own write, marked, with our nonce): its qdiskd read
//!   the pill, stopped petting its watchdog and is fencing itself;
//! - it **rebooted**: its slot shows a new incarnation with a new boot tag
//!   ([`Incarnation::boot_tag`]);
//! - or the **message wait** (`msgwait`, SBD's name) has passed since the pill landed with
//!   no normal write from the node, and the node runs qdiskd with a hardware watchdog.
//!
//! Without a watchdog, or when the slot shows that the node's qdiskd stopped cleanly (its
//! watchdog is then disarmed), silence proves nothing: only an acknowledgement or a reboot
//! counts, and the agent fails after `msgwait` otherwise.
//!
//! A normal write of the node that lands after the pill (it was in flight, or the node's
//! read started just before the pill landed) overwrites the pill: it is written again, at
//! most [`SenderConfig::max_deliveries`] times, and the message wait starts over.
//!
//! # Why `msgwait` proves the node is gone (interval I, tko T, watchdog timeout W)
//!
//! ```text
//! t0              the pill's write completes (it has landed: every read starting later
//!                 sees it)
//! t0 .. t0+I      a healthy node starts a read by then, sees the pill, stops petting and
//!                 acknowledges; it never issues a normal write again
//! t0 + (T−1)·I    latest landing of a normal write issued after a read that started
//!                 before t0: the node pets its watchdog only while a hang would reset it
//!                 before its write deadline, which runs from a write issued before t0
//!                 (see crate::timing), and a write still in flight dies with that reset
//! t0 + I + W      a node that froze (or whose read hung) before reading the pill was last
//!                 petted no later than t0 + I, or before its write deadline: it has been
//!                 reset by t0 + max(I + W, (T−1)·I)
//! ```
//!
//! So the agent waits at least [`min_msgwait`] = max(2·W, W + I, (T−1)·I) (2·W is what SBD
//! requires), by default [`default_msgwait`] = max(2·W + I, T·I), and then reads the slot
//! once more: any normal write that overwrote the pill has landed by then and is seen.
//!
//! # What it rests on, and what it does not cover
//!
//! - The cluster file the agent reads must say what the victim runs: its timing and
//!   whether it arms a watchdog. The agent cannot check the victim's watchdog itself.
//! - An acknowledgement lands just before the victim's self-fence (its completion triggers
//!   it): the victim is gone within its acknowledgement deadline (one interval) if it
//!   runs, or its watchdog timeout if it hangs right then. The simulation checks that
//!   bound; SBD has no such window only because it always waits msgwait.
//! - "Rebooted" needs the boot tag in the incarnation, which qdiskd writes from this version
//!   on. A victim running an older qdiskd (a time-based incarnation) would make a daemon
//!   restart look like a reboot: upgrade every node before relying on the agent.
//! - A victim running Red Hat's qdiskd, or an older qdiskd of ours, reboots on the pill as
//!   on an eviction notice but never acknowledges: only the message wait can succeed, and
//!   only if the cluster file truthfully says it has a watchdog.
//! - The pill may hide the victim's latest writes from a peer (it overwrote them before the
//!   peer read them), so the peer may declare it dead earlier than usual after its real
//!   last write (a cycle earlier, or more for a peer that was not reading). The victim
//!   writes nothing normal once it has read the pill, so this matters only for a write it
//!   had in flight: that one lands after the pill and is seen by the peers and by the
//!   agent (which writes the pill again), and a victim that keeps writing is declared
//!   undead and evicted again by the master. In the simulation's random schedules no
//!   write of a victim landed after an eviction notice.
//! - Like SBD's, a message to a node whose qdiskd is not running (stopped cleanly: its slot
//!   says so) cannot fence it; the agent says so and fails. A node that self-fenced and
//!   came back without starting qdiskd still shows its old acknowledgement, which the
//!   agent takes as "already fenced".

use std::time::Duration;

use crate::format::{NodeState, Pill, StatusBlock};
use crate::ids::{Incarnation, NodeId};
use crate::time::BootTime;
use crate::timing::Timing;

/// The shortest message wait that proves a silent node is gone: max(2·W, W + I, (T−1)·I)
/// for the victim's `timing` and watchdog timeout `watchdog` (see the module documentation).
pub fn min_msgwait(timing: &Timing, watchdog: Duration) -> Duration {
    (watchdog * 2)
        .max(watchdog + timing.interval)
        .max(timing.write_deadline())
}

/// The default message wait: max(2·W + I, T·I), one interval more than the minimum's terms.
pub fn default_msgwait(timing: &Timing, watchdog: Duration) -> Duration {
    (watchdog * 2 + timing.interval).max(timing.write_deadline() + timing.interval)
}

/// How often the sender reads the victim's slot while it waits (one sector each time): a
/// tenth of the victim's interval, between 20 and 100 ms.
pub fn poll_period(timing: &Timing) -> Duration {
    (timing.interval / 10).clamp(Duration::from_millis(20), Duration::from_millis(100))
}

/// The node id a pill names as its writer: `local` (the fencing node's own id) when it has
/// a slot and is not the victim, else the lowest slot that is not the victim's. A pill's
/// writer must be neither 0 nor the victim (readers would not take it as a pill).
pub fn pill_writer(victim: NodeId, local: Option<NodeId>, max_nodes: u32) -> NodeId {
    match local {
        Some(id) if id != victim && (1..=max_nodes).contains(&id.0) => id,
        _ => NodeId(if victim.0 == 1 { 2 } else { 1 }),
    }
}

/// What the sender needs to know.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// The node to fence.
    pub victim: NodeId,
    /// The writer id the pill carries ([`pill_writer`]).
    pub writer: NodeId,
    /// The pill: action and our nonce.
    pub pill: Pill,
    /// How long the slot must stay silent after the pill landed.
    pub msgwait: Duration,
    /// Whether the victim's qdiskd arms a hardware watchdog (its configuration says so);
    /// without one, silence proves nothing.
    pub watchdog: bool,
    /// Time between reads of the slot.
    pub poll: Duration,
    /// How many times the pill may be written in all.
    pub max_deliveries: u32,
    /// How long past the message wait the sender keeps trying to read a slot it cannot read
    /// before it gives up.
    pub read_grace: Duration,
}

/// How the node was fenced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fenced {
    /// It acknowledged our pill.
    Acknowledged {
        /// From the first pill write to the read that saw the acknowledgement.
        after: Duration,
        /// Pill writes in all.
        deliveries: u32,
    },
    /// A new incarnation with a new boot tag wrote its slot: it rebooted.
    Rebooted {
        /// From the first pill write to the read that saw it.
        after: Duration,
    },
    /// The message wait passed with no normal write from it, and it has a watchdog.
    MessageWaitPassed {
        /// From the first pill write to the end.
        after: Duration,
        /// Pill writes in all.
        deliveries: u32,
    },
    /// Its slot already held its acknowledgement of an earlier pill: it fenced itself then,
    /// and no qdiskd of it has written since. Nothing was written.
    AlreadyFenced,
}

impl std::fmt::Display for Fenced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fenced::Acknowledged { after, deliveries } => write!(
                f,
                "acknowledged the poison pill after {:.2} s ({deliveries} write{})",
                after.as_secs_f64(),
                if *deliveries == 1 { "" } else { "s" }
            ),
            Fenced::Rebooted { after } => write!(
                f,
                "rebooted (a new boot wrote its slot) after {:.2} s",
                after.as_secs_f64()
            ),
            Fenced::MessageWaitPassed { after, deliveries } => write!(
                f,
                "silent for the whole message wait, reset by its watchdog ({:.2} s, {deliveries} write{})",
                after.as_secs_f64(),
                if *deliveries == 1 { "" } else { "s" }
            ),
            Fenced::AlreadyFenced => {
                f.write_str("already fenced (its slot holds its acknowledgement of an earlier pill)")
            }
        }
    }
}

/// Why silence does not prove the node is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoProof {
    /// Its qdiskd runs without a hardware watchdog (`watchdog = "none"`).
    NoWatchdog,
    /// Its slot shows its qdiskd stopped cleanly (state None): nothing reads the pill, and
    /// its watchdog was disarmed.
    NotRunning,
}

/// Why the node could not be fenced. Each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotFenced {
    /// The slot was never written by anyone since mkqdisk: nothing on that node reads it.
    #[error("node {victim}'s slot has never been written: its qdiskd has never run against this quorum disk, so it would never read a poison pill (check plug, the node's id in the cluster file and the disk); nothing was written")]
    NeverUsed {
        /// The node.
        victim: NodeId,
    },
    /// Silence proves nothing and the node did not acknowledge in time.
    #[error("node {victim} did not acknowledge the poison pill within {waited:?}, and {}; fence it with another device", match why {
        NoProof::NoWatchdog => "its qdiskd runs without a hardware watchdog (watchdog = \"none\"), so its silence does not prove it stopped",
        NoProof::NotRunning => "its slot shows its qdiskd stopped cleanly, so nothing on it reads the pill",
    })]
    NoAcknowledgement {
        /// The node.
        victim: NodeId,
        /// How long we waited after the last pill.
        waited: Duration,
        /// Why silence is not enough.
        why: NoProof,
    },
    /// The node kept overwriting the pill with normal status writes.
    #[error("node {victim} overwrote the poison pill {deliveries} times with normal status writes: its qdiskd does not act on pills (an older qdiskd?) or another writer interferes; fence it with another device")]
    Overwritten {
        /// The node.
        victim: NodeId,
        /// Pill writes made.
        deliveries: u32,
    },
    /// The slot could not be read.
    #[error("cannot read node {victim}'s slot on the quorum disk: {detail} (check the disk path from this node)")]
    ReadFailed {
        /// The node.
        victim: NodeId,
        /// The error.
        detail: String,
    },
    /// The pill could not be written.
    #[error("cannot write the poison pill into node {victim}'s slot: {detail} (check the disk path from this node)")]
    WriteFailed {
        /// The node.
        victim: NodeId,
        /// The error.
        detail: String,
    },
}

/// An instruction to the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderAction {
    /// Read the victim's slot and report with [`PillSender::handle_read`].
    ReadSlot,
    /// Write this pill into the victim's slot (stamping the wall-clock time) and report
    /// with [`PillSender::handle_write_done`].
    WritePill(StatusBlock),
    /// Done.
    Finish(Result<Fenced, NotFenced>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The first read, to learn the victim's incarnation, is in flight.
    Probing,
    /// A pill write is in flight.
    Writing,
    /// The pill landed at `since`; a read is in flight or due at `next_read`.
    Watching {
        since: BootTime,
        next_read: BootTime,
        reading: bool,
    },
    Done,
}

/// Fences one node through the quorum disk. Inputs: [`PillSender::handle_read`],
/// [`PillSender::handle_write_done`], [`PillSender::handle_timeout`]; outputs:
/// [`PillSender::poll_action`] after every input, then sleep until
/// [`PillSender::poll_timeout`]. The first action is a read of the victim's slot.
#[derive(Debug)]
pub struct PillSender {
    cfg: SenderConfig,
    state: State,
    /// The victim's incarnation the pill is aimed at; `None` while unknown (the slot held
    /// someone else's block when we first read it).
    target: Option<Incarnation>,
    /// The victim's last heartbeat seen, carried unchanged in the pill.
    heartbeat: u64,
    /// Why silence proves nothing, if it does not.
    no_proof: Option<NoProof>,
    deliveries: u32,
    first_write: Option<BootTime>,
    actions: std::collections::VecDeque<SenderAction>,
}

impl PillSender {
    /// A sender for `cfg`; the first action reads the victim's slot.
    pub fn new(cfg: SenderConfig) -> Self {
        let no_proof = (!cfg.watchdog).then_some(NoProof::NoWatchdog);
        let mut actions = std::collections::VecDeque::new();
        actions.push_back(SenderAction::ReadSlot);
        Self {
            cfg,
            state: State::Probing,
            target: None,
            heartbeat: 0,
            no_proof,
            deliveries: 0,
            first_write: None,
            actions,
        }
    }

    /// The next instruction.
    pub fn poll_action(&mut self) -> Option<SenderAction> {
        self.actions.pop_front()
    }

    /// When [`PillSender::handle_timeout`] must be called next (`None`: waiting for I/O or
    /// done).
    pub fn poll_timeout(&self) -> Option<BootTime> {
        match self.state {
            State::Watching {
                next_read,
                reading: false,
                ..
            } => Some(next_read),
            _ => None,
        }
    }

    /// Whether the sender has finished.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The number of pill writes so far.
    pub fn deliveries(&self) -> u32 {
        self.deliveries
    }

    /// Time passed: read the slot when a read is due.
    pub fn handle_timeout(&mut self, now: BootTime) {
        if let State::Watching {
            since,
            next_read,
            reading: false,
        } = self.state
        {
            if now >= next_read {
                self.state = State::Watching {
                    since,
                    next_read,
                    reading: true,
                };
                self.actions.push_back(SenderAction::ReadSlot);
            }
        }
    }

    /// A read of the victim's slot issued at `started` finished at `now`: the block, or why
    /// it could not be read or decoded.
    pub fn handle_read(
        &mut self,
        now: BootTime,
        started: BootTime,
        result: Result<StatusBlock, String>,
    ) {
        match self.state {
            State::Probing => self.probed(now, result),
            State::Watching {
                since,
                reading: true,
                ..
            } => self.watched(now, started, since, result),
            _ => {}
        }
    }

    /// The pill write finished at `now` (`Ok`) or failed.
    pub fn handle_write_done(&mut self, now: BootTime, result: Result<(), String>) {
        if self.state != State::Writing {
            return;
        }
        match result {
            Ok(()) => {
                self.first_write.get_or_insert(now);
                self.state = State::Watching {
                    since: now,
                    next_read: now + self.cfg.poll.min(self.cfg.msgwait),
                    reading: false,
                };
            }
            Err(detail) => self.finish(Err(NotFenced::WriteFailed {
                victim: self.cfg.victim,
                detail,
            })),
        }
    }

    fn probed(&mut self, now: BootTime, result: Result<StatusBlock, String>) {
        let block = match result {
            Ok(block) => block,
            Err(detail) => {
                return self.finish(Err(NotFenced::ReadFailed {
                    victim: self.cfg.victim,
                    detail,
                }))
            }
        };
        if block.updated_by == 0 {
            return self.finish(Err(NotFenced::NeverUsed {
                victim: self.cfg.victim,
            }));
        }
        if block.is_pill_ack() {
            return self.finish(Ok(Fenced::AlreadyFenced));
        }
        self.heartbeat = block.heartbeat;
        if block.updated_by == self.cfg.victim.0 {
            self.target = Some(block.incarnation);
            if block.state == NodeState::None {
                self.no_proof = Some(NoProof::NotRunning);
            }
        }
        self.deliver(now);
    }

    fn watched(
        &mut self,
        now: BootTime,
        started: BootTime,
        since: BootTime,
        result: Result<StatusBlock, String>,
    ) {
        let deadline = since + self.cfg.msgwait;
        let block = match result {
            Ok(block) => block,
            Err(detail) => {
                if now > deadline + self.cfg.read_grace {
                    return self.finish(Err(NotFenced::ReadFailed {
                        victim: self.cfg.victim,
                        detail,
                    }));
                }
                return self.schedule_read(now, since);
            }
        };
        let from = self.first_write.unwrap_or(since);
        if block.updated_by == self.cfg.victim.0 {
            if let Some(pill) = block.as_pill_ack() {
                if pill.nonce == self.cfg.pill.nonce {
                    return self.finish(Ok(Fenced::Acknowledged {
                        after: now.since(from),
                        deliveries: self.deliveries,
                    }));
                }
                // Another sender's pill was acknowledged: not a normal write; wait on.
            } else {
                let rebooted = self.target.is_some_and(|t| {
                    t != block.incarnation
                        && t.boot_tag() != 0
                        && block.incarnation.boot_tag() != 0
                        && t.boot_tag() != block.incarnation.boot_tag()
                });
                if rebooted {
                    return self.finish(Ok(Fenced::Rebooted {
                        after: now.since(from),
                    }));
                }
                // Our pill was overwritten (a write in flight, a read that started before
                // it landed, a daemon restart without a reboot): write it again.
                self.target = Some(block.incarnation);
                self.heartbeat = block.heartbeat;
                self.no_proof = match (block.state, self.cfg.watchdog) {
                    (NodeState::None, _) => Some(NoProof::NotRunning),
                    (_, false) => Some(NoProof::NoWatchdog),
                    (_, true) => None,
                };
                if self.deliveries >= self.cfg.max_deliveries {
                    return self.finish(Err(NotFenced::Overwritten {
                        victim: self.cfg.victim,
                        deliveries: self.deliveries,
                    }));
                }
                return self.deliver(now);
            }
        }
        if started >= deadline {
            return self.finish(match self.no_proof {
                None => Ok(Fenced::MessageWaitPassed {
                    after: now.since(from),
                    deliveries: self.deliveries,
                }),
                Some(why) => Err(NotFenced::NoAcknowledgement {
                    victim: self.cfg.victim,
                    waited: now.since(since),
                    why,
                }),
            });
        }
        self.schedule_read(now, since);
    }

    fn schedule_read(&mut self, now: BootTime, since: BootTime) {
        let deadline = since + self.cfg.msgwait;
        let next_read = if now < deadline {
            (now + self.cfg.poll).min(deadline)
        } else {
            now + self.cfg.poll
        };
        self.state = State::Watching {
            since,
            next_read,
            reading: false,
        };
    }

    fn deliver(&mut self, _now: BootTime) {
        self.deliveries += 1;
        self.state = State::Writing;
        let block = StatusBlock::pill(
            self.cfg.victim,
            self.cfg.writer,
            self.target.unwrap_or_default(),
            self.heartbeat,
            self.cfg.pill,
        );
        self.actions.push_back(SenderAction::WritePill(block));
    }

    fn finish(&mut self, result: Result<Fenced, NotFenced>) {
        self.state = State::Done;
        self.actions.push_back(SenderAction::Finish(result));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::PillAction;
    use crate::timing::TimingRequest;

    const VICTIM: NodeId = NodeId(3);
    const PILL: Pill = Pill {
        action: PillAction::Reboot,
        nonce: 42,
    };

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn at(ms_: u64) -> BootTime {
        BootTime(ms(ms_))
    }

    fn config(watchdog: bool) -> SenderConfig {
        SenderConfig {
            victim: VICTIM,
            writer: NodeId(1),
            pill: PILL,
            msgwait: ms(2250),
            watchdog,
            poll: ms(50),
            max_deliveries: 3,
            read_grace: ms(1000),
        }
    }

    fn running(incarnation: u64, heartbeat: u64) -> StatusBlock {
        StatusBlock {
            node: VICTIM,
            updated_by: VICTIM.0,
            state: NodeState::Running,
            incarnation: Incarnation(incarnation),
            heartbeat,
            ..StatusBlock::default()
        }
    }

    fn drain(s: &mut PillSender) -> Vec<SenderAction> {
        std::iter::from_fn(|| s.poll_action()).collect()
    }

    /// Probes with `first` at t=0 and completes the pill write at t=10 ms.
    fn delivered(cfg: SenderConfig, first: StatusBlock) -> PillSender {
        let mut s = PillSender::new(cfg);
        assert_eq!(drain(&mut s), vec![SenderAction::ReadSlot]);
        s.handle_read(at(0), at(0), Ok(first));
        let actions = drain(&mut s);
        assert!(
            matches!(&actions[..], [SenderAction::WritePill(b)] if b.as_pill() == Some(PILL)),
            "{actions:?}"
        );
        s.handle_write_done(at(10), Ok(()));
        s
    }

    /// Reads `block` whenever a read is due, until `until_ms`; returns the finish.
    fn watch_until(
        s: &mut PillSender,
        until_ms: u64,
        mut block: impl FnMut(u64) -> StatusBlock,
    ) -> Option<Result<Fenced, NotFenced>> {
        while let Some(t) = s.poll_timeout() {
            let now = t.0.as_millis() as u64;
            if now > until_ms {
                return None;
            }
            s.handle_timeout(t);
            for a in drain(s) {
                match a {
                    SenderAction::ReadSlot => s.handle_read(t, t, Ok(block(now))),
                    other => panic!("unexpected {other:?}"),
                }
            }
            for a in drain(s) {
                match a {
                    SenderAction::Finish(r) => return Some(r),
                    SenderAction::WritePill(_) => s.handle_write_done(t, Ok(())),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        None
    }

    #[test]
    fn an_acknowledgement_with_our_nonce_finishes_at_once() {
        let mut s = delivered(config(true), running(7, 100));
        let pill = StatusBlock::pill(VICTIM, NodeId(1), Incarnation(7), 100, PILL);
        let ack = StatusBlock::pill_ack(VICTIM, Incarnation(7), 101, PILL);
        let r = watch_until(&mut s, 10_000, |t| {
            if t < 300 {
                pill.clone()
            } else {
                ack.clone()
            }
        });
        assert!(
            matches!(r, Some(Ok(Fenced::Acknowledged { after, deliveries: 1 })) if after < ms(400)),
            "{r:?}"
        );
    }

    #[test]
    fn silence_succeeds_only_after_the_message_wait_and_only_with_a_watchdog() {
        let pill = StatusBlock::pill(VICTIM, NodeId(1), Incarnation(7), 100, PILL);
        let mut s = delivered(config(true), running(7, 100));
        let r = watch_until(&mut s, 10_000, |_| pill.clone());
        match r {
            Some(Ok(Fenced::MessageWaitPassed { after, .. })) => {
                assert!(after >= ms(2250), "{after:?}")
            }
            other => panic!("{other:?}"),
        }
        let mut s = delivered(config(false), running(7, 100));
        let r = watch_until(&mut s, 10_000, |_| pill.clone());
        assert!(
            matches!(
                &r,
                Some(Err(NotFenced::NoAcknowledgement {
                    why: NoProof::NoWatchdog,
                    ..
                }))
            ),
            "{r:?}"
        );
        let text = r
            .and_then(|r| r.err())
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(text.contains("another device"), "{text}");
    }

    #[test]
    fn an_overwritten_pill_is_written_again_and_the_wait_starts_over() {
        let mut s = delivered(config(true), running(7, 100));
        let pill = StatusBlock::pill(VICTIM, NodeId(1), Incarnation(7), 101, PILL);
        let mut writes = 0;
        // The victim's in-flight write lands at 100 ms; the re-sent pill stays.
        let r = watch_until(&mut s, 10_000, |t| {
            if (100..150).contains(&t) {
                writes += 1;
                running(7, 101)
            } else {
                pill.clone()
            }
        });
        assert_eq!(writes, 1);
        match r {
            Some(Ok(Fenced::MessageWaitPassed { after, deliveries })) => {
                assert_eq!(deliveries, 2);
                assert!(after >= ms(100 + 2250), "{after:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.deliveries(), 2);
    }

    #[test]
    fn a_victim_that_keeps_overwriting_fails_after_the_bounded_deliveries() {
        let mut s = delivered(config(true), running(7, 100));
        let mut hb = 100;
        let r = watch_until(&mut s, 60_000, |_| {
            hb += 1;
            running(7, hb)
        });
        assert_eq!(
            r,
            Some(Err(NotFenced::Overwritten {
                victim: VICTIM,
                deliveries: 3
            }))
        );
    }

    #[test]
    fn a_new_boot_is_a_reboot_but_a_restart_in_the_same_boot_gets_the_pill_again() {
        let old = Incarnation::from_boot(0xAAAA, 1000);
        let same_boot = Incarnation::from_boot(0xAAAA, 9000);
        let new_boot = Incarnation::from_boot(0xBBBB, 500);
        let mut s = delivered(config(true), running(old.0, 5));
        let r = watch_until(&mut s, 10_000, |_| running(new_boot.0, 1));
        assert!(matches!(r, Some(Ok(Fenced::Rebooted { .. }))), "{r:?}");

        let mut s = delivered(config(true), running(old.0, 5));
        let pill = StatusBlock::pill(VICTIM, NodeId(1), same_boot, 1, PILL);
        let r = watch_until(&mut s, 10_000, |t| {
            if t < 100 {
                running(same_boot.0, 1)
            } else {
                pill.clone()
            }
        });
        assert!(
            matches!(r, Some(Ok(Fenced::MessageWaitPassed { deliveries: 2, .. }))),
            "{r:?}"
        );
    }

    #[test]
    fn unused_stopped_and_already_fenced_slots_are_told_apart() {
        let mut s = PillSender::new(config(true));
        drain(&mut s);
        s.handle_read(at(0), at(0), Ok(StatusBlock::initial(VICTIM, 0)));
        assert_eq!(
            drain(&mut s),
            vec![SenderAction::Finish(Err(NotFenced::NeverUsed {
                victim: VICTIM
            }))],
            "nothing is written into an unused slot"
        );

        let mut s = PillSender::new(config(true));
        drain(&mut s);
        let ack = StatusBlock::pill_ack(
            VICTIM,
            Incarnation(7),
            3,
            Pill {
                action: PillAction::Off,
                nonce: 1,
            },
        );
        s.handle_read(at(0), at(0), Ok(ack));
        assert_eq!(
            drain(&mut s),
            vec![SenderAction::Finish(Ok(Fenced::AlreadyFenced))]
        );

        // Stopped cleanly: the pill goes out, but silence proves nothing.
        let stopped = StatusBlock {
            state: NodeState::None,
            ..running(7, 9)
        };
        let pill = StatusBlock::pill(VICTIM, NodeId(1), Incarnation(7), 9, PILL);
        let mut s = delivered(config(true), stopped);
        let r = watch_until(&mut s, 10_000, |_| pill.clone());
        assert!(
            matches!(
                r,
                Some(Err(NotFenced::NoAcknowledgement {
                    why: NoProof::NotRunning,
                    ..
                }))
            ),
            "{r:?}"
        );
    }

    #[test]
    fn read_errors_are_retried_until_the_grace_runs_out() {
        let mut s = delivered(config(true), running(7, 100));
        let mut result = None;
        while let Some(t) = s.poll_timeout() {
            s.handle_timeout(t);
            for a in drain(&mut s) {
                if a == SenderAction::ReadSlot {
                    s.handle_read(t, t, Err("EIO".into()));
                }
            }
            if let Some(SenderAction::Finish(r)) = s.poll_action() {
                result = Some((t, r));
                break;
            }
        }
        let (t, r) = result.expect("finished");
        assert!(matches!(r, Err(NotFenced::ReadFailed { .. })), "{r:?}");
        assert!(t.0 > ms(10 + 2250 + 1000), "{t:?}");
    }

    #[test]
    fn msgwait_bounds_follow_the_timing() {
        let t = Timing::resolve(
            TimingRequest {
                interval: Some(ms(250)),
                tko: Some(8),
                ..TimingRequest::default()
            },
            Duration::from_secs(5),
            true,
        )
        .expect("timing");
        let w = t.watchdog_timeout(None).expect("watchdog");
        assert_eq!(w, Duration::from_secs(1));
        assert_eq!(min_msgwait(&t, w), Duration::from_secs(2));
        assert_eq!(default_msgwait(&t, w), ms(2250));
        // A watchdog much shorter than the write deadline: the deadline decides.
        let t = Timing::resolve(
            TimingRequest {
                interval: Some(Duration::from_secs(1)),
                tko: Some(14),
                ..TimingRequest::default()
            },
            Duration::from_secs(30),
            false,
        )
        .expect("timing");
        assert_eq!(
            min_msgwait(&t, Duration::from_secs(1)),
            Duration::from_secs(13)
        );
        assert_eq!(
            default_msgwait(&t, Duration::from_secs(1)),
            Duration::from_secs(14)
        );
        assert_eq!(poll_period(&t), ms(100));
        assert_eq!(pill_writer(NodeId(1), Some(NodeId(1)), 16), NodeId(2));
        assert_eq!(pill_writer(NodeId(3), None, 16), NodeId(1));
        assert_eq!(pill_writer(NodeId(3), Some(NodeId(5)), 16), NodeId(5));
        assert_eq!(pill_writer(NodeId(3), Some(NodeId(40)), 16), NodeId(1));
    }
}
