//! Where a floating IP goes: pure, from the interface and address lists.

use std::net::Ipv4Addr;

use crate::config::IpSpec;

use super::broadcast_of;
use super::netlink::{Addr, Link};

/// The interface, prefix, broadcast and label a floating IP is added with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The interface.
    pub link: Link,
    /// Prefix length.
    pub prefix: u8,
    /// Broadcast address.
    pub broadcast: Option<Ipv4Addr>,
    /// Address label (`eth0:web`).
    pub label: Option<String>,
}

/// Chooses the interface and prefix for `spec` as IPaddr2's `findif` does: a named interface
/// must exist; otherwise the interface whose address's subnet holds the IP, the longest
/// prefix winning (loopback and the floating IP itself never count). The error says why
/// and how to fix it.
pub fn place(spec: &IpSpec, links: &[Link], addrs: &[Addr]) -> Result<Placement, String> {
    let contains =
        |a: &Addr| a.prefix <= 32 && a.ip != spec.ip && same_subnet(a.ip, spec.ip, a.prefix);
    let (link, found_prefix) = match &spec.iface {
        Some(name) => {
            let Some(link) = links.iter().find(|l| &l.name == name) else {
                return Err(format!(
                    "{}: there is no interface `{name}` on this node; name an existing one \
                     or leave it out to pick the interface on the address's subnet",
                    spec
                ));
            };
            let prefix = addrs
                .iter()
                .filter(|a| a.index == link.index && contains(a))
                .map(|a| a.prefix)
                .max();
            (link.clone(), prefix)
        }
        None => {
            let best = addrs
                .iter()
                .filter(|a| contains(a))
                .filter(|a| links.iter().any(|l| l.index == a.index && !l.loopback))
                .max_by_key(|a| a.prefix);
            let Some(best) = best else {
                return Err(format!(
                    "{spec}: no interface has an address on this subnet; configure an \
                     administrative address there, or write IP/PREFIX/IFACE"
                ));
            };
            let Some(link) = links.iter().find(|l| l.index == best.index) else {
                return Err(format!("{spec}: the interface of {} vanished", best.ip));
            };
            (link.clone(), Some(best.prefix))
        }
    };
    let Some(prefix) = spec.prefix.or(found_prefix) else {
        return Err(format!(
            "{spec}: no address of {} is on this subnet, so the prefix is unknown; write \
             IP/PREFIX/IFACE",
            link.name
        ));
    };
    let label = spec.label.as_ref().map(|l| format!("{}:{l}", link.name));
    if label.as_ref().is_some_and(|l| l.len() > 15) {
        return Err(format!(
            "{spec}: the label `{}` is longer than the kernel's 15 characters",
            label.unwrap_or_default()
        ));
    }
    Ok(Placement {
        link,
        prefix,
        broadcast: spec.broadcast.or_else(|| broadcast_of(spec.ip, prefix)),
        label,
    })
}

fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    u32::from(a) & mask == u32::from(b) & mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::haresources::parse_ip_spec;

    fn link(index: u32, name: &str) -> Link {
        Link {
            index,
            name: name.into(),
            mac: Some([2, 0, 0, 0, 0, index as u8]),
            up: true,
            loopback: name == "lo",
        }
    }

    fn addr(index: u32, ip: &str, prefix: u8) -> Addr {
        Addr {
            index,
            ip: ip.parse().expect("test address"),
            prefix,
            label: None,
        }
    }

    fn spec(s: &str) -> IpSpec {
        parse_ip_spec(s).expect("test spec")
    }

    #[test]
    fn interface_is_found_by_subnet_and_longest_prefix_wins() {
        let links = [link(1, "lo"), link(2, "eth0"), link(3, "eth1")];
        let addrs = [
            addr(1, "127.0.0.1", 8),
            addr(2, "10.0.0.5", 16),
            addr(3, "10.0.1.5", 24),
        ];
        let p = place(&spec("10.0.1.100"), &links, &addrs).expect("placed");
        assert_eq!((p.link.name.as_str(), p.prefix), ("eth1", 24));
        assert_eq!(p.broadcast, Some("10.0.1.255".parse().expect("ip")));
        let p = place(&spec("10.0.2.100"), &links, &addrs).expect("placed");
        assert_eq!((p.link.name.as_str(), p.prefix), ("eth0", 16));
        let p = place(&spec("10.0.2.100/28"), &links, &addrs).expect("placed");
        assert_eq!(p.prefix, 28);
        assert_eq!(p.broadcast, Some("10.0.2.111".parse().expect("ip")));
    }

    #[test]
    fn no_subnet_match_and_unknown_interfaces_are_config_errors() {
        let links = [link(1, "lo"), link(2, "eth0")];
        let addrs = [addr(1, "127.0.0.1", 8), addr(2, "10.0.0.5", 24)];
        assert!(place(&spec("192.168.5.1"), &links, &addrs).is_err());
        assert!(place(&spec("127.0.0.9"), &links, &addrs).is_err());
        let err = place(&spec("10.0.0.9/24/eth7"), &links, &addrs).expect_err("no eth7");
        assert!(err.contains("eth7"), "{err}");
    }

    #[test]
    fn named_interface_and_label_are_kept() {
        let links = [link(2, "eth0")];
        let p = place(&spec("10.9.0.9/24/eth0:web"), &links, &[]).expect("placed");
        assert_eq!(p.label.as_deref(), Some("eth0:web"));
        assert_eq!(p.prefix, 24);
        let p = place(&spec("10.9.0.9/32/eth0"), &links, &[]).expect("placed");
        assert_eq!(p.broadcast, None);
    }
}
