//! fenced's part of the native cluster file: `[fenced]`, `[[fence_device]]`, and each
//! `[[node]]`'s `fence` levels and `unfence` devices.
//!
//! ```toml
//! [fenced]
//! post_fail_delay = "0s"
//! random_delay_max = "0s"
//!
//! [[fence_device]]
//! name = "ipmi-web1"
//! agent = "fence_ipmilan"        # a fence agent: name on PATH, or a path
//! ip = "10.99.2.11"              # every other key is passed to the agent
//! username = "admin"
//! password = "secret"            # the file must then be mode 0600
//! lanplus = "1"
//!
//! [[node]]
//! name = "web1"
//! id = 1
//! fence_delay = "5s"             # static delay before fencing this node
//! [[node.fence]]                 # level 1
//! devices = [{ device = "ipmi-web1" }]
//! [[node.fence]]                 # level 2: both PDUs must succeed
//! devices = [{ device = "pdu-a", port = "3" }, { device = "pdu-b", port = "3" }]
//! [[node.unfence]]
//! device = "fabric"
//! port = "7"
//! ```
//!
//! fenced also reads two things it shares with qdiskd: each `[[node]]`'s `id` (its slot on
//! the quorum disk) and whether there is a `[quorumd]` section (and its `socket`): when
//! qdiskd is configured, a manual acknowledgement asks it first ([`crate::ackguard`]).
//!
//! Errors name the file, the line and the fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use qdisk::ids::NodeId;

use crate::queue::QueueConfig;
use crate::topology::{DeviceName, DeviceUse, Level, NodeFencing, NodeName, Topology};

/// Default cluster file.
pub const DEFAULT_CONFIG: &str = "/etc/cluster/cluster.toml";
/// Default API socket.
pub const DEFAULT_SOCKET: &str = "/run/fenced/fenced.sock";
/// Default history file.
pub const DEFAULT_HISTORY: &str = "/var/lib/cluster/fence-history.jsonl";
/// Name of the file, beside the history, that records the boot id fenced last started in
/// (see [`crate::bootid`]).
pub const BOOT_ID_RECORD: &str = "fenced.boot_id";

/// Parameter names whose values are secrets: never logged, never on a command line, and
/// they require the cluster file to be mode 0600.
pub const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "community",
    "snmp_priv_passwd",
    "snmp_auth_prot_passwd",
    "identity_file",
];

/// A configuration error: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong, and the fix.
    pub message: String,
}

/// A duration in the cluster file: the workspace's one reading (units or seconds).
type Dur = plumbing::duration::ConfigDuration;

#[derive(Debug, Deserialize)]
struct RawFile {
    fenced: Option<Spanned<RawFenced>>,
    #[serde(default)]
    fence_device: Vec<Spanned<RawDevice>>,
    #[serde(default)]
    node: Vec<Spanned<RawNode>>,
    /// qdiskd's section: only its presence and its socket matter here (qdiskd checks the rest).
    quorumd: Option<RawQuorumd>,
}

#[derive(Debug, Deserialize)]
struct RawQuorumd {
    socket: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFenced {
    post_fail_delay: Option<Dur>,
    post_join_delay: Option<Dur>,
    clean_start: Option<bool>,
    random_delay_max: Option<Dur>,
    level_retries: Option<u32>,
    device_timeout: Option<Dur>,
    history_file: Option<PathBuf>,
    history_limit: Option<usize>,
    socket: Option<PathBuf>,
    assume_quorate: Option<bool>,
    unfence_on_start: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct RawDevice {
    name: Spanned<String>,
    agent: Spanned<String>,
    timeout: Option<Dur>,
    host_map: Option<String>,
    #[serde(flatten)]
    params: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
struct RawNode {
    name: String,
    id: Option<u32>,
    fence_delay: Option<Dur>,
    #[serde(default)]
    fence: Vec<Spanned<RawLevel>>,
    #[serde(default)]
    unfence: Vec<Spanned<RawUse>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    devices: Vec<Spanned<RawUse>>,
}

#[derive(Debug, Deserialize)]
struct RawUse {
    device: Spanned<String>,
    #[serde(flatten)]
    args: BTreeMap<String, toml::Value>,
}

/// A configured fence device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Its name.
    pub name: DeviceName,
    /// The agent program: a name on PATH or a path.
    pub agent: String,
    /// Its parameters, passed to the agent on standard input.
    pub params: BTreeMap<String, String>,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Target → port, from `host_map = "web1:3;web2:4"`.
    pub host_map: BTreeMap<String, String>,
}

/// fenced's resolved configuration.
#[derive(Debug, Clone)]
pub struct FencedConfig {
    /// The file.
    pub file: PathBuf,
    /// Devices by name.
    pub devices: BTreeMap<DeviceName, Device>,
    /// Who fences whom.
    pub topology: Topology,
    /// After a failure.
    pub post_fail_delay: Duration,
    /// After nodes joined (startup fencing waits this long for them).
    pub post_join_delay: Duration,
    /// Do not fence nodes that were never seen at start.
    pub clean_start: bool,
    /// Random extra delay cap.
    pub random_delay_max: Duration,
    /// Extra attempts per level.
    pub level_retries: u32,
    /// History file.
    pub history_file: PathBuf,
    /// Records kept.
    pub history_limit: usize,
    /// API socket.
    pub socket: PathBuf,
    /// Treat the partition as quorate without being told (standalone use, no hbd).
    pub assume_quorate: bool,
    /// Unfence this node when fenced starts after a reboot, before anything touches shared
    /// storage (RHCS runs `fence_node -U` at start; default on). A restart of fenced without
    /// a reboot does not unfence ([`crate::bootid`]).
    pub unfence_on_start: bool,
    /// Node ids (`[[node]] id`, the quorum disk slots) by name.
    pub node_ids: BTreeMap<NodeName, NodeId>,
    /// qdiskd's API socket when the file configures qdiskd (`[quorumd]`, its `socket` or
    /// qdiskd's default): manual acknowledgements ask it first. `None`: no quorum disk.
    pub qdisk_socket: Option<PathBuf>,
}

use plumbing::text::line_of;

fn value_string(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse_host_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.split([';', ' ', '\t'])
        .filter(|e| !e.is_empty())
        .map(|entry| {
            entry
                .split_once([':', '='])
                .map(|(h, p)| (h.to_string(), p.to_string()))
                .ok_or_else(|| format!("host_map entry {entry:?} is not NODE:PORT"))
        })
        .collect()
}

impl FencedConfig {
    /// Reads and validates `path`. A file holding secrets must be mode 0600.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            message: format!("cannot read it: {e}"),
        })?;
        let config = Self::parse(path, &text)?;
        let has_secrets = config
            .devices
            .values()
            .any(|d| d.params.keys().any(|k| SECRET_KEYS.contains(&k.as_str())));
        if has_secrets {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            if mode & 0o077 != 0 {
                return Err(ConfigError {
                    file: path.to_path_buf(),
                    line: None,
                    message: format!(
                        "it holds fence device passwords but has mode {mode:03o}: run chmod 600 {}",
                        path.display()
                    ),
                });
            }
        }
        Ok(config)
    }

    /// Validates `text` as if read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let err = |span: Option<std::ops::Range<usize>>, message: String| ConfigError {
            file: path.to_path_buf(),
            line: span.map(|s| line_of(text, s.start)),
            message,
        };
        let raw: RawFile =
            toml::from_str(text).map_err(|e| err(e.span(), e.message().to_string()))?;
        let f = raw.fenced.map(Spanned::into_inner);
        let f = f.as_ref();
        let default_timeout = f
            .and_then(|f| f.device_timeout)
            .map_or(Duration::from_secs(60), |d| d.0);

        let mut devices = BTreeMap::new();
        for d in raw.fence_device {
            let span = d.span();
            let d = d.into_inner();
            let name = DeviceName(d.name.get_ref().clone());
            if d.agent.get_ref().trim().is_empty() {
                return Err(err(
                    Some(d.agent.span()),
                    "agent is empty: name a fence agent such as fence_ipmilan".into(),
                ));
            }
            let host_map = match &d.host_map {
                Some(m) => parse_host_map(m).map_err(|e| err(Some(span.clone()), e))?,
                None => BTreeMap::new(),
            };
            let device = Device {
                name: name.clone(),
                agent: d.agent.get_ref().clone(),
                params: d
                    .params
                    .iter()
                    .map(|(k, v)| (k.clone(), value_string(v)))
                    .collect(),
                timeout: d.timeout.map_or(default_timeout, |t| t.0),
                host_map,
            };
            if devices.insert(name.clone(), device).is_some() {
                return Err(err(
                    Some(d.name.span()),
                    format!("fence device {name} is defined twice; give each device its own name"),
                ));
            }
        }

        let resolve = |u: &Spanned<RawUse>| -> Result<DeviceUse, ConfigError> {
            let name = DeviceName(u.get_ref().device.get_ref().clone());
            if !devices.contains_key(&name) {
                return Err(err(
                    Some(u.get_ref().device.span()),
                    format!(
                        "no [[fence_device]] is named {:?}; define it or fix the name",
                        name.0
                    ),
                ));
            }
            Ok(DeviceUse {
                device: name,
                args: u
                    .get_ref()
                    .args
                    .iter()
                    .map(|(k, v)| (k.clone(), value_string(v)))
                    .collect(),
            })
        };
        let mut topology = Topology::default();
        let mut node_ids = BTreeMap::new();
        // A copy-pasted [[node]] whose name was not changed would silently replace the first
        // one's fencing: fence_node web1 would run the second's devices and report web1 fenced.
        let mut names_seen = plumbing::text::NodeNames::default();
        let mut ids_seen: BTreeMap<u32, String> = BTreeMap::new();
        for spanned in &raw.node {
            let n = spanned.get_ref();
            let line = line_of(text, spanned.span().start);
            if n.name.trim().is_empty() {
                return Err(err(
                    Some(spanned.span()),
                    "a [[node]] has an empty name: give its host name (uname -n)".into(),
                ));
            }
            names_seen
                .add(&n.name, line)
                .map_err(|e| err(Some(spanned.span()), e))?;
            if let Some(id) = n.id {
                if id == 0 {
                    return Err(err(
                        Some(spanned.span()),
                        format!("node {:?} has id 0; node ids start at 1", n.name),
                    ));
                }
                if let Some(other) = ids_seen.insert(id, n.name.clone()) {
                    return Err(err(
                        Some(spanned.span()),
                        format!(
                            "node id {id} is used by {other:?} and {:?}; give each node its own id",
                            n.name
                        ),
                    ));
                }
                node_ids.insert(NodeName(n.name.clone()), NodeId(id));
            }
            let mut levels = Vec::new();
            for (i, level) in n.fence.iter().enumerate() {
                if level.get_ref().devices.is_empty() {
                    return Err(err(
                        Some(level.span()),
                        "a fence level needs at least one device".into(),
                    ));
                }
                let devices = level
                    .get_ref()
                    .devices
                    .iter()
                    .map(resolve)
                    .collect::<Result<_, _>>()?;
                levels.push(Level {
                    index: u8::try_from(i + 1).unwrap_or(u8::MAX),
                    devices,
                });
            }
            let unfence = n.unfence.iter().map(resolve).collect::<Result<_, _>>()?;
            topology.nodes.insert(
                NodeName(n.name.clone()),
                NodeFencing {
                    levels,
                    unfence,
                    delay: n.fence_delay.map_or(Duration::ZERO, |d| d.0),
                },
            );
        }
        Ok(FencedConfig {
            file: path.to_path_buf(),
            devices,
            topology,
            post_fail_delay: f
                .and_then(|f| f.post_fail_delay)
                .map_or(Duration::ZERO, |d| d.0),
            post_join_delay: f
                .and_then(|f| f.post_join_delay)
                .map_or(Duration::from_secs(6), |d| d.0),
            clean_start: f.and_then(|f| f.clean_start).unwrap_or(false),
            random_delay_max: f
                .and_then(|f| f.random_delay_max)
                .map_or(Duration::ZERO, |d| d.0),
            level_retries: f.and_then(|f| f.level_retries).unwrap_or(1),
            history_file: f
                .and_then(|f| f.history_file.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_HISTORY)),
            history_limit: f.and_then(|f| f.history_limit).unwrap_or(1000).max(10),
            socket: f
                .and_then(|f| f.socket.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET)),
            assume_quorate: f.and_then(|f| f.assume_quorate).unwrap_or(false),
            unfence_on_start: f.and_then(|f| f.unfence_on_start).unwrap_or(true),
            node_ids,
            qdisk_socket: raw.quorumd.map(|q| {
                q.socket
                    .unwrap_or_else(|| PathBuf::from(qdisk::config::DEFAULT_SOCKET))
            }),
        })
    }

    /// Where fenced records the boot id it last started in: [`BOOT_ID_RECORD`] beside the
    /// history file (fenced's state directory, `/var/lib/cluster` by default).
    pub fn boot_id_file(&self) -> PathBuf {
        self.history_file.with_file_name(BOOT_ID_RECORD)
    }

    /// The queue's configuration.
    pub fn queue_config(&self, rng_seed: u64) -> QueueConfig {
        let mut q = QueueConfig::new(self.topology.clone(), rng_seed);
        q.post_fail_delay = self.post_fail_delay;
        q.random_delay_max = self.random_delay_max;
        q.level_retries = self.level_retries;
        q.post_join_delay = self.post_join_delay;
        q.clean_start = self.clean_start;
        if self.assume_quorate {
            q.quorum_ttl = None;
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_listed_twice_or_sharing_an_id_is_refused_with_its_line() {
        let node = |name: &str, id: u32, device: &str| {
            format!("[[node]]\nname = \"{name}\"\nid = {id}\n[[node.fence]]\ndevices = [{{ device = \"{device}\" }}]\n")
        };
        let devices = "[[fence_device]]\nname = \"a\"\nagent = \"fence_x\"\n\n[[fence_device]]\nname = \"b\"\nagent = \"fence_x\"\n\n";
        for (second, want, line) in [
            // The copy-pasted node: web2's block still says web1.
            (
                node("web1", 2, "b"),
                "node \"web1\" is listed twice (as \"web1\" on line 9",
                15,
            ),
            (
                node("WEB1", 2, "b"),
                "names differing only in case are the same host",
                15,
            ),
            (
                node("web2", 1, "b"),
                "node id 1 is used by \"web1\" and \"web2\"",
                15,
            ),
            (
                node("web2", 0, "b"),
                "node \"web2\" has id 0; node ids start at 1",
                15,
            ),
            (node(" ", 2, "b"), "a [[node]] has an empty name", 15),
        ] {
            let text = format!("{devices}{}\n{second}", node("web1", 1, "a"));
            let e = FencedConfig::parse(Path::new("/etc/cluster/cluster.toml"), &text)
                .expect_err(&second);
            assert!(e.to_string().contains(want), "{second}: {e}");
            assert_eq!(e.line, Some(line), "{second}: {e}");
        }
        let ok = format!(
            "{devices}{}\n{}",
            node("web1", 1, "a"),
            node("web2", 2, "b")
        );
        let c = FencedConfig::parse(Path::new("c.toml"), &ok).expect("two distinct nodes");
        assert_eq!(c.topology.nodes.len(), 2);
    }

    const FILE: &str = r#"
[fenced]
post_fail_delay = "2s"

[[fence_device]]
name = "ipmi-web1"
agent = "fence_ipmilan"
ip = "10.99.2.11"
username = "admin"
password = "secret"
lanplus = 1

[[fence_device]]
name = "pdu"
agent = "/usr/sbin/fence_apc"
host_map = "web1:3;web2:4"

[[node]]
name = "web1"
id = 1
fence_delay = "5s"
[[node.fence]]
devices = [{ device = "ipmi-web1" }]
[[node.fence]]
devices = [{ device = "pdu", port = "3" }]
[[node.unfence]]
device = "pdu"
port = "3"
"#;

    #[test]
    fn devices_levels_and_unfencing_are_read() {
        let c = FencedConfig::parse(Path::new("c.toml"), FILE).expect("valid");
        let ipmi = &c.devices[&DeviceName("ipmi-web1".into())];
        assert_eq!(ipmi.params["lanplus"], "1");
        assert_eq!(ipmi.params["password"], "secret");
        let pdu = &c.devices[&DeviceName("pdu".into())];
        assert_eq!(pdu.host_map["web2"], "4");
        let web1 = &c.topology.nodes[&NodeName("web1".into())];
        assert_eq!(web1.levels.len(), 2);
        assert_eq!(web1.levels[1].index, 2);
        assert_eq!(web1.levels[1].devices[0].args["port"], "3");
        assert_eq!(web1.unfence.len(), 1);
        assert_eq!(web1.delay, Duration::from_secs(5));
        assert_eq!(c.post_fail_delay, Duration::from_secs(2));
    }

    #[test]
    fn an_unknown_device_in_a_level_names_its_line() {
        let text = FILE.replace(
            "devices = [{ device = \"pdu\", port = \"3\" }]",
            "devices = [{ device = \"pdux\" }]",
        );
        let e = FencedConfig::parse(Path::new("c.toml"), &text).expect_err("unknown");
        assert_eq!(e.line, Some(25));
        assert!(
            e.message.contains("no [[fence_device]] is named \"pdux\""),
            "{e}"
        );
    }

    #[test]
    fn a_world_readable_file_with_passwords_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("fenced-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("cluster.toml");
        std::fs::write(&path, FILE).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = FencedConfig::load(&path).expect_err("644");
        assert!(e.message.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(FencedConfig::load(&path).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn node_ids_and_the_quorum_disk_socket_are_read_for_acknowledgements() {
        let c = FencedConfig::parse(Path::new("c.toml"), FILE).expect("valid");
        assert_eq!(c.node_ids[&NodeName("web1".into())], NodeId(1));
        assert_eq!(c.qdisk_socket, None, "no [quorumd]: no quorum disk to ask");
        assert_eq!(
            c.boot_id_file(),
            PathBuf::from("/var/lib/cluster/fenced.boot_id")
        );

        let text = format!("{FILE}\n[quorumd]\nlabel = \"web-qdisk\"\ntko = 10\n");
        let c = FencedConfig::parse(Path::new("c.toml"), &text).expect("valid");
        assert_eq!(
            c.qdisk_socket,
            Some(PathBuf::from(qdisk::config::DEFAULT_SOCKET))
        );
        let text = format!("{FILE}\n[quorumd]\nsocket = \"/run/q.sock\"\n");
        let c = FencedConfig::parse(Path::new("c.toml"), &text).expect("valid");
        assert_eq!(c.qdisk_socket, Some(PathBuf::from("/run/q.sock")));
    }

    #[test]
    fn typos_in_the_fenced_section_are_errors() {
        let text = FILE.replace("post_fail_delay", "post_fail_dely");
        let e = FencedConfig::parse(Path::new("c.toml"), &text).expect_err("typo");
        assert!(e.message.contains("unknown field `post_fail_dely`"), "{e}");
        assert_eq!(e.line, Some(3));
    }
}
