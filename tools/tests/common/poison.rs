//! A lab for the poison-pill agent, shared by its lab tests and its benchmark: N nodes, each
//! running qdiskd with the lab's hardware watchdog (self-fence `kill-cgroup`) on one shared
//! disk through its own fault disk, and a cluster file for the agent, which runs in the test
//! process (the host) and reaches the disk through node 1's path.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab::Lab;
use qdisk::device::{DeviceOptions, SectorDevice};
use qdisk::disk::{initialise, InitRequest, QuorumDisk};
use qdisk::format::StatusBlock;
use qdisk::geometry::Layout;
use qdisk::NodeId;

const POLL: Duration = Duration::from_millis(50);

/// The qdiskd settings of a [`PoisonLab`].
#[derive(Debug, Clone)]
pub struct QdiskSettings {
    /// `interval`.
    pub interval: Duration,
    /// `tko`.
    pub tko: u32,
    /// The cluster's `deadtime`.
    pub deadtime: String,
    /// `watchdog_timeout` (`None`: automatic).
    pub watchdog_timeout: Option<u32>,
    /// The disk's layout.
    pub layout: Layout,
}

impl QdiskSettings {
    /// The lab tests' fast settings: interval 250 ms, tko 8 (write deadline 1.75 s, automatic
    /// watchdog 1 s, default msgwait 2.25 s), deadtime 5 s.
    pub fn fast() -> QdiskSettings {
        QdiskSettings {
            interval: Duration::from_millis(250),
            tko: 8,
            deadtime: "5s".into(),
            watchdog_timeout: None,
            layout: Layout::Extended { max_nodes: 16 },
        }
    }

    /// Red Hat's layout, which counts whole seconds: interval 1 s, tko 4 (write deadline
    /// 3 s, automatic watchdog 1 s, default msgwait 4 s), deadtime 12 s.
    pub fn red_hat() -> QdiskSettings {
        QdiskSettings {
            interval: Duration::from_secs(1),
            tko: 4,
            deadtime: "12s".into(),
            watchdog_timeout: None,
            layout: Layout::Classic,
        }
    }
}

/// The lab, the agent's cluster file and the qdiskd settings.
pub struct PoisonLab {
    /// The lab.
    pub lab: Lab,
    /// Its settings.
    pub settings: QdiskSettings,
    /// The agent's cluster file (on the host), listing one node more than runs qdiskd
    /// (`node<N+1>`, whose slot is never used).
    pub cluster_file: PathBuf,
    /// How many nodes run qdiskd (the first ones).
    pub qdisk_nodes: usize,
    dir: tempfile::TempDir,
}

/// How one agent run ended.
#[derive(Debug)]
pub struct AgentRun {
    /// Exit code (-1: killed).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time from start to exit.
    pub took: Duration,
}

impl PoisonLab {
    /// `n` nodes running `qdiskd` (the binary at `qdiskd`) with watchdogs, extended layout.
    pub fn start(n: usize, qdiskd: &Path, settings: QdiskSettings) -> PoisonLab {
        Self::start_with(n, n, qdiskd, settings)
    }

    /// `total` nodes, each with a watchdog, of which the first `n` run qdiskd (the others
    /// are left for another program, e.g. SBD, on the same disk).
    pub fn start_with(n: usize, total: usize, qdiskd: &Path, settings: QdiskSettings) -> PoisonLab {
        lab::root::require_root("the poison-pill lab");
        let lab = Lab::builder()
            .nodes(total)
            .shared_disk(16 << 20, 512)
            .watchdogs(true)
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
            layout: settings.layout,
            label: "lab-qdisk".into(),
            host: "lab".into(),
            now: 1_700_000_000,
        };
        initialise(device, &request, &mut |_| {}).expect("mkqdisk");
        let nodes: String = (1..=n)
            .map(|i| format!("[[node]]\nname = \"node{i}\"\nid = {i}\n\n"))
            .collect();
        let watchdog_timeout = settings
            .watchdog_timeout
            .map(|t| format!("watchdog_timeout = \"{t}s\"\n"))
            .unwrap_or_default();
        let quorumd = |device: &Path, watchdog: &Path| {
            format!(
                "[quorumd]\ndevice = \"{}\"\ninterval = \"{}ms\"\ntko = {}\nself_fence = \"kill-cgroup\"\nscheduler = \"other\"\npriority = 0\nlock_memory = false\nstatus_file = \"/run/qdiskd/status\"\nwatchdog = \"{}\"\n{watchdog_timeout}",
                device.display(),
                settings.interval.as_millis(),
                settings.tko,
                watchdog.display()
            )
        };
        let header = format!(
            "[cluster]\nname = \"lab\"\ndeadtime = \"{}\"\n\n",
            settings.deadtime
        );
        for node in lab.nodes().iter().take(n) {
            let i = node.index();
            let config = format!(
                "{header}{nodes}{}",
                quorumd(
                    disk.device(i).expect("device"),
                    lab.watchdog(i).expect("watchdog").path()
                )
            );
            let dir = node
                .private_dir("/etc/cluster")
                .expect("private /etc/cluster");
            std::fs::write(dir.join("cluster.toml"), config).expect("write config");
            node.add_daemon(lab::Daemon::new(
                "qdiskd",
                &[
                    qdiskd.display().to_string().as_str(),
                    "-f",
                    "-c",
                    "/etc/cluster/cluster.toml",
                ],
            ))
            .expect("start qdiskd");
        }
        // The agent's view: every node (and one that never ran), node 1's disk path.
        let dir = tempfile::tempdir().expect("tempdir");
        let cluster_file = dir.path().join("cluster.toml");
        let spare = n + 1;
        std::fs::write(
            &cluster_file,
            format!(
                "{header}{nodes}[[node]]\nname = \"node{spare}\"\nid = {spare}\n\n{}",
                quorumd(
                    disk.device(1).expect("device"),
                    lab.watchdog(1).expect("watchdog").path()
                )
            ),
        )
        .expect("agent cluster file");
        PoisonLab {
            lab,
            settings,
            cluster_file,
            qdisk_nodes: n,
            dir,
        }
    }

    /// Node `i`'s qdiskd log.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.lab.node(i).log_dir().join("lab-qdiskd.log"))
            .unwrap_or_default()
    }

    /// Every node's qdiskd log, for failure messages.
    pub fn logs(&self) -> String {
        self.lab
            .nodes()
            .iter()
            .take(self.qdisk_nodes)
            .map(|n| format!("--- node{} qdiskd log:\n{}", n.index(), self.log(n.index())))
            .collect()
    }

    /// Waits until the disk shows every qdiskd node running (state Running or Master, its
    /// own writes).
    pub fn wait_running(&self) {
        let n = self.qdisk_nodes;
        let within = self.settings.interval * (self.settings.tko * 4 + 40);
        let started = Instant::now();
        loop {
            let all = (1..=n).all(|i| {
                self.slot(1, i as u32).is_some_and(|b| {
                    b.updated_by == i as u32
                        && matches!(
                            b.state,
                            qdisk::format::NodeState::Running | qdisk::format::NodeState::Master
                        )
                })
            });
            if all {
                return;
            }
            assert!(
                started.elapsed() < within,
                "the nodes did not all come up within {within:?}\n{}",
                self.logs()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits until node `i`'s qdiskd runs (state Running or Master) with an incarnation other
    /// than `not`; returns the incarnation.
    pub fn wait_node_running(
        &self,
        i: usize,
        not: Option<qdisk::Incarnation>,
    ) -> qdisk::Incarnation {
        let within = self.settings.interval * (self.settings.tko * 4 + 40);
        let started = Instant::now();
        loop {
            if let Some(b) = self.slot(1, i as u32) {
                if b.updated_by == i as u32
                    && Some(b.incarnation) != not
                    && matches!(
                        b.state,
                        qdisk::format::NodeState::Running | qdisk::format::NodeState::Master
                    )
                {
                    return b.incarnation;
                }
            }
            assert!(
                started.elapsed() < within,
                "node {i} did not come up within {within:?}\n{}",
                self.logs()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Node `node`'s slot as node `reader` reads it.
    pub fn slot(&self, reader: usize, node: u32) -> Option<StatusBlock> {
        let disk = self.lab.disk().ok()?;
        let mut q = QuorumDisk::open(disk.device(reader).ok()?, DeviceOptions::default()).ok()?;
        q.read_status(NodeId(node)).ok()?.ok()
    }

    /// The PID of node `i`'s qdiskd (the node's only process).
    pub fn qdiskd_pid(&self, i: usize) -> u32 {
        let pids = self.lab.node(i).pids();
        assert_eq!(pids.len(), 1, "node {i} runs only qdiskd: {pids:?}");
        pids[0]
    }

    /// Runs the agent at `agent` from the host with `options` (plus this lab's cluster
    /// file) on standard input, as fenced and Pacemaker call it; killed after `limit`.
    pub fn agent(&self, agent: &Path, options: &str, limit: Duration) -> AgentRun {
        let stdin = format!("cluster_file={}\n{options}", self.cluster_file.display());
        run_agent(agent, &stdin, limit)
    }
}

/// Runs `agent` with `stdin`, under `timeout(1)` with `limit`.
pub fn run_agent(agent: &Path, stdin: &str, limit: Duration) -> AgentRun {
    let started = Instant::now();
    let mut child = Command::new("timeout")
        .arg(format!("{}", limit.as_secs().max(1)))
        .arg(agent)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the agent");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait for the agent");
    AgentRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// The seconds in an agent's success line: `… (2.26 s, 1 write)` or `… after 0.31 s …`.
pub fn reported_seconds(line: &str) -> Option<f64> {
    let words: Vec<&str> = line.split(['(', ' ']).collect();
    words
        .windows(2)
        .find_map(|w| w[1].starts_with('s').then(|| w[0].parse().ok()).flatten())
}
