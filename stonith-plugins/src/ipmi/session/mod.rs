//! An IPMI over LAN session: RMCP with IPMI 1.5 sessions (auth none, straight password or
//! MD5) or RMCP+ (IPMI 2.0, cipher suites 0–3: RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128).
//!
//! Every exchange is one request datagram and its reply, bounded by `timeout` per attempt
//! and retransmitted `retries` times when no reply comes (UDP loses datagrams); replies are
//! matched to requests by the IPMB sequence number and command, so a late reply to an
//! earlier attempt is still the right answer and a stray datagram is ignored. A session is
//! opened with the BMC's handshake, raised to the configured privilege level, and closed
//! with Close Session.
//!
//! Written here rather than taken from `ipmi-rs` 0.6.0, whose `Rmcp` connection could not
//! be used: its IPMI 1.5 sessions fail against OpenIPMI's BMC (auth code mismatch on
//! Activate Session) and never set the session privilege (chassis control needs operator),
//! its RMCP+ sessions are fixed to cipher suite 3 and administrator privilege, it cannot
//! close a session (the session id is private; a BMC has few session slots), it never
//! retransmits, and it panics (`unwrap`) on some malformed replies and socket errors.
//!
//! [`framing`] builds and reads the datagrams (RMCP, IPMB messages, session wrapping);
//! [`handshake`] opens IPMI 1.5 and RMCP+ sessions.

use std::fmt;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use rand::RngCore;

use super::crypto::{self, Rakp};
use crate::error::FenceError;

mod framing;
mod handshake;

pub use framing::completion_text;
use framing::*;

/// IPMI privilege levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// Callback.
    Callback = 1,
    /// User (enough for status only).
    User = 2,
    /// Operator (enough for chassis control).
    Operator = 3,
    /// Administrator.
    Administrator = 4,
}

/// IPMI 1.5 authentication types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// No authentication (the BMC accepts any password).
    None = 0,
    /// MD5 auth codes.
    Md5 = 2,
    /// The password in clear.
    Password = 4,
}

/// Which protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lan {
    /// IPMI 1.5 (`lan`); `None` picks the best the BMC offers (MD5, then password).
    V15 {
        /// Required authentication type.
        auth: Option<AuthType>,
    },
    /// RMCP+ (`lanplus`) with a cipher suite 0–3.
    V20 {
        /// Cipher suite id.
        cipher: u8,
    },
}

/// How to reach and log in to a BMC.
#[derive(Clone)]
pub struct SessionConfig {
    /// BMC address and port.
    pub addr: SocketAddr,
    /// User name (at most 16 bytes).
    pub username: String,
    /// Password (at most 16 bytes for IPMI 1.5, 20 for RMCP+).
    pub password: Vec<u8>,
    /// BMC key Kg for RMCP+ (`hexadecimal_kg`), at most 20 bytes.
    pub kg: Option<Vec<u8>>,
    /// Protocol.
    pub lan: Lan,
    /// Session privilege level.
    pub privilege: Privilege,
    /// Wait for a reply this long per attempt.
    pub timeout: Duration,
    /// Retransmissions after the first attempt.
    pub retries: u32,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("addr", &self.addr)
            .field("username", &self.username)
            .field("password", &"***")
            .field("kg", &self.kg.as_ref().map(|_| "***"))
            .field("lan", &self.lan)
            .field("privilege", &self.privilege)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish()
    }
}

#[derive(Debug)]
enum State {
    V15 {
        session_id: u32,
        seq: u32,
        auth: AuthType,
        password: [u8; 16],
        active: bool,
    },
    V20 {
        managed_id: u32,
        console_id: u32,
        seq: u32,
        k1: Option<[u8; 20]>,
        k2: Option<[u8; 20]>,
    },
}

/// An open IPMI session with one BMC.
#[derive(Debug)]
pub struct Session {
    socket: UdpSocket,
    addr: SocketAddr,
    timeout: Duration,
    retries: u32,
    rq_seq: u8,
    state: State,
    open: bool,
}

/// The socket and its retransmission policy.
#[derive(Clone, Copy)]
struct Link<'a> {
    socket: &'a UdpSocket,
    addr: SocketAddr,
    timeout: Duration,
    retries: u32,
}

/// Sends what `make` builds and waits for a datagram `accept` takes, retransmitting.
fn exchange<S, T>(
    link: Link<'_>,
    what: &str,
    st: &mut S,
    make: impl Fn(&mut S) -> Vec<u8>,
    accept: impl Fn(&mut S, &[u8]) -> Option<Result<T, FenceError>>,
) -> Result<T, FenceError> {
    let Link {
        socket,
        addr,
        timeout,
        retries,
    } = link;
    let unreachable = |e: std::io::Error| FenceError::Unreachable {
        addr: addr.to_string(),
        detail: e.to_string(),
    };
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    for _attempt in 0..=retries {
        let packet = make(st);
        socket.send(&packet).map_err(unreachable)?;
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            socket
                .set_read_timeout(Some(deadline - now))
                .map_err(unreachable)?;
            match socket.recv(&mut buf) {
                Ok(n) => {
                    if let Some(result) = accept(st, &buf[..n]) {
                        return result;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(unreachable(e)),
            }
        }
        tracing::debug!("No reply to {what} within {timeout:?}");
    }
    Err(FenceError::TimedOut {
        what: what.to_string(),
        after: started.elapsed(),
    })
}

impl Session {
    /// Connects to the BMC, performs the handshake and sets the session privilege.
    pub fn open(cfg: &SessionConfig) -> Result<Session, FenceError> {
        if cfg.username.len() > 16 {
            return Err(crate::ParamError::Invalid {
                name: "username".into(),
                reason: "IPMI user names are at most 16 bytes".into(),
            }
            .into());
        }
        let max_pw = if matches!(cfg.lan, Lan::V15 { .. }) {
            16
        } else {
            20
        };
        if cfg.password.len() > max_pw {
            return Err(crate::ParamError::Invalid {
                name: "password".into(),
                reason: format!("IPMI passwords are at most {max_pw} bytes for this protocol"),
            }
            .into());
        }
        let unreachable = |e: std::io::Error| FenceError::Unreachable {
            addr: cfg.addr.to_string(),
            detail: e.to_string(),
        };
        let local: SocketAddr = if cfg.addr.is_ipv4() {
            ([0u8; 4], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(local).map_err(unreachable)?;
        socket.connect(cfg.addr).map_err(unreachable)?;
        let mut password = [0u8; 16];
        let n = cfg.password.len().min(16);
        password[..n].copy_from_slice(&cfg.password[..n]);
        let mut s = Session {
            socket,
            addr: cfg.addr,
            timeout: cfg.timeout,
            retries: cfg.retries,
            rq_seq: rand::rng().next_u32() as u8 & 0x3f,
            state: State::V15 {
                session_id: 0,
                seq: 0,
                auth: AuthType::None,
                password,
                active: false,
            },
            open: false,
        };
        match cfg.lan {
            Lan::V15 { auth } => s.open_v15(cfg, auth)?,
            Lan::V20 { cipher } => s.open_v20(cfg, cipher)?,
        }
        s.open = true;
        // RMCP+ sessions start at the requested role already; IPMI 1.5 sessions start at
        // user level. Setting it explicitly works for both (ipmitool does the same).
        let reply = s.request(
            NETFN_APP,
            0x3b,
            &[cfg.privilege as u8],
            "Set Session Privilege Level",
        )?;
        if reply.cc != 0 {
            let detail = format!(
                "cannot raise the session to {:?}: {}",
                cfg.privilege,
                completion_text(reply.cc)
            );
            s.close();
            return Err(FenceError::AuthFailed { detail });
        }
        Ok(s)
    }

    fn request(
        &mut self,
        netfn: u8,
        cmd: u8,
        data: &[u8],
        what: &str,
    ) -> Result<LanResponse, FenceError> {
        self.rq_seq = (self.rq_seq + 1) & 0x3f;
        let msg = lan_message(netfn, cmd, self.rq_seq, data);
        let rq_seq = self.rq_seq;
        exchange(
            Link {
                socket: &self.socket,
                addr: self.addr,
                timeout: self.timeout,
                retries: self.retries,
            },
            what,
            &mut self.state,
            |st| Session::wrap(st, &msg),
            |st, d| {
                let m = Session::unwrap(st, d)?;
                let r = parse_lan_response(&m)?;
                (r.rq_seq == rq_seq && r.cmd == cmd && r.netfn == netfn + 1).then_some(Ok(r))
            },
        )
    }

    /// Sends a command and returns the reply data after the completion code; a nonzero
    /// completion code is [`FenceError::Refused`].
    pub fn command(
        &mut self,
        netfn: u8,
        cmd: u8,
        data: &[u8],
        what: &str,
    ) -> Result<Vec<u8>, FenceError> {
        let r = self.request(netfn, cmd, data, what)?;
        if r.cc != 0 {
            return Err(FenceError::Refused {
                what: what.to_string(),
                detail: completion_text(r.cc),
            });
        }
        Ok(r.data)
    }

    /// Closes the session (one attempt: the BMC frees it on its own timeout otherwise).
    pub fn close(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        let id = match &self.state {
            State::V15 { session_id, .. } => *session_id,
            State::V20 { managed_id, .. } => *managed_id,
        };
        let retries = std::mem::replace(&mut self.retries, 0);
        if let Err(e) = self.command(NETFN_APP, 0x3c, &id.to_le_bytes(), "Close Session") {
            tracing::debug!("Close Session: {e}");
        }
        self.retries = retries;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipmb_framing_round_trips_with_valid_checksums() {
        let m = lan_message(0x00, 0x01, 5, &[]);
        assert_eq!(m.len(), 7);
        assert_eq!(checksum(&m[..3]), 0);
        assert_eq!(checksum(&m[3..]), 0);
        // A reply as a BMC frames it.
        let mut r = vec![CONSOLE_ADDR, 0x01 << 2];
        r.push(checksum(&r));
        let mut tail = vec![BMC_ADDR, 5 << 2, 0x01, 0x00, 0x01, 0x00];
        tail.push(checksum(&tail));
        r.extend(tail);
        let parsed = parse_lan_response(&r).expect("parse");
        assert_eq!(
            (parsed.netfn, parsed.rq_seq, parsed.cmd, parsed.cc),
            (1, 5, 1, 0)
        );
        assert_eq!(parsed.data, vec![0x01, 0x00]);
        let mut bad = r.clone();
        bad[7] ^= 1;
        assert_eq!(parse_lan_response(&bad), None);
        assert_eq!(parse_lan_response(&r[..5]), None);
    }

    #[test]
    fn v20_packets_we_wrap_are_accepted_by_unwrap_only_with_the_right_keys() {
        let mut ours = State::V20 {
            managed_id: 9,
            console_id: 9,
            seq: 0,
            k1: Some([1; 20]),
            k2: Some([2; 20]),
        };
        let msg = lan_message(0, 1, 3, &[1, 2, 3]);
        let packet = Session::wrap(&mut ours, &msg);
        assert_eq!(
            (packet.len() - 4 - 12) % 4,
            0,
            "pad covers AuthType..Next Header"
        );
        assert_eq!(Session::unwrap(&ours, &packet), Some(msg.clone()));
        let other = State::V20 {
            managed_id: 9,
            console_id: 9,
            seq: 0,
            k1: Some([7; 20]),
            k2: Some([2; 20]),
        };
        assert_eq!(Session::unwrap(&other, &packet), None);
        let mut tampered = packet.clone();
        tampered[20] ^= 0x55;
        assert_eq!(Session::unwrap(&ours, &tampered), None);
        assert_eq!(Session::unwrap(&ours, &packet[..10]), None);
    }

    #[test]
    fn v15_md5_packets_are_checked() {
        let mut st = State::V15 {
            session_id: 7,
            seq: 1,
            auth: AuthType::Md5,
            password: [b'x'; 16],
            active: true,
        };
        let msg = lan_message(0, 1, 3, &[]);
        let packet = Session::wrap(&mut st, &msg);
        assert_eq!(Session::unwrap(&st, &packet), Some(msg));
        let wrong = State::V15 {
            session_id: 7,
            seq: 1,
            auth: AuthType::Md5,
            password: [b'y'; 16],
            active: true,
        };
        assert_eq!(Session::unwrap(&wrong, &packet), None);
    }

    #[test]
    fn a_silent_peer_times_out_after_every_retry() {
        let quiet = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = quiet.local_addr().expect("addr");
        let cfg = SessionConfig {
            addr,
            username: "u".into(),
            password: b"p".to_vec(),
            kg: None,
            lan: Lan::V20 { cipher: 3 },
            privilege: Privilege::Administrator,
            timeout: Duration::from_millis(50),
            retries: 2,
        };
        let t = Instant::now();
        let err = Session::open(&cfg).expect_err("nobody answers");
        assert!(matches!(err, FenceError::TimedOut { .. }), "{err:?}");
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(150) && took < Duration::from_secs(2),
            "{took:?}"
        );
        let mut buf = [0u8; 256];
        quiet.set_nonblocking(true).expect("nonblocking");
        let mut seen = 0;
        while quiet.recv(&mut buf).is_ok() {
            seen += 1;
        }
        assert_eq!(seen, 3, "one send and two retransmissions");
    }

    #[test]
    fn a_closed_port_is_unreachable_at_once() {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = s.local_addr().expect("addr");
        drop(s);
        let cfg = SessionConfig {
            addr,
            username: "u".into(),
            password: vec![],
            kg: None,
            lan: Lan::V15 { auth: None },
            privilege: Privilege::Operator,
            timeout: Duration::from_millis(500),
            retries: 3,
        };
        let err = Session::open(&cfg).expect_err("closed");
        assert!(matches!(err, FenceError::Unreachable { .. }), "{err:?}");
    }
}
