//! The checker: who owned the writer region when, from the moments the lab's disk layer
//! performed the writes, and whether two writers ever owned it at once.
//!
//! Input: the records on the disk ([`super::region::read_region`]) and every node's landing
//! journal ([`crate::disk::SharedDisk::journals`]). Each journaled write that holds a record
//! is a landing of that record at the moment the lab's disk performed it; the writers'
//! claims (`issued_ns`) are only quoted, never trusted. The records of one incarnation of
//! the writer on one node form its ownership span, from its first landing to its last.
//! Records overwritten on the disk since (the ring went round) still count: the journal
//! holds their bytes.
//!
//! Violations (the [`Violation::kind`]s):
//! - `disk-overlap`: the spans of writers on two different nodes overlap: a record of the
//!   one that started first landed after the other's first record had landed.
//! - `disk-double-writer`: the same, for two incarnations on the same node.
//! - `disk-unjournaled`: a record on the disk whose write through its own node's disk was
//!   never journaled (written around the lab's disk layer, or before the journal started):
//!   the checker cannot vouch for it.
//! - `disk-misattributed`: records landed through one node's disk but claim another node
//!   (a writer configured with the wrong node id); their span is the disk's node's.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::record::{instant_ns, Record};
use super::region::Found;
use crate::chaos::record::{Ownership, Violation};
use crate::faultdisk::Landing;

/// What the checker found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckReport {
    /// The writers' ownership spans, by first landing.
    pub ownership: Vec<Ownership>,
    /// The broken rules, by time.
    pub violations: Vec<Violation>,
}

impl CheckReport {
    /// Whether no rule was broken.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// One landing of a record.
struct Landed {
    at: Instant,
    record: Record,
    offset: u64,
}

/// One writer: an incarnation, on the node whose disk its records landed through.
struct Writer {
    disk: u32,
    incarnation: u64,
    name: String,
    landed: Vec<Landed>,
}

impl Writer {
    fn first(&self) -> Instant {
        self.landed[0].at
    }

    fn last(&self) -> Instant {
        self.landed[self.landed.len() - 1].at
    }

    fn label(&self) -> String {
        format!("{} (incarnation {:#018x})", self.name, self.incarnation)
    }
}

/// Checks the records on the disk (`found`) against every node's landing journal
/// (`journals`: `(node, landings)`, the node being the lab node index a record's `node_id`
/// names). Times in the report are seconds since `start`.
pub fn check(found: &[Found], journals: &[(u32, Vec<Landing>)], start: Instant) -> CheckReport {
    let start_ns = instant_ns(start);
    let mut violations = Vec::new();

    // Every journaled write that holds a record, by writer.
    let mut writers: BTreeMap<(u32, u64), Writer> = BTreeMap::new();
    let mut by_place: HashMap<(u64, &[u8]), Vec<u32>> = HashMap::new();
    for (disk, landings) in journals {
        for landing in landings {
            by_place
                .entry((landing.offset, landing.data.as_slice()))
                .or_default()
                .push(*disk);
            let Ok(record) = Record::decode(&landing.data) else {
                continue;
            };
            let writer = writers
                .entry((*disk, record.incarnation))
                .or_insert_with(|| Writer {
                    disk: *disk,
                    incarnation: record.incarnation,
                    name: if record.node_id == *disk {
                        record.node_name.clone()
                    } else {
                        format!(
                            "node{disk} (claiming {} = node {})",
                            record.node_name, record.node_id
                        )
                    },
                    landed: Vec::new(),
                });
            writer.landed.push(Landed {
                at: landing.at,
                record,
                offset: landing.offset,
            });
        }
    }
    let mut writers: Vec<Writer> = writers.into_values().collect();
    for w in &mut writers {
        w.landed.sort_by_key(|l| l.at);
    }
    writers.sort_by_key(|w| (w.first(), w.disk, w.incarnation));

    // Records on the disk the journal cannot vouch for.
    for f in found {
        let disks = by_place
            .get(&(f.offset, f.sector.as_slice()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        if disks.contains(&f.record.node_id) {
            continue;
        }
        let elsewhere = match disks.first() {
            Some(disk) => format!("; it landed through node {disk}'s disk"),
            None => String::new(),
        };
        violations.push(Violation {
            kind: "disk-unjournaled".into(),
            at_s: ns_s(f.record.issued_ns, start_ns),
            detail: format!(
                "{} (node {}, incarnation {:#018x}) record seq {} (issued {:.3} s) at offset {} is on the disk, but no write of it through node {}'s disk was journaled{elsewhere}",
                f.record.node_name,
                f.record.node_id,
                f.record.incarnation,
                f.record.seq,
                ns_s(f.record.issued_ns, start_ns),
                f.offset,
                f.record.node_id,
            ),
        });
    }

    for w in &writers {
        let claimed = &w.landed[0].record;
        if claimed.node_id != w.disk {
            violations.push(Violation {
                kind: "disk-misattributed".into(),
                at_s: rel_s(w.first(), start),
                detail: format!(
                    "{} records of incarnation {:#018x} landed through node {}'s disk but claim to be {}'s (node {}), first at offset {}",
                    w.landed.len(),
                    w.incarnation,
                    w.disk,
                    claimed.node_name,
                    claimed.node_id,
                    w.landed[0].offset
                ),
            });
        }
    }

    // Overlapping spans; `writers` is sorted by first landing, so `early` started first.
    for (i, early) in writers.iter().enumerate() {
        for late in &writers[i + 1..] {
            let since = late.first();
            if early.last() < since {
                continue;
            }
            let after: Vec<&Landed> = early.landed.iter().filter(|l| l.at >= since).collect();
            let Some(offending) = after.first() else {
                continue;
            };
            let r = &offending.record;
            let issued = ns_s(r.issued_ns, start_ns);
            let since_s = rel_s(since, start);
            let delayed = if issued < since_s {
                ", issued before that: a delayed write"
            } else {
                ""
            };
            violations.push(Violation {
                kind: if early.disk == late.disk {
                    "disk-double-writer".into()
                } else {
                    "disk-overlap".into()
                },
                at_s: rel_s(offending.at, start),
                detail: format!(
                    "{} wrote while {} owned the region: record seq {} at offset {} (issued {issued:.3} s, landed {:.3} s) landed after {}'s first record landed at {since_s:.3} s{delayed}; {} of its records landed from then on, the last at {:.3} s",
                    early.label(),
                    late.label(),
                    r.seq,
                    offending.offset,
                    rel_s(offending.at, start),
                    late.name,
                    after.len(),
                    rel_s(early.last(), start),
                ),
            });
        }
    }
    violations.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));

    let ownership = writers
        .iter()
        .map(|w| {
            let mut seqs: Vec<u64> = w.landed.iter().map(|l| l.record.seq).collect();
            seqs.sort_unstable();
            seqs.dedup();
            Ownership {
                node: w.name.clone(),
                incarnation: w.incarnation,
                first_s: rel_s(w.first(), start),
                last_s: rel_s(w.last(), start),
                records: seqs.len() as u64,
            }
        })
        .collect();
    CheckReport {
        ownership,
        violations,
    }
}

/// Seconds from `start` to `at` (negative if before).
fn rel_s(at: Instant, start: Instant) -> f64 {
    match at.checked_duration_since(start) {
        Some(d) => d.as_secs_f64(),
        None => -(start - at).as_secs_f64(),
    }
}

/// Seconds from `start_ns` to `ns`, both `CLOCK_MONOTONIC`.
fn ns_s(ns: u64, start_ns: u64) -> f64 {
    (i128::from(ns) - i128::from(start_ns)) as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A synthetic history: writers' records, when they landed, what the disk holds.
    struct History {
        start: Instant,
        start_ns: u64,
        journals: Vec<(u32, Vec<Landing>)>,
        disk: BTreeMap<u64, Vec<u8>>,
    }

    impl History {
        fn new(nodes: u32) -> History {
            let start = Instant::now();
            History {
                start,
                start_ns: instant_ns(start),
                journals: (1..=nodes).map(|n| (n, Vec::new())).collect(),
                disk: BTreeMap::new(),
            }
        }

        fn at(&self, ms: u64) -> Instant {
            self.start + Duration::from_millis(ms)
        }

        /// Record `seq` of incarnation `inc` of node `node` (its slot `seq % 64` of area
        /// `node`), issued at `issued_ms`, landing through `disk`'s disk at `landed_ms`.
        fn write_via(
            &mut self,
            disk: u32,
            node: u32,
            inc: u64,
            seq: u64,
            issued_ms: u64,
            landed_ms: u64,
        ) {
            let record = Record {
                node_id: node,
                incarnation: inc,
                seq,
                issued_ns: self.start_ns + issued_ms * 1_000_000,
                node_name: format!("web{node}"),
            };
            let data = record.encode().expect("encode").to_vec();
            let offset = u64::from(node) * 65536 + (seq % 64) * 512;
            let at = self.at(landed_ms);
            let journal = &mut self.journals[disk as usize - 1].1;
            journal.push(Landing {
                offset,
                data: data.clone(),
                at,
            });
            self.disk.insert(offset, data);
        }

        fn write(&mut self, node: u32, inc: u64, seq: u64, issued_ms: u64, landed_ms: u64) {
            self.write_via(node, node, inc, seq, issued_ms, landed_ms);
        }

        /// Records every `step_ms` from `from_ms` to `to_ms`, each landing 1 ms after issue.
        fn run(&mut self, node: u32, inc: u64, from_ms: u64, to_ms: u64) -> u64 {
            let mut seq = 0;
            for t in (from_ms..=to_ms).step_by(10) {
                seq += 1;
                self.write(node, inc, seq, t, t + 1);
            }
            seq
        }

        fn found(&self) -> Vec<Found> {
            self.disk
                .iter()
                .filter_map(|(offset, sector)| {
                    Record::decode(sector).ok().map(|record| Found {
                        offset: *offset,
                        record,
                        sector: sector.clone(),
                    })
                })
                .collect()
        }

        fn check(&self) -> CheckReport {
            check(&self.found(), &self.journals, self.start)
        }
    }

    fn kinds(report: &CheckReport) -> Vec<&str> {
        report.violations.iter().map(|v| v.kind.as_str()).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn a_clean_handover_and_failback_is_three_disjoint_spans() {
        let mut h = History::new(2);
        h.run(1, 0xa1, 0, 100);
        h.run(2, 0xb1, 200, 300);
        h.run(1, 0xa2, 400, 500);
        let report = h.check();
        assert!(report.ok(), "{:#?}", report.violations);
        let spans: Vec<(&str, u64, u64)> = report
            .ownership
            .iter()
            .map(|o| (o.node.as_str(), o.incarnation, o.records))
            .collect();
        assert_eq!(
            spans,
            vec![("web1", 0xa1, 11), ("web2", 0xb1, 11), ("web1", 0xa2, 11)]
        );
        let b = &report.ownership[1];
        assert!(close(b.first_s, 0.201) && close(b.last_s, 0.301), "{b:?}");
    }

    #[test]
    fn a_write_after_the_other_node_started_is_an_overlap() {
        let mut h = History::new(2);
        h.run(1, 0xa1, 0, 300);
        h.run(2, 0xb1, 205, 405);
        let report = h.check();
        assert_eq!(kinds(&report), vec!["disk-overlap"], "{report:#?}");
        let v = &report.violations[0];
        // web1's first record landing at or after web2's first (206 ms): seq 22, at 211 ms.
        assert!(close(v.at_s, 0.211), "{v:?}");
        for needed in [
            "web1 (incarnation 0x00000000000000a1) wrote while web2 (incarnation 0x00000000000000b1)",
            "record seq 22",
            "issued 0.210 s, landed 0.211 s",
            "web2's first record landed at 0.206 s",
            "10 of its records",
        ] {
            assert!(v.detail.contains(needed), "{needed:?} not in {}", v.detail);
        }
        assert!(!v.detail.contains("delayed"), "{}", v.detail);
    }

    #[test]
    fn a_stalled_write_landing_after_the_other_started_is_an_overlap() {
        let mut h = History::new(2);
        let last = h.run(1, 0xa1, 0, 100);
        // web1's next write hangs in its disk from 110 ms; web2 takes over at 200 ms; the
        // stall is lifted at 250 ms and the write lands.
        h.write(1, 0xa1, last + 1, 110, 250);
        h.run(2, 0xb1, 200, 300);
        let report = h.check();
        assert_eq!(kinds(&report), vec!["disk-overlap"], "{report:#?}");
        let v = &report.violations[0];
        assert!(close(v.at_s, 0.25), "{v:?}");
        assert!(
            v.detail.contains("record seq 12")
                && v.detail.contains("issued 0.110 s, landed 0.250 s")
                && v.detail.contains("a delayed write")
                && v.detail.contains("1 of its records"),
            "{}",
            v.detail
        );
        // web1's span reaches to the late landing.
        assert!(
            close(report.ownership[0].last_s, 0.25),
            "{:?}",
            report.ownership
        );
    }

    #[test]
    fn a_late_landing_counts_even_when_the_disk_no_longer_holds_it() {
        let mut h = History::new(2);
        h.run(1, 0xa1, 0, 100);
        h.write(1, 0xa1, 12, 110, 250);
        h.run(2, 0xb1, 200, 300);
        // web1 comes back later and its ring goes over the late record's slot.
        h.write(1, 0xa2, 12, 500, 501);
        let report = h.check();
        assert_eq!(kinds(&report), vec!["disk-overlap"], "{report:#?}");
        assert!(report.violations[0]
            .detail
            .contains("incarnation 0x00000000000000a1"));
    }

    #[test]
    fn a_restart_on_the_same_node_after_the_last_landing_is_fine() {
        let mut h = History::new(1);
        h.run(1, 0xa1, 0, 100);
        h.run(1, 0xa2, 150, 250);
        let report = h.check();
        assert!(report.ok(), "{:#?}", report.violations);
        assert_eq!(report.ownership.len(), 2);
    }

    #[test]
    fn two_incarnations_at_once_on_one_node_are_a_double_writer() {
        let mut h = History::new(1);
        h.run(1, 0xa1, 0, 100);
        h.write(1, 0xa2, 50, 55, 56);
        let report = h.check();
        assert_eq!(kinds(&report), vec!["disk-double-writer"], "{report:#?}");
        assert!(report.violations[0].detail.contains("record seq 7"));
    }

    #[test]
    fn three_writers_overlapping_name_each_pair() {
        let mut h = History::new(3);
        h.run(1, 0xa1, 0, 100);
        h.run(2, 0xb1, 50, 150);
        h.run(3, 0xc1, 90, 200);
        let report = h.check();
        assert_eq!(kinds(&report), vec!["disk-overlap"; 3], "{report:#?}");
    }

    #[test]
    fn records_the_journal_cannot_vouch_for_are_reported() {
        let mut h = History::new(2);
        h.run(1, 0xa1, 0, 50);
        // Written around the lab's disk layer.
        let sneaky = Record {
            node_id: 2,
            incarnation: 0xb1,
            seq: 1,
            issued_ns: h.start_ns + 60_000_000,
            node_name: "web2".into(),
        };
        let bytes = sneaky.encode().expect("encode").to_vec();
        h.disk.insert(1 << 20, bytes.clone());
        // On the disk, but its bytes at that offset were journaled different.
        let mut other = h.found()[0].clone();
        let mut changed = other.record.clone();
        changed.seq = 99;
        other.sector = changed.encode().expect("encode").to_vec();
        h.disk.insert(other.offset, other.sector.clone());
        let report = h.check();
        assert_eq!(
            kinds(&report),
            vec!["disk-unjournaled", "disk-unjournaled"],
            "{report:#?}"
        );
        assert!(report
            .violations
            .iter()
            .any(|v| v.detail.contains("web2 (node 2, incarnation 0x00000000000000b1) record seq 1 (issued 0.060 s) at offset 1048576")));
        assert!(report
            .violations
            .iter()
            .any(|v| v.detail.contains("record seq 99")));
    }

    #[test]
    fn a_record_landed_through_another_nodes_disk_is_misattributed() {
        let mut h = History::new(2);
        h.run(1, 0xa1, 0, 50);
        // web2's writer is configured as node 1.
        h.write_via(2, 1, 0xb1, 1, 200, 201);
        let report = h.check();
        let mut k = kinds(&report);
        k.sort_unstable();
        // The record on the disk landed through node 2's disk, not its own node 1's.
        assert_eq!(
            k,
            vec!["disk-misattributed", "disk-unjournaled"],
            "{report:#?}"
        );
        assert!(report
            .violations
            .iter()
            .any(|v| v.detail.contains("landed through node 2's disk")));
        assert!(report.ownership.iter().any(|o| o.node.starts_with("node2")));
    }

    #[test]
    fn no_records_is_no_span_and_no_violation() {
        let h = History::new(2);
        let report = h.check();
        assert!(report.ok() && report.ownership.is_empty());
        // Journaled writes that are no records (a zeroed region) are no spans.
        let mut h = History::new(1);
        h.journals[0].1.push(Landing {
            offset: 0,
            data: vec![0; 512],
            at: h.start,
        });
        assert!(h.check().ownership.is_empty());
    }
}
