//! The summary: one row per schedule, then the campaign's totals, as [`Table`]s rendered as
//! aligned text, as markdown, or (by the HTML report) as HTML tables.

use std::collections::BTreeMap;

use super::super::record::{RunRecord, Verdict};
use super::{recovery_cell, secs, visible, yes_no, VERDICTS};

/// One cell: its text, and for the HTML report an optional link and CSS class.
pub(super) struct Cell {
    /// What the cell says.
    pub text: String,
    /// Where the cell links to in the HTML report (`#seed-7`).
    pub link: Option<String>,
    /// The cell's CSS class in the HTML report.
    pub class: Option<&'static str>,
}

impl Cell {
    fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            link: None,
            class: None,
        }
    }
}

/// One table of the summary.
pub(super) struct Table {
    /// What the table shows.
    pub title: String,
    /// The column headers, and whether the column is numeric (aligned right).
    pub columns: Vec<(&'static str, bool)>,
    /// The rows, as many cells as columns.
    pub rows: Vec<Vec<Cell>>,
    /// A remark under the table, if any.
    pub note: Option<String>,
}

/// The summary's heading: `chaos campaign: 12 schedules`.
pub(super) fn heading(records: &[RunRecord]) -> String {
    format!(
        "chaos campaign: {} schedule{}",
        records.len(),
        plural(records.len())
    )
}

/// The summary's tables: the schedules, the totals, faults and violations by kind, and the
/// figures by cluster size and by fencing.
pub(super) fn tables(records: &[RunRecord]) -> Vec<Table> {
    vec![
        schedules_table(records),
        totals_table(records),
        faults_table(records),
        violations_table(records),
        group_table("by cluster size", "nodes", true, records, |r| {
            (format!("{:>6}", r.shape.nodes), r.shape.nodes.to_string())
        }),
        group_table("by fencing", "fencing", false, records, |r| {
            (r.shape.fencing.clone(), r.shape.fencing.clone())
        }),
    ]
}

/// The CSS class of a verdict in the HTML report.
pub(super) fn verdict_class(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "v-ok",
        Verdict::Violation => "v-violation",
        Verdict::NoRecovery => "v-no-recovery",
        Verdict::LabError => "v-lab-error",
    }
}

fn schedules_table(records: &[RunRecord]) -> Table {
    let rows = records
        .iter()
        .map(|r| {
            vec![
                Cell {
                    text: r.seed.to_string(),
                    link: Some(format!("#seed-{}", r.seed)),
                    class: None,
                },
                Cell::plain(r.shape.nodes.to_string()),
                Cell::plain(r.shape.stack.clone()),
                Cell::plain(yes_no(r.shape.qdisk)),
                Cell::plain(r.shape.fencing.clone()),
                Cell::plain(r.shape.timing.clone()),
                Cell::plain(secs(r.duration_s)),
                Cell::plain(r.faults.len().to_string()),
                Cell {
                    text: r.verdict.word().to_string(),
                    link: None,
                    class: Some(verdict_class(r.verdict)),
                },
                Cell::plain(r.violations.len().to_string()),
                Cell::plain(if r.verdict == Verdict::LabError {
                    "-".to_string()
                } else {
                    secs(r.longest_outage_s)
                }),
                Cell::plain(recovery_cell(r)),
            ]
        })
        .collect();
    Table {
        title: "schedules".to_string(),
        columns: vec![
            ("seed", true),
            ("nodes", true),
            ("stack", false),
            ("qdisk", false),
            ("fencing", false),
            ("timing", false),
            ("duration", true),
            ("faults", true),
            ("verdict", false),
            ("violations", true),
            ("longest outage", true),
            ("recovered after", true),
        ],
        rows,
        note: None,
    }
}

/// The outage and recovery figures of a set of schedules (lab errors left out).
pub(super) struct Figures {
    /// The longest outage and its seed.
    pub longest_outage: Option<(f64, u64)>,
    /// Times to recover of the schedules that recovered, with their seeds, shortest first.
    pub recovered: Vec<(f64, u64)>,
    /// Seeds of the schedules that never recovered.
    pub never: Vec<u64>,
}

impl Figures {
    /// The figures of `records`, lab errors left out.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a RunRecord>) -> Figures {
        let mut figures = Figures {
            longest_outage: None,
            recovered: Vec::new(),
            never: Vec::new(),
        };
        for r in records {
            if r.verdict == Verdict::LabError {
                continue;
            }
            if figures
                .longest_outage
                .is_none_or(|(longest, _)| r.longest_outage_s > longest)
            {
                figures.longest_outage = Some((r.longest_outage_s, r.seed));
            }
            match r.recovered_after_s {
                Some(s) => figures.recovered.push((s, r.seed)),
                None => figures.never.push(r.seed),
            }
        }
        // A stable sort: of equal times, the first schedule is the one named.
        figures.recovered.sort_by(|a, b| a.0.total_cmp(&b.0));
        figures
    }

    /// The median time to recover of the schedules that recovered.
    pub fn median(&self) -> Option<f64> {
        let n = self.recovered.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(self.recovered[n / 2].0),
            _ => Some((self.recovered[n / 2 - 1].0 + self.recovered[n / 2].0) / 2.0),
        }
    }

    /// The longest time to recover of the schedules that recovered, and its (first) seed.
    pub fn max(&self) -> Option<(f64, u64)> {
        let (max, _) = *self.recovered.last()?;
        self.recovered.iter().find(|(s, _)| *s == max).copied()
    }
}

fn totals_table(records: &[RunRecord]) -> Table {
    let mut rows = vec![vec![
        Cell::plain("schedules"),
        Cell::plain(records.len().to_string()),
    ]];
    for verdict in VERDICTS {
        let seeds: Vec<u64> = records
            .iter()
            .filter(|r| r.verdict == verdict)
            .map(|r| r.seed)
            .collect();
        let mut value = seeds.len().to_string();
        if verdict != Verdict::Ok && !seeds.is_empty() {
            value.push_str(&format!(" ({})", seeds_named(&seeds)));
        }
        rows.push(vec![
            Cell::plain(format!("verdict {}", verdict.word())),
            Cell::plain(value),
        ]);
    }
    let faults: usize = records.iter().map(|r| r.faults.len()).sum();
    let violations: usize = records.iter().map(|r| r.violations.len()).sum();
    rows.push(vec![
        Cell::plain("faults injected"),
        Cell::plain(faults.to_string()),
    ]);
    rows.push(vec![
        Cell::plain("violations"),
        Cell::plain(violations.to_string()),
    ]);
    let figures = Figures::of(records);
    rows.push(vec![
        Cell::plain("longest outage"),
        Cell::plain(match figures.longest_outage {
            Some((s, seed)) => format!("{} (seed {seed})", secs(s)),
            None => "-".to_string(),
        }),
    ]);
    rows.push(vec![
        Cell::plain("time to recover, median"),
        Cell::plain(match figures.median() {
            Some(s) => format!(
                "{} (of {} that recovered)",
                secs(s),
                figures.recovered.len()
            ),
            None => "-".to_string(),
        }),
    ]);
    rows.push(vec![
        Cell::plain("time to recover, max"),
        Cell::plain(match figures.max() {
            Some((s, seed)) => format!("{} (seed {seed})", secs(s)),
            None => "-".to_string(),
        }),
    ]);
    rows.push(vec![
        Cell::plain("never recovered"),
        Cell::plain(if figures.never.is_empty() {
            "0".to_string()
        } else {
            format!("{} ({})", figures.never.len(), seeds_named(&figures.never))
        }),
    ]);
    let lab_errors = records
        .iter()
        .filter(|r| r.verdict == Verdict::LabError)
        .count();
    Table {
        title: "totals".to_string(),
        columns: vec![("total", false), ("value", false)],
        rows,
        note: (lab_errors > 0).then(|| {
            format!(
                "The {lab_errors} lab-error schedule{} proved nothing: left out of the outage and recovery figures.",
                plural(lab_errors)
            )
        }),
    }
}

fn faults_table(records: &[RunRecord]) -> Table {
    // kind -> (injected, schedules with it)
    let mut kinds: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in records {
        let mut seen: Vec<&str> = Vec::new();
        for f in &r.faults {
            let entry = kinds.entry(f.kind.as_str()).or_default();
            entry.0 += 1;
            if !seen.contains(&f.kind.as_str()) {
                seen.push(&f.kind);
                entry.1 += 1;
            }
        }
    }
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    Table {
        title: "faults by kind".to_string(),
        columns: vec![("kind", false), ("injected", true), ("schedules", true)],
        rows: kinds
            .into_iter()
            .map(|(kind, (injected, schedules))| {
                vec![
                    Cell::plain(kind),
                    Cell::plain(injected.to_string()),
                    Cell::plain(schedules.to_string()),
                ]
            })
            .collect(),
        note: None,
    }
}

fn violations_table(records: &[RunRecord]) -> Table {
    // kind -> (count, seeds)
    let mut kinds: BTreeMap<&str, (usize, Vec<u64>)> = BTreeMap::new();
    for r in records {
        for v in &r.violations {
            let entry = kinds.entry(v.kind.as_str()).or_default();
            entry.0 += 1;
            if !entry.1.contains(&r.seed) {
                entry.1.push(r.seed);
            }
        }
    }
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    Table {
        title: "violations by kind".to_string(),
        columns: vec![("kind", false), ("count", true), ("seeds", false)],
        rows: kinds
            .into_iter()
            .map(|(kind, (count, seeds))| {
                vec![
                    Cell::plain(kind),
                    Cell::plain(count.to_string()),
                    Cell::plain(seed_list(&seeds)),
                ]
            })
            .collect(),
        note: None,
    }
}

/// The figures of the schedules grouped by `key` (a sort key and the shown value).
fn group_table(
    title: &str,
    column: &'static str,
    numeric: bool,
    records: &[RunRecord],
    key: impl Fn(&RunRecord) -> (String, String),
) -> Table {
    let mut groups: BTreeMap<String, (String, Vec<&RunRecord>)> = BTreeMap::new();
    for r in records {
        let (sort, shown) = key(r);
        groups.entry(sort).or_insert((shown, Vec::new())).1.push(r);
    }
    let rows = groups
        .into_values()
        .map(|(shown, group)| {
            let mut row = vec![Cell::plain(shown), Cell::plain(group.len().to_string())];
            for verdict in VERDICTS {
                let n = group.iter().filter(|r| r.verdict == verdict).count();
                row.push(Cell::plain(n.to_string()));
            }
            let figures = Figures::of(group.iter().copied());
            row.push(Cell::plain(match figures.longest_outage {
                Some((s, seed)) => format!("{} (seed {seed})", secs(s)),
                None => "-".to_string(),
            }));
            row.push(Cell::plain(figures.median().map_or("-".to_string(), secs)));
            row.push(Cell::plain(match figures.max() {
                Some((s, seed)) => format!("{} (seed {seed})", secs(s)),
                None => "-".to_string(),
            }));
            row.push(Cell::plain(figures.never.len().to_string()));
            row
        })
        .collect();
    Table {
        title: title.to_string(),
        columns: vec![
            (column, numeric),
            ("schedules", true),
            ("ok", true),
            ("VIOLATION", true),
            ("no-recovery", true),
            ("lab-error", true),
            ("longest outage", true),
            ("recovery median", true),
            ("recovery max", true),
            ("never", true),
        ],
        rows,
        note: None,
    }
}

/// Seeds as `3, 17, 42`, the first ten of them.
fn seed_list(seeds: &[u64]) -> String {
    const SHOWN: usize = 10;
    let mut list = seeds
        .iter()
        .take(SHOWN)
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if seeds.len() > SHOWN {
        list.push_str(&format!(", … ({} more)", seeds.len() - SHOWN));
    }
    list
}

/// Seeds as `seed 3` or `seeds 3, 17, 42`.
fn seeds_named(seeds: &[u64]) -> String {
    format!("seed{} {}", plural(seeds.len()), seed_list(seeds))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The plain-text summary of a campaign: one line per schedule (seed, cluster shape,
/// duration, faults, verdict, violations, longest outage, time to recover or `never`), then
/// the totals (verdicts, faults and violations by kind, longest outage, median and longest
/// time to recover) and the same figures by cluster size and by fencing, in aligned columns.
pub fn summary_table(records: &[RunRecord]) -> String {
    let mut out = heading(records);
    out.push('\n');
    for table in tables(records) {
        out.push('\n');
        out.push_str(&text_table(&table));
    }
    out
}

/// The same summary as [`summary_table`], as markdown: a heading and one table per part.
pub fn summary_markdown(records: &[RunRecord]) -> String {
    let mut out = format!("# {}\n", markdown_escape(&heading(records)));
    for table in tables(records) {
        out.push('\n');
        out.push_str(&markdown_table(&table));
    }
    out
}

/// A cell's text on one line, control characters made visible.
fn cell_text(cell: &Cell) -> String {
    visible(&cell.text, false)
}

fn text_table(table: &Table) -> String {
    let mut out = format!("{}\n", table.title);
    if table.rows.is_empty() {
        out.push_str("  (none)\n");
        return finish_note(out, table);
    }
    let headed = table.columns.iter().any(|(h, _)| !h.is_empty());
    let cells: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|row| row.iter().map(cell_text).collect())
        .collect();
    let widths: Vec<usize> = (0..table.columns.len())
        .map(|i| {
            cells
                .iter()
                .map(|row| row.get(i).map_or(0, |c| c.chars().count()))
                .chain(std::iter::once(table.columns[i].0.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |texts: &[&str]| -> String {
        let mut line = String::from(" ");
        for (i, (&(_, numeric), width)) in table.columns.iter().zip(&widths).enumerate() {
            let text = texts.get(i).copied().unwrap_or("");
            line.push(' ');
            if numeric {
                line.push_str(&format!("{text:>width$}"));
            } else {
                line.push_str(&format!("{text:<width$}"));
            }
            line.push(' ');
        }
        format!("{}\n", line.trim_end())
    };
    if headed {
        let headers: Vec<&str> = table.columns.iter().map(|(h, _)| *h).collect();
        out.push_str(&line(&headers));
        let rules: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&rules.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    for row in &cells {
        out.push_str(&line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    finish_note(out, table)
}

fn finish_note(mut out: String, table: &Table) -> String {
    if let Some(note) = &table.note {
        out.push_str(&format!("  {}\n", visible(note, false)));
    }
    out
}

/// Text made safe in a markdown table cell: markdown's punctuation (and `|`, `<`, so that
/// nothing becomes a column break or HTML) backslash-escaped, on one line.
fn markdown_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in visible(s, false).chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '#' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn markdown_table(table: &Table) -> String {
    let mut out = format!("## {}\n\n", markdown_escape(&table.title));
    if table.rows.is_empty() {
        out.push_str("(none)\n");
    } else {
        out.push('|');
        for (header, _) in &table.columns {
            out.push_str(&format!(" {} |", markdown_escape(header)));
        }
        out.push_str("\n|");
        for (_, numeric) in &table.columns {
            out.push_str(if *numeric { " ---: |" } else { " --- |" });
        }
        out.push('\n');
        for row in &table.rows {
            out.push('|');
            for cell in row {
                out.push_str(&format!(" {} |", markdown_escape(&cell.text)));
            }
            out.push('\n');
        }
    }
    if let Some(note) = &table.note {
        out.push_str(&format!("\n{}\n", markdown_escape(note)));
    }
    out
}
