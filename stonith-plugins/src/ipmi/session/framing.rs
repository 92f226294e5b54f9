//! The datagrams of an IPMI over LAN session: the RMCP header, IPMB messages and their
//! checksums, completion and RMCP+ status texts, and wrapping a message for the session
//! state (IPMI 1.5 auth codes, RMCP+ integrity and confidentiality).

use super::*;

pub(super) const RMCP_HEADER: [u8; 4] = [0x06, 0x00, 0xff, 0x07];
pub(super) const BMC_ADDR: u8 = 0x20;
pub(super) const CONSOLE_ADDR: u8 = 0x81;
pub(super) const NETFN_APP: u8 = 0x06;
pub(super) const AUTH_RMCP_PLUS: u8 = 0x06;

pub(super) const PT_IPMI: u8 = 0x00;
pub(super) const PT_OPEN_REQ: u8 = 0x10;
pub(super) const PT_OPEN_RSP: u8 = 0x11;
pub(super) const PT_RAKP1: u8 = 0x12;
pub(super) const PT_RAKP2: u8 = 0x13;
pub(super) const PT_RAKP3: u8 = 0x14;
pub(super) const PT_RAKP4: u8 = 0x15;

pub(super) fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |a, b| a.wrapping_add(*b))
        .wrapping_neg()
}

/// An IPMB-framed request to the BMC.
pub(super) fn lan_message(netfn: u8, cmd: u8, rq_seq: u8, data: &[u8]) -> Vec<u8> {
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
pub(super) struct LanResponse {
    pub(super) netfn: u8,
    pub(super) rq_seq: u8,
    pub(super) cmd: u8,
    pub(super) cc: u8,
    pub(super) data: Vec<u8>,
}

pub(super) fn parse_lan_response(m: &[u8]) -> Option<LanResponse> {
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

pub(super) fn rmcp_plus_status_text(code: u8) -> &'static str {
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

pub(super) fn rmcp_plus_error(step: &str, code: u8) -> FenceError {
    let detail = format!("{step}: {} (0x{code:02x})", rmcp_plus_status_text(code));
    match code {
        0x09 | 0x0a | 0x0d | 0x0e | 0x0f => FenceError::AuthFailed { detail },
        _ => FenceError::Refused {
            what: step.to_string(),
            detail,
        },
    }
}

pub(super) fn protocol(detail: impl Into<String>) -> FenceError {
    FenceError::Protocol {
        detail: detail.into(),
    }
}

/// The common head of an RMCP+ handshake reply (Open Session, RAKP 2, RAKP 4): our message
/// tag, status 0, our console session id, at least `min_len` bytes. `None`: not the reply
/// this step waits for (ignored, as a stray datagram); `Some(Err)`: the BMC refused or sent
/// garbage, named by `malformed`.
pub(super) fn handshake_reply<'a>(
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
pub(super) fn suite(cipher: u8) -> Option<(u8, u8, u8)> {
    match cipher {
        0 => Some((0, 0, 0)),
        1 => Some((1, 0, 0)),
        2 => Some((1, 1, 0)),
        3 => Some((1, 1, 1)),
        _ => None,
    }
}

impl Session {
    /// Wraps an IPMI message for the current session state (advancing the sequence).
    pub(super) fn wrap(state: &mut State, msg: &[u8]) -> Vec<u8> {
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
    pub(super) fn unwrap(state: &State, d: &[u8]) -> Option<Vec<u8>> {
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
}
