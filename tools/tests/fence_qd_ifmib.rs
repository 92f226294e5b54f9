//! `fence_qd_ifmib` and `fence_qd_cisco_mds` against a real SNMP agent: net-snmp's snmpd
//! in the lab switch, whose `ifAdminStatus` (and FC-MIB port admin status, through its
//! `pass_persist` script) really sets a node's switch ports down. The agents run in the
//! switch namespace with their options on stdin, the way fenced and Pacemaker call them.
//! Compared with Debian's `fence_ifmib` and `fence_cisco_mds` on the same agent. Needs root.

mod common;

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use lab::root::require_root;
use lab::snmp::{SnmpCredentials, IF_ADMIN_STATUS};
use lab::topology::SWITCH_ADDR;
use lab::wait::wait_until;
use lab::{Lab, Net};

const IFMIB: &str = env!("CARGO_BIN_EXE_fence_qd_ifmib");
const CISCO_MDS: &str = env!("CARGO_BIN_EXE_fence_qd_cisco_mds");

/// A lab with 2 nodes on 2 heartbeat media and the switch's snmpd.
fn switch_lab() -> Lab {
    Lab::builder()
        .nodes(2)
        .media(2)
        .snmp(true)
        .build()
        .expect("lab up")
}

fn creds(lab: &Lab) -> SnmpCredentials {
    lab.snmp().expect("snmp").credentials().clone()
}

/// Runs `program` in the switch namespace with `stdin`.
fn in_switch(lab: &Lab, program: &str, args: &[&str], stdin: &str) -> Output {
    let ns = lab.switch().expect("switch").netns().name().to_string();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns, "timeout", "60", program])
        .args(args)
        .env("MIBS", "")
        .env("MIBDIRS", "/nonexistent")
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
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// (exit code, stdout trimmed, stderr).
fn run(lab: &Lab, program: &str, stdin: &str) -> (i32, String, String) {
    let out = in_switch(lab, program, &[], stdin);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Options for a v2c call with the read-write community.
fn v2c(lab: &Lab, plug: &str, action: &str) -> String {
    format!(
        "ip={SWITCH_ADDR}\ncommunity={}\nplug={plug}\naction={action}\n",
        creds(lab).rw_community
    )
}

fn ping(lab: &Lab, from: usize, to: Ipv4Addr) -> bool {
    lab.node(from)
        .output(&["ping", "-c", "1", "-W", "1", &to.to_string()])
        .is_ok_and(|o| o.status.success())
}

fn port_up(lab: &Lab, node: usize, net: Net) -> bool {
    lab.switch()
        .expect("switch")
        .port_is_up(node, net)
        .expect("port state")
}

fn reachable_again(lab: &Lab, net: Net) {
    let to = lab.node(2).addr(net);
    wait_until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        "node 2 reachable again",
        || ping(lab, 1, to),
    )
    .expect("link restored");
}

const HB: [Net; 2] = [Net::Heartbeat(0), Net::Heartbeat(1)];

#[test]
fn off_cuts_every_port_of_the_node_and_on_restores_them() {
    require_root("off_cuts_every_port_of_the_node_and_on_restores_them");
    let lab = switch_lab();
    for net in HB {
        assert!(ping(&lab, 1, lab.node(2).addr(net)), "{net} up at start");
    }
    let plug = "n2h0,n2h1";
    let (rc, out, err) = run(&lab, IFMIB, &v2c(&lab, plug, "status"));
    assert_eq!((rc, out.as_str()), (0, "Status: ON"), "{err}");

    let (rc, out, err) = run(&lab, IFMIB, &v2c(&lab, plug, "off"));
    assert_eq!((rc, out.as_str()), (0, "Success: Powered OFF"), "{err}");
    for net in HB {
        assert!(!port_up(&lab, 2, net), "port of node 2 on {net} still up");
        assert!(
            !ping(&lab, 1, lab.node(2).addr(net)),
            "node 2 still reachable on {net}"
        );
    }
    assert!(
        port_up(&lab, 1, Net::Heartbeat(0)),
        "node 1 was not touched"
    );
    assert!(
        port_up(&lab, 2, Net::Mgmt),
        "a port not listed was not touched"
    );
    let (rc, out, _) = run(&lab, IFMIB, &v2c(&lab, plug, "status"));
    assert_eq!((rc, out.as_str()), (2, "Status: OFF"));
    let (rc, out, _) = run(&lab, IFMIB, &v2c(&lab, plug, "off"));
    assert_eq!((rc, out.as_str()), (0, "Success: Already OFF"));

    let (rc, out, err) = run(&lab, IFMIB, &v2c(&lab, plug, "on"));
    assert_eq!((rc, out.as_str()), (0, "Success: Powered ON"), "{err}");
    for net in HB {
        assert!(port_up(&lab, 2, net));
        reachable_again(&lab, net);
    }
    // RHCS 1's names for off and on.
    let (rc, _, err) = run(&lab, IFMIB, &v2c(&lab, "102", "disable"));
    assert_eq!(rc, 0, "{err}");
    assert!(!port_up(&lab, 2, Net::Heartbeat(0)), "ports by ifIndex too");
    let (rc, _, err) = run(&lab, IFMIB, &v2c(&lab, "102", "enable"));
    assert_eq!(rc, 0, "{err}");
    assert!(port_up(&lab, 2, Net::Heartbeat(0)));
}

#[test]
fn fence_ifmib_leaves_the_second_port_of_a_node_up_and_ours_does_not() {
    require_root("fence_ifmib_leaves_the_second_port_of_a_node_up_and_ours_does_not");
    let lab = switch_lab();
    let (rc, _, err) = run(&lab, "fence_ifmib", &v2c(&lab, "n2h0,n2h1", "off"));
    assert_eq!(rc, 0, "fence_ifmib reports success: {err}");
    assert!(!port_up(&lab, 2, Net::Heartbeat(0)));
    assert!(
        port_up(&lab, 2, Net::Heartbeat(1)),
        "fence-agents 4.12.1 reuses the first port's ifIndex for every plug; if this fails, \
         Debian's fence_ifmib was fixed"
    );
    let (rc, out, err) = run(&lab, IFMIB, &v2c(&lab, "n2h0,n2h1", "off"));
    assert_eq!((rc, out.as_str()), (0, "Success: Powered OFF"), "{err}");
    assert!(
        !port_up(&lab, 2, Net::Heartbeat(1)),
        "ours fences the second port too"
    );
}

#[test]
fn snmp_v1_fences_and_unfences_too() {
    require_root("snmp_v1_fences_and_unfences_too");
    let lab = switch_lab();
    let opts = |action: &str| format!("{}snmp_version=1\n", v2c(&lab, "n2h0,202", action));
    let (rc, out, err) = run(&lab, IFMIB, &opts("off"));
    assert_eq!((rc, out.as_str()), (0, "Success: Powered OFF"), "{err}");
    for net in HB {
        assert!(!port_up(&lab, 2, net), "{net}");
    }
    let (rc, out, _) = run(&lab, IFMIB, &opts("status"));
    assert_eq!((rc, out.as_str()), (2, "Status: OFF"));
    let (rc, out, err) = run(&lab, IFMIB, &opts("on"));
    assert_eq!((rc, out.as_str()), (0, "Success: Powered ON"), "{err}");
    let (rc, list, err) = run(&lab, IFMIB, &opts("list"));
    assert_eq!(rc, 0, "{err}");
    assert!(
        list.lines().any(|l| l == "n2h1,"),
        "v1 walks end cleanly: {list}"
    );
}

#[test]
fn status_is_off_only_when_every_port_is_down() {
    require_root("status_is_off_only_when_every_port_is_down");
    let lab = switch_lab();
    let switch = lab.switch().expect("switch");
    switch.set_port(2, Net::Heartbeat(0), false).expect("down");
    let (rc, out, err) = run(&lab, IFMIB, &v2c(&lab, "n2h0,n2h1", "status"));
    assert_eq!(
        (rc, out.as_str()),
        (0, "Status: ON"),
        "one port still up: {err}"
    );
    // off of a half-fenced node sets the remaining port and confirms both.
    let (rc, out, err) = run(&lab, IFMIB, &v2c(&lab, "n2h0,n2h1", "off"));
    assert_eq!((rc, out.as_str()), (0, "Success: Powered OFF"), "{err}");
    assert!(!port_up(&lab, 2, Net::Heartbeat(1)));
    let (rc, out, _) = run(&lab, IFMIB, &v2c(&lab, "n2h0,n2h1", "status"));
    assert_eq!((rc, out.as_str()), (2, "Status: OFF"));
}

#[test]
fn ports_on_two_switches_are_each_resolved_and_set() {
    require_root("ports_on_two_switches_are_each_resolved_and_set");
    let lab = switch_lab();
    // The second "switch" is the same snmpd reached at another address (the switch's
    // loopback): a separate session and a separate name resolution.
    let plug = "n2h0,n2h1@127.0.0.1,302@127.0.0.1";
    let (rc, out, err) = run(&lab, IFMIB, &v2c(&lab, plug, "off"));
    assert_eq!((rc, out.as_str()), (0, "Success: Powered OFF"), "{err}");
    for net in [Net::Heartbeat(0), Net::Heartbeat(1), Net::Mgmt] {
        assert!(!port_up(&lab, 2, net), "{net}");
    }
    let (rc, out, err) = run(&lab, IFMIB, &v2c(&lab, plug, "on"));
    assert_eq!((rc, out.as_str()), (0, "Success: Powered ON"), "{err}");
    for net in [Net::Heartbeat(0), Net::Heartbeat(1), Net::Mgmt] {
        assert!(port_up(&lab, 2, net), "{net}");
    }
}

#[test]
fn snmp_v3_auth_priv_and_auth_no_priv_fence_and_unfence() {
    require_root("snmp_v3_auth_priv_and_auth_no_priv_fence_and_unfence");
    let lab = switch_lab();
    let c = creds(&lab);
    let cases = [
        format!(
            "snmp_version=3\nusername={}\npassword={}\nsnmp_auth_prot=SHA\nsnmp_sec_level=authPriv\nsnmp_priv_prot=AES\nsnmp_priv_passwd={}\n",
            c.v3_user, c.v3_auth, c.v3_priv
        ),
        format!(
            "snmp_version=3\nusername={}\npassword={}\nsnmp_auth_prot=SHA\nsnmp_sec_level=authNoPriv\n",
            c.v3_auth_user, c.v3_auth
        ),
    ];
    for v3 in cases {
        let opts = |action: &str| format!("ip={SWITCH_ADDR}\nplug=n2h1\naction={action}\n{v3}");
        let (rc, out, err) = run(&lab, IFMIB, &opts("off"));
        assert_eq!(
            (rc, out.as_str()),
            (0, "Success: Powered OFF"),
            "{v3}: {err}"
        );
        assert!(!port_up(&lab, 2, Net::Heartbeat(1)));
        let (rc, out, _) = run(&lab, IFMIB, &opts("status"));
        assert_eq!((rc, out.as_str()), (2, "Status: OFF"));
        let (rc, out, err) = run(&lab, IFMIB, &opts("on"));
        assert_eq!((rc, out.as_str()), (0, "Success: Powered ON"), "{err}");
        assert!(port_up(&lab, 2, Net::Heartbeat(1)));
        for secret in [&c.v3_auth, &c.v3_priv] {
            assert!(!err.contains(secret.as_str()) && !out.contains(secret.as_str()));
        }
    }
    // A wrong authentication passphrase is an authentication error, not a fence.
    let (rc, _, err) = run(
        &lab,
        IFMIB,
        &format!(
            "ip={SWITCH_ADDR}\nplug=n2h1\naction=off\nsnmp_version=3\nusername={}\npassword=not-the-passphrase\nsnmp_priv_passwd={}\nsnmp_timeout=0.3\nsnmp_retries=0\n",
            c.v3_user, c.v3_priv
        ),
    );
    assert_eq!(rc, 1, "{err}");
    assert!(port_up(&lab, 2, Net::Heartbeat(1)));
    assert!(!err.contains("not-the-passphrase"), "{err}");
}

#[test]
fn a_wrong_community_fails_after_the_configured_timeout() {
    require_root("a_wrong_community_fails_after_the_configured_timeout");
    let lab = switch_lab();
    let stdin = format!(
        "ip={SWITCH_ADDR}\ncommunity=Wr0ngC0mmunity\nplug=n2h0\naction=off\nsnmp_timeout=0.3\nsnmp_retries=1\nverbose=1\n"
    );
    let (rc, out, err) = run(&lab, IFMIB, &stdin);
    assert_eq!(rc, 1, "{out}{err}");
    // 0.3 s per attempt, one retransmission.
    assert!(err.contains("timed out after 600ms"), "{err}");
    assert!(err.contains("wrong community"), "{err}");
    assert!(
        !err.contains("Wr0ngC0mmunity") && !out.contains("Wr0ngC0mmunity"),
        "{err}"
    );
    assert!(port_up(&lab, 2, Net::Heartbeat(0)));
}

#[test]
fn a_read_only_community_and_an_unknown_port_fail_at_once_with_clear_errors() {
    require_root("a_read_only_community_and_an_unknown_port_fail_at_once_with_clear_errors");
    let lab = switch_lab();
    let c = creds(&lab);
    let ro = format!(
        "ip={SWITCH_ADDR}\ncommunity={}\nplug=n2h0,n2h1\naction=off\n",
        c.ro_community
    );
    let (rc, out, err) = run(&lab, IFMIB, &ro);
    assert_eq!(rc, 1, "{out}");
    assert!(
        err.contains("noAccess") && err.contains("use the read-write community"),
        "{err}"
    );
    assert!(!err.contains("timed out"), "{err}");
    for net in HB {
        assert!(port_up(&lab, 2, net));
    }
    for plug in ["n2h0,n9h9", "n2h0,999"] {
        let (rc, out, err) = run(&lab, IFMIB, &v2c(&lab, plug, "off"));
        assert_eq!(rc, 1, "{out}");
        assert!(err.contains("unknown to the device"), "{plug}: {err}");
        assert!(!err.contains("timed out"), "{err}");
        assert!(
            port_up(&lab, 2, Net::Heartbeat(0)),
            "nothing is set before every port is known"
        );
    }
    let (rc, _, err) = run(&lab, IFMIB, &v2c(&lab, "n2h0,", "off"));
    assert_eq!(rc, 1);
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn our_agent_and_fence_ifmib_agree_on_status_for_every_port() {
    require_root("our_agent_and_fence_ifmib_agree_on_status_for_every_port");
    let lab = switch_lab();
    let switch = lab.switch().expect("switch");
    switch.set_port(2, Net::Heartbeat(1), false).expect("down");
    switch.set_port(1, Net::Mgmt, false).expect("down");
    // snmpd sees a change it did not make itself only when its interface cache expires.
    let snmp = lab.snmp().expect("snmp");
    for (node, net) in [(2, Net::Heartbeat(1)), (1, Net::Mgmt)] {
        let oid = format!("{IF_ADMIN_STATUS}.{}", net.port_if_index(node));
        wait_until(
            Duration::from_secs(10),
            Duration::from_millis(100),
            "snmpd to see the port down",
            || {
                snmp.snmpget_v2c(&oid)
                    .is_ok_and(|v| v.ends_with("INTEGER: 2"))
            },
        )
        .expect("snmpd sees the port down");
    }
    let (rc, list, err) = run(&lab, IFMIB, &v2c(&lab, "", "list"));
    assert_eq!(rc, 0, "{err}");
    let ports: Vec<String> = list
        .lines()
        .filter_map(|l| l.split(',').next())
        .map(str::to_string)
        .collect();
    for n in 1..=2 {
        for net in [Net::Heartbeat(0), Net::Heartbeat(1), Net::Mgmt] {
            assert!(ports.contains(&net.port_name(n)), "{list}");
        }
    }
    let mut offs = 0;
    for port in &ports {
        let ours = run(&lab, IFMIB, &v2c(&lab, port, "status"));
        let theirs = run(&lab, "fence_ifmib", &v2c(&lab, port, "status"));
        assert_eq!(
            (ours.0, &ours.1),
            (theirs.0, &theirs.1),
            "port {port}: {}",
            ours.2
        );
        if ours.0 == 2 {
            offs += 1;
        }
    }
    assert_eq!(offs, 2, "exactly the two ports set down read OFF");
    // list-status shows the same states.
    let (_, list_status, _) = run(&lab, IFMIB, &v2c(&lab, "", "list-status"));
    assert!(
        list_status.lines().any(|l| l == "n2h1,,OFF"),
        "{list_status}"
    );
    assert!(
        list_status.lines().any(|l| l == "n2h0,,ON"),
        "{list_status}"
    );
}

#[test]
fn the_fc_switch_agent_takes_fc_ports_offline_and_agrees_with_fence_cisco_mds() {
    require_root("the_fc_switch_agent_takes_fc_ports_offline_and_agrees_with_fence_cisco_mds");
    let lab = switch_lab();
    let plug = format!(
        "{},{}",
        Net::Heartbeat(0).fc_port_name(2),
        Net::Heartbeat(1).fc_port_name(2)
    );
    let (rc, out, err) = run(&lab, CISCO_MDS, &v2c(&lab, &plug, "off"));
    assert_eq!((rc, out.as_str()), (0, "Success: Powered OFF"), "{err}");
    for net in HB {
        assert!(!port_up(&lab, 2, net), "{net}");
        assert!(!ping(&lab, 1, lab.node(2).addr(net)), "{net}");
    }
    assert!(port_up(&lab, 1, Net::Heartbeat(0)));
    let (_, list, err) = run(&lab, CISCO_MDS, &v2c(&lab, "", "list-status"));
    assert!(list.lines().any(|l| l == "fc1/2,,OFF"), "{list}{err}");
    assert!(list.lines().any(|l| l == "fc1/1,,ON"), "{list}");
    assert!(list.lines().any(|l| l == "fc3/2,,ON"), "{list}");
    for port in ["fc1/1", "fc1/2", "fc2/2", "fc3/1"] {
        let ours = run(&lab, CISCO_MDS, &v2c(&lab, port, "status"));
        let theirs = run(&lab, "fence_cisco_mds", &v2c(&lab, port, "status"));
        assert_eq!(
            (ours.0, &ours.1),
            (theirs.0, &theirs.1),
            "{port}: {}",
            ours.2
        );
    }
    let (rc, out, err) = run(&lab, CISCO_MDS, &v2c(&lab, &plug, "on"));
    assert_eq!((rc, out.as_str()), (0, "Success: Powered ON"), "{err}");
    for net in HB {
        reachable_again(&lab, net);
    }
    let (rc, _, err) = run(&lab, CISCO_MDS, &v2c(&lab, "fc9/1", "off"));
    assert_eq!(rc, 1);
    assert!(err.contains("unknown to the device"), "{err}");
}

#[test]
fn metadata_of_the_switch_agents_is_valid_and_declares_unfencing() {
    for agent in [IFMIB, CISCO_MDS] {
        let out = Command::new(agent)
            .args(["-o", "metadata"])
            .output()
            .expect("agent");
        assert!(out.status.success());
        let xml = String::from_utf8_lossy(&out.stdout);
        assert!(
            xml.contains("<action name=\"on\" automatic=\"1\"/>"),
            "{xml}"
        );
        assert!(!xml.contains("\"reboot\""), "{xml}");
        common::metadata::assert_valid(agent, &out.stdout);
    }
}
