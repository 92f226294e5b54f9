//! SNMP parameters with fence-agents' names (`snmp_version`, `community`, `snmp_sec_level`,
//! `snmp_auth_prot`, `snmp_priv_prot`, `snmp_priv_passwd`, ...), and the [`SnmpSettings`]
//! built from them.
//!
//! Secrets (the community, the v3 passphrases) are [`ParamSpec::secret`]: they never reach
//! a log line or an error. fence-agents' habit of guessing the security level from which
//! passwords are given is kept (a v3 user with a password and a privacy passphrase is
//! authPriv), but an explicit `snmp_sec_level` that the passwords cannot satisfy is an
//! error, where net-snmp would try and time out.

use std::time::Duration;

use crate::error::{FenceError, ParamError};
use crate::params::{ParamSpec, ParamType, Params};

/// The SNMP parameters of the switch plugins (the common ones come from
/// [`crate::params::COMMON`]: `ip`, `ipport`, `username`, `password`, ...).
pub const SNMP_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "snmp_version",
        ParamType::Select(&["1", "2c", "3"]),
        "Specifies SNMP version to use",
    )
    .short('d')
    .default("2c"),
    ParamSpec::new(
        "community",
        ParamType::String,
        "Set the community string (SNMP v1/v2c)",
    )
    .short('c')
    .default("private")
    .secret(),
    ParamSpec::new(
        "snmp_sec_level",
        ParamType::Select(&["noauthnopriv", "authnopriv", "authpriv"]),
        "Set security level (SNMP v3; default from the passwords given)",
    )
    .short('E'),
    ParamSpec::new(
        "snmp_auth_prot",
        ParamType::Select(&["md5", "sha", "sha224", "sha256", "sha384", "sha512"]),
        "Set authentication protocol (SNMP v3)",
    )
    .short('b')
    .default("sha"),
    ParamSpec::new(
        "snmp_priv_prot",
        ParamType::Select(&["des", "aes", "aes192", "aes256"]),
        "Set privacy protocol (SNMP v3)",
    )
    .short('B')
    .default("aes"),
    ParamSpec::new(
        "snmp_priv_passwd",
        ParamType::String,
        "Set privacy protocol password (SNMP v3)",
    )
    .short('P')
    .secret(),
    ParamSpec::new(
        "snmp_priv_passwd_script",
        ParamType::String,
        "Script to run to retrieve privacy password",
    )
    .short('R'),
    ParamSpec::new(
        "snmp_timeout",
        ParamType::Second,
        "Wait X seconds for each SNMP reply before retransmitting",
    )
    .default("1"),
    ParamSpec::new(
        "snmp_retries",
        ParamType::Integer,
        "Retransmissions of an unanswered SNMP request",
    )
    .default("2"),
    ParamSpec::new(
        "inet4_only",
        ParamType::Boolean,
        "Forces agent to use IPv4 addresses only",
    )
    .short('4'),
    ParamSpec::new(
        "inet6_only",
        ParamType::Boolean,
        "Forces agent to use IPv6 addresses only",
    )
    .short('6'),
];

/// SNMPv3 authentication protocol (HMAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProtocol {
    /// HMAC-MD5-96.
    Md5,
    /// HMAC-SHA-96.
    Sha1,
    /// HMAC-SHA-224 (RFC 7860).
    Sha224,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-384.
    Sha384,
    /// HMAC-SHA-512.
    Sha512,
}

/// SNMPv3 privacy protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivProtocol {
    /// CBC-DES.
    Des,
    /// CFB-AES-128 (RFC 3826).
    Aes128,
    /// CFB-AES-192 (key extension as net-snmp).
    Aes192,
    /// CFB-AES-256 (key extension as net-snmp).
    Aes256,
}

/// SNMPv3 user-based security.
#[derive(Clone, PartialEq, Eq)]
pub struct V3Security {
    /// The user (`username`).
    pub user: String,
    /// Authentication: protocol and passphrase (`password`), none for noAuthNoPriv.
    pub auth: Option<(AuthProtocol, String)>,
    /// Privacy: protocol and passphrase (`snmp_priv_passwd`), none for authNoPriv.
    pub privacy: Option<(PrivProtocol, String)>,
}

impl std::fmt::Debug for V3Security {
    /// Passphrases are never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V3Security")
            .field("user", &self.user)
            .field("auth", &self.auth.as_ref().map(|(p, _)| p))
            .field("privacy", &self.privacy.as_ref().map(|(p, _)| p))
            .finish()
    }
}

/// Who we are to the agent.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// SNMP v1 with a community.
    V1(String),
    /// SNMP v2c with a community.
    V2c(String),
    /// SNMP v3 (USM).
    V3(V3Security),
}

impl std::fmt::Debug for Credentials {
    /// Communities are never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::V1(_) => f.write_str("V1(***)"),
            Credentials::V2c(_) => f.write_str("V2c(***)"),
            Credentials::V3(s) => s.fmt(f),
        }
    }
}

/// Address family restriction (`inet4_only`, `inet6_only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Any.
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

/// How to talk to every switch of a device (each switch is a host; they share these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnmpSettings {
    /// UDP port (`ipport`, default 161).
    pub port: u16,
    /// Version and credentials.
    pub credentials: Credentials,
    /// Wait this long for each reply (`snmp_timeout`).
    pub timeout: Duration,
    /// Retransmit an unanswered request this many times (`snmp_retries`).
    pub retries: u32,
    /// Address family.
    pub family: Family,
}

fn invalid(name: &str, reason: &str) -> ParamError {
    ParamError::Invalid {
        name: name.into(),
        reason: reason.into(),
    }
}

impl SnmpSettings {
    /// Reads the settings from validated parameters.
    pub fn from_params(p: &Params) -> Result<SnmpSettings, FenceError> {
        let port = p.integer("ipport")?.unwrap_or(161);
        let port = u16::try_from(port).map_err(|_| invalid("ipport", "not a UDP port"))?;
        let credentials = match p.get("snmp_version").unwrap_or("2c") {
            "1" => Credentials::V1(p.get("community").unwrap_or("private").to_string()),
            "3" => Credentials::V3(v3_security(p)?),
            _ => Credentials::V2c(p.get("community").unwrap_or("private").to_string()),
        };
        let timeout = p.seconds("snmp_timeout")?.unwrap_or(Duration::from_secs(1));
        if timeout.is_zero() {
            return Err(invalid("snmp_timeout", "must be more than 0 seconds").into());
        }
        let family = match (p.flag("inet4_only"), p.flag("inet6_only")) {
            (true, true) => {
                return Err(
                    invalid("inet6_only", "inet4_only and inet6_only exclude each other").into(),
                )
            }
            (true, false) => Family::V4,
            (false, true) => Family::V6,
            (false, false) => Family::Any,
        };
        Ok(SnmpSettings {
            port,
            credentials,
            timeout,
            retries: p.integer("snmp_retries")?.unwrap_or(2),
            family,
        })
    }
}

fn v3_security(p: &Params) -> Result<V3Security, ParamError> {
    let user = p
        .get("username")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ParamError::Missing {
            name: "username".into(),
        })?
        .to_string();
    let password = p.get("password").filter(|s| !s.is_empty());
    let privacy = p.get("snmp_priv_passwd").filter(|s| !s.is_empty());
    let level = match p.get("snmp_sec_level") {
        Some(l) => l.to_string(),
        None if privacy.is_some() => "authpriv".into(),
        None if password.is_some() => "authnopriv".into(),
        None => "noauthnopriv".into(),
    };
    let auth_prot = match p.get("snmp_auth_prot").unwrap_or("sha") {
        "md5" => AuthProtocol::Md5,
        "sha224" => AuthProtocol::Sha224,
        "sha256" => AuthProtocol::Sha256,
        "sha384" => AuthProtocol::Sha384,
        "sha512" => AuthProtocol::Sha512,
        _ => AuthProtocol::Sha1,
    };
    let priv_prot = match p.get("snmp_priv_prot").unwrap_or("aes") {
        "des" => PrivProtocol::Des,
        "aes192" => PrivProtocol::Aes192,
        "aes256" => PrivProtocol::Aes256,
        _ => PrivProtocol::Aes128,
    };
    // RFC 3414: passphrases of fewer than 8 characters are refused by agents.
    let checked = |name: &str, v: Option<&str>| -> Result<String, ParamError> {
        let v = v.ok_or_else(|| ParamError::Missing { name: name.into() })?;
        if v.len() < 8 {
            return Err(invalid(
                name,
                "SNMPv3 passphrases have at least 8 characters",
            ));
        }
        Ok(v.to_string())
    };
    let (auth, privacy) = match level.as_str() {
        "noauthnopriv" => (None, None),
        "authnopriv" => (Some((auth_prot, checked("password", password)?)), None),
        _ => (
            Some((auth_prot, checked("password", password)?)),
            Some((priv_prot, checked("snmp_priv_passwd", privacy)?)),
        ),
    };
    Ok(V3Security {
        user,
        auth,
        privacy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::COMMON;

    fn settings(pairs: &[(&str, &str)]) -> Result<SnmpSettings, FenceError> {
        let mut specs = SNMP_PARAMS.to_vec();
        specs.extend(COMMON.iter().copied());
        let (p, _) = Params::parse(&specs, pairs).expect("params");
        SnmpSettings::from_params(&p)
    }

    #[test]
    fn v2c_with_the_private_community_is_the_default() {
        let s = settings(&[]).expect("settings");
        assert_eq!(s.credentials, Credentials::V2c("private".into()));
        assert_eq!(s.port, 161);
        assert_eq!(s.timeout, Duration::from_secs(1));
        assert_eq!(format!("{:?}", s.credentials), "V2c(***)");
    }

    #[test]
    fn the_v3_level_follows_the_passwords_given_unless_set() {
        let s = settings(&[
            ("snmp_version", "3"),
            ("username", "u"),
            ("password", "auth-pass"),
            ("snmp_priv_passwd", "priv-pass"),
        ])
        .expect("settings");
        let Credentials::V3(v3) = &s.credentials else {
            panic!("v3 expected");
        };
        assert_eq!(v3.auth.as_ref().map(|a| a.0), Some(AuthProtocol::Sha1));
        assert_eq!(v3.privacy.as_ref().map(|a| a.0), Some(PrivProtocol::Aes128));
        assert!(!format!("{v3:?}").contains("pass"));
        let s = settings(&[
            ("snmp_version", "3"),
            ("username", "u"),
            ("password", "auth-pass"),
        ])
        .expect("settings");
        assert!(matches!(&s.credentials, Credentials::V3(v) if v.privacy.is_none()));
        let err = settings(&[
            ("snmp_version", "3"),
            ("username", "u"),
            ("password", "auth-pass"),
            ("snmp_sec_level", "authPriv"),
        ]);
        assert_eq!(
            err,
            Err(FenceError::Param(ParamError::Missing {
                name: "snmp_priv_passwd".into()
            }))
        );
    }

    #[test]
    fn short_v3_passphrases_are_refused_without_showing_them() {
        let err = settings(&[
            ("snmp_version", "3"),
            ("username", "u"),
            ("password", "short"),
        ])
        .expect_err("short");
        assert!(!err.to_string().contains("short\""), "{err}");
        assert!(err.to_string().contains("8 characters"), "{err}");
    }
}
