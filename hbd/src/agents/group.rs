//! Group operations, heartbeat's `ResourceManager` `takegroup`/`givegroup`/`statgroup`.
//!
//! The sequencing is written against [`Executor`] (run one operation on resource `i`, pause)
//! so it runs the same over real agents ([`super::Agents`]) and over scripted outcomes in
//! tests. The rules:
//! - **start** left to right; a resource whose status already says running is skipped. On a
//!   start failure the whole group is stopped right to left, as heartbeat does (resources
//!   after the failed one were not started by us but may have been running already, and a
//!   group given up must keep nothing running), and [`GroupOutcome::StartFailed`] is
//!   reported: the caller moves the group elsewhere, as
//!   heartbeat's `hb_standby` does 30 s later.
//! - **stop** right to left; a stop that fails is retried `retries` times `interval` apart
//!   (heartbeat: 10 × 1 s). A stop that timed out is not retried: the agent hangs, and each
//!   retry would delay fencing by a whole timeout. When the stop still fails, status
//!   decides: stopped (or no agent installed) → a warning, heartbeat's "probably not
//!   LSB-compliant", and the stop goes on; running, or no clear answer →
//!   [`GroupOutcome::StopFailed`] at once, and the caller must fence this node (heartbeat
//!   rebooted). A group is never reported stopped while one of its resources may run.

use std::time::Duration;

use super::outcome::{Op, Outcome};

/// Runs operations on the resources of one group, by position.
pub trait Executor {
    /// Runs `op` on resource `index` (0 = leftmost).
    fn execute(&mut self, index: usize, op: Op) -> Outcome;
    /// Waits `d` (between stop retries).
    fn pause(&mut self, d: Duration);
}

/// How failed stops are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Pause before each retry.
    pub interval: Duration,
}

impl Default for StopPolicy {
    /// Heartbeat's `HA_STOPRETRYMAX=10`, 1 s apart.
    fn default() -> Self {
        StopPolicy {
            retries: 10,
            interval: Duration::from_secs(1),
        }
    }
}

/// One operation run during a group operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The resource's position in the group.
    pub index: usize,
    /// The operation.
    pub op: Op,
    /// Its outcome.
    pub outcome: Outcome,
}

/// The end state of a group operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupOutcome {
    /// Every resource runs; `skipped` already ran before (status said running).
    Started {
        /// Positions of resources that were already running and not started again.
        skipped: Vec<usize>,
    },
    /// Every resource is stopped.
    Stopped,
    /// Resource `index` failed to start; the whole group was stopped again.
    StartFailed {
        /// The resource that failed.
        index: usize,
        /// Its start outcome.
        outcome: Outcome,
    },
    /// Resource `index` could not be stopped and may still run: fence this node.
    /// Resources left of it were not stopped.
    StopFailed {
        /// The resource that would not stop.
        index: usize,
        /// Its last stop outcome.
        outcome: Outcome,
        /// The start failure whose clean-up this was, if any.
        start_failure: Option<(usize, Outcome)>,
    },
}

impl GroupOutcome {
    /// Whether the node must be fenced because a resource may still be running.
    pub fn needs_fencing(&self) -> bool {
        matches!(self, GroupOutcome::StopFailed { .. })
    }
}

/// A group operation's end state and every step taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupReport {
    /// How it ended.
    pub outcome: GroupOutcome,
    /// The operations run, in order.
    pub steps: Vec<Step>,
}

/// How much of a group runs (heartbeat's `statgroup`: ALL/SOME/NONE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Every resource runs.
    All,
    /// Some run, some do not, or some could not tell.
    Some,
    /// None runs.
    None,
}

/// The status of each resource of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    /// Per resource, left to right: the status outcome.
    pub resources: Vec<Outcome>,
}

impl GroupStatus {
    /// ALL/SOME/NONE; a resource whose status gave no clear answer counts as neither.
    pub fn held(&self) -> Held {
        let running = self
            .resources
            .iter()
            .filter(|o| **o == Outcome::Running)
            .count();
        let stopped = self
            .resources
            .iter()
            .filter(|o| **o == Outcome::Stopped)
            .count();
        if running == self.resources.len() {
            Held::All
        } else if stopped == self.resources.len() {
            Held::None
        } else {
            Held::Some
        }
    }

    /// Positions of resources that are not running: stopped (the service died), or whose
    /// status failed, timed out or could not run. For a group that should be running,
    /// every one of them is a monitor failure.
    pub fn not_running(&self) -> Vec<usize> {
        self.resources
            .iter()
            .enumerate()
            .filter(|(_, o)| **o != Outcome::Running)
            .map(|(i, _)| i)
            .collect()
    }
}

/// Starts resources `0..len` left to right (see the module doc).
pub fn start_group(exec: &mut impl Executor, len: usize, policy: StopPolicy) -> GroupReport {
    let mut steps = Vec::new();
    let mut skipped = Vec::new();
    for index in 0..len {
        let status = run(exec, &mut steps, index, Op::Status);
        if status == Outcome::Running {
            skipped.push(index);
            continue;
        }
        let outcome = run(exec, &mut steps, index, Op::Start);
        if outcome == Outcome::Running {
            continue;
        }
        tracing::error!(index, %outcome, "Giving up resources due to failure of resource {index}");
        let outcome = match stop_range(exec, &mut steps, len, policy) {
            Ok(()) => GroupOutcome::StartFailed { index, outcome },
            Err((stop_index, stop_outcome)) => GroupOutcome::StopFailed {
                index: stop_index,
                outcome: stop_outcome,
                start_failure: Some((index, outcome)),
            },
        };
        return GroupReport { outcome, steps };
    }
    GroupReport {
        outcome: GroupOutcome::Started { skipped },
        steps,
    }
}

/// Stops resources `0..len` right to left (see the module doc).
pub fn stop_group(exec: &mut impl Executor, len: usize, policy: StopPolicy) -> GroupReport {
    let mut steps = Vec::new();
    let outcome = match stop_range(exec, &mut steps, len, policy) {
        Ok(()) => GroupOutcome::Stopped,
        Err((index, outcome)) => GroupOutcome::StopFailed {
            index,
            outcome,
            start_failure: None,
        },
    };
    GroupReport { outcome, steps }
}

/// Status of resources `0..len`, left to right.
pub fn monitor_group(exec: &mut impl Executor, len: usize) -> GroupStatus {
    GroupStatus {
        resources: (0..len).map(|i| exec.execute(i, Op::Status)).collect(),
    }
}

fn run(exec: &mut impl Executor, steps: &mut Vec<Step>, index: usize, op: Op) -> Outcome {
    let outcome = exec.execute(index, op);
    steps.push(Step {
        index,
        op,
        outcome: outcome.clone(),
    });
    outcome
}

/// Stops `end-1` down to 0; the error is the resource that may still run.
fn stop_range(
    exec: &mut impl Executor,
    steps: &mut Vec<Step>,
    end: usize,
    policy: StopPolicy,
) -> Result<(), (usize, Outcome)> {
    for index in (0..end).rev() {
        stop_one(exec, steps, index, policy)?;
    }
    Ok(())
}

fn stop_one(
    exec: &mut impl Executor,
    steps: &mut Vec<Step>,
    index: usize,
    policy: StopPolicy,
) -> Result<(), (usize, Outcome)> {
    let mut outcome = run(exec, steps, index, Op::Stop);
    let mut retries = 0;
    while outcome != Outcome::Stopped
        && retries < policy.retries
        && matches!(outcome, Outcome::Failed { .. })
    {
        exec.pause(policy.interval);
        retries += 1;
        tracing::info!(index, retries, "Retrying failed stop operation");
        outcome = run(exec, steps, index, Op::Stop);
    }
    if outcome == Outcome::Stopped {
        return Ok(());
    }
    match run(exec, steps, index, Op::Status) {
        Outcome::Stopped | Outcome::NotInstalled { .. } => {
            tracing::warn!(
                index,
                %outcome,
                "stop failed but status says stopped: the agent is probably not LSB-compliant \
                 (a stop must succeed when already stopped)"
            );
            Ok(())
        }
        status => {
            tracing::error!(index, %outcome, %status, "Resource STOP failure: fencing required");
            Err((index, outcome))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_monitor_counts_a_stopped_resource_as_not_running() {
        // Found in the lab: a killed web service reported "stopped" and the monitor
        // called the group healthy, so it was never restarted.
        let s = GroupStatus {
            resources: vec![
                Outcome::Running,
                Outcome::Stopped,
                Outcome::Failed {
                    code: 1,
                    stderr: String::new(),
                },
            ],
        };
        assert_eq!(s.not_running(), [1, 2]);
        let healthy = GroupStatus {
            resources: vec![Outcome::Running, Outcome::Running],
        };
        assert!(healthy.not_running().is_empty());
    }
}
