//! Failover time of the heartbeat tutorial's web cluster: from the crash of web1 (links
//! down, every process killed) to the page served by web2, as the client sees it.
//!
//! Three clusters side by side in one run, rounds alternating between them:
//! - **hbd, no fencing**: our stack with a fence agent that succeeds at once and a ping
//!   node for quorum (no quorum disk), the like-for-like comparison with heartbeat;
//! - **heartbeat 3.0.6**: Debian's, same `ha.cf` (heartbeat v1 neither fences nor needs
//!   quorum);
//! - **hbd + IPMI + qdisk**: the real thing: web1 powered off through its BMC
//!   (`fence_qd_ipmilan`) and confirmed before web2 takes over, quorum from the quorum disk.
//!
//! After each crash web1 is power-cycled and, with `auto_failback on`, takes the service
//! back before the next round. Profiles: the tutorial's timings (keepalive 1 s, deadtime
//! 8 s) and a fast one (keepalive 250 ms, deadtime 2 s). `BENCH_ROUNDS_SEED` (default 4),
//! `BENCH_ROUNDS_FAST` (default 8). Needs root.

#[path = "../tests/common/bins.rs"]
mod bins;
mod common;

use std::path::Path;
use std::time::Duration;

use common::{env_or, median};
use lab::hacluster::{Binaries, Fencing, HaCluster, Spec, Stack, Timing, WEB1};

/// hbd and heartbeat advertise deadtime + 2 s during their first 5 s.
const SETTLE: Duration = Duration::from_secs(6);

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    lab::root::require_root("the failover benchmark");
    assert!(
        Path::new(lab::hacluster::HEARTBEAT).exists(),
        "Debian's heartbeat is not installed: run scripts/install-test-deps.sh"
    );
    for (package, bin) in [("hbd", "hbd"), ("fenced", "fenced"), ("qdisk", "qdiskd")] {
        bins::sibling(package, bin);
    }
    let dir = Path::new(env!("CARGO_BIN_EXE_hbctl"))
        .parent()
        .expect("target dir");
    let binaries = Binaries::in_dir(dir).expect("binaries");
    for (name, timing, qdisk_timing, rounds) in [
        (
            "seed (keepalive 1s, deadtime 8s; qdisk 500ms, tko 5)",
            Timing::SEED,
            (Duration::from_millis(500), 5),
            env_or("BENCH_ROUNDS_SEED", 4),
        ),
        (
            "fast (keepalive 250ms, deadtime 2s; qdisk 150ms, tko 4)",
            Timing::FAST,
            (Duration::from_millis(150), 4),
            env_or("BENCH_ROUNDS_FAST", 8),
        ),
    ] {
        println!("== {name}");
        let base = Spec {
            timing,
            qdisk_timing,
            ..Spec::demo()
        };
        let specs = [
            (
                "hbd, no fencing",
                Spec {
                    qdisk: false,
                    fencing: Fencing::NoOp,
                    ping_node: true,
                    ..base.clone()
                },
            ),
            (
                "heartbeat 3.0.6",
                Spec {
                    stack: Stack::Heartbeat,
                    qdisk: false,
                    ping_node: true,
                    ..base.clone()
                },
            ),
            ("hbd + IPMI + qdisk", base.clone()),
        ];
        let clusters: Vec<(&str, HaCluster)> = specs
            .into_iter()
            .map(|(label, spec)| {
                let c = HaCluster::start(spec, binaries.clone()).expect("cluster up");
                (label, c)
            })
            .collect();
        for (label, c) in &clusters {
            c.wait_settled_on("web1", Duration::from_secs(120))
                .unwrap_or_else(|e| panic!("{label}: {e}\n{}", c.logs()));
        }
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); clusters.len()];
        for round in 0..rounds {
            for k in 0..clusters.len() {
                let i = (round + k) % clusters.len();
                let (label, c) = &clusters[i];
                std::thread::sleep(SETTLE);
                let f = c
                    .crash_and_follow(WEB1, timing.deadtime * 4 + Duration::from_secs(30))
                    .unwrap_or_else(|e| panic!("{label}: {e}\n{}", c.logs()));
                assert!(
                    f.max_vip_holders <= 1,
                    "{label}: two holders of the floating IP"
                );
                times[i].push(f.service_back);
                c.node(WEB1).power_cycle().expect("web1 back on");
                c.wait_settled_on("web1", Duration::from_secs(120))
                    .unwrap_or_else(|e| panic!("{label}: failback: {e}\n{}", c.logs()));
            }
        }
        let mut medians = Vec::new();
        for (i, (label, _)) in clusters.iter().enumerate() {
            let all: Vec<String> = times[i]
                .iter()
                .map(|t| format!("{:.2}", t.as_secs_f64()))
                .collect();
            let m = median(&mut times[i]);
            medians.push(m);
            println!(
                "{label:<20} crash → page from web2: median {:>6.2} s  (rounds: {} s; deadtime {} s)",
                m.as_secs_f64(),
                all.join(", "),
                timing.deadtime.as_secs_f64()
            );
        }
        println!(
            "ratio heartbeat / hbd (both without fencing): {:.2}x; hbd with IPMI fencing and the quorum disk: {:.2} s",
            medians[1].as_secs_f64() / medians[0].as_secs_f64(),
            medians[2].as_secs_f64()
        );
    }
}
