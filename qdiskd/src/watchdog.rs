//! A hardware watchdog, driven through the Linux watchdog API (`linux/watchdog.h`).
//!
//! Opening the device arms it; [`Watchdog::pet`] (`WDIOC_KEEPALIVE`) restarts its countdown;
//! when the countdown runs out the hardware resets the machine, whatever state the kernel
//! or the daemon is in. [`Watchdog::disarm`] is the magic close (write `V`, then close) and
//! is used only on a clean stop. Dropping a [`Watchdog`] closes it *without* the magic
//! character: the countdown goes on and the machine is reset unless someone opens and
//! pets the device again (SBD does the same when it self-fences, so that a self-fence that
//! hangs is still finished by the hardware).
//!
//! Any file that answers `WDIOC_GETSUPPORT` is accepted: real devices (`/dev/watchdog`,
//! `/dev/watchdogN`), and the test lab's watchdog, a file served through FUSE that answers
//! the same ioctls. The file type is not checked; the ioctl is.

// The watchdog API is ioctls; each call below names the one int or struct it passes.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::ioctl::{ioctl, opcode, Getter, Updater};

/// `struct watchdog_info` of `linux/watchdog.h`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct WatchdogInfo {
    options: u32,
    firmware_version: u32,
    identity: [u8; 32],
}

const WATCHDOG_IOCTL_BASE: u8 = b'W';
const WDIOC_GETSUPPORT: rustix::ioctl::Opcode =
    opcode::read::<WatchdogInfo>(WATCHDOG_IOCTL_BASE, 0);
const WDIOC_KEEPALIVE: rustix::ioctl::Opcode = opcode::read::<i32>(WATCHDOG_IOCTL_BASE, 5);
const WDIOC_SETTIMEOUT: rustix::ioctl::Opcode = opcode::read_write::<i32>(WATCHDOG_IOCTL_BASE, 6);
const WDIOC_GETTIMEOUT: rustix::ioctl::Opcode = opcode::read::<i32>(WATCHDOG_IOCTL_BASE, 7);
/// `WDIOF_SETTIMEOUT`: the timeout can be set.
const WDIOF_SETTIMEOUT: u32 = 0x0080;

/// Why a watchdog could not be armed or petted.
#[derive(Debug, thiserror::Error)]
pub enum WatchdogError {
    /// The device could not be opened.
    #[error("cannot open the watchdog device {path}: {source}{hint}")]
    Open {
        /// The device.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
        /// What to do.
        hint: &'static str,
    },
    /// The file does not speak the watchdog API.
    #[error("{path} is not a watchdog device (WDIOC_GETSUPPORT failed: {source})")]
    NotAWatchdog {
        /// The device.
        path: PathBuf,
        /// The error.
        source: rustix::io::Errno,
    },
    /// The timeout could not be set.
    #[error("the watchdog {path} ({identity}) refused a timeout of {wanted:?}: {why}")]
    Timeout {
        /// The device.
        path: PathBuf,
        /// The driver's identity string.
        identity: String,
        /// What was asked.
        wanted: Duration,
        /// What went wrong.
        why: String,
    },
    /// A keepalive failed.
    #[error("cannot pet the watchdog {path}: {source}")]
    Pet {
        /// The device.
        path: PathBuf,
        /// The error.
        source: rustix::io::Errno,
    },
}

/// An armed watchdog. See the module documentation.
#[derive(Debug)]
pub struct Watchdog {
    file: Option<File>,
    path: PathBuf,
    identity: String,
    timeout: Duration,
}

impl Watchdog {
    /// Opens `path` (which arms it), checks that it is a watchdog and sets its timeout to
    /// `timeout` (whole seconds, at least 1). Fails, leaving the device disarmed when it can,
    /// if any step does not work.
    pub fn arm(path: &Path, timeout: Duration) -> Result<Watchdog, WatchdogError> {
        let file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|source| WatchdogError::Open {
                path: path.to_path_buf(),
                hint: match source.kind() {
                    std::io::ErrorKind::NotFound => "; load the driver of this machine's watchdog (or softdog, which cannot reset a hung kernel), or set watchdog = \"none\" to run without one",
                    std::io::ErrorKind::ResourceBusy => "; another program holds it (a watchdog has one opener: stop wdmd, sbd, corosync's or systemd's watchdog use)",
                    _ => "",
                },
                source,
            })?;
        let mut dog = Watchdog {
            file: Some(file),
            path: path.to_path_buf(),
            identity: String::new(),
            timeout,
        };
        let info = match dog.support() {
            Ok(info) => info,
            Err(source) => {
                dog.disarm_quietly();
                return Err(WatchdogError::NotAWatchdog {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let end = info
            .identity
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(info.identity.len());
        dog.identity = String::from_utf8_lossy(&info.identity[..end])
            .trim()
            .to_string();
        let refuse = |dog: &mut Watchdog, why: String| {
            let identity = dog.identity.clone();
            dog.disarm_quietly();
            WatchdogError::Timeout {
                path: path.to_path_buf(),
                identity,
                wanted: timeout,
                why,
            }
        };
        if info.options & WDIOF_SETTIMEOUT == 0 {
            return Err(refuse(
                &mut dog,
                "its driver cannot set a timeout (no WDIOF_SETTIMEOUT)".into(),
            ));
        }
        let wanted = timeout.as_secs();
        if timeout.subsec_nanos() != 0 || wanted == 0 || wanted > i32::MAX as u64 {
            return Err(refuse(
                &mut dog,
                "the watchdog API counts whole seconds, at least 1".into(),
            ));
        }
        let mut value = wanted as i32;
        // SAFETY: WDIOC_SETTIMEOUT reads and writes one int.
        let set = unsafe { ioctl(dog.fd()?, Updater::<WDIOC_SETTIMEOUT, i32>::new(&mut value)) };
        if let Err(e) = set {
            return Err(refuse(&mut dog, format!("WDIOC_SETTIMEOUT failed: {e}")));
        }
        // SAFETY: WDIOC_GETTIMEOUT writes one int.
        let actual =
            unsafe { ioctl(dog.fd()?, Getter::<WDIOC_GETTIMEOUT, i32>::new()) }.unwrap_or(value);
        if i64::from(actual) != wanted as i64 {
            return Err(refuse(
                &mut dog,
                format!("the driver set {actual} s instead; choose a timeout it supports"),
            ));
        }
        dog.pet()?;
        Ok(dog)
    }

    fn fd(&self) -> Result<&File, WatchdogError> {
        self.file.as_ref().ok_or_else(|| WatchdogError::Pet {
            path: self.path.clone(),
            source: rustix::io::Errno::BADF,
        })
    }

    fn support(&self) -> Result<WatchdogInfo, rustix::io::Errno> {
        let file = self.file.as_ref().ok_or(rustix::io::Errno::BADF)?;
        // SAFETY: WDIOC_GETSUPPORT writes one struct watchdog_info.
        unsafe { ioctl(file, Getter::<WDIOC_GETSUPPORT, WatchdogInfo>::new()) }
    }

    /// The device.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The driver's identity (`WDIOC_GETSUPPORT`), e.g. `iTCO_wdt`.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The timeout set.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Restarts the countdown.
    pub fn pet(&self) -> Result<(), WatchdogError> {
        let file = self.fd()?;
        // SAFETY: WDIOC_KEEPALIVE writes (at most) one int.
        unsafe { ioctl(file, Getter::<WDIOC_KEEPALIVE, i32>::new()) }
            .map(drop)
            .map_err(|source| WatchdogError::Pet {
                path: self.path.clone(),
                source,
            })
    }

    /// The magic close: the watchdog stops. Only for a clean stop.
    pub fn disarm(mut self) -> std::io::Result<()> {
        match self.file.take() {
            Some(mut file) => {
                file.write_all(b"V")?;
                drop(file);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn disarm_quietly(&mut self) {
        if let Some(mut file) = self.file.take() {
            let _ = file.write_all(b"V");
        }
    }
}

impl std::fmt::Display for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}), timeout {} s",
            self.path.display(),
            if self.identity.is_empty() {
                "unknown driver"
            } else {
                &self.identity
            },
            self.timeout.as_secs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opcodes_are_the_kernels() {
        // Values from linux/watchdog.h on x86-64 (_IOR/_IOWR with 'W').
        assert_eq!(WDIOC_GETSUPPORT, 0x8028_5700);
        assert_eq!(WDIOC_KEEPALIVE, 0x8004_5705);
        assert_eq!(WDIOC_SETTIMEOUT, 0xc004_5706);
        assert_eq!(WDIOC_GETTIMEOUT, 0x8004_5707);
    }

    #[test]
    fn a_plain_file_is_not_a_watchdog_and_is_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("not-a-watchdog");
        std::fs::write(&path, b"").expect("write");
        let e = Watchdog::arm(&path, Duration::from_secs(5)).expect_err("refused");
        assert!(matches!(e, WatchdogError::NotAWatchdog { .. }), "{e}");
        assert!(e.to_string().contains("is not a watchdog device"), "{e}");
    }

    #[test]
    fn a_missing_device_says_how_to_run_without_one() {
        let e = Watchdog::arm(Path::new("/nonexistent/watchdog"), Duration::from_secs(5))
            .expect_err("refused");
        assert!(e.to_string().contains("watchdog = \"none\""), "{e}");
    }
}
