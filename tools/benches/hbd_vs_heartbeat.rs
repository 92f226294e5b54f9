//! hbd against Debian's heartbeat 3.0.6 in the same lab run: two 2-node clusters side by side
//! (one of hbd, one of heartbeat), same `ha.cf` timings, one ucast medium, sha1 authkeys.
//!
//! - Detection latency: node2 is crashed (links down, then every process killed, at a
//!   random phase of its keepalive); the time until node1 reports it `dead` is measured by
//!   polling each side's own status tool inside node1 (`hbctl nodestatus` for hbd,
//!   `cl_status nodestatus` for heartbeat), so both pay the same polling cost. node2 is then
//!   powered back on and the next round waits until both see each other `active`. Rounds
//!   alternate between the clusters.
//! - Idle cost: CPU time (user + system, every process of the node) over a quiet window,
//!   and resident memory, per node.
//!
//! Profiles: the seed timings of the classic tutorial (keepalive 1 s, deadtime 8 s) and a
//! fast one (keepalive 100 ms, deadtime 500 ms). `BENCH_ROUNDS_SEED` (default 6),
//! `BENCH_ROUNDS_FAST` (default 20), `BENCH_IDLE_SECS` (default 20). Needs root.

#[path = "../tests/common/bins.rs"]
mod bins;
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{env_or, percentile};
use lab::{Daemon, Lab, Net};
use rand::Rng;

use lab::hacluster::HEARTBEAT;
const POLL: Duration = Duration::from_millis(10);
/// heartbeat (and hbd, as heartbeat) advertise deadtime + 2 s during their first 5 s.
const SETTLE: Duration = Duration::from_secs(6);

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Hbd,
    Heartbeat,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Hbd => "hbd",
            Kind::Heartbeat => "heartbeat 3.0.6",
        }
    }
}

struct Profile {
    name: &'static str,
    timing: &'static str,
    keepalive: Duration,
    deadtime: Duration,
    rounds: usize,
}

struct Cluster {
    kind: Kind,
    lab: Lab,
    hbctl: String,
}

impl Cluster {
    fn start(kind: Kind, profile: &Profile, hbd: &Path) -> Cluster {
        let lab = Lab::builder().nodes(2).media(1).build().expect("lab");
        let hacf = format!(
            "logfile /var/log/ha-log\n{}\nudpport 694\nucast hb0 {}\nucast hb0 {}\nauto_failback on\nnode node1\nnode node2\n",
            profile.timing,
            Net::Heartbeat(0).node_addr(1),
            Net::Heartbeat(0).node_addr(2)
        );
        for node in lab.nodes() {
            let etc = node.private_dir("/etc/ha.d").expect("private /etc/ha.d");
            if kind == Kind::Heartbeat {
                lab::hacluster::prepare_heartbeat_node(node).expect("heartbeat's files");
            }
            std::fs::write(etc.join("ha.cf"), &hacf).expect("ha.cf");
            let keys = etc.join("authkeys");
            std::fs::write(&keys, "auth 1\n1 sha1 bench-secret\n").expect("authkeys");
            std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .expect("chmod");
            std::fs::write(etc.join("haresources"), "").expect("haresources");
            let daemon = match kind {
                Kind::Hbd => Daemon::new(
                    "hbd",
                    &[
                        hbd.display().to_string().as_str(),
                        "--self-fence",
                        "kill-cgroup",
                    ],
                ),
                Kind::Heartbeat => lab::hacluster::heartbeat_daemon(),
            };
            node.add_daemon(daemon).expect("start");
        }
        Cluster {
            kind,
            lab,
            hbctl: env!("CARGO_BIN_EXE_hbctl").to_string(),
        }
    }

    /// What node `on` says of node `of`, through that implementation's status tool.
    fn nodestatus(&self, on: usize, of: usize) -> String {
        let node = format!("node{of}");
        let argv: Vec<&str> = match self.kind {
            Kind::Hbd => vec![self.hbctl.as_str(), "nodestatus", &node],
            Kind::Heartbeat => vec!["cl_status", "nodestatus", &node],
        };
        match self.lab.node(on).output(&argv) {
            Ok(o) => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            Err(e) => e.to_string(),
        }
    }

    fn wait_active(&self, within: Duration) {
        let t = Instant::now();
        while !(self.nodestatus(1, 2) == "active" && self.nodestatus(2, 1) == "active") {
            assert!(
                t.elapsed() < within,
                "{}: nodes not active after {within:?}",
                self.kind.name()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Crash node2, return the time until node1 says it is dead.
    fn detection(&self, within: Duration) -> Duration {
        let t = Instant::now();
        self.lab.node(2).crash().expect("crash node2");
        loop {
            if self.nodestatus(1, 2) == "dead" {
                return t.elapsed();
            }
            assert!(
                t.elapsed() < within,
                "{}: node2 not dead after {within:?}",
                self.kind.name()
            );
            std::thread::sleep(POLL);
        }
    }

    /// CPU seconds per second and resident KiB, per node, over `window`.
    fn idle_cost(&self, window: Duration) -> (f64, u64) {
        let before: Vec<u64> = (1..=2)
            .map(|i| cpu_ticks(&self.lab.node(i).pids()))
            .collect();
        std::thread::sleep(window);
        let after: Vec<u64> = (1..=2)
            .map(|i| cpu_ticks(&self.lab.node(i).pids()))
            .collect();
        let ticks = rustix::param::clock_ticks_per_second() as f64;
        let cpu = (0..2)
            .map(|i| after[i].saturating_sub(before[i]) as f64 / ticks / window.as_secs_f64())
            .sum::<f64>()
            / 2.0;
        let rss = (1..=2)
            .map(|i| rss_kib(&self.lab.node(i).pids()))
            .sum::<u64>()
            / 2;
        (cpu, rss)
    }
}

fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|s| {
            // Fields after the command name (which is in parentheses and may hold spaces).
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .sum()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    lab::root::require_root("the hbd_vs_heartbeat benchmark");
    assert!(
        Path::new(HEARTBEAT).exists(),
        "Debian's heartbeat is not installed: run scripts/install-test-deps.sh"
    );
    let hbd = bins::sibling("hbd", "hbd");
    let idle = Duration::from_secs(env_or("BENCH_IDLE_SECS", 20) as u64);
    let profiles = [
        Profile {
            name: "seed (keepalive 1s, deadtime 8s)",
            timing: "keepalive 1000ms\ndeadtime 8\nwarntime 10\ninitdead 10",
            keepalive: Duration::from_secs(1),
            deadtime: Duration::from_secs(8),
            rounds: env_or("BENCH_ROUNDS_SEED", 6),
        },
        Profile {
            name: "fast (keepalive 100ms, deadtime 500ms)",
            timing: "keepalive 100ms\ndeadtime 500ms\nwarntime 300ms\ninitdead 2",
            keepalive: Duration::from_millis(100),
            deadtime: Duration::from_millis(500),
            rounds: env_or("BENCH_ROUNDS_FAST", 20),
        },
    ];
    let mut rng = rand::rng();
    for profile in &profiles {
        println!("== {}", profile.name);
        let clusters = [
            Cluster::start(Kind::Hbd, profile, &hbd),
            Cluster::start(Kind::Heartbeat, profile, &hbd),
        ];
        for c in &clusters {
            c.wait_active(Duration::from_secs(60));
        }
        // Both implementations advertise deadtime + 2 s during their first 5 s.
        std::thread::sleep(SETTLE);
        let mut latency: [Vec<Duration>; 2] = Default::default();
        let within = profile.deadtime * 4 + Duration::from_secs(5);
        for round in 0..profile.rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for &i in &order {
                let c = &clusters[i];
                // A random phase against the keepalive.
                std::thread::sleep(rng.random_range(Duration::ZERO..profile.keepalive));
                latency[i].push(c.detection(within));
                c.lab.node(2).power_cycle().expect("node2 back on");
                c.wait_active(Duration::from_secs(60));
                // Past the restarted node's start-up (deadtime + 2 s advertised for 5 s).
                std::thread::sleep(SETTLE);
            }
        }
        let mut idle_cost = Vec::new();
        for c in &clusters {
            idle_cost.push(c.idle_cost(idle));
        }
        let mut medians = Vec::new();
        for (i, c) in clusters.iter().enumerate() {
            let l = &mut latency[i];
            l.sort();
            let med = percentile(l, 0.5);
            medians.push(med);
            println!(
                "{:<16} detection: median {:>6.0} ms, p90 {:>6.0} ms, min {:>6.0} ms, max {:>6.0} ms ({} rounds; deadtime {} ms)",
                c.kind.name(),
                med.as_secs_f64() * 1e3,
                percentile(l, 0.9).as_secs_f64() * 1e3,
                l[0].as_secs_f64() * 1e3,
                l[l.len() - 1].as_secs_f64() * 1e3,
                l.len(),
                profile.deadtime.as_millis()
            );
        }
        for (i, c) in clusters.iter().enumerate() {
            println!(
                "{:<16} idle: {:.3} % CPU per node, {} KiB RSS per node (over {} s)",
                c.kind.name(),
                idle_cost[i].0 * 100.0,
                idle_cost[i].1,
                idle.as_secs()
            );
        }
        println!(
            "ratio heartbeat/hbd: detection {:.2}x, idle CPU {:.2}x, RSS {:.2}x",
            medians[1].as_secs_f64() / medians[0].as_secs_f64(),
            idle_cost[1].0 / idle_cost[0].0.max(1e-9),
            idle_cost[1].1 as f64 / idle_cost[0].1.max(1) as f64
        );
    }
}
