//! The native floating IP in a pair of network namespaces: the address appears and goes
//! (checked with `ip addr`), the peer's ARP cache learns our MAC from the gratuitous ARP
//! (checked with `ip neigh`), and Debian's `ocf:heartbeat:IPaddr2` agrees with our status.
//! Needs root (CI runs as root).

mod common;

use std::time::{Duration, Instant};

use common::{ip, NsPair};
use hbd::agents::{AgentConfig, Agents, GarpConfig, Op, Outcome};
use hbd::config::haresources::parse_resource;
use hbd::config::Resource;

fn res(token: &str) -> Resource {
    parse_resource(token).expect("resource token")
}

fn run_in(ns: &str, agents: &Agents, r: &Resource, op: Op) -> Outcome {
    let (agents, r) = (agents.clone(), r.clone());
    NsPair::run_in(ns, move || agents.run(&r, op))
}

#[test]
fn floating_ip_appears_and_disappears_and_is_idempotent() {
    let pair = NsPair::create();
    let vip = pair.addr(100);
    let a = Agents::default();
    // No interface, no prefix: found by subnet, as IPaddr2 does.
    let r = res(&vip);
    assert_eq!(run_in(&pair.a, &a, &r, Op::Status), Outcome::Stopped);
    assert_eq!(run_in(&pair.a, &a, &r, Op::Start), Outcome::Running);
    assert!(
        NsPair::addrs(&pair.a, "va").contains(&format!("{vip}/24")),
        "{:?}",
        NsPair::addrs(&pair.a, "va")
    );
    let brd = ip(&["-n", &pair.a, "-o", "-4", "addr", "show", "dev", "va"]);
    assert!(brd.contains(&format!("brd {}", pair.addr(255))), "{brd}");
    assert_eq!(run_in(&pair.a, &a, &r, Op::Status), Outcome::Running);
    assert_eq!(
        run_in(&pair.a, &a, &r, Op::Start),
        Outcome::Running,
        "second start"
    );
    assert_eq!(
        NsPair::addrs(&pair.a, "va").len(),
        2,
        "admin address and one VIP"
    );
    assert_eq!(run_in(&pair.a, &a, &r, Op::Stop), Outcome::Stopped);
    assert_eq!(
        NsPair::addrs(&pair.a, "va"),
        vec![format!("{}/24", pair.addr(1))]
    );
    assert_eq!(
        run_in(&pair.a, &a, &r, Op::Stop),
        Outcome::Stopped,
        "second stop"
    );
    assert_eq!(run_in(&pair.a, &a, &r, Op::Status), Outcome::Stopped);

    // With prefix, interface and label; status looks at that interface only.
    let r = res(&format!("IPaddr2::{vip}/28/va:web"));
    assert_eq!(run_in(&pair.a, &a, &r, Op::Start), Outcome::Running);
    let shown = ip(&["-n", &pair.a, "-o", "-4", "addr", "show", "label", "va:web"]);
    assert!(shown.contains(&format!("{vip}/28")), "{shown}");
    assert_eq!(
        run_in(&pair.a, &a, &res(&format!("{vip}/28/lo")), Op::Status),
        Outcome::Stopped
    );
    assert_eq!(run_in(&pair.a, &a, &r, Op::Stop), Outcome::Stopped);
    assert!(!ip(&["-n", &pair.a, "-o", "-4", "addr"]).contains(&vip));

    // A subnet no interface has, or an interface that does not exist: configuration errors.
    assert!(matches!(
        run_in(&pair.a, &a, &res("10.250.250.250"), Op::Start),
        Outcome::ConfigError { .. }
    ));
    assert!(matches!(
        run_in(&pair.a, &a, &res(&format!("{vip}/24/nosuch0")), Op::Start),
        Outcome::ConfigError { .. }
    ));
}

fn neigh_mac(ns: &str, ip_: &str) -> Option<String> {
    let out = ip(&["-n", ns, "neigh", "show", ip_, "dev", "vb"]);
    let mut w = out.split_whitespace();
    w.position(|x| x == "lladdr")?;
    w.next().map(str::to_string)
}

#[test]
fn gratuitous_arp_moves_the_peers_cached_mac_to_us() {
    let pair = NsPair::create();
    let vip = pair.addr(101);
    let old = "02:00:00:00:00:99";
    ip(&[
        "-n", &pair.b, "neigh", "replace", &vip, "lladdr", old, "dev", "vb", "nud", "stale",
    ]);
    assert_eq!(neigh_mac(&pair.b, &vip).as_deref(), Some(old));
    let ours = NsPair::mac(&pair.a, "va");

    let a = Agents::new(AgentConfig {
        garp: GarpConfig {
            count: 4,
            interval: Duration::from_millis(300),
            background: false,
            ..GarpConfig::default()
        },
        ..AgentConfig::default()
    });
    let r = res(&format!("{vip}/24/va"));
    assert_eq!(run_in(&pair.a, &a, &r, Op::Start), Outcome::Running);
    let until = Instant::now() + Duration::from_secs(3);
    let mut seen = neigh_mac(&pair.b, &vip);
    while seen.as_deref() != Some(ours.as_str()) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
        seen = neigh_mac(&pair.b, &vip);
    }
    assert_eq!(
        seen.as_deref(),
        Some(ours.as_str()),
        "peer's cache after our announcements"
    );
    assert_eq!(run_in(&pair.a, &a, &r, Op::Stop), Outcome::Stopped);
}

#[test]
fn debian_ipaddr2_status_agrees_with_ours() {
    let pair = NsPair::create();
    let vip = pair.addr(102);
    let a = Agents::default();
    let ours = res(&format!("{vip}/24/va"));
    let theirs = res(&format!(
        "ocf:heartbeat:IPaddr2::ip={vip}::cidr_netmask=24::nic=va"
    ));
    assert_eq!(run_in(&pair.a, &a, &theirs, Op::Status), Outcome::Stopped);
    assert_eq!(run_in(&pair.a, &a, &ours, Op::Start), Outcome::Running);
    assert_eq!(run_in(&pair.a, &a, &theirs, Op::Status), Outcome::Running);
    assert_eq!(run_in(&pair.a, &a, &ours, Op::Stop), Outcome::Stopped);
    assert_eq!(run_in(&pair.a, &a, &theirs, Op::Status), Outcome::Stopped);

    // And the other way round: IPaddr2 adds, we see it and remove it.
    assert_eq!(run_in(&pair.a, &a, &theirs, Op::Start), Outcome::Running);
    assert_eq!(run_in(&pair.a, &a, &ours, Op::Status), Outcome::Running);
    assert_eq!(run_in(&pair.a, &a, &ours, Op::Stop), Outcome::Stopped);
    assert_eq!(run_in(&pair.a, &a, &theirs, Op::Status), Outcome::Stopped);
    assert_eq!(run_in(&pair.a, &a, &theirs, Op::Stop), Outcome::Stopped);
}
