//! Fencing without the daemon: what `fence_node` does when fenced is not running. The same
//! queue core walks the same levels; device calls run one after the other in this thread.
//! Requests are an administrator's, so no quorum gate and no delays apply.

use crate::agent;
use crate::config::FencedConfig;
use crate::history::{FenceAction, Origin, Record};
use crate::queue::{Action, FenceQueue, QueueEvent, RequestError};
use crate::topology::NodeName;

/// Progress of a direct operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A device is being called.
    Calling {
        /// Level (0 = unfence list).
        level: u8,
        /// Device.
        device: String,
        /// Action.
        action: &'static str,
    },
    /// It answered.
    Answered {
        /// Device.
        device: String,
        /// `None` = success.
        error: Option<String>,
    },
    /// Something else worth telling.
    Note(String),
}

/// Fences (or unfences) `target` now. Gives up (returns the last failure) after
/// `max_rounds` rounds of the whole topology instead of retrying forever as the daemon does.
pub fn run(
    config: &FencedConfig,
    target: &str,
    action: FenceAction,
    who: &str,
    max_rounds: u32,
    progress: &mut dyn FnMut(Progress),
) -> Result<Record, String> {
    let mut qc = config.queue_config(1);
    qc.backoff_initial = std::time::Duration::from_secs(1);
    let mut queue = FenceQueue::new(qc);
    let mut now = crate::daemon::boot_now();
    queue.handle_quorum(now, true);
    queue
        .handle_request(
            now,
            NodeName(target.into()),
            action,
            Origin::Admin(who.into()),
        )
        .map_err(|e: RequestError| e.to_string())?;
    loop {
        while let Some(a) = queue.poll_action() {
            match a {
                Action::Run(call) => {
                    let device = config
                        .devices
                        .get(&call.device)
                        .ok_or_else(|| format!("no device {}", call.device))?;
                    let action = agent::action_name(call.action);
                    progress(Progress::Calling {
                        level: call.level,
                        device: call.device.0.clone(),
                        action,
                    });
                    let result = agent::run(device, &call.target, &call.args, action);
                    progress(Progress::Answered {
                        device: call.device.0.clone(),
                        error: result.clone().err(),
                    });
                    now = crate::daemon::boot_now();
                    queue.handle_result(now, call.call, result);
                }
                Action::Finished(record) => return Ok(record),
                Action::Event(QueueEvent::BackingOff(n, round, d)) => {
                    if round > max_rounds {
                        return Err(format!(
                            "every fence level of {n} failed {max_rounds} times; giving up"
                        ));
                    }
                    progress(Progress::Note(format!(
                        "every level of {n} failed; round {round} in {d:?}"
                    )));
                }
                Action::Event(QueueEvent::LevelFailed(n, l)) => {
                    progress(Progress::Note(format!("level {l} of {n} failed")))
                }
                Action::Event(_) => {}
            }
        }
        match queue.poll_timeout() {
            Some(t) => {
                std::thread::sleep(t.since(crate::daemon::boot_now()));
                now = crate::daemon::boot_now();
                queue.handle_timeout(now);
            }
            None => {
                if queue.ops().is_empty() {
                    return Err("the operation ended without a result".into());
                }
                return Err(format!("{target} cannot be fenced: it has no fence levels; acknowledge it with fence_tool ack once it is verified down"));
            }
        }
    }
}
