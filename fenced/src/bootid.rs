//! Unfencing at start only after a reboot.
//!
//! With `unfence_on_start`, fenced switches its own node's fabric ports back on when it
//! starts. That is right after a reboot (a fenced node comes back clean), and wrong after a
//! mere restart of fenced: a fabric fence put on this node while it ran must stay until an
//! operator has checked the node and runs `fence_node -U`. The kernel's boot id
//! (`/proc/sys/kernel/random/boot_id`, new at every boot) tells the two apart: fenced records
//! it in its state directory at every start, and [`decide`] compares.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The kernel's boot id, new at every boot.
pub const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

/// Whether this start of fenced follows a reboot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartKind {
    /// No boot id recorded: fenced's first start here. Unfence.
    FirstStart,
    /// The recorded boot id is another boot's: the node rebooted. Unfence.
    Rebooted,
    /// fenced already ran in this boot: it was restarted without a reboot. Do not unfence.
    SameBoot,
}

impl StartKind {
    /// Whether fenced unfences its node on this start.
    pub fn unfences(&self) -> bool {
        !matches!(self, StartKind::SameBoot)
    }

    /// In words, for the log.
    pub fn words(&self) -> &'static str {
        match self {
            StartKind::FirstStart => "first start of fenced on this node",
            StartKind::Rebooted => "the node rebooted since fenced last ran",
            StartKind::SameBoot => "fenced restarted without a reboot",
        }
    }
}

/// Decides from the `recorded` boot id (the record's text, `None` if there is none) and the
/// `current` one. Surrounding white space does not count; an empty record is no record.
pub fn decide(recorded: Option<&str>, current: &str) -> StartKind {
    match recorded.map(str::trim).filter(|r| !r.is_empty()) {
        None => StartKind::FirstStart,
        Some(r) if r == current.trim() => StartKind::SameBoot,
        Some(_) => StartKind::Rebooted,
    }
}

/// Reads the kernel's boot id.
pub fn current() -> std::io::Result<String> {
    std::fs::read_to_string(BOOT_ID_PATH).map(|s| s.trim().to_string())
}

/// Reads the record at `path`: `None` when there is none.
pub fn read_record(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Records `boot_id` at `path` atomically (a temporary file beside it, synced, renamed),
/// mode 0644: it is no secret.
pub fn write_record(path: &Path, boot_id: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)?;
    file.write_all(format!("{}\n", boot_id.trim()).as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "2f6b3c8e-4d1a-4e0b-9a52-0c8d7e6f5a41";
    const B: &str = "9d0e1f2a-3b4c-4d5e-8f60-718293a4b5c6";

    #[test]
    fn unfence_at_the_first_start_and_after_a_reboot_only() {
        assert_eq!(decide(None, A), StartKind::FirstStart);
        assert_eq!(decide(Some(""), A), StartKind::FirstStart);
        assert_eq!(decide(Some(B), A), StartKind::Rebooted);
        assert_eq!(decide(Some(&format!("{A}\n")), A), StartKind::SameBoot);
        assert!(StartKind::FirstStart.unfences());
        assert!(StartKind::Rebooted.unfences());
        assert!(!StartKind::SameBoot.unfences());
    }

    #[test]
    fn the_record_is_written_atomically_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("fenced-bootid-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("state").join("fenced.boot_id");
        assert_eq!(read_record(&path).expect("read"), None);
        write_record(&path, A).expect("write");
        write_record(&path, B).expect("overwrite");
        let text = read_record(&path).expect("read").expect("a record");
        assert_eq!(decide(Some(&text), B), StartKind::SameBoot);
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode & 0o600, 0o600, "{mode:o}");
        assert!(!path.with_extension("tmp").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn this_kernel_has_a_boot_id() {
        let id = current().expect("boot id");
        assert_eq!(id.len(), 36, "{id}");
    }
}
