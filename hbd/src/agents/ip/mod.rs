//! The native floating IP (`IPaddr`, `IPaddr2` and the `IP/prefix/iface` shorthand): the
//! address is added with rtnetlink, announced with gratuitous ARP and removed on stop.
//!
//! As IPaddr2 does: without an interface, the address goes on the interface holding an
//! address of the same subnet (the longest matching prefix), and without a prefix it takes
//! that address's prefix; the broadcast defaults to the subnet's. Status is "the address is
//! on the interface" (on any interface when none is configured). Start and stop are
//! idempotent; a start that finds the address already there sends no ARP.

mod arp;
mod netlink;
mod place;

use std::io;
use std::net::Ipv4Addr;

use crate::config::IpSpec;

use super::outcome::Outcome;

pub use arp::{garp_frame, Announcer, GarpConfig, GarpMode};
pub use netlink::{Addr, Link, NewAddr, Rtnl};
pub use place::{place, Placement};

/// One floating IP resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloatingIp {
    spec: IpSpec,
    garp: GarpConfig,
}

impl FloatingIp {
    /// The resource for `spec`, announcing per `garp`.
    pub fn new(spec: IpSpec, garp: GarpConfig) -> Self {
        FloatingIp { spec, garp }
    }

    /// Adds the address (if missing) and announces it.
    pub fn start(&self) -> Outcome {
        match self.try_start() {
            Ok(o) => o,
            Err(e) => failed("start", &e),
        }
    }

    /// Removes the address wherever the spec allows it to be.
    pub fn stop(&self) -> Outcome {
        match self.try_stop() {
            Ok(()) => Outcome::Stopped,
            Err(e) => failed("stop", &e),
        }
    }

    /// Running when the address is on the interface.
    pub fn status(&self) -> Outcome {
        let found = Rtnl::open().and_then(|mut nl| self.held(&mut nl));
        match found {
            Ok(held) if held.is_empty() => Outcome::Stopped,
            Ok(_) => Outcome::Running,
            Err(e) => failed("status", &e),
        }
    }

    /// Where the address is now.
    fn held(&self, nl: &mut Rtnl) -> io::Result<Vec<Addr>> {
        let links = nl.links()?;
        let only = match &self.spec.iface {
            Some(name) => match links.iter().find(|l| &l.name == name) {
                Some(l) => Some(l.index),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        Ok(nl
            .addresses()?
            .into_iter()
            .filter(|a| a.ip == self.spec.ip && only.is_none_or(|i| i == a.index))
            .collect())
    }

    fn try_start(&self) -> io::Result<Outcome> {
        let mut nl = Rtnl::open()?;
        let links = nl.links()?;
        let addrs = nl.addresses()?;
        let p = match place(&self.spec, &links, &addrs) {
            Ok(p) => p,
            Err(why) => return Ok(Outcome::ConfigError { why }),
        };
        if addrs
            .iter()
            .any(|a| a.ip == self.spec.ip && a.index == p.link.index)
        {
            return Ok(Outcome::Running);
        }
        let new = NewAddr {
            index: p.link.index,
            ip: self.spec.ip,
            prefix: p.prefix,
            broadcast: p.broadcast,
            label: p.label.clone(),
        };
        match nl.add_address(&new) {
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::EXIST.raw_os_error()) => {}
            other => other?,
        }
        tracing::info!(ip = %self.spec.ip, prefix = p.prefix, iface = %p.link.name, "address added");
        self.announce(&p);
        Ok(Outcome::Running)
    }

    /// Sends the gratuitous ARPs; failures are logged, not fatal (the address is up).
    fn announce(&self, p: &Placement) {
        if self.garp.count == 0 || p.link.loopback {
            return;
        }
        let Some(mac) = p.link.mac else {
            tracing::warn!(iface = %p.link.name, "no hardware address: no gratuitous ARP");
            return;
        };
        let mut ann = match Announcer::open(
            p.link.index,
            &p.link.name,
            mac,
            self.spec.ip,
            self.garp.mode,
        ) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(iface = %p.link.name, "gratuitous ARP: cannot open a packet socket: {e}");
                return;
            }
        };
        let ip = self.spec.ip;
        let index = p.link.index;
        let garp = self.garp;
        let rest = move |ann: &mut Announcer, first: u32| {
            for _ in first..garp.count {
                std::thread::sleep(garp.interval);
                // Announce only while we hold the address: a stop may have come.
                let still = Rtnl::open()
                    .and_then(|mut nl| nl.addresses())
                    .is_ok_and(|a| a.iter().any(|a| a.ip == ip && a.index == index));
                if !still {
                    return;
                }
                if let Err(e) = ann.announce() {
                    tracing::warn!(%ip, "gratuitous ARP: {e}");
                }
            }
        };
        if let Err(e) = ann.announce() {
            tracing::warn!(%ip, "gratuitous ARP: {e}");
        }
        if garp.count <= 1 {
            return;
        }
        if garp.background {
            // The thread inherits this thread's network namespace, so its address checks
            // look where the address was added; the socket is bound already.
            let spawned = std::thread::Builder::new()
                .name("garp".into())
                .spawn(move || rest(&mut ann, 1));
            if let Err(e) = spawned {
                tracing::warn!(%ip, "gratuitous ARP: cannot start the sender thread: {e}");
            }
        } else {
            rest(&mut ann, 1);
        }
    }

    fn try_stop(&self) -> io::Result<()> {
        let mut nl = Rtnl::open()?;
        for a in self.held(&mut nl)? {
            match nl.del_address(&a) {
                Err(e)
                    if e.raw_os_error() == Some(rustix::io::Errno::ADDRNOTAVAIL.raw_os_error()) => {
                }
                other => other?,
            }
            tracing::info!(ip = %a.ip, index = a.index, "address removed");
        }
        Ok(())
    }
}

fn failed(what: &str, e: &io::Error) -> Outcome {
    Outcome::Failed {
        code: e.raw_os_error().unwrap_or(-1),
        stderr: format!("floating IP {what}: {e}"),
    }
}

/// The subnet's broadcast address (none for /31 and /32, RFC 3021).
pub fn broadcast_of(ip: Ipv4Addr, prefix: u8) -> Option<Ipv4Addr> {
    if prefix >= 31 {
        return None;
    }
    let host_bits = u32::MAX >> prefix;
    Some(Ipv4Addr::from(u32::from(ip) | host_bits))
}
