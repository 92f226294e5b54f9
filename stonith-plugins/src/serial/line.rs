//! One serial line to one device: locked, configured, every read bounded by a deadline.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serialport::{ClearBuffer, DataBits, FlowControl, Parity, SerialPort, StopBits};

use crate::serial::error::{printable, SerialError};
use crate::serial::lock::PortLock;

/// Line settings from a device's documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSettings {
    /// Bits per second.
    pub baud: u32,
    /// Data bits per character.
    pub data_bits: DataBits,
    /// Parity.
    pub parity: Parity,
    /// Stop bits.
    pub stop_bits: StopBits,
    /// Flow control.
    pub flow: FlowControl,
}

impl LineSettings {
    /// `baud` 8N1 without flow control: what every device here uses.
    pub const fn eight_n_one(baud: u32) -> LineSettings {
        LineSettings {
            baud,
            data_bits: DataBits::Eight,
            parity: Parity::None,
            stop_bits: StopBits::One,
            flow: FlowControl::None,
        }
    }
}

/// An open, locked serial line. The lock is released and the port closed on drop.
pub struct SerialLine {
    port: Box<dyn SerialPort>,
    device: PathBuf,
    settings: LineSettings,
    // Dropped after `port` (fields drop in order): the port is closed before the lock goes.
    _lock: PortLock,
}

impl std::fmt::Debug for SerialLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialLine")
            .field("device", &self.device)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SerialLine {
    /// Locks `device` (lock file in `lock_dir`), opens it raw with `settings` and discards
    /// whatever was pending on it.
    pub fn open(
        device: &Path,
        settings: &LineSettings,
        lock_dir: &Path,
    ) -> Result<SerialLine, SerialError> {
        let lock = PortLock::acquire(lock_dir, device)?;
        let name = device.to_string_lossy().into_owned();
        let open_err = |e: serialport::Error| SerialError::Open {
            device: name.clone(),
            detail: e.to_string(),
        };
        let port = serialport::new(name.clone(), settings.baud)
            .data_bits(settings.data_bits)
            .parity(settings.parity)
            .stop_bits(settings.stop_bits)
            .flow_control(settings.flow)
            .timeout(Duration::from_millis(100))
            .open()
            .map_err(open_err)?;
        let mut line = SerialLine {
            port,
            device: device.to_path_buf(),
            settings: *settings,
            _lock: lock,
        };
        line.discard_input();
        Ok(line)
    }

    /// The device path as configured.
    pub fn device(&self) -> String {
        self.device.display().to_string()
    }

    fn io(&self, e: impl std::fmt::Display) -> SerialError {
        SerialError::Io {
            device: self.device(),
            detail: e.to_string(),
        }
    }

    /// Drops unread input (stale replies, a banner nobody waited for).
    pub fn discard_input(&mut self) {
        let _ = self.port.clear(ClearBuffer::Input);
    }

    /// Writes `bytes` and waits until they have left (bounded by the port's write timeout).
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), SerialError> {
        tracing::debug!("serial > {}", printable(bytes));
        self.port.write_all(bytes).map_err(|e| self.io(e))?;
        self.port.flush().map_err(|e| self.io(e))
    }

    /// Reads until `done` holds for everything read so far, or `timeout` has passed
    /// ([`SerialError::NoReply`] naming `what`). Returns everything read.
    pub fn read_until(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<u8>, SerialError> {
        let start = Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(SerialError::NoReply {
                    device: self.device(),
                    what: what.to_string(),
                    after: timeout,
                    got: printable(&got),
                });
            }
            self.port
                .set_timeout(left.max(Duration::from_millis(1)))
                .map_err(|e| self.io(e))?;
            match self.port.read(&mut buf) {
                Ok(0) => std::thread::sleep(Duration::from_millis(1).min(left)),
                Ok(n) => {
                    tracing::debug!("serial < {}", printable(&buf[..n]));
                    got.extend_from_slice(&buf[..n]);
                    if done(&got) {
                        return Ok(got);
                    }
                    if got.len() > 64 * 1024 {
                        return Err(self.io("the device sends without end"));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
    }

    /// Drops DTR for `low_for`, then raises it again: what resets a device's serial
    /// interface (a "hang-up"). On a real UART this drives the modem line with TIOCMBIC /
    /// TIOCMBIS. A PTY (the lab's simulated devices) has no modem lines; there the POSIX
    /// hang-up is used instead, the output speed set to 0 and then restored, which is what
    /// the device at the other end sees as the line dropping.
    pub fn pulse_dtr(&mut self, low_for: Duration) -> Result<(), SerialError> {
        match self.port.write_data_terminal_ready(false) {
            Ok(()) => {
                std::thread::sleep(low_for);
                self.port
                    .write_data_terminal_ready(true)
                    .map_err(|e| self.io(e))
            }
            Err(_) => {
                self.port.set_baud_rate(0).map_err(|e| self.io(e))?;
                std::thread::sleep(low_for);
                self.port
                    .set_baud_rate(self.settings.baud)
                    .map_err(|e| self.io(e))
            }
        }
    }
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether `bytes` holds a line ending in CR LF or LF CR after `token`.
pub fn has_line_after(bytes: &[u8], token: &[u8]) -> bool {
    let Some(pos) = bytes.windows(token.len().max(1)).position(|w| w == token) else {
        return false;
    };
    let rest = &bytes[pos + token.len()..];
    contains(rest, b"\r\n") || contains(rest, b"\n\r")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_with_their_line_end() {
        assert!(has_line_after(b"xx RPS-10 Ready\r\n", b"RPS-10 Ready"));
        assert!(has_line_after(b"RPS-10 Ready\n\r", b"RPS-10 Ready"));
        assert!(!has_line_after(b"RPS-10 Ready", b"RPS-10 Ready"));
        assert!(!has_line_after(b"\r\nRPS-10", b"RPS-10 Ready"));
        assert!(contains(b"abcOKd", b"OK"));
    }
}
