//! UDP media: `bcast`, `mcast` and `ucast`, socket for socket as heartbeat's plugins set
//! them up (reference: heartbeat.md §4.8).
//!
//! * bcast: sent to the interface's broadcast address with `SO_BROADCAST`; received on
//!   `INADDR_ANY:port` bound to the interface.
//! * mcast: sent with `IP_MULTICAST_IF`/`TTL`/`LOOP`; received on `group:port` after
//!   joining the group on the interface.
//! * ucast: sent to the peer with `IP_TOS` low delay, bound to the interface; received on
//!   `INADDR_ANY:port` bound to the interface with `SO_REUSEADDR`/`SO_REUSEPORT` (so several
//!   ucast lines on one interface share the port).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::sync::mpsc::Sender;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};

use super::{describe, link_name, LinkId, MediaError, Received};
use crate::config::Medium;

/// Largest datagram read (heartbeat's practical UDP limit).
const MAX_DATAGRAM: usize = 64 * 1024;
/// `IPTOS_LOWDELAY`.
const TOS_LOWDELAY: u32 = 0x10;

/// An open UDP medium.
pub struct UdpLink {
    name: String,
    medium: String,
    socket: Socket,
    to: SocketAddr,
}

struct IfaceAddr {
    addr: Ipv4Addr,
    broadcast: Option<Ipv4Addr>,
    index: u32,
}

fn iface_addr(medium: &str, iface: &str) -> Result<IfaceAddr, MediaError> {
    let err = |why: &str| MediaError::Interface {
        medium: medium.to_string(),
        iface: iface.to_string(),
        why: why.to_string(),
    };
    let index = nix::net::if_::if_nametoindex(iface).map_err(|_| err("does not exist"))?;
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| err(&format!("cannot be read ({e})")))?;
    for a in addrs.filter(|a| a.interface_name == iface) {
        if let Some(sin) = a.address.as_ref().and_then(|s| s.as_sockaddr_in()) {
            // An address added without `brd` has none set: derive it from the netmask.
            let netmask = a
                .netmask
                .as_ref()
                .and_then(|s| s.as_sockaddr_in())
                .map(|m| m.ip());
            let broadcast = a
                .broadcast
                .as_ref()
                .and_then(|s| s.as_sockaddr_in())
                .map(|b| b.ip())
                // glibc reports the interface's own address when no broadcast is set.
                .filter(|b| !b.is_unspecified() && *b != sin.ip())
                .or_else(|| netmask.map(|m| Ipv4Addr::from(u32::from(sin.ip()) | !u32::from(m))));
            return Ok(IfaceAddr {
                addr: sin.ip(),
                broadcast,
                index,
            });
        }
    }
    Err(err("has no IPv4 address"))
}

fn io(medium: &str, what: &str) -> impl FnOnce(std::io::Error) -> MediaError {
    let medium = medium.to_string();
    let what = what.to_string();
    move |source| MediaError::Io {
        medium,
        what,
        source,
    }
}

fn udp_socket(medium: &str) -> Result<Socket, MediaError> {
    Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(io(medium, "socket"))
}

/// A receive socket on `bind` (bound to `iface`), shared with other links on the port.
fn receiver(medium: &str, iface: &str, bind: SocketAddrV4) -> Result<Socket, MediaError> {
    let s = udp_socket(medium)?;
    s.set_reuse_address(true)
        .map_err(io(medium, "SO_REUSEADDR"))?;
    s.set_reuse_port(true).map_err(io(medium, "SO_REUSEPORT"))?;
    s.bind_device(Some(iface.as_bytes()))
        .map_err(io(medium, "SO_BINDTODEVICE"))?;
    s.bind(&SocketAddr::V4(bind).into())
        .map_err(io(medium, &format!("bind {bind}")))?;
    Ok(s)
}

fn resolve(medium: &str, peer: &str, port: u16) -> Result<SocketAddr, MediaError> {
    let err = |why: String| MediaError::Resolve {
        medium: medium.to_string(),
        peer: peer.to_string(),
        why,
    };
    (peer, port)
        .to_socket_addrs()
        .map_err(|e| err(e.to_string()))?
        .find(SocketAddr::is_ipv4)
        .ok_or_else(|| err("no IPv4 address".to_string()))
}

impl UdpLink {
    /// Opens a bcast, mcast or ucast medium and starts its reader.
    pub fn open(
        id: LinkId,
        medium: &Medium,
        inbox: Sender<Received>,
    ) -> Result<UdpLink, MediaError> {
        let what = describe(medium);
        let w = what.as_str();
        let (socket, to, recv) = match medium {
            Medium::Bcast { iface, port } => {
                let ia = iface_addr(w, iface)?;
                let bcast = ia.broadcast.ok_or_else(|| MediaError::Interface {
                    medium: what.clone(),
                    iface: iface.clone(),
                    why: "has no broadcast address".into(),
                })?;
                let s = udp_socket(w)?;
                s.set_broadcast(true).map_err(io(w, "SO_BROADCAST"))?;
                s.bind_device(Some(iface.as_bytes()))
                    .map_err(io(w, "SO_BINDTODEVICE"))?;
                let recv = receiver(w, iface, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, *port))?;
                (s, SocketAddr::V4(SocketAddrV4::new(bcast, *port)), recv)
            }
            Medium::Mcast {
                iface,
                group,
                port,
                ttl,
                loopback,
            } => {
                let ia = iface_addr(w, iface)?;
                let s = udp_socket(w)?;
                s.set_multicast_if_v4(&ia.addr)
                    .map_err(io(w, "IP_MULTICAST_IF"))?;
                s.set_multicast_ttl_v4(u32::from(*ttl))
                    .map_err(io(w, "IP_MULTICAST_TTL"))?;
                s.set_multicast_loop_v4(*loopback)
                    .map_err(io(w, "IP_MULTICAST_LOOP"))?;
                let r = udp_socket(w)?;
                r.set_reuse_address(true).map_err(io(w, "SO_REUSEADDR"))?;
                r.set_reuse_port(true).map_err(io(w, "SO_REUSEPORT"))?;
                r.bind(&SocketAddr::V4(SocketAddrV4::new(*group, *port)).into())
                    .map_err(io(w, &format!("bind {group}:{port}")))?;
                r.join_multicast_v4_n(group, &InterfaceIndexOrAddress::Index(ia.index))
                    .map_err(io(w, "IP_ADD_MEMBERSHIP"))?;
                (s, SocketAddr::V4(SocketAddrV4::new(*group, *port)), r)
            }
            Medium::Ucast { iface, peer, port } => {
                iface_addr(w, iface)?;
                let to = resolve(w, peer, *port)?;
                let s = udp_socket(w)?;
                s.set_tos_v4(TOS_LOWDELAY).map_err(io(w, "IP_TOS"))?;
                s.bind_device(Some(iface.as_bytes()))
                    .map_err(io(w, "SO_BINDTODEVICE"))?;
                let recv = receiver(w, iface, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, *port))?;
                (s, to, recv)
            }
            Medium::Serial { .. } => {
                return Err(MediaError::Interface {
                    medium: what.clone(),
                    iface: String::new(),
                    why: "is a serial line, not a UDP medium".into(),
                })
            }
        };
        let recv: std::net::UdpSocket = recv.into();
        std::thread::Builder::new()
            .name(format!("hbd read {what}"))
            .spawn(move || {
                crate::rt::enter("udp reader");
                read_loop(id, recv, inbox)
            })
            .map_err(io(w, "reader thread"))?;
        Ok(UdpLink {
            name: link_name(medium),
            medium: what,
            socket,
            to,
        })
    }

    /// Sends one datagram.
    pub fn send(&self, packet: &[u8]) -> Result<(), MediaError> {
        self.socket
            .send_to(packet, &self.to.into())
            .map(drop)
            .map_err(io(&self.medium, &format!("send to {}", self.to)))
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn read_loop(id: LinkId, socket: std::net::UdpSocket, inbox: Sender<Received>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => {
                let packet = Received {
                    link: id,
                    bytes: buf[..n].to_vec(),
                };
                if inbox.send(packet).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::warn!("{id}: receive failed: {e}");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}
