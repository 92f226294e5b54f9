//! The wire layer: heartbeat 3.0.6's message model and its two encodings, with signatures
//! and compression, byte-compatible with cluster-glue 1.0.12.
//!
//! [`Message`] is an ordered list of typed fields. [`encode`] turns one into a signed
//! datagram, [`decode`] turns a datagram back into a verified message. Both are pure: no I/O,
//! no clock. What is signed (checked against packets captured from heartbeat 3.0.6):
//!
//! * **netstring** (what heartbeat sends on UDP since cluster-glue 1.0.10): the digest
//!   covers every byte from `###\n` through `%%%\n`; the token `"<index> <hex>"` follows as
//!   one more netstring. See [`netstring`].
//! * **classic** text: the `auth` field holds the token; its digest covers every other
//!   field rendered as `name=value\n` (binary `(1)name=<base64>\n`), in message order,
//!   without the `>>>`/`<<<` lines. See [`classic`].
//!
//! Heartbeat (with its default `msgfmt classic`) adds the classic `auth` field *and* the
//! netstring trailer to every UDP packet; receivers check only the trailer of netstring
//! packets. [`EncodeOptions::default`] does the same, so our packets are byte-identical to
//! heartbeat's for the same fields.
//!
//! Compressed messages ([`compress`]) are recognised on decode whatever the local settings,
//! and produced by [`encode`] when [`EncodeOptions::compression`] is set and the message is
//! over the threshold, or in any case when it would exceed [`MAX_MSG`].

pub mod classic;
pub mod compress;
pub mod error;
pub mod message;
pub mod netstring;

pub use compress::Algorithm;
pub use error::{EncodeError, Rejected};
pub use message::{Field, FieldError, Message, Value};

use crate::auth::Authenticator;
use crate::config::KeyIndex;

/// `MAXMSG`: the largest datagram, 256 KiB.
pub const MAX_MSG: usize = 256 * 1024;
/// `MAXUNCOMPRESSED`: the largest message once decompressed, 2 MiB.
pub const MAX_UNCOMPRESSED: usize = 2 * 1024 * 1024;
/// The longest field name.
pub const MAX_NAME_LEN: usize = 255;

/// The two encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// `###\n` netstrings with a signature trailer (heartbeat's UDP format).
    #[default]
    Netstring,
    /// `>>>\n` text lines with an `auth` field and a final NUL (serial links).
    Classic,
}

/// A verified incoming message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The message (decompressed if it came compressed).
    pub message: Message,
    /// The outer encoding.
    pub format: Format,
    /// The key that verified it.
    pub key: KeyIndex,
    /// The algorithm, if it came compressed.
    pub compressed: Option<Algorithm>,
}

/// When to compress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressOptions {
    /// The algorithm (`compression` in `ha.cf`).
    pub algorithm: Algorithm,
    /// Compress messages whose netstring encoding is longer than this many bytes
    /// (`compression_threshold`, in KiB in `ha.cf`). Messages that would not fit in
    /// [`MAX_MSG`] are compressed whatever the threshold.
    pub threshold: usize,
}

/// How [`encode`] encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// The encoding. Heartbeat sends netstring on UDP, classic text on serial links.
    pub format: Format,
    /// Also add (or replace) the classic `auth` field inside netstring messages, as heartbeat
    /// 3.0.6 does. Classic messages always carry it.
    pub classic_auth: bool,
    /// Compression; `None` sends uncompressed and fails on messages over [`MAX_MSG`].
    pub compression: Option<CompressOptions>,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            format: Format::Netstring,
            classic_auth: true,
            compression: None,
        }
    }
}

/// Checks a field name: 1..=255 bytes, no `=`, newline or NUL, no `(` first.
pub(crate) fn check_name(name: &str) -> Result<(), EncodeError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('(')
        && !name.starts_with(">>>")
        && !name.bytes().any(|b| b == b'=' || b == b'\n' || b == 0);
    if ok {
        Ok(())
    } else {
        Err(EncodeError::BadName { name: name.into() })
    }
}

/// Adds (or replaces in place) the classic `auth` field of `msg`, signed with the signing key.
pub fn sign_classic(msg: &mut Message, auth: &Authenticator) -> Result<(), EncodeError> {
    let text = classic::auth_text(msg)?;
    msg.set(classic::AUTH_FIELD, auth.sign(&text));
    Ok(())
}

/// Encodes and signs `msg` for the wire.
pub fn encode(
    msg: &Message,
    auth: &Authenticator,
    opts: &EncodeOptions,
) -> Result<Vec<u8>, EncodeError> {
    let signed;
    let msg = if opts.classic_auth || opts.format == Format::Classic {
        let mut m = msg.clone();
        sign_classic(&mut m, auth)?;
        signed = m;
        &signed
    } else {
        msg
    };
    let len = netstring::body_len(msg);
    if let Some(c) = opts.compression {
        if len > c.threshold || len + 64 >= MAX_MSG {
            let wrapped = compress::wrap(msg, c.algorithm)?;
            return encode_netstring(&wrapped, auth);
        }
    }
    match opts.format {
        Format::Netstring => encode_netstring(msg, auth),
        Format::Classic => {
            let out = classic::encode(msg)?;
            if out.len() > MAX_MSG {
                return Err(EncodeError::TooLarge {
                    len: out.len(),
                    max: MAX_MSG,
                });
            }
            Ok(out)
        }
    }
}

fn encode_netstring(msg: &Message, auth: &Authenticator) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    netstring::encode_body(msg, &mut out)?;
    let token = auth.sign(&out);
    netstring::push_trailer(&mut out, &token);
    // cluster-glue refuses when body + 64 bytes of room for the signature reach MAXMSG.
    if out.len() >= MAX_MSG {
        return Err(EncodeError::TooLarge {
            len: out.len(),
            max: MAX_MSG,
        });
    }
    Ok(out)
}

/// Parses a datagram of either encoding without checking its signature or expanding it.
pub fn parse_unverified(packet: &[u8]) -> Result<(Message, Format), Rejected> {
    if packet.starts_with(classic::START) {
        Ok((classic::parse(packet)?, Format::Classic))
    } else if packet.starts_with(netstring::START) {
        Ok((netstring::parse(packet)?.message, Format::Netstring))
    } else if packet.len() < 4
        && (classic::START.starts_with(packet) || netstring::START.starts_with(packet))
    {
        Err(Rejected::Truncated)
    } else {
        Err(Rejected::NoStartMarker)
    }
}

/// Decodes a datagram: parses it (dispatching on its first 4 bytes, as cluster-glue's
/// `wirefmt2msg`), verifies its signature against every key of `authkeys`, and expands it if
/// it is compressed.
pub fn decode(packet: &[u8], auth: &Authenticator) -> Result<Decoded, Rejected> {
    if packet.len() > MAX_MSG {
        return Err(Rejected::TooLarge {
            len: packet.len(),
            max: MAX_MSG,
        });
    }
    let (message, format, key) = if packet.starts_with(netstring::START) {
        let parsed = netstring::parse(packet)?;
        let token = parsed.trailer.ok_or(Rejected::Unsigned)?;
        let key = auth.verify(&packet[..parsed.body_len], token)?;
        (parsed.message, Format::Netstring, key)
    } else if packet.starts_with(classic::START) {
        let message = classic::parse(packet)?;
        let token = message
            .get_str(classic::AUTH_FIELD)
            .ok_or(Rejected::Unsigned)?;
        let text = classic::auth_text(&message).map_err(|_| Rejected::Malformed {
            offset: 0,
            what: "message cannot be re-rendered for its signature",
        })?;
        let key = auth.verify(&text, token.as_bytes())?;
        (message, Format::Classic, key)
    } else {
        return parse_unverified(packet).and(Err(Rejected::NoStartMarker));
    };
    if compress::is_compressed(&message) {
        let (inner, algorithm) = compress::unwrap(&message)?;
        return Ok(Decoded {
            message: inner,
            format,
            key,
            compressed: Some(algorithm),
        });
    }
    Ok(Decoded {
        message,
        format,
        key,
        compressed: None,
    })
}
