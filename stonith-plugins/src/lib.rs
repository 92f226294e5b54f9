//! Fence devices: the [`FenceDevice`] trait, the device plugins and the fence-agent front
//! end.
//!
//! A plugin ([`registry::Plugin`]) describes its parameters ([`params::ParamSpec`]) and
//! builds a [`FenceDevice`] from `name=value` pairs; the [`Registry`] finds plugins by
//! name. A device only knows its primitives (read the power state, send one power command,
//! list plugs); [`confirm::perform`] gives the actions their meaning once for every device:
//! `off` succeeds only when the device confirms the power is off, `reboot` is
//! off-confirmed-then-on, and an `on` that fails after a confirmed off is reported as
//! [`Outcome::OffButOnFailed`]. Errors are typed ([`FenceError`], [`ParamError`]) and tell
//! an administrator what to do.
//!
//! [`agent`] is the fence-agents compatible front end (command line or stdin `name=value`,
//! `-o metadata`, exit codes 0/1/2) that every plugin's agent binary runs. [`ipmi`] is the
//! native IPMI over LAN plugin (RMCP and RMCP+, no `ipmitool`). The fabric plugins fence by
//! cutting a node's switch ports instead of its power: [`ifmib`] (IF-MIB over SNMP),
//! [`fcmib`] (Fibre Channel switches, FIBRE-CHANNEL-FE-MIB over SNMP), both on [`snmp`], and
//! [`brocade`] (Brocade FC switches, their CLI over SSH). [`serial`] has the power switches
//! on serial lines (WTI RPS-10, APC Smart-UPS, Night/Ware RPC100S, LCUS relay boards),
//! [`usb`] USB hub port power and HID relay boards.
//!
//! The framework ([`device`], [`params`], [`confirm`], [`registry`]) does no I/O and reads
//! time only through the [`confirm::Clock`] it is given. Secrets never reach a log line or
//! an error message.

pub mod agent;
pub mod brocade;
pub mod confirm;
pub mod device;
pub mod error;
pub mod fcmib;
pub mod ifmib;
pub mod ipmi;
pub mod params;
pub mod registry;
pub mod serial;
pub mod snmp;
pub mod usb;

pub use confirm::{perform, Clock, RebootMethod, SystemClock, Timing};
pub use device::{Action, FenceDevice, Outcome, Port, PowerCommand, PowerState};
pub use error::{FenceError, ParamError};
pub use params::{ParamSpec, ParamType, Params};
pub use registry::{Plugin, Registry};
