//! Typed errors: what went wrong with a fence device and what an administrator should do.
//!
//! Every variant's doc names the likely cause and the fix. No variant ever carries a secret
//! (password, BMC key): errors are printed and logged.

use std::time::Duration;

use crate::device::PowerState;

/// A fence operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FenceError {
    /// The device refused our credentials. Likely cause: wrong user name, password or BMC
    /// key (`hexadecimal_kg`), a user without the requested privilege (`privlvl`), or a
    /// cipher suite the user may not use. Fix: check them with the device's own tools.
    #[error("authentication failed: {detail} (check username, password, privlvl and cipher)")]
    AuthFailed {
        /// What the device said.
        detail: String,
    },
    /// The device's address could not be reached at all (no route, ICMP unreachable,
    /// nothing listening on the port). Fix: check `ip`, `ipport` and the management network.
    #[error("device unreachable at {addr}: {detail} (check ip, ipport and the network)")]
    Unreachable {
        /// Address we tried.
        addr: String,
        /// The system's reason.
        detail: String,
    },
    /// The device did not answer in time, after every retry. Likely cause: wrong address,
    /// a firewall, a BMC that is hung or busy, or IPMI over LAN disabled on it.
    #[error("timed out after {after:?} waiting for {what} (device does not answer: check ip, ipport, firewall, BMC health)")]
    TimedOut {
        /// What we were waiting for.
        what: String,
        /// How long we waited.
        after: Duration,
    },
    /// The device answered but refused the command. Likely cause: the command is not
    /// supported in the present state (e.g. power cycle of a node that is off), or the
    /// session lacks privilege. The detail carries the device's code.
    #[error("device refused {what}: {detail}")]
    Refused {
        /// The command.
        what: String,
        /// The device's reason (completion code).
        detail: String,
    },
    /// The plug (port, outlet, node) is not known to the device. Fix: check `plug` against
    /// the device's `list` output.
    #[error("plug {plug:?} unknown to the device (run the list action to see valid plugs)")]
    PortUnknown {
        /// The plug asked for.
        plug: String,
    },
    /// The device accepted the power command but its status did not reach the wanted
    /// state within `power_timeout`. Likely cause: a BMC that acknowledges commands it
    /// does not carry out, a stuck power supply, or a `power_timeout` too short for this
    /// hardware. The node must not be considered fenced.
    #[error(
        "power not confirmed {wanted} after {after:?} (raise power_timeout, or check the hardware)"
    )]
    NotConfirmed {
        /// The state we waited for.
        wanted: PowerState,
        /// How long we polled.
        after: Duration,
    },
    /// The device or plugin does not implement this action. Fix: use an action listed by
    /// `-o metadata`.
    #[error("action {action} is not supported by this device")]
    Unsupported {
        /// The action.
        action: String,
    },
    /// The device sent something we could not understand (malformed or unexpected reply).
    /// Likely cause: a non-compliant device, or something else answering on that port.
    #[error("protocol error: {detail}")]
    Protocol {
        /// What was wrong.
        detail: String,
    },
    /// A device that carries out actions itself failed; the text says why and what to do
    /// (the poison pill: a victim that did not acknowledge and whose silence proves
    /// nothing, a quorum disk that cannot be read). The node must not be considered fenced.
    #[error("{detail}")]
    Failed {
        /// What happened, and the fix.
        detail: String,
    },
    /// The parameters are wrong; nothing was sent to the device.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// A serial line or the device on it failed (busy port, no banner, no reply).
    #[error(transparent)]
    Serial(#[from] crate::serial::SerialError),
    /// A USB hub or relay board failed (not found, no per-port power switching, transfer
    /// error).
    #[error(transparent)]
    Usb(#[from] crate::usb::UsbError),
}

/// A device's parameters are missing or wrong. Values of secret parameters never appear.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// A required parameter is missing. Fix: pass it (`-o metadata` lists them).
    #[error("missing required parameter {name}")]
    Missing {
        /// Its canonical name.
        name: String,
    },
    /// A parameter's value does not fit its type or choices.
    #[error("invalid value for {name}: {reason}")]
    Invalid {
        /// Its canonical name.
        name: String,
        /// Why (includes the value unless it is a secret).
        reason: String,
    },
    /// The action is not one this agent knows. Fix: use one listed by `-o metadata`.
    #[error("unrecognised action {action:?}")]
    UnknownAction {
        /// The action given.
        action: String,
    },
    /// `password_script` could not be run or failed. Fix: run it by hand as the same user.
    #[error("password_script failed: {reason}")]
    PasswordScript {
        /// Why (never its output).
        reason: String,
    },
    /// A command-line argument could not be parsed (unknown flag, missing value).
    #[error("bad argument {arg:?}: {reason}")]
    BadArgument {
        /// The argument as given (a secret flag's value is never included).
        arg: String,
        /// Why.
        reason: String,
    },
    /// No plugin of that name is registered. Fix: see `Registry::names`.
    #[error("no fence plugin named {name:?}")]
    UnknownPlugin {
        /// The name asked for.
        name: String,
    },
}
