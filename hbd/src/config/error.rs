//! Errors and warnings of the configuration layer.
//!
//! Every message reads `file:line: what is wrong, and the fix`. Line numbers are 1-based; line
//! `0` means the file as a whole (it is missing, has bad permissions, or lacks a required line)
//! and is not printed: the message reads `file: what is wrong`.
//! Nothing in here ever carries key material from `authkeys`: those variants hold only key
//! indices and method names that hbd itself knows.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// `file:line`, or `file` alone for the file as a whole (line 0).
fn place(file: &std::path::Path, line: usize) -> String {
    if line == 0 {
        file.display().to_string()
    } else {
        format!("{}:{line}", file.display())
    }
}

/// A configuration error: where it is and what it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}", place(file, *line))]
pub struct ConfigError {
    /// The file the error is in.
    pub file: PathBuf,
    /// 1-based line number; `0` means the file as a whole.
    pub line: usize,
    /// What is wrong, and how to fix it.
    pub kind: ErrorKind,
}

impl ConfigError {
    /// An error at `file:line`.
    pub fn new(file: impl Into<PathBuf>, line: usize, kind: ErrorKind) -> Self {
        Self {
            file: file.into(),
            line,
            kind,
        }
    }
}

/// A duration printed the way `ha.cf` writes it (`30` seconds or `1500ms`).
pub(crate) struct Hb(pub Duration);

impl fmt::Display for Hb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms % 1000 == 0 {
            write!(f, "{}", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// Every way a configuration file can be wrong. Each message states the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read (missing, a directory, unreadable).
    #[error("cannot read the file ({reason}); create it or point `hbd --check DIR` at the directory holding it")]
    Unreadable {
        /// The operating system's reason.
        reason: String,
    },
    /// A directive or value holds bytes that are not UTF-8 (comments may hold any bytes).
    #[error(
        "byte {byte:#04x} at column {column} is not UTF-8: names, addresses and paths must be \
         UTF-8 (comments may be in any encoding); re-type the value, or convert the file with \
         `iconv -f GBK -t UTF-8` (or -f LATIN1)"
    )]
    NotUtf8 {
        /// 1-based byte column of the first bad byte.
        column: usize,
        /// The byte.
        byte: u8,
    },
    /// A directive heartbeat 3.0.6 does not know (usually a typo).
    #[error(
        "unknown directive `{directive}`; check its spelling against ha.cf(5) or remove the line"
    )]
    UnknownDirective {
        /// The directive as written.
        directive: String,
    },
    /// An error in the native cluster file (TOML syntax, a wrong type, an unknown key).
    #[error("{message}")]
    Native {
        /// What is wrong, and the fix.
        message: String,
    },
    /// A directive heartbeat knows but hbd does not implement.
    #[error("`{directive}` is not supported by hbd; {fix}")]
    Unsupported {
        /// The directive.
        directive: String,
        /// What to do instead.
        fix: &'static str,
    },
    /// The directive has no value.
    #[error("`{directive}` needs a value: write `{usage}`")]
    MissingValue {
        /// The directive.
        directive: String,
        /// Its syntax.
        usage: &'static str,
    },
    /// A time value that heartbeat's `cl_get_msec` would refuse.
    #[error("`{value}` is not a valid time for `{directive}`; write seconds (`2`, `1.5`) or milliseconds (`1500ms`) — heartbeat does not accept an `s` suffix")]
    InvalidTime {
        /// The directive.
        directive: String,
        /// The value as written.
        value: String,
    },
    /// A time that must be positive is zero.
    #[error("`{directive}` must be more than 0; give it a positive time such as `{directive} 1`")]
    ZeroTime {
        /// The directive.
        directive: String,
    },
    /// A value outside the directive's domain.
    #[error("`{value}` is not a valid value for `{directive}`; use {expected}")]
    InvalidValue {
        /// The directive.
        directive: String,
        /// The value as written.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A whole-line directive with the wrong number of values.
    #[error("`{directive}` takes {expected}; write `{usage}`")]
    WrongArity {
        /// The directive.
        directive: String,
        /// How many values it takes.
        expected: &'static str,
        /// Its syntax.
        usage: &'static str,
    },
    /// A directive that may be given only once appears again.
    #[error("`{directive}` may be given only once (first on line {first_line}); remove one of the two lines")]
    Duplicate {
        /// The directive (or `apiauth CLIENT`, `key N`, …).
        directive: String,
        /// Where it was first given.
        first_line: usize,
    },
    /// `udpport`/`baud` after the media it should apply to (heartbeat caches the value when
    /// the first medium of that type is created, so a later line silently has no effect there).
    #[error("`{directive}` must come before the {media} media it applies to; move this line above line {medium_line}")]
    MustPrecedeMedia {
        /// `udpport` or `baud`.
        directive: String,
        /// Which media it applies to.
        media: &'static str,
        /// The line of the first such medium.
        medium_line: usize,
    },
    /// `deadtime` ≤ 2 × `keepalive` (heartbeat: "Dead time … is too small compared to keeplive").
    #[error("deadtime {} is too small compared to keepalive {}: deadtime must be more than twice keepalive; raise deadtime or lower keepalive", Hb(*deadtime), Hb(*keepalive))]
    DeadtimeTooSmall {
        /// Effective deadtime.
        deadtime: Duration,
        /// Effective keepalive.
        keepalive: Duration,
    },
    /// `deadping` ≤ 2 × `keepalive`.
    #[error("deadping {} is too small compared to keepalive {}: deadping must be more than twice keepalive; raise deadping or remove it (it defaults to deadtime)", Hb(*deadping), Hb(*keepalive))]
    DeadpingTooSmall {
        /// Effective deadping.
        deadping: Duration,
        /// Effective keepalive.
        keepalive: Duration,
    },
    /// `initdead` < `deadtime` (heartbeat: "Initial dead time … is smaller than deadtime").
    #[error("initdead {} is smaller than deadtime {}; raise initdead to at least deadtime (10 s or more is advised) or remove it to use the default", Hb(*initdead), Hb(*deadtime))]
    InitdeadSmallerThanDeadtime {
        /// Effective initdead.
        initdead: Duration,
        /// Effective deadtime.
        deadtime: Duration,
    },
    /// No heartbeat medium is configured.
    #[error("no heartbeat media defined; add at least one `bcast IFACE`, `mcast IFACE GROUP PORT TTL LOOP`, `ucast IFACE PEER` or `serial DEVICE` line")]
    NoMedia,
    /// No `node` line.
    #[error("no nodes defined; add one `node NAME` line per cluster node (NAME as `uname -n` prints it)")]
    NoNodes,
    /// The local node is not among the `node` lines.
    #[error("this node `{local}` is not in the node list; add `node {local}` (the name `uname -n` prints), or write the configured name on the first line of nodeinfo")]
    LocalNodeMissing {
        /// The local node's name.
        local: String,
    },
    /// More than heartbeat's limit of nodes or media.
    #[error("too many {what} (at most {max}); remove some")]
    TooMany {
        /// `nodes` or `media`.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// `crm`/`pacemaker` set to anything but off: that disables haresources mode.
    #[error("`{directive} {value}` would hand resources to a CRM, but hbd runs heartbeat v1 (haresources) mode only; set `{directive} off` or remove the line")]
    CrmEnabled {
        /// `crm` or `pacemaker`.
        directive: String,
        /// The value as written.
        value: String,
    },
    /// `autojoin other|any` in haresources mode.
    #[error("`autojoin {value}` conflicts with R1-style (haresources) resource management; set `autojoin none` or remove the line, and list every node with `node`")]
    AutojoinConflict {
        /// The value as written.
        value: String,
    },
    /// `use_logd off` and no other log destination.
    #[error("`use_logd off` leaves no log destination; add `logfile PATH` or `logfacility FACILITY`, or set `use_logd on`")]
    NoLogDestination,
    /// `authkeys` is readable or writable by group or others.
    #[error("bad permissions {mode:04o} on keyfile: other users could read or replace the keys; run `chmod 600 {}` (heartbeat refuses it too: \"600 recommended\")", path.display())]
    BadPermissions {
        /// The file's permission bits.
        mode: u32,
        /// The file.
        path: PathBuf,
    },
    /// An `auth` line that is not `auth N`.
    #[error("the `auth` line must be `auth N` with N the index (0..15) of the key that signs outgoing packets")]
    BadAuthLine,
    /// A key line whose index is not 0..15.
    #[error("a key line must start with its index 0..15, as in `1 sha1 KEY`")]
    BadKeyIndex,
    /// A key line with an unknown method. The method is not echoed: it may be a misplaced key.
    #[error("unknown authentication method on key {index}; use `crc`, `md5 KEY`, `sha1 KEY` or `sha256 KEY`")]
    UnknownMethod {
        /// The key index.
        index: u8,
    },
    /// A key line with no method.
    #[error("key {index} has no method; write `{index} sha1 KEY` (or md5, sha256, crc)")]
    MissingMethod {
        /// The key index.
        index: u8,
    },
    /// `crc` with a key (heartbeat refuses this).
    #[error("key {index}: method `crc` takes no key; remove the key or use `{index} sha1 KEY`")]
    CrcTakesNoKey {
        /// The key index.
        index: u8,
    },
    /// md5/sha1/sha256 without a key.
    #[error("key {index}: method `{method}` needs a key; write `{index} {method} KEY`")]
    KeyRequired {
        /// The key index.
        index: u8,
        /// The method.
        method: &'static str,
    },
    /// No `auth N` line.
    #[error("no `auth N` line; add `auth 1` (and a `1 sha1 KEY` line) to choose the signing key")]
    NoAuthLine,
    /// `auth N` names a key that is not defined.
    #[error("`auth {index}` selects key {index}, which is not defined; add a line `{index} sha1 KEY` or change the index")]
    UndefinedAuthKey {
        /// The selected index.
        index: u8,
    },
    /// A haresources line names a node that is not a `node` in ha.cf.
    #[error("preferred node `{node}` is not a `node` in ha.cf; add `node {node}` to ha.cf or correct the name")]
    UnknownNode {
        /// The node as written (lower-cased).
        node: String,
    },
    /// A haresources line with a node but no resources.
    #[error("resource group for `{node}` lists no resources; write `{node} RESOURCE...` or remove the line")]
    NoResources {
        /// The node.
        node: String,
    },
    /// An IP resource that does not parse.
    #[error("`{token}` is not a valid IP resource ({why}); write `IP[/PREFIX[/IFACE[:LABEL]][/BROADCAST]]`, e.g. `192.168.1.10/24/eth0`")]
    BadIpSpec {
        /// The resource as written.
        token: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A resource that does not parse.
    #[error("`{token}` is not a valid resource ({why}); write `NAME` or `NAME::ARG::ARG`, NAME being a script in resource.d or init.d")]
    BadResource {
        /// The resource as written.
        token: String,
        /// What is wrong.
        why: &'static str,
    },
    /// Two groups share their first resource (the group key heartbeat identifies groups by).
    #[error("resource group key `{key}` is already used on line {first_line}; each group's first resource names it and must be unique — list each group once, under its preferred node only")]
    DuplicateGroupKey {
        /// The key.
        key: String,
        /// The line of the first group.
        first_line: usize,
    },
}

/// A warning: the configuration is accepted, but something deserves attention.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: warning: {kind}", place(file, *line))]
pub struct ConfigWarning {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number; `0` means the file as a whole.
    pub line: usize,
    /// What deserves attention.
    pub kind: WarningKind,
}

/// Everything hbd warns about while still accepting the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WarningKind {
    /// `warntime` ≥ `deadtime`: late-heartbeat warnings can never fire before the node is dead.
    #[error("warntime {} is not below deadtime {}, so \"late heartbeat\" warnings never fire before a node is declared dead; set warntime below deadtime (e.g. a quarter to a half of it)", Hb(*warntime), Hb(*deadtime))]
    WarntimeNotBelowDeadtime {
        /// Effective warntime.
        warntime: Duration,
        /// Effective deadtime.
        deadtime: Duration,
    },
    /// `initdead` below 10 s (heartbeat: "Initial dead time … may be too small!").
    #[error("initdead {} may be too small: it accounts for slow network start-up and should be at least deadtime and 10 s", Hb(*initdead))]
    InitdeadSmall {
        /// Effective initdead.
        initdead: Duration,
    },
    /// `auto_failback legacy`, explicit or by default.
    #[error("deprecated `auto_failback legacy` selected (the default); write `auto_failback on` or `auto_failback off`")]
    LegacyAutoFailback,
    /// `nice_failback` is obsolete.
    #[error("`nice_failback` is obsolete and was mapped to `auto_failback {mapped}`; write `auto_failback on|off` instead")]
    NiceFailbackObsolete {
        /// What it was mapped to.
        mapped: &'static str,
    },
    /// A directive given again overrides an earlier one.
    #[error(
        "`{directive}` is given again here and overrides line {first_line}; remove one of them"
    )]
    Overridden {
        /// The directive.
        directive: String,
        /// The earlier line.
        first_line: usize,
    },
    /// A directive with no effect in v1 mode.
    #[error("`{directive}` has no effect in haresources mode and is ignored")]
    Ignored {
        /// The directive.
        directive: String,
    },
    /// Extra values heartbeat ignores.
    #[error(
        "extra values after `{directive}` are ignored (heartbeat ignores them too); remove them"
    )]
    ExtraValues {
        /// The directive, or `key N` in authkeys.
        directive: String,
    },
    /// The same node listed twice.
    #[error("node `{node}` is listed again (first on line {first_line}); remove the duplicate")]
    DuplicateNode {
        /// The node.
        node: String,
        /// The earlier line.
        first_line: usize,
    },
    /// A backslash continues the last line into the end of the file.
    #[error("the last line ends with `\\` but nothing follows; remove the backslash")]
    DanglingContinuation,
}

impl ConfigWarning {
    /// A warning at `file:line`.
    pub fn new(file: impl Into<PathBuf>, line: usize, kind: WarningKind) -> Self {
        Self {
            file: file.into(),
            line,
            kind,
        }
    }
}
