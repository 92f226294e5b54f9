//! The IF-MIB plugin (`ifmib`, agent `fence_qd_ifmib`): fences a node by setting
//! `IF-MIB::ifAdminStatus` of each of its switch ports down, on any managed switch, over
//! SNMP v1, v2c or v3, with fence_ifmib's option names.
//!
//! A port is an ifIndex (`102`) or a name matched exactly against `ifName` and `ifDescr`
//! (`n2h0`, `GigabitEthernet1/0/2`); a name that matches two interfaces is refused rather
//! than guessed. Names are resolved with one walk of each column per switch and action.

use std::collections::BTreeMap;

use crate::device::{Action, Port};
use crate::error::{FenceError, ParamError};
use crate::params::Params;
use crate::registry::Plugin;
use crate::snmp::client::{Client, Val};
use crate::snmp::settings::SnmpSettings;
use crate::snmp::switch::{state_of_val, PortMib, SwitchPorts};

/// `IF-MIB::ifDescr`.
pub const IF_DESCR: &[u64] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 2];
/// `IF-MIB::ifAdminStatus`.
pub const IF_ADMIN_STATUS: &[u64] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 7];
/// `IF-MIB::ifName`.
pub const IF_NAME: &[u64] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1];
/// `IF-MIB::ifAlias`.
pub const IF_ALIAS: &[u64] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18];

const LONGDESC: &str = "fence_qd_ifmib fences a node by disabling its ports on managed \
switches (IF-MIB ifAdminStatus) over SNMP v1, v2c or v3 (authNoPriv, authPriv), natively: no \
net-snmp tools are run. The plug lists every port of the node (ifIndex, ifName or ifDescr), \
separated by plug_separator; a port on another switch than ip is written PORT@SWITCH. off \
succeeds only when every port reads back down; status is OFF only when all are down; on \
(unfencing) brings them all up again. Pass the community and passphrases on stdin, never on \
the command line.";

/// The plugin description.
pub fn plugin() -> Plugin {
    Plugin {
        name: "ifmib",
        agent: "fence_qd_ifmib",
        shortdesc: "Fence agent for IF MIB (native SNMP, several ports per node)",
        longdesc: LONGDESC,
        vendor_url: "https://www.ietf.org/rfc/rfc2863.txt",
        params: crate::snmp::switch_params(&[]),
        actions: Action::FABRIC_PORTS.to_vec(),
        fabric: true,
        build: |p| Ok(Box::new(device(p)?)),
    }
}

/// Builds the device from validated parameters.
pub fn device(p: &Params) -> Result<SwitchPorts<IfMib>, FenceError> {
    Ok(SwitchPorts::new(
        IfMib::default(),
        p.get("ip").map(str::to_string),
        SnmpSettings::from_params(p)?,
        p.get("plug_separator").unwrap_or(","),
    ))
}

/// One interface as the switch names it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Interface {
    index: u64,
    descr: Option<String>,
    name: Option<String>,
}

/// IF-MIB: ports by ifIndex, ifName or ifDescr.
#[derive(Debug, Default)]
pub struct IfMib {
    interfaces: BTreeMap<String, Vec<Interface>>,
}

fn texts(rows: Vec<(Vec<u64>, Val)>) -> BTreeMap<u64, String> {
    rows.into_iter()
        .filter_map(|(index, v)| match (index.as_slice(), v) {
            ([i], Val::Text(t)) => Some((*i, t)),
            _ => None,
        })
        .collect()
}

impl IfMib {
    fn interfaces(&mut self, client: &mut Client) -> Result<&[Interface], FenceError> {
        let host = client.host().to_string();
        if !self.interfaces.contains_key(&host) {
            let descr = texts(client.walk(IF_DESCR, "walk ifDescr")?);
            // ifName is in IF-MIB's ifXTable, which some old agents lack.
            let names = match client.walk(IF_NAME, "walk ifName") {
                Ok(rows) => texts(rows),
                Err(FenceError::PortUnknown { .. }) => BTreeMap::new(),
                Err(e) => return Err(e),
            };
            let mut indexes: Vec<u64> = descr.keys().chain(names.keys()).copied().collect();
            indexes.sort_unstable();
            indexes.dedup();
            let list = indexes
                .into_iter()
                .map(|index| Interface {
                    index,
                    descr: descr.get(&index).cloned(),
                    name: names.get(&index).cloned(),
                })
                .collect();
            self.interfaces.insert(host.clone(), list);
        }
        Ok(self
            .interfaces
            .get(&host)
            .map(Vec::as_slice)
            .unwrap_or_default())
    }
}

impl PortMib for IfMib {
    fn plugin(&self) -> &'static str {
        "ifmib"
    }

    fn admin_status_oid(
        &mut self,
        client: &mut Client,
        port: &str,
    ) -> Result<Vec<u64>, FenceError> {
        let index = match port.trim().parse::<u32>() {
            Ok(index) if index > 0 => u64::from(index),
            _ => {
                let matches: Vec<u64> = self
                    .interfaces(client)?
                    .iter()
                    .filter(|i| i.name.as_deref() == Some(port) || i.descr.as_deref() == Some(port))
                    .map(|i| i.index)
                    .collect();
                match matches.as_slice() {
                    [one] => *one,
                    [] => {
                        return Err(FenceError::PortUnknown {
                            plug: port.to_string(),
                        })
                    }
                    several => {
                        return Err(ParamError::Invalid {
                            name: "plug".into(),
                            reason: format!(
                                "{port:?} names several interfaces (ifIndex {several:?}): give the ifIndex"
                            ),
                        }
                        .into())
                    }
                }
            }
        };
        let mut oid = IF_ADMIN_STATUS.to_vec();
        oid.push(index);
        Ok(oid)
    }

    fn list(&mut self, client: &mut Client) -> Result<Vec<Port>, FenceError> {
        let aliases = match client.walk(IF_ALIAS, "walk ifAlias") {
            Ok(rows) => texts(rows),
            Err(FenceError::PortUnknown { .. }) => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        let states: BTreeMap<u64, _> = client
            .walk(IF_ADMIN_STATUS, "walk ifAdminStatus")?
            .into_iter()
            .filter_map(|(index, v)| match index.as_slice() {
                [i] => state_of_val(&v).map(|s| (*i, s)),
                _ => None,
            })
            .collect();
        let interfaces = self.interfaces(client)?.to_vec();
        Ok(interfaces
            .into_iter()
            .map(|i| Port {
                id: i.descr.or(i.name).unwrap_or_else(|| i.index.to_string()),
                alias: aliases.get(&i.index).filter(|a| !a.is_empty()).cloned(),
                state: states.get(&i.index).copied(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugin_is_a_fabric_agent_with_fence_ifmib_options() {
        let p = plugin();
        assert!(p.fabric);
        assert!(!p.actions.contains(&Action::Reboot));
        let (params, _) = p.params(&[("ip", "sw"), ("plug", "1")]).expect("params");
        assert_eq!(params.get("action"), Some("off"));
        assert_eq!(params.get("ipport"), Some("161"));
        assert_eq!(params.get("snmp_version"), Some("2c"));
        assert!(params.is_secret("community"));
        assert!(params.is_secret("snmp_priv_passwd"));
        assert!(p.params.iter().all(|s| s.name != "method"));
        let xml = crate::agent::metadata::metadata(&p);
        assert!(
            xml.contains("<action name=\"on\" automatic=\"1\"/>"),
            "{xml}"
        );
    }
}
