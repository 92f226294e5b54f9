//! The IPMI session cryptography, as pure functions over bytes: IPMI 1.5 MD5 auth codes,
//! and for RMCP+ (IPMI 2.0 section 13.28–13.32) the RAKP-HMAC-SHA1 key exchange codes, the
//! session keys (SIK, K1, K2), HMAC-SHA1-96 integrity and AES-CBC-128 confidentiality.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// HMAC-SHA1 of the concatenation of `parts` under `key`.
pub fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = match HmacSha1::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 20],
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time comparison.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// IPMI 1.5 MD5 auth code: MD5(password ‖ session id ‖ message ‖ session seq ‖ password),
/// with the password zero-padded to 16 bytes and the numbers little-endian.
pub fn md5_authcode(password: &[u8; 16], session_id: u32, message: &[u8], seq: u32) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(password);
    h.update(session_id.to_le_bytes());
    h.update(message);
    h.update(seq.to_le_bytes());
    h.update(password);
    h.finalize().into()
}

/// The values both sides of a RAKP exchange hash.
#[derive(Debug, Clone)]
pub struct Rakp<'a> {
    /// Remote console (our) session id, SIDm.
    pub console_id: u32,
    /// Managed system (BMC) session id, SIDc.
    pub managed_id: u32,
    /// Our random number, Rm.
    pub rm: [u8; 16],
    /// The BMC's random number, Rc.
    pub rc: [u8; 16],
    /// The BMC's GUID, GUIDc.
    pub guid: [u8; 16],
    /// Requested role byte (privilege | name-only lookup bit), ROLEm.
    pub role: u8,
    /// User name, UNAMEm.
    pub username: &'a [u8],
}

impl Rakp<'_> {
    fn ulen(&self) -> [u8; 1] {
        // User names are at most 16 bytes (checked when the session is configured).
        [self.username.len().min(255) as u8]
    }

    /// The key exchange auth code the BMC must send in RAKP 2, under Kuid.
    pub fn rakp2_code(&self, kuid: &[u8]) -> [u8; 20] {
        hmac_sha1(
            kuid,
            &[
                &self.console_id.to_le_bytes(),
                &self.managed_id.to_le_bytes(),
                &self.rm,
                &self.rc,
                &self.guid,
                &[self.role],
                &self.ulen(),
                self.username,
            ],
        )
    }

    /// The key exchange auth code we send in RAKP 3, under Kuid.
    pub fn rakp3_code(&self, kuid: &[u8]) -> [u8; 20] {
        hmac_sha1(
            kuid,
            &[
                &self.rc,
                &self.console_id.to_le_bytes(),
                &[self.role],
                &self.ulen(),
                self.username,
            ],
        )
    }

    /// The session integrity key, under Kg (the BMC key, or Kuid when none is set).
    pub fn sik(&self, kg: &[u8]) -> [u8; 20] {
        hmac_sha1(
            kg,
            &[
                &self.rm,
                &self.rc,
                &[self.role],
                &self.ulen(),
                self.username,
            ],
        )
    }

    /// The integrity check value the BMC must send in RAKP 4 (HMAC-SHA1-96 under SIK).
    pub fn rakp4_icv(&self, sik: &[u8; 20]) -> [u8; 12] {
        let full = hmac_sha1(sik, &[&self.rm, &self.managed_id.to_le_bytes(), &self.guid]);
        let mut icv = [0; 12];
        icv.copy_from_slice(&full[..12]);
        icv
    }
}

/// K1 (integrity key) and K2 (confidentiality key) from SIK.
pub fn session_keys(sik: &[u8; 20]) -> ([u8; 20], [u8; 20]) {
    (hmac_sha1(sik, &[&[1u8; 20]]), hmac_sha1(sik, &[&[2u8; 20]]))
}

/// HMAC-SHA1-96 auth code of a session packet (from AuthType through Next Header).
pub fn integrity_code(k1: &[u8; 20], data: &[u8]) -> [u8; 12] {
    let full = hmac_sha1(k1, &[data]);
    let mut code = [0; 12];
    code.copy_from_slice(&full[..12]);
    code
}

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// AES-CBC-128 payload: IV ‖ E(data ‖ pad 1,2,…,n ‖ n), key = K2[..16].
pub fn encrypt(k2: &[u8; 20], iv: [u8; 16], data: &[u8]) -> Vec<u8> {
    let pad = (16 - (data.len() + 1) % 16) % 16;
    let mut buf = data.to_vec();
    buf.extend((1..=pad).map(|i| i as u8));
    buf.push(pad as u8);
    let mut key = [0u8; 16];
    key.copy_from_slice(&k2[..16]);
    let mut enc = Aes128CbcEnc::new(&key.into(), &iv.into());
    for block in buf.chunks_exact_mut(16) {
        enc.encrypt_block_mut(block.into());
    }
    let mut out = iv.to_vec();
    out.extend(buf);
    out
}

/// Reverses [`encrypt`]; `None` if the payload is malformed.
pub fn decrypt(k2: &[u8; 20], payload: &[u8]) -> Option<Vec<u8>> {
    if payload.len() < 32 || !payload.len().is_multiple_of(16) {
        return None;
    }
    let (iv, body) = payload.split_at(16);
    let mut key = [0u8; 16];
    key.copy_from_slice(&k2[..16]);
    let mut iv16 = [0u8; 16];
    iv16.copy_from_slice(iv);
    let mut dec = Aes128CbcDec::new(&key.into(), &iv16.into());
    let mut buf = body.to_vec();
    for block in buf.chunks_exact_mut(16) {
        dec.decrypt_block_mut(block.into());
    }
    let pad = usize::from(*buf.last()?);
    if pad + 1 > buf.len() {
        return None;
    }
    buf.truncate(buf.len() - pad - 1);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha1_matches_rfc_2202_case_2() {
        let code = hmac_sha1(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        let hex: String = code.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }

    #[test]
    fn aes_payloads_round_trip_at_every_length() {
        let k2 = [7u8; 20];
        for len in 0..40 {
            let data: Vec<u8> = (0..len as u8).collect();
            let enc = encrypt(&k2, [3; 16], &data);
            assert_eq!(enc.len() % 16, 0);
            assert_eq!(decrypt(&k2, &enc), Some(data));
        }
        assert_eq!(decrypt(&k2, &[0; 15]), None);
    }

    #[test]
    fn the_rakp_codes_depend_on_the_password() {
        let r = Rakp {
            console_id: 1,
            managed_id: 2,
            rm: [1; 16],
            rc: [2; 16],
            guid: [3; 16],
            role: 0x14,
            username: b"admin",
        };
        assert_ne!(r.rakp2_code(b"right"), r.rakp2_code(b"wrong"));
        assert!(ct_eq(&r.rakp3_code(b"x"), &r.rakp3_code(b"x")));
        let sik = r.sik(b"x");
        let (k1, k2) = session_keys(&sik);
        assert_ne!(k1, k2);
    }

    #[test]
    fn md5_authcode_covers_every_field() {
        let pw = [0u8; 16];
        let a = md5_authcode(&pw, 1, b"msg", 1);
        assert_ne!(a, md5_authcode(&pw, 2, b"msg", 1));
        assert_ne!(a, md5_authcode(&pw, 1, b"msg", 2));
        assert_ne!(a, md5_authcode(&pw, 1, b"msh", 1));
    }
}
