//! One SNMP agent, reached with the `snmp2` crate's synchronous session: get, set and walk
//! with owned results, bounded retransmission and errors that say what to fix.
//!
//! `snmp2` gives one attempt per call (its socket's read timeout) and reports a timeout, an
//! ICMP port unreachable and a wrong community alike as a receive error; this layer
//! retransmits `retries` times, tells a refused port (the error comes back long before the
//! timeout) from silence, and maps the agent's error-status to [`FenceError`]s: a read-only
//! community or user (`noAccess`, `notWritable`, `authorizationError`, `readOnly`), a port
//! that does not exist (`noCreation`, `noSuchName`, `noSuchInstance`), a value the agent
//! refuses (`wrongValue`, `badValue`, `genErr`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use snmp2::{Oid, SyncSession, Value};

use super::settings::{AuthProtocol, Credentials, Family, PrivProtocol, SnmpSettings};
use crate::error::FenceError;

/// A value read from the agent, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// INTEGER (and the unsigned application types).
    Int(i64),
    /// OCTET STRING, as text (lossy UTF-8).
    Text(String),
    /// The agent has no such object or instance.
    Missing,
    /// End of the MIB view (walks stop here).
    End,
    /// Anything else (OIDs, addresses, NULL...).
    Other,
}

/// An agent's reply, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    error_status: u32,
    error_index: u32,
    varbinds: Vec<(Vec<u64>, Val)>,
}

fn owned(pdu: snmp2::Pdu<'_>) -> Reply {
    let varbinds = pdu
        .varbinds
        .map(|(oid, value)| {
            let arcs: Vec<u64> = oid.iter().map(|i| i.collect()).unwrap_or_default();
            let val = match value {
                Value::Integer(n) => Val::Int(n),
                Value::Unsigned32(n) | Value::Counter32(n) | Value::Timeticks(n) => {
                    Val::Int(i64::from(n))
                }
                Value::OctetString(b) => Val::Text(String::from_utf8_lossy(b).into_owned()),
                Value::NoSuchObject | Value::NoSuchInstance => Val::Missing,
                Value::EndOfMibView => Val::End,
                _ => Val::Other,
            };
            (arcs, val)
        })
        .collect();
    Reply {
        error_status: pdu.error_status,
        error_index: pdu.error_index,
        varbinds,
    }
}

/// `oid` as text (`.1.3.6...`).
pub fn oid_text(oid: &[u64]) -> String {
    oid.iter().map(|a| format!(".{a}")).collect()
}

fn to_oid(oid: &[u64]) -> Result<Oid<'static>, FenceError> {
    Oid::from(oid).map_err(|_| FenceError::Protocol {
        detail: format!("{} is not a valid OID", oid_text(oid)),
    })
}

/// A session with one agent.
pub struct Client {
    // Boxed: the session holds a 64 KiB receive buffer.
    session: Box<SyncSession>,
    addr: SocketAddr,
    host: String,
    timeout: Duration,
    retries: u32,
    bulk: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn resolve(host: &str, port: u16, family: Family) -> Result<SocketAddr, FenceError> {
    let unreachable = |detail: String| FenceError::Unreachable {
        addr: host.to_string(),
        detail,
    };
    // A bare IPv6 literal needs no brackets from the user.
    let addrs = (host.trim_matches(|c| c == '[' || c == ']'), port)
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve: {e}")))?;
    addrs
        .into_iter()
        .find(|a| match family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        })
        .ok_or_else(|| unreachable("no address of the requested family".into()))
}

fn security(v3: &super::settings::V3Security) -> snmp2::v3::Security {
    use snmp2::v3;
    let (auth, password) = match &v3.auth {
        Some((proto, pw)) => (Some(*proto), pw.as_bytes()),
        None => (None, &b""[..]),
    };
    let mut s = v3::Security::new(v3.user.as_bytes(), password);
    if let Some(proto) = auth {
        s = s.with_auth_protocol(match proto {
            AuthProtocol::Md5 => v3::AuthProtocol::Md5,
            AuthProtocol::Sha1 => v3::AuthProtocol::Sha1,
            AuthProtocol::Sha224 => v3::AuthProtocol::Sha224,
            AuthProtocol::Sha256 => v3::AuthProtocol::Sha256,
            AuthProtocol::Sha384 => v3::AuthProtocol::Sha384,
            AuthProtocol::Sha512 => v3::AuthProtocol::Sha512,
        });
    }
    let level = match (&v3.auth, &v3.privacy) {
        (None, _) => v3::Auth::NoAuthNoPriv,
        (Some(_), None) => v3::Auth::AuthNoPriv,
        (Some(_), Some((proto, pw))) => v3::Auth::AuthPriv {
            cipher: match proto {
                PrivProtocol::Des => v3::Cipher::Des,
                PrivProtocol::Aes128 => v3::Cipher::Aes128,
                PrivProtocol::Aes192 => v3::Cipher::Aes192,
                PrivProtocol::Aes256 => v3::Cipher::Aes256,
            },
            privacy_password: pw.as_bytes().to_vec(),
        },
    };
    s = s.with_auth(level);
    // AES-192/256 keys longer than the hash: net-snmp extends them as Reeder's draft does.
    if matches!(
        &v3.privacy,
        Some((PrivProtocol::Aes192 | PrivProtocol::Aes256, _))
    ) {
        s = s.with_key_extension_method(v3::KeyExtension::Reeder);
    }
    s
}

/// What went wrong in one exchange, before it is given a meaning.
enum Failure {
    /// No reply within the timeout.
    Silence,
    /// The port refused (ICMP unreachable came back quickly).
    Refused,
    /// The crate reported something else.
    Snmp(snmp2::Error),
}

impl Client {
    /// Opens a session with the agent at `host` (for SNMPv3 this discovers the agent's
    /// engine and localizes the keys: one exchange, with retransmissions).
    pub fn connect(host: &str, settings: &SnmpSettings) -> Result<Client, FenceError> {
        let addr = resolve(host, settings.port, settings.family)?;
        let timeout = Some(settings.timeout);
        let io = |e: std::io::Error| FenceError::Unreachable {
            addr: addr.to_string(),
            detail: e.to_string(),
        };
        let req_id = i32::try_from(rand::random::<u32>() >> 1).unwrap_or(1);
        let (session, bulk, v3) = match &settings.credentials {
            Credentials::V1(c) => (
                Box::new(SyncSession::new_v1(addr, c.as_bytes(), timeout, req_id).map_err(io)?),
                false,
                false,
            ),
            Credentials::V2c(c) => (
                Box::new(SyncSession::new_v2c(addr, c.as_bytes(), timeout, req_id).map_err(io)?),
                true,
                false,
            ),
            Credentials::V3(s) => (
                Box::new(SyncSession::new_v3(addr, timeout, req_id, security(s)).map_err(io)?),
                true,
                true,
            ),
        };
        let mut client = Client {
            session,
            addr,
            host: host.to_string(),
            timeout: settings.timeout,
            retries: settings.retries,
            bulk,
        };
        if v3 {
            client.retrying("SNMPv3 engine discovery", |s| {
                s.init().map(|()| Reply {
                    error_status: 0,
                    error_index: 0,
                    varbinds: Vec::new(),
                })
            })?;
        }
        Ok(client)
    }

    /// The agent's host as configured.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Runs one exchange, retransmitting on silence.
    fn retrying(
        &mut self,
        what: &str,
        mut f: impl FnMut(&mut SyncSession) -> Result<Reply, snmp2::Error>,
    ) -> Result<Reply, FenceError> {
        let mut last = Failure::Silence;
        for attempt in 0..=self.retries {
            let started = Instant::now();
            match f(&mut self.session) {
                Ok(reply) => return Ok(reply),
                Err(snmp2::Error::Receive) if started.elapsed() < self.timeout / 2 => {
                    last = Failure::Refused;
                    break;
                }
                Err(snmp2::Error::Receive) => {
                    tracing::debug!(
                        "No SNMP reply from {} for {what} (attempt {})",
                        self.addr,
                        attempt + 1
                    );
                    last = Failure::Silence;
                }
                // A late reply to an earlier attempt of another request: try again.
                Err(snmp2::Error::RequestIdMismatch) => last = Failure::Silence,
                Err(snmp2::Error::Send) => {
                    last = Failure::Refused;
                    break;
                }
                Err(e) => {
                    last = Failure::Snmp(e);
                    break;
                }
            }
        }
        Err(match last {
            Failure::Silence => FenceError::TimedOut {
                what: format!(
                    "an SNMP reply from {} to {what} (a wrong community, user or passphrase \
                     gets no answer either)",
                    self.addr
                ),
                after: self.timeout * (self.retries + 1),
            },
            Failure::Refused => FenceError::Unreachable {
                addr: self.addr.to_string(),
                detail: "nothing answers SNMP on that port".into(),
            },
            Failure::Snmp(e) => snmp_error(e, &self.addr, what),
        })
    }

    /// Reads one INTEGER object.
    pub fn get_int(&mut self, oid: &[u64], what: &str) -> Result<i64, FenceError> {
        let id = to_oid(oid)?;
        let reply = self.retrying(what, |s| s.get(&id).map(owned))?;
        check_status(&reply, what)?;
        match reply.varbinds.first() {
            Some((_, Val::Int(n))) => Ok(*n),
            Some((_, Val::Missing)) => Err(FenceError::PortUnknown {
                plug: format!("{what}: {} does not exist on {}", oid_text(oid), self.host),
            }),
            other => Err(FenceError::Protocol {
                detail: format!(
                    "{what}: expected an INTEGER at {}, got {other:?}",
                    oid_text(oid)
                ),
            }),
        }
    }

    /// Sets one INTEGER object.
    pub fn set_int(&mut self, oid: &[u64], value: i64, what: &str) -> Result<(), FenceError> {
        let id = to_oid(oid)?;
        let reply = self.retrying(what, |s| s.set(&[(&id, Value::Integer(value))]).map(owned))?;
        check_status(&reply, what)
    }

    /// Every object below `column` (a table column), as (index below the column, value).
    pub fn walk(&mut self, column: &[u64], what: &str) -> Result<Vec<(Vec<u64>, Val)>, FenceError> {
        let mut out = Vec::new();
        let mut cursor = column.to_vec();
        // A misbehaving agent could loop; a switch has far fewer rows than this.
        for _ in 0..10_000 {
            let id = to_oid(&cursor)?;
            let bulk = self.bulk;
            let reply = self.retrying(what, |s| {
                if bulk {
                    s.getbulk(&[&id], 0, 32).map(owned)
                } else {
                    s.getnext(&id).map(owned)
                }
            })?;
            // v1 ends a walk with noSuchName.
            if reply.error_status == 2 && !bulk {
                return Ok(out);
            }
            check_status(&reply, what)?;
            if reply.varbinds.is_empty() {
                return Ok(out);
            }
            for (oid, val) in reply.varbinds {
                if !oid.starts_with(column) || val == Val::End {
                    return Ok(out);
                }
                if oid <= cursor {
                    return Err(FenceError::Protocol {
                        detail: format!(
                            "{what}: the agent's walk does not advance at {}",
                            oid_text(&oid)
                        ),
                    });
                }
                cursor.clone_from(&oid);
                out.push((oid[column.len()..].to_vec(), val));
            }
        }
        Err(FenceError::Protocol {
            detail: format!("{what}: the table under {} never ends", oid_text(column)),
        })
    }
}

/// The agent's error-status, as an error naming the fix.
fn check_status(reply: &Reply, what: &str) -> Result<(), FenceError> {
    let refused = |name: &str, fix: &str| FenceError::Refused {
        what: what.to_string(),
        detail: format!("{name}{fix}"),
    };
    match reply.error_status {
        0 => Ok(()),
        n @ (4 | 6 | 16 | 17) => Err(refused(
            status_name(n),
            ": the community or SNMPv3 user may not write this object (use the read-write \
             community, or a v3 user with write access)",
        )),
        2 | 11 | 18 => Err(FenceError::PortUnknown {
            plug: format!(
                "{what}: the agent has no such object ({})",
                status_name(reply.error_status)
            ),
        }),
        n => Err(refused(
            status_name(n),
            &format!(" (error-index {})", reply.error_index),
        )),
    }
}

fn status_name(n: u32) -> &'static str {
    const NAMES: [&str; 19] = [
        "noError",
        "tooBig",
        "noSuchName",
        "badValue",
        "readOnly",
        "genErr",
        "noAccess",
        "wrongType",
        "wrongLength",
        "wrongEncoding",
        "wrongValue",
        "noCreation",
        "inconsistentValue",
        "resourceUnavailable",
        "commitFailed",
        "undoFailed",
        "authorizationError",
        "notWritable",
        "inconsistentName",
    ];
    NAMES
        .get(n as usize)
        .copied()
        .unwrap_or("unknown error-status")
}

fn snmp_error(e: snmp2::Error, addr: &SocketAddr, what: &str) -> FenceError {
    use snmp2::Error as E;
    match e {
        E::AuthFailure(kind) => FenceError::AuthFailed {
            detail: format!(
                "SNMPv3 at {addr}: {kind} (check username, password, snmp_priv_passwd, \
                 snmp_auth_prot, snmp_priv_prot and snmp_sec_level)"
            ),
        },
        E::CommunityMismatch => FenceError::Protocol {
            detail: format!("{what}: the reply from {addr} carries another community"),
        },
        // A v3 agent answers bad credentials with a Report instead of a Response.
        E::AsnWrongType => FenceError::AuthFailed {
            detail: format!(
                "{what}: {addr} answered with a report, not a response (for SNMPv3: an \
                 unknown user, a wrong passphrase or a security level the user does not have)"
            ),
        },
        other => FenceError::Protocol {
            detail: format!("{what}: bad reply from {addr}: {other}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u32) -> Reply {
        Reply {
            error_status: status,
            error_index: 1,
            varbinds: Vec::new(),
        }
    }

    #[test]
    fn error_statuses_map_to_errors_that_name_the_fix() {
        assert_eq!(check_status(&reply(0), "x"), Ok(()));
        let ro = check_status(&reply(6), "set port").expect_err("noAccess");
        assert!(
            ro.to_string().contains("noAccess") && ro.to_string().contains("read-write community"),
            "{ro}"
        );
        assert!(check_status(&reply(17), "s")
            .expect_err("notWritable")
            .to_string()
            .contains("notWritable"));
        assert!(matches!(
            check_status(&reply(11), "set"),
            Err(FenceError::PortUnknown { .. })
        ));
        let gen = check_status(&reply(5), "set").expect_err("genErr");
        assert!(gen.to_string().contains("genErr"), "{gen}");
    }

    #[test]
    fn a_closed_port_is_unreachable_at_once_and_silence_times_out() {
        use super::super::settings::{Credentials, Family};
        // Nothing listens on this port: Linux sends ICMP port unreachable on loopback.
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = sock.local_addr().expect("addr").port();
        drop(sock);
        let settings = SnmpSettings {
            port,
            credentials: Credentials::V2c("private".into()),
            timeout: Duration::from_millis(400),
            retries: 1,
            family: Family::Any,
        };
        let mut c = Client::connect("127.0.0.1", &settings).expect("client");
        let err = c
            .get_int(&[1, 3, 6, 1, 2, 1, 1, 3, 0], "read")
            .expect_err("closed");
        assert!(matches!(err, FenceError::Unreachable { .. }), "{err}");

        // A socket that never answers.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let settings = SnmpSettings {
            port: silent.local_addr().expect("addr").port(),
            timeout: Duration::from_millis(100),
            ..settings
        };
        let mut c = Client::connect("127.0.0.1", &settings).expect("client");
        let err = c
            .get_int(&[1, 3, 6, 1, 2, 1, 1, 3, 0], "read")
            .expect_err("silent");
        assert_eq!(
            err,
            FenceError::TimedOut {
                what: format!(
                    "an SNMP reply from {} to read (a wrong community, user or passphrase gets \
                     no answer either)",
                    silent.local_addr().expect("addr")
                ),
                after: Duration::from_millis(200)
            }
        );
    }
}
