//! The Fibre Channel switch plugin (`cisco_mds`, agent `fence_qd_cisco_mds`): fences a
//! node by taking its FC ports offline through FIBRE-CHANNEL-FE-MIB's port admin status
//! (`fcFxPortPhysAdminStatus`, RFC 2837), as Cisco MDS 9000 switches serve it and
//! fence_cisco_mds uses it, over SNMP v1, v2c or v3.
//!
//! Ports are `fcSLOT/PORT` (case-insensitive). Cisco numbers the MIB's module index from 22
//! for slot 1 and the port index from 0, so `fcS/P` is
//! `.1.3.6.1.2.1.75.1.2.2.1.1.(S+21).(P-1)`, exactly fence_cisco_mds's mapping. A switch
//! of another make is reached with `MODULE.PORT` (the MIB's own indexes). Values: 1 online,
//! 2 offline. `list` walks the admin status column itself, so it shows every FC port
//! whatever the interface names (fence_cisco_mds filters ifDescr for `fcN/M`). There is no
//! VSAN awareness: the whole physical port goes offline, as with fence_cisco_mds.

use crate::device::{Action, Port};
use crate::error::{FenceError, ParamError};
use crate::params::Params;
use crate::registry::Plugin;
use crate::snmp::client::Client;
use crate::snmp::settings::SnmpSettings;
use crate::snmp::switch::{state_of_val, PortMib, SwitchPorts};

/// `FIBRE-CHANNEL-FE-MIB::fcFxPortPhysAdminStatus` (append module and port index).
pub const FC_PORT_ADMIN_STATUS: &[u64] = &[1, 3, 6, 1, 2, 1, 75, 1, 2, 2, 1, 1];

/// Cisco's module index of slot 1.
const SLOT_BASE: u64 = 21;

const LONGDESC: &str = "fence_qd_cisco_mds fences a node by taking its Fibre Channel switch \
ports offline (FIBRE-CHANNEL-FE-MIB port admin status, as on Cisco MDS 9000 switches) over \
SNMP v1, v2c or v3, natively: no net-snmp tools are run. The plug lists every port of the node \
as fcSLOT/PORT (or MODULE.PORT), separated by plug_separator; a port on another switch than ip \
is written PORT@SWITCH. off succeeds only when every port reads back offline; status is OFF \
only when all are offline; on (unfencing) brings them all online.";

/// The plugin description.
pub fn plugin() -> Plugin {
    Plugin {
        name: "cisco_mds",
        agent: "fence_qd_cisco_mds",
        shortdesc: "Fence agent for Cisco MDS and FC-MIB switches (native SNMP)",
        longdesc: LONGDESC,
        vendor_url: "http://www.cisco.com",
        params: crate::snmp::switch_params(&[]),
        actions: Action::FABRIC_PORTS.to_vec(),
        fabric: true,
        build: |p| Ok(Box::new(device(p)?)),
    }
}

/// Builds the device from validated parameters.
pub fn device(p: &Params) -> Result<SwitchPorts<FcMib>, FenceError> {
    Ok(SwitchPorts::new(
        FcMib,
        p.get("ip").map(str::to_string),
        SnmpSettings::from_params(p)?,
        p.get("plug_separator").unwrap_or(","),
    ))
}

/// `(module index, port index)` of a port name.
pub fn port_index(port: &str) -> Result<(u64, u64), ParamError> {
    let invalid = || ParamError::Invalid {
        name: "plug".into(),
        reason: format!("{port:?}: expected fcSLOT/PORT (fc1/3) or MODULE.PORT (22.2)"),
    };
    let lower = port.trim().to_ascii_lowercase();
    let number = |s: &str| s.parse::<u64>().map_err(|_| invalid());
    if let Some(rest) = lower.strip_prefix("fc") {
        let (slot, p) = rest.split_once('/').ok_or_else(invalid)?;
        let (slot, p) = (number(slot)?, number(p)?);
        if slot == 0 || p == 0 || slot > 1000 {
            return Err(invalid());
        }
        return Ok((slot + SLOT_BASE, p - 1));
    }
    let (module, p) = lower.split_once('.').ok_or_else(invalid)?;
    Ok((number(module)?, number(p)?))
}

/// The `fcS/P` name of a module and port index (or `M.P` outside Cisco's numbering).
pub fn port_name(module: u64, port: u64) -> String {
    if module > SLOT_BASE {
        format!("fc{}/{}", module - SLOT_BASE, port + 1)
    } else {
        format!("{module}.{port}")
    }
}

/// FIBRE-CHANNEL-FE-MIB port admin status.
#[derive(Debug, Default, Clone, Copy)]
pub struct FcMib;

impl PortMib for FcMib {
    fn plugin(&self) -> &'static str {
        "cisco_mds"
    }

    fn admin_status_oid(
        &mut self,
        _client: &mut Client,
        port: &str,
    ) -> Result<Vec<u64>, FenceError> {
        let (module, index) = port_index(port)?;
        let mut oid = FC_PORT_ADMIN_STATUS.to_vec();
        oid.extend([module, index]);
        Ok(oid)
    }

    fn list(&mut self, client: &mut Client) -> Result<Vec<Port>, FenceError> {
        Ok(client
            .walk(FC_PORT_ADMIN_STATUS, "walk fcFxPortPhysAdminStatus")?
            .into_iter()
            .filter_map(|(index, v)| match index.as_slice() {
                [module, port] => Some(Port {
                    id: port_name(*module, *port),
                    alias: None,
                    state: state_of_val(&v),
                }),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_map_to_fence_cisco_mds_indexes_and_back() {
        assert_eq!(port_index("fc1/1"), Ok((22, 0)));
        assert_eq!(port_index("FC2/10"), Ok((23, 9)));
        assert_eq!(port_index("22.4"), Ok((22, 4)));
        assert_eq!(port_name(22, 0), "fc1/1");
        assert_eq!(port_name(23, 9), "fc2/10");
        assert_eq!(port_name(5, 1), "5.1");
        for bad in ["fc0/1", "fc1/0", "fc1", "eth0", "fc1/x", ""] {
            assert!(port_index(bad).is_err(), "{bad}");
        }
    }
}
