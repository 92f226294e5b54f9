//! `ha.cf`: heartbeat's main configuration file, parsed as heartbeat 3.0.6 parses it.
//!
//! Rules (heartbeat `config.c:parse_config`, cluster-glue `cl_misc.c`):
//! - `#` starts a comment anywhere on a line; blank lines are ignored; directive names are
//!   case-sensitive; unknown directives are errors. The old alias `udp` means `bcast`.
//! - Values are separated by whitespace **and commas** (`node a, b`).
//! - *Option* directives apply each value in turn (`keepalive 1 2`: last wins); `bcast`,
//!   `serial`, `ping` and `node` create one item per value; `ucast`, `mcast`, `ping_group`,
//!   `respawn`, `apiauth` read the whole line.
//! - `udpport` must precede `bcast`/`ucast`, `baud` must precede `serial` (heartbeat caches the
//!   value when the first medium of that type is created); `baud` may appear only once.
//! - Times use [`parse_time`]: plain number = seconds, `ms`, `us`;
//!   an `s` suffix is invalid.
//! - After parsing, defaults are applied and derived values computed (initdead from deadtime,
//!   warntime = deadtime / 2, deadping = deadtime, log destinations), then the timing rules are
//!   checked: deadtime > 2 × keepalive, initdead ≥ deadtime (warning below 10 s), warntime ≥
//!   deadtime is accepted with a warning.
//!
//! The local-node rule (the node running hbd must be listed) needs the local name, so it is
//! checked by [`HaCf::check_local_node`] rather than by the parser.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{ConfigError, ConfigWarning, ErrorKind, WarningKind};
use super::values::{parse_bool, parse_time, NodeName};

/// Heartbeat's limit on `node` entries.
pub const MAX_NODES: usize = 100;
/// Heartbeat's limit on media (ping nodes included).
pub const MAX_MEDIA: usize = 64;
/// Default `udpport` (`ha-cluster` in /etc/services).
pub const DEFAULT_UDPPORT: u16 = 694;
/// Default `baud`.
pub const DEFAULT_BAUD: u32 = 19200;
/// The speeds heartbeat's serial plugin accepts.
pub const BAUD_RATES: [u32; 7] = [9600, 19200, 38400, 57600, 115200, 230400, 460800];

/// A heartbeat medium: a path over which status packets are exchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Medium {
    /// UDP broadcast on an interface, to `udpport`.
    Bcast {
        /// Interface name.
        iface: String,
        /// UDP port (the effective `udpport`).
        port: u16,
    },
    /// UDP multicast.
    Mcast {
        /// Interface name.
        iface: String,
        /// Group, in 224.0.0.0/4.
        group: Ipv4Addr,
        /// UDP port (explicit; `udpport` never applies).
        port: u16,
        /// Multicast TTL, 0..=4 (heartbeat's code limit).
        ttl: u8,
        /// Whether our own packets loop back to us (heartbeat advises 0).
        loopback: bool,
    },
    /// UDP unicast to one peer.
    Ucast {
        /// Interface name.
        iface: String,
        /// Peer address or host name (resolved by the driver, not here).
        peer: String,
        /// UDP port (the effective `udpport`).
        port: u16,
    },
    /// A raw serial line.
    Serial {
        /// The tty device.
        device: PathBuf,
        /// Line speed (the effective `baud`).
        baud: u32,
    },
}

/// A ping node: a pseudo-member that is up while any of its addresses answers ICMP echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingNode {
    /// Name (the address for `ping`, the group name for `ping_group`).
    pub name: String,
    /// Addresses (or host names) pinged.
    pub addrs: Vec<String>,
    /// Line of the directive.
    pub line: usize,
}

/// A `node` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDecl {
    /// The node's name (lower-cased).
    pub name: NodeName,
    /// Line of the `node` directive.
    pub line: usize,
}

/// `auto_failback`: what happens when a group's preferred node comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoFailback {
    /// Resources move back to their preferred node once the cluster is stable.
    On,
    /// Resources stay where they are.
    Off,
    /// Heartbeat's deprecated default: the old ip-request protocol, unconditional failback.
    Legacy,
}

/// `compression`: the compression plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zlib (heartbeat's default).
    Zlib,
    /// bzip2.
    Bz2,
}

/// `uuidfrom`: where the node's UUID comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UuidFrom {
    /// Random, kept in `hb_uuid`.
    File,
    /// Derived from the node name.
    NodeName,
}

/// `hbgenmethod`: where the generation number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenMethod {
    /// Counter file `hb_generation`, +1 each start.
    File,
    /// The wall clock at start.
    Time,
}

/// `msgfmt`: the wire encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgFmt {
    /// `name=value` text lines.
    Classic,
    /// Netstrings.
    Netstring,
}

/// A `respawn` (or `failfast`) child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Respawn {
    /// User to run it as.
    pub user: String,
    /// Absolute path of the program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// `failfast`: reboot the machine if the child dies abnormally.
    pub failfast: bool,
    /// Line of the directive.
    pub line: usize,
}

/// An `apiauth` entry: who may connect as an API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAuth {
    /// Client (group) name; `default` is the fallback.
    pub client: String,
    /// Allowed user names.
    pub uids: Vec<String>,
    /// Allowed group names.
    pub gids: Vec<String>,
    /// Line of the directive.
    pub line: usize,
}

/// Effective logging destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    /// `logfile` (forced to /dev/null when only `logfacility` is given).
    pub logfile: Option<PathBuf>,
    /// `debugfile` (likewise).
    pub debugfile: Option<PathBuf>,
    /// `logfacility` (syslog facility, or `none`).
    pub logfacility: Option<String>,
    /// `use_logd`: log through ha_logd (implied when no destination is given).
    pub use_logd: bool,
    /// `conn_logd_time`: retry interval for reconnecting to logd.
    pub conn_logd_time: Duration,
}

/// The effective `ha.cf`: every directive, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaCf {
    /// The file this came from.
    pub file: PathBuf,
    /// `keepalive`: interval between status packets (default 1 s).
    pub keepalive: Duration,
    /// `deadtime`: silence after which a node is declared dead (default 30 s).
    pub deadtime: Duration,
    /// `warntime`: "late heartbeat" threshold (default deadtime / 2).
    pub warntime: Duration,
    /// `initdead`: deadtime used until communication is up (derived from deadtime by default).
    pub initdead: Duration,
    /// `deadping`: deadtime for ping nodes (default deadtime).
    pub deadping: Duration,
    /// `udpport` (default 694).
    pub udpport: u16,
    /// `baud` (default 19200).
    pub baud: u32,
    /// Heartbeat media, in file order.
    pub media: Vec<Medium>,
    /// Cluster nodes, in file order.
    pub nodes: Vec<NodeDecl>,
    /// Ping nodes (`ping`, `ping_group`).
    pub ping_nodes: Vec<PingNode>,
    /// `auto_failback` (default legacy, with a warning).
    pub auto_failback: AutoFailback,
    /// `compression` (default zlib).
    pub compression: Compression,
    /// `compression_threshold` in KiB (default 2).
    pub compression_threshold_kib: u32,
    /// `traditional_compression` (default off).
    pub traditional_compression: bool,
    /// Logging destinations.
    pub logging: Logging,
    /// `realtime`: SCHED_RR and mlockall (default on).
    pub realtime: bool,
    /// `rtprio` (default: the scheduler's minimum).
    pub rtprio: Option<u8>,
    /// `debug` level 0..=255 (default 0).
    pub debug: u8,
    /// `hopfudge` (default 1).
    pub hopfudge: u8,
    /// `respawn` and `failfast` children.
    pub respawn: Vec<Respawn>,
    /// `apiauth` entries (heartbeat's built-ins apply to clients not listed).
    pub apiauth: Vec<ApiAuth>,
    /// `uuidfrom` (default file).
    pub uuidfrom: UuidFrom,
    /// `hbgenmethod` (default file).
    pub hbgenmethod: GenMethod,
    /// `msgfmt` (default classic).
    pub msgfmt: MsgFmt,
    /// `max_rexmit_delay` (default 250 ms).
    pub max_rexmit_delay: Duration,
    /// `memreserve` in KiB (default 6500).
    pub memreserve_kib: u32,
    /// `log_badpack` (default on).
    pub log_badpack: bool,
    /// `syslogmsgfmt` (default on).
    pub syslogmsgfmt: bool,
    /// `coredumps` (default on).
    pub coredumps: bool,
    /// `coreroot`.
    pub coreroot: Option<PathBuf>,
    /// `watchdog` device.
    pub watchdog: Option<PathBuf>,
    /// `env NAME=value` entries.
    pub env: Vec<(String, String)>,
    /// Directives given explicitly (the rest are defaults or derived).
    pub explicit: Vec<&'static str>,
}

impl HaCf {
    /// Node names, in file order.
    pub fn node_names(&self) -> impl Iterator<Item = &NodeName> {
        self.nodes.iter().map(|n| &n.name)
    }

    /// Whether `name` is a configured node.
    pub fn has_node(&self, name: &NodeName) -> bool {
        self.nodes.iter().any(|n| &n.name == name)
    }

    /// Whether a directive was written in the file (as opposed to defaulted).
    pub fn is_explicit(&self, directive: &str) -> bool {
        self.explicit.contains(&directive)
    }

    /// Checks that the local node is listed (heartbeat: "Current node \[x\] not in
    /// configuration!"). The error points at the first `node` line, or line 0 without one.
    pub fn check_local_node(&self, local: &NodeName) -> Result<(), ConfigError> {
        if self.nodes.is_empty() || self.has_node(local) {
            // No nodes at all is already reported as `NoNodes`.
            return Ok(());
        }
        let line = self.nodes.first().map_or(0, |n| n.line);
        Err(ConfigError::new(
            &self.file,
            line,
            ErrorKind::LocalNodeMissing {
                local: local.to_string(),
            },
        ))
    }
}

/// The result of parsing: the configuration, or every error found; warnings in both cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    /// The value, when there were no errors.
    pub value: Option<T>,
    /// Every error, in file order.
    pub errors: Vec<ConfigError>,
    /// Every warning.
    pub warnings: Vec<ConfigWarning>,
}

impl<T> Parsed<T> {
    /// `Ok(value)` or `Err(errors)`, dropping the warnings.
    pub fn into_result(self) -> Result<T, Vec<ConfigError>> {
        match self.value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(self.errors),
        }
    }
}

/// Directives known to heartbeat that have no effect in haresources mode.
const IGNORED: &[&str] = &[
    "cluster",
    "quorum_server",
    "use_apphbd",
    "record_config_changes",
    "record_pengine_inputs",
    "enable_config_writes",
    "crm_daemon_dir",
    "crmd_spawns_pengine",
];

const FENCE_FIX: &str = "hbd fences through fenced: configure fence devices and levels in the \
                         cluster TOML file and remove this line";
const V6_FIX: &str = "hbd supports IPv4 media only so far; use bcast, mcast, ucast or ping";

/// Syslog facilities accepted by `logfacility`.
const FACILITIES: &[&str] = &[
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user",
    "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7", "none",
];

/// Reads and parses `ha.cf` at `path`. Like heartbeat, it reads bytes: comments may be in
/// any encoding (GBK, Latin-1); a directive or value that is not UTF-8 is an error at its line.
pub fn read_hacf(path: &Path) -> Parsed<HaCf> {
    match std::fs::read(path) {
        Ok(bytes) => parse_hacf_bytes(path, &bytes),
        Err(e) => Parsed {
            value: None,
            errors: vec![ConfigError::new(
                path,
                0,
                ErrorKind::Unreadable {
                    reason: e.to_string(),
                },
            )],
            warnings: vec![],
        },
    }
}

/// Parses the text of an `ha.cf`; `file` is used in messages only.
pub fn parse_hacf(file: &Path, text: &str) -> Parsed<HaCf> {
    parse_hacf_bytes(file, text.as_bytes())
}

/// Parses the bytes of an `ha.cf`: what follows a `#` is a comment, in any encoding; the
/// rest of a line must be UTF-8.
pub fn parse_hacf_bytes(file: &Path, bytes: &[u8]) -> Parsed<HaCf> {
    let mut p = Parser::new(file);
    let mut lines = bytes.split(|b| *b == b'\n').peekable();
    let mut number = 0;
    while let Some(raw) = lines.next() {
        // A final newline ends the last line; it starts no new one.
        if raw.is_empty() && lines.peek().is_none() {
            break;
        }
        number += 1;
        let content = raw.split(|b| *b == b'#').next().unwrap_or_default();
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        match std::str::from_utf8(content) {
            Ok(text) => p.line(number, text),
            Err(e) => {
                let column = e.valid_up_to() + 1;
                let byte = content[e.valid_up_to()];
                p.err(number, ErrorKind::NotUtf8 { column, byte });
            }
        }
    }
    p.finish()
}

#[derive(Default)]
struct Raw {
    keepalive: Option<Duration>,
    deadtime: Option<Duration>,
    warntime: Option<Duration>,
    initdead: Option<Duration>,
    deadping: Option<Duration>,
    udpport: Option<u16>,
    baud: Option<u32>,
    auto_failback: Option<(AutoFailback, usize)>,
    compression: Option<Compression>,
    compression_threshold: Option<u32>,
    traditional_compression: Option<bool>,
    logfile: Option<PathBuf>,
    debugfile: Option<PathBuf>,
    logfacility: Option<String>,
    use_logd: Option<(bool, usize)>,
    conn_logd_time: Option<Duration>,
    realtime: Option<bool>,
    rtprio: Option<u8>,
    debug: Option<u8>,
    hopfudge: Option<u8>,
    uuidfrom: Option<UuidFrom>,
    hbgenmethod: Option<GenMethod>,
    msgfmt: Option<MsgFmt>,
    max_rexmit_delay: Option<Duration>,
    memreserve: Option<u32>,
    log_badpack: Option<bool>,
    syslogmsgfmt: Option<bool>,
    coredumps: Option<bool>,
    coreroot: Option<PathBuf>,
    watchdog: Option<PathBuf>,
}

struct Parser {
    file: PathBuf,
    raw: Raw,
    media: Vec<(Medium, usize)>,
    nodes: Vec<NodeDecl>,
    /// The line of each node in `nodes`, to find a repeated one at once.
    node_lines: HashMap<NodeName, usize>,
    ping_nodes: Vec<PingNode>,
    respawn: Vec<Respawn>,
    apiauth: Vec<ApiAuth>,
    env: Vec<(String, String)>,
    /// First line of each single-valued directive, for override warnings.
    seen: HashMap<&'static str, usize>,
    first_udp_medium: Option<usize>,
    first_serial: Option<usize>,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigWarning>,
}

impl Parser {
    fn new(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            raw: Raw::default(),
            media: vec![],
            nodes: vec![],
            node_lines: HashMap::new(),
            ping_nodes: vec![],
            respawn: vec![],
            apiauth: vec![],
            env: vec![],
            seen: HashMap::new(),
            first_udp_medium: None,
            first_serial: None,
            errors: vec![],
            warnings: vec![],
        }
    }

    fn err(&mut self, line: usize, kind: ErrorKind) {
        self.errors.push(ConfigError::new(&self.file, line, kind));
    }

    fn warn(&mut self, line: usize, kind: WarningKind) {
        self.warnings
            .push(ConfigWarning::new(&self.file, line, kind));
    }

    fn invalid(&mut self, line: usize, directive: &str, value: &str, expected: &'static str) {
        self.err(
            line,
            ErrorKind::InvalidValue {
                directive: directive.to_string(),
                value: value.to_string(),
                expected,
            },
        );
    }

    /// Records a single-valued directive; warns when an earlier line is overridden.
    fn single(&mut self, line: usize, name: &'static str) {
        match self.seen.get(name) {
            Some(&first) if first != line => self.warn(
                line,
                WarningKind::Overridden {
                    directive: name.to_string(),
                    first_line: first,
                },
            ),
            Some(_) => {}
            None => {
                self.seen.insert(name, line);
            }
        }
    }

    /// Records a directive that may be given only once.
    fn once(&mut self, line: usize, name: &'static str) -> bool {
        if let Some(&first) = self.seen.get(name) {
            if first != line {
                self.err(
                    line,
                    ErrorKind::Duplicate {
                        directive: name.to_string(),
                        first_line: first,
                    },
                );
                return false;
            }
        }
        self.seen.insert(name, line);
        true
    }

    fn time(&mut self, line: usize, directive: &str, tok: &str) -> Option<Duration> {
        match parse_time(tok) {
            Some(d) => Some(d),
            None => {
                self.err(
                    line,
                    ErrorKind::InvalidTime {
                        directive: directive.to_string(),
                        value: tok.to_string(),
                    },
                );
                None
            }
        }
    }

    fn positive_time(&mut self, line: usize, directive: &str, tok: &str) -> Option<Duration> {
        let d = self.time(line, directive, tok)?;
        if d.is_zero() {
            self.err(
                line,
                ErrorKind::ZeroTime {
                    directive: directive.to_string(),
                },
            );
            return None;
        }
        Some(d)
    }

    fn boolean(&mut self, line: usize, directive: &str, tok: &str) -> Option<bool> {
        let b = parse_bool(tok);
        if b.is_none() {
            self.invalid(
                line,
                directive,
                tok,
                "`on` or `off` (also yes/no, true/false, 1/0)",
            );
        }
        b
    }

    fn number<T: std::str::FromStr + PartialOrd>(
        &mut self,
        line: usize,
        directive: &str,
        tok: &str,
        min: T,
        max: T,
        expected: &'static str,
    ) -> Option<T> {
        match tok.parse::<T>() {
            Ok(v) if v >= min && v <= max => Some(v),
            _ => {
                self.invalid(line, directive, tok, expected);
                None
            }
        }
    }

    fn line(&mut self, line: usize, raw: &str) {
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            return;
        }
        let (directive, rest) = match content.split_once(char::is_whitespace) {
            Some((d, r)) => (d, r.trim()),
            None => (content, ""),
        };
        let tokens: Vec<&str> = rest
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .collect();
        let directive = if directive == "udp" {
            "bcast"
        } else {
            directive
        };
        if IGNORED.contains(&directive) {
            self.warn(
                line,
                WarningKind::Ignored {
                    directive: directive.to_string(),
                },
            );
            return;
        }
        let Some((name, usage)) = known(directive) else {
            self.err(
                line,
                ErrorKind::UnknownDirective {
                    directive: directive.to_string(),
                },
            );
            return;
        };
        if tokens.is_empty() {
            self.err(
                line,
                ErrorKind::MissingValue {
                    directive: name.to_string(),
                    usage,
                },
            );
            return;
        }
        self.directive(line, name, rest, &tokens);
    }

    fn directive(&mut self, line: usize, name: &'static str, rest: &str, tokens: &[&str]) {
        match name {
            // Whole-line directives.
            "mcast" => self.mcast(line, tokens),
            "ucast" => self.ucast(line, tokens),
            "ping_group" => self.ping_group(line, tokens),
            "respawn" | "failfast" => self.respawn(line, name, rest),
            "apiauth" => self.apiauth(line, rest),
            "stonith" | "stonith_host" => self.err(
                line,
                ErrorKind::Unsupported {
                    directive: name.to_string(),
                    fix: FENCE_FIX,
                },
            ),
            "mcast6" | "ucast6" | "ping6" | "hbaping" => self.err(
                line,
                ErrorKind::Unsupported {
                    directive: name.to_string(),
                    fix: V6_FIX,
                },
            ),
            // Option directives: each value applied in turn.
            _ => {
                for tok in tokens {
                    self.option(line, name, tok);
                }
            }
        }
    }

    fn option(&mut self, line: usize, name: &'static str, tok: &str) {
        match name {
            "keepalive" | "deadtime" | "warntime" | "initdead" | "deadping" => {
                self.single(line, name);
                if let Some(d) = self.positive_time(line, name, tok) {
                    let slot = match name {
                        "keepalive" => &mut self.raw.keepalive,
                        "deadtime" => &mut self.raw.deadtime,
                        "warntime" => &mut self.raw.warntime,
                        "initdead" => &mut self.raw.initdead,
                        _ => &mut self.raw.deadping,
                    };
                    *slot = Some(d);
                }
            }
            "conn_logd_time" => {
                self.single(line, name);
                if let Some(d) = self.positive_time(line, name, tok) {
                    self.raw.conn_logd_time = Some(d);
                }
            }
            "udpport" => {
                if let Some(first) = self.first_udp_medium {
                    self.err(
                        line,
                        ErrorKind::MustPrecedeMedia {
                            directive: name.to_string(),
                            media: "bcast/ucast",
                            medium_line: first,
                        },
                    );
                    return;
                }
                self.single(line, name);
                if let Some(p) = self.number(line, name, tok, 1u16, u16::MAX, "a UDP port 1..65535")
                {
                    self.raw.udpport = Some(p);
                }
            }
            "baud" => {
                if let Some(first) = self.first_serial {
                    self.err(
                        line,
                        ErrorKind::MustPrecedeMedia {
                            directive: name.to_string(),
                            media: "serial",
                            medium_line: first,
                        },
                    );
                    return;
                }
                if !self.once(line, name) {
                    return;
                }
                match tok.parse::<u32>() {
                    Ok(b) if BAUD_RATES.contains(&b) => self.raw.baud = Some(b),
                    _ => self.invalid(
                        line,
                        name,
                        tok,
                        "one of 9600 19200 38400 57600 115200 230400 460800",
                    ),
                }
            }
            "bcast" => {
                self.first_udp_medium.get_or_insert(line);
                self.media.push((
                    Medium::Bcast {
                        iface: tok.to_string(),
                        port: 0,
                    },
                    line,
                ));
            }
            "serial" => {
                self.first_serial.get_or_insert(line);
                self.media.push((
                    Medium::Serial {
                        device: PathBuf::from(tok),
                        baud: 0,
                    },
                    line,
                ));
            }
            "ping" => self.ping_nodes.push(PingNode {
                name: tok.to_string(),
                addrs: vec![tok.to_string()],
                line,
            }),
            "node" => {
                let node = NodeName::new(tok);
                if let Some(&first_line) = self.node_lines.get(&node) {
                    self.warn(
                        line,
                        WarningKind::DuplicateNode {
                            node: node.to_string(),
                            first_line,
                        },
                    );
                } else if self.nodes.len() <= MAX_NODES {
                    // Past the limit one node more is kept, for the error at its line.
                    self.node_lines.insert(node.clone(), line);
                    self.nodes.push(NodeDecl { name: node, line });
                }
            }
            "auto_failback" => {
                self.single(line, name);
                let v = match tok.to_ascii_lowercase().as_str() {
                    "legacy" => Some(AutoFailback::Legacy),
                    t => parse_bool(t).map(|b| {
                        if b {
                            AutoFailback::On
                        } else {
                            AutoFailback::Off
                        }
                    }),
                };
                match v {
                    Some(v) => self.raw.auto_failback = Some((v, line)),
                    None => self.invalid(line, name, tok, "`on`, `off` or `legacy`"),
                }
            }
            "nice_failback" => {
                // Obsolete. Heartbeat 3.0.6 means `on` → `auto_failback off` and `off` →
                // `legacy` (its code tests the wrong flag; we follow the documented intent).
                if let Some(b) = self.boolean(line, name, tok) {
                    let (v, mapped) = if b {
                        (AutoFailback::Off, "off")
                    } else {
                        (AutoFailback::Legacy, "legacy")
                    };
                    self.raw.auto_failback = Some((v, line));
                    self.warn(line, WarningKind::NiceFailbackObsolete { mapped });
                }
            }
            "compression" => {
                self.single(line, name);
                match tok {
                    "zlib" => self.raw.compression = Some(Compression::Zlib),
                    "bz2" => self.raw.compression = Some(Compression::Bz2),
                    _ => self.invalid(line, name, tok, "`zlib` or `bz2`"),
                }
            }
            "compression_threshold" => {
                self.single(line, name);
                if let Some(v) = self.number(
                    line,
                    name,
                    tok,
                    1u32,
                    u32::MAX,
                    "a size in KiB greater than 0",
                ) {
                    self.raw.compression_threshold = Some(v);
                }
            }
            "traditional_compression"
            | "realtime"
            | "log_badpack"
            | "syslogmsgfmt"
            | "coredumps" => {
                self.single(line, name);
                if let Some(b) = self.boolean(line, name, tok) {
                    let slot = match name {
                        "traditional_compression" => &mut self.raw.traditional_compression,
                        "realtime" => &mut self.raw.realtime,
                        "log_badpack" => &mut self.raw.log_badpack,
                        "syslogmsgfmt" => &mut self.raw.syslogmsgfmt,
                        _ => &mut self.raw.coredumps,
                    };
                    *slot = Some(b);
                }
            }
            "use_logd" => {
                self.single(line, name);
                if let Some(b) = self.boolean(line, name, tok) {
                    self.raw.use_logd = Some((b, line));
                }
            }
            "crm" | "pacemaker" => {
                let lower = tok.to_ascii_lowercase();
                match parse_bool(&lower) {
                    Some(false) => {}
                    Some(true) => self.err(
                        line,
                        ErrorKind::CrmEnabled {
                            directive: name.to_string(),
                            value: tok.to_string(),
                        },
                    ),
                    None if lower == "respawn" || lower == "minimal" => self.err(
                        line,
                        ErrorKind::CrmEnabled {
                            directive: name.to_string(),
                            value: tok.to_string(),
                        },
                    ),
                    None => self.invalid(line, name, tok, "`off` (hbd runs haresources mode)"),
                }
            }
            "autojoin" => match tok.to_ascii_lowercase().as_str() {
                "none" => {}
                "other" | "any" => self.err(
                    line,
                    ErrorKind::AutojoinConflict {
                        value: tok.to_string(),
                    },
                ),
                _ => self.invalid(line, name, tok, "`none`, `other` or `any`"),
            },
            "logfile" | "debugfile" | "coreroot" => {
                self.single(line, name);
                let slot = match name {
                    "logfile" => &mut self.raw.logfile,
                    "debugfile" => &mut self.raw.debugfile,
                    _ => &mut self.raw.coreroot,
                };
                *slot = Some(PathBuf::from(tok));
            }
            "watchdog" => {
                if self.once(line, name) {
                    self.raw.watchdog = Some(PathBuf::from(tok));
                }
            }
            "logfacility" => {
                self.single(line, name);
                let lower = tok.to_ascii_lowercase();
                if FACILITIES.contains(&lower.as_str()) {
                    self.raw.logfacility = Some(lower);
                } else {
                    self.invalid(
                        line,
                        name,
                        tok,
                        "a syslog facility (daemon, user, local0..local7, auth, …) or `none`",
                    );
                }
            }
            "debug" | "hopfudge" => {
                self.single(line, name);
                if let Some(v) = self.number(line, name, tok, 0u8, u8::MAX, "a number 0..255") {
                    if name == "debug" {
                        self.raw.debug = Some(v);
                    } else {
                        self.raw.hopfudge = Some(v);
                    }
                }
            }
            "rtprio" => {
                self.single(line, name);
                if let Some(v) = self.number(line, name, tok, 1u8, 99u8, "a priority 1..99") {
                    self.raw.rtprio = Some(v);
                }
            }
            "uuidfrom" => {
                self.single(line, name);
                match tok {
                    "file" => self.raw.uuidfrom = Some(UuidFrom::File),
                    "nodename" => self.raw.uuidfrom = Some(UuidFrom::NodeName),
                    _ => self.invalid(line, name, tok, "`file` or `nodename`"),
                }
            }
            "hbgenmethod" => {
                self.single(line, name);
                match tok {
                    "file" => self.raw.hbgenmethod = Some(GenMethod::File),
                    "time" => self.raw.hbgenmethod = Some(GenMethod::Time),
                    _ => self.invalid(line, name, tok, "`file` or `time`"),
                }
            }
            "msgfmt" => {
                self.single(line, name);
                match tok {
                    "classic" => self.raw.msgfmt = Some(MsgFmt::Classic),
                    "netstring" => self.raw.msgfmt = Some(MsgFmt::Netstring),
                    _ => self.invalid(line, name, tok, "`classic` or `netstring`"),
                }
            }
            "max_rexmit_delay" => {
                self.single(line, name);
                if let Some(v) = self.number(
                    line,
                    name,
                    tok,
                    1u64,
                    3_600_000u64,
                    "a number of milliseconds greater than 0",
                ) {
                    self.raw.max_rexmit_delay = Some(Duration::from_millis(v));
                }
            }
            "memreserve" => {
                self.single(line, name);
                if let Some(v) = self.number(line, name, tok, 0u32, u32::MAX, "a size in KiB") {
                    self.raw.memreserve = Some(v);
                }
            }
            "env" => match tok.split_once('=') {
                Some((k, v)) if !k.is_empty() => self.env.push((k.to_string(), v.to_string())),
                _ => self.invalid(line, name, tok, "`NAME=value`"),
            },
            _ => self.err(
                line,
                ErrorKind::UnknownDirective {
                    directive: name.to_string(),
                },
            ),
        }
    }

    fn mcast(&mut self, line: usize, t: &[&str]) {
        const USAGE: &str = "mcast IFACE GROUP PORT TTL LOOP, e.g. mcast eth0 225.0.0.1 694 1 0";
        if t.len() < 5 {
            self.err(
                line,
                ErrorKind::WrongArity {
                    directive: "mcast".into(),
                    expected: "five values",
                    usage: USAGE,
                },
            );
            return;
        }
        if t.len() > 5 {
            self.warn(
                line,
                WarningKind::ExtraValues {
                    directive: "mcast".into(),
                },
            );
        }
        let group = match t[1].parse::<Ipv4Addr>() {
            Ok(g) if g.is_multicast() => Some(g),
            _ => {
                self.invalid(
                    line,
                    "mcast",
                    t[1],
                    "a multicast group in 224.0.0.0/4 as GROUP, e.g. 225.0.0.1",
                );
                None
            }
        };
        let port = self.number(
            line,
            "mcast",
            t[2],
            1u16,
            u16::MAX,
            "a UDP port 1..65535 as PORT",
        );
        let ttl = self.number(
            line,
            "mcast",
            t[3],
            0u8,
            4u8,
            "a TTL 0..4 (heartbeat's limit; 1 for one subnet)",
        );
        let loopback = match t[4] {
            "0" => Some(false),
            "1" => Some(true),
            _ => {
                self.invalid(line, "mcast", t[4], "0 or 1 as LOOP (0 is advised)");
                None
            }
        };
        if let (Some(group), Some(port), Some(ttl), Some(loopback)) = (group, port, ttl, loopback) {
            self.media.push((
                Medium::Mcast {
                    iface: t[0].to_string(),
                    group,
                    port,
                    ttl,
                    loopback,
                },
                line,
            ));
        }
    }

    fn ucast(&mut self, line: usize, t: &[&str]) {
        if t.len() < 2 {
            self.err(
                line,
                ErrorKind::WrongArity {
                    directive: "ucast".into(),
                    expected: "an interface and one peer",
                    usage: "ucast IFACE PEER, e.g. ucast eth0 192.168.1.2",
                },
            );
            return;
        }
        if t.len() > 2 {
            self.warn(
                line,
                WarningKind::ExtraValues {
                    directive: "ucast".into(),
                },
            );
        }
        self.first_udp_medium.get_or_insert(line);
        self.media.push((
            Medium::Ucast {
                iface: t[0].to_string(),
                peer: t[1].to_string(),
                port: 0,
            },
            line,
        ));
    }

    fn ping_group(&mut self, line: usize, t: &[&str]) {
        if t.len() < 2 {
            self.err(
                line,
                ErrorKind::WrongArity {
                    directive: "ping_group".into(),
                    expected: "a name and at least one address",
                    usage: "ping_group NAME IP [IP...]",
                },
            );
            return;
        }
        self.ping_nodes.push(PingNode {
            name: t[0].to_string(),
            addrs: t[1..].iter().map(|s| s.to_string()).collect(),
            line,
        });
    }

    fn respawn(&mut self, line: usize, name: &'static str, rest: &str) {
        let mut words = rest.split_whitespace();
        let user = words.next();
        let program = words.next();
        match (user, program) {
            (Some(user), Some(program)) if program.starts_with('/') => {
                self.respawn.push(Respawn {
                    user: user.to_string(),
                    program: PathBuf::from(program),
                    args: words.map(str::to_string).collect(),
                    failfast: name == "failfast",
                    line,
                });
            }
            (Some(_), Some(program)) => self.invalid(
                line,
                name,
                program,
                "an absolute program path, as in `respawn hacluster /usr/lib/heartbeat/ipfail`",
            ),
            _ => self.err(
                line,
                ErrorKind::WrongArity {
                    directive: name.to_string(),
                    expected: "a user and an absolute program path",
                    usage: "respawn USER /PATH/TO/PROGRAM [ARGS]",
                },
            ),
        }
    }

    fn apiauth(&mut self, line: usize, rest: &str) {
        let mut words = rest.split_whitespace();
        let Some(client) = words.next() else { return };
        let mut entry = ApiAuth {
            client: client.to_string(),
            uids: vec![],
            gids: vec![],
            line,
        };
        for w in words {
            let list = |v: &str| -> Vec<String> {
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            };
            if let Some(v) = w.strip_prefix("uid=") {
                entry.uids.extend(list(v));
            } else if let Some(v) = w.strip_prefix("gid=") {
                entry.gids.extend(list(v));
            } else {
                self.invalid(
                    line,
                    "apiauth",
                    w,
                    "`uid=USER[,USER]` or `gid=GROUP[,GROUP]`",
                );
                return;
            }
        }
        if entry.uids.is_empty() && entry.gids.is_empty() {
            self.err(
                line,
                ErrorKind::WrongArity {
                    directive: "apiauth".into(),
                    expected: "a client and a uid= or gid= list",
                    usage: "apiauth CLIENT [uid=USER,...] [gid=GROUP,...]",
                },
            );
            return;
        }
        if let Some(first) = self.apiauth.iter().find(|a| a.client == entry.client) {
            let first_line = first.line;
            self.err(
                line,
                ErrorKind::Duplicate {
                    directive: format!("apiauth {}", entry.client),
                    first_line,
                },
            );
            return;
        }
        self.apiauth.push(entry);
    }

    fn finish(mut self) -> Parsed<HaCf> {
        let raw = std::mem::take(&mut self.raw);
        let keepalive = raw.keepalive.unwrap_or(Duration::from_secs(1));
        let deadtime = raw.deadtime.unwrap_or(Duration::from_secs(30));
        let warntime = raw.warntime.unwrap_or(deadtime / 2);
        let initdead = raw.initdead.unwrap_or_else(|| {
            if deadtime > Duration::from_secs(10) {
                deadtime
            } else if deadtime < Duration::from_secs(6) {
                Duration::from_secs(12)
            } else {
                deadtime * 2
            }
        });
        let deadping = raw.deadping.unwrap_or(deadtime);
        let line_of = |seen: &HashMap<&'static str, usize>, d: &str| -> usize {
            seen.get(d).copied().unwrap_or(0)
        };

        if deadtime <= keepalive * 2 {
            let line = line_of(&self.seen, "deadtime").max(line_of(&self.seen, "keepalive"));
            self.err(
                line,
                ErrorKind::DeadtimeTooSmall {
                    deadtime,
                    keepalive,
                },
            );
        }
        if raw.deadping.is_some() && deadping <= keepalive * 2 {
            let line = line_of(&self.seen, "deadping");
            self.err(
                line,
                ErrorKind::DeadpingTooSmall {
                    deadping,
                    keepalive,
                },
            );
        }
        if initdead < deadtime {
            let line = line_of(&self.seen, "initdead");
            self.err(
                line,
                ErrorKind::InitdeadSmallerThanDeadtime { initdead, deadtime },
            );
        } else if initdead < Duration::from_secs(10) {
            let line = line_of(&self.seen, "initdead");
            self.warn(line, WarningKind::InitdeadSmall { initdead });
        }
        if warntime >= deadtime {
            // Heartbeat accepts this; we accept it too, but say why it is pointless.
            let line = line_of(&self.seen, "warntime");
            self.warn(
                line,
                WarningKind::WarntimeNotBelowDeadtime { warntime, deadtime },
            );
        }
        let auto_failback = match raw.auto_failback {
            Some((v, line)) => {
                if v == AutoFailback::Legacy {
                    self.warn(line, WarningKind::LegacyAutoFailback);
                }
                v
            }
            None => {
                self.warn(0, WarningKind::LegacyAutoFailback);
                AutoFailback::Legacy
            }
        };

        // Logging (heartbeat config.c): no destination at all implies logd; a facility alone
        // sends the files to /dev/null.
        let any_log = raw.logfile.is_some() || raw.debugfile.is_some() || raw.logfacility.is_some();
        let use_logd = match raw.use_logd {
            Some((false, line)) if !any_log => {
                self.err(line, ErrorKind::NoLogDestination);
                false
            }
            Some((b, _)) => b,
            None => !any_log,
        };
        let facility_set = raw.logfacility.as_deref().is_some_and(|f| f != "none");
        let dev_null = || Some(PathBuf::from("/dev/null"));
        let logging = Logging {
            logfile: raw
                .logfile
                .or_else(|| if facility_set { dev_null() } else { None }),
            debugfile: raw
                .debugfile
                .or_else(|| if facility_set { dev_null() } else { None }),
            logfacility: raw.logfacility,
            use_logd,
            conn_logd_time: raw.conn_logd_time.unwrap_or(Duration::from_secs(60)),
        };

        if self.media.is_empty() {
            self.err(0, ErrorKind::NoMedia);
        }
        if self.media.len() + self.ping_nodes.len() > MAX_MEDIA {
            let line = self.media.get(MAX_MEDIA).map_or(0, |m| m.1);
            self.err(
                line,
                ErrorKind::TooMany {
                    what: "media",
                    max: MAX_MEDIA,
                },
            );
        }
        if self.nodes.is_empty() {
            self.err(0, ErrorKind::NoNodes);
        }
        if let Some(n) = self.nodes.get(MAX_NODES) {
            let line = n.line;
            self.err(
                line,
                ErrorKind::TooMany {
                    what: "nodes",
                    max: MAX_NODES,
                },
            );
        }

        let udpport = raw.udpport.unwrap_or(DEFAULT_UDPPORT);
        let baud = raw.baud.unwrap_or(DEFAULT_BAUD);
        let media = self
            .media
            .into_iter()
            .map(|(m, _)| match m {
                Medium::Bcast { iface, .. } => Medium::Bcast {
                    iface,
                    port: udpport,
                },
                Medium::Ucast { iface, peer, .. } => Medium::Ucast {
                    iface,
                    peer,
                    port: udpport,
                },
                Medium::Serial { device, .. } => Medium::Serial { device, baud },
                m @ Medium::Mcast { .. } => m,
            })
            .collect();
        let mut explicit: Vec<&'static str> = self.seen.keys().copied().collect();
        explicit.sort_unstable();

        self.errors.sort_by_key(|e| e.line);
        let value = self.errors.is_empty().then(|| HaCf {
            file: self.file.clone(),
            keepalive,
            deadtime,
            warntime,
            initdead,
            deadping,
            udpport,
            baud,
            media,
            nodes: self.nodes,
            ping_nodes: self.ping_nodes,
            auto_failback,
            compression: raw.compression.unwrap_or(Compression::Zlib),
            compression_threshold_kib: raw.compression_threshold.unwrap_or(2),
            traditional_compression: raw.traditional_compression.unwrap_or(false),
            logging,
            realtime: raw.realtime.unwrap_or(true),
            rtprio: raw.rtprio,
            debug: raw.debug.unwrap_or(0),
            hopfudge: raw.hopfudge.unwrap_or(1),
            respawn: self.respawn,
            apiauth: self.apiauth,
            uuidfrom: raw.uuidfrom.unwrap_or(UuidFrom::File),
            hbgenmethod: raw.hbgenmethod.unwrap_or(GenMethod::File),
            msgfmt: raw.msgfmt.unwrap_or(MsgFmt::Classic),
            max_rexmit_delay: raw.max_rexmit_delay.unwrap_or(Duration::from_millis(250)),
            memreserve_kib: raw.memreserve.unwrap_or(6500),
            log_badpack: raw.log_badpack.unwrap_or(true),
            syslogmsgfmt: raw.syslogmsgfmt.unwrap_or(true),
            coredumps: raw.coredumps.unwrap_or(true),
            coreroot: raw.coreroot,
            watchdog: raw.watchdog,
            env: self.env,
            explicit,
        });
        Parsed {
            value,
            errors: self.errors,
            warnings: self.warnings,
        }
    }
}

/// The canonical name and usage of a directive heartbeat 3.0.6 knows, or `None`.
fn known(directive: &str) -> Option<(&'static str, &'static str)> {
    const TABLE: &[(&str, &str)] = &[
        ("logfile", "logfile PATH"),
        ("debugfile", "debugfile PATH"),
        ("logfacility", "logfacility FACILITY"),
        ("use_logd", "use_logd on|off"),
        ("conn_logd_time", "conn_logd_time TIME"),
        (
            "keepalive",
            "keepalive TIME, e.g. keepalive 1 or keepalive 1000ms",
        ),
        ("deadtime", "deadtime TIME, e.g. deadtime 30"),
        ("warntime", "warntime TIME, e.g. warntime 10"),
        ("initdead", "initdead TIME, e.g. initdead 60"),
        ("deadping", "deadping TIME"),
        ("udpport", "udpport PORT, e.g. udpport 694"),
        ("baud", "baud SPEED, e.g. baud 19200"),
        ("serial", "serial DEVICE, e.g. serial /dev/ttyS0"),
        ("bcast", "bcast IFACE, e.g. bcast eth0"),
        ("mcast", "mcast IFACE GROUP PORT TTL LOOP"),
        ("ucast", "ucast IFACE PEER"),
        ("node", "node NAME"),
        ("ping", "ping IP"),
        ("ping_group", "ping_group NAME IP [IP...]"),
        ("auto_failback", "auto_failback on|off"),
        ("nice_failback", "auto_failback on|off"),
        ("compression", "compression zlib|bz2"),
        ("compression_threshold", "compression_threshold KIB"),
        ("traditional_compression", "traditional_compression on|off"),
        ("crm", "crm off"),
        ("pacemaker", "pacemaker off"),
        ("realtime", "realtime on|off"),
        ("rtprio", "rtprio PRIORITY"),
        ("debug", "debug LEVEL"),
        ("autojoin", "autojoin none"),
        ("hopfudge", "hopfudge N"),
        ("respawn", "respawn USER /PATH [ARGS]"),
        ("failfast", "failfast USER /PATH [ARGS]"),
        ("apiauth", "apiauth CLIENT uid=USER gid=GROUP"),
        ("uuidfrom", "uuidfrom file|nodename"),
        ("hbgenmethod", "hbgenmethod file|time"),
        ("msgfmt", "msgfmt classic|netstring"),
        ("max_rexmit_delay", "max_rexmit_delay MS"),
        ("memreserve", "memreserve KIB"),
        ("log_badpack", "log_badpack on|off"),
        ("syslogmsgfmt", "syslogmsgfmt on|off"),
        ("coredumps", "coredumps on|off"),
        ("coreroot", "coreroot DIR"),
        ("watchdog", "watchdog DEVICE"),
        ("env", "env NAME=value"),
        ("stonith", "stonith TYPE CONFIGFILE"),
        ("stonith_host", "stonith_host HOST TYPE PARAMS"),
        ("mcast6", "mcast6 IFACE GROUP PORT TTL LOOP"),
        ("ucast6", "ucast6 IFACE PEER"),
        ("ping6", "ping6 IP"),
        ("hbaping", "hbaping DEVICE"),
    ];
    TABLE.iter().copied().find(|(n, _)| *n == directive)
}
