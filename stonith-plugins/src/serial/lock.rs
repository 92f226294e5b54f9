//! UUCP-style lock files for serial ports: `LCK..<name>` in the lock directory
//! (`/var/lock` by default), holding the owner's PID as ten ASCII digits and a newline (the
//! HDB UUCP format that cluster-glue, minicom, cu and lockdev read and write).
//!
//! Programs disagree on `<name>`, so we take every name another program may use for the
//! same port: the base name of the path as configured (the FHS rule: `LCK..ttyS0` for
//! `/dev/ttyS0`), the base name of the device it resolves to (`/dev/serial/by-id/...` →
//! `LCK..ttyUSB0`, what minicom and cu lock), and cluster-glue's own name (`st_ttylock.c`:
//! the path less its first five bytes, which it assumes are `/dev/`, with everything but
//! letters and digits dropped: `LCK..serialbyidusbFTDI...`). Usually they are one name.
//!
//! Taking a lock is atomic: the PID is written to a temporary file `LTMP.<pid>` beside it,
//! which is then hard-linked to the lock name; the link fails if a lock exists. A lock whose
//! PID is no longer alive is stale and is taken over; a lock of a live process is
//! [`SerialError::Busy`]. The lock file is removed when the [`PortLock`] is dropped (every
//! return and error path, and unwinding panics) and by [`install_signal_cleanup`] on
//! SIGTERM, SIGINT, SIGHUP and SIGQUIT.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::serial::error::SerialError;

/// Where lock files go unless `serial_lock_dir` says otherwise.
pub const DEFAULT_LOCK_DIR: &str = "/var/lock";

/// Locks held by this process, removed by the signal handler.
static HELD: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A held lock on one serial port (one file per name of it); the lock files go away on
/// drop.
#[derive(Debug)]
pub struct PortLock {
    files: Vec<FileLock>,
}

/// One held lock file.
#[derive(Debug)]
struct FileLock {
    path: PathBuf,
}

/// The FHS lock file path for `device` in `dir` (`LCK..` and the base name).
pub fn lock_path(dir: &Path, device: &Path) -> PathBuf {
    let name = device
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| device.to_string_lossy().replace('/', "_"));
    dir.join(format!("LCK..{name}"))
}

/// cluster-glue's lock file name for `device` (see the module documentation).
pub fn cluster_glue_name(device: &Path) -> String {
    let text = device.to_string_lossy();
    let rest = text.get(5..).unwrap_or("");
    let raw: String = rest
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(63)
        .collect();
    format!("LCK..{raw}")
}

/// Every lock file path for `device` in `dir`, without duplicates, FHS name first.
pub fn lock_paths(dir: &Path, device: &Path) -> Vec<PathBuf> {
    let mut paths = vec![lock_path(dir, device)];
    if let Ok(real) = std::fs::canonicalize(device) {
        paths.push(lock_path(dir, &real));
    }
    paths.push(dir.join(cluster_glue_name(device)));
    let mut seen = Vec::new();
    paths.retain(|p| {
        let fresh = !seen.contains(p);
        seen.push(p.clone());
        fresh
    });
    paths
}

/// Formats a PID the HDB UUCP way: ten characters, right-aligned, and a newline.
pub fn format_pid(pid: u32) -> String {
    format!("{pid:>10}\n")
}

/// Reads the PID in a lock file's contents (ASCII, surrounding spaces allowed).
pub fn parse_pid(contents: &[u8]) -> Option<u32> {
    std::str::from_utf8(contents)
        .ok()?
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|p| *p > 0)
}

/// Whether process `pid` exists (a process we may not signal exists too).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    let Some(pid) = rustix::process::Pid::from_raw(raw) else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e != rustix::io::Errno::SRCH,
    }
}

impl PortLock {
    /// Takes the locks of `device` in `dir` (every name of it), taking over stale locks of
    /// dead processes. On failure none is held.
    pub fn acquire(dir: &Path, device: &Path) -> Result<PortLock, SerialError> {
        let mut files = Vec::new();
        for path in lock_paths(dir, device) {
            // On error, the files taken so far are dropped (removed) with `files`.
            files.push(FileLock::acquire(dir, device, path)?);
        }
        Ok(PortLock { files })
    }

    /// The lock files.
    pub fn paths(&self) -> Vec<&Path> {
        self.files.iter().map(|f| f.path.as_path()).collect()
    }
}

impl FileLock {
    fn acquire(dir: &Path, device: &Path, path: PathBuf) -> Result<FileLock, SerialError> {
        // Held throughout, so a signal's cleanup waits for this to finish and then removes
        // exactly what this process created (its temporary file, or its new lock).
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        let me = std::process::id();
        let err = |detail: String| SerialError::Lock {
            device: device.display().to_string(),
            lock: path.display().to_string(),
            detail,
        };
        let tmp = dir.join(format!("LTMP.{me}"));
        let write_tmp = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(format_pid(me).as_bytes())?;
            f.sync_all()
        };
        held.push(tmp.clone());
        if let Err(e) = write_tmp() {
            let _ = std::fs::remove_file(&tmp);
            held.retain(|p| p != &tmp);
            return Err(err(format!("cannot write {}: {e}", tmp.display())));
        }
        let result = (|| {
            // Two rounds: a stale lock removed in the first is retaken in the second; a lock
            // that reappears in between belongs to a racing process, which then wins.
            for _ in 0..2 {
                match std::fs::hard_link(&tmp, &path) {
                    Ok(()) => return Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(err(e.to_string())),
                }
                let contents = match std::fs::read(&path) {
                    Ok(c) => c,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(err(format!("cannot read it: {e}"))),
                };
                match parse_pid(&contents) {
                    Some(pid) if pid == me => {
                        return Err(err("this process already holds it".into()));
                    }
                    Some(pid) if pid_alive(pid) => {
                        return Err(SerialError::Busy {
                            device: device.display().to_string(),
                            lock: path.display().to_string(),
                            pid,
                        });
                    }
                    stale => {
                        tracing::info!(
                            "Removing stale lock {} of dead process {stale:?}",
                            path.display()
                        );
                        match std::fs::remove_file(&path) {
                            Ok(()) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => return Err(err(format!("cannot remove stale lock: {e}"))),
                        }
                    }
                }
            }
            Err(err(
                "another process took it while its stale lock was removed".into(),
            ))
        })();
        let _ = std::fs::remove_file(&tmp);
        held.retain(|p| p != &tmp);
        result?;
        held.push(path.clone());
        Ok(FileLock { path })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        HELD.lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|p| p != &self.path);
    }
}

/// Removes every lock file this process holds (for exit paths that skip destructors).
pub fn release_all() {
    let held = std::mem::take(&mut *HELD.lock().unwrap_or_else(|p| p.into_inner()));
    for p in held {
        let _ = std::fs::remove_file(p);
    }
}

/// Makes SIGTERM, SIGINT, SIGHUP and SIGQUIT remove the held lock files, then exit with
/// 128 + the signal number (the shell convention). Call once, early, from a binary.
pub fn install_signal_cleanup() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP, SIGQUIT])
    else {
        tracing::warn!("cannot install signal handlers; a killed agent may leave a lock file");
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("lock-cleanup".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                // Keep the list locked until the process is gone: `exit` takes a moment,
                // and no other thread may take a new lock in it.
                let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
                for p in held.drain(..) {
                    let _ = std::fs::remove_file(p);
                }
                std::process::exit(128 + sig);
            }
        });
    if spawned.is_err() {
        tracing::warn!("cannot start the signal thread; a killed agent may leave a lock file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pid_is_ten_ascii_characters_and_a_newline() {
        assert_eq!(format_pid(1234), "      1234\n");
        assert_eq!(parse_pid(b"      1234\n"), Some(1234));
        assert_eq!(parse_pid(b"garbage"), None);
        assert_eq!(parse_pid(b"0\n"), None);
    }

    #[test]
    fn the_lock_name_is_the_last_path_component() {
        assert_eq!(
            lock_path(Path::new("/var/lock"), Path::new("/dev/ttyS0")),
            PathBuf::from("/var/lock/LCK..ttyS0")
        );
    }

    #[test]
    fn a_lock_is_exclusive_and_removed_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dev = Path::new("/dev/ttyFAKE0");
        let lock = PortLock::acquire(dir.path(), dev).expect("lock");
        let paths: Vec<PathBuf> = lock.paths().iter().map(|p| p.to_path_buf()).collect();
        assert_eq!(paths.len(), 1, "{paths:?}");
        let contents = std::fs::read(&paths[0]).expect("read");
        assert_eq!(parse_pid(&contents), Some(std::process::id()));
        assert!(PortLock::acquire(dir.path(), dev).is_err());
        drop(lock);
        assert!(!paths[0].exists());
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn cluster_glue_names_are_taken_too() {
        let dev = Path::new("/dev/serial/by-id/usb-FTDI_x-if00");
        assert_eq!(cluster_glue_name(dev), "LCK..serialbyidusbFTDIxif00");
        assert_eq!(cluster_glue_name(Path::new("/dev/ttyS0")), "LCK..ttyS0");
        let names = lock_paths(Path::new("/l"), dev);
        assert_eq!(
            names,
            vec![
                PathBuf::from("/l/LCK..usb-FTDI_x-if00"),
                PathBuf::from("/l/LCK..serialbyidusbFTDIxif00")
            ]
        );
        // cluster-glue's lock (PID in 11 characters) on the other name makes the port busy.
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        let glue = dir.path().join(cluster_glue_name(dev));
        std::fs::write(&glue, format!("{:>11}\n", child.id())).expect("write");
        let err = PortLock::acquire(dir.path(), dev).expect_err("busy");
        assert!(matches!(err, SerialError::Busy { .. }), "{err}");
        // The FHS-named lock taken before the busy one was released again.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn a_stale_lock_is_taken_over_and_a_live_one_is_busy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dev = Path::new("/dev/ttyFAKE1");
        let path = lock_path(dir.path(), dev);
        // A PID that cannot exist (above the kernel's pid_max limit).
        std::fs::write(&path, format_pid(4_194_304 + 7)).expect("write");
        let lock = PortLock::acquire(dir.path(), dev).expect("stale lock taken over");
        drop(lock);
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        std::fs::write(&path, format_pid(child.id())).expect("write");
        let err = PortLock::acquire(dir.path(), dev).expect_err("busy");
        assert!(
            matches!(err, SerialError::Busy { pid, .. } if pid == child.id()),
            "{err}"
        );
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_file(&path);
    }
}
