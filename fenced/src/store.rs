//! The fence history on disk: one JSON record per line, appended as operations end, loaded
//! at start (so it survives restarts), bounded: when the file holds twice the limit it is
//! rewritten with the newest `limit` records.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::history::Record;

/// A history file as read: its records, oldest first, and the lines that did not parse.
#[derive(Debug, Default)]
pub struct HistoryFile {
    /// The records, oldest first.
    pub records: Vec<Record>,
    /// Lines that did not parse: (1-based line, why).
    pub damaged: Vec<(usize, String)>,
    /// Lines in the file.
    pub lines: usize,
}

/// Reads the history file at `path` without changing anything (a missing file is an empty
/// history): for fenced at start, and for `fence_tool history` while fenced is down.
pub fn read_history(path: &Path) -> std::io::Result<HistoryFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut file = HistoryFile::default();
    for (n, line) in text.lines().enumerate() {
        file.lines += 1;
        match serde_json::from_str::<Record>(line) {
            Ok(r) => file.records.push(r),
            Err(e) => file.damaged.push((n + 1, e.to_string())),
        }
    }
    Ok(file)
}

/// The history, in memory and on disk.
#[derive(Debug)]
pub struct HistoryStore {
    path: PathBuf,
    limit: usize,
    records: VecDeque<Record>,
    lines_on_disk: usize,
}

impl HistoryStore {
    /// Loads `path` (missing file = empty history). Lines that do not parse are skipped
    /// with a warning, never fatal: a torn last line after a crash must not stop fencing.
    pub fn open(path: &Path, limit: usize) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let read = read_history(path)?;
        for (line, e) in &read.damaged {
            tracing::warn!(
                "{}:{line}: skipping a damaged history line: {e}",
                path.display()
            );
        }
        let lines = read.lines;
        let mut records: VecDeque<Record> = read.records.into();
        while records.len() > limit {
            records.pop_front();
        }
        Ok(Self {
            path: path.to_path_buf(),
            limit,
            records,
            lines_on_disk: lines,
        })
    }

    /// The records, oldest first.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.iter()
    }

    /// The highest operation id recorded (new ids must not repeat old ones).
    pub fn last_id(&self) -> u64 {
        self.records.iter().map(|r| r.id).max().unwrap_or(0)
    }

    /// Appends `record` (and compacts the file when it has grown to twice the limit).
    pub fn append(&mut self, record: Record) -> std::io::Result<()> {
        let line = serde_json::to_string(&record).map_err(std::io::Error::other)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(line.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_data()?;
        self.lines_on_disk += 1;
        self.records.push_back(record);
        while self.records.len() > self.limit {
            self.records.pop_front();
        }
        if self.lines_on_disk >= 2 * self.limit {
            self.compact()?;
        }
        Ok(())
    }

    fn compact(&mut self) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut text = String::new();
        for r in &self.records {
            text.push_str(&serde_json::to_string(r).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)?;
        self.lines_on_disk = self.records.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{FenceAction, Origin, Outcome};
    use crate::topology::NodeName;

    fn record(id: u64) -> Record {
        Record {
            id,
            target: NodeName("web1".into()),
            action: FenceAction::Off,
            origin: Origin::Admin("root".into()),
            joined: Vec::new(),
            attempts: Vec::new(),
            outcome: Outcome::Fenced,
            elapsed_ms: 5,
            requested_at: 1,
            finished_at: 2,
        }
    }

    #[test]
    fn history_survives_a_restart_and_stays_bounded() {
        let dir = std::env::temp_dir().join(format!("fenced-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("h.jsonl");
        let mut store = HistoryStore::open(&path, 10).expect("open");
        for id in 1..=25 {
            store.append(record(id)).expect("append");
        }
        assert_eq!(store.records().count(), 10);
        let lines = std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .count();
        assert!(lines < 20, "compacted: {lines}");
        // A torn last line (crash mid-write) is skipped.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{\"id\": 26, \"tar"))
            .expect("tear");
        let store = HistoryStore::open(&path, 10).expect("reopen");
        assert_eq!(store.last_id(), 25);
        assert_eq!(store.records().next().map(|r| r.id), Some(16));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
