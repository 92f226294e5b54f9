//! fenced, fence_node and fence_tool for real, in the lab: fenced runs in node 1; node 2 is
//! the victim, with a BMC (OpenIPMI's ipmi_sim) whose power really controls it. Devices are
//! Debian's fence_ipmilan, called as an external agent. Needs root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use fenced::api::{Payload, Request};
use fenced::client::FencedClient;
use fenced::history::{FenceAction, Origin, Outcome, Record};
use lab::{Daemon, Lab, Power};

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
"#,
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
