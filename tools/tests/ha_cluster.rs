//! The whole stack end to end in the lab: the heartbeat tutorial's web cluster (web1, web2,
//! a floating IP, websrv, a quorum disk, IPMI BMCs) with qdiskd, fenced and hbd on each
//! node, and a client fetching the page. Needs root.

mod common;

use std::time::Duration;

use lab::hacluster::{Binaries, HaCluster, Spec, WEB1, WEB2};
use lab::Power;

fn binaries() -> Binaries {
    for (package, bin) in [("hbd", "hbd"), ("fenced", "fenced"), ("qdisk", "qdiskd")] {
        common::bins::sibling(package, bin);
    }
    let dir = std::path::Path::new(env!("CARGO_BIN_EXE_hbctl"))
        .parent()
        .expect("target dir");
    Binaries::in_dir(dir).expect("binaries")
}

fn start(spec: Spec) -> HaCluster {
    lab::root::require_root("the HA cluster lab tests");
    HaCluster::start(spec, binaries()).expect("cluster up")
}

#[test]
fn the_demo_web1_crashes_is_fenced_web2_serves_and_web1_takes_it_back() {
    let c = start(Spec::demo());
    c.wait_settled_on("web1", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    // hbd, like heartbeat, advertises deadtime + 2 s during its first 5 s.
    std::thread::sleep(Duration::from_secs(6));

    let f = c
        .crash_and_follow(WEB1, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    eprintln!("{}", f.story.render());
    assert!(f.max_vip_holders <= 1, "two nodes held the floating IP");
    let at = |what: &str| {
        f.story
            .when(what)
            .unwrap_or_else(|| panic!("no '{what}' in\n{}", f.story.render()))
    };
    let lost = at("node web1: is dead");
    let asked = at("asking fenced to fence web1");
    let fenced = at("fenced: web1: Fenced");
    let ip = at("address added");
    let page = at("http://");
    assert!(lost <= asked && asked <= fenced, "{}", f.story.render());
    assert!(
        lost <= fenced && fenced <= ip && ip <= page,
        "{}",
        f.story.render()
    );
    // Not before deadtime: web2 heard web1 until the crash.
    assert!(lost + Duration::from_millis(300) >= c.spec().timing.deadtime);
    // fenced really powered web1 off through its BMC.
    assert_eq!(c.node(WEB1).power().expect("power"), Power::Off);
    let history = c.fence_history(WEB2);
    let record = history.last().expect("a fence record on web2");
    assert_eq!(record["target"], "web1");
    assert_eq!(record["outcome"]["kind"], "fenced", "{record}");

    // web1 comes back (powered on through its BMC) and, auto_failback on, takes it back.
    c.lab()
        .bmc(WEB1)
        .expect("bmc")
        .ipmitool(&["chassis", "power", "on"])
        .expect("power on web1");
    c.wait_settled_on("web1", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
}
