//! Benchmark: read every node's status block through O_DIRECT on a loop device.
//!
//! For a 16-node disk (Red Hat layout) and a 255-node disk (extended layout), on 512- and
//! 4096-byte sectors, it times a full read pass done Red Hat's way (one single-sector read
//! per node) and done in one I/O over the whole status area, and prints the median and
//! 90th percentile per pass, the I/Os issued per pass, and the ratio. Needs root (it makes
//! its own loop devices, with direct I/O on the backing file). Run:
//!
//! ```text
//! cargo bench -p qdisk --bench read_all_status            # default iterations
//! BENCH_ITERATIONS=5000 cargo bench -p qdisk --bench read_all_status
//! ```

use std::time::{Duration, Instant};

use lab::loopdev::LoopDevice;
use qdisk::device::{DeviceOptions, SectorDevice};
use qdisk::disk::{initialise, InitRequest, QuorumDisk, ReadMode};
use qdisk::format::{NodeState, StatusBlock};
use qdisk::geometry::Layout;
use qdisk::{Incarnation, NodeId};

struct Sample {
    median: Duration,
    p90: Duration,
    ios_per_pass: f64,
}

fn measure(disk: &mut QuorumDisk, mode: ReadMode, iterations: usize) -> Sample {
    // Warm up, and check every slot decodes: a benchmark of a broken read is worthless.
    for slot in disk.read_all(mode).expect("read pass") {
        assert!(
            slot.block.is_ok(),
            "slot {} bad: {:?}",
            slot.node,
            slot.block
        );
    }
    let ios_before = disk.device().io_count();
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            let slots = disk.read_all(mode).expect("read pass");
            let elapsed = start.elapsed();
            std::hint::black_box(slots);
            elapsed
        })
        .collect();
    let ios = disk.device().io_count() - ios_before;
    times.sort();
    Sample {
        median: times[times.len() / 2],
        p90: times[times.len() * 9 / 10],
        ios_per_pass: ios as f64 / iterations as f64,
    }
}

fn prepare(layout: Layout, sector_size: u32) -> (LoopDevice, QuorumDisk) {
    let dev = LoopDevice::builder()
        .sector_size(sector_size)
        .size_bytes(4 << 20)
        .direct_io(true)
        .build()
        .expect("loop device (run as root)");
    let device = SectorDevice::open(
        dev.path(),
        DeviceOptions {
            write: true,
            ..DeviceOptions::default()
        },
    )
    .expect("open");
    let request = InitRequest {
        layout,
        label: "bench".into(),
        host: "bench".into(),
        now: 1_700_000_000,
    };
    let mut disk = initialise(device, &request, &mut |_| {}).expect("initialise");
    // Every node running, as on a live cluster.
    let nodes: Vec<NodeId> = disk.geometry().nodes().collect();
    for &node in &nodes {
        let block = StatusBlock {
            node,
            updated_by: node.0,
            timestamp_ms: 1_700_000_000_000,
            state: NodeState::Running,
            incarnation: Incarnation(u64::from(node.0) * 7919),
            heartbeat: 42,
            mask: nodes.iter().copied().collect(),
            ..StatusBlock::default()
        };
        disk.write_status(&block, 1_700_000_000).expect("write");
    }
    (dev, disk)
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    if !lab::root::is_root() {
        eprintln!("read_all_status: needs root (it creates loop devices); skipped");
        return;
    }
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    println!("Full read of every status block through O_DIRECT on a loop device (direct I/O backing), {iterations} passes each");
    println!(
        "{:<9} {:>6} {:>6} {:<10} {:>8} {:>12} {:>12}",
        "layout", "sector", "nodes", "mode", "I/Os", "median", "p90"
    );
    let cases = [
        (Layout::Classic, 512),
        (Layout::Classic, 4096),
        (Layout::Extended { max_nodes: 255 }, 512),
        (Layout::Extended { max_nodes: 255 }, 4096),
    ];
    for (layout, sector_size) in cases {
        let (_dev, mut disk) = prepare(layout, sector_size);
        let mut medians = Vec::new();
        for (mode, name) in [(ReadMode::PerSlot, "per-slot"), (ReadMode::Bulk, "one I/O")] {
            let sample = measure(&mut disk, mode, iterations);
            println!(
                "{:<9} {:>6} {:>6} {:<10} {:>8.0} {:>12} {:>12}",
                layout.name(),
                sector_size,
                layout.max_nodes(),
                name,
                sample.ios_per_pass,
                micros(sample.median),
                micros(sample.p90)
            );
            medians.push(sample.median);
        }
        println!(
            "{:<9} {:>6} {:>6} one I/O is {:.1}x faster than per-slot (Red Hat's way)",
            "",
            "",
            "",
            medians[0].as_secs_f64() / medians[1].as_secs_f64()
        );
    }
}
