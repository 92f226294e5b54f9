//! The serial fence agents against cluster-glue's `stonith` plugins (Debian `cluster-glue`
//! 1.0.12: `rps10`, `apcsmart`, `nw_rpc100s`), on the same lab simulators with realistic
//! device delays, alternating in one run: status, off, on, reset per device. Prints
//! medians, ratios, and the device's own delay floor (what any client must wait: the
//! device's reply and relay times, APC's 1.5 s repeat guard) with our distance from it.
//! The LCUS relay board has no cluster-glue plugin: ours against the floor only.
//! `BENCH_ROUNDS` sets the rounds (default 5). Runs unprivileged (PTYs only); cluster-glue
//! takes its locks in /var/lock, which must be writable.
//!
//! Action mapping: our `reboot` (off confirmed, then on confirmed; the RPC100S, which
//! cannot report, holds the power off 1 s) against cluster-glue's `reset` (the RPS-10's
//! toggle, APC's `@000` whose completion it does not wait for, the RPC100S's 10 s off).
//! For the RPC100S our `status` is `monitor` (the unit cannot report power), which is
//! what cluster-glue's status does.

mod common;
#[path = "../tests/common/serial.rs"]
mod common_serial;

use std::time::Duration;

use common::median;
use common_serial::Bench;
use lab::devsim::{Delays, DeviceKind};

const ACTIONS: [&str; 4] = ["status", "off", "on", "reset"];

fn ours_action(kind: DeviceKind, action: &str) -> &'static str {
    match (kind, action) {
        (DeviceKind::NwRpc100s, "status") => "monitor",
        (_, "status") => "status",
        (_, "off") => "off",
        (_, "on") => "on",
        _ => "reboot",
    }
}

/// The device's own delays for `action`, as a confirming client must wait them.
fn floor(kind: DeviceKind, d: &Delays, action: &str) -> Duration {
    let switch = match kind {
        DeviceKind::ApcSmart => Duration::from_millis(1500) + d.relay,
        _ => d.reply + d.relay,
    };
    match action {
        "status" => d.reply,
        "off" | "on" => switch,
        _ if kind == DeviceKind::NwRpc100s => switch * 2 + Duration::from_secs(1),
        _ => switch * 2,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    println!("serial fence agents vs cluster-glue stonith, {rounds} rounds alternating, realistic device delays");
    println!(
        "{:<11} {:<7} {:>10} {:>12} {:>7} {:>10} {:>11}",
        "device", "action", "ours", "cluster-glue", "ratio", "floor", "ours-floor"
    );
    for kind in DeviceKind::ALL {
        let delays = Delays::realistic(kind);
        let b = Bench::new(kind, delays);
        let has_glue = kind != DeviceKind::Lcus;
        let mut times: Vec<[Vec<Duration>; 2]> = vec![Default::default(); ACTIONS.len()];
        for round in 0..rounds {
            let order: &[usize] = match (has_glue, round % 2) {
                (false, _) => &[0],
                (true, 0) => &[0, 1],
                (true, _) => &[1, 0],
            };
            for (i, action) in ACTIONS.iter().enumerate() {
                for &who in order {
                    b.sim.set_output(0, *action != "on");
                    let r = if who == 0 {
                        b.ours(ours_action(kind, action), "")
                    } else {
                        b.glue(action)
                    };
                    let ok = r.rc == 0;
                    assert!(
                        ok,
                        "{} {action} by {}: {r:?}",
                        kind.name(),
                        ["ours", "glue"][who]
                    );
                    times[i][who].push(r.took);
                    b.sim
                        .wait_idle(Duration::from_secs(60))
                        .expect("simulator idle");
                }
            }
        }
        assert!(
            b.locks_left().is_empty(),
            "locks left: {:?}",
            b.locks_left()
        );
        for (i, action) in ACTIONS.iter().enumerate() {
            let ours = median(&mut times[i][0]);
            let f = floor(kind, &delays, action);
            let (glue, ratio) = if has_glue {
                let g = median(&mut times[i][1]);
                (
                    format!("{:.3} s", g.as_secs_f64()),
                    format!("{:.1}x", g.as_secs_f64() / ours.as_secs_f64()),
                )
            } else {
                ("-".into(), "-".into())
            };
            println!(
                "{:<11} {:<7} {:>8.3} s {:>12} {:>7} {:>8.3} s {:>8.0} ms",
                kind.name(),
                action,
                ours.as_secs_f64(),
                glue,
                ratio,
                f.as_secs_f64(),
                (ours.as_secs_f64() - f.as_secs_f64()) * 1e3
            );
        }
    }
}
