//! HID relay boards of the common `USBRelay` kind (V-USB firmware, idVendor 0x16C0,
//! idProduct 0x05DF, product string `USBRelayN` with N relays).
//!
//! Both directions are HID feature reports over the control endpoint (HID 1.11, 7.2):
//! `GET_REPORT` (bmRequestType 0xA1, bRequest 0x01) and `SET_REPORT` (0x21, 0x09), wValue
//! 0x0300 (report type Feature = 3, report ID 0), wIndex the interface (0), 8 bytes.
//! The report read holds the board's serial in bytes 0..5 (ASCII, the USB descriptor has
//! none) and the relay states in byte 7 (bit n-1 = relay n closed). Commands written:
//! `FF n` closes relay n, `FD n` opens it, `FE` closes all, `FC` opens all. Every switch
//! is confirmed by reading the state byte back.

use crate::usb::address::Address;
use crate::usb::error::UsbError;
use crate::usb::transport::{ControlTransport, DeviceInfo, Setup};

/// idVendor of the boards (V-USB's shared id).
pub const VENDOR: u16 = 0x16c0;
/// idProduct of the boards.
pub const PRODUCT: u16 = 0x05df;
/// bRequest GET_REPORT.
pub const GET_REPORT: u8 = 0x01;
/// bRequest SET_REPORT.
pub const SET_REPORT: u8 = 0x09;
/// wValue: report type Feature (3), report ID 0.
pub const FEATURE_REPORT_0: u16 = 0x0300;
/// bmRequestType: device to host, class, interface.
pub const CLASS_INTERFACE_IN: u8 = 0xA1;
/// bmRequestType: host to device, class, interface.
pub const CLASS_INTERFACE_OUT: u8 = 0x21;
/// Command: close (switch on) one relay.
pub const CMD_ON: u8 = 0xFF;
/// Command: open (switch off) one relay.
pub const CMD_OFF: u8 = 0xFD;
/// Command: close all relays.
pub const CMD_ALL_ON: u8 = 0xFE;
/// Command: open all relays.
pub const CMD_ALL_OFF: u8 = 0xFC;

/// The setup of the feature-report read.
pub const GET_SETUP: Setup = Setup {
    request_type: CLASS_INTERFACE_IN,
    request: GET_REPORT,
    value: FEATURE_REPORT_0,
    index: 0,
};

/// The setup of the feature-report write.
pub const SET_SETUP: Setup = Setup {
    request_type: CLASS_INTERFACE_OUT,
    request: SET_REPORT,
    value: FEATURE_REPORT_0,
    index: 0,
};

/// What the board reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Its serial (up to 5 characters).
    pub serial: String,
    /// Relay states, bit n-1 = relay n.
    pub states: u8,
}

/// Parses the 8-byte feature report.
pub fn parse_report(bytes: &[u8]) -> Option<Report> {
    if bytes.len() < 8 {
        return None;
    }
    let serial: String = bytes[..5]
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| char::from(*b))
        .collect();
    Some(Report {
        serial,
        states: bytes[7],
    })
}

/// The 8-byte command report.
pub fn command(cmd: u8, relay: u8) -> [u8; 8] {
    [cmd, relay, 0, 0, 0, 0, 0, 0]
}

/// The relay count from the product string (`USBRelay4` → 4).
pub fn relay_count(device: &DeviceInfo) -> Option<u8> {
    device
        .product_name
        .as_deref()?
        .strip_prefix("USBRelay")?
        .parse()
        .ok()
        .filter(|n| (1..=8).contains(n))
}

/// Reads a board's report.
pub fn read(t: &mut dyn ControlTransport, board: &DeviceInfo) -> Result<Report, UsbError> {
    let bytes = t.control_in(board, GET_SETUP, 8)?;
    parse_report(&bytes).ok_or_else(|| UsbError::Malformed {
        device: board.location(),
        what: "relay feature report".into(),
    })
}

/// Writes a command.
pub fn write(
    t: &mut dyn ControlTransport,
    board: &DeviceInfo,
    cmd: u8,
    relay: u8,
) -> Result<(), UsbError> {
    t.control_out(board, SET_SETUP, &command(cmd, relay))
}

/// The board whose report serial is `serial` (or at a location, `1-2`).
pub fn find(t: &mut dyn ControlTransport, serial: &str) -> Result<DeviceInfo, UsbError> {
    let location = serial
        .parse::<Address>()
        .ok()
        .filter(|a| matches!(a, Address::Location { .. }));
    let boards: Vec<DeviceInfo> = t
        .devices()?
        .into_iter()
        .filter(|d| d.vendor == VENDOR && d.product == PRODUCT)
        .collect();
    let mut found = Vec::new();
    for b in boards {
        let hit = match &location {
            Some(a) => a.matches(&b),
            None => read(t, &b).map(|r| r.serial == serial).unwrap_or(false),
        };
        if hit {
            found.push(b);
        }
    }
    match found.len() {
        0 => Err(UsbError::NotFound {
            what: "USBRelay board".into(),
            address: serial.to_string(),
        }),
        1 => Ok(found.remove(0)),
        n => Err(UsbError::Ambiguous {
            address: serial.to_string(),
            count: n,
        }),
    }
}
