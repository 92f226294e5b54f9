//! SNMP for the switch plugins: fence-agents' SNMP parameters ([`settings`]), an agent
//! session over the `snmp2` crate with retransmission and errors naming the fix
//! ([`client`]), a node's list of ports ([`plug`]) and the device that fences every one of
//! them on its own switch ([`switch::SwitchPorts`], generic over the MIB).
//!
//! No net-snmp tool is run: fence_ifmib forks `snmpget`/`snmpset`/`snmpwalk` for every
//! step and passes the community on their command line.

pub mod client;
pub mod plug;
pub mod settings;
pub mod switch;

use crate::params::{ParamSpec, ParamType, COMMON};

/// The parameters every SNMP switch plugin takes: its own first, then [`settings::SNMP_PARAMS`],
/// then the common ones without `method` (no reboot), with `off` as the default action,
/// port 161 and a short status poll (admin status reads back at once).
pub fn switch_params(own: &[ParamSpec]) -> Vec<ParamSpec> {
    let mut params: Vec<ParamSpec> = own.to_vec();
    params.extend(settings::SNMP_PARAMS.iter().copied());
    params.push(
        ParamSpec::new(
            "plug_separator",
            ParamType::String,
            "Separator for plug parameter when specifying more than 1 plug",
        )
        .default(","),
    );
    params.extend(COMMON.iter().filter(|s| s.name != "method").copied());
    let params = crate::params::with_default(params, "ipport", "161");
    let params = crate::params::with_default(params, "action", "off");
    let mut params = crate::params::with_default(params, "stonith_status_sleep", "0.05");
    for p in params.iter_mut() {
        match p.name {
            // Not plug: list and monitor need none (the device asks for it otherwise).
            "ip" => p.required = true,
            "username" => p.shortdesc = "Login name (SNMPv3 user)",
            "password" => {
                p.shortdesc = "Login password or passphrase (SNMPv3 authentication passphrase)"
            }
            _ => {}
        }
    }
    params
}
