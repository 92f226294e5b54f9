//! The USB fence plugins: `usbhub` (agent `fence_qd_usbhub`: the power of one hub port)
//! and `usbrelay` (agent `fence_qd_usbrelay`: one relay of a `USBRelay` HID board). Both
//! run on any [`ControlTransport`]; the agents use libusb ([`RusbTransport`]).

use crate::device::{Action, FenceDevice, Port, PowerCommand, PowerState};
use crate::error::{FenceError, ParamError};
use crate::params::{required_plug, with_default, ParamSpec, ParamType, Params};
use crate::registry::Plugin;
use crate::usb::address::Address;
use crate::usb::error::UsbError;
use crate::usb::rusb_transport::RusbTransport;
use crate::usb::transport::{ControlTransport, DeviceInfo};
use crate::usb::{hub, relay};

/// The common parameters without address and login (shared with the serial plugins).
fn usb_common() -> Vec<ParamSpec> {
    crate::serial::common_params()
}

const HUB_LONGDESC: &str = "fence_qd_usbhub cuts the power of one port of a USB hub (a lab \
board powered from it) with the hub class requests Set/ClearPortFeature(PORT_POWER), \
confirmed by GetPortStatus. hub is the hub's location (1-1.4, as lsusb -t shows) or \
VID:PID[:SERIAL]; plug is the port number. Hubs that do not declare per-port power \
switching are refused; on a USB 3 hub both halves (SuperSpeed and its USB 2.0 companion) \
are switched, so the port really loses VBUS.";

const RELAY_LONGDESC: &str = "fence_qd_usbrelay switches one relay of a USBRelay HID relay \
board (16c0:05df, product USBRelayN) through HID feature reports, confirmed by reading the \
relay states back. relay_serial is the board's serial as its report gives it (or its \
location, 1-2); plug is the relay number.";

/// The `usbhub` plugin.
pub fn hub_plugin() -> Plugin {
    let mut params = vec![ParamSpec::new(
        "hub",
        ParamType::String,
        "The hub: location (1-1.4) or VID:PID[:SERIAL] in hexadecimal",
    )
    .required()];
    params.extend(usb_common());
    let params = with_default(params, "stonith_status_sleep", "0.1");
    Plugin {
        fabric: false,
        name: "usbhub",
        agent: "fence_qd_usbhub",
        shortdesc: "Fence agent for USB hub port power (per-port power switching)",
        longdesc: HUB_LONGDESC,
        vendor_url: "https://www.usb.org",
        params,
        actions: Action::OUTLET_SWITCH.to_vec(),
        build: |p| {
            let t = RusbTransport::new()?;
            Ok(Box::new(UsbHub::new(Box::new(t), p)?))
        },
    }
}

/// The `usbrelay` plugin.
pub fn relay_plugin() -> Plugin {
    let mut params = vec![ParamSpec::new(
        "relay_serial",
        ParamType::String,
        "The board: its serial (from its feature report) or its location (1-2)",
    )
    .required()];
    params.extend(usb_common());
    let params = with_default(params, "stonith_status_sleep", "0.05");
    Plugin {
        fabric: false,
        name: "usbrelay",
        agent: "fence_qd_usbrelay",
        shortdesc: "Fence agent for USBRelay HID relay boards",
        longdesc: RELAY_LONGDESC,
        vendor_url: "https://www.usb.org",
        params,
        actions: Action::OUTLET_SWITCH.to_vec(),
        build: |p| {
            let t = RusbTransport::new()?;
            Ok(Box::new(UsbRelay::new(Box::new(t), p)?))
        },
    }
}

fn required<'a>(p: &'a Params, name: &str) -> Result<&'a str, ParamError> {
    p.get(name)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ParamError::Missing { name: name.into() })
}

/// One port of a hub (both halves of a USB 3 hub).
pub struct UsbHub {
    transport: Box<dyn ControlTransport>,
    address: Address,
    shown: String,
    halves: Option<(Vec<DeviceInfo>, u8)>,
}

impl std::fmt::Debug for UsbHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsbHub")
            .field("hub", &self.shown)
            .finish_non_exhaustive()
    }
}

impl UsbHub {
    /// A hub port device on `transport` from validated parameters (`hub`).
    pub fn new(transport: Box<dyn ControlTransport>, p: &Params) -> Result<UsbHub, FenceError> {
        let shown = required(p, "hub")?.to_string();
        let address: Address = shown.parse()?;
        if let Some(plug) = p.get("plug").filter(|s| !s.is_empty()) {
            port_number(plug)?;
        }
        Ok(UsbHub {
            transport,
            address,
            shown,
            halves: None,
        })
    }

    /// Finds the hub (and companion), checks per-port power switching, returns the halves
    /// and bNbrPorts.
    fn halves(&mut self) -> Result<(Vec<DeviceInfo>, u8), FenceError> {
        if let Some(h) = &self.halves {
            return Ok(h.clone());
        }
        let halves = hub::find(self.transport.as_mut(), &self.address, &self.shown)?;
        let mut ports = u8::MAX;
        for h in &halves {
            let d = hub::descriptor(self.transport.as_mut(), h)?;
            if d.switching() != hub::PowerSwitching::PerPort {
                return Err(UsbError::NoPerPortPower {
                    hub: h.location(),
                    characteristics: d.characteristics,
                }
                .into());
            }
            ports = ports.min(d.ports);
        }
        self.halves = Some((halves.clone(), ports));
        Ok((halves, ports))
    }

    fn port(&mut self, plug: Option<&str>) -> Result<(Vec<DeviceInfo>, u16), FenceError> {
        let plug = required_plug(plug)?;
        let port = port_number(plug)?;
        let (halves, ports) = self.halves()?;
        if port == 0 || port > u16::from(ports) {
            return Err(FenceError::PortUnknown {
                plug: plug.to_string(),
            });
        }
        Ok((halves, port))
    }
}

fn port_number(plug: &str) -> Result<u16, FenceError> {
    plug.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| (1..=255).contains(p))
        .ok_or_else(|| FenceError::PortUnknown {
            plug: plug.to_string(),
        })
}

impl FenceDevice for UsbHub {
    fn plugin(&self) -> &'static str {
        "usbhub"
    }

    fn status(&mut self, plug: Option<&str>) -> Result<PowerState, FenceError> {
        let (halves, port) = self.port(plug)?;
        let mut on = false;
        for h in &halves {
            on |= hub::port_powered(self.transport.as_mut(), h, port)?;
        }
        Ok(if on { PowerState::On } else { PowerState::Off })
    }

    fn power(&mut self, plug: Option<&str>, command: PowerCommand) -> Result<(), FenceError> {
        let (halves, port) = self.port(plug)?;
        let on = match command {
            PowerCommand::On => true,
            PowerCommand::Off => false,
            other => {
                return Err(FenceError::Unsupported {
                    action: other.to_string(),
                })
            }
        };
        for h in &halves {
            hub::set_port_power(self.transport.as_mut(), h, port, on)?;
        }
        Ok(())
    }

    fn list(&mut self) -> Result<Vec<Port>, FenceError> {
        let (halves, ports) = self.halves()?;
        let mut out = Vec::new();
        for port in 1..=u16::from(ports) {
            let mut on = false;
            for h in &halves {
                on |= hub::port_powered(self.transport.as_mut(), h, port)?;
            }
            out.push(Port {
                id: port.to_string(),
                alias: None,
                state: Some(if on { PowerState::On } else { PowerState::Off }),
            });
        }
        Ok(out)
    }

    fn is_multi_port(&self) -> bool {
        true
    }
}

/// One relay of a `USBRelay` board.
pub struct UsbRelay {
    transport: Box<dyn ControlTransport>,
    serial: String,
    board: Option<(DeviceInfo, u8)>,
}

impl std::fmt::Debug for UsbRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsbRelay")
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl UsbRelay {
    /// A relay device on `transport` from validated parameters (`relay_serial`).
    pub fn new(transport: Box<dyn ControlTransport>, p: &Params) -> Result<UsbRelay, FenceError> {
        let serial = required(p, "relay_serial")?.to_string();
        if let Some(plug) = p.get("plug").filter(|s| !s.is_empty()) {
            relay_number(plug, 8)?;
        }
        Ok(UsbRelay {
            transport,
            serial,
            board: None,
        })
    }

    fn board(&mut self) -> Result<(DeviceInfo, u8), FenceError> {
        if let Some(b) = &self.board {
            return Ok(b.clone());
        }
        let board = relay::find(self.transport.as_mut(), &self.serial)?;
        let n = relay::relay_count(&board).unwrap_or(2);
        self.board = Some((board.clone(), n));
        Ok((board, n))
    }

    fn relay(&mut self, plug: Option<&str>) -> Result<(DeviceInfo, u8), FenceError> {
        let plug = required_plug(plug)?;
        let (board, n) = self.board()?;
        Ok((board, relay_number(plug, n)?))
    }
}

fn relay_number(plug: &str, count: u8) -> Result<u8, FenceError> {
    plug.trim()
        .parse::<u8>()
        .ok()
        .filter(|r| (1..=count).contains(r))
        .ok_or_else(|| FenceError::PortUnknown {
            plug: plug.to_string(),
        })
}

impl FenceDevice for UsbRelay {
    fn plugin(&self) -> &'static str {
        "usbrelay"
    }

    fn status(&mut self, plug: Option<&str>) -> Result<PowerState, FenceError> {
        let (board, r) = self.relay(plug)?;
        let report = relay::read(self.transport.as_mut(), &board)?;
        Ok(if report.states & (1 << (r - 1)) != 0 {
            PowerState::On
        } else {
            PowerState::Off
        })
    }

    fn power(&mut self, plug: Option<&str>, command: PowerCommand) -> Result<(), FenceError> {
        let (board, r) = self.relay(plug)?;
        let cmd = match command {
            PowerCommand::On => relay::CMD_ON,
            PowerCommand::Off => relay::CMD_OFF,
            other => {
                return Err(FenceError::Unsupported {
                    action: other.to_string(),
                })
            }
        };
        relay::write(self.transport.as_mut(), &board, cmd, r)?;
        Ok(())
    }

    fn list(&mut self) -> Result<Vec<Port>, FenceError> {
        let (board, n) = self.board()?;
        let report = relay::read(self.transport.as_mut(), &board)?;
        Ok((1..=n)
            .map(|r| Port {
                id: r.to_string(),
                alias: None,
                state: Some(if report.states & (1 << (r - 1)) != 0 {
                    PowerState::On
                } else {
                    PowerState::Off
                }),
            })
            .collect())
    }

    fn is_multi_port(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confirm::{perform, Clock, Timing};
    use crate::device::Outcome;
    use crate::usb::sim::{SharedBus, SimBus};
    use std::time::Duration;

    struct FakeClock(Duration);
    impl Clock for FakeClock {
        fn now(&self) -> Duration {
            self.0
        }
        fn sleep(&mut self, d: Duration) {
            self.0 += d;
        }
    }

    fn act(dev: &mut dyn FenceDevice, action: Action, plug: &str) -> Result<Outcome, FenceError> {
        let timing = Timing {
            status_interval: Duration::from_millis(100),
            ..Timing::default()
        };
        perform(
            dev,
            action,
            Some(plug),
            &timing,
            &mut FakeClock(Duration::ZERO),
        )
    }

    fn hub_dev(bus: &SharedBus, hub: &str) -> Result<UsbHub, FenceError> {
        let (p, _) = hub_plugin().params(&[("hub", hub)]).expect("params");
        UsbHub::new(Box::new(bus.clone()), &p)
    }

    #[test]
    fn a_hub_port_is_switched_with_the_chapter_11_requests() {
        let mut b = SimBus::new();
        b.add_hub(1, &[1], 4, 0x0009, false);
        let bus = SharedBus::new(b);
        let mut dev = hub_dev(&bus, "1-1").expect("device");
        assert_eq!(act(&mut dev, Action::Off, "2"), Ok(Outcome::PoweredOff));
        assert!(!bus.with(|b| b.vbus("1-1", 2)));
        assert!(bus.with(|b| b.vbus("1-1", 1)), "another port lost power");
        let log = bus.with(|b| b.log.clone());
        // GetHubDescriptor (type 0x29), GetPortStatus(2), ClearPortFeature(PORT_POWER, 2).
        assert_eq!(log[0].0, [0xA0, 0x06, 0x00, 0x29, 0x00, 0x00, 71, 0x00]);
        assert_eq!(log[1].0, [0xA3, 0x00, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00]);
        assert_eq!(log[2].0, [0x23, 0x01, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00]);
        assert!(log[2].1.is_empty());
        assert_eq!(
            act(&mut dev, Action::Status, "2"),
            Ok(Outcome::Status(PowerState::Off))
        );
        assert_eq!(act(&mut dev, Action::On, "2"), Ok(Outcome::PoweredOn));
        let log = bus.with(|b| b.log.clone());
        assert!(log
            .iter()
            .any(|l| l.0 == [0x23, 0x03, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00]));
        assert!(bus.with(|b| b.vbus("1-1", 2)));
        assert_eq!(act(&mut dev, Action::Reboot, "2"), Ok(Outcome::Rebooted));
    }

    #[test]
    fn hubs_without_per_port_power_switching_are_refused() {
        for characteristics in [0x0000u16, 0x0002, 0x0003] {
            let mut b = SimBus::new();
            b.add_hub(1, &[3], 4, characteristics, false);
            let bus = SharedBus::new(b);
            let mut dev = hub_dev(&bus, "1-3").expect("device");
            let err = act(&mut dev, Action::Off, "1").expect_err("refused");
            assert_eq!(
                err,
                FenceError::Usb(UsbError::NoPerPortPower {
                    hub: "1-3".into(),
                    characteristics
                })
            );
            // Nothing but the descriptor was asked for.
            assert!(bus.with(|b| b.log.iter().all(|l| l.0[0] == 0xA0)));
        }
    }

    #[test]
    fn a_usb3_hub_is_switched_on_both_halves_so_the_port_loses_vbus() {
        let mut b = SimBus::new();
        b.add_usb3_hub(1, 2, &[1], 4);
        let bus = SharedBus::new(b);
        // Addressed by its USB 2.0 location or by the SuperSpeed one, or by ids.
        for hub in ["1-1", "2-1", "2109:0817"] {
            let mut dev = hub_dev(&bus, hub).expect("device");
            assert_eq!(
                act(&mut dev, Action::Off, "3"),
                Ok(Outcome::PoweredOff),
                "{hub}"
            );
            assert!(!bus.with(|b| b.vbus("1-1", 3)), "{hub}: VBUS still on");
            assert_eq!(act(&mut dev, Action::On, "3"), Ok(Outcome::PoweredOn));
            assert!(bus.with(|b| b.vbus("1-1", 3)));
        }
        // The SuperSpeed half asks for its own descriptor type and reads bit 9.
        let log = bus.with(|b| b.log.clone());
        assert!(log.iter().any(|l| l.0[..4] == [0xA0, 0x06, 0x00, 0x2A]));
        // Switching one half alone leaves VBUS on: why both are switched.
        bus.with(|b| {
            if let Some(h) = b.hubs.get_mut("2-1") {
                h.power[0] = false;
            }
            assert!(b.vbus("1-1", 1));
        });
    }

    #[test]
    fn unknown_hubs_ports_and_ambiguous_ids_are_clear_errors() {
        let mut b = SimBus::new();
        b.add_hub(1, &[1], 4, 0x0009, false);
        b.add_hub(3, &[2], 4, 0x0009, false);
        let bus = SharedBus::new(b);
        let mut dev = hub_dev(&bus, "1-9").expect("device");
        assert!(matches!(
            act(&mut dev, Action::Status, "1"),
            Err(FenceError::Usb(UsbError::NotFound { .. }))
        ));
        let mut dev = hub_dev(&bus, "2109:2817").expect("device");
        assert!(matches!(
            act(&mut dev, Action::Status, "1"),
            Err(FenceError::Usb(UsbError::Ambiguous { count: 2, .. }))
        ));
        let mut dev = hub_dev(&bus, "1-1").expect("device");
        assert_eq!(
            act(&mut dev, Action::Off, "5"),
            Err(FenceError::PortUnknown { plug: "5".into() })
        );
        assert!(hub_dev(&bus, "nonsense").is_err());
    }

    #[test]
    fn a_relay_board_is_switched_with_feature_reports_and_read_back() {
        let mut b = SimBus::new();
        b.add_relay(1, &[2], "QAAMZ", 2);
        b.add_relay(1, &[3], "OTHER", 8);
        let bus = SharedBus::new(b);
        let (p, _) = relay_plugin()
            .params(&[("relay_serial", "QAAMZ")])
            .expect("params");
        let mut dev = UsbRelay::new(Box::new(bus.clone()), &p).expect("device");
        assert_eq!(
            act(&mut dev, Action::Status, "2"),
            Ok(Outcome::Status(PowerState::Off))
        );
        assert_eq!(act(&mut dev, Action::On, "2"), Ok(Outcome::PoweredOn));
        assert_eq!(bus.with(|b| b.relays["1-2"].states), 0b10);
        assert_eq!(
            bus.with(|b| b.relays["1-3"].states),
            0,
            "the other board switched"
        );
        let log = bus.with(|b| b.log.clone());
        let set = log.iter().find(|l| l.0[0] == 0x21).expect("SET_REPORT");
        assert_eq!(set.0, [0x21, 0x09, 0x00, 0x03, 0x00, 0x00, 0x08, 0x00]);
        assert_eq!(set.1, vec![0xFF, 0x02, 0, 0, 0, 0, 0, 0]);
        assert!(log
            .iter()
            .any(|l| l.0 == [0xA1, 0x01, 0x00, 0x03, 0x00, 0x00, 0x08, 0x00]));
        assert_eq!(act(&mut dev, Action::Off, "2"), Ok(Outcome::PoweredOff));
        assert!(bus.with(|b| b
            .log
            .iter()
            .any(|l| l.1 == vec![0xFD, 0x02, 0, 0, 0, 0, 0, 0])));
        assert_eq!(
            act(&mut dev, Action::Off, "3"),
            Err(FenceError::PortUnknown { plug: "3".into() })
        );
        let (p, _) = relay_plugin()
            .params(&[("relay_serial", "NOPE1")])
            .expect("params");
        let mut dev = UsbRelay::new(Box::new(bus.clone()), &p).expect("device");
        assert!(matches!(
            act(&mut dev, Action::Status, "1"),
            Err(FenceError::Usb(UsbError::NotFound { .. }))
        ));
    }

    #[test]
    fn the_simulator_stalls_requests_the_specifications_forbid() {
        use crate::usb::transport::Setup;
        let mut b = SimBus::new();
        b.add_hub(1, &[1], 4, 0x0009, false);
        let hub = b.hubs["1-1"].info.clone();
        // Port 0 does not exist; a wrong feature selector; a USB 3 descriptor type from a
        // USB 2.0 hub.
        assert!(b
            .control_out(&hub, hub::port_power_setup(0, false), &[])
            .is_err());
        let wrong = Setup {
            value: 4,
            ..hub::port_power_setup(1, false)
        };
        assert!(b.control_out(&hub, wrong, &[]).is_err());
        let ss = Setup {
            value: 0x2A00,
            ..hub::get_descriptor_setup(&hub)
        };
        assert!(b.control_in(&hub, ss, 71).is_err());
    }
}
