//! The fence-agent front end.
pub mod man;
pub mod metadata;
pub mod options;
pub mod run;
