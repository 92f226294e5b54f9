//! The lowest boundary of USB power control: list the devices, do one control transfer.
//!
//! Everything USB-specific above this trait (address matching, descriptor parsing, the
//! hub and relay rules) is shared by the real transport ([`crate::usb::rusb_transport`])
//! and the simulator ([`crate::usb::sim`]), so the simulator tests exactly the code that
//! runs on hardware, down to the bytes of every setup packet.

use std::fmt;

use crate::usb::error::UsbError;

/// One USB device as the bus lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Bus number.
    pub bus: u8,
    /// Port chain from the root hub (`[1, 4]` is `1-1.4` on bus 1); empty for a root hub.
    pub ports: Vec<u8>,
    /// idVendor.
    pub vendor: u16,
    /// idProduct.
    pub product: u16,
    /// bcdUSB (0x0200 for USB 2.0, 0x0300 and up for USB 3).
    pub usb_version: u16,
    /// bDeviceClass (9 for a hub).
    pub class: u8,
    /// iSerialNumber's string, if the device has one.
    pub serial: Option<String>,
    /// iProduct's string, if the device has one.
    pub product_name: Option<String>,
}

/// The class code of a hub.
pub const CLASS_HUB: u8 = 9;

impl DeviceInfo {
    /// The location in `lsusb -t` / sysfs form: `BUS-PORT.PORT...` (`1-1.4`).
    pub fn location(&self) -> String {
        let ports: Vec<String> = self.ports.iter().map(u8::to_string).collect();
        format!(
            "{}-{}",
            self.bus,
            if ports.is_empty() {
                "0".into()
            } else {
                ports.join(".")
            }
        )
    }

    /// Whether it is a hub.
    pub fn is_hub(&self) -> bool {
        self.class == CLASS_HUB
    }

    /// Whether it is a USB 3 (SuperSpeed) device.
    pub fn is_superspeed(&self) -> bool {
        self.usb_version >= 0x0300
    }
}

/// A control transfer's setup packet (USB 2.0, 9.3), less wLength (the buffer gives it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    /// bmRequestType: direction, type, recipient.
    pub request_type: u8,
    /// bRequest.
    pub request: u8,
    /// wValue.
    pub value: u16,
    /// wIndex.
    pub index: u16,
}

impl Setup {
    /// The eight setup bytes on the wire, with wLength `length` (all fields little-endian).
    pub fn to_bytes(&self, length: u16) -> [u8; 8] {
        let [v0, v1] = self.value.to_le_bytes();
        let [i0, i1] = self.index.to_le_bytes();
        let [l0, l1] = length.to_le_bytes();
        [self.request_type, self.request, v0, v1, i0, i1, l0, l1]
    }

    /// Whether data flows device to host.
    pub fn is_in(&self) -> bool {
        self.request_type & 0x80 != 0
    }

    /// The recipient bits (0 device, 1 interface, 2 endpoint, 3 other).
    pub fn recipient(&self) -> u8 {
        self.request_type & 0x1f
    }
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bmRequestType={:#04x} bRequest={:#04x} wValue={:#06x} wIndex={:#06x}",
            self.request_type, self.request, self.value, self.index
        )
    }
}

/// Control transfers to the devices of the machine's USB buses.
pub trait ControlTransport: Send {
    /// Every device on every bus.
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, UsbError>;

    /// A control-IN transfer of up to `length` bytes.
    fn control_in(
        &mut self,
        device: &DeviceInfo,
        setup: Setup,
        length: u16,
    ) -> Result<Vec<u8>, UsbError>;

    /// A control-OUT transfer with `data`.
    fn control_out(
        &mut self,
        device: &DeviceInfo,
        setup: Setup,
        data: &[u8],
    ) -> Result<(), UsbError>;
}
