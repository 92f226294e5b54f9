//! [`SwitchPorts`]: a node's fabric ports on one or several SNMP switches, as one
//! [`FenceDevice`] plug. The MIB-specific part (which OID holds a port's admin status, how
//! to list ports) is a [`PortMib`]; IF-MIB and FIBRE-CHANNEL-FE-MIB are two of them.
//!
//! * `status` reads every port: the node is **off only when every port is down**; a port
//!   that cannot be read is an error, never "off".
//! * `off` / `on` set every port, each on its own switch; when one fails the others are
//!   still set (an off should cut as much as it can) and the first error is returned, so
//!   the action fails. [`crate::confirm::perform`] then reads every port back.
//! * Admin status values are the MIBs' own: 1 is up/online, 2 down/offline; anything else
//!   (3 testing) counts as off, as fence-agents counts it.

use std::collections::BTreeMap;

use super::client::{Client, Val};
use super::plug::{parse_plug, PortRef};
use super::settings::SnmpSettings;
use crate::device::{FenceDevice, Port, PowerCommand, PowerState};
use crate::error::{FenceError, ParamError};
use crate::params::required_plug;

/// Admin status value: up (IF-MIB `up`, FC-MIB `online`).
pub const ADMIN_UP: i64 = 1;
/// Admin status value: down (IF-MIB `down`, FC-MIB `offline`).
pub const ADMIN_DOWN: i64 = 2;

/// What differs between switch MIBs.
pub trait PortMib: Send {
    /// The plugin name, for messages.
    fn plugin(&self) -> &'static str;

    /// The OID of `port`'s admin status on the switch `client` talks to. May ask the
    /// switch (to resolve a name); the device caches the answer.
    fn admin_status_oid(&mut self, client: &mut Client, port: &str)
        -> Result<Vec<u64>, FenceError>;

    /// The switch's ports, with their admin state.
    fn list(&mut self, client: &mut Client) -> Result<Vec<Port>, FenceError>;
}

/// The state a port's admin status value means.
pub fn state_of(value: i64) -> PowerState {
    if value == ADMIN_UP {
        PowerState::On
    } else {
        PowerState::Off
    }
}

/// The state of a walked admin status value, if it is one.
pub fn state_of_val(val: &Val) -> Option<PowerState> {
    match val {
        Val::Int(n) => Some(state_of(*n)),
        _ => None,
    }
}

/// A node's ports on SNMP switches.
#[derive(Debug)]
pub struct SwitchPorts<M> {
    mib: M,
    default_switch: Option<String>,
    settings: SnmpSettings,
    separator: String,
    clients: BTreeMap<String, Client>,
    oids: BTreeMap<(String, String), Vec<u64>>,
}

impl<M: PortMib> SwitchPorts<M> {
    /// A device for switch `ip` (the default for ports without `@SWITCH`).
    pub fn new(
        mib: M,
        default_switch: Option<String>,
        settings: SnmpSettings,
        separator: &str,
    ) -> SwitchPorts<M> {
        SwitchPorts {
            mib,
            default_switch: default_switch.filter(|s| !s.is_empty()),
            settings,
            separator: separator.to_string(),
            clients: BTreeMap::new(),
            oids: BTreeMap::new(),
        }
    }

    fn ports(&self, plug: Option<&str>) -> Result<Vec<(String, PortRef)>, FenceError> {
        let plug = required_plug(plug)?;
        parse_plug(plug, &self.separator)?
            .into_iter()
            .map(|p| {
                let host = p
                    .switch
                    .clone()
                    .or_else(|| self.default_switch.clone())
                    .ok_or_else(|| ParamError::Invalid {
                        name: "plug".into(),
                        reason: format!("port {p} names no switch and ip is not set"),
                    })?;
                Ok((host, p))
            })
            .collect()
    }

    /// Runs `f` with the MIB and the session with `host` (opened on first use).
    fn with_client<T>(
        &mut self,
        host: &str,
        f: impl FnOnce(&mut M, &mut Client) -> Result<T, FenceError>,
    ) -> Result<T, FenceError> {
        let mut client = match self.clients.remove(host) {
            Some(c) => c,
            None => Client::connect(host, &self.settings)?,
        };
        let result = f(&mut self.mib, &mut client);
        self.clients.insert(host.to_string(), client);
        result
    }

    /// The admin status OID of `port` on `host`, resolved once.
    fn oid(&mut self, host: &str, port: &PortRef) -> Result<Vec<u64>, FenceError> {
        let key = (host.to_string(), port.port.clone());
        if let Some(oid) = self.oids.get(&key) {
            return Ok(oid.clone());
        }
        let oid = self
            .with_client(host, |mib, c| mib.admin_status_oid(c, &port.port))
            .map_err(|e| in_context(e, port, host))?;
        self.oids.insert(key, oid.clone());
        Ok(oid)
    }

    fn read(&mut self, host: &str, port: &PortRef) -> Result<PowerState, FenceError> {
        let oid = self.oid(host, port)?;
        let what = format!("read the admin status of port {} on {host}", port.port);
        let value = self
            .with_client(host, |_, c| c.get_int(&oid, &what))
            .map_err(|e| in_context(e, port, host))?;
        tracing::debug!("Port {} on {host}: admin status {value}", port.port);
        Ok(state_of(value))
    }

    fn write(&mut self, host: &str, port: &PortRef, value: i64) -> Result<(), FenceError> {
        let oid = self.oid(host, port)?;
        let what = format!(
            "set the admin status of port {} on {host} to {}",
            port.port,
            if value == ADMIN_UP { "up" } else { "down" }
        );
        self.with_client(host, |_, c| c.set_int(&oid, value, &what))
            .map_err(|e| in_context(e, port, host))?;
        tracing::info!(
            "Port {} on {host} set {}",
            port.port,
            if value == ADMIN_UP { "up" } else { "down" }
        );
        Ok(())
    }
}

/// Names the port in errors that do not already.
fn in_context(e: FenceError, port: &PortRef, host: &str) -> FenceError {
    match e {
        FenceError::PortUnknown { .. } => FenceError::PortUnknown {
            plug: format!("{} (on switch {host})", port.port),
        },
        other => other,
    }
}

impl<M: PortMib> FenceDevice for SwitchPorts<M> {
    fn plugin(&self) -> &'static str {
        self.mib.plugin()
    }

    fn status(&mut self, plug: Option<&str>) -> Result<PowerState, FenceError> {
        let mut state = PowerState::Off;
        for (host, port) in self.ports(plug)? {
            if self.read(&host, &port)? == PowerState::On {
                state = PowerState::On;
            }
        }
        Ok(state)
    }

    fn power(&mut self, plug: Option<&str>, command: PowerCommand) -> Result<(), FenceError> {
        let value = match command {
            PowerCommand::Off => ADMIN_DOWN,
            PowerCommand::On => ADMIN_UP,
            other => {
                return Err(FenceError::Unsupported {
                    action: other.to_string(),
                })
            }
        };
        let mut first = None;
        for (host, port) in self.ports(plug)? {
            if let Err(e) = self.write(&host, &port, value) {
                tracing::error!("Port {port} on {host}: {e}");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn list(&mut self) -> Result<Vec<Port>, FenceError> {
        let host = self
            .default_switch
            .clone()
            .ok_or_else(|| ParamError::Missing { name: "ip".into() })?;
        self.with_client(&host, |mib, c| mib.list(c))
    }

    fn is_multi_port(&self) -> bool {
        true
    }

    fn close(&mut self) {
        self.clients.clear();
    }
}
