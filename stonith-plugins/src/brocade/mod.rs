//! The Brocade plugin (`brocade`, agent `fence_qd_brocade`): fences a node by disabling
//! its Fibre Channel switch ports over SSH with the Fabric OS CLI, as fence_brocade does:
//! `portcfgpersistentdisable N` / `portcfgpersistentenable N` (persistent across a switch
//! reboot, so a fenced node stays fenced), state from `switchshow`.
//!
//! Each command runs on its own SSH `exec` channel of one connection per switch (FOS runs
//! commands given that way), so nothing depends on prompt matching. A port is an index as
//! `switchshow`'s first column shows it; several ports and several switches as for the
//! SNMP plugins (`1,5@10.0.0.2`). A command whose output says it failed, or whose exit
//! status is not 0, fails the action; off is confirmed by reading `switchshow` back.

pub mod ssh;
pub mod switchshow;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::device::{Action, FenceDevice, Port, PowerCommand, PowerState};
use crate::error::{FenceError, ParamError};
use crate::params::{required_plug, with_default, ParamSpec, ParamType, Params, COMMON};
use crate::registry::Plugin;
use crate::snmp::plug::{parse_plug, PortRef};

use ssh::{Login, SshConfig, SshSession};
use switchshow::parse_switchshow;

/// The plugin's own parameters.
pub const BROCADE_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "ssh",
        ParamType::Boolean,
        "Use SSH connection (always: accepted for fence_brocade compatibility)",
    )
    .short('x')
    .aliases(&["secure"]),
    ParamSpec::new(
        "identity_file",
        ParamType::String,
        "Identity file (private key) for SSH",
    )
    .short('k'),
    ParamSpec::new(
        "ssh_host_key_fingerprint",
        ParamType::String,
        "Expected SHA256 fingerprint of the switch's SSH host key (SHA256:...)",
    ),
    ParamSpec::new(
        "shell_timeout",
        ParamType::Second,
        "Wait X seconds for a command's output",
    )
    .default("3"),
    ParamSpec::new(
        "plug_separator",
        ParamType::String,
        "Separator for plug parameter when specifying more than 1 plug",
    )
    .default(","),
];

const LONGDESC: &str = "fence_qd_brocade fences a node by disabling its ports on Brocade \
Fibre Channel switches over SSH (portcfgpersistentdisable, so the port stays disabled across a \
switch reboot; portcfgpersistentenable to unfence), with the state read from switchshow. The \
plug lists every port index of the node, separated by plug_separator; a port on another switch \
than ip is written PORT@SWITCH. off succeeds only when every port reads back disabled; status \
is OFF only when all are disabled. Pass the password on stdin or use identity_file.";

/// The plugin description.
pub fn plugin() -> Plugin {
    let mut params: Vec<ParamSpec> = BROCADE_PARAMS.to_vec();
    params.extend(COMMON.iter().filter(|s| s.name != "method").copied());
    let params = with_default(params, "ipport", "22");
    let params = with_default(params, "action", "off");
    let mut params = with_default(params, "stonith_status_sleep", "0.1");
    for p in params.iter_mut() {
        if matches!(p.name, "ip" | "username") {
            p.required = true;
        }
    }
    Plugin {
        name: "brocade",
        agent: "fence_qd_brocade",
        shortdesc: "Fence agent for Brocade FC switches over SSH (several ports per node)",
        longdesc: LONGDESC,
        vendor_url: "http://www.brocade.com",
        params,
        actions: Action::FABRIC_PORTS.to_vec(),
        fabric: true,
        build: |p| Ok(Box::new(BrocadeDevice::from_params(p)?)),
    }
}

/// A node's ports on Brocade switches.
#[derive(Debug)]
pub struct BrocadeDevice {
    default_switch: String,
    template: SshConfig,
    separator: String,
    sessions: BTreeMap<String, SshSession>,
}

impl BrocadeDevice {
    /// Builds the device from validated parameters.
    pub fn from_params(p: &Params) -> Result<BrocadeDevice, FenceError> {
        let host = p
            .get("ip")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| ParamError::Missing { name: "ip".into() })?
            .to_string();
        let port = p.integer("ipport")?.unwrap_or(22);
        let port = u16::try_from(port).map_err(|_| ParamError::Invalid {
            name: "ipport".into(),
            reason: format!("{port} is not a TCP port"),
        })?;
        let user = p
            .get("username")
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ParamError::Missing {
                name: "username".into(),
            })?
            .to_string();
        let login = match (
            p.get("identity_file").filter(|s| !s.is_empty()),
            p.get("password").filter(|s| !s.is_empty()),
        ) {
            (Some(path), _) => Login::Key {
                user,
                path: PathBuf::from(path),
            },
            (None, Some(pw)) => Login::Password {
                user,
                password: pw.to_string(),
            },
            (None, None) => {
                return Err(ParamError::Missing {
                    name: "password".into(),
                }
                .into())
            }
        };
        Ok(BrocadeDevice {
            default_switch: host.clone(),
            template: SshConfig {
                host,
                port,
                login,
                login_timeout: p
                    .seconds("login_timeout")?
                    .unwrap_or(Duration::from_secs(5)),
                command_timeout: p
                    .seconds("shell_timeout")?
                    .unwrap_or(Duration::from_secs(3)),
                host_key_fingerprint: p
                    .get("ssh_host_key_fingerprint")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            },
            separator: p.get("plug_separator").unwrap_or(",").to_string(),
            sessions: BTreeMap::new(),
        })
    }

    fn ports(&self, plug: Option<&str>) -> Result<Vec<(String, PortRef)>, FenceError> {
        let plug = required_plug(plug)?;
        let ports = parse_plug(plug, &self.separator)?;
        for p in &ports {
            if p.port.parse::<u32>().is_err() {
                return Err(ParamError::Invalid {
                    name: "plug".into(),
                    reason: format!(
                        "{:?}: Brocade ports are switchshow indexes (0, 1, ...)",
                        p.port
                    ),
                }
                .into());
            }
        }
        Ok(ports
            .into_iter()
            .map(|p| {
                (
                    p.switch
                        .clone()
                        .unwrap_or_else(|| self.default_switch.clone()),
                    p,
                )
            })
            .collect())
    }

    fn run(&mut self, host: &str, command: &str) -> Result<ssh::CommandOutput, FenceError> {
        let session = match self.sessions.remove(host) {
            Some(s) => s,
            None => SshSession::open(&SshConfig {
                host: host.to_string(),
                ..self.template.clone()
            })?,
        };
        let mut session = session;
        let result = session.exec(command);
        match &result {
            // A broken connection is not reused.
            Err(FenceError::Protocol { .. } | FenceError::TimedOut { .. }) => session.close(),
            _ => {
                self.sessions.insert(host.to_string(), session);
            }
        }
        result
    }

    fn states(&mut self, host: &str) -> Result<BTreeMap<u32, PowerState>, FenceError> {
        let out = self.run(host, "switchshow")?;
        let table = parse_switchshow(&out.text);
        if table.is_empty() {
            return Err(FenceError::Protocol {
                detail: format!(
                    "switchshow on {host} shows no port table: {:?}",
                    first_line(&out.text)
                ),
            });
        }
        Ok(table.into_iter().map(|p| (p.index, p.state)).collect())
    }
}

fn first_line(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// Whether a FOS command's output says it failed (FOS often exits 0 regardless).
fn says_failed(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "error",
        "invalid",
        "not permitted",
        "not found",
        "usage:",
        "failed",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

impl FenceDevice for BrocadeDevice {
    fn plugin(&self) -> &'static str {
        "brocade"
    }

    fn status(&mut self, plug: Option<&str>) -> Result<PowerState, FenceError> {
        let ports = self.ports(plug)?;
        let mut by_host: BTreeMap<String, Vec<PortRef>> = BTreeMap::new();
        for (host, port) in ports {
            by_host.entry(host).or_default().push(port);
        }
        let mut state = PowerState::Off;
        for (host, ports) in by_host {
            let states = self.states(&host)?;
            for port in ports {
                let index = port.port.parse::<u32>().unwrap_or(u32::MAX);
                match states.get(&index) {
                    Some(PowerState::On) => state = PowerState::On,
                    Some(PowerState::Off) => {}
                    None => {
                        return Err(FenceError::PortUnknown {
                            plug: format!("{} (on switch {host})", port.port),
                        })
                    }
                }
                tracing::debug!("Port {} on {host}: {:?}", port.port, states.get(&index));
            }
        }
        Ok(state)
    }

    fn power(&mut self, plug: Option<&str>, command: PowerCommand) -> Result<(), FenceError> {
        let verb = match command {
            PowerCommand::Off => "portcfgpersistentdisable",
            PowerCommand::On => "portcfgpersistentenable",
            other => {
                return Err(FenceError::Unsupported {
                    action: other.to_string(),
                })
            }
        };
        let mut first = None;
        for (host, port) in self.ports(plug)? {
            let line = format!("{verb} {}", port.port);
            let result = self.run(&host, &line).and_then(|out| {
                if out.exit_status.is_some_and(|s| s != 0) || says_failed(&out.text) {
                    Err(FenceError::Refused {
                        what: format!("{line} on {host}"),
                        detail: first_line(&out.text).trim().to_string(),
                    })
                } else {
                    Ok(())
                }
            });
            match result {
                Ok(()) => tracing::info!("{line} on {host}: done"),
                Err(e) => {
                    tracing::error!("{line} on {host}: {e}");
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn list(&mut self) -> Result<Vec<Port>, FenceError> {
        let host = self.default_switch.clone();
        let out = self.run(&host, "switchshow")?;
        Ok(parse_switchshow(&out.text)
            .into_iter()
            .map(|p| Port {
                id: p.index.to_string(),
                alias: None,
                state: Some(p.state),
            })
            .collect())
    }

    fn is_multi_port(&self) -> bool {
        true
    }

    fn close(&mut self) {
        for (_, s) in std::mem::take(&mut self.sessions) {
            s.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_words_in_fos_output_fail_the_command() {
        assert!(says_failed("Error: invalid port number"));
        assert!(says_failed("Usage: portCfgPersistentDisable [slot/]port"));
        assert!(!says_failed(""));
        assert!(!says_failed("Port 3 persistently disabled"));
    }

    #[test]
    fn the_plugin_needs_a_password_or_a_key_and_ports_are_indexes() {
        let p = plugin();
        assert!(p.fabric);
        let (params, _) = p
            .params(&[("ip", "sw"), ("username", "admin")])
            .expect("params");
        assert!(matches!(
            BrocadeDevice::from_params(&params),
            Err(FenceError::Param(ParamError::Missing { .. }))
        ));
        let (params, _) = p
            .params(&[("ip", "sw"), ("username", "admin"), ("password", "pw")])
            .expect("params");
        let dev = BrocadeDevice::from_params(&params).expect("device");
        assert!(!format!("{dev:?}").contains("pw\""));
        assert!(dev.ports(Some("1,fc1/2")).is_err());
        assert_eq!(dev.ports(Some("1,3@sw2")).map(|p| p.len()), Ok(2));
    }
}
