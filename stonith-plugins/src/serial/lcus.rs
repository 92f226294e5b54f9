//! CH340 "LCUS" USB-serial relay boards (`lcus`, agent `fence_qd_lcus`).
//!
//! Protocol (the boards' vendor documentation): 9600 baud 8N1. A switching frame is 4 bytes,
//! `A0 <channel> <state> <checksum>`: channel from 1, state 0 open (off) or 1 closed (on),
//! checksum the low byte of the sum of the first three (`A0 01 01 A2` closes relay 1). The
//! board does not answer a switching frame. The multi-channel boards answer the status
//! query `FF` with one `CH<n>:ON` or `CH<n>:OFF` line per channel; with `status_query=1`
//! (the default) that read-back confirms every switch. A single-channel LCUS-1 has no
//! read-back: set `status_query=0`, and a switch is done once its frame is written.

use std::path::PathBuf;
use std::time::Duration;

use crate::device::{Action, FenceDevice, Port, PowerCommand, PowerState};
use crate::error::{FenceError, ParamError};
use crate::params::{required_plug, with_default, ParamSpec, ParamType, Params};
use crate::registry::Plugin;
use crate::serial::error::printable;
use crate::serial::line::{LineSettings, SerialLine};
use crate::serial::{common_params, port_params, seconds, unsupported, SERIAL_PARAMS};

/// The board's line settings.
pub const LINE: LineSettings = LineSettings::eight_n_one(9600);
/// The first byte of a switching frame.
pub const START: u8 = 0xA0;
/// The status query.
pub const QUERY: u8 = 0xFF;

/// The plugin's own parameters.
pub const LCUS_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "channels",
        ParamType::Select(&["1", "2", "4", "8"]),
        "Relays on the board",
    )
    .default("4"),
    ParamSpec::new(
        "status_query",
        ParamType::Boolean,
        "The board answers the FF status query (multi-channel boards); 0 for an LCUS-1",
    )
    .default("1"),
    ParamSpec::new(
        "serial_timeout",
        ParamType::Second,
        "Wait X seconds for the board's status reply",
    )
    .default("1"),
];

const LONGDESC: &str = "fence_qd_lcus switches one relay of a CH340 \"LCUS\" USB-serial relay \
board (9600 8N1, 4-byte frames A0 channel state checksum). plug is the relay number (1 to \
channels). With status_query=1 every switch is confirmed by the board's status read-back; \
without it a switch is done when its frame is written.";

/// The plugin description.
pub fn plugin() -> Plugin {
    let mut params: Vec<ParamSpec> = LCUS_PARAMS.to_vec();
    params.extend(SERIAL_PARAMS.iter().copied());
    params.extend(common_params());
    let params = with_default(params, "stonith_status_sleep", "0.05");
    Plugin {
        fabric: false,
        name: "lcus",
        agent: "fence_qd_lcus",
        shortdesc: "Fence agent for CH340 LCUS USB-serial relay boards",
        longdesc: LONGDESC,
        vendor_url: "http://www.chinalctech.com",
        params,
        actions: Action::OUTLET_SWITCH.to_vec(),
        build: |p| Ok(Box::new(Lcus::from_params(p)?)),
    }
}

/// The switching frame for `channel` (from 1) and `on`.
pub fn frame(channel: u8, on: bool) -> [u8; 4] {
    let state = u8::from(on);
    [
        START,
        channel,
        state,
        START.wrapping_add(channel).wrapping_add(state),
    ]
}

/// Parses a status reply: `(channel, state)` for every `CH<n>:ON|OFF` line.
pub fn parse_status(reply: &[u8]) -> Vec<(u8, PowerState)> {
    String::from_utf8_lossy(reply)
        .split(['\r', '\n'])
        .filter_map(|l| {
            let (ch, state) = l.trim().strip_prefix("CH")?.split_once(':')?;
            let ch: u8 = ch.trim().parse().ok()?;
            let state = match state.trim() {
                s if s.eq_ignore_ascii_case("on") => PowerState::On,
                s if s.eq_ignore_ascii_case("off") => PowerState::Off,
                _ => return None,
            };
            Some((ch, state))
        })
        .collect()
}

/// An LCUS relay board on a serial port.
#[derive(Debug)]
pub struct Lcus {
    device: PathBuf,
    lock_dir: PathBuf,
    channels: u8,
    query: bool,
    reply_timeout: Duration,
    line: Option<SerialLine>,
}

impl Lcus {
    /// Builds the device from validated parameters. Nothing is opened yet.
    pub fn from_params(p: &Params) -> Result<Lcus, FenceError> {
        let (device, lock_dir) = port_params(p)?;
        let channels = p.integer("channels")?.unwrap_or(4);
        let channels = u8::try_from(channels).map_err(|_| ParamError::Invalid {
            name: "channels".into(),
            reason: "at most 8".into(),
        })?;
        let dev = Lcus {
            device,
            lock_dir,
            channels,
            query: p.flag("status_query"),
            reply_timeout: seconds(p, "serial_timeout", 1.0)?,
            line: None,
        };
        if let Some(plug) = p.get("plug").filter(|s| !s.is_empty()) {
            dev.channel(Some(plug))?;
        }
        Ok(dev)
    }

    /// The relay number for `plug`, refusing relays the board does not have.
    pub fn channel(&self, plug: Option<&str>) -> Result<u8, FenceError> {
        let plug = required_plug(plug)?;
        match plug.parse::<u8>() {
            Ok(c) if (1..=self.channels).contains(&c) => Ok(c),
            _ => Err(FenceError::PortUnknown {
                plug: plug.to_string(),
            }),
        }
    }

    fn line(&mut self) -> Result<&mut SerialLine, FenceError> {
        if self.line.is_none() {
            self.line = Some(SerialLine::open(&self.device, &LINE, &self.lock_dir)?);
        }
        self.line.as_mut().ok_or_else(|| FenceError::Protocol {
            detail: "serial line not open".into(),
        })
    }

    fn read_all(&mut self) -> Result<Vec<(u8, PowerState)>, FenceError> {
        let (timeout, channels) = (self.reply_timeout, usize::from(self.channels));
        let line = self.line()?;
        line.discard_input();
        line.send(&[QUERY])?;
        let reply = line.read_until("status query (FF)", timeout, |b| {
            parse_status(b).len() >= channels && b.ends_with(b"\n")
        })?;
        let states = parse_status(&reply);
        if states.is_empty() {
            return Err(FenceError::Protocol {
                detail: format!("unexpected status reply {}", printable(&reply)),
            });
        }
        Ok(states)
    }
}

impl FenceDevice for Lcus {
    fn plugin(&self) -> &'static str {
        "lcus"
    }

    fn status(&mut self, plug: Option<&str>) -> Result<PowerState, FenceError> {
        let ch = self.channel(plug)?;
        if !self.query {
            return Err(FenceError::Unsupported {
                action: "status (status_query=0: the board cannot report)".into(),
            });
        }
        self.read_all()?
            .into_iter()
            .find(|(c, _)| *c == ch)
            .map(|(_, s)| s)
            .ok_or_else(|| FenceError::Protocol {
                detail: format!("the status reply names no relay {ch}"),
            })
    }

    fn probe(&mut self, plug: Option<&str>) -> Result<(), FenceError> {
        if self.query {
            self.read_all().map(|_| ())
        } else {
            // Without a read-back, opening the port is all that can be checked.
            if let Some(p) = plug.filter(|p| !p.is_empty()) {
                self.channel(Some(p))?;
            }
            self.line().map(|_| ())
        }
    }

    fn power(&mut self, plug: Option<&str>, command: PowerCommand) -> Result<(), FenceError> {
        let ch = self.channel(plug)?;
        let on = match command {
            PowerCommand::On => true,
            PowerCommand::Off => false,
            other => return Err(unsupported(other)),
        };
        self.line()?.send(&frame(ch, on))?;
        Ok(())
    }

    fn list(&mut self) -> Result<Vec<Port>, FenceError> {
        if !self.query {
            return Ok((1..=self.channels)
                .map(|c| Port {
                    id: c.to_string(),
                    alias: None,
                    state: None,
                })
                .collect());
        }
        Ok(self
            .read_all()?
            .into_iter()
            .map(|(c, s)| Port {
                id: c.to_string(),
                alias: None,
                state: Some(s),
            })
            .collect())
    }

    fn is_multi_port(&self) -> bool {
        true
    }

    fn reports_power(&self) -> bool {
        self.query
    }

    fn close(&mut self) {
        self.line = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_the_checksum() {
        assert_eq!(frame(1, true), [0xA0, 0x01, 0x01, 0xA2]);
        assert_eq!(frame(1, false), [0xA0, 0x01, 0x00, 0xA1]);
        assert_eq!(frame(4, true), [0xA0, 0x04, 0x01, 0xA5]);
    }

    #[test]
    fn status_lines_are_parsed_and_unknown_relays_refused() {
        assert_eq!(
            parse_status(b"CH1:ON\r\nCH2:OFF\r\n"),
            vec![(1, PowerState::On), (2, PowerState::Off)]
        );
        let (p, _) = plugin()
            .params(&[("serial_port", "/x"), ("channels", "2"), ("plug", "3")])
            .expect("params");
        assert_eq!(
            Lcus::from_params(&p).expect_err("refused"),
            FenceError::PortUnknown { plug: "3".into() }
        );
    }
}
