//! The HTML report: one self-contained page (inline CSS and SVG, no script, nothing
//! fetched) with the summary tables and, per schedule, its header, a timeline plot and its
//! merged timeline.

use std::fmt::Write as _;

use super::super::record::{FaultWindow, RunRecord, Sample, Verdict};
use super::summary::{self, verdict_class, Table};
use super::timeline::merged_timeline;
use super::{by_time, secs, shape_line, visible, VERDICTS};

/// The plot's width in SVG units (the page is laid out for about 1200 px).
const WIDTH: f64 = 1160.0;
/// Room left of the plot for the lane names.
const LEFT: f64 = 112.0;
/// Room right of the plot.
const RIGHT: f64 = 14.0;
/// Height of one row of fault labels.
const FAULT_ROW: f64 = 16.0;
/// At most this many rows of fault labels; more faults share the last rows.
const FAULT_ROWS_MAX: usize = 8;
/// Height of the service lane.
const SERVICE_LANE: f64 = 24.0;
/// Height of a node's lane.
const NODE_LANE: f64 = 34.0;

const GREEN: &str = "#2e9d4f";
const RED: &str = "#d03a2f";
const BLUE: &str = "#3b73c4";
const NAVY: &str = "#14284b";
const PURPLE: &str = "#8e44ad";
const ORANGE: &str = "#e67e22";
const FAULT: &str = "#f0a030";
const BOUND: &str = "#2471a3";

const CSS: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;\
max-width:1200px;margin:0 auto;padding:12px 16px 40px}\
h1{font-size:22px;margin:8px 0}\
h2{font-size:18px;margin:6px 0}\
a{color:#1f5fa8;text-decoration:none}a:hover{text-decoration:underline}\
.tables{display:flex;flex-wrap:wrap;gap:6px 28px;align-items:flex-start}\
table{border-collapse:collapse;margin:4px 0 12px;font-size:13px}\
caption{text-align:left;font-weight:600;padding:2px 0}\
th,td{padding:2px 8px;border-bottom:1px solid #e3e3e3;text-align:left;white-space:nowrap}\
th{background:#f3f3f3;font-weight:600}\
.r{text-align:right;font-variant-numeric:tabular-nums}\
.note{font-size:12px;color:#666;margin:-8px 0 12px}\
.verdict{display:inline-block;padding:0 6px;border-radius:3px;font-size:13px;margin-left:6px}\
.v-ok{color:#1e7b34}\
.v-violation{background:#c0392b;color:#fff;font-weight:700}\
.v-no-recovery{background:#e67e22;color:#fff;font-weight:600}\
.v-lab-error{background:#7f8c8d;color:#fff}\
td.v-violation,td.v-no-recovery,td.v-lab-error{border-radius:0}\
.badges span{margin-right:8px;padding:1px 6px;border-radius:3px}\
section.schedule{border-top:2px solid #ccc;margin-top:26px;padding-top:6px}\
.shape,.facts{margin:2px 0;color:#444}\
.error{background:#f4f4f4;border-left:4px solid #7f8c8d;padding:4px 8px;margin:6px 0}\
ol.violations{background:#fdecea;border-left:4px solid #c0392b;margin:6px 0;padding:4px 8px 4px 30px}\
ol.violations li{margin:2px 0}\
svg.plot{width:100%;max-width:1160px;height:auto;display:block;margin:8px 0 2px}\
svg.plot text{font:11px system-ui,sans-serif;fill:#222}\
.legend{font-size:12px;color:#444;margin:0 0 6px}\
.legend .sw{display:inline-block;width:14px;height:10px;vertical-align:middle;margin:0 4px 0 10px}\
details{margin:4px 0}summary{cursor:pointer;color:#1f5fa8}\
pre{font:12px/1.35 ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;background:#f7f7f7;\
padding:8px;overflow-x:auto;white-space:pre}\
pre .bad{color:#b00;font-weight:700;background:#fdecea}\
.top{font-size:12px;margin:4px 0}\
";

/// Text escaped for HTML text and attribute values (`& < > " '`), control characters other
/// than line breaks and tabs made visible.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in visible(s, true).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Where a verdict's schedules come in the page: violations first, then the schedules that
/// did not recover, the lab errors, and the ones that were fine.
fn rank(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Violation => 0,
        Verdict::NoRecovery => 1,
        Verdict::LabError => 2,
        Verdict::Ok => 3,
    }
}

/// The campaign as one self-contained HTML page: the summary tables at the top, then a
/// section per schedule (anchor `seed-N`; schedules with violations first, then those that
/// did not recover, the lab errors and the rest, each in the given order) with its header,
/// a timeline plot (the service up or down, per node the floating IP, the client's ARP entry
/// and the shared disk's ownership, fault windows, fences, violations and the recovery
/// bound; details in tooltips) and its merged timeline, collapsed. All text is escaped; no
/// script, style sheet, font or image is fetched.
pub fn html_report(records: &[RunRecord]) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(h, "<title>{}</title>", esc(&summary::heading(records)));
    let _ = writeln!(h, "<style>{CSS}</style>\n</head>\n<body id=\"top\">");
    let _ = writeln!(h, "<h1>{}</h1>", esc(&summary::heading(records)));
    h.push_str("<p class=\"badges\">");
    for verdict in VERDICTS {
        let n = records.iter().filter(|r| r.verdict == verdict).count();
        let _ = write!(
            h,
            "<span class=\"{}\">{} {}</span>",
            verdict_class(verdict),
            n,
            esc(verdict.word())
        );
    }
    h.push_str("</p>\n");

    // The schedules table is the first; the totals and the breakdowns sit side by side
    // above it.
    let tables = summary::tables(records);
    if let Some((schedules, rest)) = tables.split_first() {
        h.push_str("<div class=\"tables\">\n");
        for table in rest {
            h.push_str("<div>");
            html_table(&mut h, table);
            h.push_str("</div>\n");
        }
        h.push_str("</div>\n");
        html_table(&mut h, schedules);
    }

    let mut ordered: Vec<&RunRecord> = records.iter().collect();
    ordered.sort_by_key(|r| rank(r.verdict));
    for record in ordered {
        section(&mut h, record);
    }
    h.push_str("</body>\n</html>\n");
    h
}

fn html_table(h: &mut String, table: &Table) {
    h.push_str("<table>");
    let _ = write!(h, "<caption>{}</caption>", esc(&table.title));
    if table.columns.iter().any(|(header, _)| !header.is_empty()) {
        h.push_str("<thead><tr>");
        for (header, numeric) in &table.columns {
            let _ = write!(
                h,
                "<th{}>{}</th>",
                if *numeric { " class=\"r\"" } else { "" },
                esc(header)
            );
        }
        h.push_str("</tr></thead>");
    }
    h.push_str("<tbody>\n");
    if table.rows.is_empty() {
        let _ = writeln!(
            h,
            "<tr><td colspan=\"{}\">none</td></tr>",
            table.columns.len()
        );
    }
    for row in &table.rows {
        h.push_str("<tr>");
        for (cell, (_, numeric)) in row.iter().zip(&table.columns) {
            let mut classes = Vec::new();
            if *numeric {
                classes.push("r");
            }
            if let Some(class) = cell.class {
                classes.push(class);
            }
            let class = if classes.is_empty() {
                String::new()
            } else {
                format!(" class=\"{}\"", classes.join(" "))
            };
            let text = esc(&cell.text);
            match &cell.link {
                Some(link) => {
                    let _ = write!(h, "<td{class}><a href=\"{}\">{text}</a></td>", esc(link));
                }
                None => {
                    let _ = write!(h, "<td{class}>{text}</td>");
                }
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>\n");
    if let Some(note) = &table.note {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(note));
    }
}

fn section(h: &mut String, r: &RunRecord) {
    let _ = writeln!(
        h,
        "<section class=\"schedule\" id=\"seed-{seed}\">\n<h2><a href=\"#seed-{seed}\">seed {seed}</a><span class=\"verdict {}\">{}</span></h2>",
        verdict_class(r.verdict),
        esc(r.verdict.word()),
        seed = r.seed,
    );
    let _ = writeln!(h, "<p class=\"shape\">{}</p>", esc(&shape_line(&r.shape)));
    if let Some(error) = &r.error {
        let _ = writeln!(h, "<p class=\"error\"><b>lab error:</b> {}</p>", esc(error));
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut facts = vec![
        format!("fault phase {}", secs(r.duration_s)),
        format!("{} fault{}", r.faults.len(), plural(r.faults.len())),
        format!("faults end at {}", secs(r.faults_end_s)),
        format!("recovery bound {}", secs(r.recovery_bound_s)),
    ];
    match (r.verdict, r.recovered_after_s) {
        // The lab failed: its recovery and outage figures mean nothing.
        (Verdict::LabError, _) => {}
        (_, Some(s)) => facts.push(format!("back after {}", secs(s))),
        (_, None) => facts.push("<b>never back</b> within the bound".to_string()),
    }
    if r.verdict != Verdict::LabError {
        facts.push(format!("longest outage {}", secs(r.longest_outage_s)));
    }
    facts.push(format!(
        "{} fence{}",
        r.fences.len(),
        plural(r.fences.len())
    ));
    let _ = writeln!(h, "<p class=\"facts\">{}</p>", facts.join(" · "));
    if !r.violations.is_empty() {
        h.push_str("<ol class=\"violations\">\n");
        let mut violations: Vec<_> = r.violations.iter().collect();
        violations.sort_by(|a, b| by_time(a.at_s, b.at_s));
        for v in violations {
            let _ = writeln!(
                h,
                "<li><b>{}</b> at {:.3} s: {}</li>",
                esc(&v.kind),
                v.at_s,
                esc(&v.detail)
            );
        }
        h.push_str("</ol>\n");
    }
    h.push_str(&plot(r));
    h.push_str(LEGEND);
    if !r.faults.is_empty() {
        let _ = writeln!(
            h,
            "<details><summary>faults ({})</summary><table><thead><tr><th>kind</th><th>fault</th><th>nodes</th><th class=\"r\">from</th><th class=\"r\">to</th></tr></thead><tbody>",
            r.faults.len()
        );
        let mut faults: Vec<_> = r.faults.iter().collect();
        faults.sort_by(|a, b| by_time(a.start_s, b.start_s));
        for f in faults {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"r\">{:.3} s</td><td class=\"r\">{}</td></tr>",
                esc(&f.kind),
                esc(&f.spec),
                esc(&f.nodes.join(", ")),
                f.start_s,
                match f.end_s {
                    Some(end) => format!("{end:.3} s"),
                    None => "instant, or never lifted".to_string(),
                }
            );
        }
        h.push_str("</tbody></table></details>\n");
    }
    if !r.fences.is_empty() {
        let _ = writeln!(
            h,
            "<details><summary>fences ({})</summary><table><thead><tr><th class=\"r\">at</th><th>by</th><th>victim</th><th>result</th><th>victim faulted</th></tr></thead><tbody>",
            r.fences.len()
        );
        let mut fences: Vec<_> = r.fences.iter().collect();
        fences.sort_by(|a, b| by_time(a.at_s, b.at_s));
        for f in fences {
            let _ = writeln!(
                h,
                "<tr><td class=\"r\">{:.3} s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                f.at_s,
                esc(&f.by),
                esc(&f.victim),
                esc(&f.result),
                if f.victim_faulted { "yes" } else { "<b>no</b>" }
            );
        }
        h.push_str("</tbody></table></details>\n");
    }
    let timeline = merged_timeline(r);
    let _ = write!(
        h,
        "<details><summary>merged timeline ({} lines)</summary><pre>",
        timeline.lines().count()
    );
    for line in timeline.lines() {
        if line.starts_with("!!") {
            let _ = writeln!(h, "<span class=\"bad\">{}</span>", esc(line));
        } else {
            let _ = writeln!(h, "{}", esc(line));
        }
    }
    h.push_str(
        "</pre></details>\n<p class=\"top\"><a href=\"#top\">↑ summary</a></p>\n</section>\n",
    );
}

const LEGEND: &str = concat!(
    "<p class=\"legend\">",
    "<span class=\"sw\" style=\"background:#2e9d4f\"></span>service answers",
    "<span class=\"sw\" style=\"background:#d03a2f\"></span>no answer",
    "<span class=\"sw\" style=\"background:#3b73c4\"></span>holds the floating IP",
    "<span class=\"sw\" style=\"background:#14284b;height:3px\"></span>client's ARP entry",
    "<span class=\"sw\" style=\"background:#8e44ad\"></span>owns the shared disk",
    "<span class=\"sw\" style=\"background:#f0a030;opacity:.45\"></span>fault",
    "<span class=\"sw\" style=\"background:#222;transform:rotate(45deg) scale(.7)\"></span>fence",
    "<span class=\"sw\" style=\"background:#e67e22;transform:rotate(45deg) scale(.7)\"></span>fence failed",
    "<span class=\"sw\" style=\"background:#fff;border:2px solid #d03a2f;transform:rotate(45deg) scale(.6)\"></span>healthy victim",
    "<span class=\"sw\" style=\"background:#d03a2f;border-radius:7px;width:10px\"></span>violation",
    "<span class=\"sw\" style=\"border-top:2px dashed #2471a3;height:0\"></span>recovery bound</p>\n",
);

/// The nodes that get a lane: `web1` … `webN` from the shape, then any other node the
/// samples, fences or disk ownership name, in the order first seen.
fn lanes(r: &RunRecord) -> Vec<String> {
    let mut lanes: Vec<String> = (1..=r.shape.nodes).map(|i| format!("web{i}")).collect();
    let mut add = |name: &str| {
        if !lanes.iter().any(|l| l == name) {
            lanes.push(name.to_string());
        }
    };
    for s in &r.samples {
        for holder in &s.vip_holders {
            add(holder);
        }
        if let Some(node) = &s.served_by {
            add(node);
        }
        if let Some(node) = &s.arp_owner {
            add(node);
        }
    }
    for f in &r.fences {
        add(&f.victim);
    }
    for o in &r.ownership {
        add(&o.node);
    }
    lanes
}

/// The plot's time range: from 0 (or the earliest event) to the last thing it shows.
fn span(r: &RunRecord, sample_tail: f64) -> (f64, f64) {
    let mut times = vec![0.0, r.duration_s];
    if r.verdict != Verdict::LabError {
        times.push(r.faults_end_s + r.recovery_bound_s);
        times.push(r.faults_end_s + r.recovered_after_s.unwrap_or(0.0));
    }
    for f in &r.faults {
        times.push(f.start_s);
        times.extend(f.end_s);
    }
    for s in &r.samples {
        times.push(s.at_s + sample_tail);
    }
    times.extend(r.fences.iter().map(|f| f.at_s));
    times.extend(r.ownership.iter().flat_map(|o| [o.first_s, o.last_s]));
    times.extend(r.violations.iter().map(|v| v.at_s));
    let finite = times.iter().copied().filter(|t| t.is_finite());
    let t0 = finite.clone().fold(0.0, f64::min);
    let t1 = finite.fold(t0, f64::max);
    if t1 > t0 {
        (t0, t0 + (t1 - t0) * 1.02)
    } else {
        (t0, t0 + 1.0)
    }
}

/// A tick step of 1, 2 or 5 times a power of ten giving about `raw` seconds a tick.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let step = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    step * magnitude
}

/// The samples as runs of one value: each sample lasts until the next, the last one for
/// `tail`; consecutive samples with the same value make one run `(from, to, value)`.
fn runs<K: PartialEq>(
    samples: &[&Sample],
    tail: f64,
    key: impl Fn(&Sample) -> K,
) -> Vec<(f64, f64, K)> {
    let mut runs: Vec<(f64, f64, K)> = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let end = samples.get(i + 1).map_or(s.at_s + tail, |next| next.at_s);
        let value = key(s);
        match runs.last_mut() {
            Some(last) if last.2 == value => last.1 = end,
            _ => runs.push((s.at_s, end, value)),
        }
    }
    runs
}

/// The typical time between samples (the median gap), how long the last one counts for.
fn sample_tail(samples: &[&Sample]) -> f64 {
    let mut gaps: Vec<f64> = samples
        .windows(2)
        .map(|w| w[1].at_s - w[0].at_s)
        .filter(|g| g.is_finite() && *g >= 0.0)
        .collect();
    gaps.sort_by(|a, b| a.total_cmp(b));
    gaps.get(gaps.len() / 2).copied().unwrap_or(0.0)
}

/// Rough width of a label in the plot's 11 px font.
fn text_width(s: &str) -> f64 {
    s.chars().count() as f64 * 6.3
}

/// A fault placed in the band of fault labels.
struct PlacedFault<'a> {
    fault: &'a FaultWindow,
    row: usize,
}

/// Places the faults' labels in rows so that none overlaps the one before it in its row.
fn place_faults<'a>(
    faults: &'a [FaultWindow],
    x: &impl Fn(f64) -> f64,
) -> (Vec<PlacedFault<'a>>, usize) {
    let mut sorted: Vec<&FaultWindow> = faults.iter().collect();
    sorted.sort_by(|a, b| by_time(a.start_s, b.start_s));
    let mut row_ends: Vec<f64> = Vec::new();
    let mut placed = Vec::new();
    for fault in sorted {
        let x0 = x(fault.start_s);
        let x1 = x(fault.end_s.unwrap_or(fault.start_s))
            .max(x0 + 4.0 + text_width(&fault.spec))
            .min(WIDTH - RIGHT);
        let row = match row_ends.iter().position(|end| *end + 4.0 <= x0) {
            Some(row) => row,
            None if row_ends.len() < FAULT_ROWS_MAX => {
                row_ends.push(f64::NEG_INFINITY);
                row_ends.len() - 1
            }
            None => (0..row_ends.len())
                .min_by(|a, b| row_ends[*a].total_cmp(&row_ends[*b]))
                .unwrap_or(0),
        };
        row_ends[row] = row_ends[row].max(x1);
        placed.push(PlacedFault { fault, row });
    }
    (placed, row_ends.len())
}

/// The schedule's timeline plot as inline SVG.
fn plot(r: &RunRecord) -> String {
    let mut samples: Vec<&Sample> = r.samples.iter().filter(|s| s.at_s.is_finite()).collect();
    samples.sort_by(|a, b| by_time(a.at_s, b.at_s));
    let tail = sample_tail(&samples);
    let (t0, t1) = span(r, tail);
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |t: f64| -> f64 {
        let t = if t.is_finite() { t.clamp(t0, t1) } else { t0 };
        LEFT + (t - t0) / (t1 - t0) * plot_w
    };
    let nodes = lanes(r);
    let (faults, fault_rows) = place_faults(&r.faults, &x);

    // Layout, top to bottom: fault labels, violation markers, the service lane, a lane
    // per node, the time axis, the recovery bracket.
    let fault_top = 6.0;
    let mut y = fault_top + fault_rows as f64 * FAULT_ROW;
    if fault_rows > 0 {
        y += 4.0;
    }
    let violation_y = y + 8.0;
    if !r.violations.is_empty() {
        y += 18.0;
    }
    let lanes_top = y;
    let node_top = |i: usize| lanes_top + SERVICE_LANE + i as f64 * NODE_LANE;
    let lanes_bottom = node_top(nodes.len());
    let bracket_y = lanes_bottom + 34.0;
    let height = bracket_y + 22.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" height=\"{height:.0}\" role=\"img\" aria-label=\"timeline of seed {}\">",
        r.seed
    );

    // Lane backgrounds and names.
    let _ = writeln!(
        s,
        "<rect x=\"{LEFT}\" y=\"{lanes_top:.1}\" width=\"{plot_w:.1}\" height=\"{SERVICE_LANE}\" fill=\"#f6f6f6\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-weight=\"600\">service</text>",
        LEFT - 8.0,
        lanes_top + 16.0
    );
    for (i, node) in nodes.iter().enumerate() {
        let top = node_top(i);
        let fill = if i % 2 == 0 { "#fbfbfb" } else { "#f3f3f3" };
        let _ = writeln!(
            s,
            "<rect x=\"{LEFT}\" y=\"{top:.1}\" width=\"{plot_w:.1}\" height=\"{NODE_LANE}\" fill=\"{fill}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-weight=\"600\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" style=\"font-size:9px;fill:#888\">ip · arp · disk</text>",
            LEFT - 8.0,
            top + 15.0,
            esc(node),
            LEFT - 8.0,
            top + 27.0
        );
    }

    // Time grid and axis.
    let step = nice_step((t1 - t0) / 12.0);
    let first = (t0 / step).ceil() as i64;
    let last = (t1 / step).floor() as i64;
    for k in first..=last {
        let t = k as f64 * step;
        let tx = x(t);
        let label = if step >= 1.0 {
            format!("{t:.0} s")
        } else {
            format!("{t:.1} s")
        };
        let _ = writeln!(
            s,
            "<line x1=\"{tx:.1}\" y1=\"{lanes_top:.1}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
            lanes_bottom + 4.0,
            lanes_bottom + 16.0
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{lanes_bottom:.1}\" x2=\"{:.1}\" y2=\"{lanes_bottom:.1}\" stroke=\"#888\"/>",
        WIDTH - RIGHT
    );

    // Fault windows: shaded across the lanes, labelled in the band above.
    for placed in &faults {
        let f = placed.fault;
        let x0 = x(f.start_s);
        let row_y = fault_top + placed.row as f64 * FAULT_ROW;
        let tip = match f.end_s {
            Some(end) => format!(
                "fault {}: {:.3} s – {:.3} s ({:.3} s); nodes: {}",
                f.spec,
                f.start_s,
                end,
                end - f.start_s,
                f.nodes.join(", ")
            ),
            None => format!(
                "fault {} at {:.3} s (instant, or never lifted); nodes: {}",
                f.spec,
                f.start_s,
                f.nodes.join(", ")
            ),
        };
        let _ = write!(s, "<g><title>{}</title>", esc(&tip));
        match f.end_s {
            Some(end) => {
                let w = (x(end) - x0).max(2.0);
                let _ = write!(
                    s,
                    "<rect x=\"{x0:.1}\" y=\"{lanes_top:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{FAULT}\" fill-opacity=\"0.14\"/><rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{FAULT}\" fill-opacity=\"0.45\"/>",
                    lanes_bottom - lanes_top,
                    row_y + 1.0,
                    FAULT_ROW - 2.0
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<line x1=\"{x0:.1}\" y1=\"{:.1}\" x2=\"{x0:.1}\" y2=\"{lanes_bottom:.1}\" stroke=\"{ORANGE}\" stroke-width=\"1.5\" stroke-dasharray=\"3 2\"/>",
                    row_y + 1.0
                );
            }
        }
        let label_x = x0 + 3.0;
        if label_x + text_width(&f.spec) > WIDTH - RIGHT {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                WIDTH - RIGHT - 2.0,
                row_y + 12.0,
                esc(&f.spec)
            );
        } else {
            let _ = write!(
                s,
                "<text x=\"{label_x:.1}\" y=\"{:.1}\">{}</text>",
                row_y + 12.0,
                esc(&f.spec)
            );
        }
        s.push_str("</g>\n");
    }

    // The service: who answered, or nobody.
    for (from, to, served_by) in runs(&samples, tail, |s| s.served_by.clone()) {
        let x0 = x(from);
        let w = (x(to) - x0).max(1.0);
        let (fill, tip, label) = match &served_by {
            Some(node) => (
                GREEN,
                format!("served by {node}: {from:.3} s – {to:.3} s"),
                node.as_str(),
            ),
            None => (
                RED,
                format!("no answer: {from:.3} s – {to:.3} s ({:.3} s)", to - from),
                "down",
            ),
        };
        let _ = write!(
            s,
            "<g><title>{}</title><rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"16\" fill=\"{fill}\"/>",
            esc(&tip),
            lanes_top + 4.0
        );
        if w > text_width(label) + 6.0 {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" style=\"fill:#fff\">{}</text>",
                x0 + 3.0,
                lanes_top + 16.0,
                esc(label)
            );
        }
        s.push_str("</g>\n");
    }

    // Per node: the floating IP, the client's ARP entry, the shared disk.
    for (i, node) in nodes.iter().enumerate() {
        let top = node_top(i);
        for (from, to, holds) in runs(&samples, tail, |s| s.vip_holders.contains(node)) {
            if holds {
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"11\" fill=\"{BLUE}\"><title>{} held the floating IP: {from:.3} s – {to:.3} s</title></rect>",
                    x(from),
                    top + 4.0,
                    (x(to) - x(from)).max(1.0),
                    esc(node)
                );
            }
        }
        for (from, to, owns) in runs(&samples, tail, |s| {
            s.arp_owner.as_deref() == Some(node.as_str())
        }) {
            if owns {
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"3\" fill=\"{NAVY}\"><title>the client's ARP entry pointed at {}: {from:.3} s – {to:.3} s</title></rect>",
                    x(from),
                    top + 16.5,
                    (x(to) - x(from)).max(1.0),
                    esc(node)
                );
            }
        }
        for o in r.ownership.iter().filter(|o| &o.node == node) {
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"10\" fill=\"{PURPLE}\"><title>{} owned the shared disk (incarnation {:#x}): records landed {:.3} s – {:.3} s, {} records</title></rect>",
                x(o.first_s),
                top + 21.0,
                (x(o.last_s) - x(o.first_s)).max(2.0),
                esc(node),
                o.incarnation,
                o.first_s,
                o.last_s,
                o.records
            );
        }
    }

    // The recovery clock: faults end, the bound, when the service was back.
    if r.verdict != Verdict::LabError {
        let fe = x(r.faults_end_s);
        let bound = x(r.faults_end_s + r.recovery_bound_s);
        let _ = writeln!(
            s,
            "<g><title>faults end at {:.3} s; the service must be back within {}</title><line x1=\"{fe:.1}\" y1=\"{lanes_top:.1}\" x2=\"{fe:.1}\" y2=\"{bracket_y:.1}\" stroke=\"#555\" stroke-dasharray=\"6 3\"/><line x1=\"{bound:.1}\" y1=\"{lanes_top:.1}\" x2=\"{bound:.1}\" y2=\"{bracket_y:.1}\" stroke=\"{BOUND}\" stroke-dasharray=\"6 3\"/><line x1=\"{fe:.1}\" y1=\"{bracket_y:.1}\" x2=\"{bound:.1}\" y2=\"{bracket_y:.1}\" stroke=\"{BOUND}\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">faults end</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" style=\"fill:{BOUND}\">recovery bound {}</text></g>",
            r.faults_end_s,
            secs(r.recovery_bound_s),
            fe - 4.0,
            bracket_y + 4.0,
            ((fe + bound) / 2.0).clamp(LEFT + 60.0, WIDTH - RIGHT - 60.0),
            bracket_y - 4.0,
            secs(r.recovery_bound_s)
        );
        match r.recovered_after_s {
            Some(after) => {
                let rx = x(r.faults_end_s + after);
                let _ = writeln!(
                    s,
                    "<g><title>service back after {after:.3} s (at {:.3} s)</title><circle cx=\"{rx:.1}\" cy=\"{bracket_y:.1}\" r=\"5\" fill=\"{GREEN}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" style=\"fill:{GREEN}\">back after {}</text></g>",
                    r.faults_end_s + after,
                    rx.clamp(LEFT + 50.0, WIDTH - RIGHT - 50.0),
                    bracket_y + 17.0,
                    secs(after)
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "<g><title>the service was not back within the bound</title><circle cx=\"{bound:.1}\" cy=\"{bracket_y:.1}\" r=\"5\" fill=\"{RED}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" style=\"fill:{RED};font-weight:700\">not back within the bound</text></g>",
                    bound.max(LEFT + 160.0),
                    bracket_y + 17.0
                );
            }
        }
    }

    // Fences, on the victim's lane.
    for f in &r.fences {
        let Some(i) = nodes.iter().position(|n| n == &f.victim) else {
            continue;
        };
        let cx = x(f.at_s);
        let cy = node_top(i) + 17.0;
        let fill = if f.result.eq_ignore_ascii_case("success") {
            "#222"
        } else if f.result.to_ascii_lowercase().contains("fail") {
            ORANGE
        } else {
            "#7f8c8d"
        };
        let (stroke, stroke_w) = if f.victim_faulted {
            ("#fff", 1.0)
        } else {
            (RED, 2.5)
        };
        let tip = format!(
            "fence at {:.3} s: {} fenced {}: {}{}",
            f.at_s,
            f.by,
            f.victim,
            f.result,
            if f.victim_faulted {
                ""
            } else {
                " (the victim was not faulted)"
            }
        );
        let _ = writeln!(
            s,
            "<polygon points=\"{:.1},{cy:.1} {cx:.1},{:.1} {:.1},{cy:.1} {cx:.1},{:.1}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{stroke_w}\"><title>{}</title></polygon>",
            cx - 7.0,
            cy - 7.0,
            cx + 7.0,
            cy + 7.0,
            esc(&tip)
        );
    }

    // Violations, on top of everything.
    for v in &r.violations {
        let vx = x(v.at_s);
        let _ = writeln!(
            s,
            "<g><title>{}</title><line x1=\"{vx:.1}\" y1=\"{violation_y:.1}\" x2=\"{vx:.1}\" y2=\"{lanes_bottom:.1}\" stroke=\"{RED}\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/><circle cx=\"{vx:.1}\" cy=\"{violation_y:.1}\" r=\"7\" fill=\"{RED}\"/><text x=\"{vx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" style=\"fill:#fff;font-weight:700\">!</text></g>",
            esc(&format!("VIOLATION {} at {:.3} s: {}", v.kind, v.at_s, v.detail)),
            violation_y + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}
