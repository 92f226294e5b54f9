//! fenced, fence_node and fence_tool for real, in the lab: fenced runs in node 1; node 2 is
//! the victim, with a BMC (OpenIPMI's ipmi_sim) whose power really controls it. Devices are
//! Debian's fence_ipmilan, called as an external agent. Manual acknowledgements are checked
//! against a stand-in for qdiskd on qdiskd's socket; unfencing at start switches a port of
//! the lab switch over SNMP (`fence_qd_ifmib`). Needs root.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fenced::api::{Payload, Request};
use fenced::client::FencedClient;
use fenced::history::{FenceAction, Origin, Outcome, Record};
use lab::snmp::IF_ADMIN_STATUS;
use lab::topology::SWITCH_ADDR;
use lab::{Daemon, Lab, Net, Power};
use qdisk::api::{NodeReport, StatusReply};

/// The fenced binary, built beside this package's binaries.
fn fenced_bin() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_fence_node"))
        .parent()
        .expect("target dir")
        .to_path_buf();
    let bin = dir.join("fenced");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "fenced", "--bin", "fenced"])
            .status()
            .expect("cargo build fenced");
        assert!(status.success());
    }
    bin
}

struct FenceLab {
    lab: Lab,
}

impl FenceLab {
    fn start() -> FenceLab {
        Self::start_with("fence_ipmilan")
    }

    /// A lab whose working device for node 2 is `agent` (Debian's or ours).
    fn start_with(agent: &str) -> FenceLab {
        Self::start_with_extra(agent, "")
    }

    /// [`FenceLab::start_with`], with `extra` appended to the cluster file.
    fn start_with_extra(agent: &str, extra: &str) -> FenceLab {
        lab::root::require_root("fenced lab tests");
        let lab = Lab::builder().nodes(2).bmcs(true).build().expect("lab");
        let bmc = lab.bmc(2).expect("bmc of node 2");
        let creds = bmc.credentials();
        let node2 = lab.node(2);
        node2
            .add_daemon(Daemon::new("sleeper", &["sleep", "10000"]))
            .expect("a process on node 2");
        let config = format!(
            r#"
[fenced]
history_file = "/var/lib/cluster/fence-history.jsonl"
device_timeout = "20s"

[[fence_device]]
name = "dead-bmc"
agent = "fence_ipmilan"
ip = "{addr}"
ipport = "9"
username = "{user}"
password = "{password}"
lanplus = "1"
cipher = "3"
login_timeout = "1"
retry_on = "1"
power_wait = "0"

[[fence_device]]
name = "bmc2"
agent = "{agent}"
ip = "{addr}"
ipport = "{port}"
username = "{user}"
password = "{password}"
lanplus = "1"
cipher = "3"
power_wait = "0"

[[node]]
name = "node1"
id = 1

[[node]]
name = "node2"
id = 2
[[node.fence]]
devices = [{{ device = "dead-bmc" }}]
[[node.fence]]
devices = [{{ device = "bmc2" }}]
[[node.unfence]]
device = "bmc2"
{extra}"#,
            addr = bmc.addr(),
            port = bmc.port(),
            user = creds.user,
            password = creds.password,
            agent = agent,
        );
        let node1 = lab.node(1);
        let path = node1
            .private_dir("/etc/cluster")
            .expect("/etc/cluster")
            .join("cluster.toml");
        std::fs::write(&path, config).expect("config");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let this = FenceLab { lab };
        this.start_fenced();
        this
    }

    fn start_fenced(&self) {
        self.lab
            .node(1)
            .add_daemon(Daemon::new(
                "fenced",
                &[
                    fenced_bin().display().to_string().as_str(),
                    "-c",
                    "/etc/cluster/cluster.toml",
                ],
            ))
            .expect("start fenced");
        lab::wait::wait_until(
            Duration::from_secs(10),
            Duration::from_millis(50),
            "fenced socket",
            || FencedClient::connect(&self.socket()).is_ok(),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", self.log()));
    }

    fn socket(&self) -> PathBuf {
        self.lab
            .node(1)
            .private_dir("/run")
            .expect("/run")
            .join("fenced/fenced.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.lab.node(1).log_dir().join("lab-fenced.log"))
            .unwrap_or_default()
    }

    fn client(&self) -> FencedClient {
        FencedClient::connect(&self.socket()).expect("connect")
    }

    fn tool(&self, bin: &str, args: &[&str]) -> Output {
        Command::new(bin)
            .args(args)
            .arg("--socket")
            .arg(self.socket())
            .output()
            .expect("run tool")
    }
}

/// A stand-in for hbd: tells fenced "quorate" on one connection kept open, again every
/// 2 s (fenced lets an unconfirmed quorum expire, and takes the connection's closing as
/// "nobody vouches for quorum any more"). Dropping it hangs up.
struct MembershipLayer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MembershipLayer {
    fn tell_quorate(socket: &std::path::Path) -> MembershipLayer {
        use std::sync::atomic::Ordering;
        let mut conn = FencedClient::connect(socket).expect("connect");
        conn.call(
            Request::Quorum { quorate: true },
            Some(Duration::from_secs(5)),
        )
        .expect("quorum");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
                let _ = conn.call(
                    Request::Quorum { quorate: true },
                    Some(Duration::from_secs(5)),
                );
                for _ in 0..20 {
                    if flag.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
        MembershipLayer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for MembershipLayer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn finished(payload: Payload) -> Record {
    match payload {
        Payload::Finished { record } => record,
        other => panic!("expected a finished record, got {other:?}"),
    }
}

#[test]
fn a_dead_first_level_falls_back_to_a_working_bmc_only_once_quorate_and_history_survives_a_restart()
{
    let f = FenceLab::start();
    let node2 = f.lab.node(2);
    let mut client = f.client();
    // Inquorate: the cluster's request waits.
    let accepted = client
        .call(
            Request::Fence {
                target: "node2".into(),
                action: FenceAction::Off,
                origin: Origin::Cluster("node1".into()),
                wait: true,
            },
            Some(Duration::from_secs(10)),
        )
        .expect("accepted");
    assert!(matches!(accepted, Payload::Accepted { .. }));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        node2.power().expect("power"),
        Power::On,
        "nothing happens without quorum"
    );
    let ls = f.tool(env!("CARGO_BIN_EXE_fence_tool"), &["ls"]);
    let ls = String::from_utf8_lossy(&ls.stdout);
    assert!(
        ls.contains("NOT quorate") && ls.contains("waiting for quorum"),
        "{ls}"
    );

    let membership_layer = MembershipLayer::tell_quorate(&f.socket());
    let record = finished(
        client
            .wait_reply(Some(Duration::from_secs(90)))
            .unwrap_or_else(|e| panic!("{e}\n{}", f.log())),
    );
    assert_eq!(record.outcome, Outcome::Fenced, "{record:?}\n{}", f.log());
    let devices: Vec<(&str, bool)> = record
        .attempts
        .iter()
        .map(|a| (a.device.0.as_str(), a.error.is_none()))
        .collect();
    assert_eq!(
        devices,
        [("dead-bmc", false), ("dead-bmc", false), ("bmc2", true)]
    );
    assert_eq!(node2.power().expect("power"), Power::Off);
    assert!(node2.pids().is_empty(), "node 2's processes are gone");
    // The membership layer goes away: nobody vouches for quorum any more.
    drop(membership_layer);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let ls = f.tool(env!("CARGO_BIN_EXE_fence_tool"), &["ls"]);
        if String::from_utf8_lossy(&ls.stdout).contains("NOT quorate") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still quorate after the membership layer hung up\n{}",
            f.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = f.log();
    assert!(
        !log.contains(&f.lab.bmc(2).expect("bmc").credentials().password),
        "no password in the log"
    );

    // fenced restarted: the history is still there.
    f.lab.node(1).kill_processes().expect("stop fenced");
    f.start_fenced();
    let out = f.tool(
        env!("CARGO_BIN_EXE_fence_tool"),
        &["history", "node2", "--json"],
    );
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let records = history["records"].as_array().expect("records");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["outcome"]["kind"], "fenced");
    assert_eq!(records[0]["attempts"].as_array().map(Vec::len), Some(3));
    let text = f.tool(env!("CARGO_BIN_EXE_fence_tool"), &["history"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("level 1 dead-bmc") && text.contains("level 2 bmc2 Off: ok"),
        "{text}"
    );
}

#[test]
fn fence_node_fences_and_unfences_through_fenced_and_directly() {
    let f = FenceLab::start();
    let node2 = f.lab.node(2);
    let out = f.tool(env!("CARGO_BIN_EXE_fence_node"), &["-v", "node2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("off node2: fenced"), "{stdout}");
    assert_eq!(node2.power().expect("power"), Power::Off);

    let out = f.tool(env!("CARGO_BIN_EXE_fence_node"), &["-U", "node2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("unfenced"));
    assert_eq!(node2.power().expect("power"), Power::On);
    lab::wait::wait_until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        "node 2's daemons",
        || !node2.pids().is_empty(),
    )
    .expect("node 2 runs again");

    // Without fenced: directly from the cluster file, inside node 1.
    f.lab.node(1).kill_processes().expect("stop fenced");
    let out = f
        .lab
        .node(1)
        .output(&[
            env!("CARGO_BIN_EXE_fence_node"),
            "-v",
            "--rounds",
            "1",
            "node2",
        ])
        .expect("run fence_node in node 1");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("fenced is not running"), "{stdout}");
    assert!(stdout.contains("level 2: bmc2 off"), "{stdout}");
    assert_eq!(node2.power().expect("power"), Power::Off);
}

#[test]
fn our_ipmi_agent_works_through_fenced_exactly_like_fence_ipmilan() {
    let f = FenceLab::start_with(env!("CARGO_BIN_EXE_fence_qd_ipmilan"));
    let node2 = f.lab.node(2);
    let out = f.tool(env!("CARGO_BIN_EXE_fence_node"), &["node2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        f.log()
    );
    assert!(stdout.contains("off node2: fenced"), "{stdout}");
    assert!(stdout.contains("level 2 bmc2 Off: ok"), "{stdout}");
    assert_eq!(node2.power().expect("power"), Power::Off);
    assert!(node2.pids().is_empty());
    let out = f.tool(env!("CARGO_BIN_EXE_fence_node"), &["-U", "node2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(node2.power().expect("power"), Power::On);
    assert!(!f
        .log()
        .contains(&f.lab.bmc(2).expect("bmc").credentials().password));
}

/// A stand-in for qdiskd on node 1: answers `status` on qdiskd's socket (inside the node,
/// `/run/qdiskd/qdiskd.sock`) with what the test sets; `None` accepts and never answers
/// (a hung qdiskd). Dropping it removes the socket (qdiskd not running).
struct FakeQdiskd {
    path: PathBuf,
    status: Arc<Mutex<Option<StatusReply>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeQdiskd {
    fn start(lab: &Lab, status: Option<StatusReply>) -> FakeQdiskd {
        let dir = lab
            .node(1)
            .private_dir("/run")
            .expect("/run")
            .join("qdiskd");
        std::fs::create_dir_all(&dir).expect("qdiskd's runtime dir");
        let path = dir.join("qdiskd.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind qdiskd's socket");
        listener.set_nonblocking(true).expect("nonblocking");
        let status = Arc::new(Mutex::new(status));
        let stop = Arc::new(AtomicBool::new(false));
        let (answer, flag) = (Arc::clone(&status), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let reply = answer.lock().expect("status").clone();
                std::thread::spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    let mut reader = BufReader::new(stream);
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    match reply {
                        Some(status) => {
                            let mut text = serde_json::to_string(&status).expect("json");
                            text.push('\n');
                            let _ = reader.get_mut().write_all(text.as_bytes());
                        }
                        None => std::thread::sleep(Duration::from_secs(6)),
                    }
                });
            }
        });
        FakeQdiskd {
            path,
            status,
            stop,
            thread: Some(thread),
        }
    }

    fn set(&self, status: Option<StatusReply>) {
        *self.status.lock().expect("status") = status;
    }
}

impl Drop for FakeQdiskd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// qdiskd on node 1 (running), seeing node 2 as `view`.
fn qdiskd_seeing_node2(view: &str) -> StatusReply {
    StatusReply {
        version: 1,
        node: 1,
        node_name: "node1".into(),
        state: "Running".into(),
        nodes: vec![NodeReport {
            node: 2,
            view: view.into(),
            disk_state: String::new(),
        }],
        visible: vec![1, 2],
        ..StatusReply::default()
    }
}

#[test]
fn an_ack_is_refused_while_the_quorum_disk_shows_the_node_writing_or_qdiskd_cannot_be_asked() {
    // qdiskd is configured (its section is there) but not running yet.
    let f = FenceLab::start_with_extra("fence_ipmilan", "\n[quorumd]\nlabel = \"lab-qdisk\"\n");
    let node2 = f.lab.node(2);
    let ack = |args: &[&str]| {
        let out = f.tool(env!("CARGO_BIN_EXE_fence_tool"), args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, _, err) = ack(&["ack", "-y", "node2"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("refusing: qdiskd could not be asked whether node2 still writes")
            && err.contains("cannot reach qdiskd at /run/qdiskd/qdiskd.sock")
            && err.contains("--force"),
        "{err}"
    );

    // A fence of node 2 waits for quorum; node 2 still writes its status block.
    let qdiskd = FakeQdiskd::start(&f.lab, Some(qdiskd_seeing_node2("up")));
    let mut waiting = f.client();
    let accepted = waiting
        .call(
            Request::Fence {
                target: "node2".into(),
                action: FenceAction::Off,
                origin: Origin::Cluster("node1".into()),
                wait: true,
            },
            Some(Duration::from_secs(10)),
        )
        .expect("accepted");
    assert!(matches!(accepted, Payload::Accepted { .. }));
    let (code, out, err) = ack(&["ack", "-y", "node2"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(
        err.trim(),
        "fence_tool: refusing: the quorum disk shows node2 (node id 2) still writing its status \
         block (qdiskd on this node sees it up); it is not down. Check node2 (powered off, or \
         cut off from shared storage), then use --force if you are sure"
    );
    let ls = f.tool(env!("CARGO_BIN_EXE_fence_tool"), &["ls"]);
    let ls = String::from_utf8_lossy(&ls.stdout);
    assert!(ls.contains("waiting for quorum"), "the fence goes on: {ls}");

    // Forced: the operator checked. The waiting fence ends as acknowledged.
    let (code, out, err) = ack(&["ack", "-y", "--force", "node2"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("node2 acknowledged as safely down"), "{out}");
    let record = finished(
        waiting
            .wait_reply(Some(Duration::from_secs(10)))
            .unwrap_or_else(|e| panic!("{e}\n{}", f.log())),
    );
    assert!(
        matches!(record.outcome, Outcome::Acknowledged(_)),
        "{record:?}"
    );
    assert!(
        f.log()
            .contains("forces the acknowledgement of node2 over this: the quorum disk shows node2"),
        "{}",
        f.log()
    );

    // Down on the disk: no force needed.
    qdiskd.set(Some(qdiskd_seeing_node2("down")));
    let (code, out, err) = ack(&["ack", "-y", "node2"]);
    assert_eq!(code, Some(0), "{out}{err}");

    // A hung qdiskd is not waited for past fenced's own limit.
    qdiskd.set(None);
    let (code, _, err) = ack(&["ack", "-y", "node2"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("did not answer within 3s"), "{err}");

    let history = f.tool(
        env!("CARGO_BIN_EXE_fence_tool"),
        &["history", "node2", "--json"],
    );
    let history: serde_json::Value = serde_json::from_slice(&history.stdout).expect("json");
    let outcomes: Vec<&str> = history["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["outcome"]["kind"].as_str())
        .collect();
    assert_eq!(
        outcomes,
        ["acknowledged", "acknowledged"],
        "refusals leave no record"
    );
    assert_eq!(
        node2.power().expect("power"),
        Power::On,
        "node 2 was never touched"
    );
}

/// A lab whose node 1 runs fenced with one unfence device: its own port on heartbeat
/// network 0 of the lab switch, switched over SNMP by `fence_qd_ifmib`.
struct FabricLab {
    lab: Lab,
}

impl FabricLab {
    fn start() -> FabricLab {
        lab::root::require_root("fenced unfencing lab tests");
        let lab = Lab::builder()
            .nodes(2)
            .media(1)
            .snmp(true)
            .build()
            .expect("lab");
        let community = lab.snmp().expect("snmp").credentials().rw_community.clone();
        let config = format!(
            r#"
[fenced]
history_file = "/var/lib/cluster/fence-history.jsonl"
device_timeout = "20s"

[[fence_device]]
name = "fabric"
agent = "{agent}"
ip = "{SWITCH_ADDR}"
community = "{community}"

[[node]]
name = "node1"
id = 1
[[node.unfence]]
device = "fabric"
port = "{port}"

[[node]]
name = "node2"
id = 2
"#,
            agent = env!("CARGO_BIN_EXE_fence_qd_ifmib"),
            port = Net::Heartbeat(0).port_name(1),
        );
        let path = lab
            .node(1)
            .private_dir("/etc/cluster")
            .expect("/etc/cluster")
            .join("cluster.toml");
        std::fs::write(&path, config).expect("config");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        FabricLab { lab }
    }

    /// Starts fenced on node 1 (and at every power on) and waits for its socket.
    fn start_fenced(&self) {
        self.lab
            .node(1)
            .add_daemon(Daemon::new(
                "fenced",
                &[
                    fenced_bin().display().to_string().as_str(),
                    "-c",
                    "/etc/cluster/cluster.toml",
                ],
            ))
            .expect("start fenced");
        self.wait_fenced();
    }

    fn wait_fenced(&self) {
        let socket = self
            .lab
            .node(1)
            .private_dir("/run")
            .expect("/run")
            .join("fenced/fenced.sock");
        lab::wait::wait_until(
            Duration::from_secs(20),
            Duration::from_millis(50),
            "fenced socket",
            || FencedClient::connect(&socket).is_ok(),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", self.log()));
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.lab.node(1).log_dir().join("lab-fenced.log"))
            .unwrap_or_default()
    }

    fn port_up(&self) -> bool {
        self.lab
            .switch()
            .expect("switch")
            .port_is_up(1, Net::Heartbeat(0))
            .expect("port state")
    }

    /// Sets node 1's port down over SNMP (`ifAdminStatus` 2), as a peer's fabric fence
    /// would.
    fn fence_port(&self) {
        let oid = format!("{IF_ADMIN_STATUS}.{}", Net::Heartbeat(0).port_if_index(1));
        self.lab
            .snmp()
            .expect("snmp")
            .snmpset_v2c_int(&oid, 2)
            .expect("port down over SNMP");
        assert!(!self.port_up());
    }

    fn wait_port_up(&self, why: &str) {
        lab::wait::wait_until(
            Duration::from_secs(20),
            Duration::from_millis(50),
            why,
            || self.port_up(),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", self.log()));
    }
}

#[test]
fn fenced_unfences_its_node_at_start_only_after_a_reboot() {
    let f = FabricLab::start();
    // First start on this node: no boot id recorded yet, so it unfences.
    f.fence_port();
    f.start_fenced();
    f.wait_port_up("unfenced at the first start");
    assert!(
        f.log().contains("first start of fenced on this node"),
        "{}",
        f.log()
    );

    // A peer fences node 1's port; fenced is restarted without a reboot: the fence stays.
    f.fence_port();
    let before = f.log().len();
    f.lab.node(1).kill_processes().expect("stop fenced");
    f.start_fenced();
    std::thread::sleep(Duration::from_secs(3));
    let log = f.log();
    assert!(
        log[before..]
            .contains("fenced restarted without a reboot of this node (node1): not unfencing it")
            && log[before..].contains("fence_node -U"),
        "{log}"
    );
    assert!(!f.port_up(), "a restart of fenced unfenced the node\n{log}");

    // A reboot (power cycle: a new boot id) unfences.
    let before = f.log().len();
    let boot = f.lab.node(1).boot_id().expect("boot id");
    f.lab.node(1).power_cycle().expect("power cycle");
    assert_ne!(f.lab.node(1).boot_id().expect("boot id"), boot);
    f.wait_fenced();
    f.wait_port_up("unfenced after the reboot");
    assert!(
        f.log()[before..].contains("the node rebooted since fenced last ran"),
        "{}",
        f.log()
    );
}
