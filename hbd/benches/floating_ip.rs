//! Floating IP start→stop cycle: our native resource against Debian's
//! `ocf:heartbeat:IPaddr2` (run through our OCF runner, as hbd would run it), in the same
//! namespace and the same run. Prints medians, min–max and the ratio. Needs root.
//!
//! `cargo bench -p hbd --bench floating_ip` (`CYCLES=N`, default 30).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::NsPair;
use hbd::agents::{Agents, Op, Outcome};
use hbd::config::haresources::parse_resource;
use hbd::config::Resource;

fn cycle(a: &Agents, r: &Resource) -> Duration {
    let t = Instant::now();
    let start = a.run(r, Op::Start);
    let stop = a.run(r, Op::Stop);
    let took = t.elapsed();
    assert_eq!((start, stop), (Outcome::Running, Outcome::Stopped), "{r}");
    took
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    let cycles: usize = std::env::var("CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
        .max(1);
    let pair = NsPair::create();
    let vip = pair.addr(200);
    let ours = parse_resource(&format!("IPaddr2::{vip}/24/va")).expect("token");
    let theirs = parse_resource(&format!(
        "ocf:heartbeat:IPaddr2::ip={vip}::cidr_netmask=24::nic=va"
    ))
    .expect("token");
    let (o, t) = NsPair::run_in(&pair.a, move || {
        let a = Agents::default();
        // Warm-up, then alternate so both see the same machine load.
        cycle(&a, &ours);
        cycle(&a, &theirs);
        let (mut o, mut t) = (Vec::new(), Vec::new());
        for _ in 0..cycles {
            o.push(cycle(&a, &ours));
            t.push(cycle(&a, &theirs));
        }
        (o, t)
    });
    let (om, omin, omax) = stats(o);
    let (tm, tmin, tmax) = stats(t);
    println!("floating IP start+stop, {cycles} cycles each (median, min-max):");
    println!("  ours (rtnetlink + AF_PACKET):  {om:>10.3?}  ({omin:.3?}-{omax:.3?})");
    println!("  ocf:heartbeat:IPaddr2:         {tm:>10.3?}  ({tmin:.3?}-{tmax:.3?})");
    println!(
        "  ratio IPaddr2 / ours:          {:.1}x",
        tm.as_secs_f64() / om.as_secs_f64()
    );
}
