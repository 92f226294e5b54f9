//! Stage 1: nodes, switch, links, addresses, private directories, process tracking, crash,
//! pause, teardown.

use std::time::Duration;

use lab::root::require_root;
use lab::sweep::leftovers_of;
use lab::wait::wait_until;
use lab::{Lab, Net};

fn ping(lab: &Lab, from: usize, to: std::net::Ipv4Addr) -> bool {
    lab.node(from)
        .output(&["ping", "-c", "1", "-W", "1", &to.to_string()])
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn two_nodes_ping_each_other_and_stop_when_a_link_is_cut() {
    require_root("two_nodes_ping_each_other_and_stop_when_a_link_is_cut");
    let lab = Lab::builder().nodes(2).media(2).build().expect("lab up");
    for net in [Net::Heartbeat(0), Net::Heartbeat(1), Net::Mgmt] {
        assert!(ping(&lab, 1, lab.node(2).addr(net)), "1 -> 2 on {net}");
        assert!(ping(&lab, 2, lab.node(1).addr(net)), "2 -> 1 on {net}");
    }
    lab.cut_link(2, Net::Heartbeat(0)).expect("cut");
    assert!(
        !ping(&lab, 1, lab.node(2).addr(Net::Heartbeat(0))),
        "cut link still pings"
    );
    // The other medium is independent.
    assert!(
        ping(&lab, 1, lab.node(2).addr(Net::Heartbeat(1))),
        "medium 1 broken too"
    );
    lab.restore_link(2, Net::Heartbeat(0)).expect("restore");
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(50),
        "ping after restore",
        || ping(&lab, 1, lab.node(2).addr(Net::Heartbeat(0))),
    )
    .expect("link restored");
}

#[test]
fn nodes_have_their_own_hostname_and_private_directories() {
    require_root("nodes_have_their_own_hostname_and_private_directories");
    let lab = Lab::builder().nodes(2).build().expect("lab up");
    for node in lab.nodes() {
        let name = node.run(&["hostname"]).expect("hostname");
        assert_eq!(name.trim(), node.hostname());
        let marker = format!("I am {}", node.hostname());
        node.run(&["sh", "-c", &format!("echo '{marker}' > /etc/ha.d/marker")])
            .expect("write config");
        let local = node.private_dir("/etc/ha.d").expect("private /etc/ha.d");
        let seen = std::fs::read_to_string(local.join("marker")).expect("marker on host");
        assert_eq!(seen.trim(), marker);
    }
    // The host's /etc/ha.d is untouched.
    assert!(!std::path::Path::new("/etc/ha.d/marker").exists());
    let addrs = lab
        .node(1)
        .run(&["ip", "-o", "-4", "addr", "show"])
        .expect("ip");
    assert!(
        addrs.contains("10.99.1.1/24") && addrs.contains("10.99.0.1/24"),
        "{addrs}"
    );
}

#[test]
fn crash_kills_every_process_of_the_node_and_takes_it_off_the_network() {
    require_root("crash_kills_every_process_of_the_node_and_takes_it_off_the_network");
    let lab = Lab::builder().nodes(2).build().expect("lab up");
    let node = lab.node(2);
    // A daemon that forks a grandchild which escapes its parent: the cgroup still has it.
    node.add_daemon(lab::Daemon::new(
        "sleeper",
        &["sh", "-c", "sleep 1000 & sleep 1000"],
    ))
    .expect("daemon");
    let mut child = node.spawn(&["sleep", "1000"]).expect("spawn");
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        "3 sleepers",
        || node.pids().len() >= 3,
    )
    .expect("processes tracked");
    assert!(
        node.pids().contains(&child.id()),
        "spawned PID is the program's"
    );
    lab.crash(2).expect("crash");
    assert!(node.pids().is_empty(), "left: {:?}", node.pids());
    assert!(child.wait().is_ok());
    assert!(
        !ping(&lab, 1, node.addr(Net::Heartbeat(0))),
        "crashed node still answers"
    );
    // A power cycle brings it back with its daemon.
    node.power_cycle().expect("power cycle");
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        "daemon back",
        || node.pids().len() >= 2,
    )
    .expect("daemon restarted");
    assert!(
        ping(&lab, 1, node.addr(Net::Heartbeat(0))),
        "node back on the network"
    );
}

#[test]
fn each_node_has_its_own_boot_id_and_only_a_power_cycle_changes_it() {
    require_root("each_node_has_its_own_boot_id");
    let lab = Lab::builder().nodes(2).build().expect("lab up");
    let seen = |i: usize| {
        lab.node(i)
            .run(&["cat", "/proc/sys/kernel/random/boot_id"])
            .expect("read the boot id in the node")
            .trim()
            .to_string()
    };
    let (one, two) = (seen(1), seen(2));
    let host = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").expect("host's");
    assert_eq!(one, lab.node(1).boot_id().expect("boot id"));
    assert_ne!(one, two, "each node boots on its own");
    assert_ne!(one, host.trim(), "a node is not the host");
    lab.kill_processes(1).expect("kill");
    assert_eq!(seen(1), one, "a crash of the processes is no reboot");
    lab.node(1).power_cycle().expect("power cycle");
    let rebooted = seen(1);
    assert_ne!(rebooted, one, "a power cycle is a reboot");
    assert_eq!(rebooted.len(), 36, "{rebooted}");
    assert_eq!(seen(2), two, "the other node did not reboot");
}

#[test]
fn kill_processes_leaves_the_node_on_the_network() {
    require_root("kill_processes_leaves_the_node_on_the_network");
    let lab = Lab::builder().nodes(2).build().expect("lab up");
    let mut child = lab.node(2).spawn(&["sleep", "1000"]).expect("spawn");
    lab.kill_processes(2).expect("kill");
    assert!(!child.wait().expect("wait").success());
    assert!(lab.node(2).pids().is_empty());
    assert!(ping(&lab, 1, lab.node(2).addr(Net::Heartbeat(0))));
}

#[test]
fn pause_freezes_the_node_and_resume_thaws_it() {
    require_root("pause_freezes_the_node_and_resume_thaws_it");
    let lab = Lab::builder().nodes(1).build().expect("lab up");
    let node = lab.node(1);
    let counter = node.private_dir("/run").expect("run").join("count");
    node.add_daemon(lab::Daemon::new(
        "counter",
        &[
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo $i > /run/count; sleep 0.02; done",
        ],
    ))
    .expect("daemon");
    let read = || std::fs::read_to_string(&counter).unwrap_or_default();
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        "counter",
        || !read().is_empty(),
    )
    .expect("counting");
    lab.pause(1).expect("pause");
    assert!(node.is_paused());
    let frozen = read();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(read(), frozen, "a paused node went on counting");
    lab.resume(1).expect("resume");
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        "counting again",
        || read() != frozen,
    )
    .expect("resumed");
}

/// Found by the chaos campaign, which hung twice: a daemon (re)started on a paused node
/// joined the frozen cgroup and froze with the lab waiting for it; a node paused while off
/// and then powered on started its daemons frozen. Now a start on a paused node is refused
/// and says why, and power on thaws the node.
#[test]
fn a_paused_node_refuses_a_daemon_start_and_power_on_thaws_it() {
    require_root("a_paused_node_refuses_a_daemon_start_and_power_on_thaws_it");
    let lab = Lab::builder().nodes(1).build().expect("lab up");
    let node = lab.node(1);
    let counter = node.private_dir("/run").expect("run").join("count");
    let daemon = lab::Daemon::new(
        "counter",
        &[
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo $i > /run/count; sleep 0.02; done",
        ],
    );
    lab.pause(1).expect("pause");
    let err = node
        .add_daemon(daemon.clone())
        .expect_err("a start into a frozen node must be refused, not hang")
        .to_string();
    assert!(err.contains("is paused"), "{err}");
    // Configured all the same: power off and on (still paused) starts it, thawed.
    node.power_off().expect("off");
    node.power_on().expect("on");
    assert!(!node.is_paused(), "power on must thaw the node");
    let read = || std::fs::read_to_string(&counter).unwrap_or_default();
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        "the daemon counting after power on",
        || !read().is_empty(),
    )
    .expect("counting");
}

#[test]
fn teardown_leaves_nothing_behind() {
    require_root("teardown_leaves_nothing_behind");
    let mut lab = Lab::builder()
        .nodes(2)
        .media(2)
        .shared_disk(4 << 20, 512)
        .build()
        .expect("lab up");
    let id = lab.id().to_string();
    let mut child = lab.node(1).spawn(&["sleep", "1000"]).expect("spawn");
    assert!(!leftovers_of(&id).is_empty(), "the check sees a live lab");
    lab.teardown().expect("teardown");
    assert!(!child.wait().expect("wait").success());
    assert_eq!(leftovers_of(&id), vec![], "left behind");
}

#[test]
fn a_panicking_test_still_tears_the_lab_down() {
    require_root("a_panicking_test_still_tears_the_lab_down");
    let id = std::thread::spawn(|| {
        let lab = Lab::builder().nodes(1).build().expect("lab up");
        let id = lab.id().to_string();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _lab = lab;
            panic!("test failure inside a lab");
        }));
        assert!(result.is_err());
        id
    })
    .join()
    .expect("thread");
    assert_eq!(leftovers_of(&id), vec![]);
}
