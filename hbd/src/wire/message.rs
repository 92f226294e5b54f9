//! The message model: an ordered list of named, typed fields (cluster-glue's `struct ha_msg`).
//!
//! Order matters on the wire: heartbeat's classic signature covers the fields in message order
//! and receivers re-render them in received order, so [`Message::set`] replaces a value in
//! place (like `ha_msg_mod`) and [`Message::add`] appends (like `ha_msg_add`).

use std::fmt;

/// cluster-glue's field type codes, as written in `(N)` prefixes.
pub mod type_code {
    /// `FT_STRING`: a C string.
    pub const STRING: u8 = 0;
    /// `FT_BINARY`: raw bytes (base64 in the classic text encoding).
    pub const BINARY: u8 = 1;
    /// `FT_STRUCT`: a nested message.
    pub const STRUCT: u8 = 2;
    /// `FT_LIST`: a packed string list.
    pub const LIST: u8 = 3;
    /// `FT_COMPRESS`: a compressed nested message.
    pub const COMPRESS: u8 = 4;
    /// `FT_UNCOMPRESS`: a nested message to be compressed when sent.
    pub const UNCOMPRESS: u8 = 5;
}

/// A field value.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// Type 0: text (no NUL; no newline if the message is to travel as classic text).
    Str(String),
    /// Type 1: bytes (`srcuuid`, `destuuid`, compressed payloads).
    Binary(Vec<u8>),
    /// Types 2..=9, kept as their encoded bytes so that a message passes through unchanged.
    /// v1 heartbeat traffic never carries them.
    Other {
        /// The type code (2..=9).
        type_code: u8,
        /// The value exactly as it appeared after `=` in the encoding it was decoded from.
        raw: Vec<u8>,
    },
}

impl Value {
    /// The cluster-glue type code of this value.
    pub fn type_code(&self) -> u8 {
        match self {
            Value::Str(_) => type_code::STRING,
            Value::Binary(_) => type_code::BINARY,
            Value::Other { type_code, .. } => *type_code,
        }
    }

    /// The text, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a binary value.
    pub fn as_binary(&self) -> Option<&[u8]> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Binary(b) => write!(f, "bin:{}", hex::encode(b)),
            Value::Other { type_code, raw } => {
                write!(f, "({type_code}):{:?}", String::from_utf8_lossy(raw))
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Binary(b)
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Value::Binary(b.to_vec())
    }
}

impl From<[u8; 16]> for Value {
    fn from(b: [u8; 16]) -> Self {
        Value::Binary(b.to_vec())
    }
}

/// One field: a name and a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The name (1..=255 bytes, no `=`, newline or NUL).
    pub name: String,
    /// The value.
    pub value: Value,
}

/// Why a field could not be read as the wanted type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The message has no such field.
    #[error("field `{name}` is missing")]
    Missing {
        /// The field name.
        name: String,
    },
    /// The field exists but does not hold what was asked for.
    #[error("field `{name}` holds {value:?}, expected {expected}")]
    Bad {
        /// The field name.
        name: String,
        /// The value found (binary shown as hex), at most 64 characters.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// An ordered list of fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    fields: Vec<Field>,
}

impl Message {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty message with room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            fields: Vec::with_capacity(n),
        }
    }

    /// The fields, in order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when the message has no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Appends a field, even if one of that name exists (`ha_msg_add`).
    pub fn add(&mut self, name: impl Into<String>, value: impl Into<Value>) -> &mut Self {
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Replaces the value of the first field of that name in place, or appends the field
    /// (`ha_msg_mod`).
    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> &mut Self {
        let value = value.into();
        match self.fields.iter_mut().find(|f| f.name == name) {
            Some(f) => f.value = value,
            None => self.fields.push(Field {
                name: name.to_owned(),
                value,
            }),
        }
        self
    }

    /// Removes every field of that name; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.fields.len();
        self.fields.retain(|f| f.name != name);
        before - self.fields.len()
    }

    /// True when a field of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The value of the first field of that name (`ha_msg_value` semantics).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| &f.value)
    }

    /// The first field of that name, if it is a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// The first field of that name, if it is binary.
    pub fn get_binary(&self, name: &str) -> Option<&[u8]> {
        self.get(name).and_then(Value::as_binary)
    }

    /// A required string field.
    pub fn require_str(&self, name: &str) -> Result<&str, FieldError> {
        match self.get(name) {
            None => Err(FieldError::Missing { name: name.into() }),
            Some(Value::Str(s)) => Ok(s),
            Some(v) => Err(bad(name, v, "a string")),
        }
    }

    /// A required field holding lower- or upper-case hex without `0x` (`seq`, `hg`, `ts`,
    /// `dt`, `ackseq`), as heartbeat writes with `%lx` and reads with `strtoul(.., 16)`.
    pub fn get_hex_u64(&self, name: &str) -> Result<u64, FieldError> {
        let s = self.require_str(name)?;
        parse_radix(s, 16).ok_or_else(|| bad(name, &Value::Str(s.into()), "a hex number"))
    }

    /// A required field holding a decimal number (`ttl`, `protocol`, rexmit `firstseq`).
    pub fn get_dec_u64(&self, name: &str) -> Result<u64, FieldError> {
        let s = self.require_str(name)?;
        parse_radix(s, 10).ok_or_else(|| bad(name, &Value::Str(s.into()), "a decimal number"))
    }

    /// A required binary field of exactly 16 bytes (a UUID).
    pub fn get_uuid(&self, name: &str) -> Result<[u8; 16], FieldError> {
        match self.get(name) {
            None => Err(FieldError::Missing { name: name.into() }),
            Some(v @ Value::Binary(b)) => {
                <[u8; 16]>::try_from(b.as_slice()).map_err(|_| bad(name, v, "16 bytes"))
            }
            Some(v) => Err(bad(name, v, "16 bytes")),
        }
    }
}

fn parse_radix(s: &str, radix: u32) -> Option<u64> {
    // `from_str_radix` accepts a leading `+`; heartbeat never writes one.
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(s, radix).ok()
}

fn bad(name: &str, v: &Value, expected: &'static str) -> FieldError {
    let mut value = format!("{v:?}");
    if value.len() > 64 {
        let mut cut = 64;
        while !value.is_char_boundary(cut) {
            cut -= 1;
        }
        value.truncate(cut);
    }
    FieldError::Bad {
        name: name.into(),
        value,
        expected,
    }
}

impl<'a> IntoIterator for &'a Message {
    type Item = &'a Field;
    type IntoIter = std::slice::Iter<'a, Field>;
    fn into_iter(self) -> Self::IntoIter {
        self.fields.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_in_place_and_add_appends() {
        let mut m = Message::new();
        m.add("t", "status").add("seq", "1").add("ttl", "3");
        m.set("seq", "2");
        m.set("auth", "1 ab");
        let names: Vec<_> = m.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["t", "seq", "ttl", "auth"]);
        assert_eq!(m.get_hex_u64("seq"), Ok(2));
        assert_eq!(m.remove("seq"), 1);
        assert!(matches!(
            m.get_hex_u64("seq"),
            Err(FieldError::Missing { .. })
        ));
    }

    #[test]
    fn numbers_are_strict() {
        let mut m = Message::new();
        m.add("hg", "6b06990c").add("bad", "+1").add("ttl", "3");
        assert_eq!(m.get_hex_u64("hg"), Ok(0x6b06990c));
        assert!(m.get_hex_u64("bad").is_err());
        assert_eq!(m.get_dec_u64("ttl"), Ok(3));
    }
}
