//! Typed errors of USB power control.

/// A USB hub or relay board failed. Every variant names the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsbError {
    /// No device matches the address. Fix: check it with `lsusb -t` (location) or
    /// `lsusb -v` (vendor, product, serial).
    #[error("no USB {what} matches {address} (check with lsusb -t / lsusb -v)")]
    NotFound {
        /// Hub or relay board.
        what: String,
        /// The address as given.
        address: String,
    },
    /// Several devices match and the address does not say which. Fix: address it by
    /// location (`1-1.4`) or add the serial number.
    #[error("{count} USB devices match {address}: address one by location or serial")]
    Ambiguous {
        /// The address as given.
        address: String,
        /// How many matched.
        count: usize,
    },
    /// The hub does not switch port power per port (wHubCharacteristics bits 1..0 are not
    /// 01), so clearing PORT_POWER would do nothing, or cut every port. Fix: use a hub that
    /// declares per-port power switching.
    #[error("hub {hub} does not switch power per port (wHubCharacteristics {characteristics:#06x}); use a hub with per-port power switching")]
    NoPerPortPower {
        /// The hub's location.
        hub: String,
        /// Its wHubCharacteristics.
        characteristics: u16,
    },
    /// The port number is not on the hub. Fix: ports are 1 to bNbrPorts.
    #[error("hub {hub} has ports 1-{ports}, not {port}")]
    NoSuchPort {
        /// The hub's location.
        hub: String,
        /// The port asked for.
        port: u16,
        /// bNbrPorts.
        ports: u8,
    },
    /// An address could not be parsed. Fix: `BUS-PORT[.PORT...]` or
    /// `VID:PID[:SERIAL]` in hexadecimal.
    #[error("bad USB address {address:?}: {reason}")]
    BadAddress {
        /// The address as given.
        address: String,
        /// Why.
        reason: String,
    },
    /// A control transfer failed (stalled, timed out, device gone). Fix: check the cable,
    /// and permissions on /dev/bus/usb (run as root).
    #[error("USB transfer {request} to {device} failed: {detail}")]
    Transfer {
        /// The device.
        device: String,
        /// The request.
        request: String,
        /// libusb's reason.
        detail: String,
    },
    /// libusb could not start. Likely cause: a machine without USB, or no access to
    /// /dev/bus/usb. Fix: run as root on a machine with the hub or board attached.
    #[error("cannot use USB: {detail} (no USB on this machine, or /dev/bus/usb not accessible: run as root)")]
    NoUsb {
        /// libusb's reason.
        detail: String,
    },
    /// The device answered with something the specification does not allow.
    #[error("USB device {device} sent a malformed {what}")]
    Malformed {
        /// The device.
        device: String,
        /// What was malformed.
        what: String,
    },
}
