//! The disk layer on regular files (no root needed): initialisation, reads in both modes,
//! writes, and the typed errors for truncated and foreign devices.

use std::path::Path;

use qdisk::device::{DeviceOptions, SectorDevice};
use qdisk::disk::{initialise, DiskError, InitRequest, QuorumDisk, ReadMode};
use qdisk::format::{NodeState, StatusBlock};
use qdisk::geometry::Layout;
use qdisk::{BlockId, FormatError, Incarnation, NodeId};

fn file(dir: &Path, size: u64) -> std::path::PathBuf {
    let path = dir.join("qdisk.img");
    std::fs::File::create(&path)
        .and_then(|f| f.set_len(size))
        .expect("file");
    path
}

fn writable(sector_size: u32) -> DeviceOptions {
    DeviceOptions {
        write: true,
        exclusive: false,
        file_sector_size: Some(sector_size),
    }
}

fn init(path: &Path, layout: Layout, sector_size: u32) -> QuorumDisk {
    let device = SectorDevice::open(path, writable(sector_size)).expect("open");
    let request = InitRequest {
        layout,
        label: "file".into(),
        host: "test".into(),
        now: 1_700_000_000,
    };
    let mut steps = Vec::new();
    let disk = initialise(device, &request, &mut |s| steps.push(s)).expect("initialise");
    assert_eq!(
        steps.last(),
        Some(&qdisk::disk::InitProgress::Verified),
        "initialisation ends with a verified read-back"
    );
    disk
}

#[test]
fn per_slot_and_bulk_reads_agree_on_every_layout() {
    for (layout, ssz) in [
        (Layout::Classic, 512),
        (Layout::Classic, 4096),
        (Layout::Extended { max_nodes: 40 }, 512),
        (Layout::Extended { max_nodes: 40 }, 4096),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = file(dir.path(), 1 << 20);
        let mut disk = init(&path, layout, ssz);
        for node in [1u32, 7, layout.max_nodes()] {
            let block = StatusBlock {
                node: NodeId(node),
                updated_by: node,
                timestamp_ms: 1_700_000_001_000,
                state: NodeState::Running,
                incarnation: Incarnation(99),
                heartbeat: 5,
                mask: [1, node].into_iter().map(NodeId).collect(),
                ..StatusBlock::default()
            };
            disk.write_status(&block, 1_700_000_001).expect("write");
        }
        let before = disk.device().io_count();
        let per_slot = disk.read_all(ReadMode::PerSlot).expect("per slot");
        let middle = disk.device().io_count();
        let bulk = disk.read_all(ReadMode::Bulk).expect("bulk");
        let after = disk.device().io_count();
        assert_eq!(per_slot, bulk, "{layout:?} {ssz}");
        assert_eq!(middle - before, u64::from(layout.max_nodes()));
        assert_eq!(after - middle, 1, "one I/O for the whole area");
        let seven = bulk[6].block.as_ref().expect("node 7 decodes");
        assert_eq!(seven.state, NodeState::Running);
        assert!(seven.mask.contains(NodeId(7)));
    }
}

#[test]
fn reopening_finds_the_same_header_and_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = file(dir.path(), 1 << 20);
    let layout = Layout::Extended { max_nodes: 20 };
    let mut disk = init(&path, layout, 4096);
    let block = StatusBlock {
        node: NodeId(20),
        updated_by: 1,
        state: NodeState::Evicted,
        ..StatusBlock::default()
    };
    disk.write_status(&block, 1).expect("write");
    drop(disk);
    // No sector size given: a file learns it from the header.
    let mut disk = QuorumDisk::open(&path, DeviceOptions::default()).expect("open");
    assert_eq!(disk.geometry().sector_size(), 4096);
    assert_eq!(disk.header().layout, layout);
    assert_eq!(disk.read_status(NodeId(20)).expect("io"), Ok(block));
}

#[test]
fn a_truncated_device_is_a_typed_error_naming_the_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = file(dir.path(), 1 << 20);
    drop(init(&path, Layout::Classic, 512));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(40_960))
        .expect("truncate");
    match QuorumDisk::open(&path, DeviceOptions::default()) {
        Err(DiskError::Format {
            source:
                FormatError::Truncated {
                    block,
                    needed,
                    available,
                },
            ..
        }) => {
            assert_eq!(block, BlockId::Node(NodeId(16)));
            assert_eq!(needed, 73_728);
            assert_eq!(available, 40_960);
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn a_blank_device_is_not_a_quorum_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = file(dir.path(), 1 << 20);
    match QuorumDisk::open(&path, DeviceOptions::default()) {
        Err(DiskError::Format {
            source: FormatError::BadFrameMagic { block, found: 0 },
            ..
        }) => assert_eq!(block, BlockId::Header),
        other => panic!("expected BadFrameMagic, got {other:?}"),
    }
}

#[test]
fn writes_outside_the_layout_are_refused_before_any_io() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = file(dir.path(), 1 << 20);
    let mut disk = init(&path, Layout::Classic, 512);
    let before = disk.device().io_count();
    let block = StatusBlock {
        node: NodeId(17),
        ..StatusBlock::default()
    };
    assert!(disk.write_status(&block, 1).is_err());
    assert_eq!(disk.device().io_count(), before);
}
