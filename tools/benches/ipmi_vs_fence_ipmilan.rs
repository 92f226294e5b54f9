//! `fence_qd_ipmilan` against Debian's `fence_ipmilan` (fence-agents 4.12.1, which forks
//! `ipmitool` for every step), on the same lab BMC (`ipmi_sim`), alternating in one run:
//! `status`, and `off` to confirmed off, both with `power_wait=0`, lanplus, cipher suite 3.
//! Prints medians and ratios. Needs root (it starts a lab). `BENCH_ROUNDS` sets the rounds
//! (default 15). Both agents are started the same way (`ip netns exec` into the switch
//! namespace, options on stdin), so the baseline cost of that launcher is in both figures;
//! it is printed on its own too. Twice: against a BMC whose power program really takes the
//! lab node down (links down, processes killed: ~20 ms of simulated hardware, paid by both),
//! and against one whose power is only a state (the agents' own cost).

mod common;

use std::time::Duration;

use common::{env_or, median, ms};

use lab::{Lab, Power};

const OURS: &str = env!("CARGO_BIN_EXE_fence_qd_ipmilan");
const THEIRS: &str = "fence_ipmilan";

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    lab::root::require_root("the ipmi_vs_fence_ipmilan benchmark");
    let rounds = env_or("BENCH_ROUNDS", 15);
    println!("fence_qd_ipmilan vs fence_ipmilan, {rounds} rounds alternating, lanplus -C 3, power_wait=0");
    for stub in [false, true] {
        if stub {
            println!("-- BMC with a stub power program (the power state only, no node to switch):");
        } else {
            println!(
                "-- BMC whose power really switches the lab node (links down, processes killed):"
            );
        }
        measure(rounds, stub);
    }
}

/// One lab, `rounds` alternating rounds of status and off for both agents.
fn measure(rounds: usize, stub: bool) {
    let lab = Lab::builder()
        .nodes(1)
        .bmcs(true)
        .bmc_power_stub(stub)
        .build()
        .expect("lab up");
    let node = lab.node(1);
    let bmc = lab.bmc(1).expect("bmc");
    let ns = lab.switch().expect("switch").netns().name().to_string();
    let options = |action: &str| {
        format!(
            "ip={}\nusername={}\npassword={}\nlanplus=1\ncipher=3\npower_wait=0\naction={action}\n",
            bmc.addr(),
            bmc.credentials().user,
            bmc.credentials().password
        )
    };
    let power_on = || {
        if stub {
            bmc.ipmitool(&["chassis", "power", "on"]).expect("power on");
        } else {
            node.power_on().expect("power on");
        }
    };
    let mut times: [[Vec<Duration>; 2]; 2] = Default::default(); // [status|off][ours|theirs]
    let mut launcher = Vec::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        power_on();
        for &who in &order {
            let program = [OURS, THEIRS][who];
            let (t, rc, out) = common::run_in_netns(&ns, program, &[], &[], &options("status"));
            assert_eq!(rc, 0, "{program} status: {out}");
            times[0][who].push(t);
        }
        for &who in &order {
            let program = [OURS, THEIRS][who];
            power_on();
            let (t, rc, out) = common::run_in_netns(&ns, program, &[], &[], &options("off"));
            assert_eq!(rc, 0, "{program} off: {out}");
            if stub {
                let status = bmc
                    .ipmitool(&["chassis", "power", "status"])
                    .expect("status");
                assert!(status.contains("off"), "{program} off: {status}");
            } else {
                assert_eq!(node.power().expect("power"), Power::Off, "{program} off");
            }
            times[1][who].push(t);
        }
        launcher.push(common::run_in_netns(&ns, "true", &[], &[], "").0);
    }
    power_on();
    println!(
        "launcher (ip netns exec true) median: {:.1} ms",
        ms(median(&mut launcher))
    );
    for (i, name) in ["status", "off (to confirmed off)"].iter().enumerate() {
        let ours = median(&mut times[i][0]);
        let theirs = median(&mut times[i][1]);
        println!(
            "{name:<24} ours {:>8.1} ms   fence_ipmilan {:>8.1} ms   ratio {:>5.1}x",
            ms(ours),
            ms(theirs),
            theirs.as_secs_f64() / ours.as_secs_f64()
        );
    }
}
