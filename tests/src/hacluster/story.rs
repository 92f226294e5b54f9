//! A failover, followed: what was done and what each daemon logged, on one timeline.

use super::*;

/// A timeline of one scenario, relative to the moment something was done (the crash).
#[derive(Debug, Default)]
pub struct Story {
    lines: Vec<(Duration, String, String)>,
}

impl Story {
    /// An empty story.
    pub fn new() -> Story {
        Story::default()
    }

    /// Records `what`, seen by `who`, `at` after the start.
    pub fn record(&mut self, at: Duration, who: &str, what: impl Into<String>) {
        self.lines.push((at, who.to_string(), what.into()));
        self.lines.sort_by_key(|(t, _, _)| *t);
    }

    /// The events: time, who, what.
    pub fn lines(&self) -> &[(Duration, String, String)] {
        &self.lines
    }

    /// When the first event containing `what` happened.
    pub fn when(&self, what: &str) -> Option<Duration> {
        self.lines
            .iter()
            .find(|(_, _, w)| w.contains(what))
            .map(|(t, _, _)| *t)
    }

    /// The story, one line per event: `+  1.234 s  web2     what`.
    pub fn render(&self) -> String {
        self.lines
            .iter()
            .map(|(t, who, what)| format!("  +{:>7.3} s  {who:<16} {what}\n", t.as_secs_f64()))
            .collect()
    }
}

/// What the failover scenario saw, for tests and the benchmark.
#[derive(Debug, Default)]
pub struct Failover {
    /// The timeline from the crash on: the survivor's daemons' own log lines (by their
    /// timestamps) and what the client saw.
    pub story: Story,
    /// The most nodes ever seen holding the floating IP at once (must be 1 at most).
    pub max_vip_holders: usize,
    /// Crash to the page served by the survivor.
    pub service_back: Duration,
}

/// Log lines of a node's daemons worth telling, by daemon: hbd's membership, quorum,
/// fencing and resource steps, qdiskd's master and votes, fenced's requests and results.
const TOLD: &[(&str, &[&str])] = &[
    (
        "hbd",
        &[
            "is dead",
            "quorate",
            "fence",
            "Taking over",
            "address added",
            "websrv\" [\"start",
            "Start of",
            "Releasing",
            "Stop of",
            "waits",
        ],
    ),
    ("qdiskd", &["master", "votes", "down", "evict"]),
    ("fenced", &["fence", "level", "quorum"]),
];

/// `2026-12-03T13:29:54.611286Z  INFO [target: ]message` → (time, message).
fn parse_log_line(line: &str) -> Option<(SystemTime, String)> {
    let (stamp, rest) = line.split_once(' ')?;
    let at = humantime::parse_rfc3339(stamp).ok()?;
    let rest = rest.trim_start();
    let (_level, message) = rest.split_once(' ')?;
    let message = message.trim_start();
    let message = match message.split_once(": ") {
        Some((target, m)) if target.contains("::") => m,
        _ => message,
    };
    Some((at, message.to_string()))
}

impl HaCluster {
    /// Adds the log lines worth telling ([`TOLD`]) of node `i`'s daemons, from `since`
    /// (wall clock) for `until`, to `story`, each at its own timestamp.
    pub fn add_logs(&self, i: usize, since: SystemTime, until: Duration, story: &mut Story) {
        let node = self.lab.node(i);
        let log_dir = node.log_dir();
        for (daemon, keys) in TOLD {
            let path = log_dir.join(format!("lab-{daemon}.log"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for line in text.lines() {
                let Some((at, message)) = parse_log_line(line) else {
                    continue;
                };
                let Ok(after) = at.duration_since(since) else {
                    continue;
                };
                if after <= until && keys.iter().any(|k| message.contains(k)) {
                    story.record(after, &format!("{} {daemon}", node.hostname()), message);
                }
            }
        }
    }

    /// Waits until `host` serves and holds the only floating IP (start-up or failback).
    pub fn wait_settled_on(&self, host: &str, within: Duration) -> Result<Duration> {
        let want = format!("served by {host}");
        let mut last = (None, Vec::new());
        self.wait_for(&format!("{host} alone serving"), within, || {
            last = (self.fetch(), self.vip_holders());
            last.0.as_deref() == Some(want.as_str()) && last.1 == [host]
        })
        .map_err(|e| {
            LabError::Invalid(format!(
                "{e}; last seen: page {:?}, floating IP on {:?}",
                last.0, last.1
            ))
        })
    }

    /// Crashes `victim` (links down, every process killed: a hung machine), then fetches
    /// the page from the client until the survivor serves it, sampling who holds the
    /// floating IP meanwhile. The story is the survivor's daemons' log lines from the crash
    /// on, by their own timestamps, with the client's view. Fails after `within`.
    pub fn crash_and_follow(&self, victim: usize, within: Duration) -> Result<Failover> {
        let (victim_name, survivor, survivor_name) = if victim == WEB1 {
            ("web1", WEB2, "web2")
        } else {
            ("web2", WEB1, "web1")
        };
        let mut f = Failover::default();
        let crash_wall = SystemTime::now();
        let start = Instant::now();
        self.lab.node(victim).crash()?;
        f.story.record(
            start.elapsed(),
            "lab",
            format!("{victim_name} crashed (links down, every process killed)"),
        );
        let want = format!("served by {survivor_name}");
        let answered;
        loop {
            if start.elapsed() > within {
                return Err(LabError::Timeout {
                    what: format!("the page from {survivor_name} after the crash of {victim_name}"),
                    after: within,
                });
            }
            let holders = self.vip_holders();
            f.max_vip_holders = f.max_vip_holders.max(holders.len());
            let asked = start.elapsed();
            if let Some(page) = self.fetch() {
                if page == want {
                    // The service is back from the moment the successful request was sent;
                    // the story runs to its answer (a request may wait out the takeover:
                    // the fence, the address, the start all happen before it is answered).
                    f.service_back = asked;
                    answered = start.elapsed();
                    f.story.record(
                        answered,
                        "client",
                        format!("http://{}/ answers: {page}", self.vip),
                    );
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.spec.stack == Stack::Ours {
            self.add_logs(survivor, crash_wall, answered, &mut f.story);
        }
        Ok(f)
    }
}
