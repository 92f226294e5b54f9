//! `haresources`: heartbeat v1's resource groups (heartbeat's `ResourceManager` grammar).
//!
//! ```text
//! web1.example.com 192.168.8.100/24/eth0 Filesystem::/dev/sdb1::/srv::ext4 \
//!                  apache
//! ```
//! - One logical line = one resource group: the preferred (home) node, then its resources,
//!   started left to right and stopped right to left.
//! - `#` starts a comment anywhere; a trailing `\` joins the next line; the node is lower-cased.
//! - A resource is `NAME` or `NAME::ARG::ARG...` (a script in `resource.d` or `init.d`), or an
//!   address `IP[/PREFIX[/IFACE[:LABEL]][/BROADCAST]]`, which means `IPaddr::<that>`.
//!   After the prefix, a field starting with a digit is the broadcast address, otherwise the
//!   interface (heartbeat's IPaddr wrapper rule).
//! - The group key (first resource) names the group in protocol messages and must be unique.
//!
//! Whether each node is a `node` in `ha.cf` is checked by [`Resources::check_nodes`].

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, ConfigWarning, ErrorKind, WarningKind};
use super::hacf::{HaCf, Parsed};
use super::values::NodeName;

/// The IP address agents heartbeat ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpAgent {
    /// `IPaddr` (aliases; the shorthand's agent).
    IpAddr,
    /// `IPaddr2` (`ip addr`).
    IpAddr2,
}

impl IpAgent {
    /// The agent's script name.
    pub fn name(self) -> &'static str {
        match self {
            IpAgent::IpAddr => "IPaddr",
            IpAgent::IpAddr2 => "IPaddr2",
        }
    }
}

/// An IP address resource's argument: `IP[/PREFIX[/IFACE[:LABEL]][/BROADCAST]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSpec {
    /// The address.
    pub ip: Ipv4Addr,
    /// CIDR prefix length; `None` lets the agent take it from the route.
    pub prefix: Option<u8>,
    /// Interface; `None` lets the agent pick the one routing to the subnet.
    pub iface: Option<String>,
    /// Alias label (`eth0:web`).
    pub label: Option<String>,
    /// Broadcast address.
    pub broadcast: Option<Ipv4Addr>,
}

impl fmt::Display for IpSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.ip)?;
        if let Some(p) = self.prefix {
            write!(f, "/{p}")?;
        }
        if let Some(i) = &self.iface {
            write!(f, "/{i}")?;
            if let Some(l) = &self.label {
                write!(f, ":{l}")?;
            }
        }
        if let Some(b) = self.broadcast {
            write!(f, "/{b}")?;
        }
        Ok(())
    }
}

/// One resource of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A floating IP address (the shorthand, or `IPaddr::…`/`IPaddr2::…`).
    Ip {
        /// Which agent manages it.
        agent: IpAgent,
        /// Its address.
        spec: IpSpec,
    },
    /// A script called as `NAME ARG... start|stop|status`.
    Script {
        /// Script name, looked up in `resource.d` then `init.d`.
        name: String,
        /// Its arguments (split on `::`).
        args: Vec<String>,
    },
}

impl fmt::Display for Resource {
    /// The resource as written in `haresources` (canonical form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Ip {
                agent: IpAgent::IpAddr,
                spec,
            } => write!(f, "{spec}"),
            Resource::Ip { agent, spec } => write!(f, "{}::{spec}", agent.name()),
            Resource::Script { name, args } => {
                f.write_str(name)?;
                for a in args {
                    write!(f, "::{a}")?;
                }
                Ok(())
            }
        }
    }
}

/// One resource group: a line of `haresources`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroup {
    /// The preferred (home) node.
    pub preferred: NodeName,
    /// Resources in start order.
    pub resources: Vec<Resource>,
    /// The first line of the group in the file.
    pub line: usize,
    /// The group key: the first resource as written, which names the group on the wire.
    pub key: String,
}

/// The parsed `haresources`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// The file this came from.
    pub file: PathBuf,
    /// The groups, in file order.
    pub groups: Vec<ResourceGroup>,
}

impl Resources {
    /// Checks every group's preferred node is a `node` in `ha.cf`.
    pub fn check_nodes(&self, hacf: &HaCf) -> Vec<ConfigError> {
        self.groups
            .iter()
            .filter(|g| !hacf.has_node(&g.preferred))
            .map(|g| {
                ConfigError::new(
                    &self.file,
                    g.line,
                    ErrorKind::UnknownNode {
                        node: g.preferred.to_string(),
                    },
                )
            })
            .collect()
    }

    /// The groups whose preferred node is `node`.
    pub fn groups_of<'a>(&'a self, node: &'a NodeName) -> impl Iterator<Item = &'a ResourceGroup> {
        self.groups.iter().filter(move |g| &g.preferred == node)
    }
}

/// Reads and parses `haresources` at `path`.
pub fn read_haresources(path: &Path) -> Parsed<Resources> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_haresources(path, &text),
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

/// Parses the text of a `haresources`; `file` is used in messages only.
pub fn parse_haresources(file: &Path, text: &str) -> Parsed<Resources> {
    let mut errors = vec![];
    let mut warnings = vec![];
    let mut groups: Vec<ResourceGroup> = vec![];

    for (line, logical) in logical_lines(text, &mut |l| {
        warnings.push(ConfigWarning::new(
            file,
            l,
            WarningKind::DanglingContinuation,
        ))
    }) {
        let mut words = logical.split_whitespace();
        let Some(node) = words.next() else { continue };
        let preferred = NodeName::new(node);
        let mut resources = vec![];
        let mut key = None;
        for tok in words {
            key.get_or_insert_with(|| tok.to_string());
            match parse_resource(tok) {
                Ok(r) => resources.push(r),
                Err(kind) => errors.push(ConfigError::new(file, line, kind)),
            }
        }
        let Some(key) = key else {
            errors.push(ConfigError::new(
                file,
                line,
                ErrorKind::NoResources {
                    node: preferred.to_string(),
                },
            ));
            continue;
        };
        if let Some(first) = groups.iter().find(|g| g.key == key) {
            errors.push(ConfigError::new(
                file,
                line,
                ErrorKind::DuplicateGroupKey {
                    key,
                    first_line: first.line,
                },
            ));
            continue;
        }
        groups.push(ResourceGroup {
            preferred,
            resources,
            line,
            key,
        });
    }
    let value = errors.is_empty().then(|| Resources {
        file: file.to_path_buf(),
        groups,
    });
    Parsed {
        value,
        errors,
        warnings,
    }
}

/// Joins backslash-continued lines and strips comments; yields (first line number, text).
fn logical_lines(text: &str, dangling: &mut dyn FnMut(usize)) -> Vec<(usize, String)> {
    let mut out = vec![];
    let mut pending: Option<(usize, String)> = None;
    let mut last_line = 0;
    for (idx, raw) in text.lines().enumerate() {
        last_line = idx + 1;
        let content = raw.split('#').next().unwrap_or("").trim_end();
        let (content, continues) = match content.strip_suffix('\\') {
            Some(c) => (c, true),
            None => (content, false),
        };
        let (start, mut acc) = pending.take().unwrap_or((idx + 1, String::new()));
        acc.push(' ');
        acc.push_str(content);
        if continues {
            pending = Some((start, acc));
        } else if !acc.trim().is_empty() {
            out.push((start, acc));
        }
    }
    if let Some((start, acc)) = pending {
        dangling(last_line);
        if !acc.trim().is_empty() {
            out.push((start, acc));
        }
    }
    out
}

/// Parses one resource token.
pub fn parse_resource(tok: &str) -> Result<Resource, ErrorKind> {
    let bad = |why| ErrorKind::BadResource {
        token: tok.to_string(),
        why,
    };
    if looks_like_ip(tok) {
        return Ok(Resource::Ip {
            agent: IpAgent::IpAddr,
            spec: parse_ip_spec(tok)?,
        });
    }
    let mut parts = tok.split("::");
    let name = parts.next().unwrap_or("");
    if name.is_empty() {
        return Err(bad("the script name is empty"));
    }
    if name.contains('/') {
        return Err(bad("a script name cannot contain `/`"));
    }
    let args: Vec<String> = parts.map(str::to_string).collect();
    if args.iter().any(String::is_empty) {
        return Err(bad("an argument between `::` is empty"));
    }
    let agent = match name {
        "IPaddr" => Some(IpAgent::IpAddr),
        "IPaddr2" => Some(IpAgent::IpAddr2),
        _ => None,
    };
    if let Some(agent) = agent {
        let [arg] = args.as_slice() else {
            return Err(bad(
                "IPaddr and IPaddr2 take one argument, as in IPaddr::10.0.0.1/24",
            ));
        };
        return Ok(Resource::Ip {
            agent,
            spec: parse_ip_spec(arg)?,
        });
    }
    Ok(Resource::Script {
        name: name.to_string(),
        args,
    })
}

/// Heartbeat's test: the glob `[0-9]*.[0-9]*.[0-9]*.[0-9]*`.
fn looks_like_ip(tok: &str) -> bool {
    let mut rest = tok;
    for i in 0..4 {
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            return false;
        }
        if i < 3 {
            match rest.find('.') {
                Some(p) => rest = &rest[p + 1..],
                None => return false,
            }
        }
    }
    true
}

/// Parses `IP[/PREFIX[/IFACE[:LABEL]][/BROADCAST]]`.
pub fn parse_ip_spec(tok: &str) -> Result<IpSpec, ErrorKind> {
    let bad = |why| ErrorKind::BadIpSpec {
        token: tok.to_string(),
        why,
    };
    let mut fields = tok.split('/');
    let ip = fields
        .next()
        .unwrap_or("")
        .parse::<Ipv4Addr>()
        .map_err(|_| bad("not an IPv4 address"))?;
    let mut spec = IpSpec {
        ip,
        prefix: None,
        iface: None,
        label: None,
        broadcast: None,
    };
    if let Some(p) = fields.next() {
        let p: u8 = p.parse().map_err(|_| bad("the prefix is not a number"))?;
        if p > 32 {
            return Err(bad("the prefix must be 0..32"));
        }
        spec.prefix = Some(p);
    }
    if let Some(f) = fields.next() {
        if f.starts_with(|c: char| c.is_ascii_digit()) {
            spec.broadcast = Some(
                f.parse()
                    .map_err(|_| bad("the broadcast is not an address"))?,
            );
        } else {
            let (iface, label) = match f.split_once(':') {
                Some((i, l)) => (i, Some(l)),
                None => (f, None),
            };
            if iface.is_empty() || label.is_some_and(str::is_empty) {
                return Err(bad("the interface is empty"));
            }
            spec.iface = Some(iface.to_string());
            spec.label = label.map(str::to_string);
            if let Some(b) = fields.next() {
                spec.broadcast = Some(
                    b.parse()
                        .map_err(|_| bad("the broadcast is not an address"))?,
                );
            }
        }
    }
    if fields.next().is_some() {
        return Err(bad("too many `/` fields"));
    }
    Ok(spec)
}
