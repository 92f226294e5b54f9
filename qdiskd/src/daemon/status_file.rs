//! The status file, in Red Hat's shape (`qdisk(5)` `status_file`), rewritten when the
//! status changes. `-` means standard output.

use std::fmt::Write;
use std::path::Path;

use crate::api::StatusReply;

fn set(ids: &[u32]) -> String {
    let inner: Vec<String> = ids.iter().map(u32::to_string).collect();
    format!("{{ {} }}", inner.join(" "))
}

/// The text of the status file.
pub fn render(s: &StatusReply) -> String {
    let mut out = String::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let _ = writeln!(out, "Time Stamp: {now}");
    let _ = writeln!(out, "Node ID: {}", s.node);
    let _ = writeln!(
        out,
        "Score: {}/{} (Minimum required = {})",
        s.score, s.score_max, s.required_score
    );
    let _ = writeln!(out, "Current state: {}", s.state);
    let coming: Vec<u32> = s
        .nodes
        .iter()
        .filter(|n| n.view == "coming")
        .map(|n| n.node)
        .collect();
    let _ = writeln!(out, "Initializing Set: {}", set(&coming));
    let _ = writeln!(out, "Visible Set: {}", set(&s.visible));
    if s.state != "Initializing" {
        let master = s.master.map_or("(none)".to_string(), |m| m.to_string());
        let _ = writeln!(out, "Master Node ID: {master}");
        let _ = writeln!(out, "Quorate Set: {}", set(&s.quorate));
    }
    let _ = writeln!(
        out,
        "Votes: {} ({})",
        s.votes,
        if s.votes_held { "held" } else { "not held" }
    );
    out
}

/// Writes the file atomically (write a temporary file, rename), or to standard output.
pub fn write(path: &Path, status: &StatusReply) {
    let text = render(status);
    if path == Path::new("-") {
        print(&text);
        return;
    }
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, &text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .is_err()
    {
        tracing::warn!("cannot write the status file {}", path.display());
    }
}

fn print(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
