//! `fence_qd_ipmilan` against a real BMC simulator: the lab's OpenIPMI `ipmi_sim`, whose
//! chassis power really controls a lab node, reached over the management network from the
//! switch namespace. Compared with Debian's `fence_ipmilan` on the same BMC.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use lab::root::require_root;
use lab::wait::wait_until;
use lab::{Daemon, Lab, Power};

const AGENT: &str = env!("CARGO_BIN_EXE_fence_qd_ipmilan");

fn lab_with_daemon() -> Lab {
    let lab = Lab::builder().nodes(1).bmcs(true).build().expect("lab up");
    let node = lab.node(1);
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
    lab
}

/// Runs `program` in the switch namespace (on the management network) with `stdin`.
fn in_switch(lab: &Lab, program: &str, args: &[String], stdin: &str) -> Output {
    use std::io::Write;
    let ns = lab.switch().expect("switch").netns().name().to_string();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns, "timeout", "60", program])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
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

/// Our agent, options on stdin (the way fenced and Pacemaker call it).
fn agent(
    lab: &Lab,
    lanplus: bool,
    password: &str,
    action: &str,
    extra: &str,
) -> (i32, String, String) {
    let bmc = lab.bmc(1).expect("bmc");
    let stdin = format!(
        "ip={}\nipport={}\nusername={}\npassword={password}\nlanplus={}\naction={action}\npower_wait=0\n{extra}",
        bmc.addr(),
        bmc.port(),
        bmc.credentials().user,
        u8::from(lanplus),
    );
    let out = in_switch(lab, AGENT, &[], &stdin);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn our_agent_fences_and_unfences_a_node_over_lan_and_lanplus() {
    require_root("our_agent_fences_and_unfences_a_node_over_lan_and_lanplus");
    let lab = lab_with_daemon();
    let node = lab.node(1);
    for lanplus in [true, false] {
        let (rc, out, err) = agent(
            &lab,
            lanplus,
            &lab.bmc(1).expect("bmc").credentials().password,
            "status",
            "",
        );
        assert_eq!(
            (rc, out.trim()),
            (0, "Status: ON"),
            "lanplus={lanplus} {err}"
        );

        let pw = lab.bmc(1).expect("bmc").credentials().password.clone();
        let (rc, out, err) = agent(&lab, lanplus, &pw, "off", "");
        assert_eq!(
            (rc, out.trim()),
            (0, "Success: Powered OFF"),
            "lanplus={lanplus} {err}"
        );
        assert!(
            node.pids().is_empty(),
            "processes survived off: {:?}",
            node.pids()
        );
        assert_eq!(node.power().expect("power"), Power::Off);

        let (rc, out, _) = agent(&lab, lanplus, &pw, "status", "");
        assert_eq!((rc, out.trim()), (2, "Status: OFF"));
        let (rc, out, _) = agent(&lab, lanplus, &pw, "off", "");
        assert_eq!((rc, out.trim()), (0, "Success: Already OFF"));

        let (rc, out, err) = agent(&lab, lanplus, &pw, "on", "");
        assert_eq!((rc, out.trim()), (0, "Success: Powered ON"), "{err}");
        wait_until(
            Duration::from_secs(5),
            Duration::from_millis(10),
            "daemon after on",
            || node.pids().len() >= 2,
        )
        .expect("daemon started again");

        let before = node.pids();
        let (rc, out, err) = agent(&lab, lanplus, &pw, "reboot", "");
        assert_eq!((rc, out.trim()), (0, "Success: Rebooted"), "{err}");
        wait_until(
            Duration::from_secs(5),
            Duration::from_millis(10),
            "daemon after reboot",
            || node.pids().len() >= 2,
        )
        .expect("daemon after reboot");
        assert!(
            node.pids().iter().all(|p| !before.contains(p)),
            "reboot left old processes"
        );

        let before = node.pids();
        let (rc, out, err) = agent(&lab, lanplus, &pw, "reboot", "method=cycle\n");
        assert_eq!(rc, 0, "{out}{err}");
        assert!(out.contains("power cycle"), "{out}");
        wait_until(
            Duration::from_secs(10),
            Duration::from_millis(20),
            "node after cycle",
            || {
                let now = node.pids();
                now.len() >= 2 && now.iter().all(|p| !before.contains(p))
            },
        )
        .expect("cycle restarted the node");
    }
}

#[test]
fn a_wrong_password_is_a_clear_authentication_error() {
    require_root("a_wrong_password_is_a_clear_authentication_error");
    let lab = Lab::builder().nodes(1).bmcs(true).build().expect("lab up");
    for lanplus in [true, false] {
        let (rc, out, err) = agent(
            &lab,
            lanplus,
            "not-the-password",
            "off",
            "ipmi_timeout=0.3\n",
        );
        assert_eq!(rc, 1, "lanplus={lanplus}: {out}");
        assert!(
            err.contains("authentication failed"),
            "lanplus={lanplus}: {err}"
        );
        assert!(!err.contains("not-the-password") && !out.contains("not-the-password"));
    }
    assert_eq!(lab.node(1).power().expect("power"), Power::On);
}

#[test]
fn a_bmc_that_does_not_answer_fails_after_the_configured_timeout() {
    require_root("a_bmc_that_does_not_answer_fails_after_the_configured_timeout");
    let lab = Lab::builder().nodes(1).bmcs(true).build().expect("lab up");
    let pid = lab.bmc(1).expect("bmc").pid().expect("pid").to_string();
    let stop = Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .expect("kill");
    assert!(stop.success());
    let pw = lab.bmc(1).expect("bmc").credentials().password.clone();
    let t = Instant::now();
    // 0.4 s per attempt, 2 retransmissions: about 1.2 s, then a timeout error.
    let (rc, _, err) = agent(&lab, true, &pw, "off", "ipmi_timeout=0.4\nipmi_retries=2\n");
    let took = t.elapsed();
    let _ = Command::new("kill").args(["-CONT", &pid]).status();
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert!(
        took >= Duration::from_millis(1200) && took < Duration::from_secs(5),
        "took {took:?}"
    );
    assert_eq!(lab.node(1).power().expect("power"), Power::On);
}

/// The state letter of process `pid` (`R`, `S`, `T` for stopped, ...).
fn process_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after_name = &stat[stat.rfind(')').expect("comm") + 2..];
    after_name.chars().next().expect("state")
}

#[test]
fn a_slow_bmc_answers_late_and_the_agent_reports_only_what_happened() {
    require_root("a_slow_bmc_answers_late_and_the_agent_reports_only_what_happened");
    let lab = lab_with_daemon();
    let node = lab.node(1);
    let bmc = lab.bmc(1).expect("bmc");
    let pid = bmc.pid().expect("pid");
    let pw = bmc.credentials().password.clone();
    // Frozen 1.5 s of every 2 s, as the chaos campaign's bmc-slow.
    bmc.slow(Duration::from_millis(1500), Duration::from_millis(500))
        .expect("slow");
    let mut seen = std::collections::BTreeSet::new();
    let end = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < end {
        seen.insert(process_state(pid) == 'T');
        std::thread::sleep(Duration::from_millis(25));
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        vec![false, true],
        "a slow BMC is frozen part of the time and runs part of the time"
    );

    // With the default 1 s per attempt, requests land in frozen spells and answers come
    // after retransmissions or after the agent gave up: whatever it says must be true.
    let (rc, out, err) = agent(&lab, true, &pw, "status", "");
    match rc {
        0 => assert_eq!(out.trim(), "Status: ON", "{err}"),
        1 => assert!(err.contains("timed out"), "{err}"),
        _ => panic!("status of a slow BMC: exit {rc}: {out}{err}"),
    }
    assert_eq!(node.power().expect("power"), Power::On);

    // Waiting longer than a frozen spell per attempt, the agent gets through and the node
    // is off when it says so.
    let (rc, out, err) = agent(&lab, true, &pw, "off", "ipmi_timeout=3\nipmi_retries=2\n");
    assert_eq!((rc, out.trim()), (0, "Success: Powered OFF"), "{err}");
    assert_eq!(node.power().expect("power"), Power::Off);
    assert!(
        node.pids().is_empty(),
        "processes survived: {:?}",
        node.pids()
    );

    // bmc-up: running for good.
    bmc.thaw().expect("thaw");
    std::thread::sleep(Duration::from_millis(100));
    for _ in 0..40 {
        assert_ne!(process_state(pid), 'T', "a thawed BMC froze again");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (rc, out, err) = agent(&lab, true, &pw, "on", "");
    assert_eq!((rc, out.trim()), (0, "Success: Powered ON"), "{err}");
}

#[test]
fn fence_ipmilan_and_our_agent_agree_on_status() {
    require_root("fence_ipmilan_and_our_agent_agree_on_status");
    let lab = Lab::builder().nodes(1).bmcs(true).build().expect("lab up");
    let bmc = lab.bmc(1).expect("bmc");
    let theirs = |lab: &Lab| {
        // Every option on stdin, as Pacemaker calls it (no password on the command line).
        let stdin = format!(
            "ip={}\nusername={}\npassword={}\nlanplus=1\ncipher=3\naction=status\n",
            bmc.addr(),
            bmc.credentials().user,
            bmc.credentials().password
        );
        let out = in_switch(lab, "fence_ipmilan", &[], &stdin);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    };
    let pw = bmc.credentials().password.clone();
    for expect_on in [true, false] {
        if !expect_on {
            lab.node(1).power_off().expect("power off");
        }
        let (rc_theirs, out_theirs) = theirs(&lab);
        let (rc_ours, out_ours, err) = agent(&lab, true, &pw, "status", "");
        assert_eq!(
            (rc_ours, out_ours.trim()),
            (rc_theirs, out_theirs.as_str()),
            "{err}"
        );
        assert_eq!(rc_ours, if expect_on { 0 } else { 2 });
    }
}

#[test]
fn metadata_is_valid_against_the_fence_agents_schema() {
    let out = Command::new(AGENT)
        .args(["-o", "metadata"])
        .output()
        .expect("agent");
    assert!(out.status.success());
    common::metadata::assert_valid(AGENT, &out.stdout);
}
