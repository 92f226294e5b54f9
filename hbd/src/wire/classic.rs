//! The classic text encoding (cluster-glue `msg2string`/`string2msg`): heartbeat's serial
//! media, its FIFO and scripts, and pre-1.0.10 cluster-glue on UDP.
//!
//! ```text
//! >>>\n
//! t=status\n                       string fields: name=value
//! (1)srcuuid=rrf5C7QQTuWLgeKsieOtUg==\n   other types: (type)name=<text form>, binary as base64
//! auth=1 <hexdigest>\n
//! <<<\n
//! \0                               the NUL ends the datagram (length = strlen + 1)
//! ```
//!
//! The `auth` field signs [`auth_text`]: every other field rendered the same way, in order,
//! without the `>>>`/`<<<` lines.

use base64::Engine as _;

use super::error::{EncodeError, Rejected};
use super::message::{type_code, Message, Value};
use super::{check_name, MAX_MSG};

/// Start marker.
pub const START: &[u8] = b">>>\n";
/// End marker.
pub const END: &[u8] = b"<<<\n";
/// The field that carries the classic signature.
pub const AUTH_FIELD: &str = "auth";

fn push_field(out: &mut Vec<u8>, name: &str, value: &Value) -> Result<(), EncodeError> {
    check_name(name)?;
    let bad = || EncodeError::BadValue { name: name.into() };
    if value.type_code() != type_code::STRING {
        out.push(b'(');
        out.push(b'0' + value.type_code());
        out.push(b')');
    }
    out.extend_from_slice(name.as_bytes());
    out.push(b'=');
    match value {
        Value::Str(s) => {
            if s.bytes().any(|b| b == b'\n' || b == 0) {
                return Err(bad());
            }
            out.extend_from_slice(s.as_bytes());
        }
        Value::Binary(b) => {
            let start = out.len();
            out.resize(start + b.len().div_ceil(3) * 4, 0);
            let n = base64::engine::general_purpose::STANDARD
                .encode_slice(b, &mut out[start..])
                .map_err(|_| bad())?;
            out.truncate(start + n);
        }
        Value::Other { raw, .. } => {
            if raw.iter().any(|&b| b == b'\n' || b == 0) {
                return Err(bad());
            }
            out.extend_from_slice(raw);
        }
    }
    out.push(b'\n');
    Ok(())
}

/// Encodes `msg` as classic text, with the terminating NUL that goes on the wire.
pub fn encode(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    if msg.is_empty() {
        return Err(EncodeError::Empty);
    }
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(START);
    for f in msg {
        push_field(&mut out, &f.name, &f.value)?;
    }
    out.extend_from_slice(END);
    out.push(0);
    Ok(out)
}

/// The bytes the classic `auth` field signs: every field but `auth`, one `name=value\n` line
/// each, no markers (heartbeat `add_msg_auth`/`isauthentic`).
pub fn auth_text(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(256);
    for f in msg {
        if f.name != AUTH_FIELD {
            push_field(&mut out, &f.name, &f.value)?;
        }
    }
    Ok(out)
}

/// Parses a classic text message (signature not checked). A trailing NUL is accepted.
pub fn parse(buf: &[u8]) -> Result<Message, Rejected> {
    parse_with_limit(buf, MAX_MSG)
}

/// Like [`parse`], with another size limit (`MAXUNCOMPRESSED` for decompressed messages).
pub fn parse_with_limit(buf: &[u8], max: usize) -> Result<Message, Rejected> {
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
        // Blank lines are skipped, as cluster-glue does.
        while buf.get(pos) == Some(&b'\n') {
            pos += 1;
        }
        let rest = &buf[pos..];
        if rest.starts_with(END) {
            pos += END.len();
            break;
        }
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(Rejected::Truncated)?;
        line(&mut message, &rest[..nl], pos)?;
        pos += nl + 1;
    }
    let tail = &buf[pos..];
    if !(tail.is_empty() || tail == [0]) {
        return Err(Rejected::TrailingBytes { count: tail.len() });
    }
    Ok(message)
}

fn line(message: &mut Message, line: &[u8], offset: usize) -> Result<(), Rejected> {
    let malformed = |what| Rejected::Malformed { offset, what };
    let (ty, rest) = match line {
        [b'(', t @ b'1'..=b'9', b')', rest @ ..] => (t - b'0', rest),
        [b'(', ..] => return Err(malformed("bad `(type)` prefix")),
        _ => (type_code::STRING, line),
    };
    let eq = rest
        .iter()
        .position(|&b| b == b'=')
        .ok_or(malformed("line has no `=`"))?;
    if eq == 0 || eq > super::MAX_NAME_LEN {
        return Err(malformed("field name empty or longer than 255 bytes"));
    }
    let name = std::str::from_utf8(&rest[..eq])
        .ok()
        .filter(|n| !n.bytes().any(|b| b == 0) && !n.starts_with(">>>"))
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
        type_code::BINARY => Value::Binary(
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|_| Rejected::BadBase64 {
                    field: name.to_owned(),
                })?,
        ),
        t => Value::Other {
            type_code: t,
            raw: raw.to_vec(),
        },
    };
    message.add(name, value);
    Ok(())
}
