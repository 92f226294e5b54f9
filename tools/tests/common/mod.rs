//! Helpers shared by the lab tests of this package.
#![allow(dead_code)] // each test uses its own part

pub mod bins;
pub mod metadata;
