//! USB power control: hub port power ([`hub`], what `uhubctl` does) and HID relay boards
//! ([`relay`], the common `USBRelay` kind).
//!
//! All device access goes through one small trait at the lowest boundary,
//! [`transport::ControlTransport`]: a control transfer to one device, plus the list of
//! devices with their topology. [`rusb_transport`] implements it on libusb (the `rusb`
//! crate); [`sim`] implements it with a model of a USB 2.0 hub (with a USB 3 companion) and
//! of an HID relay board, which checks every request's bytes against the USB 2.0 hub class
//! specification (chapter 11) and the HID class specification. Everything above the trait
//! (address matching, descriptor parsing, the power-switching rules) is the same code for
//! both.

pub mod error;

pub use error::UsbError;
