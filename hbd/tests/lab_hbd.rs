//! hbd for real: daemons in lab nodes (network namespaces with their own hostname, private
//! /etc/ha.d, /var/lib/heartbeat and /run, one cgroup each), heartbeats over the lab's
//! switch, serial lines on PTY pairs. Self-fencing is `kill-cgroup`: it kills the node's
//! processes, never the machine. Needs root.

use std::path::PathBuf;
use std::time::Duration;

use hbd::api::StatusReply;
use hbd::client::HbdClient;
use lab::{Lab, Net};

const POLL: Duration = Duration::from_millis(50);
const HBD_BIN: &str = env!("CARGO_BIN_EXE_hbd");

struct HbLab {
    lab: Lab,
    deadtime: Duration,
}

/// How the nodes talk.
enum Media {
    /// One `ucast` line per node on every heartbeat network (the same ha.cf everywhere).
    Ucast,
    /// `mcast` on hb0, `bcast` on hb1.
    McastBcast,
    /// A serial line between node 1 and node 2 only.
    Serial(PathBuf, PathBuf),
}

impl HbLab {
    fn start(n: usize, nets: u8, media: &dyn Fn(&Lab) -> Media, timing: &str) -> HbLab {
        Self::start_with(n, n, nets, media, timing, "", false)
    }

    /// `lab_nodes` lab nodes, of which the first `n` run hbd; `extra` goes into ha.cf.
    fn start_with(
        lab_nodes: usize,
        n: usize,
        nets: u8,
        media: &dyn Fn(&Lab) -> Media,
        timing: &str,
        extra: &str,
        watchdogs: bool,
    ) -> HbLab {
        lab::root::require_root("hbd lab tests");
        let lab = Lab::builder()
            .nodes(lab_nodes)
            .media(nets)
            .watchdogs(watchdogs)
            .build()
            .expect("lab");
        let media = media(&lab);
        let nodes: String = (1..=n).map(|i| format!("node node{i}\n")).collect();
        for node in lab.nodes().iter().take(n) {
            let i = node.index();
            let medium_lines = match &media {
                Media::Ucast => {
                    let mut s = String::new();
                    for m in 0..nets {
                        for j in 1..=n {
                            s.push_str(&format!(
                                "ucast hb{m} {}\n",
                                Net::Heartbeat(m).node_addr(j)
                            ));
                        }
                    }
                    s
                }
                Media::McastBcast => "mcast hb0 225.0.0.1 694 1 0\nbcast hb1\n".to_string(),
                Media::Serial(a, b) => {
                    let tty = if i == 1 { a } else { b };
                    format!("baud 115200\nserial {}\n", tty.display())
                }
            };
            let watchdog = if watchdogs {
                format!(
                    "watchdog {}\n",
                    lab.watchdog(i).expect("watchdog").path().display()
                )
            } else {
                String::new()
            };
            let hacf = format!(
                "{timing}\nudpport 694\n{medium_lines}{nodes}auto_failback on\n{watchdog}{extra}"
            );
            let etc = node.private_dir("/etc/ha.d").expect("private /etc/ha.d");
            std::fs::write(etc.join("ha.cf"), hacf).expect("ha.cf");
            let keys = etc.join("authkeys");
            std::fs::write(&keys, "auth 1\n1 sha1 lab-secret\n").expect("authkeys");
            std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .expect("chmod");
            std::fs::write(etc.join("haresources"), "").expect("haresources");
            node.add_daemon(lab::Daemon::new(
                "hbd",
                &[HBD_BIN, "--self-fence", "kill-cgroup", "--log", "debug"],
            ))
            .expect("start hbd");
        }
        let deadtime = timing
            .lines()
            .find_map(|l| l.strip_prefix("deadtime "))
            .map(|v| {
                v.strip_suffix("ms")
                    .map(|ms| Duration::from_millis(ms.parse().expect("ms")))
                    .unwrap_or_else(|| Duration::from_secs(v.parse().expect("s")))
            })
            .expect("deadtime");
        HbLab { lab, deadtime }
    }

    fn status(&self, i: usize) -> Option<StatusReply> {
        let sock = self
            .lab
            .node(i)
            .private_dir("/run")
            .expect("private /run")
            .join("hbd/hbd.sock");
        HbdClient::connect(&sock).ok()?.status().ok()
    }

    fn node_status(&self, on: usize, of: usize) -> Option<String> {
        let s = self.status(on)?;
        let name = format!("node{of}");
        s.nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.status.clone())
    }

    fn link_status(&self, on: usize, of: usize, link: &str) -> Option<String> {
        let s = self.status(on)?;
        let name = format!("node{of}");
        let n = s.nodes.into_iter().find(|n| n.name == name)?;
        n.links
            .into_iter()
            .find(|l| l.name == link)
            .map(|l| l.status)
    }

    fn wait(&self, what: &str, within: Duration, mut probe: impl FnMut() -> bool) -> Duration {
        match lab::wait::wait_until(within, POLL, what, &mut probe) {
            Ok(d) => d,
            Err(e) => panic!("{e}\n{}", self.logs()),
        }
    }

    fn logs(&self) -> String {
        self.lab
            .nodes()
            .iter()
            .map(|n| {
                let log =
                    std::fs::read_to_string(n.log_dir().join("lab-hbd.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("--- {} ---\n{}\n", n.hostname(), tail.join("\n"))
            })
            .collect()
    }

    fn all_active(&self, n: usize) {
        self.wait(
            "every node to see every other node active",
            Duration::from_secs(20),
            || {
                (1..=n).all(|i| {
                    (1..=n)
                        .filter(|&j| j != i)
                        .all(|j| self.node_status(i, j).as_deref() == Some("active"))
                })
            },
        );
    }
}

const FAST: &str = "keepalive 200ms\ndeadtime 1500ms\nwarntime 800ms\ninitdead 3";

/// ha.cf's `watchdog` (hbd without qdiskd), as heartbeat: armed with deadtime + 10 ms
/// rounded up (2 s here), petted with every message sent. A frozen hbd is reset by the
/// watchdog; a clean stop disarms it.
#[test]
fn hbd_without_qdiskd_pets_ha_cfs_watchdog_and_a_frozen_hbd_is_reset() {
    let hb = HbLab::start_with(2, 2, 1, &|_| Media::Ucast, FAST, "", true);
    hb.all_active(2);
    let log =
        std::fs::read_to_string(hb.lab.node(1).log_dir().join("lab-hbd.log")).unwrap_or_default();
    assert!(
        log.contains("hardware watchdog:") && log.contains("timeout 2 s"),
        "hbd says which watchdog it uses: {log}"
    );
    let pids = hb.lab.node(2).pids();
    assert_eq!(pids.len(), 1, "node2 runs only hbd: {pids:?}");
    let frozen = std::time::Instant::now();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pids[0] as i32).expect("pid"),
        rustix::process::Signal::STOP,
    )
    .expect("SIGSTOP hbd");
    let expiry = hb
        .lab
        .watchdog(2)
        .expect("watchdog")
        .wait_for_expiry_handled(1, Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("node2 is reset by its watchdog: {e}\n{}", hb.logs()));
    assert!(
        expiry.deadline.saturating_duration_since(frozen) <= Duration::from_secs(2),
        "reset within the timeout of the freeze"
    );
    assert_eq!(hb.lab.node(2).power().expect("power"), lab::Power::Off);
    // A clean stop of node1's hbd disarms its watchdog.
    let pids = hb.lab.node(1).pids();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pids[0] as i32).expect("pid"),
        rustix::process::Signal::TERM,
    )
    .expect("SIGTERM hbd");
    hb.wait("node1's hbd stops", Duration::from_secs(20), || {
        hb.lab.node(1).pids().is_empty()
    });
    std::thread::sleep(Duration::from_secs(3));
    let dog = hb.lab.watchdog(1).expect("watchdog");
    assert!(dog.expiries().is_empty(), "{:?}", dog.state());
    assert!(!dog.state().armed, "{:?}", dog.state());
}

#[test]
fn three_nodes_over_ucast_declare_a_killed_node_dead_on_every_survivor() {
    let hb = HbLab::start(3, 1, &|_| Media::Ucast, FAST);
    hb.all_active(3);
    hb.lab.node(3).crash().expect("crash node3");
    let took = hb.wait(
        "node3 dead on node1 and node2",
        Duration::from_secs(10),
        || {
            hb.node_status(1, 3).as_deref() == Some("dead")
                && hb.node_status(2, 3).as_deref() == Some("dead")
        },
    );
    // Never before deadtime: the survivors heard node3 until the crash.
    assert!(
        took + Duration::from_millis(300) >= hb.deadtime,
        "declared dead after {took:?}"
    );
    assert_eq!(hb.node_status(1, 2).as_deref(), Some("active"));
    assert_eq!(hb.node_status(2, 1).as_deref(), Some("active"));
}

#[test]
fn a_cut_on_one_medium_leaves_the_node_up_and_marks_only_that_link_dead() {
    let hb = HbLab::start(2, 2, &|_| Media::McastBcast, FAST);
    hb.all_active(2);
    hb.lab
        .switch()
        .expect("switch")
        .set_port(2, Net::Heartbeat(0), false)
        .expect("cut node2 hb0");
    hb.wait(
        "node2's hb0 link dead on node1",
        Duration::from_secs(10),
        || hb.link_status(1, 2, "hb0").as_deref() == Some("dead"),
    );
    std::thread::sleep(hb.deadtime * 2);
    assert_eq!(
        hb.node_status(1, 2).as_deref(),
        Some("active"),
        "{}",
        hb.logs()
    );
    assert_eq!(hb.link_status(1, 2, "hb1").as_deref(), Some("up"));
    hb.lab
        .switch()
        .expect("switch")
        .set_port(2, Net::Heartbeat(0), true)
        .expect("restore");
    hb.wait("node2's hb0 link up again", Duration::from_secs(10), || {
        hb.link_status(1, 2, "hb0").as_deref() == Some("up")
    });
}

#[test]
fn two_nodes_over_a_serial_line_see_each_other_and_a_graceful_stop_is_seen_at_once() {
    let hb = HbLab::start(
        2,
        1,
        &|lab| {
            let (a, b) = lab.serial_pair("hb").expect("serial pair");
            Media::Serial(a, b)
        },
        "keepalive 200ms\ndeadtime 5\nwarntime 2\ninitdead 10",
    );
    hb.all_active(2);
    // SIGTERM: node2 leaves gracefully; node1 must not wait for deadtime (5 s).
    let pids = hb.lab.node(2).pids();
    for pid in pids {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    let took = hb.wait(
        "node2 dead on node1 after its graceful stop",
        Duration::from_secs(4),
        || hb.node_status(1, 2).as_deref() == Some("dead"),
    );
    assert!(took < hb.deadtime, "took {took:?}");
}

/// `cl_status nodestatus NODE` run inside lab node `on` (Debian's heartbeat answers).
fn cl_status(hb: &HbLab, on: usize, node: &str) -> String {
    match hb.lab.node(on).output(&["cl_status", "nodestatus", node]) {
        Ok(o) => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_hbd_node_and_a_debian_heartbeat_node_see_each_other_active() {
    use lab::hacluster::HEARTBEAT;
    assert!(
        std::path::Path::new(HEARTBEAT).exists(),
        "Debian's heartbeat is not installed: run scripts/install-test-deps.sh"
    );
    lab::root::require_root("hbd lab tests");
    let lab = Lab::builder().nodes(2).media(1).build().expect("lab");
    let timing = "keepalive 500ms\ndeadtime 4\nwarntime 2\ninitdead 8";
    let hacf = format!(
        "logfile /var/log/ha-log\n{timing}\nudpport 694\nucast hb0 {}\nucast hb0 {}\nauto_failback on\nnode node1\nnode node2\n",
        Net::Heartbeat(0).node_addr(1),
        Net::Heartbeat(0).node_addr(2)
    );
    for node in lab.nodes() {
        let etc = node.private_dir("/etc/ha.d").expect("private /etc/ha.d");
        if node.index() == 2 {
            lab::hacluster::prepare_heartbeat_node(node).expect("heartbeat's files");
        }
        std::fs::write(etc.join("ha.cf"), &hacf).expect("ha.cf");
        let keys = etc.join("authkeys");
        std::fs::write(&keys, "auth 2\n2 sha1 mixed-cluster\n").expect("authkeys");
        std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod");
        std::fs::write(etc.join("haresources"), "").expect("haresources");
    }
    lab.node(1)
        .add_daemon(lab::Daemon::new(
            "hbd",
            &[HBD_BIN, "--self-fence", "kill-cgroup", "--log", "debug"],
        ))
        .expect("start hbd");
    lab.node(2)
        .add_daemon(lab::hacluster::heartbeat_daemon())
        .expect("start heartbeat");
    let hb = HbLab {
        lab,
        deadtime: Duration::from_secs(4),
    };
    hb.wait(
        "hbd and heartbeat to see each other active",
        Duration::from_secs(30),
        || {
            hb.node_status(1, 2).as_deref() == Some("active")
                && cl_status(&hb, 2, "node1") == "active"
        },
    );
    let s = hb.status(1).expect("status");
    assert_eq!(s.auth_failures, 0, "hbd rejected heartbeat's packets");
    let ha_log = hb
        .lab
        .node(2)
        .private_dir("/var/log")
        .map(|d| std::fs::read_to_string(d.join("ha-log")).unwrap_or_default())
        .unwrap_or_default();
    assert!(
        !ha_log.contains("failed authentication") && !ha_log.contains("authentication failed"),
        "heartbeat rejected hbd's packets:\n{ha_log}"
    );
    // hbd leaves gracefully: heartbeat must see it dead at once, not after deadtime.
    for pid in hb.lab.node(1).pids() {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    let took = hb.wait(
        "heartbeat to see hbd's node dead",
        Duration::from_secs(10),
        || cl_status(&hb, 2, "node1") == "dead",
    );
    eprintln!("heartbeat saw the graceful leave after {took:?}");
}

#[test]
fn a_ping_node_lives_while_it_answers_and_dies_after_deadping_when_cut_off() {
    // node3 runs no hbd: it is only an address that answers ICMP, like a router.
    let gw = Net::Heartbeat(0).node_addr(3);
    let hb = HbLab::start_with(
        3,
        2,
        1,
        &|_| Media::Ucast,
        FAST,
        &format!("ping {gw}\ndeadping 1500ms\n"),
        false,
    );
    hb.all_active(2);
    let ping_status = |on: usize| {
        hb.status(on).and_then(|s| {
            s.nodes
                .into_iter()
                .find(|n| n.name == gw.to_string())
                .map(|n| (n.node_type, n.status))
        })
    };
    hb.wait(
        "the ping node up on both nodes",
        Duration::from_secs(10),
        || (1..=2).all(|i| ping_status(i) == Some(("ping".into(), "ping".into()))),
    );
    hb.lab
        .switch()
        .expect("switch")
        .set_port(3, Net::Heartbeat(0), false)
        .expect("cut the ping node off");
    let took = hb.wait(
        "the ping node dead on both nodes",
        Duration::from_secs(10),
        || (1..=2).all(|i| ping_status(i).map(|p| p.1).as_deref() == Some("dead")),
    );
    assert!(
        took + Duration::from_millis(300) >= Duration::from_millis(1500),
        "{took:?}"
    );
    // The cluster nodes themselves are untouched.
    assert_eq!(hb.node_status(1, 2).as_deref(), Some("active"));
    hb.lab
        .switch()
        .expect("switch")
        .set_port(3, Net::Heartbeat(0), true)
        .expect("restore");
    hb.wait("the ping node back", Duration::from_secs(10), || {
        ping_status(1).map(|p| p.1).as_deref() == Some("ping")
    });
}

/// Hole f: with `realtime on` every thread on the heartbeat path runs SCHED_RR (not just
/// the thread that set it), and the threads that run resource agents do not.
#[test]
fn every_heartbeat_thread_runs_real_time_and_the_agent_runner_does_not() {
    let hb = HbLab::start(2, 1, &|_| Media::Ucast, FAST);
    hb.all_active(2);
    let node = hb.lab.node(1);
    let pid = node
        .pids()
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "hbd")
        })
        .expect("hbd runs on node1");
    let mut policies = Vec::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks");
    for task in tasks.map_while(Result::ok) {
        let dir = task.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // Field 41 (policy) counted after the command's closing parenthesis.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let policy: u32 = after
            .split_whitespace()
            .nth(38)
            .and_then(|f| f.parse().ok())
            .unwrap_or(u32::MAX);
        policies.push((comm.trim().to_string(), policy));
    }
    const SCHED_RR: u32 = 2;
    // The main thread is "hbd" itself; the others are named "hbd <job>".
    let of = |name: &str| {
        policies
            .iter()
            .filter(|(c, _)| {
                if name == "hbd" {
                    c == "hbd"
                } else {
                    c.starts_with(name)
                }
            })
            .map(|(_, p)| *p)
            .collect::<Vec<u32>>()
    };
    for rt in ["hbd", "hbd packets", "hbd read"] {
        let p = of(rt);
        assert!(!p.is_empty(), "no thread {rt}: {policies:?}");
        assert!(p.iter().all(|x| *x == SCHED_RR), "{rt}: {policies:?}");
    }
    let groups = of("hbd groups");
    assert!(!groups.is_empty(), "{policies:?}");
    assert!(groups.iter().all(|x| *x != SCHED_RR), "{policies:?}");
}
