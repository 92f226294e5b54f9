//! Which agent runs a resource, found as heartbeat's `ResourceManager` finds it.
//!
//! For `name::arg1::arg2`:
//! 1. `ocf:PROVIDER:TYPE` names an OCF agent `<ocf_root>/resource.d/PROVIDER/TYPE` directly;
//!    `key=value` arguments become `OCF_RESKEY_key`, one bare argument names the instance.
//! 2. `OCF::TYPE::INSTANCE` is heartbeat's OCF wrapper convention: the agent TYPE of the first
//!    provider (alphabetically) that has it, parameters from `<ha_dir>/conf/OCF/TYPE/INSTANCE`.
//!    Heartbeat ran its `resource.d/OCF` shell wrapper for this; we run the agent ourselves so
//!    its OCF exit codes and `monitor` are read exactly.
//! 3. `<resource_dir>/name` (heartbeat-style: `name args... start|stop|status`, status judged
//!    by its output), then 4. `<init_dir>/name` (LSB exit codes). Each must be an executable
//!    regular file, as heartbeat's `scriptpath` requires.
//!
//! `IPaddr`/`IPaddr2` and the address shorthand are the native floating IP.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::{IpSpec, Resource};

use super::config::AgentConfig;
use super::ocf::{read_instance_file, OcfAgent};
use super::outcome::Outcome;

/// The agent that runs one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agent {
    /// A heartbeat-style script from `resource.d`.
    Heartbeat {
        /// The script.
        path: PathBuf,
        /// Arguments before the operation.
        args: Vec<String>,
    },
    /// An LSB init script.
    Lsb {
        /// The script.
        path: PathBuf,
        /// Arguments before the operation.
        args: Vec<String>,
    },
    /// An OCF resource agent.
    Ocf(OcfAgent),
    /// The native floating IP.
    FloatingIp(IpSpec),
}

/// Finds the agent of `resource`; the error is the [`Outcome`] to report
/// (`NotInstalled` or `ConfigError`).
pub fn resolve(cfg: &AgentConfig, resource: &Resource) -> Result<Agent, Outcome> {
    let (name, args) = match resource {
        Resource::Ip { spec, .. } => return Ok(Agent::FloatingIp(spec.clone())),
        Resource::Script { name, args } => (name.as_str(), args),
    };
    if let Some(rest) = name.strip_prefix("ocf:") {
        return resolve_ocf(cfg, resource, rest, args).map(Agent::Ocf);
    }
    if name == "OCF" {
        return resolve_heartbeat_ocf(cfg, args).map(Agent::Ocf);
    }
    let in_resource_dir = cfg.resource_dir.join(name);
    if is_executable(&in_resource_dir) {
        return Ok(Agent::Heartbeat {
            path: in_resource_dir,
            args: args.clone(),
        });
    }
    let in_init_dir = cfg.init_dir.join(name);
    if is_executable(&in_init_dir) {
        return Ok(Agent::Lsb {
            path: in_init_dir,
            args: args.clone(),
        });
    }
    Err(Outcome::NotInstalled {
        what: format!(
            "no executable resource script `{name}` in {} or {}",
            cfg.resource_dir.display(),
            cfg.init_dir.display()
        ),
    })
}

fn resolve_ocf(
    cfg: &AgentConfig,
    resource: &Resource,
    rest: &str,
    args: &[String],
) -> Result<OcfAgent, Outcome> {
    let bad = |why: String| Outcome::ConfigError { why };
    let Some((provider, kind)) = rest.split_once(':') else {
        return Err(bad(format!(
            "`ocf:{rest}` must be ocf:PROVIDER:TYPE, as in ocf:heartbeat:IPaddr2"
        )));
    };
    for part in [provider, kind] {
        if !is_plain_name(part) {
            return Err(bad(format!(
                "`ocf:{rest}`: provider and type must be plain names (letters, digits, `_.-`)"
            )));
        }
    }
    let mut instance = None;
    let mut params = Vec::new();
    for arg in args {
        match arg.split_once('=') {
            Some((key, value)) => {
                if !is_param_name(key) {
                    return Err(bad(format!(
                        "`{arg}`: a parameter name is letters, digits and `_`, as in ip=10.0.0.1"
                    )));
                }
                params.push((format!("OCF_RESKEY_{key}"), value.to_string()));
            }
            None if instance.is_none() && is_plain_name(arg) => instance = Some(arg.clone()),
            None => {
                return Err(bad(format!(
                    "`{arg}`: OCF arguments are key=value, plus at most one instance name \
                     (letters, digits, `_.-`)"
                )))
            }
        }
    }
    let path = cfg.ocf_root.join("resource.d").join(provider).join(kind);
    if !is_executable(&path) {
        return Err(Outcome::NotInstalled {
            what: format!(
                "OCF agent {} (is resource-agents installed?)",
                path.display()
            ),
        });
    }
    Ok(OcfAgent {
        path,
        provider: provider.to_string(),
        kind: kind.to_string(),
        instance: instance.unwrap_or_else(|| default_instance(kind, resource)),
        params,
    })
}

fn resolve_heartbeat_ocf(cfg: &AgentConfig, args: &[String]) -> Result<OcfAgent, Outcome> {
    let [kind, instance] = args else {
        return Err(Outcome::ConfigError {
            why: "heartbeat's OCF form is OCF::TYPE::INSTANCE, as in OCF::IPaddr2::web".into(),
        });
    };
    if !is_plain_name(kind) || !is_plain_name(instance) {
        return Err(Outcome::ConfigError {
            why: format!(
                "OCF::{kind}::{instance}: type and instance must be plain names (letters, digits, `_.-`)"
            ),
        });
    }
    let base = cfg.ocf_root.join("resource.d");
    let mut providers: Vec<PathBuf> = std::fs::read_dir(&base)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    providers.sort();
    let Some(path) = providers
        .iter()
        .map(|p| p.join(kind))
        .find(|p| is_executable(p))
    else {
        return Err(Outcome::NotInstalled {
            what: format!("no OCF agent `{kind}` under {}", base.display()),
        });
    };
    let provider = path
        .parent()
        .and_then(Path::file_name)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = cfg.ha_dir.join("conf/OCF").join(kind).join(instance);
    let params = read_instance_file(&file)?;
    Ok(OcfAgent {
        path,
        provider,
        kind: kind.clone(),
        instance: instance.clone(),
        params,
    })
}

/// An instance name derived from the resource as written, so that two resources of one type
/// never share an agent's per-instance state files.
fn default_instance(kind: &str, resource: &Resource) -> String {
    let written = resource.to_string();
    let args = written.split_once("::").map(|(_, a)| a).unwrap_or("");
    let mut name = kind.to_string();
    if !args.is_empty() {
        name.push('_');
        name.extend(args.chars().map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        }));
    }
    name
}

fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn is_param_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An executable regular file (heartbeat's `[ -f $p -a -x $p ]`, as root).
pub(crate) fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
