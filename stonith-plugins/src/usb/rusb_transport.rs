//! [`ControlTransport`] on libusb (the `rusb` crate): the real hardware.
//!
//! A device is opened for each transfer and closed after it: fencing does a handful of
//! transfers, and a device re-enumerated in between (a hub whose upstream port was cycled)
//! is found again by its location. Interface-recipient requests (HID feature reports)
//! detach the kernel's usbhid driver from interface 0 for the transfer and give it back
//! afterwards.

use std::time::Duration;

use rusb::UsbContext;

use crate::usb::error::UsbError;
use crate::usb::transport::{ControlTransport, DeviceInfo, Setup};

/// How long one control transfer may take.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// libusb's view of the machine's buses.
pub struct RusbTransport {
    context: rusb::Context,
}

impl std::fmt::Debug for RusbTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RusbTransport").finish_non_exhaustive()
    }
}

fn err(device: &str, request: &str, e: rusb::Error) -> UsbError {
    UsbError::Transfer {
        device: device.to_string(),
        request: request.to_string(),
        detail: e.to_string(),
    }
}

impl RusbTransport {
    /// Initialises libusb.
    pub fn new() -> Result<RusbTransport, UsbError> {
        let context = rusb::Context::new().map_err(|e| UsbError::NoUsb {
            detail: format!("libusb initialisation failed: {e}"),
        })?;
        Ok(RusbTransport { context })
    }

    fn open(&self, info: &DeviceInfo) -> Result<rusb::DeviceHandle<rusb::Context>, UsbError> {
        let list = self
            .context
            .devices()
            .map_err(|e| err(&info.location(), "list devices", e))?;
        let device = list
            .iter()
            .find(|d| {
                d.bus_number() == info.bus && d.port_numbers().ok().as_ref() == Some(&info.ports)
            })
            .ok_or_else(|| UsbError::NotFound {
                what: "device".into(),
                address: info.location(),
            })?;
        device.open().map_err(|e| err(&info.location(), "open", e))
    }

    fn with_interface<T>(
        &self,
        info: &DeviceInfo,
        setup: &Setup,
        f: impl FnOnce(&rusb::DeviceHandle<rusb::Context>) -> Result<T, rusb::Error>,
    ) -> Result<T, UsbError> {
        let handle = self.open(info)?;
        let claim = setup.recipient() == 1;
        let iface = u8::try_from(setup.index & 0xff).unwrap_or(0);
        if claim {
            // Not every platform supports detaching; claiming then tells.
            let _ = handle.set_auto_detach_kernel_driver(true);
            handle
                .claim_interface(iface)
                .map_err(|e| err(&info.location(), "claim interface", e))?;
        }
        let result = f(&handle).map_err(|e| err(&info.location(), &setup.to_string(), e));
        if claim {
            let _ = handle.release_interface(iface);
        }
        result
    }
}

impl ControlTransport for RusbTransport {
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, UsbError> {
        let list = self
            .context
            .devices()
            .map_err(|e| err("-", "list devices", e))?;
        let mut out = Vec::new();
        for d in list.iter() {
            let Ok(desc) = d.device_descriptor() else {
                continue;
            };
            let v = desc.usb_version();
            let usb_version = (u16::from(v.major()) << 8)
                | (u16::from(v.minor()) << 4)
                | u16::from(v.sub_minor());
            let (serial, product_name) = match d.open() {
                Ok(h) => (
                    h.read_serial_number_string_ascii(&desc).ok(),
                    h.read_product_string_ascii(&desc).ok(),
                ),
                Err(_) => (None, None),
            };
            out.push(DeviceInfo {
                bus: d.bus_number(),
                ports: d.port_numbers().unwrap_or_default(),
                vendor: desc.vendor_id(),
                product: desc.product_id(),
                usb_version,
                class: desc.class_code(),
                serial,
                product_name,
            });
        }
        Ok(out)
    }

    fn control_in(
        &mut self,
        device: &DeviceInfo,
        setup: Setup,
        length: u16,
    ) -> Result<Vec<u8>, UsbError> {
        self.with_interface(device, &setup, |h| {
            let mut buf = vec![0u8; usize::from(length)];
            let n = h.read_control(
                setup.request_type,
                setup.request,
                setup.value,
                setup.index,
                &mut buf,
                TIMEOUT,
            )?;
            buf.truncate(n);
            Ok(buf)
        })
    }

    fn control_out(
        &mut self,
        device: &DeviceInfo,
        setup: Setup,
        data: &[u8],
    ) -> Result<(), UsbError> {
        self.with_interface(device, &setup, |h| {
            h.write_control(
                setup.request_type,
                setup.request,
                setup.value,
                setup.index,
                data,
                TIMEOUT,
            )
            .map(|_| ())
        })
    }
}
