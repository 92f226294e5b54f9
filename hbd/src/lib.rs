//! The heartbeat layer: `ha.cf`/`authkeys`/`haresources`, the wire format, authentication,
//! media, membership, quorum and the resource manager.
//!
//! So far this crate holds the configuration layer, [`config`]: heartbeat v1's three files
//! (`ha.cf`, `authkeys`, `haresources`) read exactly as heartbeat 3.0.6 users write them, into
//! typed values ([`config::HaCf`], [`config::AuthKeys`], [`config::Resources`]) with heartbeat's
//! defaults applied and its validation rules enforced. Every error is a [`ConfigError`] naming
//! the file, the line and the fix. Parsing is pure (`&str` in, values out); only the `read_*`
//! and [`config::load_dir`] functions touch the file system, and nothing here reads a clock.

pub mod agents;
pub mod api;
pub mod auth;
pub mod client;
pub mod config;
pub mod daemon;
pub mod media;
pub mod membership;
pub mod node;
pub mod policy;
pub mod proto;
pub mod rt;
pub mod setup;
pub mod state;
pub mod wire;

pub use config::{ConfigError, ConfigWarning, ErrorKind, NodeName, WarningKind};
