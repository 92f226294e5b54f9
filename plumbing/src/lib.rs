//! The small shared plumbing of the daemons (qdiskd, fenced, hbd): what each of them would
//! otherwise write again, so that the same key means the same thing to every daemon. It
//! depends on no member of the workspace.
//!
//! - [`duration`]: a duration in the cluster file, read one way everywhere;
//! - [`text`]: line numbers of positions in a file, for `file:line` errors;
//! - [`socket`]: the API sockets, private and never stolen from a live daemon;
//! - [`time`]: the cores' clock, `CLOCK_BOOTTIME`;
//! - [`selffence`]: self-fence actions, checked at start, fired naming the daemon;
//! - [`rt`]: locked memory and real-time scheduling;
//! - [`seeds`]: which seeded schedules the simulations run (`SIM_SEED`, `SIM_SEEDS`);
//! - [`man`]: manual pages from the programs' own `--help` definitions (`PROGRAM --man`).

pub mod duration;
pub mod man;
pub mod rt;
pub mod seeds;
pub mod selffence;
pub mod socket;
pub mod text;
pub mod time;
