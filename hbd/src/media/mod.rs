//! The media: the paths heartbeat packets travel on (`bcast`, `mcast`, `ucast`, `serial`),
//! and the ICMP prober of ping nodes ([`Pinger`]).
//!
//! Each configured [`Medium`] is opened as a [`Link`]: a reader thread that hands every
//! received packet to one shared channel as a [`Received`] tagged with the link's
//! [`LinkId`], and a transmitter the daemon calls to send. Links only move bytes:
//! authentication and parsing happen in the daemon (as in heartbeat, where the read and
//! write children pass raw packets to the master process).

mod ping;
mod serial;
mod udp;

use std::fmt;
use std::sync::mpsc::Sender;
use std::time::Duration;

use crate::config::Medium;

pub use ping::{reply_source, Pinger};
pub use serial::{SerialLink, FRAGMENT};
pub use udp::UdpLink;

/// Index of a link in the order of the media in `ha.cf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub usize);

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "link {}", self.0)
    }
}

/// One packet as it came off a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The link it arrived on.
    pub link: LinkId,
    /// Its bytes (a whole UDP datagram, or one `>>>`…`<<<` frame from a serial line).
    pub bytes: Vec<u8>,
}

/// What went wrong opening or using a link.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The interface named in `ha.cf` does not exist or has no IPv4 address.
    #[error("{medium}: interface {iface} {why}; check the interface name in ha.cf (`ip -4 addr` lists them)")]
    Interface {
        /// The medium, as `ha.cf` names it.
        medium: String,
        /// The interface.
        iface: String,
        /// What is missing.
        why: String,
    },
    /// A peer host name does not resolve.
    #[error(
        "{medium}: cannot resolve {peer}: {why}; use an address or add the name to /etc/hosts"
    )]
    Resolve {
        /// The medium.
        medium: String,
        /// The peer name.
        peer: String,
        /// The resolver's answer.
        why: String,
    },
    /// A socket or device call failed.
    #[error("{medium}: {what}: {source}")]
    Io {
        /// The medium.
        medium: String,
        /// The call that failed.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The serial line is locked by a live process.
    #[error("{medium}: {device} is in use by process {pid} (lock file {lock}); stop that process or choose another line")]
    Busy {
        /// The medium.
        medium: String,
        /// The tty.
        device: String,
        /// The lock holder.
        pid: i32,
        /// The lock file.
        lock: String,
    },
}

/// An open medium: where packets go out. Its reader thread runs until the process ends.
pub enum Link {
    /// A UDP medium (bcast, mcast or ucast).
    Udp(UdpLink),
    /// A serial line.
    Serial(SerialLink),
}

impl Link {
    /// Opens `medium` as link `id`; received packets go to `inbox`.
    pub fn open(id: LinkId, medium: &Medium, inbox: Sender<Received>) -> Result<Link, MediaError> {
        match medium {
            Medium::Serial { device, baud } => {
                SerialLink::open(id, device, *baud, inbox).map(Link::Serial)
            }
            udp => UdpLink::open(id, udp, inbox).map(Link::Udp),
        }
    }

    /// Sends one packet. A failure is returned for the caller to count and log (rate
    /// limited); the link stays open.
    pub fn send(&self, packet: &[u8]) -> Result<(), MediaError> {
        match self {
            Link::Udp(l) => l.send(packet),
            Link::Serial(l) => l.send(packet),
        }
    }

    /// Closes the link once what was sent has left (serial lines queue their frames),
    /// waiting at most `within`. Returns whether everything left.
    pub fn close(self, within: Duration) -> bool {
        match self {
            Link::Udp(_) => true,
            Link::Serial(l) => l.close(within),
        }
    }

    /// Whether the link carries heartbeat's classic text encoding (serial lines) rather
    /// than netstrings (UDP).
    pub fn wants_classic(&self) -> bool {
        matches!(self, Link::Serial(_))
    }

    /// The link's name as `cl_status listhblinks` shows it: the interface for UDP media,
    /// the tty path for serial lines.
    pub fn name(&self) -> &str {
        match self {
            Link::Udp(l) => l.name(),
            Link::Serial(l) => l.name(),
        }
    }
}

/// The name heartbeat gives a medium's link (interface or tty).
pub fn link_name(medium: &Medium) -> String {
    match medium {
        Medium::Bcast { iface, .. } | Medium::Mcast { iface, .. } | Medium::Ucast { iface, .. } => {
            iface.clone()
        }
        Medium::Serial { device, .. } => device.display().to_string(),
    }
}

/// How `ha.cf` writes a medium, for messages.
pub fn describe(medium: &Medium) -> String {
    match medium {
        Medium::Bcast { iface, .. } => format!("bcast {iface}"),
        Medium::Mcast { iface, group, .. } => format!("mcast {iface} {group}"),
        Medium::Ucast { iface, peer, .. } => format!("ucast {iface} {peer}"),
        Medium::Serial { device, .. } => format!("serial {}", device.display()),
    }
}
