//! The test lab: a whole cluster on one machine, built from real parts.
//!
//! [`Lab`] is the principal type: [`Lab::builder`] brings up N nodes (network namespaces
//! with their own hostname, private directories and cgroup, see [`node::Node`]) wired
//! through a switch namespace ([`switch::Switch`]) on one or two heartbeat media and a
//! management network ([`topology`] has the address plan), with optionally a shared disk
//! with per-node fault injection ([`disk::SharedDisk`] over FUSE, [`faultdisk`]), a BMC per
//! node ([`bmc::Bmc`], OpenIPMI's ipmi_sim whose chassis power really controls the node)
//! and an SNMP agent on the switch ([`snmp::SnmpAgent`], net-snmp's snmpd). Serial lines are
//! PTY pairs ([`serial::SerialPair`]); each node can have a hardware watchdog
//! ([`watchdog::LabWatchdog`], a FUSE file answering the Linux watchdog API) that powers it
//! off when it expires; serial power switches are simulated on PTYs
//! ([`devsim`]). A Brocade FC switch's SSH CLI over the switch's ports is
//! [`brocade::BrocadeSim`]. [`hacluster`] builds the heartbeat tutorial's two-node web
//! cluster on top, with our daemons or with Debian's heartbeat. The [`nemesis`] injects faults, the [`timeline`]
//! records what happened, and [`wait`] is how tests wait.
//!
//! Everything runs as root and touches only what it created itself. Every object carries a
//! unique name ([`unique`]) and is removed on drop, also when a test panics; [`sweep`]
//! removes what a killed run left behind and lists leftovers. Loop devices over plain
//! sparse files ([`loopdev::LoopDevice`]) are available on their own too.

pub mod bmc;
pub mod brocade;
pub mod cgroup;
pub mod chaos;
pub mod cluster;
pub mod cmd;
pub mod demo;
pub mod devsim;
pub mod disk;
pub mod diskwriter;
pub mod error;
pub mod faultdisk;
pub mod hacluster;
pub mod loopdev;
pub mod nemesis;
pub mod netns;
pub mod node;
pub mod owner;
pub mod playground;
pub mod portstate;
pub mod process;
pub mod root;
pub mod serial;
pub mod snmp;
pub mod sweep;
pub mod switch;
pub mod timeline;
pub mod topology;
pub mod unique;
pub mod wait;
pub mod watchdog;

pub use cluster::{Lab, LabBuilder};
pub use error::{LabError, Result};
pub use faultdisk::DiskFault;
pub use nemesis::Direction;
pub use node::{Daemon, Node, Power};
pub use topology::Net;
pub use watchdog::LabWatchdog;
