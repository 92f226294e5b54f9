//! The heartbeat tutorial's two-node web cluster, for real, in the lab: `web1` and `web2`
//! serve a floating IP and a small web service (`websrv`, a heartbeat `resource.d` script
//! around socat), with a quorum disk, a BMC each, and a third node, `client`, that fetches
//! the page and answers ping as the router would.
//!
//! [`HaCluster::start`] writes every node's files exactly as an administrator would
//! (`/etc/ha.d/ha.cf`, `authkeys`, `haresources`, `resource.d/websrv`, and for our stack
//! `/etc/cluster/cluster.toml` for qdiskd and fenced), makes the quorum disk with `mkqdisk`,
//! and starts the daemons: qdiskd, fenced and hbd ([`Stack::Ours`]), or Debian's heartbeat
//! 3.0.6 ([`Stack::Heartbeat`], the peer the benchmarks compare with). Everything is observed
//! from outside, through the same tools an administrator uses: `hbctl --json status` (or
//! `cl_status`), fenced's history file, `ip addr`, and `curl` from the client.
//!
//! Self-fencing is `kill-cgroup` everywhere: it kills a node's processes, never the machine.

//!
//! [`spec`] says what to build, [`files`] writes every node's files, [`heartbeat`] sets up
//! Debian's heartbeat as the peer, [`story`] follows a failover through the daemons' logs.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use crate::cluster::Lab;
use crate::error::{LabError, Result};
use crate::node::{Daemon, Node};
use crate::topology::Net;

mod files;
mod heartbeat;
mod spec;
mod story;

pub use heartbeat::{heartbeat_daemon, prepare_heartbeat_node, HEARTBEAT};
pub use spec::{Binaries, Fencing, Spec, Stack, Timing};
pub use story::{Failover, Story};

/// Lab node index of `web1` (`webN` is node N).
pub const WEB1: usize = 1;
/// Lab node index of `web2`.
pub const WEB2: usize = 2;
/// Lab node index of the client (and ping node) of a two-node cluster; in general
/// [`HaCluster::client`].
pub const CLIENT: usize = 3;

/// Size of the shared disk: the quorum disk at its start, the writer's region above.
pub const SHARED_DISK_SIZE: u64 = 32 << 20;

/// The shared-disk writer's region (16 MiB from 16 MiB: far above the quorum disk's
/// blocks), split into [`WRITER_MAX_NODES`] per-node rings of records.
pub const WRITER_REGION: crate::diskwriter::Region = crate::diskwriter::Region {
    offset: 16 << 20,
    len: 16 << 20,
};

/// How many per-node parts the writer's region has (the most web nodes a cluster has).
pub const WRITER_MAX_NODES: usize = 8;

/// The running cluster. Dropping it tears the lab down.
pub struct HaCluster {
    lab: Lab,
    spec: Spec,
    bins: Binaries,
    vip: Ipv4Addr,
}

impl HaCluster {
    /// Builds the lab (web1 … webN, client; a shared disk and BMCs for our stack), writes
    /// the configuration, makes the quorum disk and starts the daemons on the web nodes.
    pub fn start(spec: Spec, bins: Binaries) -> Result<HaCluster> {
        crate::root::require_root("the HA cluster lab");
        let ours = spec.stack == Stack::Ours;
        if !(2..=WRITER_MAX_NODES).contains(&spec.nodes) {
            return Err(LabError::Invalid(format!(
                "{} web nodes: the cluster has 2 to {WRITER_MAX_NODES}",
                spec.nodes
            )));
        }
        let preferred_ok = spec
            .preferred
            .strip_prefix("web")
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| (1..=spec.nodes).contains(&n));
        if !preferred_ok {
            return Err(LabError::Invalid(format!(
                "preferred node {:?}: use one of web1 to web{}",
                spec.preferred, spec.nodes
            )));
        }
        let mut hostnames: Vec<String> = (1..=spec.nodes).map(|i| format!("web{i}")).collect();
        hostnames.push("client".into());
        let mut builder = Lab::builder()
            .nodes(spec.nodes + 1)
            .media(1)
            .hostnames(&hostnames);
        if ours {
            builder = builder.bmcs(true);
        }
        if spec.fencing == Fencing::Fabric && ours {
            builder = builder.snmp(true).san(true);
        }
        if spec.fencing == Fencing::Poison && ours {
            if !spec.qdisk {
                return Err(LabError::Invalid(
                    "poison-pill fencing goes through the quorum disk: add --qdisk".into(),
                ));
            }
            let agent = bins.path("fence_qd_poison");
            if !agent.exists() {
                return Err(LabError::Invalid(format!(
                    "{} is missing: build the workspace first (cargo build --workspace --bins)",
                    agent.display()
                )));
            }
            builder = builder.watchdogs(true);
        }
        if (ours && spec.qdisk) || spec.writer {
            builder = builder.shared_disk(SHARED_DISK_SIZE, 512);
        }
        let lab = builder.build()?;
        let vip = Net::Heartbeat(0).node_addr(100);
        let cluster = HaCluster {
            lab,
            spec,
            bins,
            vip,
        };
        if ours && cluster.spec.qdisk {
            cluster.make_qdisk()?;
        }
        if cluster.spec.writer {
            cluster.lab.disk()?.journal_writes(WRITER_REGION.range())?;
        }
        for i in cluster.web_nodes() {
            cluster.configure(i)?;
        }
        for i in cluster.web_nodes() {
            cluster.start_daemons(i)?;
        }
        cluster.lab.note("the web nodes started");
        Ok(cluster)
    }

    /// The lab underneath.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The binaries it runs.
    pub fn binaries(&self) -> &Binaries {
        &self.bins
    }

    /// The spec it was built from.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The floating IP.
    pub fn vip(&self) -> Ipv4Addr {
        self.vip
    }

    /// Node `i` (WEB1, WEB2, …, the client).
    pub fn node(&self, i: usize) -> &Node {
        self.lab.node(i)
    }

    /// The web nodes' lab indexes, 1 to N.
    pub fn web_nodes(&self) -> std::ops::RangeInclusive<usize> {
        1..=self.spec.nodes
    }

    /// The client's lab index: N+1.
    pub fn client(&self) -> usize {
        self.spec.nodes + 1
    }

    fn start_daemons(&self, i: usize) -> Result<()> {
        let node = self.lab.node(i);
        match self.spec.stack {
            Stack::Heartbeat => node.add_daemon(heartbeat_daemon()),
            Stack::Ours => {
                let cfg = "/etc/cluster/cluster.toml";
                if self.spec.qdisk {
                    node.add_daemon(Daemon::new(
                        "qdiskd",
                        &[
                            self.bins.path("qdiskd").display().to_string().as_str(),
                            "-f",
                            "-c",
                            cfg,
                        ],
                    ))?;
                }
                node.add_daemon(Daemon::new(
                    "fenced",
                    &[
                        self.bins.path("fenced").display().to_string().as_str(),
                        "-c",
                        cfg,
                    ],
                ))?;
                let mut argv: Vec<String> = vec![
                    self.bins.path("hbd").display().to_string(),
                    "--self-fence".into(),
                    "kill-cgroup".into(),
                    "--fenced-socket".into(),
                    "/run/fenced/fenced.sock".into(),
                ];
                if self.spec.qdisk {
                    argv.extend(["--qdisk-socket".into(), "/run/qdiskd/qdiskd.sock".into()]);
                }
                if self.spec.ping_node {
                    argv.extend(["--ping-votes".into(), "1".into()]);
                }
                if let Some((interval, restarts)) = self.spec.monitor {
                    argv.extend([
                        "--monitor-interval".into(),
                        format!("{}ms", interval.as_millis()),
                        "--max-restarts".into(),
                        restarts.to_string(),
                    ]);
                }
                node.add_daemon(Daemon::new("hbd", &argv))
            }
        }
    }

    /// The PID of daemon `name` (its process name) on node `i`.
    pub fn daemon_pid(&self, i: usize, name: &str) -> Option<u32> {
        self.lab.node(i).pids().into_iter().find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
    }

    /// `kill -9` of one daemon of node `i` (`hbd`, `fenced`, `qdiskd`): what it started
    /// keeps running.
    pub fn kill_daemon(&self, i: usize, name: &str) -> Result<()> {
        self.signal_daemon(i, name, rustix::process::Signal::KILL)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.daemon_pid(i, name).is_some() {
            if std::time::Instant::now() > deadline {
                return Err(LabError::Invalid(format!("{name} on node {i} did not die")));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.lab
            .timeline()
            .record("nemesis", format!("kill -9 {name} on node{i}"));
        Ok(())
    }

    /// Starts daemon `name` of node `i` again, as configured.
    pub fn restart_daemon(&self, i: usize, name: &str) -> Result<()> {
        let node = self.lab.node(i);
        let daemon = node
            .daemons()
            .into_iter()
            .find(|d| d.name == name)
            .ok_or_else(|| LabError::Invalid(format!("no daemon {name} on node {i}")))?;
        node.add_daemon(daemon)?;
        self.lab
            .timeline()
            .record("nemesis", format!("restart {name} on node{i}"));
        Ok(())
    }

    /// `kill -STOP` (`pause`) or `kill -CONT` of one daemon of node `i`.
    pub fn pause_daemon(&self, i: usize, name: &str, pause: bool) -> Result<()> {
        let signal = if pause {
            rustix::process::Signal::STOP
        } else {
            rustix::process::Signal::CONT
        };
        self.signal_daemon(i, name, signal)?;
        self.lab.timeline().record(
            "nemesis",
            format!(
                "{} {name} on node{i}",
                if pause { "pause" } else { "resume" }
            ),
        );
        Ok(())
    }

    fn signal_daemon(&self, i: usize, name: &str, signal: rustix::process::Signal) -> Result<()> {
        let pid = self
            .daemon_pid(i, name)
            .ok_or_else(|| LabError::Invalid(format!("{name} does not run on node {i}")))?;
        let pid = rustix::process::Pid::from_raw(pid as i32)
            .ok_or_else(|| LabError::Invalid(format!("bad pid {pid}")))?;
        rustix::process::kill_process(pid, signal)
            .map_err(|e| LabError::Invalid(format!("signal {name} on node {i}: {e}")))
    }

    /// Drops everything node `from` sends to node `to` on the heartbeat network, at `to`
    /// (a one-way cut: `to` no longer hears `from`; `from` still hears `to`, and the client
    /// reaches both).
    pub fn cut_one_way(&self, from: usize, to: usize) -> Result<()> {
        let source = self.lab.node(from).addr(Net::Heartbeat(0));
        let script = format!(
            "add table inet labcut\nadd chain inet labcut input {{ type filter hook input priority 0; }}\nadd rule inet labcut input ip saddr {source} drop\n"
        );
        let out = self
            .lab
            .node(to)
            .command("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(script.as_bytes())?;
                }
                child.wait_with_output()
            })
            .map_err(|e| LabError::io("nft", e))?;
        if !out.status.success() {
            return Err(LabError::Invalid(format!(
                "nft: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        self.lab
            .timeline()
            .record("nemesis", format!("one-way cut node{from} -> node{to}"));
        Ok(())
    }

    /// `hbctl --json status` on node `i` (our stack), or `None` when hbd does not answer.
    pub fn status(&self, i: usize) -> Option<serde_json::Value> {
        let hbctl = self.bins.path("hbctl").display().to_string();
        let out = self
            .lab
            .node(i)
            .output(&[hbctl.as_str(), "--json", "status"])
            .ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Runs `hbctl ARGS` on node `i` (our stack), as an administrator would there.
    pub fn hbctl(&self, i: usize, args: &[&str]) -> Result<std::process::Output> {
        let hbctl = self.bins.path("hbctl").display().to_string();
        let mut argv = vec![hbctl.as_str()];
        argv.extend_from_slice(args);
        self.lab.node(i).output(&argv)
    }

    /// What node `on` says of node `of` (`active`, `up`, `dead`, …): `hbctl nodestatus`
    /// for our stack, `cl_status nodestatus` for heartbeat.
    pub fn nodestatus(&self, on: usize, of: &str) -> String {
        let hbctl = self.bins.path("hbctl").display().to_string();
        let argv: Vec<&str> = match self.spec.stack {
            Stack::Ours => vec![hbctl.as_str(), "nodestatus", of],
            Stack::Heartbeat => vec!["cl_status", "nodestatus", of],
        };
        match self.lab.node(on).output(&argv) {
            Ok(o) => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            Err(e) => e.to_string(),
        }
    }

    /// The page the client gets from the floating IP (`served by web1`), if any.
    pub fn fetch(&self) -> Option<String> {
        let url = format!("http://{}/", self.vip);
        let out = self
            .lab
            .node(self.client())
            .output(&["curl", "-s", "--max-time", "0.3", url.as_str()])
            .ok()?;
        let body = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !body.is_empty()).then_some(body)
    }

    /// The web nodes that have the floating IP configured now. The nodes are asked one
    /// after the other, so a handover from web1 to web2 between the two questions would
    /// look like both at once: when a later node answers yes, every earlier one that said
    /// yes is asked again, and counts only if it still has it (it then had it while the
    /// later one did).
    pub fn vip_holders(&self) -> Vec<String> {
        let first: Vec<bool> = self.web_nodes().map(|i| self.holds_vip(i)).collect();
        let n = first.len();
        (0..n)
            .filter(|&k| first[k] && (!first[k + 1..].contains(&true) || self.holds_vip(k + 1)))
            .map(|k| format!("web{}", k + 1))
            .collect()
    }

    fn holds_vip(&self, i: usize) -> bool {
        self.lab
            .node(i)
            .output(&["ip", "-4", "-o", "addr", "show"])
            .is_ok_and(|out| {
                String::from_utf8_lossy(&out.stdout).contains(&format!(" {}/", self.vip))
            })
    }

    /// The fence records in fenced's history on node `i` (JSON lines), newest last.
    pub fn fence_history(&self, i: usize) -> Vec<serde_json::Value> {
        let Ok(dir) = self.private(i, "/var/lib/cluster") else {
            return Vec::new();
        };
        std::fs::read_to_string(dir.join("fence-history.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until `probe` holds, polling every 50 ms; the time it took.
    pub fn wait_for(
        &self,
        what: &str,
        within: Duration,
        mut probe: impl FnMut() -> bool,
    ) -> Result<Duration> {
        crate::wait::wait_until(within, Duration::from_millis(50), what, &mut probe)
    }

    /// Waits until the client gets the page from `host` (`web1` or `web2`).
    pub fn wait_served_by(&self, host: &str, within: Duration) -> Result<Duration> {
        let want = format!("served by {host}");
        self.wait_for(&format!("the page served by {host}"), within, || {
            self.fetch().is_some_and(|b| b == want)
        })
    }

    /// The last lines of every daemon log of the web nodes, for failure messages.
    /// Checks that every daemon of the stack runs on every web node that is powered on: a
    /// daemon that refused its configuration exits at once, and a cluster that serves
    /// without it (hbd alone still fails over) is not the cluster asked for. The error names
    /// the node and the daemon and quotes the end of its log.
    pub fn check_daemons(&self) -> Result<()> {
        let names: &[&str] = match (self.spec.stack, self.spec.qdisk) {
            (Stack::Heartbeat, _) => &[],
            (Stack::Ours, true) => &["qdiskd", "fenced", "hbd"],
            (Stack::Ours, false) => &["fenced", "hbd"],
        };
        let mut missing = Vec::new();
        for i in self.web_nodes() {
            let node = self.lab.node(i);
            for name in names {
                if self.daemon_pid(i, name).is_none() {
                    let log = node.log_dir().join(format!("lab-{name}.log"));
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(5).collect();
                    missing.push(format!(
                        "{name} is not running on {}; the end of {}:\n{}",
                        node.hostname(),
                        log.display(),
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    ));
                }
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(LabError::Invalid(missing.join("\n")))
        }
    }

    /// The last 30 lines of every web node's daemon logs.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for i in self.web_nodes() {
            let node = self.lab.node(i);
            let Ok(entries) = std::fs::read_dir(node.log_dir()) else {
                continue;
            };
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                s.push_str(&format!(
                    "--- {} {} ---\n{}\n",
                    node.hostname(),
                    e.file_name().to_string_lossy(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
        }
        s
    }
}
