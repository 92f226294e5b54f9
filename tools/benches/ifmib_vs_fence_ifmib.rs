//! `fence_qd_ifmib` against Debian's `fence_ifmib` (fence-agents 4.12.1, which forks
//! net-snmp's `snmpget`/`snmpset`/`snmpwalk` for every step) on the same snmpd (the lab
//! switch), alternating in one run: `off` (to confirmed down), `on`, `status`, SNMP v2c,
//! one port. Bare `snmpset` and `snmpget` are timed too as the protocol-cost floor: a set
//! alone, and a set followed by the `snmpget` that reads it back (what a confirmed off
//! costs at the least: snmpd answers the first read after a set only once it has reloaded
//! its interface table, tens of milliseconds, whoever asks). Prints medians and ratios. Needs root (it starts a lab).
//! `BENCH_ROUNDS` sets the rounds (default 15). Every program is started the same way
//! (`ip netns exec` into the switch namespace, options on stdin for the agents), so the
//! launcher's cost is in every figure; it is printed on its own too.

mod common;

use std::time::Duration;

use common::{env_or, median, ms};

use lab::topology::SWITCH_ADDR;
use lab::{Lab, Net};

const OURS: &str = env!("CARGO_BIN_EXE_fence_qd_ifmib");
const THEIRS: &str = "fence_ifmib";

/// net-snmp's tools and fence_ifmib are run without MIB loading, as a fencing host would
/// (MIB parsing alone costs them tens of milliseconds).
fn run_quiet_mibs(ns: &str, program: &str, args: &[&str], stdin: &str) -> (Duration, i32, String) {
    common::run_in_netns(
        ns,
        program,
        args,
        &[("MIBS", ""), ("MIBDIRS", "/nonexistent")],
        stdin,
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    lab::root::require_root("the ifmib_vs_fence_ifmib benchmark");
    let rounds = env_or("BENCH_ROUNDS", 15);
    let lab = Lab::builder().nodes(1).snmp(true).build().expect("lab up");
    let switch = lab.switch().expect("switch");
    let ns = switch.netns().name().to_string();
    let community = lab.snmp().expect("snmp").credentials().rw_community.clone();
    let net = Net::Heartbeat(0);
    let port = net.port_name(1);
    let options = |action: &str| {
        format!("ip={SWITCH_ADDR}\ncommunity={community}\nplug={port}\naction={action}\n")
    };
    let oid = format!(".1.3.6.1.2.1.2.2.1.7.{}", net.port_if_index(1));
    let agent = SWITCH_ADDR.to_string();
    let bare = |tool: &str, value: Option<&str>| -> Vec<String> {
        let mut a: Vec<String> = ["-v2c", "-c", &community, "-On", &agent, &oid]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if let (Some(v), "snmpset") = (value, tool) {
            a.extend(["i".to_string(), v.to_string()]);
        }
        a
    };
    // [off, on, status] x [ours, theirs]
    let mut times: [[Vec<Duration>; 2]; 3] = Default::default();
    // bare snmpset i 2, its read-back snmpget, snmpset i 1, its read-back, an idle snmpget
    let mut floor: [Vec<Duration>; 5] = Default::default();
    let mut launcher = Vec::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for &who in &order {
            let program = [OURS, THEIRS][who];
            assert!(switch.port_is_up(1, net).expect("port"), "up before off");
            let (t, rc, out) = run_quiet_mibs(&ns, program, &[], &options("off"));
            assert_eq!(rc, 0, "{program} off: {out}");
            assert!(!switch.port_is_up(1, net).expect("port"), "{program} off");
            times[0][who].push(t);
            let (t, rc, out) = run_quiet_mibs(&ns, program, &[], &options("on"));
            assert_eq!(rc, 0, "{program} on: {out}");
            assert!(switch.port_is_up(1, net).expect("port"), "{program} on");
            times[1][who].push(t);
            let (t, rc, out) = run_quiet_mibs(&ns, program, &[], &options("status"));
            assert_eq!(rc, 0, "{program} status: {out}");
            times[2][who].push(t);
        }
        let steps = [
            ("snmpset", Some("2")),
            ("snmpget", None),
            ("snmpset", Some("1")),
            ("snmpget", None),
            ("snmpget", None),
        ];
        for (i, (tool, value)) in steps.iter().enumerate() {
            let args = bare(tool, *value);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (t, rc, out) = run_quiet_mibs(&ns, tool, &args, "");
            assert_eq!(rc, 0, "{tool}: {out}");
            floor[i].push(t);
        }
        launcher.push(run_quiet_mibs(&ns, "true", &[], "").0);
    }
    assert!(switch.port_is_up(1, net).expect("port"));
    println!(
        "fence_qd_ifmib vs fence_ifmib, {rounds} rounds alternating, SNMP v2c, one port, snmpd in the lab switch"
    );
    println!(
        "launcher (ip netns exec true) median: {:.1} ms",
        ms(median(&mut launcher))
    );
    let names = ["off (to confirmed down)", "on (to confirmed up)", "status"];
    // (bare set, bare set + read-back get) per round, or the idle get for status.
    let floors: [(Vec<Duration>, Vec<Duration>); 3] = [
        (
            floor[0].clone(),
            floor[0]
                .iter()
                .zip(&floor[1])
                .map(|(a, b)| *a + *b)
                .collect(),
        ),
        (
            floor[2].clone(),
            floor[2]
                .iter()
                .zip(&floor[3])
                .map(|(a, b)| *a + *b)
                .collect(),
        ),
        (floor[4].clone(), floor[4].clone()),
    ];
    for (i, (mut bare_one, mut bare_confirmed)) in floors.into_iter().enumerate() {
        let ours = median(&mut times[i][0]);
        let theirs = median(&mut times[i][1]);
        let one = median(&mut bare_one);
        let confirmed = median(&mut bare_confirmed);
        println!(
            "{:<24} ours {:>7.1} ms   fence_ifmib {:>7.1} ms ({:>5.1}x ours)",
            names[i],
            ms(ours),
            ms(theirs),
            theirs.as_secs_f64() / ours.as_secs_f64(),
        );
        if i < 2 {
            println!(
                "{:<24} bare snmpset {:>5.1} ms (ours {:.2}x), snmpset + read-back snmpget {:>5.1} ms (ours {:.2}x)",
                "",
                ms(one),
                ours.as_secs_f64() / one.as_secs_f64(),
                ms(confirmed),
                ours.as_secs_f64() / confirmed.as_secs_f64()
            );
        } else {
            println!(
                "{:<24} bare snmpget {:>5.1} ms (ours {:.2}x)",
                "",
                ms(one),
                ours.as_secs_f64() / one.as_secs_f64()
            );
        }
    }
    let mut after_set = floor[1].clone();
    println!(
        "snmpd's first read after a set (bare snmpget) median: {:.1} ms",
        ms(median(&mut after_set))
    );
}
