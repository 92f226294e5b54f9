//! Heartbeat's "traditional" whole-message compression (cluster-glue `cl_compress.c`).
//!
//! The whole message is encoded without signature (classic text with its NUL, as heartbeat
//! with the default `msgfmt classic` does), compressed, and sent as a new two-field message,
//! signed like any other:
//!
//! ```text
//! (1)_compressed_payload=<compressed bytes>
//! (0)_compression_algorithm=bz2            (or zlib)
//! ```
//!
//! bz2 is `BZ2_bzBuffToBuffCompress(.., blockSize100k 1, verbosity 0, workFactor 30)`; zlib is
//! `compress()` (zlib format, default level). The receiver expands the payload (at most
//! `MAXUNCOMPRESSED`, 2 MiB) and decodes the inner message without checking a signature: the
//! outer signature covers the compressed bytes.

use std::io::{Read, Write};

use super::error::{EncodeError, Rejected};
use super::message::Message;
use super::{classic, netstring, MAX_UNCOMPRESSED};

/// The binary field holding the compressed message.
pub const PAYLOAD_FIELD: &str = "_compressed_payload";
/// The string field naming the algorithm.
pub const ALGORITHM_FIELD: &str = "_compression_algorithm";

/// A compression plugin of heartbeat (`compression` in `ha.cf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `bz2` (heartbeat's default plugin).
    Bz2,
    /// `zlib`.
    Zlib,
}

impl Algorithm {
    /// The plugin name, as in `ha.cf` and on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Bz2 => "bz2",
            Algorithm::Zlib => "zlib",
        }
    }

    /// The algorithm of that plugin name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "bz2" => Some(Algorithm::Bz2),
            "zlib" => Some(Algorithm::Zlib),
            _ => None,
        }
    }
}

/// Compresses bytes as heartbeat's plugin does.
pub fn compress_bytes(algorithm: Algorithm, data: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let err = |e: std::io::Error| EncodeError::Compress {
        what: e.to_string(),
    };
    match algorithm {
        Algorithm::Bz2 => {
            let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(1));
            enc.write_all(data).map_err(err)?;
            enc.finish().map_err(err)
        }
        Algorithm::Zlib => {
            let mut enc =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).map_err(err)?;
            enc.finish().map_err(err)
        }
    }
}

/// Expands bytes, refusing more than `limit` bytes of output.
pub fn decompress_bytes(
    algorithm: Algorithm,
    data: &[u8],
    limit: usize,
) -> Result<Vec<u8>, Rejected> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    let cap = limit as u64 + 1;
    let res = match algorithm {
        Algorithm::Bz2 => bzip2::read::BzDecoder::new(data)
            .take(cap)
            .read_to_end(&mut out),
        Algorithm::Zlib => flate2::read::ZlibDecoder::new(data)
            .take(cap)
            .read_to_end(&mut out),
    };
    res.map_err(|e| Rejected::Decompress {
        what: format!("{}: {e}", algorithm.name()),
    })?;
    if out.len() > limit {
        return Err(Rejected::TooLarge {
            len: out.len(),
            max: limit,
        });
    }
    Ok(out)
}

/// Wraps `msg` into its compressed two-field form.
pub fn wrap(msg: &Message, algorithm: Algorithm) -> Result<Message, EncodeError> {
    let inner = classic::encode(msg)?;
    if inner.len() > MAX_UNCOMPRESSED {
        return Err(EncodeError::TooLarge {
            len: inner.len(),
            max: MAX_UNCOMPRESSED,
        });
    }
    let payload = compress_bytes(algorithm, &inner)?;
    let mut out = Message::with_capacity(2);
    out.add(PAYLOAD_FIELD, payload)
        .add(ALGORITHM_FIELD, algorithm.name());
    Ok(out)
}

/// True when `msg` is a compressed wrapper (has a binary `_compressed_payload`).
pub fn is_compressed(msg: &Message) -> bool {
    msg.get_binary(PAYLOAD_FIELD).is_some()
}

/// Expands a compressed wrapper into the message it carries (one level only).
pub fn unwrap(msg: &Message) -> Result<(Message, Algorithm), Rejected> {
    let bad = |what: &str| Rejected::Decompress { what: what.into() };
    let payload = msg
        .get_binary(PAYLOAD_FIELD)
        .ok_or_else(|| bad("no binary _compressed_payload"))?;
    let name = msg
        .get_str(ALGORITHM_FIELD)
        .ok_or_else(|| bad("no _compression_algorithm"))?;
    let algorithm = Algorithm::from_name(name)
        .ok_or_else(|| bad("unknown algorithm (heartbeat knows bz2 and zlib)"))?;
    let bytes = decompress_bytes(algorithm, payload, MAX_UNCOMPRESSED)?;
    let inner = if bytes.starts_with(netstring::START) {
        netstring::parse_with_limit(&bytes, MAX_UNCOMPRESSED)?.message
    } else {
        classic::parse_with_limit(&bytes, MAX_UNCOMPRESSED)?
    };
    if is_compressed(&inner) {
        return Err(bad("compressed message inside a compressed message"));
    }
    Ok((inner, algorithm))
}
