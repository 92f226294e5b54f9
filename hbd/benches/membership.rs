//! Benchmark: CPU per `on_packet` and per `on_tick` of the membership core in a 16-node
//! cluster with 2 media (all peers alive, every status arriving on both media, so half the
//! packets are duplicates, as in a real two-medium cluster).
//!
//! Run: `cargo bench -p hbd --bench membership`. Prints the median over 31 samples of
//! 20 000 operations each (`BENCH_SAMPLES` changes the sample count).

use std::hint::black_box;
use std::time::{Duration, Instant};

use hbd::config::NodeName;
use hbd::membership::{
    Incoming, IncomingKind, LinkId, Membership, MembershipConfig, MsgHandle, NodeUuid, PeerState,
    QuorumConfig, Time,
};

const NODES: usize = 16;
const OPS: u64 = 20_000;

fn name(i: usize) -> NodeName {
    NodeName::new(&format!("node{i:02}"))
}

fn core() -> Membership {
    let cfg = MembershipConfig {
        keepalive: Duration::from_millis(1000),
        deadtime: Duration::from_secs(10),
        warntime: Duration::from_secs(5),
        initdead: Duration::from_secs(20),
        deadping: Duration::from_secs(10),
        max_rexmit_delay: Duration::from_millis(250),
        nodes: (0..NODES).map(name).collect(),
        ping_nodes: vec![NodeName::new("10.0.0.254")],
        links: 2,
        quorum: QuorumConfig::default(),
        rng_seed: 1,
    };
    Membership::new(cfg, name(0), NodeUuid([0; 16]), 1, Time::ZERO)
}

fn drain(m: &mut Membership) -> usize {
    let mut n = 0;
    while let Some(a) = m.poll_action() {
        black_box(a);
        n += 1;
    }
    n
}

/// The packets of one round: every peer's status (then a cluster message) on both media.
fn packets(round: u64, cluster: bool) -> Vec<(LinkId, Incoming)> {
    let mut out = Vec::new();
    for p in 1..NODES {
        let kind = if cluster {
            IncomingKind::Cluster {
                handle: MsgHandle(round * 100 + p as u64),
            }
        } else {
            IncomingKind::Status {
                state: PeerState::Active,
                deadtime: Some(Duration::from_secs(10)),
                hears: None,
            }
        };
        let pkt = Incoming {
            from: name(p),
            uuid: Some(NodeUuid([p as u8; 16])),
            generation: 7,
            seq: Some(round),
            dest: None,
            kind,
        };
        out.push((LinkId(0), pkt.clone()));
        out.push((LinkId(1), pkt));
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let samples: usize = std::env::var("BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(31);
    // Warm up: everyone up, comm up.
    let mut m = core();
    let mut round = 1u64;
    let mut now = Time::ZERO;
    for (l, p) in packets(round, false) {
        m.on_packet(now, l, p);
    }
    m.on_ping_reply(now, &NodeName::new("10.0.0.254"));
    drain(&mut m);
    assert!(m.comm_is_up());

    let mut status_ns = Vec::new();
    let mut cluster_ns = Vec::new();
    let mut tick_ns = Vec::new();
    for _ in 0..samples {
        // Status packets (half of them duplicates of the other medium's copy).
        let mut ops = 0;
        let mut spent = Duration::ZERO;
        while ops < OPS {
            round += 1;
            now = now + Duration::from_millis(1);
            let batch = packets(round, round % 2 == 0);
            let is_cluster = round % 2 == 0;
            let start = Instant::now();
            for (l, p) in batch {
                m.on_packet(now, l, p);
                drain(&mut m);
                ops += 1;
            }
            let took = start.elapsed();
            if is_cluster {
                cluster_ns.push(took.as_nanos() as f64 / (2 * (NODES - 1)) as f64);
            } else {
                spent += took;
            }
            m.on_ping_reply(now, &NodeName::new("10.0.0.254"));
            drain(&mut m);
        }
        status_ns.push(spent.as_nanos() as f64 / (ops / 2) as f64);

        // Ticks 1 ms apart (one in 1000 sends our status), peers fed every 500 ms outside
        // the timed part.
        let mut spent = Duration::ZERO;
        for k in 0..OPS {
            now = now + Duration::from_millis(1);
            if k % 500 == 0 {
                round += 1;
                for (l, p) in packets(round, false) {
                    m.on_packet(now, l, p);
                }
                m.on_ping_reply(now, &NodeName::new("10.0.0.254"));
                drain(&mut m);
            }
            let start = Instant::now();
            m.on_tick(now);
            drain(&mut m);
            spent += start.elapsed();
        }
        let per_tick = spent.as_nanos() as f64 / OPS as f64;
        tick_ns.push(per_tick);
    }
    assert!(m.comm_is_up());
    assert_eq!(
        m.nodes().filter(|n| n.status.is_alive()).count(),
        NODES,
        "every peer and the ping node stayed alive"
    );
    println!("membership core, {NODES} nodes, 2 media ({samples} samples of {OPS} operations)");
    println!(
        "  on_packet (status, incl. duplicate copies, drain): median {:.0} ns",
        median(status_ns)
    );
    println!(
        "  on_packet (cluster message, in order, delivered): median {:.0} ns",
        median(cluster_ns)
    );
    println!(
        "  on_tick (1 ms apart, 1 in 1000 sends a status, drain): median {:.0} ns",
        median(tick_ns)
    );
}
