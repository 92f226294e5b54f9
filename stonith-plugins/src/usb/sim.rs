//! A simulator of the control-transfer boundary: USB 2.0 hubs (optionally with a
//! SuperSpeed companion, ganged or without power switching) and `USBRelay` boards.
//!
//! Every request is checked against the specifications before it has an effect: the hub
//! class requests of USB 2.0 chapter 11.24.2 (table 11-15: bmRequestType, bRequest, wValue,
//! wIndex, wLength of each) and the HID 1.11 feature-report requests (7.2.1, 7.2.2). A
//! request the device would STALL fails with [`UsbError::Transfer`] naming the rule. The
//! setup bytes of every transfer are logged for tests to compare with the specification.

use std::collections::BTreeMap;

use crate::usb::error::UsbError;
use crate::usb::hub;
use crate::usb::relay;
use crate::usb::transport::{ControlTransport, DeviceInfo, Setup, CLASS_HUB};

/// A simulated hub.
#[derive(Debug, Clone)]
pub struct SimHub {
    /// How it enumerates.
    pub info: DeviceInfo,
    /// wHubCharacteristics.
    pub characteristics: u16,
    /// Port power, port 1 first.
    pub power: Vec<bool>,
}

/// A simulated relay board.
#[derive(Debug, Clone)]
pub struct SimRelay {
    /// How it enumerates.
    pub info: DeviceInfo,
    /// The serial in its feature report.
    pub serial: String,
    /// Relays.
    pub relays: u8,
    /// Relay states (bit n-1 = relay n).
    pub states: u8,
}

/// One transfer as the bus saw it: setup bytes (with wLength) and the OUT data.
pub type Logged = ([u8; 8], Vec<u8>);

/// The simulated buses.
#[derive(Debug, Clone, Default)]
pub struct SimBus {
    /// Hubs by location.
    pub hubs: BTreeMap<String, SimHub>,
    /// Relay boards by location.
    pub relays: BTreeMap<String, SimRelay>,
    /// Every transfer, in order.
    pub log: Vec<Logged>,
}

fn stall(device: &DeviceInfo, setup: &Setup, rule: &str) -> UsbError {
    UsbError::Transfer {
        device: device.location(),
        request: setup.to_string(),
        detail: format!("STALL: {rule}"),
    }
}

impl SimBus {
    /// An empty bus.
    pub fn new() -> SimBus {
        SimBus::default()
    }

    /// Adds a USB 2.0 hub at `bus`/`ports` with `n` ports, all powered.
    pub fn add_hub(
        &mut self,
        bus: u8,
        ports: &[u8],
        n: u8,
        characteristics: u16,
        superspeed: bool,
    ) -> &mut SimHub {
        let info = DeviceInfo {
            bus,
            ports: ports.to_vec(),
            vendor: 0x2109,
            product: if superspeed { 0x0817 } else { 0x2817 },
            usb_version: if superspeed { 0x0300 } else { 0x0210 },
            class: CLASS_HUB,
            serial: None,
            product_name: Some("USB3.0 Hub".into()),
        };
        let loc = info.location();
        self.hubs.entry(loc).or_insert(SimHub {
            info,
            characteristics,
            power: vec![true; usize::from(n)],
        })
    }

    /// Adds a USB 3 hub: a SuperSpeed half on `ss_bus` and its USB 2.0 companion on `bus`.
    pub fn add_usb3_hub(&mut self, bus: u8, ss_bus: u8, ports: &[u8], n: u8) {
        self.add_hub(bus, ports, n, 0x0009, false);
        self.add_hub(ss_bus, ports, n, 0x0009, true);
    }

    /// Adds a `USBRelayN` board.
    pub fn add_relay(&mut self, bus: u8, ports: &[u8], serial: &str, relays: u8) {
        let info = DeviceInfo {
            bus,
            ports: ports.to_vec(),
            vendor: relay::VENDOR,
            product: relay::PRODUCT,
            usb_version: 0x0110,
            class: 0,
            serial: None,
            product_name: Some(format!("USBRelay{relays}")),
        };
        self.relays.insert(
            info.location(),
            SimRelay {
                info,
                serial: serial.to_string(),
                relays,
                states: 0,
            },
        );
    }

    /// Whether the device behind `port` of the hub at `location` has VBUS: powered by the
    /// hub or by its companion half.
    pub fn vbus(&self, location: &str, port: u8) -> bool {
        let Some(h) = self.hubs.get(location) else {
            return false;
        };
        let idx = usize::from(port.saturating_sub(1));
        let own = h.power.get(idx).copied().unwrap_or(false);
        own || self
            .hubs
            .values()
            .filter(|o| hub::is_companion(&h.info, &o.info))
            .any(|o| o.power.get(idx).copied().unwrap_or(false))
    }

    fn hub_in(h: &SimHub, setup: &Setup, length: u16) -> Result<Vec<u8>, UsbError> {
        let dev = &h.info;
        let n = u8::try_from(h.power.len()).unwrap_or(u8::MAX);
        match (setup.request_type, setup.request) {
            (hub::CLASS_DEVICE_IN, hub::GET_DESCRIPTOR) => {
                let want = if dev.is_superspeed() {
                    hub::SUPERSPEED_HUB_DESCRIPTOR
                } else {
                    hub::HUB_DESCRIPTOR
                };
                if setup.value != u16::from(want) << 8 || setup.index != 0 {
                    return Err(stall(dev, setup, "GetHubDescriptor: wValue must be the hub's descriptor type (0x29, or 0x2A for SuperSpeed) << 8, wIndex 0"));
                }
                let [c0, c1] = h.characteristics.to_le_bytes();
                let mut d = if dev.is_superspeed() {
                    vec![12, want, n, c0, c1, 50, 0, 0, 0, 0, 0, 0]
                } else {
                    vec![9, want, n, c0, c1, 50, 100, 0, 0xff]
                };
                d.truncate(usize::from(length));
                Ok(d)
            }
            (hub::CLASS_PORT_IN, hub::GET_STATUS) => {
                if setup.value != 0 || setup.index == 0 || setup.index > u16::from(n) || length != 4
                {
                    return Err(stall(
                        dev,
                        setup,
                        "GetPortStatus: wValue 0, wIndex a port 1..=bNbrPorts, wLength 4",
                    ));
                }
                let on = h.power[usize::from(setup.index - 1)];
                let bit = if dev.is_superspeed() {
                    hub::SS_PORT_STATUS_POWER
                } else {
                    hub::PORT_STATUS_POWER
                };
                let status: u16 = if on { bit | 0x0001 } else { 0 };
                let [s0, s1] = status.to_le_bytes();
                Ok(vec![s0, s1, 0, 0])
            }
            _ => Err(stall(dev, setup, "not a hub class IN request")),
        }
    }

    fn hub_out(h: &mut SimHub, setup: &Setup, data: &[u8]) -> Result<(), UsbError> {
        let dev = h.info.clone();
        let n = h.power.len();
        if setup.request_type != hub::CLASS_PORT_OUT
            || !matches!(setup.request, hub::SET_FEATURE | hub::CLEAR_FEATURE)
        {
            return Err(stall(&dev, setup, "not a port feature request"));
        }
        if setup.value != hub::PORT_POWER
            || setup.index == 0
            || usize::from(setup.index) > n
            || !data.is_empty()
        {
            return Err(stall(&dev, setup, "Set/ClearPortFeature(PORT_POWER): wValue 8, wIndex a port 1..=bNbrPorts, wLength 0"));
        }
        let on = setup.request == hub::SET_FEATURE;
        let port = usize::from(setup.index - 1);
        match h.characteristics & 0x3 {
            // Individual port power switching.
            1 => h.power[port] = on,
            // Ganged: the gang is powered while any port of it is (USB 2.0, 11.11).
            0 => {
                h.power[port] = on;
                let any = h.power.iter().any(|p| *p);
                h.power.iter_mut().for_each(|p| *p = any);
            }
            // No power switching: accepted, no effect.
            _ => {}
        }
        Ok(())
    }

    fn relay_in(r: &SimRelay, setup: &Setup, length: u16) -> Result<Vec<u8>, UsbError> {
        if *setup != relay::GET_SETUP || length != 8 {
            return Err(stall(&r.info, setup, "GET_REPORT: bmRequestType 0xA1, bRequest 0x01, wValue 0x0300 (Feature, ID 0), wIndex 0, wLength 8"));
        }
        let mut report = [0u8; 8];
        for (i, b) in r.serial.bytes().take(5).enumerate() {
            report[i] = b;
        }
        report[7] = r.states;
        Ok(report.to_vec())
    }

    fn relay_out(r: &mut SimRelay, setup: &Setup, data: &[u8]) -> Result<(), UsbError> {
        if *setup != relay::SET_SETUP || data.len() != 8 {
            return Err(stall(&r.info, setup, "SET_REPORT: bmRequestType 0x21, bRequest 0x09, wValue 0x0300 (Feature, ID 0), wIndex 0, wLength 8"));
        }
        let all = if r.relays >= 8 {
            0xff
        } else {
            (1u8 << r.relays) - 1
        };
        let bit = |n: u8| (1..=r.relays).contains(&n).then(|| 1u8 << (n - 1));
        match (data[0], data[1]) {
            (relay::CMD_ON, n) => {
                r.states |= bit(n).ok_or_else(|| stall(&r.info, setup, "no such relay"))?
            }
            (relay::CMD_OFF, n) => {
                r.states &= !bit(n).ok_or_else(|| stall(&r.info, setup, "no such relay"))?
            }
            (relay::CMD_ALL_ON, _) => r.states = all,
            (relay::CMD_ALL_OFF, _) => r.states = 0,
            _ => return Err(stall(&r.info, setup, "unknown relay command")),
        }
        Ok(())
    }
}

impl ControlTransport for SimBus {
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, UsbError> {
        Ok(self
            .hubs
            .values()
            .map(|h| h.info.clone())
            .chain(self.relays.values().map(|r| r.info.clone()))
            .collect())
    }

    fn control_in(
        &mut self,
        device: &DeviceInfo,
        setup: Setup,
        length: u16,
    ) -> Result<Vec<u8>, UsbError> {
        self.log.push((setup.to_bytes(length), Vec::new()));
        if !setup.is_in() {
            return Err(stall(
                device,
                &setup,
                "an IN transfer needs bmRequestType bit 7 set",
            ));
        }
        let loc = device.location();
        if let Some(h) = self.hubs.get(&loc) {
            return SimBus::hub_in(h, &setup, length);
        }
        if let Some(r) = self.relays.get(&loc) {
            return SimBus::relay_in(r, &setup, length);
        }
        Err(UsbError::NotFound {
            what: "device".into(),
            address: loc,
        })
    }

    fn control_out(
        &mut self,
        device: &DeviceInfo,
        setup: Setup,
        data: &[u8],
    ) -> Result<(), UsbError> {
        let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
        self.log.push((setup.to_bytes(len), data.to_vec()));
        if setup.is_in() {
            return Err(stall(
                device,
                &setup,
                "an OUT transfer needs bmRequestType bit 7 clear",
            ));
        }
        let loc = device.location();
        if let Some(h) = self.hubs.get_mut(&loc) {
            return SimBus::hub_out(h, &setup, data);
        }
        if let Some(r) = self.relays.get_mut(&loc) {
            return SimBus::relay_out(r, &setup, data);
        }
        Err(UsbError::NotFound {
            what: "device".into(),
            address: loc,
        })
    }
}

/// A [`SimBus`] shared between a device under test and the test (which inspects it).
#[derive(Debug, Clone, Default)]
pub struct SharedBus(pub std::sync::Arc<std::sync::Mutex<SimBus>>);

impl SharedBus {
    /// Wraps `bus`.
    pub fn new(bus: SimBus) -> SharedBus {
        SharedBus(std::sync::Arc::new(std::sync::Mutex::new(bus)))
    }

    /// Runs `f` on the bus.
    pub fn with<T>(&self, f: impl FnOnce(&mut SimBus) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl ControlTransport for SharedBus {
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, UsbError> {
        self.with(|b| b.devices())
    }
    fn control_in(
        &mut self,
        device: &DeviceInfo,
        setup: Setup,
        length: u16,
    ) -> Result<Vec<u8>, UsbError> {
        self.with(|b| b.control_in(device, setup, length))
    }
    fn control_out(
        &mut self,
        device: &DeviceInfo,
        setup: Setup,
        data: &[u8],
    ) -> Result<(), UsbError> {
        self.with(|b| b.control_out(device, setup, data))
    }
}
