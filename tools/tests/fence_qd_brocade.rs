//! `fence_qd_brocade` against the lab's Brocade simulator: an SSH server speaking the Fabric
//! OS commands fencing needs, whose ports are the lab switch's real ports (port 0 and 1 are
//! node 1's and node 2's heartbeat-0 ports, 2 and 3 their heartbeat-1 ports). Needs root.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use lab::brocade::{BrocadeCredentials, BrocadeSim};
use lab::root::require_root;
use lab::wait::wait_until;
use lab::{Lab, Net};

const AGENT: &str = env!("CARGO_BIN_EXE_fence_qd_brocade");

fn fabric() -> (Lab, BrocadeSim) {
    let lab = Lab::builder().nodes(2).media(2).build().expect("lab up");
    let ns = lab.switch().expect("switch").netns().name().to_string();
    let ports: Vec<String> = [Net::Heartbeat(0), Net::Heartbeat(1)]
        .iter()
        .flat_map(|net| (1..=2).map(|n| net.port_name(n)))
        .collect();
    let sim = BrocadeSim::start(&ns, &ports, &BrocadeCredentials::default()).expect("simulator");
    (lab, sim)
}

/// Our agent (in the host namespace: the simulator listens on the loopback).
fn agent(sim: &BrocadeSim, password: &str, plug: &str, action: &str) -> (i32, String, String) {
    agent_with(sim, password, plug, action, "")
}

fn agent_with(
    sim: &BrocadeSim,
    password: &str,
    plug: &str,
    action: &str,
    extra: &str,
) -> (i32, String, String) {
    let stdin = format!(
        "ip=127.0.0.1\nipport={}\nusername={}\npassword={password}\nplug={plug}\naction={action}\nverbose=1\n{extra}",
        sim.addr().port(),
        sim.credentials().user,
    );
    let mut child = Command::new("timeout")
        .args(["60", AGENT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn port_up(lab: &Lab, node: usize, net: Net) -> bool {
    lab.switch()
        .expect("switch")
        .port_is_up(node, net)
        .expect("port")
}

fn ping(lab: &Lab, from: usize, to: std::net::Ipv4Addr) -> bool {
    lab.node(from)
        .output(&["ping", "-c", "1", "-W", "1", &to.to_string()])
        .is_ok_and(|o| o.status.success())
}

#[test]
fn brocade_off_disables_every_port_of_the_node_and_on_enables_them() {
    require_root("brocade_off_disables_every_port_of_the_node_and_on_enables_them");
    let (lab, sim) = fabric();
    let pw = sim.credentials().password.clone();
    // Node 2: port 1 (heartbeat 0) and port 3 (heartbeat 1).
    let (rc, out, err) = agent(&sim, &pw, "1,3", "status");
    assert_eq!((rc, out.as_str()), (0, "Status: ON"), "{err}");
    let (rc, out, err) = agent(&sim, &pw, "1,3", "off");
    assert_eq!((rc, out.as_str()), (0, "Success: Powered OFF"), "{err}");
    for net in [Net::Heartbeat(0), Net::Heartbeat(1)] {
        assert!(!port_up(&lab, 2, net), "{net}");
        assert!(!ping(&lab, 1, lab.node(2).addr(net)), "{net}");
        assert!(port_up(&lab, 1, net), "node 1 untouched on {net}");
    }
    assert!(!err.contains(&pw) && !out.contains(&pw), "{err}");
    let (rc, out, _) = agent(&sim, &pw, "1,3", "status");
    assert_eq!((rc, out.as_str()), (2, "Status: OFF"));
    let (rc, out, _) = agent(&sim, &pw, "1", "off");
    assert_eq!((rc, out.as_str()), (0, "Success: Already OFF"));
    let (rc, list, err) = agent(&sim, &pw, "", "list-status");
    assert_eq!(rc, 0, "{err}");
    assert_eq!(list, "0,,ON\n1,,OFF\n2,,ON\n3,,OFF", "{err}");

    let (rc, out, err) = agent(&sim, &pw, "1,3", "on");
    assert_eq!((rc, out.as_str()), (0, "Success: Powered ON"), "{err}");
    for net in [Net::Heartbeat(0), Net::Heartbeat(1)] {
        let to = lab.node(2).addr(net);
        wait_until(
            Duration::from_secs(10),
            Duration::from_millis(50),
            "node 2 reachable",
            || ping(&lab, 1, to),
        )
        .expect("link restored");
    }
}

#[test]
fn brocade_wrong_password_and_unknown_port_fail_with_clear_errors() {
    require_root("brocade_wrong_password_and_unknown_port_fail_with_clear_errors");
    let (lab, sim) = fabric();
    let (rc, out, err) = agent(&sim, "not-the-password", "1", "off");
    assert_eq!(rc, 1, "{out}");
    assert!(err.contains("refused the SSH login"), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");
    assert!(port_up(&lab, 2, Net::Heartbeat(0)));
    let pw = sim.credentials().password.clone();
    let (rc, _, err) = agent(&sim, &pw, "1,9", "off");
    assert_eq!(rc, 1);
    assert!(err.contains("unknown to the device"), "{err}");
    assert!(
        port_up(&lab, 2, Net::Heartbeat(0)),
        "nothing set before all ports are known"
    );
    let (rc, _, err) = agent(&sim, &pw, "fc1/2", "off");
    assert_eq!(rc, 1);
    assert!(err.contains("switchshow indexes"), "{err}");
}

#[test]
fn brocade_pinned_host_key_is_checked() {
    require_root("brocade_pinned_host_key_is_checked");
    let (lab, sim) = fabric();
    let pw = sim.credentials().password.clone();
    let right = format!("ssh_host_key_fingerprint={}\n", sim.host_key_fingerprint());
    let (rc, out, err) = agent_with(&sim, &pw, "1", "status", &right);
    assert_eq!((rc, out.as_str()), (0, "Status: ON"), "{err}");
    assert!(!err.contains("unchecked"), "{err}");
    let wrong = "ssh_host_key_fingerprint=SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
    let (rc, _, err) = agent_with(&sim, &pw, "1", "off", wrong);
    assert_eq!(rc, 1);
    assert!(err.contains("man in the middle"), "{err}");
    assert!(
        port_up(&lab, 2, Net::Heartbeat(0)),
        "nothing sent to an unknown switch"
    );
}

#[test]
fn brocade_metadata_is_valid_and_declares_unfencing() {
    let out = Command::new(AGENT)
        .args(["-o", "metadata"])
        .output()
        .expect("agent");
    assert!(out.status.success());
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(
        xml.contains("<action name=\"on\" automatic=\"1\"/>"),
        "{xml}"
    );
    common::metadata::assert_valid("fence_qd_brocade", &out.stdout);
}
