//! Stage 4: the switch's SNMP agent (net-snmp's snmpd); ifAdminStatus of a node's port
//! really cuts that node off, checked with Debian's snmpset from another node.

use std::process::Command;
use std::time::Duration;

use lab::root::require_root;
use lab::snmp::IF_ADMIN_STATUS;
use lab::topology::SWITCH_ADDR;
use lab::wait::wait_until;
use lab::{Lab, Net};

fn ping(lab: &Lab, from: usize, to: std::net::Ipv4Addr) -> bool {
    lab.node(from)
        .output(&["ping", "-c", "1", "-W", "1", &to.to_string()])
        .is_ok_and(|o| o.status.success())
}

fn snmp_from(lab: &Lab, node: usize, tool: &str, args: &[&str]) -> std::process::Output {
    let mut command: Command = lab.node(node).command(tool);
    command
        .env("MIBS", "")
        .env("MIBDIRS", "/nonexistent")
        .args(["-On", "-t", "1", "-r", "1"])
        .args(args);
    command.output().expect("run snmp client")
}

#[test]
fn snmpset_on_a_port_cuts_that_node_off_and_restores_it() {
    require_root("snmpset_on_a_port_cuts_that_node_off_and_restores_it");
    let lab = Lab::builder().nodes(2).snmp(true).build().expect("lab up");
    let creds = lab.snmp().expect("snmp").credentials().clone();
    let target = lab.node(2).addr(Net::Heartbeat(0));
    assert!(ping(&lab, 1, target));
    let oid = format!("{IF_ADMIN_STATUS}.{}", Net::Heartbeat(0).port_if_index(2));
    let agent = SWITCH_ADDR.to_string();

    let out = snmp_from(
        &lab,
        1,
        "snmpset",
        &["-v2c", "-c", &creds.rw_community, &agent, &oid, "i", "2"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!lab
        .switch()
        .expect("switch")
        .port_is_up(2, Net::Heartbeat(0))
        .expect("port"));
    assert!(
        !ping(&lab, 1, target),
        "node 2 still reachable with its port down"
    );
    let out = snmp_from(
        &lab,
        1,
        "snmpget",
        &["-v2c", "-c", &creds.ro_community, &agent, &oid],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("INTEGER: 2"));

    // Back on, with the SNMPv3 user this time.
    let out = snmp_from(
        &lab,
        1,
        "snmpset",
        &[
            "-v3",
            "-l",
            "authPriv",
            "-u",
            &creds.v3_user,
            "-a",
            "SHA",
            "-A",
            &creds.v3_auth,
            "-x",
            "AES",
            "-X",
            &creds.v3_priv,
            &agent,
            &oid,
            "i",
            "1",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(50),
        "node 2 reachable",
        || ping(&lab, 1, target),
    )
    .expect("port restored");
}

#[test]
fn the_read_only_community_cannot_set_a_port() {
    require_root("the_read_only_community_cannot_set_a_port");
    let lab = Lab::builder().nodes(1).snmp(true).build().expect("lab up");
    let snmp = lab.snmp().expect("snmp");
    let oid = format!("{IF_ADMIN_STATUS}.{}", Net::Heartbeat(0).port_if_index(1));
    let mut c = snmp.client("snmpset");
    c.args([
        "-v2c",
        "-c",
        &snmp.credentials().ro_community,
        "127.0.0.1",
        &oid,
        "i",
        "2",
    ]);
    let out = c.output().expect("snmpset");
    assert!(!out.status.success());
    assert!(lab
        .switch()
        .expect("switch")
        .port_is_up(1, Net::Heartbeat(0))
        .expect("port"));
}
