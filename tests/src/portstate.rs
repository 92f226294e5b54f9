//! Whether a switch port is administratively up, asked of the kernel directly
//! (`SIOCGIFFLAGS` on a socket that lives in the switch's network namespace): cheap enough to
//! ask at every shared-disk request, so a node whose SAN port was disabled can never land
//! another write — not even one a polling loop would have let through.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use crate::error::{LabError, Result};

/// Asks for the flags of interfaces in one network namespace.
#[derive(Debug)]
pub struct PortProbe {
    socket: OwnedFd,
}

impl PortProbe {
    /// A probe for the network namespace `/run/netns/NAME`.
    pub fn open(netns_name: &str) -> Result<PortProbe> {
        let path = Path::new("/run/netns").join(netns_name);
        let ns = std::fs::File::open(&path).map_err(|e| LabError::io(&path, e))?;
        // setns changes the calling thread only: a socket made by a short-lived thread stays
        // in the namespace it was made in, whatever thread uses it later.
        let socket = std::thread::spawn(move || -> std::io::Result<OwnedFd> {
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&ns),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )?;
            Ok(rustix::net::socket(
                rustix::net::AddressFamily::INET,
                rustix::net::SocketType::DGRAM,
                None,
            )?)
        })
        .join()
        .map_err(|_| LabError::Invalid("the port probe's thread panicked".into()))?
        .map_err(|e| LabError::io(&path, e))?;
        Ok(PortProbe { socket })
    }

    /// Whether interface `ifname` is administratively up (`IFF_UP`).
    pub fn is_up(&self, ifname: &str) -> std::io::Result<bool> {
        Ok(self.flags(ifname)? & libc::IFF_UP as u32 != 0)
    }

    #[allow(unsafe_code)]
    fn flags(&self, ifname: &str) -> std::io::Result<u32> {
        let name = ifname.as_bytes();
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("interface name {ifname:?}"),
            ));
        }
        // SAFETY: an all-zero ifreq is valid; the name is NUL-terminated (shorter than
        // IFNAMSIZ); SIOCGIFFLAGS writes only ifr_ifru.ifru_flags of the struct we own.
        unsafe {
            let mut req: libc::ifreq = std::mem::zeroed();
            for (dst, src) in req.ifr_name.iter_mut().zip(name) {
                *dst = *src as libc::c_char;
            }
            if libc::ioctl(self.socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(req.ifr_ifru.ifru_flags as u16 as u32)
        }
    }
}
