//! The IPMI over LAN plugin (`ipmilan`, agent `fence_qd_ipmilan`): chassis power through
//! a BMC, natively (no `ipmitool`), with fence_ipmilan's option names.
//!
//! One session serves a whole action (the status check, the power command and every poll
//! until the power is confirmed) and is closed at the end, where fence_ipmilan forks
//! `ipmitool` and performs the full handshake for each of those steps.

pub mod chassis;
pub mod crypto;
pub mod session;

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::device::{Action, FenceDevice, PowerCommand, PowerState};
use crate::error::{FenceError, ParamError};
use crate::params::{with_default, ParamSpec, ParamType, Params, COMMON};
use crate::registry::Plugin;

use session::{AuthType, Lan, Privilege, Session, SessionConfig};

/// The plugin's own parameters (fence_ipmilan's names).
pub const IPMI_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "lanplus",
        ParamType::Boolean,
        "Use Lanplus (IPMI 2.0, RMCP+) to improve security of connection",
    )
    .short('P'),
    ParamSpec::new(
        "cipher",
        ParamType::Select(&["0", "1", "2", "3"]),
        "Ciphersuite to use with lanplus (default 3: HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128)",
    )
    .short('C'),
    ParamSpec::new(
        "privlvl",
        ParamType::Select(&["callback", "user", "operator", "administrator"]),
        "Privilege level on IPMI device",
    )
    .short('L')
    .default("administrator"),
    ParamSpec::new(
        "auth",
        ParamType::Select(&["md5", "password", "none"]),
        "IPMI Lan Auth type (IPMI 1.5 only).",
    )
    .short('A'),
    ParamSpec::new(
        "hexadecimal_kg",
        ParamType::String,
        "Hexadecimal-encoded Kg key for IPMIv2 authentication",
    )
    .secret(),
    ParamSpec::new(
        "port_as_ip",
        ParamType::Boolean,
        "Make \"port/plug\" to be an alias to IP address",
    ),
    ParamSpec::new(
        "ipmi_timeout",
        ParamType::Second,
        "Wait X seconds for each IPMI reply before retransmitting",
    )
    .aliases(&["ipmitool_timeout"])
    .default("1"),
    ParamSpec::new(
        "ipmi_retries",
        ParamType::Integer,
        "Retransmissions of an unanswered IPMI request",
    )
    .default("2"),
    // fence_ipmilan's --target bridges the request through this BMC to another controller
    // (a blade's, ipmitool -t). Ignoring it would send off to the chassis BMC itself.
    ParamSpec::new("target", ParamType::String, "IPMI bridging target address").refused(
        "IPMI bridging (fence_ipmilan's target, ipmitool -t) is not supported: the command \
         would go to this BMC instead of the controller behind it; give the blade's or \
         node's own management address as ip, or use fence_ipmilan for bridged setups",
    ),
];

const LONGDESC: &str = "fence_qd_ipmilan is a fence agent for machines controlled by IPMI over \
LAN (IPMI 1.5 and 2.0/RMCP+). It speaks IPMI natively: one session per action, no ipmitool. \
off and reboot succeed only once the BMC reports the power off. It takes fence_ipmilan's \
options. Passwords are never shown: pass them on stdin, with password_script or in the \
FENCE_PASSWORD environment variable rather than on the command line.";

/// The plugin description.
pub fn plugin() -> Plugin {
    let mut params: Vec<ParamSpec> = IPMI_PARAMS.to_vec();
    params.extend(COMMON.iter().copied());
    let params = with_default(params, "ipport", "623");
    // Status is polled natively within a millisecond; fence_ipmilan's power_wait of 2 s is
    // not needed to confirm anything since off is confirmed by status polls.
    let params = with_default(params, "stonith_status_sleep", "0.25");
    Plugin {
        name: "ipmilan",
        agent: "fence_qd_ipmilan",
        shortdesc: "Fence agent for IPMI (native)",
        longdesc: LONGDESC,
        vendor_url:
            "https://www.intel.com/content/www/us/en/products/docs/servers/ipmi/ipmi-home.html",
        params,
        actions: vec![
            Action::On,
            Action::Off,
            Action::Reboot,
            Action::Status,
            Action::Monitor,
            Action::Metadata,
            Action::ValidateAll,
            Action::Diag,
        ],
        fabric: false,
        build: |p| Ok(Box::new(IpmiDevice::from_params(p)?)),
    }
}

fn parse_kg(hex: &str) -> Result<Vec<u8>, ParamError> {
    let invalid = |reason: &str| ParamError::Invalid {
        name: "hexadecimal_kg".into(),
        reason: reason.into(),
    };
    let hex = hex.trim().trim_start_matches("0x");
    if !hex.len().is_multiple_of(2) || hex.len() > 40 {
        return Err(invalid("expected up to 40 hexadecimal digits"));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| invalid("expected hexadecimal digits"))
        })
        .collect()
}

/// A BMC reached over the LAN.
#[derive(Debug)]
pub struct IpmiDevice {
    host: String,
    port: u16,
    config: Option<SessionConfig>,
    pending: SessionConfigTemplate,
    session: Option<Session>,
}

/// Everything but the resolved address, kept until the first use (resolving is I/O).
#[derive(Clone)]
struct SessionConfigTemplate {
    username: String,
    password: Vec<u8>,
    kg: Option<Vec<u8>>,
    lan: Lan,
    privilege: Privilege,
    timeout: Duration,
    retries: u32,
}

impl std::fmt::Debug for SessionConfigTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfigTemplate")
            .field("username", &self.username)
            .field("lan", &self.lan)
            .field("privilege", &self.privilege)
            .finish_non_exhaustive()
    }
}

impl IpmiDevice {
    /// Builds a device from validated parameters (`ip`, or `plug` with `port_as_ip`).
    pub fn from_params(p: &Params) -> Result<IpmiDevice, FenceError> {
        let host = if p.flag("port_as_ip") {
            p.get("plug")
        } else {
            p.get("ip")
        }
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ParamError::Missing {
            name: if p.flag("port_as_ip") { "plug" } else { "ip" }.into(),
        })?
        .to_string();
        let port = p.integer("ipport")?.unwrap_or(623);
        let port = u16::try_from(port).map_err(|_| ParamError::Invalid {
            name: "ipport".into(),
            reason: format!("{port} is not a UDP port"),
        })?;
        let lan = if p.flag("lanplus") {
            let cipher = p.integer("cipher")?.unwrap_or(3);
            Lan::V20 {
                cipher: u8::try_from(cipher).unwrap_or(u8::MAX),
            }
        } else {
            Lan::V15 {
                auth: match p.get("auth") {
                    Some("md5") => Some(AuthType::Md5),
                    Some("password") => Some(AuthType::Password),
                    Some("none") => Some(AuthType::None),
                    _ => None,
                },
            }
        };
        let privilege = match p.get("privlvl") {
            Some("callback") => Privilege::Callback,
            Some("user") => Privilege::User,
            Some("operator") => Privilege::Operator,
            _ => Privilege::Administrator,
        };
        let kg = p
            .get("hexadecimal_kg")
            .filter(|k| !k.is_empty())
            .map(parse_kg)
            .transpose()?;
        let username = p.get("username").unwrap_or("").to_string();
        if username.len() > 16 {
            return Err(ParamError::Invalid {
                name: "username".into(),
                reason: "IPMI user names are at most 16 bytes".into(),
            }
            .into());
        }
        let password = p.get("password").unwrap_or("").as_bytes().to_vec();
        let max = if p.flag("lanplus") { 20 } else { 16 };
        if password.len() > max {
            return Err(ParamError::Invalid {
                name: "password".into(),
                reason: format!("IPMI passwords are at most {max} bytes with this protocol"),
            }
            .into());
        }
        Ok(IpmiDevice {
            host,
            port,
            config: None,
            pending: SessionConfigTemplate {
                username,
                password,
                kg,
                lan,
                privilege,
                timeout: p.seconds("ipmi_timeout")?.unwrap_or(Duration::from_secs(1)),
                retries: p.integer("ipmi_retries")?.unwrap_or(2),
            },
            session: None,
        })
    }

    fn config(&mut self) -> Result<&SessionConfig, FenceError> {
        if self.config.is_none() {
            let addr: SocketAddr = (self.host.as_str(), self.port)
                .to_socket_addrs()
                .map_err(|e| FenceError::Unreachable {
                    addr: self.host.clone(),
                    detail: format!("cannot resolve: {e}"),
                })?
                .next()
                .ok_or_else(|| FenceError::Unreachable {
                    addr: self.host.clone(),
                    detail: "no address".into(),
                })?;
            let t = self.pending.clone();
            self.config = Some(SessionConfig {
                addr,
                username: t.username,
                password: t.password,
                kg: t.kg,
                lan: t.lan,
                privilege: t.privilege,
                timeout: t.timeout,
                retries: t.retries,
            });
        }
        self.config.as_ref().ok_or_else(|| FenceError::Protocol {
            detail: "no configuration".into(),
        })
    }

    /// Runs `f` on the open session, opening one first if needed. A failed exchange drops
    /// the session so the next call starts a fresh one.
    fn with_session<T>(
        &mut self,
        f: impl FnOnce(&mut Session) -> Result<T, FenceError>,
    ) -> Result<T, FenceError> {
        if self.session.is_none() {
            let cfg = self.config()?.clone();
            self.session = Some(Session::open(&cfg)?);
        }
        let session = self.session.as_mut().ok_or_else(|| FenceError::Protocol {
            detail: "no session".into(),
        })?;
        let result = f(session);
        if matches!(
            result,
            Err(FenceError::TimedOut { .. } | FenceError::Protocol { .. })
        ) {
            self.session = None;
        }
        result
    }
}

impl FenceDevice for IpmiDevice {
    fn plugin(&self) -> &'static str {
        "ipmilan"
    }

    fn status(&mut self, _plug: Option<&str>) -> Result<PowerState, FenceError> {
        self.with_session(chassis::power_state)
    }

    fn power(&mut self, _plug: Option<&str>, command: PowerCommand) -> Result<(), FenceError> {
        self.with_session(|s| chassis::control(s, command))
    }

    fn supports(&self, _command: PowerCommand) -> bool {
        true
    }

    fn close(&mut self) {
        if let Some(mut s) = self.session.take() {
            s.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        plugin().params(pairs).expect("params").0
    }

    #[test]
    fn lanplus_defaults_to_cipher_suite_3_and_administrator() {
        let d =
            IpmiDevice::from_params(&params(&[("ip", "bmc"), ("lanplus", "1")])).expect("device");
        assert_eq!(d.pending.lan, Lan::V20 { cipher: 3 });
        assert_eq!(d.pending.privilege, Privilege::Administrator);
        assert_eq!(d.port, 623);
    }

    #[test]
    fn port_as_ip_takes_the_address_from_plug() {
        let d = IpmiDevice::from_params(&params(&[("port_as_ip", "1"), ("port", "10.0.0.9")]))
            .expect("device");
        assert_eq!(d.host, "10.0.0.9");
    }

    #[test]
    fn kg_is_hex_and_never_echoed() {
        assert_eq!(parse_kg("0a0B"), Ok(vec![0x0a, 0x0b]));
        let err = parse_kg("zz-secret").expect_err("bad");
        assert!(!err.to_string().contains("secret"), "{err}");
        let d = IpmiDevice::from_params(&params(&[
            ("ip", "h"),
            ("password", "pw-123"),
            ("hexadecimal_kg", "ab"),
        ]))
        .expect("device");
        let shown = format!("{d:?}");
        assert!(
            !shown.contains("pw-123") && !shown.contains("171"),
            "{shown}"
        );
    }

    #[test]
    fn overlong_credentials_are_parameter_errors() {
        let long = "x".repeat(17);
        let err = IpmiDevice::from_params(&params(&[("ip", "h"), ("password", &long)]))
            .expect_err("long");
        assert!(matches!(err, FenceError::Param(ParamError::Invalid { .. })));
    }
}
