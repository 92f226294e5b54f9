//! Stage 3: a BMC per node (OpenIPMI's ipmi_sim) whose chassis power really controls it,
//! driven by Debian's ipmitool from another node over the management network.

use std::time::Duration;

use lab::root::require_root;
use lab::wait::wait_until;
use lab::{Daemon, Lab, Net, Power};

fn ipmitool_from(lab: &Lab, from: usize, target: usize, args: &[&str]) -> String {
    let bmc = lab.bmc(target).expect("bmc");
    let mut argv = vec!["timeout".to_string(), "10".into(), "ipmitool".into()];
    argv.extend(bmc.ipmitool_args());
    argv.extend(args.iter().map(|s| s.to_string()));
    lab.node(from).run(&argv).expect("ipmitool")
}

fn ping(lab: &Lab, from: usize, to: std::net::Ipv4Addr) -> bool {
    lab.node(from)
        .output(&["ping", "-c", "1", "-W", "1", &to.to_string()])
        .is_ok_and(|o| o.status.success())
}

#[test]
fn ipmitool_powers_a_node_off_and_on_again() {
    require_root("ipmitool_powers_a_node_off_and_on_again");
    let lab = Lab::builder().nodes(2).bmcs(true).build().expect("lab up");
    let node = lab.node(2);
    node.add_daemon(Daemon::new(
        "sleeper",
        &["sh", "-c", "sleep 1000 & exec sleep 1001"],
    ))
    .expect("daemon");
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        "daemon",
        || node.pids().len() >= 2,
    )
    .expect("daemon up");

    let status = ipmitool_from(&lab, 1, 2, &["chassis", "power", "status"]);
    assert!(status.contains("Chassis Power is on"), "{status}");

    let off = ipmitool_from(&lab, 1, 2, &["chassis", "power", "off"]);
    assert!(off.contains("Down/Off"), "{off}");
    assert!(
        node.pids().is_empty(),
        "processes survived power off: {:?}",
        node.pids()
    );
    assert_eq!(node.power().expect("power"), Power::Off);
    assert!(
        !ping(&lab, 1, node.addr(Net::Heartbeat(0))),
        "a powered-off node answers ping"
    );
    let status = ipmitool_from(&lab, 1, 2, &["chassis", "power", "status"]);
    assert!(status.contains("Chassis Power is off"), "{status}");

    let on = ipmitool_from(&lab, 1, 2, &["chassis", "power", "on"]);
    assert!(on.contains("Up/On"), "{on}");
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        "daemon after power on",
        || node.pids().len() >= 2,
    )
    .expect("daemon started again");
    assert!(
        ping(&lab, 1, node.addr(Net::Heartbeat(0))),
        "node not back on the network"
    );
    // The BMC of node 1 is untouched, and node 1 kept running.
    let status = lab
        .bmc(1)
        .expect("bmc1")
        .ipmitool(&["chassis", "power", "status"])
        .expect("status");
    assert!(status.contains("on"), "{status}");
}

#[test]
fn a_wrong_password_is_refused() {
    require_root("a_wrong_password_is_refused");
    let lab = Lab::builder().nodes(1).bmcs(true).build().expect("lab up");
    let bmc = lab.bmc(1).expect("bmc");
    let mut argv: Vec<String> = [
        "timeout", "10", "ipmitool", "-I", "lanplus", "-C", "3", "-N", "1", "-R", "1", "-H",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.extend([
        bmc.addr().to_string(),
        "-U".into(),
        bmc.credentials().user.clone(),
    ]);
    argv.extend([
        "-P".into(),
        "wrong".into(),
        "chassis".into(),
        "power".into(),
        "off".into(),
    ]);
    let out = lab.node(1).output(&argv).expect("ipmitool");
    assert!(!out.status.success(), "wrong password accepted");
    assert_eq!(lab.node(1).power().expect("power"), Power::On);
}
