//! The netstring encoding (cluster-glue `cl_netstring.c`), the one heartbeat 3.0.6 sends on
//! every UDP medium:
//!
//! ```text
//! ###\n                              start marker
//! 11:(0)t=status,                    one netstring per field: <len>:(<type>)<name>=<value>,
//! 27:(1)srcuuid=<16 raw bytes>,      <len> counts the bytes between `:` and `,`
//! %%%\n                              end marker
//! 42:1 5db5...c0d6,                  signature: netstring of "<key index> <hex digest>"
//! ```
//!
//! The digest covers every byte from `###\n` through `%%%\n` inclusive (checked against
//! packets captured from heartbeat 3.0.6). Values are raw (binary too); every field carries
//! its `(type)` prefix, strings included.

use super::error::{EncodeError, Rejected};
use super::message::{type_code, Message, Value};
use super::{check_name, MAX_MSG};

/// Start marker.
pub const START: &[u8] = b"###\n";
/// End marker.
pub const END: &[u8] = b"%%%\n";

/// The encoded length of a message body (markers included, signature excluded), as
/// cluster-glue's `get_netstringlen`.
pub fn body_len(msg: &Message) -> usize {
    let mut total = START.len() + END.len();
    for f in msg {
        let inner = 3 + f.name.len() + 1 + raw_value(&f.value).len();
        total += digits(inner) + 1 + inner + 1;
    }
    total
}

fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn raw_value(v: &Value) -> &[u8] {
    match v {
        Value::Str(s) => s.as_bytes(),
        Value::Binary(b) => b,
        Value::Other { raw, .. } => raw,
    }
}

/// Appends the body (`###\n` .. `%%%\n`) of `msg` to `out`: the bytes a signature covers.
pub fn encode_body(msg: &Message, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if msg.is_empty() {
        return Err(EncodeError::Empty);
    }
    out.reserve(body_len(msg) + 64);
    out.extend_from_slice(START);
    for f in msg {
        check_name(&f.name)?;
        let raw = raw_value(&f.value);
        if let Value::Str(s) = &f.value {
            if s.as_bytes().contains(&0) {
                return Err(EncodeError::BadValue {
                    name: f.name.clone(),
                });
            }
        }
        let inner = 3 + f.name.len() + 1 + raw.len();
        push_decimal(out, inner);
        out.extend_from_slice(b":(");
        out.push(b'0' + f.value.type_code());
        out.push(b')');
        out.extend_from_slice(f.name.as_bytes());
        out.push(b'=');
        out.extend_from_slice(raw);
        out.push(b',');
    }
    out.extend_from_slice(END);
    Ok(())
}

/// Appends the signature netstring `<len>:<index> <digest>,`.
pub fn push_trailer(out: &mut Vec<u8>, token: &str) {
    push_decimal(out, token.len());
    out.push(b':');
    out.extend_from_slice(token.as_bytes());
    out.push(b',');
}

fn push_decimal(out: &mut Vec<u8>, n: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// A parsed netstring packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The fields.
    pub message: Message,
    /// Length of the signed part (`###\n` through `%%%\n`).
    pub body_len: usize,
    /// The signature token (`<index> <hex>`), if the packet has one.
    pub trailer: Option<&'a [u8]>,
}

/// Reads one netstring at `pos`: returns its payload and the position after its `,`.
fn peel(buf: &[u8], pos: usize) -> Result<(&[u8], usize), Rejected> {
    let mut i = pos;
    while i < buf.len() && buf[i].is_ascii_digit() {
        i += 1;
        if i - pos > 7 {
            return Err(Rejected::Malformed {
                offset: pos,
                what: "netstring length too long",
            });
        }
    }
    if i == pos {
        return Err(if pos >= buf.len() {
            Rejected::Truncated
        } else {
            Rejected::Malformed {
                offset: pos,
                what: "expected a netstring length",
            }
        });
    }
    let len: usize = std::str::from_utf8(&buf[pos..i])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(Rejected::Malformed {
            offset: pos,
            what: "bad netstring length",
        })?;
    match buf.get(i) {
        None => return Err(Rejected::Truncated),
        Some(b':') => {}
        Some(_) => {
            return Err(Rejected::Malformed {
                offset: i,
                what: "expected `:` after the netstring length",
            })
        }
    }
    let start = i + 1;
    let end = start.checked_add(len).ok_or(Rejected::Truncated)?;
    match buf.get(end) {
        None => Err(Rejected::Truncated),
        Some(b',') => Ok((&buf[start..end], end + 1)),
        Some(_) => Err(Rejected::Malformed {
            offset: end,
            what: "netstring not closed by `,`",
        }),
    }
}

/// Parses a netstring packet (without checking its signature).
pub fn parse(buf: &[u8]) -> Result<Parsed<'_>, Rejected> {
    parse_with_limit(buf, MAX_MSG)
}

/// Like [`parse`], with another size limit (`MAXUNCOMPRESSED` for decompressed messages).
pub fn parse_with_limit(buf: &[u8], max: usize) -> Result<Parsed<'_>, Rejected> {
    if buf.len() > max {
        return Err(Rejected::TooLarge {
            len: buf.len(),
            max,
        });
    }
    if !buf.starts_with(START) {
        return Err(if START.starts_with(buf) {
            Rejected::Truncated
        } else {
            Rejected::NoStartMarker
        });
    }
    let mut pos = START.len();
    let mut message = Message::with_capacity(12);
    loop {
        if buf[pos..].starts_with(END) {
            break;
        }
        if pos >= buf.len() || END.starts_with(&buf[pos..]) {
            return Err(Rejected::Truncated);
        }
        let (payload, next) = peel(buf, pos)?;
        field(&mut message, payload, pos)?;
        pos = next;
    }
    let body_len = pos + END.len();
    if body_len == buf.len() {
        return Ok(Parsed {
            message,
            body_len,
            trailer: None,
        });
    }
    let (token, next) = peel(buf, body_len)?;
    if next != buf.len() {
        return Err(Rejected::TrailingBytes {
            count: buf.len() - next,
        });
    }
    Ok(Parsed {
        message,
        body_len,
        trailer: Some(token),
    })
}

fn field(message: &mut Message, payload: &[u8], offset: usize) -> Result<(), Rejected> {
    let malformed = |what| Rejected::Malformed { offset, what };
    let (ty, rest) = match payload {
        [b'(', t @ b'0'..=b'9', b')', rest @ ..] => (t - b'0', rest),
        _ => return Err(malformed("field does not start with `(type)`")),
    };
    let eq = rest
        .iter()
        .position(|&b| b == b'=')
        .ok_or(malformed("field has no `=`"))?;
    if eq == 0 || eq > super::MAX_NAME_LEN {
        return Err(malformed("field name empty or longer than 255 bytes"));
    }
    let name = std::str::from_utf8(&rest[..eq])
        .ok()
        .filter(|n| !n.bytes().any(|b| b == 0 || b == b'\n'))
        .ok_or(malformed("field name is not valid text"))?;
    let raw = &rest[eq + 1..];
    let value = match ty {
        type_code::STRING => match std::str::from_utf8(raw) {
            Ok(s) if !raw.contains(&0) => Value::Str(s.to_owned()),
            _ => {
                return Err(Rejected::BadString {
                    field: name.to_owned(),
                })
            }
        },
        type_code::BINARY => Value::Binary(raw.to_vec()),
        t => Value::Other {
            type_code: t,
            raw: raw.to_vec(),
        },
    };
    message.add(name, value);
    Ok(())
}
