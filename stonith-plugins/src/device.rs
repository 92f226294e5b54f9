//! The [`FenceDevice`] trait, the actions callers ask for and the outcomes they get back.
//!
//! A device only knows its primitives: read the power state, send a power command, list
//! its plugs. What an *action* means (an `off` is done only once the device confirms the
//! power is off, a `reboot` is off-confirmed-then-on) lives in [`crate::confirm`], once for
//! every device.

use std::fmt;
use std::str::FromStr;

use crate::error::{FenceError, ParamError};

/// What a caller (fenced, `fence_node`, Pacemaker through the agent) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Power off, confirmed by status. This is fencing.
    Off,
    /// Power on, confirmed by status (unfencing), retried `retry_on` times.
    On,
    /// Off (confirmed) then on; or the device's power cycle with `method=cycle`.
    Reboot,
    /// Report the power state (agent exit 0 = on, 2 = off).
    Status,
    /// List the device's plugs.
    List,
    /// List the plugs with their power state.
    ListStatus,
    /// Check that the device answers.
    Monitor,
    /// Send a diagnostic interrupt (NMI, for kdump); not verified.
    Diag,
    /// Print the metadata XML (agent only).
    Metadata,
    /// Check the parameters without contacting the device (agent only).
    ValidateAll,
}

impl Action {
    /// Every action, in the order metadata lists them.
    pub const ALL: [Action; 10] = [
        Action::On,
        Action::Off,
        Action::Reboot,
        Action::Status,
        Action::List,
        Action::ListStatus,
        Action::Monitor,
        Action::Diag,
        Action::Metadata,
        Action::ValidateAll,
    ];

    /// The actions of a power switch with several outlets (serial and USB switches).
    pub const OUTLET_SWITCH: [Action; 9] = [
        Action::On,
        Action::Off,
        Action::Reboot,
        Action::Status,
        Action::List,
        Action::ListStatus,
        Action::Monitor,
        Action::Metadata,
        Action::ValidateAll,
    ];

    /// The actions of a fabric device (switch ports): no reboot, since a fabric fence lasts
    /// until an explicit `on` (unfencing) re-enables the port.
    pub const FABRIC_PORTS: [Action; 8] = [
        Action::On,
        Action::Off,
        Action::Status,
        Action::List,
        Action::ListStatus,
        Action::Monitor,
        Action::Metadata,
        Action::ValidateAll,
    ];

    /// The fence-agents name of the action.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Off => "off",
            Action::On => "on",
            Action::Reboot => "reboot",
            Action::Status => "status",
            Action::List => "list",
            Action::ListStatus => "list-status",
            Action::Monitor => "monitor",
            Action::Diag => "diag",
            Action::Metadata => "metadata",
            Action::ValidateAll => "validate-all",
        }
    }

    /// Whether the agent's `delay` applies (fence-agents: only before off and reboot).
    pub fn is_delayed(self) -> bool {
        matches!(self, Action::Off | Action::Reboot)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = ParamError;

    /// Parses a fence-agents action name, case-insensitively, with the aliases fence-agents
    /// accepts (`meta-data`, `list_status`, `enable`/`disable` are not accepted here: they
    /// belong to fabric agents).
    fn from_str(s: &str) -> Result<Action, ParamError> {
        let lower = s.trim().to_ascii_lowercase();
        let action = match lower.as_str() {
            "off" => Action::Off,
            "on" => Action::On,
            "reboot" => Action::Reboot,
            "status" => Action::Status,
            "list" => Action::List,
            "list-status" | "list_status" => Action::ListStatus,
            "monitor" => Action::Monitor,
            "diag" => Action::Diag,
            "metadata" | "meta-data" => Action::Metadata,
            "validate-all" | "validate_all" => Action::ValidateAll,
            _ => {
                return Err(ParamError::UnknownAction {
                    action: s.to_string(),
                })
            }
        };
        Ok(action)
    }
}

/// A plug's power state as the device reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PowerState {
    /// Powered on.
    On,
    /// Powered off.
    Off,
}

impl fmt::Display for PowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PowerState::On => "ON",
            PowerState::Off => "OFF",
        })
    }
}

/// A power command a device can be sent (one message, no confirmation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PowerCommand {
    /// Power down (hard, not an ACPI soft shutdown).
    Off,
    /// Power up.
    On,
    /// The device's own power cycle (off, pause, on).
    Cycle,
    /// Hard reset (the power stays on).
    Reset,
    /// Diagnostic interrupt (NMI).
    Diag,
}

impl fmt::Display for PowerCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PowerCommand::Off => "power off",
            PowerCommand::On => "power on",
            PowerCommand::Cycle => "power cycle",
            PowerCommand::Reset => "hard reset",
            PowerCommand::Diag => "diagnostic interrupt",
        })
    }
}

/// One plug of a multi-port device, as `list` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The plug id to pass as `plug`.
    pub id: String,
    /// A human name, if the device has one.
    pub alias: Option<String>,
    /// Its power state, if known (`list-status`).
    pub state: Option<PowerState>,
}

/// What a successful action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `status`: the current power state.
    Status(PowerState),
    /// `off`: the device confirmed the power is off.
    PoweredOff,
    /// `off`: it already was off; nothing was sent.
    AlreadyOff,
    /// `on`: the device confirmed the power is on.
    PoweredOn,
    /// `on`: it already was on; nothing was sent.
    AlreadyOn,
    /// `reboot` (on/off method): off was confirmed, then on was confirmed.
    Rebooted,
    /// `reboot`: off was confirmed (the node *is* fenced) but powering it on again failed.
    /// Not a success of the whole reboot: callers should alert an administrator.
    OffButOnFailed(FenceError),
    /// `reboot` with `method=cycle`: the device accepted its power cycle command. Not
    /// verified by status (a cycle is too quick to observe reliably).
    Cycled,
    /// `diag`: the interrupt was accepted (not verified).
    DiagSent,
    /// `list` / `list-status`: the device's plugs.
    Listed(Vec<Port>),
    /// `monitor`: the device answers.
    Healthy,
    /// A device that carries out actions itself ([`FenceDevice::performs_actions`])
    /// confirmed the fence in its own terms (the poison pill: acknowledged, or silent for
    /// the whole message wait); the text says how.
    Confirmed(String),
}

/// A fence device: the primitives one plugin implements.
///
/// Every call is bounded in time by the device's own timeouts; none blocks forever.
/// Implementations keep a connection open across calls if that is cheaper (one IPMI
/// session for a whole `off`-and-poll sequence) and release it in [`FenceDevice::close`],
/// which callers should call when done (dropping the device must release it too).
pub trait FenceDevice: Send {
    /// The plugin name (`ipmilan`), for messages.
    fn plugin(&self) -> &'static str;

    /// Reads the power state of `plug` (`None` for single-plug devices such as a BMC).
    fn status(&mut self, plug: Option<&str>) -> Result<PowerState, FenceError>;

    /// Sends one power command to `plug`. Success means the device accepted it, not that
    /// it is done: [`crate::confirm::perform`] polls [`FenceDevice::status`] for that.
    fn power(&mut self, plug: Option<&str>, command: PowerCommand) -> Result<(), FenceError>;

    /// Whether the device implements `command` at all.
    fn supports(&self, command: PowerCommand) -> bool {
        matches!(command, PowerCommand::Off | PowerCommand::On)
    }

    /// Lists the device's plugs (multi-port devices). Single-plug devices say unsupported.
    fn list(&mut self) -> Result<Vec<Port>, FenceError> {
        Err(FenceError::Unsupported {
            action: Action::List.to_string(),
        })
    }

    /// Whether the device has several plugs (then `monitor` lists, and `plug` is required).
    fn is_multi_port(&self) -> bool {
        false
    }

    /// Whether [`FenceDevice::status`] reports the real power state. A device that cannot
    /// (a relay board without read-back, the Night/Ware RPC100S) returns false; then a
    /// power command counts as done when the device acknowledges it, and `status` is
    /// unsupported.
    fn reports_power(&self) -> bool {
        true
    }

    /// Checks that the device answers (`monitor` of a single-plug device). The default
    /// reads the status.
    fn probe(&mut self, plug: Option<&str>) -> Result<(), FenceError> {
        self.status(plug).map(|_| ())
    }

    /// Whether the device decides itself what an action means, instead of the power
    /// primitives and [`crate::confirm::perform`]: a fence that is not a power state (the
    /// poison pill through a quorum disk is a message and its acknowledgement). Then the
    /// agent calls [`FenceDevice::perform_action`] (after `delay` for `off` and `reboot`).
    fn performs_actions(&self) -> bool {
        false
    }

    /// Carries out `action` on `plug` (only when [`FenceDevice::performs_actions`]).
    fn perform_action(
        &mut self,
        action: Action,
        plug: Option<&str>,
    ) -> Result<Outcome, FenceError> {
        let _ = plug;
        Err(FenceError::Unsupported {
            action: action.to_string(),
        })
    }

    /// Ends any session with the device. Errors are ignored: the work is done.
    fn close(&mut self) {}
}

impl<D: FenceDevice + ?Sized> FenceDevice for Box<D> {
    fn plugin(&self) -> &'static str {
        (**self).plugin()
    }
    fn status(&mut self, plug: Option<&str>) -> Result<PowerState, FenceError> {
        (**self).status(plug)
    }
    fn power(&mut self, plug: Option<&str>, command: PowerCommand) -> Result<(), FenceError> {
        (**self).power(plug, command)
    }
    fn supports(&self, command: PowerCommand) -> bool {
        (**self).supports(command)
    }
    fn list(&mut self) -> Result<Vec<Port>, FenceError> {
        (**self).list()
    }
    fn is_multi_port(&self) -> bool {
        (**self).is_multi_port()
    }
    fn reports_power(&self) -> bool {
        (**self).reports_power()
    }
    fn probe(&mut self, plug: Option<&str>) -> Result<(), FenceError> {
        (**self).probe(plug)
    }
    fn performs_actions(&self) -> bool {
        (**self).performs_actions()
    }
    fn perform_action(
        &mut self,
        action: Action,
        plug: Option<&str>,
    ) -> Result<Outcome, FenceError> {
        (**self).perform_action(action, plug)
    }
    fn close(&mut self) {
        (**self).close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip_and_aliases_parse() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(a));
        }
        assert_eq!("META-DATA".parse::<Action>(), Ok(Action::Metadata));
        assert_eq!(" Off ".parse::<Action>(), Ok(Action::Off));
        assert_eq!(
            "option".parse::<Action>(),
            Err(ParamError::UnknownAction {
                action: "option".into()
            })
        );
    }
}
