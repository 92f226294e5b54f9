//! Power switches on serial lines: WTI RPS-10 ([`rps10`]), APC Smart-UPS "smart" protocol
//! ([`apcsmart`]), Night/Ware RPC100S ([`nw_rpc100s`]) and CH340 "LCUS" USB-serial relay
//! boards ([`lcus`]).
//!
//! Shared machinery: [`line::SerialLine`] opens a port with the device's documented line
//! settings under a UUCP lock ([`lock`]), discards stale input, and bounds every read by a
//! deadline; [`error::SerialError`] says what failed (busy port, no banner, no reply). A
//! plug that the device does not have is refused when the device is built, before the line
//! is touched. The line is opened at the first exchange and kept for the whole action
//! (status check, command, confirmation), then closed and unlocked.
//!
//! Compared with cluster-glue's C plugins, which these replace: no fixed sleeps where the
//! device reports (its reply is waited for, with a deadline), the new state confirmed by the
//! device wherever it can report it, and no EEPROM writes (see [`apcsmart`]).

pub mod apcsmart;
pub mod error;
pub mod lcus;
pub mod line;
pub mod lock;
pub mod nw_rpc100s;
pub mod rps10;

use std::path::PathBuf;

use crate::error::{FenceError, ParamError};
use crate::params::{ParamSpec, ParamType, Params, COMMON};

pub use error::SerialError;
pub use line::{LineSettings, SerialLine};
pub use lock::PortLock;

/// Parameters every serial plugin takes (its own come first).
pub const SERIAL_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "serial_port",
        ParamType::String,
        "Serial port the device is attached to (e.g. /dev/ttyS0, /dev/ttyUSB0); fence-agents' \
         name (fence_rcd_serial)",
    )
    .aliases(&["serial_device", "ttydev"])
    .required(),
    ParamSpec::new(
        "serial_lock_dir",
        ParamType::String,
        "Directory of the UUCP lock files (LCK..<port>)",
    )
    .default(lock::DEFAULT_LOCK_DIR),
];

/// The common parameters that make sense on a serial line (no address, no login).
pub fn common_params() -> Vec<ParamSpec> {
    COMMON
        .iter()
        .filter(|s| {
            !matches!(
                s.name,
                "ip" | "ipport" | "username" | "password" | "password_script"
            )
        })
        .copied()
        .collect()
}

/// The device path and lock directory from validated parameters.
pub fn port_params(p: &Params) -> Result<(PathBuf, PathBuf), ParamError> {
    let device = p
        .get("serial_port")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ParamError::Missing {
            name: "serial_port".into(),
        })?;
    let lock_dir = p
        .get("serial_lock_dir")
        .filter(|d| !d.is_empty())
        .unwrap_or(lock::DEFAULT_LOCK_DIR);
    Ok((PathBuf::from(device), PathBuf::from(lock_dir)))
}

/// A seconds parameter with a fallback.
pub fn seconds(p: &Params, name: &str, default: f64) -> Result<std::time::Duration, ParamError> {
    Ok(p.seconds(name)?
        .unwrap_or(std::time::Duration::from_secs_f64(default)))
}

/// A power command the device cannot carry out.
pub fn unsupported(command: crate::device::PowerCommand) -> FenceError {
    FenceError::Unsupported {
        action: command.to_string(),
    }
}
