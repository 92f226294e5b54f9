//! Stage 2: the shared disk, seen by every node, with per-node fault injection (FUSE).

use std::time::Duration;

use lab::root::require_root;
use lab::wait::wait_until;
use lab::{DiskFault, Lab};

fn dd_write(lab: &Lab, node: usize, pattern: &str, sector: u32) -> std::process::Output {
    let dev = lab
        .disk()
        .expect("disk")
        .device(node)
        .expect("dev")
        .display()
        .to_string();
    let script = format!(
        "head -c {sector} /dev/zero | tr '\\0' '{pattern}' | dd of={dev} bs={sector} count=1 seek=3 oflag=direct status=none"
    );
    lab.node(node)
        .output(&["sh", "-c", &script])
        .expect("run dd")
}

fn dd_read(lab: &Lab, node: usize, sector: u32) -> std::process::Output {
    let dev = lab
        .disk()
        .expect("disk")
        .device(node)
        .expect("dev")
        .display()
        .to_string();
    let args = [
        "dd".to_string(),
        format!("if={dev}"),
        format!("bs={sector}"),
        "count=1".into(),
        "skip=3".into(),
        "iflag=direct".into(),
        "status=none".into(),
    ];
    lab.node(node).output(&args).expect("run dd")
}

fn all_nodes_see_the_same_bytes(sector: u32) {
    let lab = Lab::builder()
        .nodes(3)
        .shared_disk(8 << 20, sector)
        .build()
        .expect("lab up");
    for (writer, pattern) in [(1, "A"), (2, "B"), (3, "C")] {
        let out = dd_write(&lab, writer, pattern, sector);
        assert!(
            out.status.success(),
            "write: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for reader in 1..=3 {
            let out = dd_read(&lab, reader, sector);
            assert!(
                out.status.success(),
                "read: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.stdout.len(), sector as usize);
            assert!(
                out.stdout.iter().all(|b| *b == pattern.as_bytes()[0]),
                "node{reader} does not see node{writer}'s write at once"
            );
        }
    }
    let size = lab
        .node(2)
        .run(&[
            "blockdev",
            "--getss",
            &lab.disk()
                .expect("disk")
                .device(2)
                .expect("dev")
                .display()
                .to_string(),
        ])
        .expect("blockdev");
    assert_eq!(size.trim(), sector.to_string());
}

#[test]
fn all_nodes_see_the_same_bytes_on_a_512_byte_sector_disk() {
    require_root("all_nodes_see_the_same_bytes_on_a_512_byte_sector_disk");
    all_nodes_see_the_same_bytes(512);
}

#[test]
fn all_nodes_see_the_same_bytes_on_a_4096_byte_sector_disk() {
    require_root("all_nodes_see_the_same_bytes_on_a_4096_byte_sector_disk");
    all_nodes_see_the_same_bytes(4096);
}

#[test]
fn disk_failure_is_visible_to_that_node_only() {
    require_root("disk_failure_is_visible_to_that_node_only");
    let lab = Lab::builder()
        .nodes(2)
        .shared_disk(4 << 20, 512)
        .build()
        .expect("lab up");
    lab.disk_fault(2, DiskFault::Fail).expect("fail");
    let out = dd_read(&lab, 2, 512);
    assert!(!out.status.success(), "read on the failed node succeeded");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Input/output error"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !dd_write(&lab, 2, "X", 512).status.success(),
        "write on the failed node succeeded"
    );
    assert!(
        dd_write(&lab, 1, "Y", 512).status.success(),
        "the healthy node is hit too"
    );
    assert!(dd_read(&lab, 1, 512).status.success());
    lab.disk_fault(2, DiskFault::Healthy).expect("heal");
    let out = dd_read(&lab, 2, 512);
    assert!(out.status.success() && out.stdout.iter().all(|b| *b == b'Y'));
}

#[test]
fn disk_stall_hangs_that_node_only_until_released() {
    require_root("disk_stall_hangs_that_node_only_until_released");
    let lab = Lab::builder()
        .nodes(2)
        .shared_disk(4 << 20, 4096)
        .build()
        .expect("lab up");
    let disk = lab.disk().expect("disk");
    lab.disk_fault(2, DiskFault::Stall).expect("stall");
    let dev = disk.device(2).expect("dev").display().to_string();
    let mut reader = lab
        .node(2)
        .spawn(&[
            "dd",
            &format!("if={dev}"),
            "of=/dev/null",
            "bs=4096",
            "count=1",
            "iflag=direct",
            "status=none",
        ])
        .expect("spawn dd");
    wait_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        "a stalled request",
        || disk.stalled_requests(2).unwrap_or(0) > 0,
    )
    .expect("request parked");
    // The reader really blocks in the kernel (uninterruptible sleep).
    let state = std::fs::read_to_string(format!("/proc/{}/stat", reader.id())).expect("stat");
    let state = state
        .rsplit(')')
        .next()
        .and_then(|s| s.split_whitespace().next());
    assert_eq!(state, Some("D"), "stalled reader is not in state D");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        reader.try_wait().expect("try_wait").is_none(),
        "stalled read returned"
    );
    // The other node goes on.
    assert!(dd_write(&lab, 1, "Z", 4096).status.success());
    assert!(dd_read(&lab, 1, 4096).status.success());
    lab.disk_fault(2, DiskFault::Healthy).expect("release");
    let status = reader.wait().expect("wait");
    assert!(status.success(), "released read failed: {status}");
}
