//! Benchmark: what one qdiskd cycle costs, and how fast a dead node is detected.
//!
//! A. Cycle cost, real I/O: one real core drives a real disk (a loop device with direct I/O
//!    on its backing file) whose other slots are rewritten by "peers" between cycles. Per
//!    cycle it measures the thread's CPU time, the wall time, and the I/Os issued; the
//!    median CPU time divided by the interval is the daemon's CPU load.
//! B. Detection latency, simulated time: N cores on the simulated disk; one node is killed
//!    at a random moment; the latency is the time until every survivor has declared it dead.
//!
//! Run as root: `cargo bench -p qdisk --bench qdiskd_cycle` (`BENCH_TRIALS` sets the number
//! of simulated kills per configuration, default 60).

#[path = "../tests/sim/mod.rs"]
#[allow(dead_code)]
mod sim;

use std::time::{Duration, Instant};

use lab::loopdev::LoopDevice;
use qdisk::cycle::{Action, CoreConfig, Event, QdiskCore, Score};
use qdisk::device::{DeviceOptions, SectorDevice};
use qdisk::disk::{initialise, InitRequest, QuorumDisk, ReadMode};
use qdisk::format::{NodeState, StatusBlock};
use qdisk::geometry::Layout;
use qdisk::time::BootTime;
use qdisk::timing::{Timing, TimingRequest};
use qdisk::{Incarnation, NodeId};

struct Case {
    nodes: u32,
    interval: Duration,
    layout: Layout,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for interval in [Duration::from_secs(1), Duration::from_millis(100)] {
        for nodes in [3u32, 16, 255] {
            // Red Hat's layout records whole seconds: sub-second needs the extended one.
            let layout = if nodes <= 16 && interval >= Duration::from_secs(1) {
                Layout::Classic
            } else {
                Layout::Extended {
                    max_nodes: nodes.max(16),
                }
            };
            cases.push(Case {
                nodes,
                interval,
                layout,
            });
        }
    }
    cases
}

fn timing(case: &Case) -> Timing {
    let request = TimingRequest {
        interval: Some(case.interval),
        tko: Some(10),
        ..TimingRequest::default()
    };
    Timing::resolve(
        request,
        case.interval * 40,
        matches!(case.layout, Layout::Extended { .. }),
    )
    .expect("timing")
}

fn thread_cpu() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn percentile(v: &[Duration], p: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A. One node's cycles on a real disk, peers rewritten between cycles.
fn cycle_cost(case: &Case) -> (Duration, Duration, f64) {
    let dev = LoopDevice::builder()
        .size_bytes(4 << 20)
        .direct_io(true)
        .build()
        .expect("loop device (run as root)");
    let open = || {
        SectorDevice::open(
            dev.path(),
            DeviceOptions {
                write: true,
                ..DeviceOptions::default()
            },
        )
        .expect("open")
    };
    let request = InitRequest {
        layout: case.layout,
        label: "bench".into(),
        host: "bench".into(),
        now: 1_700_000_000,
    };
    let mut disk = initialise(open(), &request, &mut |_| {}).expect("initialise");
    let mut peers = QuorumDisk::open(
        dev.path(),
        DeviceOptions {
            write: true,
            ..DeviceOptions::default()
        },
    )
    .expect("peer writer");
    let timing = timing(case);
    let cfg = CoreConfig {
        node: NodeId(1),
        layout: case.layout,
        timing,
        master_wins: false,
        min_score: None,
        fence_on_score_loss: true,
        io_timeout: false,
        paranoid: false,
        max_error_cycles: 0,
        watchdog: None,
    };
    let mut now = BootTime(Duration::from_secs(1000));
    let mut core = QdiskCore::new(cfg, Incarnation(1), now);
    core.handle_score(now, Score::NO_HEURISTICS);
    let mut cpu = Vec::new();
    let mut wall = Vec::new();
    let mut ios = 0u64;
    let cycles = 120u32;
    for cycle in 0..cycles + 20 {
        // Peers write between our cycles (not measured); their marker changes every cycle.
        let heartbeat = u64::from(cycle) + 1;
        for id in 2..=case.nodes {
            let block = StatusBlock {
                node: NodeId(id),
                updated_by: id,
                timestamp_ms: 1_700_000_000_000 + u64::from(cycle) * 1000,
                state: NodeState::Running,
                incarnation: Incarnation(u64::from(id)),
                heartbeat,
                ..StatusBlock::default()
            };
            peers
                .write_status(&block, 1_700_000_000 + u64::from(cycle))
                .expect("peer write");
        }
        let io_before = disk.device().io_count();
        let cpu_before = thread_cpu();
        let wall_before = Instant::now();
        // One cycle: timeout → read → decide → write(s), all synchronous here.
        core.handle_timeout(now);
        while let Some(action) = core.poll_action() {
            match action {
                Action::ReadAll => {
                    let started = now;
                    let slots = disk.read_all(ReadMode::Bulk).expect("read");
                    core.handle_read(now, started, &slots);
                }
                Action::Write { mut block, .. } => {
                    block.timestamp_ms = 1_700_000_000_000 + u64::from(cycle) * 1000;
                    let ok = disk.write_status(&block, 1_700_000_000).is_ok();
                    core.handle_write_done(now, block.node, ok, now);
                }
                Action::SelfFence(reason) => panic!("fenced: {reason}"),
                _ => {}
            }
        }
        let spent_cpu = thread_cpu() - cpu_before;
        let spent_wall = wall_before.elapsed();
        if cycle >= 20 {
            cpu.push(spent_cpu);
            wall.push(spent_wall);
            ios += disk.device().io_count() - io_before;
        }
        now = now + case.interval;
    }
    (median(cpu), median(wall), ios as f64 / f64::from(cycles))
}

/// B. Kill → every survivor declared it dead, over `trials` random phases.
fn detection(case: &Case, trials: u64) -> Vec<Duration> {
    let timing = timing(case);
    let mut latencies = Vec::new();
    for trial in 0..trials {
        let seed = 0xBE5C_0000 + trial;
        let mut sim = sim::Sim::new(seed, case.nodes, case.layout, timing, false);
        for id in 1..=case.nodes {
            sim.start(id);
        }
        let settle = timing.interval * (timing.tko + timing.master_wait + timing.upgrade_wait + 5);
        // Random phase within one interval, random victim.
        let phase = Duration::from_micros(
            (seed * 7919 % 1_000_000) * timing.interval.as_micros() as u64 / 1_000_000,
        );
        let victim = 1 + (seed % u64::from(case.nodes)) as u32;
        let kill_at = settle + phase;
        sim.schedule(kill_at, victim, sim::Fault::Crash);
        sim.run_until(kill_at + timing.interval * (timing.tko + 6));
        sim.assert_safe();
        let survivors = case.nodes - 1;
        let downs: Vec<Duration> = sim
            .events
            .iter()
            .filter(|(t, _, e)| *t >= kill_at && *e == Event::NodeDown(NodeId(victim)))
            .map(|(t, _, _)| *t - kill_at)
            .collect();
        assert_eq!(
            downs.len() as u32,
            survivors,
            "every survivor declares the victim dead"
        );
        latencies.push(downs.into_iter().max().expect("survivors"));
    }
    latencies
}

fn main() {
    if !lab::root::is_root() {
        eprintln!("qdiskd_cycle: needs root (it creates loop devices); skipped");
        return;
    }
    let trials: u64 = std::env::var("BENCH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    println!("A. One cycle of one node on a loop device with direct I/O (median of 120 cycles; peers rewrite their slots between cycles)");
    println!(
        "{:>6} {:>9} {:<9} {:>10} {:>10} {:>8} {:>9}",
        "nodes", "interval", "layout", "CPU/cycle", "wall/cycle", "I/Os", "CPU load"
    );
    for case in cases() {
        let (cpu, wall, ios) = cycle_cost(&case);
        println!(
            "{:>6} {:>9} {:<9} {:>8.1}µs {:>8.1}µs {:>8.1} {:>8.3}%",
            case.nodes,
            format!("{:?}", case.interval),
            case.layout.name(),
            cpu.as_secs_f64() * 1e6,
            wall.as_secs_f64() * 1e6,
            ios,
            cpu.as_secs_f64() / case.interval.as_secs_f64() * 100.0
        );
    }
    println!();
    println!("B. Kill → declared dead by every survivor, simulated time, tko 10, {trials} random kills per row ({} for 255 nodes)", trials.min(15));
    println!(
        "{:>6} {:>9} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "nodes", "interval", "min", "median", "p90", "max", "(tko+1)·I"
    );
    for case in cases() {
        let n = if case.nodes > 100 {
            trials.min(15)
        } else {
            trials
        };
        let lat = detection(&case, n);
        let t = timing(&case);
        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
        println!(
            "{:>6} {:>9} {:>10} {:>10} {:>10} {:>10} {:>12}",
            case.nodes,
            format!("{:?}", case.interval),
            ms(*lat.iter().min().expect("trials")),
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.9)),
            ms(*lat.iter().max().expect("trials")),
            ms(t.interval * (t.tko + 1))
        );
    }
}
