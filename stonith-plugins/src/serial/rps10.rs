//! WTI RPS-10 remote power switch (`rps10`, agent `fence_qd_rps10`).
//!
//! Protocol (WTI's RPS-10M documentation, as cluster-glue's `rps10` plugin quotes it):
//! 9600 baud 8N1, no flow control (RTS is wired high on the unit). A command is 9 bytes:
//! the fixed prefix `^B^X^X^B^X^X`, the outlet address (`0`-`9`, or `*` for every unit),
//! the command (`0` off, `1` on, `T` toggle: off, a pause, on; `?` status) and CR. The unit
//! answers one `Plug <n> On|Off` line per outlet (two for a toggle) and `Complete`.
//! Dropping DTR resets the unit's serial interface, after which it sends `RPS-10 Ready`.
//!
//! cluster-glue drops DTR for a fixed 2 s and waits for the banner before *every* command,
//! and never reads the status. We send the command at once (the unit is ready whenever it
//! is powered) and reset the interface only when the unit does not answer, then retry
//! once; `dtr_reset=1` restores cluster-glue's always-reset behaviour. The new state is
//! confirmed by the unit's own `Plug <n> Off` line and then by a `?` status read.

use std::path::PathBuf;
use std::time::Duration;

use crate::device::{Action, FenceDevice, PowerCommand, PowerState};
use crate::error::{FenceError, ParamError};
use crate::params::{required_plug, with_default, ParamSpec, ParamType, Params};
use crate::registry::Plugin;
use crate::serial::error::{printable, SerialError};
use crate::serial::line::{contains, has_line_after, LineSettings, SerialLine};
use crate::serial::{common_params, port_params, seconds, unsupported, SERIAL_PARAMS};

/// The unit's line settings.
pub const LINE: LineSettings = LineSettings::eight_n_one(9600);
/// The fixed command prefix (`^B^X^X^B^X^X`).
pub const PREFIX: [u8; 6] = [0x02, 0x18, 0x18, 0x02, 0x18, 0x18];
/// What the unit sends after its serial interface is reset.
pub const BANNER: &str = "RPS-10 Ready";

/// The plugin's own parameters.
pub const RPS10_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "outlets",
        ParamType::String,
        "Outlet addresses installed on this switch (0-9, comma-separated, ranges allowed)",
    )
    .default("0-9"),
    ParamSpec::new(
        "serial_timeout",
        ParamType::Second,
        "Wait X seconds for the switch's reply to a command",
    )
    .default("5"),
    ParamSpec::new(
        "banner_timeout",
        ParamType::Second,
        "Wait X seconds for the RPS-10 Ready banner after a DTR reset",
    )
    .default("12"),
    ParamSpec::new(
        "toggle_timeout",
        ParamType::Second,
        "Wait X seconds for a toggle (power cycle) to complete",
    )
    .default("20"),
    ParamSpec::new(
        "dtr_pulse",
        ParamType::Second,
        "Hold DTR low for X seconds to reset the switch's serial interface",
    )
    .default("0.25"),
    ParamSpec::new(
        "dtr_reset",
        ParamType::Boolean,
        "Reset the serial interface (DTR) and wait for the banner before every command, as cluster-glue does",
    ),
];

const LONGDESC: &str = "fence_qd_rps10 switches the outlets of a WTI RPS-10 remote power \
switch on a serial line (9600 8N1). plug is the outlet address (0-9, or * for every unit). \
off and on are confirmed by the switch's own report and a status read; reboot is off \
(confirmed) then on, or the switch's toggle with method=cycle. The port is locked with a \
UUCP lock file (serial_lock_dir) for the whole action.";

/// The plugin description.
pub fn plugin() -> Plugin {
    let mut params: Vec<ParamSpec> = RPS10_PARAMS.to_vec();
    params.extend(SERIAL_PARAMS.iter().copied());
    params.extend(common_params());
    let params = with_default(params, "stonith_status_sleep", "0.1");
    Plugin {
        fabric: false,
        name: "rps10",
        agent: "fence_qd_rps10",
        shortdesc: "Fence agent for WTI RPS-10 serial power switches",
        longdesc: LONGDESC,
        vendor_url: "https://www.wti.com",
        params,
        actions: Action::OUTLET_SWITCH.to_vec(),
        build: |p| Ok(Box::new(Rps10::from_params(p)?)),
    }
}

/// Parses an outlet list: `0-9`, `0,1,4`, `0-3,7`.
pub fn parse_outlets(text: &str) -> Result<Vec<u8>, ParamError> {
    let invalid = || ParamError::Invalid {
        name: "outlets".into(),
        reason: format!("expected outlet addresses 0-9 such as 0-9 or 0,1,4 (got {text:?})"),
    };
    let digit = |s: &str| -> Result<u8, ParamError> {
        match s.trim().as_bytes() {
            [d @ b'0'..=b'9'] => Ok(*d),
            _ => Err(invalid()),
        }
    };
    let mut out = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (digit(a)?, digit(b)?);
                if a > b {
                    return Err(invalid());
                }
                out.extend(a..=b);
            }
            None => out.push(digit(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err(invalid());
    }
    Ok(out)
}

/// The 9-byte command frame for `outlet` (`b'0'..=b'9'` or `b'*'`) and `command`.
pub fn frame(outlet: u8, command: u8) -> [u8; 9] {
    let mut f = [0u8; 9];
    f[..6].copy_from_slice(&PREFIX);
    f[6] = outlet;
    f[7] = command;
    f[8] = b'\r';
    f
}

/// Parses the unit's reply: every `Plug <n> On|Off` line, in order.
pub fn parse_reply(reply: &[u8]) -> Vec<(u8, PowerState)> {
    let text = String::from_utf8_lossy(reply);
    text.split(['\r', '\n'])
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("Plug")?.trim_start();
            let mut parts = rest.split_whitespace();
            let outlet = *parts.next()?.as_bytes().first()?;
            let state = match parts.next()? {
                s if s.eq_ignore_ascii_case("on") => PowerState::On,
                s if s.eq_ignore_ascii_case("off") => PowerState::Off,
                _ => return None,
            };
            Some((outlet, state))
        })
        .collect()
}

/// A WTI RPS-10 on a serial port.
#[derive(Debug)]
pub struct Rps10 {
    device: PathBuf,
    lock_dir: PathBuf,
    outlets: Vec<u8>,
    reply_timeout: Duration,
    banner_timeout: Duration,
    toggle_timeout: Duration,
    dtr_pulse: Duration,
    always_reset: bool,
    line: Option<SerialLine>,
    interface_reset: bool,
}

impl Rps10 {
    /// Builds the device from validated parameters. Nothing is opened yet.
    pub fn from_params(p: &Params) -> Result<Rps10, FenceError> {
        let (device, lock_dir) = port_params(p)?;
        let outlets = parse_outlets(p.get("outlets").unwrap_or("0-9"))?;
        let dev = Rps10 {
            device,
            lock_dir,
            outlets,
            reply_timeout: seconds(p, "serial_timeout", 5.0)?,
            banner_timeout: seconds(p, "banner_timeout", 12.0)?,
            toggle_timeout: seconds(p, "toggle_timeout", 20.0)?,
            dtr_pulse: seconds(p, "dtr_pulse", 0.25)?,
            always_reset: p.flag("dtr_reset"),
            line: None,
            interface_reset: false,
        };
        // An unknown outlet is refused here, before the line is touched.
        if let Some(plug) = p.get("plug").filter(|s| !s.is_empty()) {
            dev.outlet(Some(plug))?;
        }
        Ok(dev)
    }

    /// The outlet address byte for `plug`, refusing outlets this switch does not have.
    pub fn outlet(&self, plug: Option<&str>) -> Result<u8, FenceError> {
        let plug = required_plug(plug)?;
        let unknown = || FenceError::PortUnknown {
            plug: plug.to_string(),
        };
        match plug.as_bytes() {
            [b'*'] | [b'A'] | [b'a'] => Ok(b'*'),
            [d @ b'0'..=b'9'] if self.outlets.contains(d) => Ok(*d),
            _ => Err(unknown()),
        }
    }

    fn line(&mut self) -> Result<&mut SerialLine, FenceError> {
        if self.line.is_none() {
            self.line = Some(SerialLine::open(&self.device, &LINE, &self.lock_dir)?);
            if self.always_reset {
                self.reset_interface()?;
            }
        }
        self.line.as_mut().ok_or_else(|| FenceError::Protocol {
            detail: "serial line not open".into(),
        })
    }

    /// Drops DTR and waits for the banner.
    fn reset_interface(&mut self) -> Result<(), FenceError> {
        let (pulse, timeout) = (self.dtr_pulse, self.banner_timeout);
        let line = self.line.as_mut().ok_or_else(|| FenceError::Protocol {
            detail: "serial line not open".into(),
        })?;
        line.discard_input();
        line.pulse_dtr(pulse)?;
        let banner = BANNER.as_bytes();
        match line.read_until(BANNER, timeout, |b| has_line_after(b, banner)) {
            Ok(_) => {
                self.interface_reset = true;
                Ok(())
            }
            Err(SerialError::NoReply { device, after, .. }) => Err(SerialError::NoBanner {
                device,
                banner: BANNER.into(),
                after,
            }
            .into()),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends one command and returns the `Plug` lines of the reply. A unit that says
    /// nothing at all gets its interface reset and the command once more.
    fn exchange(&mut self, outlet: u8, command: u8) -> Result<Vec<(u8, PowerState)>, FenceError> {
        let timeout = if command == b'T' {
            self.toggle_timeout
        } else {
            self.reply_timeout
        };
        let what = format!("command {}{}", char::from(outlet), char::from(command));
        let f = frame(outlet, command);
        let done = |b: &[u8]| has_line_after(b, b"Complete");
        let first = {
            let line = self.line()?;
            line.discard_input();
            line.send(&f)?;
            line.read_until(&what, timeout, done)
        };
        let reply = match first {
            Ok(r) => r,
            Err(SerialError::NoReply { got, .. }) if got.is_empty() && !self.interface_reset => {
                tracing::info!("RPS-10 silent; resetting its serial interface (DTR)");
                self.reset_interface()?;
                let line = self.line()?;
                line.send(&f)?;
                line.read_until(&what, timeout, done)?
            }
            Err(e) => return Err(e.into()),
        };
        let plugs = parse_reply(&reply);
        if plugs.is_empty() || !contains(&reply, b"Complete") {
            return Err(FenceError::Protocol {
                detail: format!("unexpected reply to {what}: {}", printable(&reply)),
            });
        }
        Ok(plugs)
    }
}

impl FenceDevice for Rps10 {
    fn plugin(&self) -> &'static str {
        "rps10"
    }

    fn status(&mut self, plug: Option<&str>) -> Result<PowerState, FenceError> {
        let outlet = self.outlet(plug)?;
        let plugs = self.exchange(outlet, b'?')?;
        let relevant: Vec<PowerState> = plugs
            .iter()
            .filter(|(o, _)| outlet == b'*' || *o == outlet)
            .map(|(_, s)| *s)
            .collect();
        if relevant.is_empty() {
            return Err(FenceError::Protocol {
                detail: format!("status reply names no outlet {}", char::from(outlet)),
            });
        }
        // fence-agents: a multi-outlet target is on if any outlet is on.
        Ok(if relevant.contains(&PowerState::On) {
            PowerState::On
        } else {
            PowerState::Off
        })
    }

    fn power(&mut self, plug: Option<&str>, command: PowerCommand) -> Result<(), FenceError> {
        let outlet = self.outlet(plug)?;
        let (byte, wanted) = match command {
            PowerCommand::Off => (b'0', PowerState::Off),
            PowerCommand::On => (b'1', PowerState::On),
            PowerCommand::Cycle => (b'T', PowerState::On),
            other => return Err(unsupported(other)),
        };
        let plugs = self.exchange(outlet, byte)?;
        match plugs.last() {
            Some((_, s)) if *s == wanted => Ok(()),
            _ => Err(FenceError::Refused {
                what: command.to_string(),
                detail: format!("the switch reported {plugs:?}"),
            }),
        }
    }

    fn supports(&self, command: PowerCommand) -> bool {
        matches!(
            command,
            PowerCommand::Off | PowerCommand::On | PowerCommand::Cycle
        )
    }

    fn list(&mut self) -> Result<Vec<crate::device::Port>, FenceError> {
        let plugs = self.exchange(b'*', b'?')?;
        Ok(plugs
            .into_iter()
            .filter(|(o, _)| self.outlets.contains(o))
            .map(|(o, s)| crate::device::Port {
                id: char::from(o).to_string(),
                alias: None,
                state: Some(s),
            })
            .collect())
    }

    fn is_multi_port(&self) -> bool {
        true
    }

    fn close(&mut self) {
        self.line = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_is_nine_bytes_with_the_fixed_prefix() {
        assert_eq!(
            frame(b'3', b'T'),
            [0x02, 0x18, 0x18, 0x02, 0x18, 0x18, b'3', b'T', b'\r']
        );
    }

    #[test]
    fn replies_are_parsed_per_outlet() {
        assert_eq!(
            parse_reply(b"Plug 0 Off\r\nPlug 0 On\r\nComplete\r\n"),
            vec![(b'0', PowerState::Off), (b'0', PowerState::On)]
        );
        assert!(parse_reply(b"garbage\r\n").is_empty());
    }

    #[test]
    fn unknown_outlets_are_refused_when_the_device_is_built() {
        let p = |pairs: &[(&str, &str)]| plugin().params(pairs).expect("params").0;
        let err = Rps10::from_params(&p(&[
            ("serial_port", "/nonexistent/tty"),
            ("outlets", "0-1"),
            ("plug", "5"),
        ]))
        .expect_err("unknown outlet");
        assert_eq!(err, FenceError::PortUnknown { plug: "5".into() });
        assert!(Rps10::from_params(&p(&[("serial_port", "/x"), ("plug", "*")])).is_ok());
        assert_eq!(parse_outlets("0-3,7").expect("list"), b"01237".to_vec());
        assert!(parse_outlets("0-12").is_err());
    }
}
