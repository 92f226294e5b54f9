//! A campaign: many schedules, one after the other, with progress, records and reports.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crate::chaos::record::{RunRecord, Verdict};
use crate::chaos::report;
use crate::chaos::run::{run, save, RunConfig};
use crate::chaos::schedule::{draw, Constraints};
use crate::error::{LabError, Result};

/// Parses `A..B` (B excluded) or `A..=B` or a single seed `A`.
pub fn parse_seeds(text: &str) -> Result<std::ops::Range<u64>> {
    let bad = || {
        LabError::Invalid(format!(
            "seeds {text:?}: give a range like 1..201 (201 excluded), 1..=200, or one seed"
        ))
    };
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    let range = if let Some((a, b)) = text.split_once("..=") {
        num(a)?..num(b)?.checked_add(1).ok_or_else(bad)?
    } else if let Some((a, b)) = text.split_once("..") {
        num(a)?..num(b)?
    } else {
        let a = num(text)?;
        a..a + 1
    };
    if range.is_empty() {
        return Err(bad());
    }
    Ok(range)
}

/// Runs every seed of `seeds`; writes `DIR/seed-N/record.json` after each, the reports
/// (`summary.txt`, `summary.md`, `report.html`, timelines) at the end. Returns the records.
/// Once `config.interrupted` is set the running schedule stops (its cluster torn down) and
/// the records of the schedules that finished are returned.
pub fn campaign(
    seeds: std::ops::Range<u64>,
    constraints: &Constraints,
    config: &RunConfig,
    out: &Path,
) -> Result<Vec<RunRecord>> {
    std::fs::create_dir_all(out).map_err(|e| LabError::io(out, e))?;
    let total = seeds.end - seeds.start;
    let started = Instant::now();
    let mut records = Vec::new();
    for (k, seed) in seeds.enumerate() {
        let schedule = draw(seed, constraints);
        let o = &schedule.options;
        print!(
            "[{}/{total}] seed {seed}: {} nodes, {} fencing, {}, timing {}, {} s, {} steps ... ",
            k + 1,
            o.nodes,
            o.fencing,
            if o.qdisk { "qdisk" } else { "no qdisk" },
            o.timing,
            schedule.duration.as_secs(),
            schedule.steps.len()
        );
        let _ = std::io::stdout().flush();
        let dir = out.join(format!("seed-{seed}"));
        std::fs::create_dir_all(&dir).map_err(|e| LabError::io(&dir, e))?;
        let sched_path = dir.join("schedule.txt");
        std::fs::write(&sched_path, schedule.render()).map_err(|e| LabError::io(&sched_path, e))?;
        let begun = Instant::now();
        let record = run(&schedule, config);
        if config.interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            // A schedule cut short proved nothing: left out, as are the seeds not run.
            println!("interrupted: the cluster was torn down");
            break;
        }
        save(out, &record)?;
        let recovered = record
            .recovered_after_s
            .map_or("never".to_string(), |s| format!("{s:.1} s"));
        println!(
            "{} ({} faults, {} fences, {} violations, longest outage {:.1} s, recovered {recovered}) in {:.0} s",
            record.verdict.word(),
            record.faults.len(),
            record.fences.len(),
            record.violations.len(),
            record.longest_outage_s,
            begun.elapsed().as_secs_f64()
        );
        if let Some(e) = &record.error {
            println!("    lab error: {e}");
        }
        for v in &record.violations {
            println!("    !! {} at {:.3} s: {}", v.kind, v.at_s, v.detail);
        }
        if record.verdict == Verdict::Violation {
            println!(
                "    the schedule: {}; the timeline: {}",
                sched_path.display(),
                dir.join("timeline.txt").display()
            );
        }
        records.push(record);
        // Reports after every schedule: an interrupted campaign still has them.
        report::write_reports(out, &records).map_err(|e| LabError::io(out, e))?;
    }
    println!(
        "\n{}\n{} schedules in {:.1} min; report: {}",
        report::summary_table(&records),
        records.len(),
        started.elapsed().as_secs_f64() / 60.0,
        out.join("report.html").display()
    );
    Ok(records)
}

/// Reads every `seed-N/record.json` under `dirs` (campaigns run side by side, or an
/// interrupted one and its continuation), in seed order; a seed found twice is an error.
pub fn load_records(dirs: &[std::path::PathBuf]) -> Result<Vec<RunRecord>> {
    let mut records: Vec<RunRecord> = Vec::new();
    for dir in dirs {
        let entries = std::fs::read_dir(dir).map_err(|e| LabError::io(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| LabError::io(dir, e))?;
            let path = entry.path().join("record.json");
            if !entry.file_name().to_string_lossy().starts_with("seed-") || !path.exists() {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| LabError::io(&path, e))?;
            let record: RunRecord = serde_json::from_str(&text).map_err(|e| {
                LabError::Invalid(format!("{}: not a schedule record: {e}", path.display()))
            })?;
            if records.iter().any(|r| r.seed == record.seed) {
                return Err(LabError::Invalid(format!(
                    "seed {} is in two of the directories ({}); give each seed once",
                    record.seed,
                    path.display()
                )));
            }
            records.push(record);
        }
    }
    records.sort_by_key(|r| r.seed);
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seed: u64) -> RunRecord {
        RunRecord {
            seed,
            shape: crate::chaos::record::ClusterShape {
                nodes: 2,
                stack: "ours".into(),
                qdisk: true,
                fencing: "ipmi".into(),
                timing: "demo".into(),
            },
            verdict: Verdict::Ok,
            error: None,
            duration_s: 30.0,
            faults_end_s: 31.0,
            recovery_bound_s: 50.0,
            recovered_after_s: Some(0.0),
            longest_outage_s: 0.0,
            faults: Vec::new(),
            samples: Vec::new(),
            fences: Vec::new(),
            ownership: Vec::new(),
            violations: Vec::new(),
            timeline: Vec::new(),
        }
    }

    #[test]
    fn campaigns_run_side_by_side_merge_in_seed_order_and_a_seed_counts_once() {
        let a = tempfile::tempdir().expect("tmp");
        let b = tempfile::tempdir().expect("tmp");
        for seed in [3, 1] {
            save(a.path(), &record(seed)).expect("save");
        }
        save(b.path(), &record(2)).expect("save");
        std::fs::create_dir(b.path().join("seed-9")).expect("a seed still running");
        let dirs = [a.path().to_path_buf(), b.path().to_path_buf()];
        let seeds: Vec<u64> = load_records(&dirs)
            .expect("load")
            .iter()
            .map(|r| r.seed)
            .collect();
        assert_eq!(seeds, [1, 2, 3]);
        save(b.path(), &record(3)).expect("save");
        let e = load_records(&dirs).expect_err("twice").to_string();
        assert!(e.contains("seed 3 is in two of the directories"), "{e}");
    }

    #[test]
    fn seed_ranges_parse_with_clear_errors() {
        assert_eq!(parse_seeds("1..201").expect("range"), 1..201);
        assert_eq!(parse_seeds("1..=200").expect("range"), 1..201);
        assert_eq!(parse_seeds("7").expect("one"), 7..8);
        for bad in ["", "a..b", "5..5", "9..3", "1..=x"] {
            let err = parse_seeds(bad).expect_err(bad).to_string();
            assert!(err.contains("give a range like 1..201"), "{bad}: {err}");
        }
    }
}
