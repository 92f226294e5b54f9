//! The whole stack end to end in the lab: the heartbeat tutorial's web cluster (web1, web2,
//! a floating IP, websrv, a quorum disk, IPMI BMCs) with qdiskd, fenced and hbd on each
//! node, and a client fetching the page. Needs root.

mod common;

use std::time::Duration;

use lab::hacluster::{Binaries, HaCluster, Spec, WEB1, WEB2};
use lab::Power;

fn binaries() -> Binaries {
    for (package, bin) in [("hbd", "hbd"), ("fenced", "fenced"), ("qdisk", "qdiskd")] {
        common::bins::sibling(package, bin);
    }
    let dir = std::path::Path::new(env!("CARGO_BIN_EXE_hbctl"))
        .parent()
        .expect("target dir");
    Binaries::in_dir(dir).expect("binaries")
}

/// One whole cluster at a time: three at once (nine namespaces, six disk daemons with
/// sub-second write deadlines) overload a two-core machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn start(spec: Spec) -> (std::sync::MutexGuard<'static, ()>, HaCluster) {
    lab::root::require_root("the HA cluster lab tests");
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    (
        guard,
        HaCluster::start(spec, binaries()).expect("cluster up"),
    )
}

#[test]
fn the_demo_web1_crashes_is_fenced_web2_serves_and_web1_takes_it_back() {
    let (_one, c) = start(Spec::demo());
    c.wait_settled_on("web1", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    // hbd, like heartbeat, advertises deadtime + 2 s during its first 5 s.
    std::thread::sleep(Duration::from_secs(6));

    let f = c
        .crash_and_follow(WEB1, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    eprintln!("{}", f.story.render());
    assert!(f.max_vip_holders <= 1, "two nodes held the floating IP");
    let at = |what: &str| {
        f.story
            .when(what)
            .unwrap_or_else(|| panic!("no '{what}' in\n{}\n{}", f.story.render(), c.logs()))
    };
    let lost = at("node web1: is dead");
    let asked = at("asking fenced to fence web1");
    let fenced = at("fenced: web1: Fenced");
    let ip = at("address added");
    let page = at("http://");
    assert!(lost <= asked && asked <= fenced, "{}", f.story.render());
    assert!(
        lost <= fenced && fenced <= ip && ip <= page,
        "{}",
        f.story.render()
    );
    // Not before deadtime after the last heartbeat web2 heard, at most a keepalive before
    // the crash.
    let t = c.spec().timing;
    assert!(
        lost + t.keepalive + Duration::from_millis(100) >= t.deadtime,
        "{}",
        f.story.render()
    );
    // fenced really powered web1 off through its BMC.
    assert_eq!(c.node(WEB1).power().expect("power"), Power::Off);
    let history = c.fence_history(WEB2);
    let record = history.last().expect("a fence record on web2");
    assert_eq!(record["target"], "web1");
    assert_eq!(record["outcome"]["kind"], "fenced", "{record}");

    // web1 comes back (powered on through its BMC) and, auto_failback on, takes it back.
    c.lab()
        .bmc(WEB1)
        .expect("bmc")
        .ipmitool(&["chassis", "power", "on"])
        .expect("power on web1");
    c.wait_settled_on("web1", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
}

/// Samples who holds the floating IP and who serves for `d`; returns the most holders seen
/// at once and every page seen.
fn watch(c: &HaCluster, d: Duration) -> (usize, Vec<String>) {
    let end = std::time::Instant::now() + d;
    let (mut most, mut pages) = (0, Vec::new());
    while std::time::Instant::now() < end {
        most = most.max(c.vip_holders().len());
        if let Some(p) = c.fetch() {
            if !pages.contains(&p) {
                pages.push(p);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (most, pages)
}

#[test]
fn a_partition_of_the_two_nodes_leaves_the_quorum_disk_side_serving_and_the_other_fenced() {
    let (_one, c) = start(Spec::demo());
    c.wait_settled_on("web1", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    std::thread::sleep(Duration::from_secs(6));
    // The heartbeat network splits: web2 is cut off from web1 (and the client); both
    // still see the quorum disk and the BMCs. Only the qdisk master's side is quorate.
    c.lab()
        .switch()
        .expect("switch")
        .set_port(WEB2, lab::Net::Heartbeat(0), false)
        .expect("cut web2 off");
    c.wait_for(
        "web2 powered off by web1's fenced",
        Duration::from_secs(30),
        || c.node(WEB2).power().ok() == Some(Power::Off),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    let (most, pages) = watch(&c, Duration::from_secs(3));
    assert!(most <= 1, "two nodes held the floating IP");
    assert_eq!(pages, ["served by web1"], "{}", c.logs());
    assert_eq!(c.node(WEB1).power().expect("power"), Power::On);
    let record = c.fence_history(WEB1).pop().expect("web1 fenced someone");
    assert_eq!(record["target"], "web2");
    assert_eq!(record["outcome"]["kind"], "fenced", "{record}");
    // web2 never fenced web1: it had no quorum.
    assert!(
        c.fence_history(WEB2).is_empty(),
        "{:?}",
        c.fence_history(WEB2)
    );
}

/// Issue 17 §1: three nodes and a quorum disk with the default votes (nodes − 1 = 2). A
/// partition of the heartbeat network leaves exactly one side quorate and serving — the
/// side of the disk's master (web1, the lowest id), which grants the votes only within its
/// own partition — and the other side fenced through its BMCs. Lone master against two
/// ({web1} | {web2, web3}), then two against one ({web1, web2} | {web3}).
#[test]
fn three_nodes_with_a_quorum_disk_partitioned_leave_one_side_serving_and_fence_the_other() {
    for cut in [vec![WEB1], vec![3]] {
        let (_one, c) = start(Spec {
            nodes: 3,
            ..Spec::demo()
        });
        c.wait_settled_on("web1", Duration::from_secs(90))
            .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
        std::thread::sleep(Duration::from_secs(6));
        for &i in &cut {
            c.lab()
                .switch()
                .expect("switch")
                .set_port(i, lab::Net::Heartbeat(0), false)
                .expect("cut off");
        }
        let losers: Vec<usize> = (1..=3)
            .filter(|i| cut.contains(i) != cut.contains(&WEB1))
            .collect();
        let winners: Vec<usize> = (1..=3).filter(|i| !losers.contains(i)).collect();
        c.wait_for(
            "the side without the disk's master powered off",
            Duration::from_secs(45),
            || {
                losers
                    .iter()
                    .all(|&i| c.node(i).power().ok() == Some(Power::Off))
            },
        )
        .unwrap_or_else(|e| panic!("cut {cut:?}: {e}\n{}", c.logs()));
        let end = std::time::Instant::now() + Duration::from_secs(3);
        while std::time::Instant::now() < end {
            let holders = c.vip_holders();
            assert!(holders.len() <= 1, "cut {cut:?}: two holders {holders:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(c.vip_holders(), ["web1"], "cut {cut:?}\n{}", c.logs());
        for &w in &winners {
            assert_eq!(c.node(w).power().expect("power"), Power::On, "cut {cut:?}");
            let status = c.status(w).expect("hbd status");
            assert_eq!(status["quorum"]["quorate"], true, "cut {cut:?}: {status}");
        }
        // Nobody on the losing side fenced anyone: it never had quorum.
        for &l in &losers {
            assert!(
                c.fence_history(l).is_empty(),
                "cut {cut:?}: {:?}",
                c.fence_history(l)
            );
        }
    }
}

#[test]
fn a_paused_owner_is_fenced_before_takeover_and_never_serves_alongside_the_new_owner() {
    let (_one, c) = start(Spec::demo());
    c.wait_settled_on("web1", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    std::thread::sleep(Duration::from_secs(6));
    // web1 hangs with the floating IP configured: its address still answers ARP, so only
    // fencing keeps two owners apart.
    c.node(WEB1).pause().expect("pause web1");
    let mut most = 0;
    c.wait_for("web2 serving", Duration::from_secs(30), || {
        most = most.max(c.vip_holders().len());
        c.fetch().as_deref() == Some("served by web2")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    // web2 could take over only because web1 was powered off first.
    assert_eq!(c.node(WEB1).power().expect("power"), Power::Off);
    assert!(most <= 1, "two nodes held the floating IP");
    // web1 resumes (were it still alive, it would now act on its stale state).
    c.node(WEB1).resume().expect("resume web1");
    let (most, pages) = watch(&c, Duration::from_secs(5));
    assert!(most <= 1, "two nodes held the floating IP after the resume");
    assert_eq!(pages, ["served by web2"]);
    assert!(
        c.node(WEB1).pids().is_empty(),
        "web1 runs processes after its fence"
    );
}

#[test]
fn standby_hands_the_service_over_without_fencing_and_takeover_takes_it_back() {
    let (_one, c) = start(Spec::demo());
    c.wait_settled_on("web1", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    let admin = |on: usize, what: &str| {
        let out = c.hbctl(on, &[what]).expect("hbctl");
        assert!(
            out.status.success(),
            "hbctl {what}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // heartbeat's hb_standby: web1 gives its group to web2; nobody dies, nobody is fenced.
    admin(WEB1, "standby");
    let (most, _) = watch(&c, Duration::from_secs(1));
    c.wait_settled_on("web2", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    // auto_failback is on, yet a standby is not undone by it.
    let (most_after, pages) = watch(&c, Duration::from_secs(3));
    assert!(most.max(most_after) <= 1, "two nodes held the floating IP");
    assert_eq!(pages, ["served by web2"], "{}", c.logs());
    // hb_takeover on web1: it takes its group back.
    admin(WEB1, "takeover");
    let (most, _) = watch(&c, Duration::from_secs(1));
    assert!(most <= 1, "two nodes held the floating IP");
    c.wait_settled_on("web1", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    assert_nobody_fenced(&c, "a handover");
}

/// Both web nodes are powered on and neither fenced has a fence record: `what` fenced
/// nobody.
fn assert_nobody_fenced(c: &HaCluster, what: &str) {
    for node in [WEB1, WEB2] {
        assert_eq!(c.node(node).power().expect("power"), Power::On, "{what}");
        let history = c.fence_history(node);
        assert!(history.is_empty(), "{what} fenced: {history:?}");
    }
}

/// Kills node `node`'s web service behind hbd's back (its socat, by the PID file); returns the PID.
fn kill_websrv(c: &HaCluster, node: usize) -> String {
    let pidfile = c
        .node(node)
        .private_dir("/run")
        .expect("private /run")
        .join("websrv.pid");
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap_or_else(|e| panic!("{}: {e}", pidfile.display()))
        .trim()
        .to_string();
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {pid}");
    pid
}

#[test]
fn a_failed_service_is_restarted_in_place_then_moved_without_fencing() {
    let (_one, c) = start(Spec {
        monitor: Some((Duration::from_secs(1), 1)),
        ..Spec::demo()
    });
    c.wait_settled_on("web1", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    // First failure: the monitor sees websrv stopped and restarts the group on web1.
    let first = kill_websrv(&c, WEB1);
    let pidfile = c
        .node(WEB1)
        .private_dir("/run")
        .expect("private /run")
        .join("websrv.pid");
    c.wait_for("websrv restarted on web1", Duration::from_secs(20), || {
        std::fs::read_to_string(&pidfile).is_ok_and(|p| p.trim() != first)
            && c.fetch().as_deref() == Some("served by web1")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    assert_eq!(c.vip_holders(), ["web1"]);
    // Second failure: the one restart is used up, so the group moves to web2.
    kill_websrv(&c, WEB1);
    let (most, _) = watch(&c, Duration::from_secs(1));
    c.wait_settled_on("web2", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    assert!(most <= 1, "two nodes held the floating IP");
    // A failed service is no failed node: nobody is fenced, web1 stays up and a member.
    assert_nobody_fenced(&c, "a service failure");
    assert_eq!(c.nodestatus(WEB2, "web1"), "active");
}

/// Hole a, in the lab: the group's preferred node is web2, `auto_failback off`, and after
/// a failover it runs on web1, the coordinator. hbd on web1 is killed (the floating IP and
/// the service stay up) and restarted within deadtime. The new hbd probes the group, finds
/// it running and reports it: it is never started on web2 as well, and nobody is fenced.
#[test]
fn hole_a_a_restarted_coordinator_keeps_the_group_it_still_runs() {
    let (_one, c) = start(Spec {
        auto_failback: "off",
        preferred: "web2".into(),
        ..Spec::demo()
    });
    c.wait_settled_on("web2", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    std::thread::sleep(Duration::from_secs(6));
    c.crash_and_follow(WEB2, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    c.wait_settled_on("web1", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    c.node(WEB2).power_on().expect("power web2 on");
    c.wait_for("web2 back in web1's view", Duration::from_secs(60), || {
        c.nodestatus(WEB1, "web2") == "active"
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    let (most, pages) = watch(&c, Duration::from_secs(3));
    assert!(most <= 1);
    assert_eq!(pages, ["served by web1"], "auto_failback off: {}", c.logs());

    c.kill_daemon(WEB1, "hbd").expect("kill hbd on web1");
    std::thread::sleep(Duration::from_millis(500));
    c.restart_daemon(WEB1, "hbd").expect("restart hbd on web1");
    let (most, pages) = watch(&c, Duration::from_secs(15));
    assert!(most <= 1, "two nodes held the floating IP\n{}", c.logs());
    assert_eq!(pages, ["served by web1"], "{}", c.logs());
    assert_eq!(c.vip_holders(), ["web1"]);
    // web1's crash-time fence of web2 is the only one.
    assert_eq!(
        c.fence_history(WEB1).len(),
        1,
        "{:?}",
        c.fence_history(WEB1)
    );
    assert!(
        c.fence_history(WEB2).is_empty(),
        "{:?}",
        c.fence_history(WEB2)
    );
    assert_eq!(c.node(WEB2).power().expect("power"), Power::On);
}

/// Hole b, in the lab: hbd on web1 (the owner) is stopped for longer than deadtime while
/// its peer stays healthy; web2's fence of web1 cannot reach web1's BMC, so web1 lives to
/// resume. On resume web1 reads what queued up before judging anyone and counts the
/// disk's votes only once qdiskd confirms them again: it fences nobody, web2 sees it
/// rejoin and cancels its own fence, and the service stays on web1.
#[test]
fn hole_b_a_node_stalled_past_deadtime_fences_no_healthy_peer() {
    let (_one, c) = start(Spec::demo());
    c.wait_settled_on("web1", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    std::thread::sleep(Duration::from_secs(6));
    block_bmc(&c, WEB2, WEB1, true);
    c.pause_daemon(WEB1, "hbd", true).expect("pause hbd");
    std::thread::sleep(Duration::from_secs(8));
    c.pause_daemon(WEB1, "hbd", false).expect("resume hbd");
    let (most, pages) = watch(&c, Duration::from_secs(12));
    block_bmc(&c, WEB2, WEB1, false);
    assert!(most <= 1, "{}", c.logs());
    assert_eq!(pages, ["served by web1"], "{}", c.logs());
    for node in [WEB1, WEB2] {
        assert_eq!(
            c.node(node).power().expect("power"),
            Power::On,
            "{}",
            c.logs()
        );
    }
    assert!(
        c.fence_history(WEB1).is_empty(),
        "web1 fenced after its stall: {:?}",
        c.fence_history(WEB1)
    );
    assert!(
        c.fence_history(WEB2)
            .iter()
            .all(|r| r["outcome"]["kind"] == "cancelled"),
        "{:?}",
        c.fence_history(WEB2)
    );
    c.wait_for(
        "web1 and web2 see each other",
        Duration::from_secs(20),
        || c.nodestatus(WEB1, "web2") == "active" && c.nodestatus(WEB2, "web1") == "active",
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
}

/// Hole c, in the lab: web2 is cut off while web1 cannot reach web2's BMC, so web1's fence
/// of web2 fails and backs off. The partition heals and web2 rejoins before the BMC is
/// reachable again: the pending fence is cancelled, and web2 is never powered off.
#[test]
fn hole_c_a_fence_in_back_off_is_cancelled_when_its_target_rejoins() {
    let (_one, c) = start(Spec {
        preferred: "web1".into(),
        ..Spec::demo()
    });
    c.wait_settled_on("web1", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    std::thread::sleep(Duration::from_secs(6));
    // web1 can no longer reach web2's BMC.
    block_bmc(&c, WEB1, WEB2, true);
    let switch = c.lab().switch().expect("switch");
    switch
        .set_port(WEB2, lab::Net::Heartbeat(0), false)
        .expect("cut web2 off");
    c.wait_for(
        "web1's fence of web2 failing",
        Duration::from_secs(60),
        || c.logs().contains("every fence level of web2 failed"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    switch
        .set_port(WEB2, lab::Net::Heartbeat(0), true)
        .expect("heal");
    c.wait_for("web2 back in web1's view", Duration::from_secs(30), || {
        c.nodestatus(WEB1, "web2") == "active"
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    block_bmc(&c, WEB1, WEB2, false);
    // Longer than fenced's back-off: a surviving retry would power web2 off now.
    let (most, _) = watch(&c, Duration::from_secs(15));
    assert!(most <= 1, "{}", c.logs());
    assert_eq!(
        c.node(WEB2).power().expect("power"),
        Power::On,
        "{}",
        c.logs()
    );
    let outcomes: Vec<String> = c
        .fence_history(WEB1)
        .iter()
        .map(|r| r["outcome"]["kind"].to_string())
        .collect();
    assert!(
        outcomes.iter().all(|o| o.contains("cancelled")),
        "{outcomes:?}\n{}",
        c.logs()
    );
    c.wait_settled_on("web1", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
}

/// Hole d, in the lab: web1 (the coordinator, the disk's master) stops reaching web2 while
/// web2 still reaches web1, and the group runs on web2. web2 no longer lists web1 among the
/// peers it hears, so web1 drops it from its view, fences it and takes the group over: one
/// winner, serving.
#[test]
fn hole_d_a_one_way_cut_resolves_to_one_winner_that_serves() {
    let (_one, c) = start(Spec {
        preferred: "web2".into(),
        ..Spec::demo()
    });
    c.wait_settled_on("web2", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    std::thread::sleep(Duration::from_secs(6));
    c.cut_one_way(WEB1, WEB2).expect("cut web1 -> web2");
    c.wait_for(
        "web2 powered off by web1's fenced",
        Duration::from_secs(40),
        || c.node(WEB2).power().ok() == Some(Power::Off),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    c.wait_settled_on("web1", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    let (most, pages) = watch(&c, Duration::from_secs(3));
    assert!(most <= 1, "{}", c.logs());
    assert_eq!(pages, ["served by web1"], "{}", c.logs());
    assert!(
        c.fence_history(WEB2).is_empty(),
        "{:?}",
        c.fence_history(WEB2)
    );
}

/// Node `from` can (not) reach node `of`'s BMC.
fn block_bmc(c: &HaCluster, from: usize, of: usize, block: bool) {
    let bmc = c.lab().bmc(of).expect("bmc");
    let script = if block {
        format!(
            "add table inet labbmc\nadd chain inet labbmc output {{ type filter hook output priority 0; }}\nadd rule inet labbmc output ip daddr {} udp dport {} drop\n",
            bmc.addr(),
            bmc.port()
        )
    } else {
        "delete table inet labbmc\n".to_string()
    };
    nft(c, from, &script);
}

/// Loads an nftables script inside node `i`.
fn nft(c: &HaCluster, i: usize, script: &str) {
    use std::io::Write;
    let mut child = c
        .node(i)
        .command("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("nft");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write");
    assert!(child.wait().expect("nft").success(), "nft failed: {script}");
}
