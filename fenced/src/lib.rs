//! Fencing as a service: who may fence whom, how, and what happened.
//!
//! The principal type is [`queue::FenceQueue`], a pure state machine (it does no I/O and
//! reads no clock) that turns fence and unfence requests into device invocations, walking
//! each victim's fence levels ([`topology::Topology`]) with retries, back-off, delays and a
//! quorum gate, and produces a [`history::Record`] for every operation. The daemon (driver,
//! configuration, API) is built around it.

pub mod ackguard;
pub mod agent;
pub mod api;
pub mod bootid;
pub mod client;
pub mod config;
pub mod daemon;
pub mod direct;
pub mod history;
pub mod queue;
pub mod store;
pub mod time;
pub mod topology;
