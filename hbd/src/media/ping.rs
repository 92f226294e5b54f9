//! Ping nodes: ICMP echo to the addresses of `ping` and `ping_group` entries.
//!
//! heartbeat treats each ping node as a pseudo-member that lives while its address answers
//! (a `ping_group` lives while any of its addresses answers). The daemon calls
//! [`Pinger::send_round`] with every outgoing status packet (heartbeat sends one echo per
//! keepalive too); a reader thread matches echo replies by identifier and source address and
//! reports the ping node's name. Membership ([`crate::membership::Membership::on_ping_reply`])
//! judges it dead after `deadping` without a reply.
//!
//! One raw ICMP socket (root, as heartbeat's ping plugin) carries every ping node. Replies
//! for other processes on the same host arrive on it too; they are told apart by the echo
//! identifier (our process id, as heartbeat does) and the source address.

use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::sync::Arc;

use pnet_packet::icmp::echo_reply::EchoReplyPacket;
use pnet_packet::icmp::echo_request::MutableEchoRequestPacket;
use pnet_packet::icmp::{checksum, IcmpPacket, IcmpTypes};
use pnet_packet::ipv4::Ipv4Packet;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::MediaError;
use crate::config::hacf::PingNode;
use crate::config::NodeName;

/// Bytes of payload in each echo request (heartbeat carries a status message there; we
/// carry a fixed tag, since the reply is all that matters).
const PAYLOAD: &[u8] = b"hbd ping node probe";

/// The open ICMP socket and every address to probe.
pub struct Pinger {
    socket: Arc<Socket>,
    targets: Vec<(Ipv4Addr, NodeName)>,
    ident: u16,
    seq: u16,
}

impl Pinger {
    /// Resolves every ping node's addresses, opens the raw ICMP socket and starts the
    /// reader thread, which calls `on_reply` with the ping node's name for every matching
    /// echo reply (and stops when `on_reply` returns false).
    pub fn open(
        nodes: &[PingNode],
        on_reply: impl Fn(NodeName) -> bool + Send + 'static,
    ) -> Result<Pinger, MediaError> {
        let mut targets = Vec::new();
        for node in nodes {
            for addr in &node.addrs {
                targets.push((resolve(node, addr)?, NodeName::new(&node.name)));
            }
        }
        let io = |what: &str, source: io::Error| MediaError::Io {
            medium: "ping".into(),
            what: what.into(),
            source,
        };
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))
            .map_err(|e| io("raw ICMP socket (hbd must run as root for ping nodes)", e))?;
        let socket = Arc::new(socket);
        let ident = (std::process::id() & 0xffff) as u16;
        let reader = Arc::clone(&socket);
        let known = targets.clone();
        std::thread::Builder::new()
            .name("hbd ping".into())
            .spawn(move || {
                crate::rt::enter("ping reader");
                read_replies(&reader, ident, &known, on_reply)
            })
            .map_err(|e| io("ping reader thread", e))?;
        Ok(Pinger {
            socket,
            targets,
            ident,
            seq: 0,
        })
    }

    /// Sends one echo request to every address. A failed send is logged and skipped: the
    /// ping node dies of silence after `deadping` if it keeps failing.
    pub fn send_round(&mut self) {
        self.seq = self.seq.wrapping_add(1);
        let packet = echo_request(self.ident, self.seq);
        for (addr, name) in &self.targets {
            let to = SockAddr::from(SocketAddrV4::new(*addr, 0));
            if let Err(e) = self.socket.send_to(&packet, &to) {
                tracing::debug!("ping node {name}: echo to {addr} not sent: {e}");
            }
        }
    }
}

/// Resolves one ping address to IPv4 (heartbeat's ping plugin is IPv4 too).
fn resolve(node: &PingNode, addr: &str) -> Result<Ipv4Addr, MediaError> {
    if let Ok(ip) = addr.parse::<Ipv4Addr>() {
        return Ok(ip);
    }
    let fail = |why: String| MediaError::Resolve {
        medium: format!("ping node {} (ha.cf line {})", node.name, node.line),
        peer: addr.to_string(),
        why,
    };
    let found = (addr, 0)
        .to_socket_addrs()
        .map_err(|e| fail(e.to_string()))?
        .find_map(|a| match a {
            SocketAddr::V4(v4) => Some(*v4.ip()),
            SocketAddr::V6(_) => None,
        });
    found.ok_or_else(|| fail("no IPv4 address".into()))
}

/// An ICMP echo request with its checksum.
fn echo_request(ident: u16, seq: u16) -> Vec<u8> {
    let mut buf = vec![0u8; MutableEchoRequestPacket::minimum_packet_size() + PAYLOAD.len()];
    if let Some(mut p) = MutableEchoRequestPacket::new(&mut buf) {
        p.set_icmp_type(IcmpTypes::EchoRequest);
        p.set_identifier(ident);
        p.set_sequence_number(seq);
        p.set_payload(PAYLOAD);
    }
    let sum = IcmpPacket::new(&buf).map(|p| checksum(&p)).unwrap_or(0);
    if let Some(mut p) = MutableEchoRequestPacket::new(&mut buf) {
        p.set_checksum(sum);
    }
    buf
}

/// If `datagram` (an IPv4 packet, as a raw socket delivers it) is an echo reply to us,
/// the address it came from.
pub fn reply_source(datagram: &[u8], ident: u16) -> Option<Ipv4Addr> {
    let ip = Ipv4Packet::new(datagram)?;
    let header = usize::from(ip.get_header_length()) * 4;
    let icmp = datagram.get(header..)?;
    let reply = EchoReplyPacket::new(icmp)?;
    (reply.get_icmp_type() == IcmpTypes::EchoReply && reply.get_identifier() == ident)
        .then(|| ip.get_source())
}

fn read_replies(
    socket: &Socket,
    ident: u16,
    targets: &[(Ipv4Addr, NodeName)],
    on_reply: impl Fn(NodeName) -> bool,
) {
    let mut reader: &Socket = socket;
    let mut buf = [0u8; 1500];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::error!("ping nodes: reading ICMP failed: {e}; ping nodes will die");
                return;
            }
        };
        let Some(from) = reply_source(&buf[..n], ident) else {
            continue;
        };
        for (addr, name) in targets {
            if *addr == from && !on_reply(name.clone()) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pnet_packet::ipv4::MutableIpv4Packet;

    fn wrap(icmp: &[u8], src: Ipv4Addr) -> Vec<u8> {
        let mut buf = vec![0u8; 20 + icmp.len()];
        let mut ip = MutableIpv4Packet::new(&mut buf).expect("room");
        ip.set_version(4);
        ip.set_header_length(5);
        ip.set_total_length(u16::try_from(20 + icmp.len()).expect("small"));
        ip.set_source(src);
        buf[20..].copy_from_slice(icmp);
        buf
    }

    #[test]
    fn an_echo_request_carries_a_valid_checksum() {
        let req = echo_request(0x1234, 7);
        let p = IcmpPacket::new(&req).expect("icmp");
        assert_eq!(p.get_checksum(), checksum(&p));
        assert_ne!(p.get_checksum(), 0);
    }

    #[test]
    fn our_echo_reply_is_recognised_and_others_are_not() {
        let gw = Ipv4Addr::new(10, 99, 0, 1);
        let mut reply = echo_request(0x1234, 7);
        reply[0] = 0; // echo reply
        assert_eq!(reply_source(&wrap(&reply, gw), 0x1234), Some(gw));
        assert_eq!(reply_source(&wrap(&reply, gw), 0x4321), None);
        let request = echo_request(0x1234, 7);
        assert_eq!(reply_source(&wrap(&request, gw), 0x1234), None);
        assert_eq!(reply_source(&[0x45, 0, 0], 0x1234), None);
        assert_eq!(reply_source(&[], 0x1234), None);
    }

    #[test]
    fn garbage_from_the_network_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..20_000 {
            let len = rng.random_range(0..120);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            if let Some(b) = bytes.first_mut() {
                *b = 0x40 | (*b & 0x0f); // IPv4 with any header length
            }
            let _ = reply_source(&bytes, 0x1234);
        }
    }
}
