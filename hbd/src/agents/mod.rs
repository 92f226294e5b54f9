//! Local execution of resources: the LRM of the classic stack.
//!
//! [`Agents`] runs one operation ([`Op`]: start, stop, status) on one
//! [`Resource`](crate::config::Resource) and returns a typed [`Outcome`]; its group methods
//! run heartbeat's `takegroup`/`givegroup` sequences ([`group`]). Agents are found as
//! heartbeat finds them ([`lookup`]): OCF agents (`ocf:PROVIDER:TYPE::key=value`, heartbeat's
//! `OCF::TYPE::INSTANCE`), heartbeat-style scripts in `resource.d` (status judged by output),
//! LSB init scripts (exit codes), and the native floating IP ([`ip`]) for `IPaddr`,
//! `IPaddr2` and the address shorthand. Each operation runs in its own process group with a
//! timeout ([`exec`]); on timeout the group is killed and reaped.
//!
//! Everything here blocks: run it on a worker thread, one group operation at a time, as
//! heartbeat did. Nothing panics; every failure is an [`Outcome`].

pub mod config;
pub mod exec;
pub mod group;
pub mod ip;
pub mod judge;
pub mod ledger;
pub mod lookup;
pub mod ocf;
pub mod outcome;
pub mod runner;

pub use config::{AgentConfig, Timeouts};
pub use group::{GroupOutcome, GroupReport, GroupStatus, Held, StopPolicy};
pub use ip::{FloatingIp, GarpConfig, GarpMode};
pub use lookup::Agent;
pub use outcome::{Op, Outcome};
pub use runner::Agents;
