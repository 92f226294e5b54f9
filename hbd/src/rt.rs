//! Real-time scheduling for every thread that must not stall.
//!
//! `realtime on` (heartbeat's default) runs hbd at SCHED_RR `rtprio`. A scheduling class
//! belongs to a thread, and threads started after it is set fall back to the normal class
//! (`SCHED_RESET_ON_FORK`, so resource agents never inherit it): so the daemon decides once
//! ([`configure`], before any thread starts) and every thread on the heartbeat path — the
//! main loop, media readers and writers, the packet forwarder, ping replies, qdiskd polls,
//! what fenced is told — enters the class itself ([`enter`]). Threads that run resource
//! agents and fence requests stay in the normal class.

use std::sync::OnceLock;

static PRIORITY: OnceLock<Option<i32>> = OnceLock::new();

/// Records the real-time priority every [`enter`]ing thread takes (`None`: normal
/// scheduling). Only the first call counts.
pub fn configure(priority: Option<i32>) {
    let _ = PRIORITY.set(priority);
}

/// Puts the calling thread in the configured real-time class, if any. A failure is a
/// warning, as in heartbeat: the thread runs on with normal scheduling.
pub fn enter(thread: &str) {
    let Some(Some(priority)) = PRIORITY.get() else {
        return;
    };
    if let Err(e) = plumbing::rt::set_scheduler(plumbing::rt::Scheduler::Rr, *priority) {
        tracing::warn!("{thread}: {e}; continuing with the normal scheduler");
    }
}
