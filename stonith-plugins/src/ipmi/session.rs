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

use std::fmt;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use rand::RngCore;

use super::crypto::{self, Rakp};
use crate::error::FenceError;

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

const RMCP_HEADER: [u8; 4] = [0x06, 0x00, 0xff, 0x07];
const BMC_ADDR: u8 = 0x20;
const CONSOLE_ADDR: u8 = 0x81;
const NETFN_APP: u8 = 0x06;
const AUTH_RMCP_PLUS: u8 = 0x06;

const PT_IPMI: u8 = 0x00;
const PT_OPEN_REQ: u8 = 0x10;
const PT_OPEN_RSP: u8 = 0x11;
const PT_RAKP1: u8 = 0x12;
const PT_RAKP2: u8 = 0x13;
const PT_RAKP3: u8 = 0x14;
const PT_RAKP4: u8 = 0x15;

fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |a, b| a.wrapping_add(*b))
        .wrapping_neg()
}

/// An IPMB-framed request to the BMC.
fn lan_message(netfn: u8, cmd: u8, rq_seq: u8, data: &[u8]) -> Vec<u8> {
    let mut m = vec![BMC_ADDR, netfn << 2];
    m.push(checksum(&m));
    let start = m.len();
    m.extend([CONSOLE_ADDR, rq_seq << 2, cmd]);
    m.extend_from_slice(data);
    let c = checksum(&m[start..]);
    m.push(c);
    m
}

/// A response as the BMC framed it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LanResponse {
    netfn: u8,
    rq_seq: u8,
    cmd: u8,
    cc: u8,
    data: Vec<u8>,
}

fn parse_lan_response(m: &[u8]) -> Option<LanResponse> {
    if m.len() < 8 || checksum(&m[..3]) != 0 || checksum(&m[3..]) != 0 {
        return None;
    }
    Some(LanResponse {
        netfn: m[1] >> 2,
        rq_seq: m[4] >> 2,
        cmd: m[5],
        cc: m[6],
        data: m[7..m.len() - 1].to_vec(),
    })
}

/// The text of a completion code.
pub fn completion_text(cc: u8) -> String {
    let text = match cc {
        0xc0 => "node busy",
        0xc1 => "invalid command",
        0xc3 => "timeout while processing command",
        0xc7 | 0xc8 => "request data length invalid",
        0xc9 => "parameter out of range",
        0xcc => "invalid data field in request",
        0xcd => "command illegal for this sensor or record type",
        0xce => "command response could not be provided",
        0xd4 => "insufficient privilege level (raise privlvl or the user's limit)",
        0xd5 => "command not supported in present state",
        0xd6 => "command sub-function disabled or unavailable",
        0xff => "unspecified error",
        _ => "",
    };
    if text.is_empty() {
        format!("completion code 0x{cc:02x}")
    } else {
        format!("{text} (completion code 0x{cc:02x})")
    }
}

fn rmcp_plus_status_text(code: u8) -> &'static str {
    match code {
        0x01 => "insufficient resources to create a session",
        0x02 => "invalid session id",
        0x03 => "invalid payload type",
        0x04 => "invalid authentication algorithm",
        0x05 => "invalid integrity algorithm",
        0x06 => "no matching authentication payload",
        0x07 => "no matching integrity payload",
        0x08 => "inactive session id",
        0x09 => "invalid role",
        0x0a => "unauthorized role or privilege level requested",
        0x0b => "insufficient resources to create a session at the requested role",
        0x0c => "invalid name length",
        0x0d => "unauthorized name (unknown user)",
        0x0e => "unauthorized GUID",
        0x0f => "invalid integrity check value (wrong password or BMC key)",
        0x10 => "invalid confidentiality algorithm",
        0x11 => "no cipher suite match with proposed security algorithms",
        0x12 => "illegal or unrecognized parameter",
        _ => "unknown RMCP+ status",
    }
}

fn rmcp_plus_error(step: &str, code: u8) -> FenceError {
    let detail = format!("{step}: {} (0x{code:02x})", rmcp_plus_status_text(code));
    match code {
        0x09 | 0x0a | 0x0d | 0x0e | 0x0f => FenceError::AuthFailed { detail },
        _ => FenceError::Refused {
            what: step.to_string(),
            detail,
        },
    }
}

fn protocol(detail: impl Into<String>) -> FenceError {
    FenceError::Protocol {
        detail: detail.into(),
    }
}

/// The common head of an RMCP+ handshake reply (Open Session, RAKP 2, RAKP 4): our message
/// tag, status 0, our console session id, at least `min_len` bytes. `None`: not the reply
/// this step waits for (ignored, as a stray datagram); `Some(Err)`: the BMC refused or sent
/// garbage, named by `malformed`.
fn handshake_reply<'a>(
    p: &'a [u8],
    tag: u8,
    step: &str,
    malformed: &str,
    console_id: u32,
    min_len: usize,
) -> Option<Result<&'a [u8], FenceError>> {
    if p.len() < 2 || p[0] != tag {
        return None;
    }
    if p[1] != 0 {
        return Some(Err(rmcp_plus_error(step, p[1])));
    }
    if p.len() < min_len.max(8) || p[4..8] != console_id.to_le_bytes() {
        return Some(Err(protocol(malformed)));
    }
    Some(Ok(p))
}

/// The algorithms of cipher suites 0–3.
fn suite(cipher: u8) -> Option<(u8, u8, u8)> {
    match cipher {
        0 => Some((0, 0, 0)),
        1 => Some((1, 0, 0)),
        2 => Some((1, 1, 0)),
        3 => Some((1, 1, 1)),
        _ => None,
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

    fn open_v15(&mut self, cfg: &SessionConfig, want: Option<AuthType>) -> Result<(), FenceError> {
        // Get Channel Authentication Capabilities (current channel, our privilege).
        let caps = self.command(
            NETFN_APP,
            0x38,
            &[0x0e, cfg.privilege as u8],
            "Get Channel Authentication Capabilities",
        )?;
        if caps.len() < 3 {
            return Err(protocol(
                "short Get Channel Authentication Capabilities reply",
            ));
        }
        let offered = caps[1];
        let per_message_auth_off = caps[2] & 0x10 != 0;
        let supports = |a: AuthType| offered & (1 << (a as u8)) != 0;
        let auth = match want {
            Some(a) if supports(a) => a,
            Some(a) => {
                return Err(FenceError::Refused {
                    what: "IPMI 1.5 login".into(),
                    detail: format!("the BMC does not allow auth type {a:?} (offers mask 0x{offered:02x})"),
                })
            }
            None => [AuthType::Md5, AuthType::Password, AuthType::None]
                .into_iter()
                .find(|a| supports(*a))
                .ok_or_else(|| FenceError::Refused {
                    what: "IPMI 1.5 login".into(),
                    detail: format!("no auth type we support (md5, password, none) is offered (mask 0x{offered:02x})"),
                })?,
        };
        // Get Session Challenge.
        let mut data = vec![auth as u8];
        let mut name = [0u8; 16];
        name[..cfg.username.len()].copy_from_slice(cfg.username.as_bytes());
        data.extend(name);
        let reply = self.request(NETFN_APP, 0x39, &data, "Get Session Challenge")?;
        match reply.cc {
            0 => {}
            0x81 => {
                return Err(FenceError::AuthFailed {
                    detail: "unknown user name".into(),
                })
            }
            0x82 => {
                return Err(FenceError::AuthFailed {
                    detail: "null user name not enabled".into(),
                })
            }
            cc => {
                return Err(FenceError::Refused {
                    what: "Get Session Challenge".into(),
                    detail: completion_text(cc),
                })
            }
        }
        if reply.data.len() < 20 {
            return Err(protocol("short Get Session Challenge reply"));
        }
        let temp_id =
            u32::from_le_bytes([reply.data[0], reply.data[1], reply.data[2], reply.data[3]]);
        // Activate Session, authenticated with the password.
        if let State::V15 {
            session_id,
            auth: a,
            seq,
            ..
        } = &mut self.state
        {
            *session_id = temp_id;
            *a = auth;
            *seq = 0;
        }
        let outbound_seq = (rand::rng().next_u32() | 1).to_le_bytes();
        let mut data = vec![auth as u8, cfg.privilege as u8];
        data.extend_from_slice(&reply.data[4..20]);
        data.extend(outbound_seq);
        let reply =
            match self.request(NETFN_APP, 0x3a, &data, "Activate Session") {
                // The BMC answered the challenge, so it is there: a BMC drops an Activate
                // Session whose auth code is wrong without a word.
                Err(FenceError::TimedOut { .. }) => return Err(FenceError::AuthFailed {
                    detail:
                        "the BMC ignored Activate Session (it drops requests with a wrong password)"
                            .into(),
                }),
                r => r?,
            };
        if reply.cc != 0 {
            let detail = match reply.cc {
                0x81 => "no session slot available".to_string(),
                0x82 => "no slot available for this user".to_string(),
                0x83 => "no slot available at this privilege level".to_string(),
                0x86 => {
                    "requested privilege level exceeds the user's limit (lower privlvl)".to_string()
                }
                cc => completion_text(cc),
            };
            return Err(if reply.cc == 0x86 {
                FenceError::AuthFailed { detail }
            } else {
                FenceError::Refused {
                    what: "Activate Session".into(),
                    detail,
                }
            });
        }
        if reply.data.len() < 10 {
            return Err(protocol("short Activate Session reply"));
        }
        let d = &reply.data;
        if let State::V15 {
            session_id,
            seq,
            auth: a,
            active,
            ..
        } = &mut self.state
        {
            *session_id = u32::from_le_bytes([d[1], d[2], d[3], d[4]]);
            *seq = u32::from_le_bytes([d[5], d[6], d[7], d[8]]);
            *active = true;
            if per_message_auth_off {
                *a = AuthType::None;
            }
        }
        Ok(())
    }

    fn open_v20(&mut self, cfg: &SessionConfig, cipher: u8) -> Result<(), FenceError> {
        let (auth_alg, integ_alg, conf_alg) =
            suite(cipher).ok_or_else(|| crate::ParamError::Invalid {
                name: "cipher".into(),
                reason: format!(
                    "cipher suite {cipher} is not supported (0, 1, 2 or 3; 3 is the usual)"
                ),
            })?;
        let mut rng = rand::rng();
        let console_id = rng.next_u32() | 1;
        let priv_byte = cfg.privilege as u8;
        let link = Link {
            socket: &self.socket,
            addr: self.addr,
            timeout: self.timeout,
            retries: self.retries,
        };

        let wrap = |ptype: u8, payload: &[u8]| {
            let mut p = RMCP_HEADER.to_vec();
            p.extend([AUTH_RMCP_PLUS, ptype, 0, 0, 0, 0, 0, 0, 0, 0]);
            p.extend((payload.len() as u16).to_le_bytes());
            p.extend_from_slice(payload);
            p
        };
        // Returns the payload of an unauthenticated RMCP+ packet of type `want`.
        fn plain(dgram: &[u8], want: u8) -> Option<&[u8]> {
            if dgram.len() < 16 || dgram[..4] != RMCP_HEADER || dgram[4] != AUTH_RMCP_PLUS {
                return None;
            }
            if dgram[5] & 0x3f != want {
                return None;
            }
            let len = usize::from(u16::from_le_bytes([dgram[14], dgram[15]]));
            dgram.get(16..16 + len)
        }

        // Open Session.
        let mut open = vec![0u8, priv_byte, 0, 0];
        open.extend(console_id.to_le_bytes());
        open.extend([0x00, 0, 0, 0x08, auth_alg, 0, 0, 0]);
        open.extend([0x01, 0, 0, 0x08, integ_alg, 0, 0, 0]);
        open.extend([0x02, 0, 0, 0x08, conf_alg, 0, 0, 0]);
        let open_packet = wrap(PT_OPEN_REQ, &open);
        let managed_id = exchange(
            link,
            "RMCP+ Open Session",
            &mut (),
            |_| open_packet.clone(),
            |_, d| {
                let p = match handshake_reply(
                    plain(d, PT_OPEN_RSP)?,
                    0x00,
                    "RMCP+ Open Session",
                    "malformed RMCP+ Open Session response",
                    console_id,
                    36,
                )? {
                    Ok(p) => p,
                    Err(e) => return Some(Err(e)),
                };
                if p[16] != auth_alg || p[24] != integ_alg || p[32] != conf_alg {
                    return Some(Err(protocol(
                        "the BMC chose other algorithms than cipher suite asked for",
                    )));
                }
                Some(Ok(u32::from_le_bytes([p[8], p[9], p[10], p[11]])))
            },
        )?;

        // RAKP 1 / 2.
        let mut rm = [0u8; 16];
        rng.fill_bytes(&mut rm);
        let role = priv_byte | 0x10; // name-only lookup
        let user = cfg.username.as_bytes();
        let mut r1 = vec![0x01u8, 0, 0, 0];
        r1.extend(managed_id.to_le_bytes());
        r1.extend(rm);
        r1.extend([role, 0, 0, user.len() as u8]);
        r1.extend_from_slice(user);
        let r1_packet = wrap(PT_RAKP1, &r1);
        let kuid = cfg.password.clone();
        let (rc, guid) = exchange(
            link,
            "RAKP 2",
            &mut (),
            |_| r1_packet.clone(),
            |_, d| {
                let code_len = if auth_alg == 1 { 20 } else { 0 };
                let p = match handshake_reply(
                    plain(d, PT_RAKP2)?,
                    0x01,
                    "RAKP 2",
                    "malformed RAKP 2",
                    console_id,
                    40 + code_len,
                )? {
                    Ok(p) => p,
                    Err(e) => return Some(Err(e)),
                };
                let mut rc = [0u8; 16];
                rc.copy_from_slice(&p[8..24]);
                let mut guid = [0u8; 16];
                guid.copy_from_slice(&p[24..40]);
                if auth_alg == 1 {
                    let rakp = Rakp {
                        console_id,
                        managed_id,
                        rm,
                        rc,
                        guid,
                        role,
                        username: user,
                    };
                    if !crypto::ct_eq(&rakp.rakp2_code(&kuid), &p[40..60]) {
                        return Some(Err(FenceError::AuthFailed {
                            detail: "the BMC's RAKP 2 proof does not match our password (wrong password)".into(),
                        }));
                    }
                }
                Some(Ok((rc, guid)))
            },
        )?;

        // RAKP 3 / 4.
        let rakp = Rakp {
            console_id,
            managed_id,
            rm,
            rc,
            guid,
            role,
            username: user,
        };
        let mut r3 = vec![0x02u8, 0, 0, 0];
        r3.extend(managed_id.to_le_bytes());
        let (k1, k2) = if auth_alg == 1 {
            r3.extend(rakp.rakp3_code(&kuid));
            let sik = rakp.sik(cfg.kg.as_deref().unwrap_or(&kuid));
            let (k1, k2) = crypto::session_keys(&sik);
            (Some((k1, sik)), Some(k2))
        } else {
            (None, None)
        };
        let r3_packet = wrap(PT_RAKP3, &r3);
        exchange(
            link,
            "RAKP 4",
            &mut (),
            |_| r3_packet.clone(),
            |_, d| {
                let p = match handshake_reply(
                    plain(d, PT_RAKP4)?,
                    0x02,
                    "RAKP 4",
                    "malformed RAKP 4",
                    console_id,
                    8,
                )? {
                    Ok(p) => p,
                    Err(e) => return Some(Err(e)),
                };
                if let Some((_, sik)) = &k1 {
                    let icv = rakp.rakp4_icv(sik);
                    if p.len() < 20 || !crypto::ct_eq(&icv, &p[8..20]) {
                        return Some(Err(FenceError::AuthFailed {
                            detail: "the BMC's RAKP 4 check value is wrong (wrong BMC key hexadecimal_kg?)".into(),
                        }));
                    }
                }
                Some(Ok(()))
            },
        )?;
        self.state = State::V20 {
            managed_id,
            console_id,
            seq: 0,
            k1: if integ_alg == 1 {
                k1.map(|(k, _)| k)
            } else {
                None
            },
            k2: if conf_alg == 1 { k2 } else { None },
        };
        Ok(())
    }

    /// Wraps an IPMI message for the current session state (advancing the sequence).
    fn wrap(state: &mut State, msg: &[u8]) -> Vec<u8> {
        let mut p = RMCP_HEADER.to_vec();
        match state {
            State::V15 {
                session_id,
                seq,
                auth,
                password,
                active,
            } => {
                if *active {
                    *seq = seq.wrapping_add(1);
                }
                p.push(*auth as u8);
                p.extend(seq.to_le_bytes());
                p.extend(session_id.to_le_bytes());
                match auth {
                    AuthType::None => {}
                    AuthType::Md5 => {
                        p.extend(crypto::md5_authcode(password, *session_id, msg, *seq))
                    }
                    AuthType::Password => p.extend(*password),
                }
                p.push(msg.len() as u8);
                p.extend_from_slice(msg);
            }
            State::V20 {
                managed_id,
                seq,
                k1,
                k2,
                ..
            } => {
                *seq = seq.wrapping_add(1).max(1);
                let start = p.len();
                let mut ptype = PT_IPMI;
                let payload = match k2 {
                    Some(k2) => {
                        ptype |= 0x80;
                        let mut iv = [0u8; 16];
                        rand::rng().fill_bytes(&mut iv);
                        crypto::encrypt(k2, iv, msg)
                    }
                    None => msg.to_vec(),
                };
                if k1.is_some() {
                    ptype |= 0x40;
                }
                p.extend([AUTH_RMCP_PLUS, ptype]);
                p.extend(managed_id.to_le_bytes());
                p.extend(seq.to_le_bytes());
                p.extend((payload.len() as u16).to_le_bytes());
                p.extend(payload);
                if let Some(k1) = k1 {
                    // Integrity pad so AuthType..Next Header is a multiple of 4 bytes.
                    let body = p.len() - start + 2;
                    let pad = (4 - body % 4) % 4;
                    p.extend(std::iter::repeat_n(0xffu8, pad));
                    p.push(pad as u8);
                    p.push(0x07);
                    let code = crypto::integrity_code(k1, &p[start..]);
                    p.extend(code);
                }
            }
        }
        p
    }

    /// Extracts the IPMI message from a datagram of the current session; `None` if it is
    /// not one (a stray or forged datagram is ignored, not fatal).
    fn unwrap(state: &State, d: &[u8]) -> Option<Vec<u8>> {
        if d.len() < 14 || d[..4] != RMCP_HEADER {
            return None;
        }
        match state {
            State::V15 { password, .. } => {
                let auth = d[4];
                let seq = u32::from_le_bytes([d[5], d[6], d[7], d[8]]);
                let sid = u32::from_le_bytes([d[9], d[10], d[11], d[12]]);
                let (code, rest) = if auth == AuthType::None as u8 {
                    (None, &d[13..])
                } else if auth == AuthType::Md5 as u8 || auth == AuthType::Password as u8 {
                    (Some(d.get(13..29)?), d.get(29..)?)
                } else {
                    return None;
                };
                let len = usize::from(*rest.first()?);
                let msg = rest.get(1..1 + len)?;
                match code {
                    Some(c) if auth == AuthType::Md5 as u8 => {
                        crypto::ct_eq(c, &crypto::md5_authcode(password, sid, msg, seq))
                            .then_some(())?
                    }
                    Some(c) => crypto::ct_eq(c, password).then_some(())?,
                    None => {}
                }
                Some(msg.to_vec())
            }
            State::V20 {
                console_id, k1, k2, ..
            } => {
                if d.len() < 16 || d[4] != AUTH_RMCP_PLUS || d[5] & 0x3f != PT_IPMI {
                    return None;
                }
                let encrypted = d[5] & 0x80 != 0;
                let authenticated = d[5] & 0x40 != 0;
                if encrypted != k2.is_some() || authenticated != k1.is_some() {
                    return None;
                }
                if d[6..10] != console_id.to_le_bytes() {
                    return None;
                }
                let len = usize::from(u16::from_le_bytes([d[14], d[15]]));
                let payload = d.get(16..16 + len)?;
                if let Some(k1) = k1 {
                    if d.len() < 16 + len + 2 + 12 {
                        return None;
                    }
                    let (signed, code) = d[4..].split_at(d.len() - 4 - 12);
                    if !crypto::ct_eq(&crypto::integrity_code(k1, signed), code) {
                        return None;
                    }
                }
                match k2 {
                    Some(k2) => crypto::decrypt(k2, payload),
                    None => Some(payload.to_vec()),
                }
            }
        }
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
