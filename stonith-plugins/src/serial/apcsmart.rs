//! APC Smart-UPS over the "smart" protocol (`apcsmart`, agent `fence_qd_apcsmart`): the
//! whole UPS is switched, fencing every host on it (`hostlist`).
//!
//! Protocol (APC's smart-signalling protocol, as cluster-glue's `apcsmart` uses it): 2400
//! baud 8N1, raw. `Y` enters smart mode (reply `SM`). Replies end with CR LF. Register `~`
//! (two hex digits) has bit 0x40 set while the UPS output is off. `Z` turns the output off
//! at once and `^N` (0x0E) turns it on; each must be sent twice, more than 1.5 s apart, or
//! the UPS ignores it (APC's guard against line noise).
//!
//! # No EEPROM writes
//!
//! cluster-glue's plugin makes its reset quick by rewriting the UPS's settings: on every
//! call it walks the shutdown delay (`p`) and wake-up delay (`r`) through all their values
//! with `-` to find the smallest (each `-` is an EEPROM write), sets both to it, and writes
//! the old values back when the plugin is destroyed: up to 16 EEPROM writes per call, and a
//! UPS left with its grace delays at the minimum if the plugin is killed in between (so the
//! hosts' own UPS daemons no longer get their configured time for a clean shutdown).
//!
//! We never write a setting. `off` is `Z`, `on` is `^N`, both immediate, which do not
//! depend on `p` or `r` at all; `reboot` is off, confirmed by register `~`, then on,
//! confirmed the same way. This is safe because fencing wants the immediate power cut
//! anyway (the grace delay exists to let a *healthy* host shut down cleanly on a power
//! failure, which is exactly what a fenced host must not get), each step is confirmed by
//! the UPS's own register rather than assumed, and the administrator's settings stay as
//! configured, with no wear of the EEPROM (rated for a limited number of writes).

use std::path::PathBuf;
use std::time::Duration;

use crate::device::{Action, FenceDevice, PowerCommand, PowerState};
use crate::error::{FenceError, ParamError};
use crate::params::{with_default, ParamSpec, ParamType, Params};
use crate::registry::Plugin;
use crate::serial::error::printable;
use crate::serial::line::{LineSettings, SerialLine};
use crate::serial::{common_params, port_params, seconds, unsupported, SERIAL_PARAMS};

/// The UPS's line settings.
pub const LINE: LineSettings = LineSettings::eight_n_one(2400);
/// Enter smart mode.
pub const SMART_MODE: u8 = b'Y';
/// Read register 1.
pub const READ_REGISTER_1: u8 = b'~';
/// Register 1 bit: the output is off.
pub const OUTPUT_OFF: u8 = 0x40;
/// Turn the output off at once (sent twice).
pub const TURN_OFF: u8 = b'Z';
/// Turn the output on (sent twice).
pub const TURN_ON: u8 = 0x0E;
/// The shortest gap APC requires between the two copies of `Z` / `^N`.
pub const MIN_REPEAT_GAP: Duration = Duration::from_millis(1500);

/// The plugin's own parameters.
pub const APC_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "hostlist",
        ParamType::String,
        "The hosts powered by this UPS (comma- or space-separated)",
    )
    .required(),
    ParamSpec::new(
        "serial_timeout",
        ParamType::Second,
        "Wait X seconds for each reply of the UPS",
    )
    .default("3"),
    ParamSpec::new(
        "repeat_gap",
        ParamType::Second,
        "Seconds between the two copies of the off/on command (APC requires more than 1.5)",
    )
    .default("1.6"),
];

const LONGDESC: &str = "fence_qd_apcsmart switches the output of an APC Smart-UPS through \
its smart protocol on a serial line (2400 8N1), fencing every host in hostlist at once. off \
and on are immediate and confirmed by the UPS's status register; reboot is off (confirmed) \
then on (confirmed). Unlike cluster-glue's apcsmart plugin it never rewrites the UPS's \
EEPROM settings (shutdown and wake-up delays).";

/// The plugin description.
pub fn plugin() -> Plugin {
    let mut params: Vec<ParamSpec> = APC_PARAMS.to_vec();
    params.extend(SERIAL_PARAMS.iter().copied());
    params.extend(common_params());
    let params = with_default(params, "stonith_status_sleep", "0.1");
    Plugin {
        fabric: false,
        name: "apcsmart",
        agent: "fence_qd_apcsmart",
        shortdesc: "Fence agent for APC Smart-UPS (smart protocol, serial)",
        longdesc: LONGDESC,
        vendor_url: "https://www.apc.com",
        params,
        actions: vec![
            Action::On,
            Action::Off,
            Action::Reboot,
            Action::Status,
            Action::Monitor,
            Action::Metadata,
            Action::ValidateAll,
        ],
        build: |p| Ok(Box::new(ApcSmart::from_params(p)?)),
    }
}

/// Splits a host list on commas and white space, lower-cased (as cluster-glue does).
pub fn parse_hostlist(text: &str) -> Vec<String> {
    text.split([',', ' ', '\t', '\n'])
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Parses a register reply: two hexadecimal digits.
pub fn parse_register(reply: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(reply).ok()?.trim();
    if text.len() != 2 {
        return None;
    }
    u8::from_str_radix(text, 16).ok()
}

/// A Smart-UPS on a serial port.
#[derive(Debug)]
pub struct ApcSmart {
    device: PathBuf,
    lock_dir: PathBuf,
    hosts: Vec<String>,
    reply_timeout: Duration,
    repeat_gap: Duration,
    line: Option<SerialLine>,
}

impl ApcSmart {
    /// Builds the device from validated parameters. Nothing is opened yet.
    pub fn from_params(p: &Params) -> Result<ApcSmart, FenceError> {
        let (device, lock_dir) = port_params(p)?;
        let hosts = parse_hostlist(p.get("hostlist").unwrap_or(""));
        if hosts.is_empty() {
            return Err(ParamError::Missing {
                name: "hostlist".into(),
            }
            .into());
        }
        let repeat_gap = seconds(p, "repeat_gap", 1.6)?;
        if repeat_gap <= MIN_REPEAT_GAP {
            return Err(ParamError::Invalid {
                name: "repeat_gap".into(),
                reason: "the UPS ignores commands repeated within 1.5 s".into(),
            }
            .into());
        }
        let dev = ApcSmart {
            device,
            lock_dir,
            hosts,
            reply_timeout: seconds(p, "serial_timeout", 3.0)?,
            repeat_gap,
            line: None,
        };
        if let Some(plug) = p.get("plug").filter(|s| !s.is_empty()) {
            dev.check_host(Some(plug))?;
        }
        Ok(dev)
    }

    /// Refuses a target that is not in `hostlist` (no plug: the whole UPS).
    pub fn check_host(&self, plug: Option<&str>) -> Result<(), FenceError> {
        match plug.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(()),
            Some(h) if self.hosts.contains(&h.to_ascii_lowercase()) => Ok(()),
            Some(h) => Err(FenceError::PortUnknown {
                plug: h.to_string(),
            }),
        }
    }

    fn line(&mut self) -> Result<&mut SerialLine, FenceError> {
        if self.line.is_none() {
            let mut line = SerialLine::open(&self.device, &LINE, &self.lock_dir)?;
            let reply = ask(&mut line, SMART_MODE, "smart mode (Y)", self.reply_timeout)?;
            if reply != b"SM" {
                return Err(FenceError::Refused {
                    what: "smart mode (Y)".into(),
                    detail: format!("the UPS answered {:?}", printable(&reply)),
                });
            }
            self.line = Some(line);
        }
        self.line.as_mut().ok_or_else(|| FenceError::Protocol {
            detail: "serial line not open".into(),
        })
    }

    fn register_1(&mut self) -> Result<u8, FenceError> {
        let timeout = self.reply_timeout;
        let line = self.line()?;
        let reply = ask(line, READ_REGISTER_1, "register ~", timeout)?;
        parse_register(&reply).ok_or_else(|| FenceError::Protocol {
            detail: format!(
                "register ~ reply {:?} is not two hex digits",
                printable(&reply)
            ),
        })
    }
}

/// Sends one command byte and reads the reply line (CR LF, or a bare `*`).
fn ask(
    line: &mut SerialLine,
    command: u8,
    what: &str,
    timeout: Duration,
) -> Result<Vec<u8>, FenceError> {
    line.discard_input();
    line.send(&[command])?;
    let reply = line.read_until(what, timeout, |b| b.ends_with(b"\n") || b == b"*")?;
    Ok(reply
        .into_iter()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect())
}

impl FenceDevice for ApcSmart {
    fn plugin(&self) -> &'static str {
        "apcsmart"
    }

    fn status(&mut self, plug: Option<&str>) -> Result<PowerState, FenceError> {
        self.check_host(plug)?;
        let reg = self.register_1()?;
        Ok(if reg & OUTPUT_OFF != 0 {
            PowerState::Off
        } else {
            PowerState::On
        })
    }

    fn power(&mut self, plug: Option<&str>, command: PowerCommand) -> Result<(), FenceError> {
        self.check_host(plug)?;
        let byte = match command {
            PowerCommand::Off => TURN_OFF,
            PowerCommand::On => TURN_ON,
            other => return Err(unsupported(other)),
        };
        let gap = self.repeat_gap;
        let line = self.line()?;
        line.send(&[byte])?;
        std::thread::sleep(gap);
        line.send(&[byte])?;
        Ok(())
    }

    fn close(&mut self) {
        self.line = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_outside_the_hostlist_are_refused_before_the_line_is_touched() {
        let (p, _) = plugin()
            .params(&[
                ("serial_port", "/nonexistent/tty"),
                ("hostlist", "Node1, node2"),
                ("plug", "node3"),
            ])
            .expect("params");
        let err = ApcSmart::from_params(&p).expect_err("unknown host");
        assert_eq!(
            err,
            FenceError::PortUnknown {
                plug: "node3".into()
            }
        );
    }

    #[test]
    fn a_repeat_gap_the_ups_would_ignore_is_refused() {
        let (p, _) = plugin()
            .params(&[
                ("serial_port", "/x"),
                ("hostlist", "a"),
                ("repeat_gap", "1"),
            ])
            .expect("params");
        assert!(matches!(
            ApcSmart::from_params(&p),
            Err(FenceError::Param(ParamError::Invalid { .. }))
        ));
    }

    #[test]
    fn registers_are_two_hex_digits() {
        assert_eq!(parse_register(b"40"), Some(0x40));
        assert_eq!(parse_register(b"NA"), None);
        assert_eq!(parse_hostlist("A,b c"), vec!["a", "b", "c"]);
    }
}
