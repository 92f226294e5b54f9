//! The playground's state file: what `lab cluster up` built, for people and scripts. Its
//! fields are a contract: they are only ever added to, never renamed or removed.
//!
//! ```json
//! {"version": 1, "pid": 4242, "control": "/tmp/L…/control.sock", "lab": "L…",
//!  "vip": "10.99.1.100",
//!  "options": {"nodes": 2, "stack": "ours", "qdisk": true, "fencing": "ipmi",
//!              "timing": "demo", "auto_failback": "on", "prefer": "web1", "writer": true},
//!  "nodes": [{"name": "web1", "netns": "L…-n1", "cgroup": "/sys/fs/cgroup/L…/n1",
//!             "addrs": {"heartbeat0": "10.99.1.1", "mgmt": "10.99.0.1"},
//!             "bmc": "10.99.0.101", "exec": ["/tmp/L…/node1/enter.sh"],
//!             "logs": "/tmp/L…/node1/private/var/log"}, …],
//!  "client": {"name": "client", "netns": "L…-n3", "cgroup": …, "addrs": …, "bmc": null,
//!             "exec": […], "logs": …}}
//! ```
//!
//! `exec` is the argument list that runs a command inside that node (its cgroup, network,
//! mount and UTS namespaces): append the command, e.g. `exec + ["hbctl", "status"]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{LabError, Result};

/// Version of the state file's layout.
pub const STATE_VERSION: u32 = 1;

/// Where `lab cluster` keeps its state file unless `--state` says otherwise.
pub const DEFAULT_STATE: &str = "/run/lab-cluster.json";

/// How the cluster was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Cluster nodes.
    pub nodes: usize,
    /// `ours` or `heartbeat`.
    pub stack: String,
    /// Whether the quorum disk runs.
    pub qdisk: bool,
    /// `ipmi`, `fabric`, `poison` or `noop`.
    pub fencing: String,
    /// `seed`, `demo` or `fast`.
    pub timing: String,
    /// `on`, `off` or `legacy`.
    pub auto_failback: String,
    /// The group's preferred node.
    pub prefer: String,
    /// Whether the shared-disk writer runs as the group's last resource.
    pub writer: bool,
}

/// One node (or the client).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    /// Hostname.
    pub name: String,
    /// Network namespace (`ip netns exec NAME …`).
    pub netns: String,
    /// Its cgroup directory.
    pub cgroup: PathBuf,
    /// Addresses by network (`heartbeat0`, `mgmt`, `san`).
    pub addrs: BTreeMap<String, String>,
    /// Its BMC's address (IPMI over LAN, port 623), if it has one.
    pub bmc: Option<String>,
    /// The argument list that runs a command inside the node.
    pub exec: Vec<String>,
    /// Its log directory as seen from the host (`/var/log` inside).
    pub logs: PathBuf,
}

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// PID of the `lab cluster up` process holding the cluster.
    pub pid: u32,
    /// Its control socket (`lab cluster fault` and `down` talk to it).
    pub control: PathBuf,
    /// The lab's id (its namespaces, cgroups and directory carry it).
    pub lab: String,
    /// The floating IP.
    pub vip: String,
    /// The options it was built with.
    pub options: Options,
    /// The cluster nodes, `web1` first.
    pub nodes: Vec<NodeState>,
    /// The client (and ping node).
    pub client: NodeState,
}

impl ClusterState {
    /// Writes the file (whole, through a temporary file and a rename: a reader never sees
    /// half of it).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| LabError::Invalid(format!("state file: {e}")))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text + "\n").map_err(|e| LabError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| LabError::io(path, e))
    }

    /// Reads the file; the error says how to get one.
    pub fn read(path: &Path) -> Result<ClusterState> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                LabError::Invalid(format!(
                    "{}: no such state file: start a cluster with `lab cluster up --state {}` \
                     (or give the --state it was started with)",
                    path.display(),
                    path.display()
                ))
            } else {
                LabError::io(path, e)
            }
        })?;
        let state: ClusterState = serde_json::from_str(&text).map_err(|e| {
            LabError::Invalid(format!(
                "{}: line {}: not a lab cluster state file ({e})",
                path.display(),
                e.line()
            ))
        })?;
        if state.version != STATE_VERSION {
            return Err(LabError::Invalid(format!(
                "{}: state file version {} (this lab reads {STATE_VERSION})",
                path.display(),
                state.version
            )));
        }
        Ok(state)
    }

    /// The node called `name` (cluster node or client).
    pub fn node(&self, name: &str) -> Option<&NodeState> {
        self.nodes
            .iter()
            .chain(std::iter::once(&self.client))
            .find(|n| n.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ClusterState {
        let node = |name: &str, i: u32| NodeState {
            name: name.into(),
            netns: format!("Lx-n{i}"),
            cgroup: PathBuf::from(format!("/sys/fs/cgroup/Lx/n{i}")),
            addrs: BTreeMap::from([("heartbeat0".to_string(), format!("10.99.1.{i}"))]),
            bmc: Some(format!("10.99.0.10{i}")),
            exec: vec![format!("/tmp/Lx/node{i}/enter.sh")],
            logs: PathBuf::from(format!("/tmp/Lx/node{i}/log")),
        };
        ClusterState {
            version: STATE_VERSION,
            pid: 42,
            control: PathBuf::from("/tmp/Lx/control.sock"),
            lab: "Lx".into(),
            vip: "10.99.1.100".into(),
            options: Options {
                nodes: 2,
                stack: "ours".into(),
                qdisk: true,
                fencing: "ipmi".into(),
                timing: "demo".into(),
                auto_failback: "on".into(),
                prefer: "web1".into(),
                writer: true,
            },
            nodes: vec![node("web1", 1), node("web2", 2)],
            client: node("client", 3),
        }
    }

    #[test]
    fn the_file_round_trips_and_has_the_promised_fields() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/cluster.json");
        let state = sample();
        state.write(&path).expect("write");
        assert_eq!(ClusterState::read(&path).expect("read"), state);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("text")).expect("json");
        assert_eq!(json["vip"], "10.99.1.100");
        for key in ["name", "netns", "cgroup", "addrs", "bmc", "exec"] {
            assert!(!json["nodes"][0][key].is_null(), "nodes[0].{key}");
        }
        for key in ["netns", "exec"] {
            assert!(!json["client"][key].is_null(), "client.{key}");
        }
        assert_eq!(
            state.node("client").map(|n| n.netns.as_str()),
            Some("Lx-n3")
        );
    }

    #[test]
    fn a_missing_or_foreign_file_says_what_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("none.json");
        let err = ClusterState::read(&missing)
            .expect_err("missing")
            .to_string();
        assert!(err.contains("lab cluster up --state"), "{err}");
        let foreign = dir.path().join("foreign.json");
        std::fs::write(&foreign, "{\n\"hello\": 1}\n").expect("write");
        let err = ClusterState::read(&foreign)
            .expect_err("foreign")
            .to_string();
        assert!(err.contains("not a lab cluster state file"), "{err}");
        assert!(err.contains("line"), "{err}");
    }
}
