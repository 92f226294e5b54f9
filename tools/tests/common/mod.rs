//! Helpers shared by the lab tests of this package.

pub mod bins;
