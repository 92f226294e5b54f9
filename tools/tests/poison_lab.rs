//! `fence_qd_poison` for real: three lab nodes run qdiskd with the lab's hardware watchdogs
//! (self-fence `kill-cgroup`) on the shared disk; the agent runs in the test process, reads
//! and writes the disk through node 1's path, and is called with `name=value` lines on
//! stdin as fenced and Pacemaker call it. Needs root.

mod common;
#[path = "common/poison.rs"]
mod poison;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lab::{DiskFault, Power};
use poison::{reported_seconds, PoisonLab, QdiskSettings};
use qdisk::format::{NodeState, PillAction};

const AGENT: &str = env!("CARGO_BIN_EXE_fence_qd_poison");
/// Generous: a fence on these timings takes at most a few seconds.
const LIMIT: Duration = Duration::from_secs(60);

fn agent() -> PathBuf {
    PathBuf::from(AGENT)
}

fn start() -> PoisonLab {
    let qdiskd = common::bins::sibling("qdisk", "qdiskd");
    let lab = PoisonLab::start(3, &qdiskd, QdiskSettings::fast());
    lab.wait_running();
    lab
}

/// The default message wait on the fast settings: 2 × 1 s + 250 ms.
const MSGWAIT: Duration = Duration::from_millis(2250);

#[test]
fn a_live_node_acknowledges_the_pill_and_its_processes_are_gone() {
    let q = start();
    let node3 = q.lab.node(3);
    assert!(!node3.pids().is_empty());
    let run = q.agent(&agent(), "action=off\nplug=node3\n", LIMIT);
    assert_eq!(run.code, 0, "{run:?}\n{}", q.logs());
    assert!(
        run.stdout
            .starts_with("Success: node3 acknowledged the poison pill"),
        "{run:?}"
    );
    // The acknowledgement is in its slot (before the master's eviction notice replaces it,
    // (tko+1) intervals later), written by node 3 itself.
    let slot = q.slot(2, 3).expect("node 3's slot");
    if slot.updated_by == 3 {
        let ack = slot.as_pill_ack().expect("an acknowledgement");
        assert_eq!(ack.action, PillAction::Off);
        assert_eq!(slot.state, NodeState::Evicted);
    } else {
        assert_eq!(slot.state, NodeState::Evicted, "{slot:?}");
    }
    lab::wait::wait_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        "node 3's processes are gone",
        || node3.pids().is_empty(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", q.logs()));
    let log = q.log(3);
    assert!(
        log.contains("SELF-FENCE: poison pill (off") && log.contains("acknowledged"),
        "{log}"
    );
    // The others go on and see it dead; nobody else was fenced.
    for i in [1, 2] {
        assert!(!q.lab.node(i).pids().is_empty(), "node {i} runs");
    }
    // Now it is off: status says so (exit 2).
    let status = q.agent(&agent(), "action=status\nplug=node3\n", LIMIT);
    assert_eq!(status.code, 2, "{status:?}");
    assert!(status.stdout.contains("Status: OFF"), "{status:?}");
}

#[test]
fn a_live_node_on_a_red_hat_layout_disk_acknowledges_too() {
    // The pill's marks (flags, message) are fields Red Hat's 80-byte block has too.
    let qdiskd = common::bins::sibling("qdisk", "qdiskd");
    let q = PoisonLab::start(3, &qdiskd, QdiskSettings::red_hat());
    q.wait_running();
    let run = q.agent(&agent(), "action=reboot\nplug=node2\n", LIMIT);
    assert_eq!(run.code, 0, "{run:?}\n{}", q.logs());
    assert!(
        run.stdout
            .starts_with("Success: node2 acknowledged the poison pill"),
        "{run:?}"
    );
    lab::wait::wait_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        "node 2's processes are gone",
        || q.lab.node(2).pids().is_empty(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", q.logs()));
    assert!(
        q.log(2).contains("SELF-FENCE: poison pill (reboot"),
        "{}",
        q.log(2)
    );
}

#[test]
fn a_frozen_node_is_reset_by_its_watchdog_and_the_agent_returns_after_the_message_wait() {
    let q = start();
    let pid = q.qdiskd_pid(3);
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).expect("pid"),
        rustix::process::Signal::STOP,
    )
    .expect("SIGSTOP qdiskd");
    let frozen = Instant::now();
    let run = q.agent(&agent(), "action=reboot\nplug=node3\n", LIMIT);
    assert_eq!(run.code, 0, "{run:?}\n{}", q.logs());
    assert!(
        run.stdout.contains("silent for the whole message wait"),
        "{run:?}"
    );
    // Measured by the agent from its pill write, and from outside from its start.
    let reported = reported_seconds(&run.stdout).expect("seconds in the success line");
    assert!(reported >= MSGWAIT.as_secs_f64(), "{run:?}");
    assert!(run.took >= MSGWAIT, "{run:?}");
    // Its watchdog reset it before the agent said so.
    let watchdog = q.lab.watchdog(3).expect("watchdog");
    let expiry = watchdog
        .wait_for_expiry(1, Duration::from_secs(1))
        .expect("node 3's watchdog expired");
    assert!(expiry.deadline <= frozen + run.took, "{expiry:?}");
    watchdog
        .wait_for_expiry_handled(1, Duration::from_secs(20))
        .expect("reset handled");
    assert_eq!(q.lab.node(3).power().expect("power"), Power::Off);
}

#[test]
fn a_node_whose_disk_path_fails_fences_itself_and_the_agent_succeeds() {
    let q = start();
    let disk = q.lab.disk().expect("disk");
    disk.set_fault(3, DiskFault::Fail)
        .expect("fail node 3's path");
    let run = q.agent(&agent(), "action=off\nplug=node3\n", LIMIT);
    assert_eq!(run.code, 0, "{run:?}\n{}", q.logs());
    // It cannot read the pill, so no acknowledgement: the message wait proves it.
    assert!(
        run.stdout.contains("silent for the whole message wait") || run.stdout.contains("rebooted"),
        "{run:?}"
    );
    assert!(run.took >= MSGWAIT, "{run:?}");
    assert!(q.lab.node(3).pids().is_empty(), "node 3 runs nothing");
    let log = q.log(3);
    assert!(
        log.contains("SELF-FENCE: no status write completed")
            || q.lab.watchdog(3).expect("watchdog").expiries().len() == 1,
        "it fenced itself or was reset: {log}"
    );
    // Our pill is still in its slot (node 3 never wrote again), or the master's notice.
    let slot = q.slot(1, 3).expect("slot");
    assert_ne!(slot.updated_by, 3, "{slot:?}");
    disk.set_fault(3, DiskFault::Healthy).expect("heal");
}

#[test]
fn unknown_and_never_used_nodes_are_refused_and_nothing_is_written() {
    let q = start();
    let run = q.agent(&agent(), "action=off\nplug=node9\n", LIMIT);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("\"node9\" is not a [[node]] of")
            && run.stderr.contains("node1, node2, node3, node4"),
        "{run:?}"
    );
    // node4 is in the cluster file but never ran: its slot was never written.
    let run = q.agent(&agent(), "action=off\nplug=node4\n", LIMIT);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("node 4's slot has never been written")
            && run.stderr.contains("nothing was written"),
        "{run:?}"
    );
    let slot = q.slot(2, 4).expect("slot 4");
    assert_eq!(slot.updated_by, 0, "untouched: {slot:?}");
    assert_eq!(slot.flags, 0);
    // No plug at all: named.
    let run = q.agent(&agent(), "action=off\n", LIMIT);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("plug"), "{run:?}");
    // A message wait too short to prove anything is refused before anything is written.
    let run = q.agent(&agent(), "action=off\nplug=node2\nmsgwait=1\n", LIMIT);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("at least 2 s"), "{run:?}");
    assert_eq!(q.slot(1, 2).expect("slot 2").updated_by, 2);
    // Nobody was fenced by any of this.
    for i in 1..=3 {
        assert!(!q.lab.node(i).pids().is_empty(), "node {i} runs");
    }
}

#[test]
fn metadata_list_status_and_monitor() {
    let run = poison::run_agent(&agent(), "action=metadata\n", LIMIT);
    assert_eq!(run.code, 0, "{run:?}");
    common::metadata::assert_valid("fence_qd_poison", run.stdout.as_bytes());
    for action in ["off", "reboot", "status", "list", "monitor", "metadata"] {
        assert!(
            run.stdout.contains(&format!("<action name=\"{action}\"")),
            "{action}: {}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains("<action name=\"on\""), "no unfencing");

    let q = start();
    let list = q.agent(&agent(), "action=list\n", LIMIT);
    assert_eq!(list.code, 0, "{list:?}");
    assert_eq!(
        list.stdout, "node1,\nnode2,\nnode3,\n",
        "node4 never used its slot"
    );
    let status = q.agent(&agent(), "action=status\nplug=node2\n", LIMIT);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(status.stdout.contains("Status: ON"), "{status:?}");
    let status = q.agent(&agent(), "action=status\nport=node4\n", LIMIT);
    assert_eq!(status.code, 2, "{status:?}");
    let monitor = q.agent(&agent(), "action=monitor\n", LIMIT);
    assert_eq!(monitor.code, 0, "{monitor:?}");
    let monitor = q.agent(&agent(), "action=monitor\ndevice=/dev/null\n", LIMIT);
    assert_eq!(monitor.code, 1, "{monitor:?}");
    assert!(monitor.stderr.contains("/dev/null"), "{monitor:?}");
    // Command-line options work too.
    let out = std::process::Command::new(AGENT)
        .args(["-o", "status", "-n", "node1", "--cluster-file"])
        .arg(&q.cluster_file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}
