//! The fence-agent front end.
pub mod metadata;
pub mod options;
pub mod run;
