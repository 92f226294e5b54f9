//! The shared-disk writer as a cluster resource on the lab's shared disk: its resource
//! script starts and stops it inside nodes, the lab's disk journals when each record
//! landed, and the checker tells a clean handover from two writers at once, including a
//! stalled write that lands after the other node took over.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lab::diskwriter::check::{check, CheckReport};
use lab::diskwriter::{read_region, Region, ResourceScript};
use lab::root::require_root;
use lab::wait::wait_until;
use lab::{DiskFault, Lab};

const SCRIPT: &str = "/etc/ha.d/resource.d/diskwriter";

/// A two-node lab (web1, web2) with a 32 MiB shared disk, the writer region `16M:16M`
/// journaled, and the resource script in each node.
fn lab() -> (Lab, Region) {
    let lab = Lab::builder()
        .nodes(2)
        .hostnames(&["web1", "web2"])
        .shared_disk(32 << 20, 512)
        .build()
        .expect("lab up");
    let region: Region = "16M:16M".parse().expect("region");
    let disk = lab.disk().expect("disk");
    disk.journal_writes(region.range()).expect("journal");
    for node in lab.nodes() {
        let script = ResourceScript {
            lab: PathBuf::from(env!("CARGO_BIN_EXE_lab")),
            device: disk.device(node.index()).expect("device").to_path_buf(),
            region,
            node_id: node.index() as u32,
            node_name: node.hostname().to_string(),
            max_nodes: 8,
            interval: Duration::from_millis(20),
        }
        .render()
        .expect("render");
        let dir = node
            .private_dir("/etc/ha.d")
            .expect("private /etc/ha.d")
            .join("resource.d");
        std::fs::create_dir_all(&dir).expect("resource.d");
        let path = dir.join("diskwriter");
        std::fs::write(&path, script).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    (lab, region)
}

/// The node's writer log, for failure messages.
fn writer_log(lab: &Lab, node: usize) -> String {
    let log = lab
        .node(node)
        .private_dir("/var/log")
        .map(|d| d.join("diskwriter.log"));
    log.and_then(|l| std::fs::read_to_string(l).ok())
        .unwrap_or_default()
}

/// Runs `diskwriter ACTION` in node `node`; returns its standard output.
fn resource(lab: &Lab, node: usize, action: &str) -> String {
    let out = lab
        .node(node)
        .output(&[SCRIPT, action])
        .expect("run script");
    assert!(
        out.status.success(),
        "diskwriter {action} on node {node}: {}\n{}\nlog:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        writer_log(lab, node)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn start(lab: &Lab, node: usize) {
    resource(lab, node, "start");
    assert_eq!(resource(lab, node, "status"), "diskwriter is running\n");
}

fn stop(lab: &Lab, node: usize) {
    resource(lab, node, "stop");
    assert_eq!(resource(lab, node, "status"), "diskwriter is stopped\n");
}

fn checked(lab: &Lab, region: &Region, since: Instant) -> CheckReport {
    let disk = lab.disk().expect("disk");
    let found = read_region(disk.image(), region).expect("read region");
    check(&found, &disk.journals(), since)
}

fn landings(lab: &Lab, node: usize) -> usize {
    lab.disk()
        .expect("disk")
        .journal(node)
        .expect("journal")
        .len()
}

#[test]
fn a_handover_is_two_disjoint_spans() {
    require_root("a_handover_is_two_disjoint_spans");
    let (lab, region) = lab();
    let since = Instant::now();
    start(&lab, 1);
    std::thread::sleep(Duration::from_millis(500));
    stop(&lab, 1);
    start(&lab, 2);
    std::thread::sleep(Duration::from_millis(500));
    stop(&lab, 2);
    let report = checked(&lab, &region, since);
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.ownership.len(), 2, "{report:#?}");
    let (a, b) = (&report.ownership[0], &report.ownership[1]);
    assert_eq!((a.node.as_str(), b.node.as_str()), ("web1", "web2"));
    assert!(a.last_s < b.first_s, "{report:#?}");
    assert!(a.records >= 10 && b.records >= 10, "{report:#?}");
    // Stopped means stopped: nothing lands any more.
    let before = (landings(&lab, 1), landings(&lab, 2));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!((landings(&lab, 1), landings(&lab, 2)), before);
}

#[test]
fn two_writers_at_once_are_an_overlap() {
    require_root("two_writers_at_once_are_an_overlap");
    let (lab, region) = lab();
    let since = Instant::now();
    start(&lab, 1);
    start(&lab, 2);
    std::thread::sleep(Duration::from_millis(300));
    stop(&lab, 1);
    stop(&lab, 2);
    let report = checked(&lab, &region, since);
    assert_eq!(report.ownership.len(), 2, "{report:#?}");
    assert!(
        report.violations.iter().any(|v| v.kind == "disk-overlap"
            && v.detail.contains("web1")
            && v.detail.contains("web2")),
        "{report:#?}"
    );
}

#[test]
fn a_stalled_write_landing_after_the_takeover_is_an_overlap() {
    require_root("a_stalled_write_landing_after_the_takeover_is_an_overlap");
    let (lab, region) = lab();
    let disk = lab.disk().expect("disk");
    let since = Instant::now();
    start(&lab, 1);
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(5),
        "web1's first records",
        || landings(&lab, 1) >= 5,
    )
    .expect("web1 writes");
    // web1's disk hangs: its next write is parked in the lab's disk.
    disk.set_fault(1, DiskFault::Stall).expect("stall");
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(2),
        "web1's write to hang",
        || disk.stalled_requests(1).unwrap_or(0) > 0,
    )
    .expect("a parked write");
    // web2 takes over and writes.
    start(&lab, 2);
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(5),
        "web2's first records",
        || landings(&lab, 2) >= 3,
    )
    .expect("web2 writes");
    // web1's disk comes back: the parked write lands now.
    disk.set_fault(1, DiskFault::Healthy).expect("heal");
    stop(&lab, 1);
    stop(&lab, 2);
    let report = checked(&lab, &region, since);
    let overlap = report
        .violations
        .iter()
        .find(|v| v.kind == "disk-overlap")
        .unwrap_or_else(|| panic!("no overlap: {report:#?}"));
    assert!(
        overlap.detail.starts_with("web1 (incarnation")
            && overlap.detail.contains("a delayed write"),
        "{report:#?}"
    );
}
