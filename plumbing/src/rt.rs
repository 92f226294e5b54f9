//! Locked memory and real-time scheduling, as Red Hat's qdiskd and heartbeat do (rr,
//! priority 1): for qdiskd's cycle and hbd's heartbeat path.

use serde::Deserialize;

/// Real-time scheduling class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheduler {
    /// SCHED_RR (Red Hat's default).
    Rr,
    /// SCHED_FIFO.
    Fifo,
    /// SCHED_OTHER (priority is a nice value).
    Other,
}

/// Locks current and future memory so a paging storm cannot stall the daemon.
pub fn lock_memory() -> Result<(), String> {
    rustix::mm::mlockall(rustix::mm::MlockAllFlags::CURRENT | rustix::mm::MlockAllFlags::FUTURE)
        .map_err(|e| format!("mlockall: {e}"))
}

/// Sets the scheduling class of the calling thread. Children (heuristics, resource agents)
/// fall back to the normal class (`SCHED_RESET_ON_FORK`).
#[allow(unsafe_code)]
pub fn set_scheduler(scheduler: Scheduler, priority: i32) -> Result<(), String> {
    let policy = match scheduler {
        Scheduler::Rr => libc::SCHED_RR,
        Scheduler::Fifo => libc::SCHED_FIFO,
        Scheduler::Other => {
            return rustix::process::setpriority_process(None, priority)
                .map_err(|e| format!("setpriority: {e}"));
        }
    };
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: sched_setscheduler reads `param` for the duration of the call only; pid 0 is
    // the calling thread; no memory is shared.
    let rc = unsafe { libc::sched_setscheduler(0, policy | libc::SCHED_RESET_ON_FORK, &param) };
    if rc != 0 {
        return Err(format!(
            "sched_setscheduler: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
