#![allow(clippy::unwrap_used)]

use super::super::record::{
    ClusterShape, FaultWindow, FenceEvent, Ownership, RunRecord, Sample, TimelineLine, Verdict,
    Violation,
};
use super::summary::Figures;
use super::timeline::sample_changes;
use super::*;

fn shape(nodes: usize, fencing: &str) -> ClusterShape {
    ClusterShape {
        nodes,
        stack: "ours".to_string(),
        qdisk: true,
        fencing: fencing.to_string(),
        timing: "fast".to_string(),
    }
}

fn sample(at_s: f64, served_by: Option<&str>, holders: &[&str], arp: Option<&str>) -> Sample {
    Sample {
        at_s,
        served_by: served_by.map(str::to_string),
        vip_holders: holders.iter().map(|h| h.to_string()).collect(),
        arp_owner: arp.map(str::to_string),
    }
}

fn fault(kind: &str, spec: &str, nodes: &[&str], start_s: f64, end_s: Option<f64>) -> FaultWindow {
    FaultWindow {
        kind: kind.to_string(),
        spec: spec.to_string(),
        nodes: nodes.iter().map(|n| n.to_string()).collect(),
        start_s,
        end_s,
    }
}

fn line(at_s: f64, source: &str, what: &str) -> TimelineLine {
    TimelineLine {
        at_s,
        source: source.to_string(),
        what: what.to_string(),
    }
}

/// A schedule that went fine: web1 crashes at 10 s, web2 takes over at 13 s; a packet loss
/// at 30 s. Samples every half second, 3 changes after the first.
fn ok_record() -> RunRecord {
    let samples = (0..120)
        .map(|i| {
            let t = f64::from(i) * 0.5;
            if t < 10.0 {
                sample(t, Some("web1"), &["web1"], Some("web1"))
            } else if t < 12.0 {
                sample(t, None, &["web1"], Some("web1"))
            } else if t < 13.0 {
                sample(t, None, &["web2"], Some("web1"))
            } else {
                sample(t, Some("web2"), &["web2"], Some("web2"))
            }
        })
        .collect();
    RunRecord {
        seed: 1,
        shape: shape(3, "ipmi"),
        verdict: Verdict::Ok,
        error: None,
        duration_s: 40.0,
        faults_end_s: 30.0,
        recovery_bound_s: 20.0,
        recovered_after_s: Some(3.0),
        longest_outage_s: 3.0,
        faults: vec![
            fault("crash", "crash web1", &["web1"], 10.0, Some(20.0)),
            fault("loss", "loss web2 30%", &["web2"], 30.0, None),
        ],
        samples,
        fences: vec![FenceEvent {
            at_s: 11.5,
            by: "web2".to_string(),
            victim: "web1".to_string(),
            result: "success".to_string(),
            victim_faulted: true,
        }],
        ownership: vec![
            Ownership {
                node: "web1".to_string(),
                incarnation: 0xabc,
                first_s: 1.0,
                last_s: 9.9,
                records: 90,
            },
            Ownership {
                node: "web2".to_string(),
                incarnation: 0xdef,
                first_s: 13.5,
                last_s: 59.0,
                records: 400,
            },
        ],
        violations: Vec::new(),
        // Out of order on purpose: the merged timeline sorts.
        timeline: vec![
            line(
                12.0,
                "web2 hbd",
                "taking over <script>alert(1)</script> & co",
            ),
            line(0.5, "lab", "cluster up"),
            line(10.0, "nemesis", "crash web1"),
        ],
    }
}

/// Two nodes that both wrote the disk and both answered for the floating IP.
fn violation_record() -> RunRecord {
    RunRecord {
        seed: 2,
        shape: shape(2, "noop"),
        verdict: Verdict::Violation,
        error: None,
        duration_s: 30.0,
        faults_end_s: 20.0,
        recovery_bound_s: 20.0,
        recovered_after_s: Some(5.0),
        longest_outage_s: 7.5,
        faults: vec![fault(
            "partition",
            "partition web1/web2",
            &["web1", "web2"],
            5.0,
            Some(20.0),
        )],
        samples: vec![
            sample(0.0, Some("web1"), &["web1"], Some("web1")),
            sample(8.0, Some("web1"), &["web1", "web2"], Some("web1")),
            sample(9.0, Some("web2"), &["web2", "web1"], Some("web2")),
            sample(25.0, Some("web1"), &["web1"], Some("web1")),
        ],
        fences: vec![FenceEvent {
            at_s: 21.0,
            by: "web1".to_string(),
            victim: "web2".to_string(),
            result: "failed".to_string(),
            victim_faulted: false,
        }],
        ownership: vec![
            Ownership {
                node: "web1".to_string(),
                incarnation: 1,
                first_s: 0.5,
                last_s: 29.0,
                records: 280,
            },
            Ownership {
                node: "web2".to_string(),
                incarnation: 2,
                first_s: 8.5,
                last_s: 19.0,
                records: 100,
            },
        ],
        violations: vec![
            Violation {
                kind: "double-vip".to_string(),
                at_s: 9.0,
                detail: "web1 and web2 answered".to_string(),
            },
            Violation {
                kind: "disk-overlap".to_string(),
                at_s: 8.5,
                detail: "web2 wrote while web1 owned the region | rows 3, 4".to_string(),
            },
        ],
        timeline: vec![line(5.0, "nemesis", "partition web1/web2")],
    }
}

/// The lab failed: its figures mean nothing.
fn lab_error_record() -> RunRecord {
    RunRecord {
        seed: 3,
        shape: shape(5, "fabric"),
        verdict: Verdict::LabError,
        error: Some("bmc of web4 did not answer <timeout>".to_string()),
        duration_s: 5.0,
        faults_end_s: 0.0,
        recovery_bound_s: 20.0,
        recovered_after_s: None,
        longest_outage_s: 99.0,
        faults: vec![fault("crash", "crash web4", &["web4"], 1.0, Some(2.0))],
        samples: Vec::new(),
        fences: Vec::new(),
        ownership: Vec::new(),
        violations: Vec::new(),
        timeline: Vec::new(),
    }
}

/// Safety held but the service never came back.
fn no_recovery_record() -> RunRecord {
    RunRecord {
        seed: 4,
        shape: shape(3, "ipmi"),
        verdict: Verdict::NoRecovery,
        error: None,
        duration_s: 20.0,
        faults_end_s: 15.0,
        recovery_bound_s: 20.0,
        recovered_after_s: None,
        longest_outage_s: 25.0,
        faults: vec![fault("crash", "crash web2", &["web2"], 3.0, Some(15.0))],
        samples: vec![
            sample(0.0, Some("web2"), &["web2"], Some("web2")),
            sample(3.0, None, &[], Some("web2")),
        ],
        fences: Vec::new(),
        ownership: Vec::new(),
        violations: Vec::new(),
        timeline: Vec::new(),
    }
}

fn records() -> Vec<RunRecord> {
    vec![
        ok_record(),
        violation_record(),
        lab_error_record(),
        no_recovery_record(),
    ]
}

/// The line of `text` that starts (after spaces) with `start`.
fn row<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.trim_start().starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in\n{text}"))
}

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn summary_counts_verdicts_faults_and_violations() {
    let text = summary_table(&records());
    assert!(text.starts_with("chaos campaign: 4 schedules\n"), "{text}");
    assert_eq!(words(row(&text, "schedules  ")), ["schedules", "4"]);
    assert_eq!(words(row(&text, "verdict ok")), ["verdict", "ok", "1"]);
    assert_eq!(
        words(row(&text, "verdict VIOLATION")),
        ["verdict", "VIOLATION", "1", "(seed", "2)"]
    );
    assert_eq!(
        words(row(&text, "verdict lab-error")),
        ["verdict", "lab-error", "1", "(seed", "3)"]
    );
    assert_eq!(
        words(row(&text, "faults injected")),
        ["faults", "injected", "5"]
    );
    assert_eq!(words(row(&text, "violations  ")), ["violations", "2"]);
    // Faults by kind: crash 3 times in 3 schedules; violations by kind with their seed.
    assert_eq!(words(row(&text, "crash ")), ["crash", "3", "3"]);
    assert_eq!(words(row(&text, "loss ")), ["loss", "1", "1"]);
    assert_eq!(
        words(row(&text, "disk-overlap")),
        ["disk-overlap", "1", "2"]
    );
    // The lab error's 99 s outage does not count; the no-recovery's 25 s does.
    assert!(row(&text, "longest outage  ").ends_with("25.0 s (seed 4)"));
    assert!(row(&text, "time to recover, median").contains("4.0 s (of 2 that recovered)"));
    assert!(row(&text, "time to recover, max").ends_with("5.0 s (seed 2)"));
    assert!(row(&text, "never recovered").ends_with("1 (seed 4)"));
    assert!(text.contains("lab-error schedule proved nothing"));
    // One line per schedule, its recovery in the last column.
    let seed1 = words(row(&text, "1      3  ours"));
    assert_eq!(seed1[seed1.len() - 2..], ["3.0", "s"]);
    assert!(row(&text, "4      3  ours").ends_with("never"));
    // The lab error's figures mean nothing.
    assert!(row(&text, "3      5  ours").ends_with("0               -                -"));
    // By cluster size and by fencing.
    assert_eq!(
        words(row(&text, "3          2")),
        [
            "3", "2", "1", "0", "1", "0", "25.0", "s", "(seed", "4)", "3.0", "s", "3.0", "s",
            "(seed", "1)", "1"
        ]
    );
    assert_eq!(
        words(row(&text, "noop ")),
        [
            "noop", "1", "0", "1", "0", "0", "7.5", "s", "(seed", "2)", "5.0", "s", "5.0", "s",
            "(seed", "2)", "0"
        ]
    );
}

#[test]
fn summary_columns_are_aligned() {
    let text = summary_table(&records());
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "schedules")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(table.len(), 2 + 4, "{text}");
    // The verdict column starts at the same place on every line.
    let at = table[0].find("verdict").unwrap();
    for line in &table[2..] {
        let verdict = &line[at..];
        assert!(
            ["ok", "VIOLATION", "no-recovery", "lab-error"]
                .iter()
                .any(|w| verdict.starts_with(w)),
            "{line}"
        );
    }
}

#[test]
fn markdown_has_the_same_tables() {
    let md = summary_markdown(&records());
    assert!(md.starts_with("# chaos campaign: 4 schedules\n"));
    for title in [
        "## schedules",
        "## totals",
        "## faults by kind",
        "## violations by kind",
        "## by cluster size",
        "## by fencing",
    ] {
        assert!(md.contains(&format!("\n{title}\n")), "{title} in\n{md}");
    }
    assert!(md.contains("| seed | nodes | stack |"));
    assert!(md.contains("| ---: | ---: | --- |"));
    assert!(md.contains(
        "| 2 | 2 | ours | yes | noop | fast | 30.0 s | 1 | VIOLATION | 2 | 7.5 s | 5.0 s |"
    ));
    assert!(md.contains("| disk-overlap | 1 | 2 |"));
    // Every table line has as many cells as its header.
    for block in md.split("\n\n") {
        let lines: Vec<&str> = block.lines().filter(|l| l.starts_with('|')).collect();
        if let Some(header) = lines.first() {
            let cells = header.matches(" |").count();
            for l in &lines {
                assert_eq!(l.matches(" |").count(), cells, "{l}");
            }
        }
    }
}

#[test]
fn markdown_and_text_cells_are_escaped() {
    let mut r = ok_record();
    r.shape.stack = "a|b <i>x</i>\nnext".to_string();
    let md = summary_markdown(std::slice::from_ref(&r));
    assert!(md.contains(r"a\|b \<i\>x\</i\> next"), "{md}");
    let text = summary_table(&[r]);
    assert!(text.contains("a|b <i>x</i> next"));
}

#[test]
fn figures_median_and_max_recovery() {
    let with = |after: Option<f64>, seed: u64, verdict: Verdict| {
        let mut r = ok_record();
        r.seed = seed;
        r.verdict = verdict;
        r.recovered_after_s = after;
        r
    };
    let odd = [
        with(Some(9.0), 10, Verdict::Ok),
        with(Some(3.0), 11, Verdict::Ok),
        with(None, 12, Verdict::NoRecovery),
        with(Some(5.0), 13, Verdict::Ok),
        with(Some(9.0), 14, Verdict::Ok),
        with(Some(1.0), 15, Verdict::LabError),
        with(None, 16, Verdict::LabError),
    ];
    let figures = Figures::of(&odd);
    assert_eq!(figures.median(), Some(7.0)); // 3, 5, 9, 9
    assert_eq!(figures.max(), Some((9.0, 10)));
    assert_eq!(figures.never, [12]);
    let figures = Figures::of(&odd[1..4]);
    assert_eq!(figures.median(), Some(4.0)); // 3, 5
    let figures = Figures::of(&odd[..2]);
    assert_eq!(figures.median(), Some(6.0));
    let figures = Figures::of(&odd[..1]);
    assert_eq!(figures.median(), Some(9.0));
    let figures = Figures::of(&odd[..3]);
    assert_eq!(figures.median(), Some(6.0)); // 9, 3; never left out
    let figures = Figures::of(&odd[5..]);
    assert_eq!(figures.median(), None);
    assert_eq!(figures.max(), None);
    assert!(figures.never.is_empty());
    assert_eq!(figures.longest_outage, None);
    let text = summary_table(&odd[5..]);
    assert!(row(&text, "time to recover, median").ends_with(" -"));
    assert!(row(&text, "longest outage  ").ends_with(" -"));
}

/// The times of the timeline part of a merged timeline.
fn times(timeline: &str) -> Vec<f64> {
    timeline
        .lines()
        .skip_while(|l| !l.starts_with("timeline ("))
        .skip(1)
        .filter_map(|l| l.get(2..)?.trim_start().split(" s ").next()?.parse().ok())
        .collect()
}

#[test]
fn merged_timeline_is_in_time_order_with_fault_ends() {
    let r = ok_record();
    let text = merged_timeline(&r);
    assert!(text.starts_with(
        "seed 1: 3 nodes, stack ours, qdisk yes, fencing ipmi, timing fast\nverdict: ok (0 violations)\n"
    ));
    let times = times(&text);
    assert!(times.len() > 10, "{text}");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{text}");
    assert!(
        text.contains("   10.000 s  fault     begins: crash web1\n"),
        "{text}"
    );
    assert!(text.contains("   20.000 s  fault     ends: crash web1 (after 10.000 s)\n"));
    assert!(text.contains("   30.000 s  fault     loss web2 30% (instant, or never lifted)\n"));
    assert!(text.contains("   11.500 s  fence     web2 fenced web1: success\n"));
    assert!(text.contains(
        "    1.000 s  disk      web1 owns the disk: first record of incarnation 0xabc\n"
    ));
    assert!(text.contains("   12.000 s  web2 hbd  taking over <script>alert(1)</script> & co\n"));
    assert!(text.contains("   33.000 s  recovery  service back after 3.000 s\n"));
    assert!(!text.contains("!!"));
    // The fault list.
    assert!(text.contains("faults (2):\n     10.000 s -    20.000 s  crash web1\n     30.000 s -           -  loss web2 30%  (instant, or never lifted)\n"), "{text}");
}

#[test]
fn merged_timeline_marks_violations() {
    let text = merged_timeline(&violation_record());
    let marked: Vec<&str> = text.lines().filter(|l| l.starts_with("!!")).collect();
    // Listed after the header, then again in their place in the timeline.
    assert_eq!(marked.len(), 4, "{text}");
    assert_eq!(
        marked[0],
        "!!    8.500 s  VIOLATION  disk-overlap: web2 wrote while web1 owned the region | rows 3, 4"
    );
    assert!(marked[1].contains("double-vip"));
    assert!(text.contains("(the victim was not faulted)"));
    assert!(times(&text).windows(2).all(|w| w[0] <= w[1]));
    let lab = merged_timeline(&lab_error_record());
    assert!(
        lab.contains("\nerror: bmc of web4 did not answer <timeout>\n"),
        "{lab}"
    );
    assert!(lab.contains("recovery bound 20.0 s: no figures, the lab failed\n"));
    assert!(!lab.contains("recovery  "));
    assert!(!lab.contains("longest outage"));
}

#[test]
fn merged_timeline_indents_continuation_lines_and_shows_control_characters() {
    let mut r = ok_record();
    r.timeline = vec![line(1.0, "web1 qdiskd", "first\nsecond\x1b[31m")];
    let text = merged_timeline(&r);
    assert!(
        text.contains(
            "    1.000 s  web1 qdiskd  first\n                            second\\u{1b}[31m\n"
        ),
        "{text}"
    );
}

#[test]
fn only_sample_changes_are_listed() {
    let r = ok_record();
    let changes = sample_changes(&r.samples);
    let at: Vec<f64> = changes.iter().map(|c| c.at_s).collect();
    assert_eq!(at, [0.0, 10.0, 12.0, 13.0]);
    assert!(changes.iter().all(|c| c.source == "observer"));
    assert_eq!(
        changes[0].what,
        "first sample: served by web1, vip on web1, arp web1"
    );
    assert_eq!(
        changes[1].what,
        "no answer (was: served by web1), vip on web1, arp web1"
    );
    assert_eq!(
        changes[3].what,
        "served by web2 (was: no answer), vip on web2, arp web2 (was: arp web1)"
    );
    // The holders are a set: the same two in another order is no change.
    let v = violation_record();
    let at: Vec<f64> = sample_changes(&v.samples).iter().map(|c| c.at_s).collect();
    assert_eq!(at, [0.0, 8.0, 9.0, 25.0]);
    let mut same = v.samples.clone();
    same[2].served_by = Some("web1".to_string());
    same[2].arp_owner = Some("web1".to_string());
    let at: Vec<f64> = sample_changes(&same).iter().map(|c| c.at_s).collect();
    assert_eq!(at, [0.0, 8.0, 25.0]);
    assert!(sample_changes(&[]).is_empty());
    let text = merged_timeline(&r);
    assert_eq!(text.matches(" observer ").count(), 4, "{text}");
}

#[test]
fn html_lists_violations_first_and_escapes_text() {
    let html = html_report(&records());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    let pos = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle} not in the report"))
    };
    // Sections: the violation, the no-recovery, the lab error, the ok one.
    assert!(pos("id=\"seed-2\"") < pos("id=\"seed-4\""));
    assert!(pos("id=\"seed-4\"") < pos("id=\"seed-3\""));
    assert!(pos("id=\"seed-3\"") < pos("id=\"seed-1\""));
    // The summary comes first and links to the sections.
    assert!(pos("<caption>totals</caption>") < pos("id=\"seed-2\""));
    assert!(html.contains("<a href=\"#seed-1\">1</a>"));
    // Nothing unescaped, nothing to run, nothing fetched.
    assert!(!html.contains("<script"));
    assert!(html.contains("taking over &lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
    assert!(html.contains("bmc of web4 did not answer &lt;timeout&gt;"));
    assert!(!html.contains(" src="));
    assert!(!html.contains("<link"));
    assert!(!html.contains("url("));
    // The plot: faults, fences, violations with tooltips, the recovery bound.
    assert!(html
        .contains("<title>fault crash web1: 10.000 s – 20.000 s (10.000 s); nodes: web1</title>"));
    assert!(html.contains("fenced web2: failed (the victim was not faulted)</title>"));
    assert!(html.contains("<title>VIOLATION disk-overlap at 8.500 s: web2 wrote while web1 owned the region | rows 3, 4</title>"));
    assert!(html.contains("recovery bound 20.0 s</text>"));
    assert!(html.contains("not back within the bound</text>"));
    assert!(html.contains("<title>web2 owned the shared disk (incarnation 0xdef)"));
    assert!(html.contains("<title>web1 held the floating IP: 0.000 s – 12.000 s</title>"));
    assert!(html.contains("<title>no answer: 10.000 s – 13.000 s (3.000 s)</title>"));
    // The merged timeline, collapsed, violations highlighted.
    assert!(html.contains("<details><summary>merged timeline"));
    assert!(html.contains("<span class=\"bad\">!!    8.500 s  VIOLATION"));
    assert_eq!(html.matches("<svg ").count(), 4);
    assert_eq!(
        html.matches("<svg ").count(),
        html.matches("</svg>").count()
    );
}

#[test]
fn html_escapes_attributes_and_node_names() {
    let mut r = violation_record();
    r.violations[0].kind = "\"><b>x</b>".to_string();
    r.ownership[0].node = "we'b<1>".to_string();
    let html = html_report(&[r]);
    assert!(!html.contains("<b>x</b>"));
    assert!(html.contains("&quot;&gt;&lt;b&gt;x&lt;/b&gt;"));
    assert!(html.contains(">we&#39;b&lt;1&gt;</text>"));
}

#[test]
fn empty_campaign_renders() {
    assert!(summary_table(&[]).contains("(none)"));
    assert!(summary_markdown(&[]).contains("(none)"));
    assert!(html_report(&[]).contains("chaos campaign: 0 schedules"));
}

#[test]
fn reports_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("campaign");
    write_reports(&out, &records()).unwrap();
    for file in ["summary.txt", "summary.md", "report.html"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    for seed in 1..=4 {
        let text = std::fs::read_to_string(out.join(format!("seed-{seed}/timeline.txt"))).unwrap();
        assert!(text.starts_with(&format!("seed {seed}: ")));
    }
}
