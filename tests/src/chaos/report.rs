//! The campaign's output, read the way Jepsen's reports are read: a summary of every
//! schedule with the campaign's totals ([`summary_table`], [`summary_markdown`]), one
//! schedule's merged timeline as text ([`merged_timeline`]) and one self-contained HTML page
//! with a timeline plot per schedule ([`html_report`]); [`write_reports`] writes them all.
//!
//! Everything is rendered from [`RunRecord`]s alone, so a campaign's `record.json` files can
//! be rendered again later. Schedules whose lab failed (`lab-error`) prove nothing: they are
//! counted, but left out of the outage and recovery figures.

mod html;
mod summary;
mod timeline;

#[cfg(test)]
mod tests;

use std::path::Path;

use super::record::{ClusterShape, RunRecord, Verdict};

pub use html::html_report;
pub use summary::{summary_markdown, summary_table};
pub use timeline::merged_timeline;

/// Writes the campaign's reports into `dir` (created if missing): `summary.txt`
/// ([`summary_table`]), `summary.md` ([`summary_markdown`]), `report.html`
/// ([`html_report`]) and, per schedule, `seed-N/timeline.txt` ([`merged_timeline`]).
pub fn write_reports(dir: &Path, records: &[RunRecord]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("summary.txt"), summary_table(records))?;
    std::fs::write(dir.join("summary.md"), summary_markdown(records))?;
    std::fs::write(dir.join("report.html"), html_report(records))?;
    for record in records {
        let seed_dir = dir.join(format!("seed-{}", record.seed));
        std::fs::create_dir_all(&seed_dir)?;
        std::fs::write(seed_dir.join("timeline.txt"), merged_timeline(record))?;
    }
    Ok(())
}

/// Seconds for tables: `12.3 s`.
fn secs(s: f64) -> String {
    format!("{s:.1} s")
}

/// The cluster in one line: `3 nodes, stack ours, qdisk yes, fencing ipmi, timing fast`.
fn shape_line(shape: &ClusterShape) -> String {
    format!(
        "{} nodes, stack {}, qdisk {}, fencing {}, timing {}",
        shape.nodes,
        shape.stack,
        yes_no(shape.qdisk),
        shape.fencing,
        shape.timing
    )
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Every verdict, in the order tables list them.
const VERDICTS: [Verdict; 4] = [
    Verdict::Ok,
    Verdict::Violation,
    Verdict::NoRecovery,
    Verdict::LabError,
];

/// How a record's recovery reads: `4.2 s`, `never`, or `-` when the lab failed (the
/// schedule proves nothing, recovery included).
fn recovery_cell(record: &RunRecord) -> String {
    match (record.verdict, record.recovered_after_s) {
        (Verdict::LabError, _) => "-".to_string(),
        (_, Some(s)) => secs(s),
        (_, None) => "never".to_string(),
    }
}

/// Orders two times, NaN last.
fn by_time(a: f64, b: f64) -> std::cmp::Ordering {
    a.total_cmp(&b)
}

/// The text with control characters (other than the line breaks and tabs `keep` allows)
/// made visible as escapes, so a stray byte in a daemon's log cannot garble a terminal.
fn visible(s: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' if keep_newlines => out.push(c),
            '\n' | '\t' | '\r' => out.push(' '),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}
