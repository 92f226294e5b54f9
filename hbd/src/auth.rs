//! Packet signing and verification per `authkeys` (heartbeat `HBauth` plugins).
//!
//! | method | digest | text form |
//! |---|---|---|
//! | `crc` | CRC-32/POSIX (poly 0x04C11DB7, MSB first, init 0, final complement, no length appended) | lower-case hex, no leading zeros (`%lx`) |
//! | `md5` | HMAC-MD5 (RFC 2104) keyed with the key's bytes | 32 lower-case hex digits |
//! | `sha1` | HMAC-SHA1 | 40 lower-case hex digits |
//! | `sha256` | HMAC-SHA256 (hbd only; heartbeat peers cannot verify it) | 64 lower-case hex digits |
//!
//! A signature travels as the token `"<key index> <digest>"`: as the netstring trailer, or
//! as the classic `auth` field. What each covers is in [`crate::wire`]. Every key in
//! `authkeys` verifies; the `auth N` key signs. Digests are compared in constant time.
//!
//! Heartbeat 3.0.6 quirk not reproduced: when verifying a *netstring* trailer it picks the
//! method by the packet's key index but feeds it the *signing* key's secret, so during a key
//! rollover its netstring packets signed with another index fail. We use the named key.

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

use crate::config::{AuthKeys, AuthMethod, KeyIndex};
use crate::wire::Rejected;

const CRC32_POSIX: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_CKSUM);

/// The digest of `data` under `method`, in heartbeat's text form.
pub fn digest(method: &AuthMethod, data: &[u8]) -> String {
    fn hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> String {
        // `new_from_slice` accepts keys of any length (long keys are hashed, RFC 2104).
        match <M as hmac::digest::KeyInit>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(data);
                hex::encode(mac.finalize().into_bytes())
            }
            Err(_) => String::new(),
        }
    }
    match method {
        AuthMethod::Crc => format!("{:x}", CRC32_POSIX.checksum(data)),
        AuthMethod::Md5(k) => hmac::<Hmac<md5::Md5>>(k.expose(), data),
        AuthMethod::Sha1(k) => hmac::<Hmac<sha1::Sha1>>(k.expose(), data),
        AuthMethod::Sha256(k) => hmac::<Hmac<sha2::Sha256>>(k.expose(), data),
    }
}

/// Signs with the `auth N` key and verifies with any key of an `authkeys`.
#[derive(Debug, Clone)]
pub struct Authenticator {
    signing: KeyIndex,
    signing_method: AuthMethod,
    /// Indexed by key number 0..=15.
    keys: [Option<AuthMethod>; 16],
}

/// The `authkeys` has no key for its `auth N` line (only possible for a hand-built
/// [`AuthKeys`]; the parser refuses such files).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("authkeys selects key {0} for signing but defines no such key")]
pub struct NoSigningKey(pub u8);

impl Authenticator {
    /// Builds from a parsed `authkeys`.
    pub fn new(keys: &AuthKeys) -> Result<Self, NoSigningKey> {
        let signing_method = keys
            .signing_key()
            .ok_or(NoSigningKey(keys.signing.get()))?
            .method
            .clone();
        let mut table: [Option<AuthMethod>; 16] = Default::default();
        for k in &keys.keys {
            table[usize::from(k.index.get())] = Some(k.method.clone());
        }
        Ok(Self {
            signing: keys.signing,
            signing_method,
            keys: table,
        })
    }

    /// The key index that signs.
    pub fn signing_index(&self) -> KeyIndex {
        self.signing
    }

    /// The signature token `"<index> <digest>"` of `data` with the signing key.
    pub fn sign(&self, data: &[u8]) -> String {
        format!("{} {}", self.signing, digest(&self.signing_method, data))
    }

    /// Checks a signature token `"<index> <digest>"` over `data`; returns the key index
    /// that verified it.
    pub fn verify(&self, data: &[u8], token: &[u8]) -> Result<KeyIndex, Rejected> {
        let (index, given) = split_token(token)?;
        let method = u8::try_from(index)
            .ok()
            .and_then(KeyIndex::new)
            .and_then(|i| self.keys[usize::from(i.get())].as_ref().map(|m| (i, m)));
        let Some((index, method)) = method else {
            return Err(Rejected::UnknownKey { index });
        };
        let expected = digest(method, data);
        if bool::from(expected.as_bytes().ct_eq(given)) {
            Ok(index)
        } else {
            Err(Rejected::BadSignature { index: index.get() })
        }
    }
}

/// Splits `"<decimal index> <digest>"`.
fn split_token(token: &[u8]) -> Result<(u32, &[u8]), Rejected> {
    let sp = token
        .iter()
        .position(|&b| b == b' ')
        .ok_or(Rejected::BadSignatureFormat)?;
    let (num, digest) = (&token[..sp], &token[sp + 1..]);
    if num.is_empty() || num.len() > 3 || !num.iter().all(u8::is_ascii_digit) {
        return Err(Rejected::BadSignatureFormat);
    }
    if digest.is_empty() || !digest.iter().all(u8::is_ascii_hexdigit) {
        return Err(Rejected::BadSignatureFormat);
    }
    let index = num.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    Ok((index, digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn crc_is_crc32_posix_without_length() {
        assert_eq!(digest(&AuthMethod::Crc, b"123456789"), "765e7680");
    }

    #[test]
    fn hmacs_match_rfc_vectors() {
        // RFC 2202 test case 2.
        let k = || Secret::new(b"Jefe".to_vec());
        let d = b"what do ya want for nothing?";
        assert_eq!(
            digest(&AuthMethod::Md5(k()), d),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert_eq!(
            digest(&AuthMethod::Sha1(k()), d),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        // RFC 4231 test case 2.
        assert_eq!(
            digest(&AuthMethod::Sha256(k()), d),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
