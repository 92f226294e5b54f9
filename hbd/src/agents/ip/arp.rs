//! Gratuitous ARP: the frame, and sending it on an interface through an `AF_PACKET` socket.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use pnet_datalink::{Channel, DataLinkSender, MacAddr, NetworkInterface};

/// Which ARP operation announces the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GarpMode {
    /// Unsolicited ARP request (`arping -U`, `send_arp`'s default); updates every peer
    /// that has the address cached.
    Request,
    /// Unsolicited ARP reply (`arping -A`).
    Reply,
    /// Both, request first.
    Both,
}

/// How the native floating IP announces itself (IPaddr2's `arp_count`, `arp_interval`,
/// `arp_bg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GarpConfig {
    /// Announcements sent (IPaddr2: 5; 0 sends none).
    pub count: u32,
    /// Pause between announcements (IPaddr2: 200 ms).
    pub interval: Duration,
    /// Which ARP operation.
    pub mode: GarpMode,
    /// Send the first announcement before start returns and the others from a background
    /// thread, which stops as soon as the address is gone (IPaddr2's `arp_bg=true`).
    pub background: bool,
}

impl Default for GarpConfig {
    fn default() -> Self {
        GarpConfig {
            count: 5,
            interval: Duration::from_millis(200),
            mode: GarpMode::Request,
            background: true,
        }
    }
}

/// Length of an Ethernet ARP frame padded to the 60-byte minimum (without FCS).
pub const FRAME_LEN: usize = 60;

/// A broadcast gratuitous ARP frame announcing that `ip` is at `mac` (RFC 5227 section 3:
/// sender and target protocol address both `ip`).
pub fn garp_frame(mac: [u8; 6], ip: Ipv4Addr, reply: bool) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[0..6].copy_from_slice(&[0xff; 6]); // destination: broadcast
    f[6..12].copy_from_slice(&mac); // source
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes()); // ARP
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol: IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&(if reply { 2u16 } else { 1 }).to_be_bytes());
    f[22..28].copy_from_slice(&mac); // sender hardware address
    f[28..32].copy_from_slice(&ip.octets()); // sender protocol address
    f[32..38].copy_from_slice(&[0xff; 6]); // target hardware address, as arping sends it
    f[38..42].copy_from_slice(&ip.octets()); // target protocol address
    f
}

/// A raw socket bound to one interface, sending gratuitous ARPs for one address.
pub struct Announcer {
    tx: Box<dyn DataLinkSender>,
    mac: [u8; 6],
    ip: Ipv4Addr,
    mode: GarpMode,
}

impl Announcer {
    /// Opens the socket on interface `index`/`name` (in the calling thread's namespace).
    pub fn open(
        index: u32,
        name: &str,
        mac: [u8; 6],
        ip: Ipv4Addr,
        mode: GarpMode,
    ) -> io::Result<Announcer> {
        let iface = NetworkInterface {
            name: name.to_string(),
            description: String::new(),
            index,
            mac: Some(MacAddr::from(mac)),
            ips: Vec::new(),
            flags: 0,
        };
        let config = pnet_datalink::Config {
            promiscuous: false,
            read_buffer_size: 256,
            read_timeout: Some(Duration::from_millis(1)),
            ..Default::default()
        };
        match pnet_datalink::channel(&iface, config)? {
            Channel::Ethernet(tx, _rx) => Ok(Announcer { tx, mac, ip, mode }),
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the packet socket is not an Ethernet channel",
            )),
        }
    }

    /// Sends one announcement (one or two frames, per the mode).
    pub fn announce(&mut self) -> io::Result<()> {
        let ops: &[bool] = match self.mode {
            GarpMode::Request => &[false],
            GarpMode::Reply => &[true],
            GarpMode::Both => &[false, true],
        };
        for &reply in ops {
            let frame = garp_frame(self.mac, self.ip, reply);
            match self.tx.send_to(&frame, None) {
                Some(r) => r?,
                None => return Err(io::Error::other("the packet socket's send buffer is full")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garp_frame_announces_the_address_from_our_mac() {
        let mac = [2, 0, 0, 0xab, 0xcd, 0xef];
        let f = garp_frame(mac, Ipv4Addr::new(10, 1, 2, 3), false);
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[6..12], &mac);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[14..22], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(&f[22..28], &mac);
        assert_eq!(&f[28..32], &[10, 1, 2, 3]);
        assert_eq!(&f[38..42], &[10, 1, 2, 3]);
        assert_eq!(&f[42..], &[0; 18]);
        assert_eq!(
            &garp_frame(mac, Ipv4Addr::new(10, 1, 2, 3), true)[20..22],
            &[0, 2]
        );
    }
}
