//! Typed errors of serial power switches: the port, its lock, and the device's silence.

use std::time::Duration;

/// A serial line or the device on it failed. Every variant names the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SerialError {
    /// Another live process holds the port's UUCP lock (another fence agent, a terminal
    /// program, cluster-glue's `stonith`). Nothing was sent. Fix: wait for it to finish, or
    /// stop process `pid` if it is stuck.
    #[error("serial port {device} is busy: locked by live process {pid} ({lock}); wait for it to finish or stop it")]
    Busy {
        /// The device path as configured.
        device: String,
        /// The lock file.
        lock: String,
        /// The process holding it.
        pid: u32,
    },
    /// The lock file could not be created or read. Fix: check that `serial_lock_dir`
    /// exists and is writable by this user.
    #[error("cannot lock serial port {device} with {lock}: {detail} (check serial_lock_dir exists and is writable)")]
    Lock {
        /// The device path as configured.
        device: String,
        /// The lock file.
        lock: String,
        /// The system's reason.
        detail: String,
    },
    /// The port could not be opened or configured. Fix: check `serial_port` (the path,
    /// its permissions, the USB-serial adapter being plugged in).
    #[error("cannot open serial port {device}: {detail} (check serial_port and the adapter)")]
    Open {
        /// The device path as configured.
        device: String,
        /// The system's reason.
        detail: String,
    },
    /// The device did not send its ready banner in time. Likely cause: a broken or
    /// null-modem-less cable, the wrong line speed, or a device that is powered off.
    #[error("no {banner:?} banner from {device} within {after:?} (check the cable, the line speed and the device's power)")]
    NoBanner {
        /// The device path as configured.
        device: String,
        /// The banner we waited for.
        banner: String,
        /// How long we waited.
        after: Duration,
    },
    /// The device did not answer a command in time. Likely cause: a cable, speed or
    /// device-type mismatch (another model on that port), or a hung device.
    #[error("no reply from {device} to {what} within {after:?} (got {got:?}; check the cable, line speed and device type)")]
    NoReply {
        /// The device path as configured.
        device: String,
        /// The command we sent.
        what: String,
        /// How long we waited.
        after: Duration,
        /// What did arrive (printable), if anything.
        got: String,
    },
    /// Reading or writing the port failed (the adapter was unplugged, the line hung up).
    #[error("serial I/O on {device} failed: {detail} (check the adapter and the cable)")]
    Io {
        /// The device path as configured.
        device: String,
        /// The system's reason.
        detail: String,
    },
}

/// `bytes` as printable text for messages (control bytes escaped, at most 80 bytes).
pub fn printable(bytes: &[u8]) -> String {
    let mut s: String = bytes
        .iter()
        .take(80)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > 80 {
        s.push_str("...");
    }
    s
}
