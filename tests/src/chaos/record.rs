//! What one chaos schedule did and saw: the record the campaign keeps per schedule, writes
//! as JSON (`DIR/seed-N/record.json`) and renders into the summary table, the merged
//! timeline and the HTML report. Times are seconds since the schedule's cluster started, on
//! the lab's one monotonic clock.

use serde::{Deserialize, Serialize};

/// The verdict of one schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every safety rule held and the service came back within the bound.
    Ok,
    /// A safety rule was broken (see [`RunRecord::violations`]).
    Violation,
    /// Safety held but the service did not come back within the bound.
    NoRecovery,
    /// The lab itself failed (the schedule proves nothing); the message says why.
    LabError,
}

impl Verdict {
    /// The word used in tables: `ok`, `VIOLATION`, `no-recovery`, `lab-error`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Violation => "VIOLATION",
            Verdict::NoRecovery => "no-recovery",
            Verdict::LabError => "lab-error",
        }
    }
}

/// The cluster a schedule ran against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterShape {
    /// Cluster nodes (`web1` … `webN`).
    pub nodes: usize,
    /// `ours` or `heartbeat`.
    pub stack: String,
    /// Whether the quorum disk ran.
    pub qdisk: bool,
    /// `ipmi`, `fabric`, `poison` or `noop`.
    pub fencing: String,
    /// `seed`, `demo` or `fast`.
    pub timing: String,
}

/// One fault the schedule injected, as a window: from `start_s` until `end_s` (the fault
/// that lifts it: power-on after power-off, heal after cut, ...), or an instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// The fault kind as `lab cluster fault` spells it (`crash`, `partition`, `loss`, ...).
    pub kind: String,
    /// The whole fault as `lab cluster fault` would take it, e.g. `partition web1/web2,web3`.
    pub spec: String,
    /// The nodes it hit.
    pub nodes: Vec<String>,
    /// When it was injected.
    pub start_s: f64,
    /// When it was lifted; `None` for an instant fault or one never lifted.
    pub end_s: Option<f64>,
}

/// What the observer saw at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When.
    pub at_s: f64,
    /// Who served the client's page (`web2`), or `None` when no answer came.
    pub served_by: Option<String>,
    /// The nodes that had the floating IP configured.
    pub vip_holders: Vec<String>,
    /// The node whose MAC the client's ARP table had for the floating IP, if any.
    pub arp_owner: Option<String>,
}

/// One fence operation, from a node's fence history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FenceEvent {
    /// When it completed.
    pub at_s: f64,
    /// The node whose fenced did it.
    pub by: String,
    /// The victim.
    pub victim: String,
    /// `success`, `failed`, ... as fenced recorded it.
    pub result: String,
    /// Whether the schedule had made the victim unreachable (crashed, powered off, paused,
    /// cut off, daemon killed or paused) at that moment: fencing a reachable, healthy node
    /// is shooting the wrong one.
    pub victim_faulted: bool,
}

/// One writer's ownership of the shared-disk region: the span of landing times of the
/// records of one incarnation of the writer on one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ownership {
    /// The node.
    pub node: String,
    /// The writer's incarnation (random at each start).
    pub incarnation: u64,
    /// When its first record landed.
    pub first_s: f64,
    /// When its last record landed.
    pub last_s: f64,
    /// How many of its records are on the disk.
    pub records: u64,
}

/// A broken safety rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// `disk-overlap` (two writers owned the region at once), `double-vip` (two reachable
    /// nodes answered for the floating IP), `wrong-fence` (a healthy node was fenced), ...
    pub kind: String,
    /// When.
    pub at_s: f64,
    /// What exactly, with the records or samples that prove it.
    pub detail: String,
}

/// One line of the merged timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineLine {
    /// When.
    pub at_s: f64,
    /// `nemesis`, `lab`, `checker`, `web1 hbd`, ...
    pub source: String,
    /// What.
    pub what: String,
}

/// Everything about one schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The seed the schedule was drawn from.
    pub seed: u64,
    /// The cluster.
    pub shape: ClusterShape,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, when the lab failed.
    pub error: Option<String>,
    /// Length of the fault phase.
    pub duration_s: f64,
    /// When the last fault was lifted (the recovery clock starts there).
    pub faults_end_s: f64,
    /// The bound within which the service must be back after the faults end.
    pub recovery_bound_s: f64,
    /// How long after the faults ended the service was back (served and one holder), or
    /// `None` if it never was within the bound.
    pub recovered_after_s: Option<f64>,
    /// The longest stretch without an answer to the client, from the first answer on.
    pub longest_outage_s: f64,
    /// The faults.
    pub faults: Vec<FaultWindow>,
    /// The observer's samples.
    pub samples: Vec<Sample>,
    /// Every fence operation of every node.
    pub fences: Vec<FenceEvent>,
    /// The shared-disk writer's ownership spans, by first landing.
    pub ownership: Vec<Ownership>,
    /// Broken rules.
    pub violations: Vec<Violation>,
    /// The merged timeline: lab events, the daemons' logs, the checker's findings.
    pub timeline: Vec<TimelineLine>,
}
