//! USB power control: hub port power ([`hub`], what `uhubctl` does) and HID relay boards
//! ([`relay`], the common `USBRelay` kind), as fence plugins ([`plugins`]).
//!
//! All device access goes through one small trait at the lowest boundary,
//! [`transport::ControlTransport`]: the list of devices with their topology, and one control
//! transfer. [`rusb_transport`] implements it on libusb (the `rusb` crate); [`sim`]
//! implements it with a model of USB 2.0 hubs (per-port, ganged or no power switching, and
//! the SuperSpeed/USB 2.0 pair of a USB 3 hub) and of `USBRelay` boards, which checks every
//! request's bytes against the USB 2.0 hub class (chapter 11) and HID specifications.
//! Everything above the trait (address matching, descriptor parsing, the power-switching
//! rules, confirmation) is the same code on hardware and in the tests.

pub mod address;
pub mod error;
pub mod hub;
pub mod plugins;
pub mod relay;
pub mod rusb_transport;
pub mod sim;
pub mod transport;

pub use error::UsbError;
