//! One schedule's merged timeline as text: its header, its faults and violations, then
//! every event in time order.

use super::super::record::{RunRecord, Sample, Verdict};
use super::{by_time, secs, shape_line, visible};

/// One line of the merged timeline.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry {
    /// When.
    pub at_s: f64,
    /// Who: a timeline line's own source, or `fault`, `fence`, `disk`, `observer`,
    /// `recovery`, `VIOLATION`.
    pub source: String,
    /// What.
    pub what: String,
    /// Whether it is a violation (printed with a `!!` prefix).
    pub violation: bool,
}

impl Entry {
    fn new(at_s: f64, source: &str, what: String) -> Entry {
        Entry {
            at_s,
            source: source.to_string(),
            what,
            violation: false,
        }
    }
}

/// The observer's samples reduced to their changes: the first sample, then each one whose
/// answering node, floating-IP holders or client ARP entry differ from the sample before.
pub(super) fn sample_changes(samples: &[Sample]) -> Vec<Entry> {
    let mut sorted: Vec<&Sample> = samples.iter().collect();
    sorted.sort_by(|a, b| by_time(a.at_s, b.at_s));
    let mut out = Vec::new();
    let mut previous: Option<&Sample> = None;
    for s in sorted {
        let what = match previous {
            None => format!("first sample: {}", describe(s, None)),
            Some(p) if same_state(p, s) => continue,
            Some(p) => describe(s, Some(p)),
        };
        out.push(Entry::new(s.at_s, "observer", what));
        previous = Some(s);
    }
    out
}

fn holders(s: &Sample) -> Vec<&str> {
    let mut holders: Vec<&str> = s.vip_holders.iter().map(String::as_str).collect();
    holders.sort_unstable();
    holders.dedup();
    holders
}

fn same_state(a: &Sample, b: &Sample) -> bool {
    a.served_by == b.served_by && a.arp_owner == b.arp_owner && holders(a) == holders(b)
}

/// `served by web1, vip on web1, arp web1`, each changed part followed by `(was ...)`.
fn describe(s: &Sample, previous: Option<&Sample>) -> String {
    let served = |s: &Sample| match &s.served_by {
        Some(node) => format!("served by {node}"),
        None => "no answer".to_string(),
    };
    let vip = |s: &Sample| {
        let holders = holders(s);
        if holders.is_empty() {
            "vip on nobody".to_string()
        } else {
            format!("vip on {}", holders.join("+"))
        }
    };
    let arp = |s: &Sample| format!("arp {}", s.arp_owner.as_deref().unwrap_or("none"));
    let part = |f: &dyn Fn(&Sample) -> String| {
        let now = f(s);
        match previous.map(f) {
            Some(before) if before != now => format!("{now} (was: {before})"),
            _ => now,
        }
    };
    format!("{}, {}, {}", part(&served), part(&vip), part(&arp))
}

/// Every event of the schedule, in time order (stable: of simultaneous events, faults come
/// first, then the timeline's lines, fences, disk ownership, samples, the recovery clock and
/// the violations).
pub(super) fn entries(record: &RunRecord) -> Vec<Entry> {
    let mut out = Vec::new();
    for f in &record.faults {
        match f.end_s {
            Some(end) => {
                out.push(Entry::new(
                    f.start_s,
                    "fault",
                    format!("begins: {}", f.spec),
                ));
                out.push(Entry::new(
                    end,
                    "fault",
                    format!("ends: {} (after {:.3} s)", f.spec, end - f.start_s),
                ));
            }
            None => out.push(Entry::new(
                f.start_s,
                "fault",
                format!("{} (instant, or never lifted)", f.spec),
            )),
        }
    }
    for line in &record.timeline {
        out.push(Entry::new(line.at_s, &line.source, line.what.clone()));
    }
    for fence in &record.fences {
        let mut what = format!("{} fenced {}: {}", fence.by, fence.victim, fence.result);
        if !fence.victim_faulted {
            what.push_str(" (the victim was not faulted)");
        }
        out.push(Entry::new(fence.at_s, "fence", what));
    }
    for own in &record.ownership {
        out.push(Entry::new(
            own.first_s,
            "disk",
            format!(
                "{} owns the disk: first record of incarnation {:#x}",
                own.node, own.incarnation
            ),
        ));
        out.push(Entry::new(
            own.last_s,
            "disk",
            format!(
                "{}: last record of incarnation {:#x} ({} records over {:.3} s)",
                own.node,
                own.incarnation,
                own.records,
                own.last_s - own.first_s
            ),
        ));
    }
    out.extend(sample_changes(&record.samples));
    if record.verdict != Verdict::LabError {
        out.push(Entry::new(
            record.faults_end_s,
            "recovery",
            format!(
                "faults over: the service must be back within {}",
                secs(record.recovery_bound_s)
            ),
        ));
        match record.recovered_after_s {
            Some(after) => out.push(Entry::new(
                record.faults_end_s + after,
                "recovery",
                format!("service back after {after:.3} s"),
            )),
            None => out.push(Entry::new(
                record.faults_end_s + record.recovery_bound_s,
                "recovery",
                "bound reached: the service is not back".to_string(),
            )),
        }
    }
    for v in &record.violations {
        out.push(Entry {
            at_s: v.at_s,
            source: "VIOLATION".to_string(),
            what: format!("{}: {}", v.kind, v.detail),
            violation: true,
        });
    }
    out.sort_by(|a, b| by_time(a.at_s, b.at_s));
    out
}

/// One line: `  12.345 s  source    what`, `!!` instead of the indent for a violation; the
/// continuation lines of a multi-line text are indented under its first.
fn push_line(out: &mut String, violation: bool, at_s: f64, source: &str, width: usize, what: &str) {
    let head = format!(
        "{}{at_s:>9.3} s  {:<width$}  ",
        if violation { "!!" } else { "  " },
        visible(source, false)
    );
    let indent = " ".repeat(head.chars().count());
    let what = visible(what, true);
    let mut lines = what.lines();
    out.push_str(&head);
    out.push_str(lines.next().unwrap_or(""));
    out.push('\n');
    for line in lines {
        out.push_str(&indent);
        out.push_str(line);
        out.push('\n');
    }
}

/// The header of a schedule: seed and cluster, verdict, error, the recovery figures.
pub(super) fn header(record: &RunRecord) -> String {
    let mut out = format!("seed {}: {}\n", record.seed, shape_line(&record.shape));
    out.push_str(&format!(
        "verdict: {} ({} violation{})\n",
        record.verdict.word(),
        record.violations.len(),
        if record.violations.len() == 1 {
            ""
        } else {
            "s"
        }
    ));
    if let Some(error) = &record.error {
        out.push_str(&format!("error: {}\n", visible(error, false)));
    }
    out.push_str(&format!(
        "fault phase {}, faults end at {:.3} s, recovery bound {}: {}\n",
        secs(record.duration_s),
        record.faults_end_s,
        secs(record.recovery_bound_s),
        match (record.verdict, record.recovered_after_s) {
            (Verdict::LabError, _) => "no figures, the lab failed".to_string(),
            (_, Some(s)) => format!("back after {s:.3} s"),
            (_, None) => "never back within the bound".to_string(),
        }
    ));
    if record.verdict != Verdict::LabError {
        out.push_str(&format!(
            "longest outage: {}\n",
            secs(record.longest_outage_s)
        ));
    }
    out
}

/// One schedule's merged timeline: the header (seed, cluster, verdict, error if any, the
/// recovery figures), the faults, the violations, then every timeline line, fault start and
/// end, fence, disk-ownership span start and end, violation and change the observer saw
/// (the first sample, then each sample whose answering node, floating-IP holders or ARP
/// entry changed), in time order, one a line: `  12.345 s  source    what`. Violations are
/// marked `!!` at the start of their line.
pub fn merged_timeline(record: &RunRecord) -> String {
    let mut out = header(record);
    out.push_str(&format!("\nfaults ({}):\n", record.faults.len()));
    let mut faults: Vec<_> = record.faults.iter().collect();
    faults.sort_by(|a, b| by_time(a.start_s, b.start_s));
    for f in faults {
        let (end, note) = match f.end_s {
            Some(end) => (format!("{end:>9.3} s"), ""),
            None => (format!("{:>11}", "-"), "  (instant, or never lifted)"),
        };
        out.push_str(&format!(
            "  {:>9.3} s - {end}  {}{note}\n",
            f.start_s,
            visible(&f.spec, false)
        ));
    }
    let entries = entries(record);
    let width = entries
        .iter()
        .map(|e| e.source.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 16);
    if !record.violations.is_empty() {
        out.push_str(&format!("\nviolations ({}):\n", record.violations.len()));
        for e in entries.iter().filter(|e| e.violation) {
            push_line(&mut out, true, e.at_s, &e.source, width, &e.what);
        }
    }
    out.push_str(&format!("\ntimeline ({} lines):\n", entries.len()));
    for e in &entries {
        push_line(&mut out, e.violation, e.at_s, &e.source, width, &e.what);
    }
    out
}
