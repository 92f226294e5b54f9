//! Why a packet was rejected, and why a message could not be encoded.

/// Why a received packet was dropped. Every variant is untrusted input, never a bug of ours;
/// the caller counts them (heartbeat logs "netstring authentication failed" or "node [x]
/// failed authentication" for the signature cases).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// Larger than `MAXMSG` (256 KiB) on the wire, or than `MAXUNCOMPRESSED` (2 MiB) once
    /// decompressed.
    #[error("{len} bytes is more than the {max}-byte limit")]
    TooLarge {
        /// Size seen (or the limit + 1 when decompression was stopped).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Neither `>>>\n` (classic) nor `###\n` (netstring): not a heartbeat packet.
    #[error("not a heartbeat message: starts with neither `>>>` nor `###`")]
    NoStartMarker,
    /// The packet ends before the message does (cut short, or the end marker is missing).
    #[error("packet ends inside the message (truncated)")]
    Truncated,
    /// A field or frame does not follow the encoding.
    #[error("malformed message at byte {offset}: {what}")]
    Malformed {
        /// Byte offset in the (decompressed) message.
        offset: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// A string field is not UTF-8 or contains NUL.
    #[error("field `{field}` is not a valid string")]
    BadString {
        /// The field name (lossy).
        field: String,
    },
    /// A binary field in classic text is not valid base64.
    #[error("field `{field}` is not valid base64")]
    BadBase64 {
        /// The field name.
        field: String,
    },
    /// Bytes follow the end of the message (or its signature).
    #[error("{count} unexpected bytes after the end of the message")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// No signature: no netstring trailer, or no `auth` field in a classic message.
    #[error("unsigned message")]
    Unsigned,
    /// The signature is not `<index> <hexdigest>`.
    #[error("malformed signature")]
    BadSignatureFormat,
    /// The signature names a key index that our `authkeys` does not define.
    #[error("signed with key {index}, which authkeys does not define")]
    UnknownKey {
        /// The key index in the packet.
        index: u32,
    },
    /// The digest does not match: forged, altered, or signed with another key.
    #[error("bad signature (key {index}): forged, altered, or a different key")]
    BadSignature {
        /// The key index in the packet.
        index: u8,
    },
    /// A `_compressed_payload` that cannot be expanded.
    #[error("compressed message: {what}")]
    Decompress {
        /// What went wrong.
        what: String,
    },
}

/// Why a message could not be encoded: a misuse by our own code, never untrusted input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message has no field (cluster-glue refuses those too).
    #[error("cannot encode an empty message")]
    Empty,
    /// A field name is empty, longer than 255 bytes, or contains `=`, a newline or NUL.
    #[error("invalid field name {name:?}")]
    BadName {
        /// The name.
        name: String,
    },
    /// A string value contains NUL (or a newline, for the classic text encoding).
    #[error("field `{name}`: value cannot be carried by this encoding")]
    BadValue {
        /// The field name.
        name: String,
    },
    /// The encoding would exceed `MAXMSG` and compression is off or does not help.
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The encoded size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The compressor failed.
    #[error("compression failed: {what}")]
    Compress {
        /// What went wrong.
        what: String,
    },
}
