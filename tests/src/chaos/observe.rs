//! The observer: what the client gets, who holds the floating IP, and which machine answers
//! ARP for it, sampled from outside the cluster (from the namespaces, with `ip`, `curl` and
//! `arping`, the tools an administrator would use), never from the daemons' own claims.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::chaos::record::{Sample, Violation};
use crate::hacluster::HaCluster;
use crate::topology::Net;

/// How often the observer samples.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The observer's findings so far, shared with the thread that samples.
#[derive(Debug, Default)]
pub struct Observations {
    /// The samples.
    pub samples: Vec<Sample>,
    /// Two machines answered ARP for the floating IP at once (both reachable from the
    /// client): proof from the client's own view.
    pub violations: Vec<Violation>,
    /// Since when two machines answer ARP for the floating IP, while they do.
    pub double_since: Option<f64>,
}

/// Samples a cluster from outside.
pub struct Observer<'a> {
    cluster: &'a HaCluster,
    start: Instant,
    /// MAC address of each web node's heartbeat interface → its name.
    macs: BTreeMap<String, String>,
    vip: String,
    client_ns: String,
}

fn output(mut command: Command) -> Option<String> {
    let out = command.output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ip_in(ns: &str, args: &[&str]) -> Option<String> {
    let mut c = Command::new("ip");
    c.args(["-n", ns]).args(args);
    output(c)
}

impl<'a> Observer<'a> {
    /// An observer of `cluster`; times are measured from `start`.
    pub fn new(cluster: &'a HaCluster, start: Instant) -> Observer<'a> {
        let mut macs = BTreeMap::new();
        for i in cluster.web_nodes() {
            let node = cluster.node(i);
            let ifname = Net::Heartbeat(0).node_ifname();
            if let Some(text) = ip_in(node.netns().name(), &["-o", "link", "show", &ifname]) {
                if let Some(mac) = text
                    .split_whitespace()
                    .skip_while(|w| *w != "link/ether")
                    .nth(1)
                {
                    macs.insert(mac.to_lowercase(), node.hostname().to_string());
                }
            }
        }
        Observer {
            cluster,
            start,
            macs,
            vip: cluster.vip().to_string(),
            client_ns: cluster.node(cluster.client()).netns().name().to_string(),
        }
    }

    /// Who serves the page now (`web2`), if anyone answers within 300 ms.
    pub fn served_by(&self) -> Option<String> {
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &self.client_ns,
            "curl",
            "-s",
            "--max-time",
            "0.3",
        ])
        .arg(format!("http://{}/", self.vip));
        let body = output(c)?;
        body.trim()
            .strip_prefix("served by ")
            .map(|s| s.trim().to_string())
    }

    /// The web nodes with the floating IP configured.
    pub fn holders(&self) -> Vec<String> {
        self.cluster
            .web_nodes()
            .filter_map(|i| {
                let node = self.cluster.node(i);
                let text = ip_in(node.netns().name(), &["-4", "-o", "addr", "show"])?;
                text.contains(&format!(" {}/", self.vip))
                    .then(|| node.hostname().to_string())
            })
            .collect()
    }

    /// The node whose MAC the client's neighbour table has for the floating IP.
    pub fn arp_owner(&self) -> Option<String> {
        let text = ip_in(&self.client_ns, &["neigh", "show", &self.vip])?;
        let mac = text
            .split_whitespace()
            .skip_while(|w| *w != "lladdr")
            .nth(1)?
            .to_lowercase();
        Some(self.macs.get(&mac).cloned().unwrap_or(mac))
    }

    /// The machines answering ARP for the floating IP, as the client sees them
    /// (`arping`, two requests, up to 1 s).
    pub fn arp_answerers(&self) -> Vec<String> {
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &self.client_ns,
            "arping",
            "-c",
            "2",
            "-w",
            "1",
            "-I",
            &Net::Heartbeat(0).node_ifname(),
            &self.vip,
        ]);
        let Some(text) = output(c) else {
            return Vec::new();
        };
        let mut who: Vec<String> = text
            .lines()
            .filter(|l| l.contains("reply from"))
            .filter_map(|l| {
                let mac = l.split('[').nth(1)?.split(']').next()?.to_lowercase();
                Some(self.macs.get(&mac).cloned().unwrap_or(mac))
            })
            .collect();
        who.sort();
        who.dedup();
        who
    }

    /// One sample; with two or more holders, asks the client who answers ARP.
    pub fn sample(&self, into: &Mutex<Observations>) {
        let at_s = self.start.elapsed().as_secs_f64();
        let holders = self.holders();
        let served_by = self.served_by();
        let arp_owner = self.arp_owner();
        let mut double = None;
        if holders.len() >= 2 {
            let answerers = self.arp_answerers();
            if answerers.len() >= 2 {
                double = Some(Violation {
                    kind: "double-vip".into(),
                    at_s,
                    detail: format!(
                        "{} both answered the client's ARP requests for {} (holders: {})",
                        answerers.join(" and "),
                        self.vip,
                        holders.join(", ")
                    ),
                });
            }
        }
        let mut obs = into.lock().unwrap_or_else(|p| p.into_inner());
        // One violation per episode: consecutive samples with two answerers extend it.
        let ongoing = obs.double_since.is_some();
        match (double, ongoing) {
            (Some(v), false) => {
                obs.double_since = Some(at_s);
                obs.violations.push(v);
            }
            (Some(_), true) => {
                let since = obs.double_since.unwrap_or(at_s);
                if let Some(v) = obs
                    .violations
                    .iter_mut()
                    .rev()
                    .find(|v| v.kind == "double-vip")
                {
                    let base = v.detail.split(" [seen ").next().unwrap_or("").to_string();
                    v.detail = format!("{base} [seen from {since:.3} s to {at_s:.3} s]");
                }
            }
            (None, _) => obs.double_since = None,
        }
        obs.samples.push(Sample {
            at_s,
            served_by,
            vip_holders: holders,
            arp_owner,
        });
    }

    /// Samples every [`SAMPLE_EVERY`] until `stop`.
    pub fn run(&self, into: &Mutex<Observations>, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let begun = Instant::now();
            self.sample(into);
            std::thread::sleep(SAMPLE_EVERY.saturating_sub(begun.elapsed()));
        }
    }
}
