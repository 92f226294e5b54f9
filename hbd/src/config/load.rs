//! Loading a whole configuration directory and the cross-file checks.

use std::path::Path;

use super::authkeys::{read_authkeys, AuthKeys};
use super::error::{ConfigError, ErrorKind};
use super::hacf::{read_hacf, HaCf, Parsed};
use super::haresources::{read_haresources, Resources};
use super::values::NodeName;

/// Where heartbeat keeps its configuration.
pub const DEFAULT_DIR: &str = "/etc/ha.d";

/// How to find the local node's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalNode {
    /// As heartbeat does: the first line of `DIR/nodeinfo` if present, else `uname -n`.
    FromSystem,
    /// This name (tests, or a host whose `uname -n` differs from its cluster name).
    Named(NodeName),
}

/// The three files, parsed and checked against each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `ha.cf`.
    pub hacf: HaCf,
    /// `authkeys`.
    pub authkeys: AuthKeys,
    /// `haresources`.
    pub resources: Resources,
    /// The node this process runs on (listed in `hacf.nodes`).
    pub local_node: NodeName,
}

/// The result of [`load_dir`].
pub type Loaded = Parsed<Config>;

/// Resolves the local node's name (lower-cased).
pub fn local_node_name(dir: &Path, source: &LocalNode) -> Result<NodeName, ConfigError> {
    if let LocalNode::Named(n) = source {
        return Ok(n.clone());
    }
    let nodeinfo = dir.join("nodeinfo");
    if let Ok(text) = std::fs::read_to_string(&nodeinfo) {
        if let Some(first) = text.lines().next().map(str::trim).filter(|l| !l.is_empty()) {
            return Ok(NodeName::new(first));
        }
    }
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy();
    if name.trim().is_empty() {
        return Err(ConfigError::new(
            nodeinfo,
            0,
            ErrorKind::Unreadable {
                reason: "`uname -n` is empty and there is no nodeinfo file".into(),
            },
        ));
    }
    Ok(NodeName::new(&name))
}

/// Reads `ha.cf`, `authkeys` and `haresources` from `dir` and checks them together: the local
/// node must be a `node`, and every group's preferred node too. All errors of all three files
/// are returned, in file order.
pub fn load_dir(dir: &Path, local: &LocalNode) -> Loaded {
    let hacf = read_hacf(&dir.join("ha.cf"));
    let keys = read_authkeys(&dir.join("authkeys"));
    let res = read_haresources(&dir.join("haresources"));
    let mut errors = hacf.errors;
    let mut warnings = hacf.warnings;
    errors.extend(keys.errors);
    warnings.extend(keys.warnings);
    errors.extend(res.errors);
    warnings.extend(res.warnings);

    let local_node = match local_node_name(dir, local) {
        Ok(n) => Some(n),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if let (Some(h), Some(n)) = (&hacf.value, &local_node) {
        if let Err(e) = h.check_local_node(n) {
            // Keep ha.cf's errors together, before the other files'.
            let at = errors
                .iter()
                .position(|x| x.file != h.file)
                .unwrap_or(errors.len());
            errors.insert(at, e);
        }
    }
    if let (Some(h), Some(r)) = (&hacf.value, &res.value) {
        errors.extend(r.check_nodes(h));
    }
    let value = match (hacf.value, keys.value, res.value, local_node) {
        (Some(hacf), Some(authkeys), Some(resources), Some(local_node)) if errors.is_empty() => {
            Some(Config {
                hacf,
                authkeys,
                resources,
                local_node,
            })
        }
        _ => None,
    };
    Parsed {
        value,
        errors,
        warnings,
    }
}
