//! The test lab: a whole cluster on one machine, built from real parts.
//!
//! Everything here runs as root and touches only what it created itself: loop devices over
//! sparse files it made ([`loopdev::LoopDevice`]), and later network namespaces, BMC
//! simulators, a switch and serial lines. Every resource is released on drop, also when a
//! test panics.

pub mod loopdev;
pub mod root;
pub mod unique;
