//! `authkeys`: the keys that sign and verify heartbeat packets (heartbeat `auth.c`).
//!
//! ```text
//! auth 1
//! 1 sha1 SomeLongSecret
//! 2 crc
//! ```
//! - `auth N` selects the key that signs outgoing packets; every listed key verifies incoming
//!   ones (this is what allows rolling key changes). `N` is 0..15.
//! - Methods: `crc` (no key; integrity only), `md5 KEY` (HMAC-MD5), `sha1 KEY` (HMAC-SHA1), and
//!   hbd's own `sha256 KEY` (HMAC-SHA256; heartbeat peers do not understand it).
//! - The key is the next whitespace-delimited token only; anything after it is ignored (with a
//!   warning). Only whole lines starting with `#` are comments: a `#` inside a key is part of it.
//! - The file must not be accessible by group or others. Heartbeat refuses group/other
//!   *readable*; hbd also refuses group/other *writable*, since whoever can replace the keys can
//!   join the cluster.
//!
//! Key material never appears in errors, warnings, `Debug` or `Display`: see [`Secret`].

use std::fmt;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, ConfigWarning, ErrorKind, WarningKind};
use super::hacf::Parsed;

/// Key material. `Debug` and `Display` print `***`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps key bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The key bytes, for the HMAC and nothing else.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort only: without volatile writes the compiler may elide this.
        self.0.iter_mut().for_each(|b| *b = 0);
    }
}

/// An authentication method with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// CRC-32: integrity only, no key.
    Crc,
    /// HMAC-MD5.
    Md5(Secret),
    /// HMAC-SHA1.
    Sha1(Secret),
    /// HMAC-SHA256 (hbd only).
    Sha256(Secret),
}

impl AuthMethod {
    /// The method's name as written in `authkeys`.
    pub fn name(&self) -> &'static str {
        match self {
            AuthMethod::Crc => "crc",
            AuthMethod::Md5(_) => "md5",
            AuthMethod::Sha1(_) => "sha1",
            AuthMethod::Sha256(_) => "sha256",
        }
    }
}

/// A key index, 0..=15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyIndex(u8);

impl KeyIndex {
    /// The largest index heartbeat accepts.
    pub const MAX: u8 = 15;

    /// An index, if in 0..=15.
    pub fn new(n: u8) -> Option<Self> {
        (n <= Self::MAX).then_some(Self(n))
    }

    /// The number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for KeyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One key line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Its index.
    pub index: KeyIndex,
    /// Its method and key.
    pub method: AuthMethod,
    /// Its line.
    pub line: usize,
}

/// The parsed `authkeys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthKeys {
    /// The file this came from.
    pub file: PathBuf,
    /// The key that signs outgoing packets (`auth N`).
    pub signing: KeyIndex,
    /// Every key, all accepted for verifying, in file order.
    pub keys: Vec<Key>,
}

impl AuthKeys {
    /// The signing key.
    /// Always `Some` for an `AuthKeys` built by [`parse_authkeys`].
    pub fn signing_key(&self) -> Option<&Key> {
        self.key(self.signing)
    }

    /// The key with this index, if any.
    pub fn key(&self, index: KeyIndex) -> Option<&Key> {
        self.keys.iter().find(|k| k.index == index)
    }
}

/// Reads `authkeys`, refusing it when group or others have any access to it.
pub fn read_authkeys(path: &Path) -> Parsed<AuthKeys> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |kind| Parsed {
        value: None,
        errors: vec![ConfigError::new(path, 0, kind)],
        warnings: vec![],
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return fail(ErrorKind::Unreadable {
                reason: e.to_string(),
            })
        }
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return fail(ErrorKind::BadPermissions {
            mode,
            path: path.to_path_buf(),
        });
    }
    match std::fs::read(path) {
        // Keys are bytes; lossy conversion only replaces invalid UTF-8, never shows it.
        Ok(bytes) => parse_authkeys(path, &String::from_utf8_lossy(&bytes)),
        Err(e) => fail(ErrorKind::Unreadable {
            reason: e.to_string(),
        }),
    }
}

/// Parses the text of an `authkeys` (no permission check); `file` is used in messages only.
pub fn parse_authkeys(file: &Path, text: &str) -> Parsed<AuthKeys> {
    let mut errors = vec![];
    let mut warnings = vec![];
    let mut err = |line, kind| errors.push(ConfigError::new(file, line, kind));
    let mut signing: Option<(KeyIndex, usize)> = None;
    let mut keys: Vec<Key> = vec![];
    // Indices of every key line, valid or not: an `auth N` whose key line is broken already
    // has an error there, so "not defined" would only be noise.
    let mut attempted: Vec<KeyIndex> = vec![];
    let mut auth_attempted = false;

    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let mut words = content.split_whitespace();
        let first = words.next().unwrap_or("");
        if first == "auth" {
            auth_attempted = true;
            let n = words.next().and_then(|w| w.parse::<u8>().ok());
            match (n.and_then(KeyIndex::new), words.next()) {
                (Some(i), None) => {
                    if let Some((_, first_line)) = signing {
                        err(
                            line,
                            ErrorKind::Duplicate {
                                directive: "auth".into(),
                                first_line,
                            },
                        );
                    } else {
                        signing = Some((i, line));
                    }
                }
                _ => err(line, ErrorKind::BadAuthLine),
            }
            continue;
        }
        let Some(index) = first.parse::<u8>().ok().and_then(KeyIndex::new) else {
            err(line, ErrorKind::BadKeyIndex);
            continue;
        };
        let i = index.get();
        attempted.push(index);
        let Some(method) = words.next() else {
            err(line, ErrorKind::MissingMethod { index: i });
            continue;
        };
        let secret = words.next();
        let extra = words.next().is_some();
        let method = match (method.to_ascii_lowercase().as_str(), secret) {
            ("crc", None) => AuthMethod::Crc,
            ("crc", Some(_)) => {
                err(line, ErrorKind::CrcTakesNoKey { index: i });
                continue;
            }
            (m @ ("md5" | "sha1" | "sha256"), None) => {
                let method = match m {
                    "md5" => "md5",
                    "sha1" => "sha1",
                    _ => "sha256",
                };
                err(line, ErrorKind::KeyRequired { index: i, method });
                continue;
            }
            ("md5", Some(k)) => AuthMethod::Md5(Secret::new(k)),
            ("sha1", Some(k)) => AuthMethod::Sha1(Secret::new(k)),
            ("sha256", Some(k)) => AuthMethod::Sha256(Secret::new(k)),
            _ => {
                err(line, ErrorKind::UnknownMethod { index: i });
                continue;
            }
        };
        if extra {
            warnings.push(ConfigWarning::new(
                file,
                line,
                WarningKind::ExtraValues {
                    directive: format!("key {i}"),
                },
            ));
        }
        if let Some(prev) = keys.iter().find(|k| k.index == index) {
            let first_line = prev.line;
            err(
                line,
                ErrorKind::Duplicate {
                    directive: format!("key {i}"),
                    first_line,
                },
            );
            continue;
        }
        keys.push(Key {
            index,
            method,
            line,
        });
    }

    match signing {
        None if !auth_attempted => err(0, ErrorKind::NoAuthLine),
        None => {}
        Some((i, line)) if !attempted.contains(&i) => {
            err(line, ErrorKind::UndefinedAuthKey { index: i.get() })
        }
        Some(_) => {}
    }
    errors.sort_by_key(|e| e.line);
    let value = match signing {
        Some((signing, _)) if errors.is_empty() => Some(AuthKeys {
            file: file.to_path_buf(),
            signing,
            keys,
        }),
        _ => None,
    };
    Parsed {
        value,
        errors,
        warnings,
    }
}
