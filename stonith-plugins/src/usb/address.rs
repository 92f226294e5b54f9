//! How a user names a USB device: by location (`1-1.4`, as `lsusb -t` and sysfs show it) or
//! by `VID:PID[:SERIAL]` (hexadecimal ids, as `lsusb` shows them).

use crate::usb::error::UsbError;
use crate::usb::transport::DeviceInfo;

/// A device address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// Bus and port chain.
    Location {
        /// Bus number.
        bus: u8,
        /// Ports from the root hub.
        ports: Vec<u8>,
    },
    /// Vendor, product and optionally the serial number.
    Ids {
        /// idVendor.
        vendor: u16,
        /// idProduct.
        product: u16,
        /// iSerialNumber's string.
        serial: Option<String>,
    },
}

impl std::str::FromStr for Address {
    type Err = UsbError;

    fn from_str(s: &str) -> Result<Address, UsbError> {
        let bad = |reason: &str| UsbError::BadAddress {
            address: s.to_string(),
            reason: reason.to_string(),
        };
        let s = s.trim();
        if let Some((bus, chain)) = s.split_once('-') {
            let bus: u8 = bus.parse().map_err(|_| bad("the bus is not a number"))?;
            let ports = chain
                .split('.')
                .map(|p| p.parse::<u8>().ok().filter(|p| *p > 0))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| bad("ports are numbers from 1, separated by dots (1-1.4)"))?;
            if ports.len() > 7 {
                return Err(bad("USB allows at most 7 tiers"));
            }
            return Ok(Address::Location { bus, ports });
        }
        let mut parts = s.splitn(3, ':');
        let hex = |p: Option<&str>| {
            p.and_then(|p| u16::from_str_radix(p, 16).ok())
                .ok_or_else(|| {
                    bad("expected BUS-PORT[.PORT...] or VID:PID[:SERIAL] in hexadecimal")
                })
        };
        let vendor = hex(parts.next())?;
        let product = hex(parts.next())?;
        let serial = parts.next().map(str::to_string).filter(|s| !s.is_empty());
        Ok(Address::Ids {
            vendor,
            product,
            serial,
        })
    }
}

impl Address {
    /// Whether `device` is the one addressed.
    pub fn matches(&self, device: &DeviceInfo) -> bool {
        match self {
            Address::Location { bus, ports } => device.bus == *bus && &device.ports == ports,
            Address::Ids {
                vendor,
                product,
                serial,
            } => {
                device.vendor == *vendor
                    && device.product == *product
                    && serial
                        .as_ref()
                        .is_none_or(|s| device.serial.as_deref() == Some(s.as_str()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_ids_parse() {
        assert_eq!(
            "1-1.4".parse::<Address>(),
            Ok(Address::Location {
                bus: 1,
                ports: vec![1, 4]
            })
        );
        assert_eq!(
            "2109:2817:ABC".parse::<Address>(),
            Ok(Address::Ids {
                vendor: 0x2109,
                product: 0x2817,
                serial: Some("ABC".into())
            })
        );
        assert!("1-0".parse::<Address>().is_err());
        assert!("zz".parse::<Address>().is_err());
    }
}
