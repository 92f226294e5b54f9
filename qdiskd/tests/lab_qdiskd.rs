//! qdiskd for real: three daemons in three lab nodes (network namespaces, own hostnames,
//! private /etc/cluster and /run, one cgroup each) on one shared disk, each node through
//! its own loop device so disk faults can hit one node only. Self-fencing is
//! `kill-cgroup`: it kills the node's processes, never the machine. Where a test asks for
//! it, each node has the lab's hardware watchdog (served through FUSE, driven by qdiskd's
//! own code path), whose expiry powers that node off as a reset would. Needs root.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lab::{DiskFault, Lab};
use qdisk::api::StatusReply;
use qdisk::client::QdiskClient;
use qdisk::device::{DeviceOptions, SectorDevice};
use qdisk::disk::{initialise, InitRequest, QuorumDisk};
use qdisk::format::NodeState;
use qdisk::geometry::Layout;
use qdisk::NodeId;

const POLL: Duration = Duration::from_millis(50);

struct QdiskLab {
    lab: Lab,
    interval: Duration,
    tko: u32,
}

impl QdiskLab {
    /// A lab of `n` nodes, a quorum disk on the shared image, and qdiskd started on each.
    fn start(n: usize, layout: Layout, interval: &str, tko: u32, deadtime: &str) -> QdiskLab {
        Self::start_with(n, layout, interval, tko, deadtime, "", false)
    }

    /// Like [`QdiskLab::start`], every node with a lab watchdog armed by qdiskd.
    fn start_watched(
        n: usize,
        layout: Layout,
        interval: &str,
        tko: u32,
        deadtime: &str,
    ) -> QdiskLab {
        Self::start_with(n, layout, interval, tko, deadtime, "", true)
    }

    /// Like [`QdiskLab::start`], with extra `[quorumd]` lines (heuristics).
    fn start_with(
        n: usize,
        layout: Layout,
        interval: &str,
        tko: u32,
        deadtime: &str,
        extra: &str,
        watchdog: bool,
    ) -> QdiskLab {
        lab::root::require_root("qdiskd lab tests");
        let lab = Lab::builder()
            .nodes(n)
            .shared_disk(16 << 20, 512)
            .watchdogs(watchdog)
            .build()
            .expect("lab");
        let disk = lab.disk().expect("shared disk");
        let device = SectorDevice::open(
            disk.device(1).expect("node 1 device"),
            DeviceOptions {
                write: true,
                ..DeviceOptions::default()
            },
        )
        .expect("open");
        let request = InitRequest {
            layout,
            label: "lab-qdisk".into(),
            host: "lab".into(),
            now: 1_700_000_000,
        };
        initialise(device, &request, &mut |_| {}).expect("mkqdisk");
        let nodes: String = (1..=n)
            .map(|i| format!("[[node]]\nname = \"node{i}\"\nid = {i}\n\n"))
            .collect();
        for node in lab.nodes() {
            let i = node.index();
            let watchdog_line = if watchdog {
                format!(
                    "watchdog = \"{}\"\n",
                    lab.watchdog(i).expect("watchdog").path().display()
                )
            } else {
                "watchdog = \"none\"\n".to_string()
            };
            let config = format!(
                "[cluster]\nname = \"lab\"\ndeadtime = \"{deadtime}\"\n\n{nodes}[quorumd]\ndevice = \"{}\"\ninterval = \"{interval}\"\ntko = {tko}\nself_fence = \"kill-cgroup\"\nscheduler = \"other\"\npriority = 0\nlock_memory = false\nstatus_file = \"/run/qdiskd/status\"\n{watchdog_line}{extra}",
                disk.device(i).expect("device").display()
            );
            let dir = node
                .private_dir("/etc/cluster")
                .expect("private /etc/cluster");
            std::fs::write(dir.join("cluster.toml"), config).expect("write config");
            node.add_daemon(lab::Daemon::new(
                "qdiskd",
                &[
                    env!("CARGO_BIN_EXE_qdiskd"),
                    "-f",
                    "-c",
                    "/etc/cluster/cluster.toml",
                ],
            ))
            .expect("start qdiskd");
        }
        let interval = humantime::parse_duration(interval).expect("interval");
        QdiskLab { lab, interval, tko }
    }

    fn socket(&self, i: usize) -> PathBuf {
        self.lab
            .node(i)
            .private_dir("/run")
            .expect("private /run")
            .join("qdiskd/qdiskd.sock")
    }

    fn status(&self, i: usize) -> Option<StatusReply> {
        QdiskClient::connect(&self.socket(i)).ok()?.status().ok()
    }

    fn wait<T>(
        &self,
        what: &str,
        within: Duration,
        mut probe: impl FnMut() -> Option<T>,
    ) -> (T, Duration) {
        match lab::wait::wait_for(within, POLL, what, &mut probe) {
            Ok(found) => found,
            Err(e) => {
                let logs = self.logs();
                panic!("{e}\n{logs}");
            }
        }
    }

    fn logs(&self) -> String {
        self.lab
            .nodes()
            .iter()
            .map(|n| {
                let log =
                    std::fs::read_to_string(n.log_dir().join("lab-qdiskd.log")).unwrap_or_default();
                format!("--- node{} qdiskd log:\n{log}", n.index())
            })
            .collect()
    }

    /// Waits until node 1 is master and every node holds the votes.
    fn wait_settled(&self) {
        let n = self.lab.nodes().len();
        let within = self.interval * (self.tko * 4 + 20);
        self.wait("a master and votes everywhere", within, || {
            let all: Option<Vec<StatusReply>> = (1..=n).map(|i| self.status(i)).collect();
            let all = all?;
            (all.iter()
                .all(|s| s.master == Some(1) && s.votes_held && s.visible.len() == n))
            .then_some(())
        });
    }

    /// Sends `signal` to node `i`'s qdiskd.
    fn signal_qdiskd(&self, i: usize, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.qdiskd_pid(i) as i32).expect("pid");
        rustix::process::kill_process(pid, signal).expect("signal qdiskd");
    }

    /// The PID of node `i`'s qdiskd (the only process of the node).
    fn qdiskd_pid(&self, i: usize) -> u32 {
        let pids = self.lab.node(i).pids();
        assert_eq!(pids.len(), 1, "node {i} runs only qdiskd: {pids:?}");
        pids[0]
    }

    fn slot_state(&self, reader: usize, node: u32) -> (NodeState, u32) {
        let disk = self.lab.disk().expect("disk");
        let mut q = QuorumDisk::open(
            disk.device(reader).expect("device"),
            DeviceOptions::default(),
        )
        .expect("open");
        let block = q.read_status(NodeId(node)).expect("io").expect("decodes");
        (block.state, block.updated_by)
    }
}

#[test]
fn killing_the_master_is_detected_within_tko_and_a_new_master_is_elected() {
    let q = QdiskLab::start(3, Layout::Classic, "1s", 4, "12s");
    q.wait_settled();
    let killed = Instant::now();
    q.lab
        .node(1)
        .kill_processes()
        .expect("kill node 1's daemons");
    let (_, took) = q.wait("node 2 declares node 1 dead", q.interval * 20, || {
        let s = q.status(2)?;
        s.nodes
            .iter()
            .any(|n| n.node == 1 && n.view == "down")
            .then_some(())
    });
    let detection = killed.elapsed();
    // (tko+1)·interval without a change, plus at most one cycle, plus polling slack.
    let bound = q.interval * (q.tko + 2) + Duration::from_millis(500);
    assert!(
        detection <= bound,
        "detected after {detection:?} (bound {bound:?})"
    );
    assert!(
        took >= q.interval * q.tko,
        "not before tko intervals: {took:?}"
    );
    q.wait("node 2 becomes master", q.interval * 15, || {
        let s = q.status(2)?;
        (s.master == Some(2) && s.votes_held).then_some(())
    });
    q.wait(
        "node 3 is granted the votes by the new master",
        q.interval * 4,
        || {
            let s = q.status(3)?;
            (s.master == Some(2) && s.votes_held && s.quorate == vec![2, 3]).then_some(())
        },
    );
    assert_eq!(
        q.slot_state(3, 1),
        (NodeState::Evicted, 2),
        "the new master evicted node 1"
    );
}

#[test]
fn a_node_paused_past_tko_is_evicted_and_fences_itself_on_resume_without_writing() {
    let q = QdiskLab::start(3, Layout::Extended { max_nodes: 16 }, "250ms", 8, "5s");
    q.wait_settled();
    let node3 = q.lab.node(3);
    assert!(!node3.pids().is_empty());
    node3.pause().expect("pause node 3");
    q.wait("node 1 evicts node 3", q.interval * (q.tko + 12), || {
        (q.slot_state(1, 3) == (NodeState::Evicted, 1)).then_some(())
    });
    node3.resume().expect("resume node 3");
    q.wait(
        "node 3's processes are gone",
        Duration::from_secs(10),
        || node3.pids().is_empty().then_some(()),
    );
    // It never wrote after the notice: the notice is still there.
    assert_eq!(q.slot_state(2, 3), (NodeState::Evicted, 1));
    let log = std::fs::read_to_string(node3.log_dir().join("lab-qdiskd.log")).unwrap_or_default();
    assert!(log.contains("SELF-FENCE"), "{log}");
    assert!(log.contains("kill-cgroup"), "the action is named: {log}");
}

#[test]
fn a_node_whose_disk_fails_fences_itself_and_the_others_go_on() {
    let q = QdiskLab::start(3, Layout::Extended { max_nodes: 16 }, "250ms", 8, "5s");
    q.wait_settled();
    let disk = q.lab.disk().expect("disk");
    disk.set_fault(2, DiskFault::Fail)
        .expect("fail node 2's disk");
    let node2 = q.lab.node(2);
    let (_, took) = q.wait("node 2 fences itself", q.interval * (q.tko + 8), || {
        node2.pids().is_empty().then_some(())
    });
    assert!(took <= q.interval * (q.tko + 2), "fenced after {took:?}");
    q.wait(
        "node 1 declares node 2 dead",
        q.interval * (q.tko + 8),
        || {
            let s = q.status(1)?;
            s.nodes
                .iter()
                .any(|n| n.node == 2 && n.view == "down")
                .then_some(())
        },
    );
    let s1 = q.status(1).expect("node 1");
    let s3 = q.status(3).expect("node 3");
    assert!(
        s1.votes_held && s3.votes_held,
        "the survivors keep the votes"
    );
    let log = std::fs::read_to_string(node2.log_dir().join("lab-qdiskd.log")).unwrap_or_default();
    assert!(log.contains("no status write completed"), "{log}");
    disk.set_fault(2, DiskFault::Healthy).expect("heal");
}

#[test]
fn without_a_watchdog_a_stalled_disk_fences_at_the_deadline_while_the_write_hangs() {
    let q = QdiskLab::start(3, Layout::Extended { max_nodes: 16 }, "250ms", 8, "5s");
    q.wait_settled();
    let disk = q.lab.disk().expect("disk");
    disk.set_fault(2, DiskFault::Stall)
        .expect("stall node 2's disk");
    let node2 = q.lab.node(2);
    // The I/O thread is stuck in the kernel; the deadline timer must still fire. The stuck
    // process cannot die until its I/O returns, so watch the log for the decision.
    let log_path = node2.log_dir().join("lab-qdiskd.log");
    let (_, took) = q.wait("node 2 decides to fence", q.interval * (q.tko + 8), || {
        std::fs::read_to_string(&log_path)
            .ok()?
            .contains("SELF-FENCE")
            .then_some(())
    });
    assert!(took <= q.interval * (q.tko + 2), "decided after {took:?}");
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(log.contains("running WITHOUT a hardware watchdog"), "{log}");
    disk.set_fault(2, DiskFault::Healthy)
        .expect("release the stall");
    q.wait(
        "node 2's processes are gone",
        Duration::from_secs(10),
        || node2.pids().is_empty().then_some(()),
    );
}

#[test]
fn a_stalled_disk_resets_the_node_and_nothing_lands_after_the_eviction() {
    let q = QdiskLab::start_watched(3, Layout::Extended { max_nodes: 16 }, "250ms", 8, "5s");
    q.wait_settled();
    let disk = q.lab.disk().expect("disk");
    disk.set_fault(2, DiskFault::Stall)
        .expect("stall node 2's disk");
    let node2 = q.lab.node(2);
    let stalled = Instant::now();
    // The I/O thread is stuck in the kernel, so the cycle stops petting the watchdog: with
    // a 1 s timeout and a (tko−1)·interval = 1.75 s write deadline, the hardware resets the
    // node before its own deadline timer would fire.
    let after = assert_reset(&q, 2, stalled);
    let t = q.interval * (q.tko - 1);
    assert!(
        after < t,
        "reset {after:?} after the stall, before the write deadline {t:?}"
    );
    // The stall outlasts the eviction: whatever node 2 had in flight was parked when the
    // node was reset.
    q.wait("node 1 evicts node 2", q.interval * (q.tko + 12), || {
        (q.slot_state(1, 2) == (NodeState::Evicted, 1)).then_some(())
    });
    disk.set_fault(2, DiskFault::Healthy)
        .expect("release the stall");
    q.wait(
        "node 2's processes are gone",
        Duration::from_secs(10),
        || node2.pids().is_empty().then_some(()),
    );
    // Its parked writes died with the reset: the notice is still there, seconds later.
    std::thread::sleep(q.interval * 4);
    assert_eq!(q.slot_state(3, 2), (NodeState::Evicted, 1));
}

/// The watchdog's reset, seen from the lab: the node's watchdog expired once and the node
/// is off. Returns how long after `since` the watchdog's deadline was.
fn assert_reset(q: &QdiskLab, i: usize, since: Instant) -> Duration {
    let watchdog = q.lab.watchdog(i).expect("watchdog");
    let expiry = watchdog
        .wait_for_expiry_handled(1, Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("node {i} is reset by its watchdog: {e}\n{}", q.logs()));
    assert_eq!(
        q.lab.node(i).power().expect("power"),
        lab::Power::Off,
        "the expiry powered node {i} off"
    );
    expiry.deadline.saturating_duration_since(since)
}

#[test]
fn a_frozen_qdiskd_is_reset_by_the_watchdog_within_its_timeout() {
    let q = QdiskLab::start_watched(3, Layout::Extended { max_nodes: 16 }, "250ms", 8, "5s");
    q.wait_settled();
    let log =
        std::fs::read_to_string(q.lab.node(3).log_dir().join("lab-qdiskd.log")).unwrap_or_default();
    assert!(
        log.contains("hardware watchdog:")
            && log.contains("lab watchdog")
            && log.contains("timeout 1 s"),
        "qdiskd says which watchdog and timeout it uses: {log}"
    );
    let frozen = Instant::now();
    q.signal_qdiskd(3, rustix::process::Signal::STOP);
    let after = assert_reset(&q, 3, frozen);
    // The last pet was before the freeze, so the reset comes at most one timeout after it.
    assert!(
        after <= Duration::from_secs(1),
        "reset {after:?} after the freeze"
    );
    // The survivors go on and evict it.
    q.wait("node 1 evicts node 3", q.interval * (q.tko + 12), || {
        (q.slot_state(1, 3) == (NodeState::Evicted, 1)).then_some(())
    });
    assert!(q.lab.watchdog(1).expect("watchdog").expiries().is_empty());
}

#[test]
fn a_qdiskd_killed_with_sigkill_is_reset_by_the_watchdog() {
    let q = QdiskLab::start_watched(3, Layout::Extended { max_nodes: 16 }, "250ms", 8, "5s");
    q.wait_settled();
    let killed = Instant::now();
    q.signal_qdiskd(2, rustix::process::Signal::KILL);
    let after = assert_reset(&q, 2, killed);
    // The kernel pets a watchdog once when it is closed without the magic character (the
    // process's death closes it), so the reset comes one timeout after the kill.
    assert!(
        after <= Duration::from_millis(1250),
        "reset {after:?} after the kill"
    );
}

#[test]
fn a_clean_stop_disarms_the_watchdog() {
    let q = QdiskLab::start_watched(3, Layout::Extended { max_nodes: 16 }, "250ms", 8, "5s");
    q.wait_settled();
    q.signal_qdiskd(2, rustix::process::Signal::TERM);
    let log_path = q.lab.node(2).log_dir().join("lab-qdiskd.log");
    q.wait(
        "node 2's qdiskd disarms its watchdog",
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(&log_path)
                .ok()?
                .contains("hardware watchdog disarmed")
                .then_some(())
        },
    );
    // Three timeouts later: no reset, the node is still on.
    std::thread::sleep(Duration::from_secs(3));
    let watchdog = q.lab.watchdog(2).expect("watchdog");
    assert!(watchdog.expiries().is_empty(), "{:?}", watchdog.state());
    assert!(!watchdog.state().armed, "{:?}", watchdog.state());
    assert_eq!(q.lab.node(2).power().expect("power"), lab::Power::On);
}

#[test]
fn losing_the_heuristic_score_withdraws_the_votes_and_fences_the_node() {
    // The heuristic passes while /run/uplink-ok exists in the node (its private /run).
    let heuristic = "[[quorumd.heuristic]]\nprogram = \"test -e /run/uplink-ok\"\nscore = 1\ninterval = \"250ms\"\ntko = 2\n";
    let q = QdiskLab::start_with(
        3,
        Layout::Extended { max_nodes: 16 },
        "250ms",
        8,
        "5s",
        heuristic,
        false,
    );
    for node in q.lab.nodes() {
        let run = node.private_dir("/run").expect("/run");
        std::fs::write(run.join("uplink-ok"), "").expect("flag");
    }
    q.wait_settled();
    let s3 = q.status(3).expect("node 3");
    assert_eq!((s3.score, s3.score_max, s3.required_score), (1, 1, 1));
    let node3 = q.lab.node(3);
    std::fs::remove_file(node3.private_dir("/run").expect("/run").join("uplink-ok"))
        .expect("cut the uplink");
    let (_, took) = q.wait(
        "node 3 fences itself for its score",
        q.interval * 30,
        || node3.pids().is_empty().then_some(()),
    );
    let log = std::fs::read_to_string(node3.log_dir().join("lab-qdiskd.log")).unwrap_or_default();
    assert!(log.contains("score 0/1 is below the required 1"), "{log}");
    assert!(took <= Duration::from_secs(5), "{took:?}");
    q.wait("the others see node 3 leave", q.interval * 20, || {
        let s = q.status(1)?;
        (!s.visible.contains(&3) && s.votes_held).then_some(())
    });
}
