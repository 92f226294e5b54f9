//! Micro Energetics Night/Ware RPC100S (`nw_rpc100s`, agent `fence_qd_nw_rpc100s`): one
//! outlet on a serial line.
//!
//! Protocol (as cluster-glue's `nw_rpc100s` speaks it): 9600 baud 8N1. A command is
//! `//0,<wait>,<relay>;` and CR LF: `relay` `0` turns the outlet on, `*` off until told
//! otherwise, a number `N` off for N seconds then on again; `wait` is a delay before acting
//! (always 0 here). The unit answers `OK`, or `Invalid Entry` to anything else, which is how
//! the unit is probed (`//0,0,BOGUS;`). It cannot report the outlet's state, so `off` and
//! `on` are done when the unit says `OK`, `status` is not offered, and `monitor` probes.
//! The unit's DIP switch for the power-up state must stay at "on".

use std::path::PathBuf;
use std::time::Duration;

use crate::device::{Action, FenceDevice, PowerCommand, PowerState};
use crate::error::FenceError;
use crate::params::{ParamSpec, ParamType, Params};
use crate::registry::Plugin;
use crate::serial::apcsmart::parse_hostlist;
use crate::serial::error::printable;
use crate::serial::line::{contains, has_line_after, LineSettings, SerialLine};
use crate::serial::{common_params, port_params, seconds, unsupported, SERIAL_PARAMS};

/// The unit's line settings.
pub const LINE: LineSettings = LineSettings::eight_n_one(9600);
/// The probe: an entry the unit refuses with `Invalid Entry`.
pub const PROBE: &[u8] = b"//0,0,BOGUS;\r\n";

/// The plugin's own parameters.
pub const NW_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "hostlist",
        ParamType::String,
        "The host on this outlet (plug must match it when both are given)",
    ),
    ParamSpec::new(
        "serial_timeout",
        ParamType::Second,
        "Wait X seconds for each reply of the unit",
    )
    .default("5"),
    ParamSpec::new(
        "cycle_off_time",
        ParamType::Integer,
        "Seconds the unit keeps the outlet off for reboot with method=cycle",
    )
    .default("10"),
];

const LONGDESC: &str = "fence_qd_nw_rpc100s switches the outlet of a Night/Ware RPC100S \
on a serial line (9600 8N1). The unit cannot report the outlet's state: off and on succeed \
when the unit acknowledges them (OK); reboot is off, at least one second (or power_wait), then on (or the \
unit's own timed off with method=cycle); monitor checks that the unit answers.";

/// The plugin description.
pub fn plugin() -> Plugin {
    let mut params: Vec<ParamSpec> = NW_PARAMS.to_vec();
    params.extend(SERIAL_PARAMS.iter().copied());
    params.extend(common_params());
    Plugin {
        fabric: false,
        name: "nw_rpc100s",
        agent: "fence_qd_nw_rpc100s",
        shortdesc: "Fence agent for Night/Ware RPC100S serial power switches",
        longdesc: LONGDESC,
        vendor_url: "http://www.microenergetics.com",
        params,
        actions: vec![
            Action::On,
            Action::Off,
            Action::Reboot,
            Action::Monitor,
            Action::Metadata,
            Action::ValidateAll,
        ],
        build: |p| Ok(Box::new(NwRpc100s::from_params(p)?)),
    }
}

/// The command line for relay setting `relay` (`0`, `*` or seconds).
pub fn command(relay: &str) -> Vec<u8> {
    format!("//0,0,{relay};\r\n").into_bytes()
}

/// A Night/Ware RPC100S on a serial port.
#[derive(Debug)]
pub struct NwRpc100s {
    device: PathBuf,
    lock_dir: PathBuf,
    host: Option<String>,
    reply_timeout: Duration,
    cycle_off_time: u32,
    line: Option<SerialLine>,
}

impl NwRpc100s {
    /// Builds the device from validated parameters. Nothing is opened yet.
    pub fn from_params(p: &Params) -> Result<NwRpc100s, FenceError> {
        let (device, lock_dir) = port_params(p)?;
        let host = parse_hostlist(p.get("hostlist").unwrap_or(""))
            .into_iter()
            .next();
        let dev = NwRpc100s {
            device,
            lock_dir,
            host,
            reply_timeout: seconds(p, "serial_timeout", 5.0)?,
            cycle_off_time: p.integer("cycle_off_time")?.unwrap_or(10).max(1),
            line: None,
        };
        dev.check_plug(p.get("plug"))?;
        Ok(dev)
    }

    /// The unit has one outlet: a plug other than `1` or the configured host is refused.
    pub fn check_plug(&self, plug: Option<&str>) -> Result<(), FenceError> {
        match plug.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("1") => Ok(()),
            Some(p) if self.host.as_deref() == Some(p.to_ascii_lowercase().as_str()) => Ok(()),
            Some(p) => Err(FenceError::PortUnknown {
                plug: p.to_string(),
            }),
        }
    }

    fn exchange(&mut self, bytes: &[u8], expect: &[u8], what: &str) -> Result<(), FenceError> {
        let timeout = self.reply_timeout;
        if self.line.is_none() {
            self.line = Some(SerialLine::open(&self.device, &LINE, &self.lock_dir)?);
        }
        let line = self.line.as_mut().ok_or_else(|| FenceError::Protocol {
            detail: "serial line not open".into(),
        })?;
        line.discard_input();
        line.send(bytes)?;
        let reply = line.read_until(what, timeout, |b| {
            has_line_after(b, expect) || has_line_after(b, b"Invalid Entry")
        })?;
        if contains(&reply, expect) {
            Ok(())
        } else {
            Err(FenceError::Refused {
                what: what.to_string(),
                detail: format!("the unit answered {}", printable(&reply)),
            })
        }
    }
}

impl FenceDevice for NwRpc100s {
    fn plugin(&self) -> &'static str {
        "nw_rpc100s"
    }

    fn status(&mut self, _plug: Option<&str>) -> Result<PowerState, FenceError> {
        Err(FenceError::Unsupported {
            action: "status (the RPC100S cannot report its outlet's state)".into(),
        })
    }

    fn probe(&mut self, plug: Option<&str>) -> Result<(), FenceError> {
        self.check_plug(plug)?;
        self.exchange(PROBE, b"Invalid Entry", "probe")
    }

    fn power(&mut self, plug: Option<&str>, cmd: PowerCommand) -> Result<(), FenceError> {
        self.check_plug(plug)?;
        let relay = match cmd {
            PowerCommand::On => "0".to_string(),
            PowerCommand::Off => "*".to_string(),
            PowerCommand::Cycle => self.cycle_off_time.to_string(),
            other => return Err(unsupported(other)),
        };
        self.exchange(&command(&relay), b"OK", &cmd.to_string())
    }

    fn supports(&self, command: PowerCommand) -> bool {
        matches!(
            command,
            PowerCommand::Off | PowerCommand::On | PowerCommand::Cycle
        )
    }

    fn reports_power(&self) -> bool {
        false
    }

    fn close(&mut self) {
        self.line = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_framed_as_the_unit_expects() {
        assert_eq!(command("*"), b"//0,0,*;\r\n".to_vec());
        assert_eq!(command("10"), b"//0,0,10;\r\n".to_vec());
    }

    #[test]
    fn a_plug_other_than_the_host_is_refused() {
        let (p, _) = plugin()
            .params(&[
                ("serial_port", "/x"),
                ("hostlist", "node1"),
                ("plug", "node2"),
            ])
            .expect("params");
        assert_eq!(
            NwRpc100s::from_params(&p).expect_err("refused"),
            FenceError::PortUnknown {
                plug: "node2".into()
            }
        );
    }
}
