//! Hub port power through the hub class requests (USB 2.0 specification, chapter 11.24;
//! USB 3.2, 10.16 for SuperSpeed hubs), what `uhubctl` does.
//!
//! * `GetHubDescriptor`: bmRequestType 0xA0, bRequest GET_DESCRIPTOR (6), wValue type
//!   0x29 (USB 2.0 hub) or 0x2A (SuperSpeed hub) in the high byte. bNbrPorts and
//!   wHubCharacteristics come from it: bits 1..0 are 00 ganged power switching, 01
//!   individual (per-port) power switching, 1X no power switching.
//! * `SetPortFeature(PORT_POWER)` / `ClearPortFeature(PORT_POWER)`: bmRequestType 0x23,
//!   bRequest SET_FEATURE (3) / CLEAR_FEATURE (1), wValue PORT_POWER (8), wIndex the port.
//! * `GetPortStatus`: bmRequestType 0xA3, bRequest GET_STATUS (0), wIndex the port, 4
//!   bytes: wPortStatus, wPortChange. PORT_POWER is bit 8 of wPortStatus on a USB 2.0 hub
//!   and bit 9 on a SuperSpeed hub.
//!
//! A USB 3 hub is two hubs on two buses: a SuperSpeed hub and its USB 2.0 companion, at
//! the same port chain. A port's VBUS stays on while either half powers it, so we switch
//! the port on both halves and report it off only when both say off. Hubs that do not
//! declare per-port power switching are refused: on a ganged hub clearing one port's power
//! does nothing until every port is cleared (or cuts them all), which is not fencing.

use std::time::Duration;

use crate::usb::address::Address;
use crate::usb::error::UsbError;
use crate::usb::transport::{ControlTransport, DeviceInfo, Setup};

/// bRequest GET_STATUS.
pub const GET_STATUS: u8 = 0;
/// bRequest CLEAR_FEATURE.
pub const CLEAR_FEATURE: u8 = 1;
/// bRequest SET_FEATURE.
pub const SET_FEATURE: u8 = 3;
/// bRequest GET_DESCRIPTOR.
pub const GET_DESCRIPTOR: u8 = 6;
/// Port feature selector PORT_POWER.
pub const PORT_POWER: u16 = 8;
/// Descriptor type of a USB 2.0 hub.
pub const HUB_DESCRIPTOR: u8 = 0x29;
/// Descriptor type of a SuperSpeed hub.
pub const SUPERSPEED_HUB_DESCRIPTOR: u8 = 0x2A;
/// bmRequestType: device to host, class, device.
pub const CLASS_DEVICE_IN: u8 = 0xA0;
/// bmRequestType: device to host, class, other (a port).
pub const CLASS_PORT_IN: u8 = 0xA3;
/// bmRequestType: host to device, class, other (a port).
pub const CLASS_PORT_OUT: u8 = 0x23;
/// wPortStatus PORT_POWER bit of a USB 2.0 hub.
pub const PORT_STATUS_POWER: u16 = 0x0100;
/// wPortStatus PORT_POWER bit of a SuperSpeed hub.
pub const SS_PORT_STATUS_POWER: u16 = 0x0200;

/// How a hub switches port power (wHubCharacteristics bits 1..0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerSwitching {
    /// All ports at once.
    Ganged,
    /// Each port on its own: what fencing needs.
    PerPort,
    /// Not at all (power always on).
    None,
}

/// The parts of a hub descriptor we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubDescriptor {
    /// bNbrPorts.
    pub ports: u8,
    /// wHubCharacteristics.
    pub characteristics: u16,
    /// bPwrOn2PwrGood: time from power on to power good.
    pub power_good: Duration,
}

impl HubDescriptor {
    /// The power switching mode.
    pub fn switching(&self) -> PowerSwitching {
        match self.characteristics & 0x3 {
            0 => PowerSwitching::Ganged,
            1 => PowerSwitching::PerPort,
            _ => PowerSwitching::None,
        }
    }
}

/// Parses a USB 2.0 or SuperSpeed hub descriptor.
pub fn parse_descriptor(bytes: &[u8]) -> Option<HubDescriptor> {
    match bytes {
        [len, kind, ports, c0, c1, good, ..]
            if usize::from(*len) <= bytes.len()
                && *len >= 7
                && (*kind == HUB_DESCRIPTOR || *kind == SUPERSPEED_HUB_DESCRIPTOR) =>
        {
            Some(HubDescriptor {
                ports: *ports,
                characteristics: u16::from_le_bytes([*c0, *c1]),
                power_good: Duration::from_millis(u64::from(*good) * 2),
            })
        }
        _ => None,
    }
}

/// The setup of `GetHubDescriptor` for `hub`.
pub fn get_descriptor_setup(hub: &DeviceInfo) -> Setup {
    let kind = if hub.is_superspeed() {
        SUPERSPEED_HUB_DESCRIPTOR
    } else {
        HUB_DESCRIPTOR
    };
    Setup {
        request_type: CLASS_DEVICE_IN,
        request: GET_DESCRIPTOR,
        value: u16::from(kind) << 8,
        index: 0,
    }
}

/// The setup of `Set/ClearPortFeature(PORT_POWER)` for `port`.
pub fn port_power_setup(port: u16, on: bool) -> Setup {
    Setup {
        request_type: CLASS_PORT_OUT,
        request: if on { SET_FEATURE } else { CLEAR_FEATURE },
        value: PORT_POWER,
        index: port,
    }
}

/// The setup of `GetPortStatus` for `port`.
pub fn port_status_setup(port: u16) -> Setup {
    Setup {
        request_type: CLASS_PORT_IN,
        request: GET_STATUS,
        value: 0,
        index: port,
    }
}

/// Reads `hub`'s descriptor.
pub fn descriptor(
    t: &mut dyn ControlTransport,
    hub: &DeviceInfo,
) -> Result<HubDescriptor, UsbError> {
    let bytes = t.control_in(hub, get_descriptor_setup(hub), 71)?;
    parse_descriptor(&bytes).ok_or_else(|| UsbError::Malformed {
        device: hub.location(),
        what: "hub descriptor".into(),
    })
}

/// Whether `port` of `hub` has power (wPortStatus PORT_POWER).
pub fn port_powered(
    t: &mut dyn ControlTransport,
    hub: &DeviceInfo,
    port: u16,
) -> Result<bool, UsbError> {
    let bytes = t.control_in(hub, port_status_setup(port), 4)?;
    let [s0, s1, ..] = bytes[..] else {
        return Err(UsbError::Malformed {
            device: hub.location(),
            what: "port status".into(),
        });
    };
    let status = u16::from_le_bytes([s0, s1]);
    let bit = if hub.is_superspeed() {
        SS_PORT_STATUS_POWER
    } else {
        PORT_STATUS_POWER
    };
    Ok(status & bit != 0)
}

/// Switches `port` of `hub` on or off.
pub fn set_port_power(
    t: &mut dyn ControlTransport,
    hub: &DeviceInfo,
    port: u16,
    on: bool,
) -> Result<(), UsbError> {
    t.control_out(hub, port_power_setup(port, on), &[])
}

/// The hub at `address` and its companion half (the other speed of a USB 3 hub), if any:
/// the USB 2.0 half first.
pub fn find(
    t: &mut dyn ControlTransport,
    address: &Address,
    shown: &str,
) -> Result<Vec<DeviceInfo>, UsbError> {
    let all = t.devices()?;
    let hubs: Vec<&DeviceInfo> = all.iter().filter(|d| d.is_hub()).collect();
    let matched: Vec<&DeviceInfo> = hubs
        .iter()
        .copied()
        .filter(|d| address.matches(d))
        .collect();
    // Two matches at the same port chain on different buses, one of each speed, are the two
    // halves of one USB 3 hub; anything else that matches twice is ambiguous.
    let mut groups: Vec<Vec<DeviceInfo>> = Vec::new();
    for m in matched {
        match groups.iter_mut().find(|g| is_companion(&g[0], m)) {
            Some(g) => g.push(m.clone()),
            None => groups.push(vec![m.clone()]),
        }
    }
    let mut group = match groups.len() {
        0 => {
            return Err(UsbError::NotFound {
                what: "hub".into(),
                address: shown.to_string(),
            })
        }
        1 => groups.remove(0),
        n => {
            return Err(UsbError::Ambiguous {
                address: shown.to_string(),
                count: n,
            })
        }
    };
    if group.len() == 1 {
        if let Some(c) = hubs.iter().find(|h| is_companion(&group[0], h)) {
            group.push((*c).clone());
        }
    }
    group.sort_by_key(DeviceInfo::is_superspeed);
    Ok(group)
}

/// Whether `a` and `b` are the two halves of one USB 3 hub.
pub fn is_companion(a: &DeviceInfo, b: &DeviceInfo) -> bool {
    a.bus != b.bus
        && a.ports == b.ports
        && a.vendor == b.vendor
        && a.is_superspeed() != b.is_superspeed()
}
