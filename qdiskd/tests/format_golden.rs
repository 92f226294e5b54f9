//! Golden vectors: sector images laid out by hand from the reference tables (RHCS
//! `disk.h`), with CRCs computed independently by zlib's `crc32`, compared byte for byte
//! with what the encoder produces, and decoded back.

use std::time::Duration;

use qdisk::format::{
    decode_header, decode_status, encode_header, encode_status, Message, MessageKind, NodeMask,
    NodeState, QuorumHeader, StatusBlock,
};
use qdisk::geometry::Layout;
use qdisk::{BlockId, FormatError, Incarnation, NodeId};

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .map(|c| (c as char).to_digit(16).expect("hex digit") as u8)
        .collect();
    digits
        .chunks(2)
        .map(|pair| pair[0] << 4 | pair[1])
        .collect()
}

/// The 32-byte little-endian frame, field by field.
fn frame(hcrc: u32, dcrc: u32, length: u32, written_at: u64) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0x00DE_BB1Eu32.to_le_bytes());
    f.extend_from_slice(&hcrc.to_le_bytes());
    f.extend_from_slice(&dcrc.to_le_bytes());
    f.extend_from_slice(&length.to_le_bytes());
    f.extend_from_slice(&0u64.to_le_bytes());
    f.extend_from_slice(&written_at.to_le_bytes());
    f
}

fn sector(frame: Vec<u8>, payload: &[u8], size: usize) -> Vec<u8> {
    let mut s = frame;
    s.extend_from_slice(payload);
    s.resize(size, 0);
    s
}

/// Node 3 running, an ACK for node 1, sees {1,2,3}, master mask {1,3}; written at
/// 1600000000 s (frame 1600000001 s).
const STATUS_PAYLOAD: &str = "
    47bacef8 00000003 000000005f5e1000 00000003 00000000
    05 00 0000 0000 0000
    00000000 000004d2  00000000 000003db
    00105e5f00105e5f
    0002 0007 00000001
    0700000000000000 0500000000000000";

fn status_block() -> StatusBlock {
    StatusBlock {
        node: NodeId(3),
        updated_by: 3,
        timestamp_ms: 1_600_000_000_000,
        state: NodeState::Running,
        average_write: Duration::from_micros(1234),
        last_write: Duration::from_micros(987),
        incarnation: Incarnation(0x5F5E_1000_5F5E_1000),
        heartbeat: 1_600_000_000,
        message: Message {
            kind: MessageKind::Ack,
            seq: 7,
            arg: 1,
        },
        mask: [1, 2, 3].into_iter().map(NodeId).collect(),
        master_mask: [1, 3].into_iter().map(NodeId).collect(),
        ..StatusBlock::default()
    }
}

#[test]
fn red_hat_status_block_matches_the_hand_built_sector() {
    let payload = hex(STATUS_PAYLOAD);
    assert_eq!(payload.len(), 80);
    let expected = sector(
        frame(0xef4b_9698, 0x4eb5_68d2, 80, 1_600_000_001),
        &payload,
        512,
    );

    let mut out = vec![0xEE; 512];
    encode_status(&status_block(), Layout::Classic, 1_600_000_001, &mut out).expect("encodes");
    assert_eq!(out, expected);
    let decoded = decode_status(&expected, Layout::Classic, NodeId(3)).expect("decodes");
    assert_eq!(decoded, status_block());
}

#[test]
fn red_hat_header_matches_the_hand_built_sector() {
    let mut payload = Vec::new();
    payload.extend_from_slice(&hex("eb7a62c2 389fabc4 000000005f5e1000"));
    let mut host = b"node1".to_vec();
    host.resize(128, 0);
    let mut label = b"testing".to_vec();
    label.resize(120, 0);
    payload.extend_from_slice(&host);
    payload.extend_from_slice(&label);
    payload.extend_from_slice(&hex("00000200 00000000"));
    assert_eq!(payload.len(), 272);
    let expected = sector(
        frame(0x5e9c_6da9, 0x443f_6e12, 272, 1_600_000_000),
        &payload,
        4096,
    );

    let header = QuorumHeader {
        layout: Layout::Classic,
        created: 1_600_000_000,
        host: "node1".into(),
        label: "testing".into(),
        recorded_sector_size: Some(512),
    };
    let mut out = vec![0xEE; 4096];
    encode_header(&header, 1_600_000_000, &mut out).expect("encodes");
    assert_eq!(out, expected);
    assert_eq!(decode_header(&expected), Ok(header));
}

#[test]
fn garbage_after_the_nul_in_host_and_label_is_ignored() {
    // Red Hat does not zero the header struct: stack garbage follows the strings.
    let header = QuorumHeader {
        layout: Layout::Classic,
        created: 1,
        host: "h".into(),
        label: "short".into(),
        recorded_sector_size: Some(512),
    };
    let mut out = vec![0; 512];
    encode_header(&header, 1, &mut out).expect("encodes");
    let mut payload = out[32..32 + 272].to_vec();
    payload[16 + 2..16 + 128].fill(b'X');
    payload[144 + 6..144 + 120].fill(b'Y');
    let crc = crc32fast::hash(&payload);
    out[32..32 + 272].copy_from_slice(&payload);
    out[8..12].copy_from_slice(&crc.to_le_bytes());
    out[4..8].fill(0);
    let hcrc = crc32fast::hash(&out[..32]);
    out[4..8].copy_from_slice(&hcrc.to_le_bytes());
    assert_eq!(decode_header(&out), Ok(header));
}

#[test]
fn red_hat_cluster_manager_1_2_headers_are_refused_by_name() {
    let mut payload = hex("39119fcd");
    payload.resize(272, 0);
    let mut out = vec![0; 512];
    qdisk::format::frame::seal(&mut out, &payload, 0);
    assert_eq!(decode_header(&out), Err(FormatError::LegacyRhcmHeader));
}

#[test]
fn headers_without_v2_have_no_recorded_sector_size() {
    let header = QuorumHeader {
        layout: Layout::Classic,
        created: 1,
        host: "h".into(),
        label: "old".into(),
        recorded_sector_size: Some(512),
    };
    let mut out = vec![0; 512];
    encode_header(&header, 1, &mut out).expect("encodes");
    let mut payload = out[32..32 + 272].to_vec();
    payload[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    qdisk::format::frame::seal(&mut out, &payload, 1);
    assert_eq!(
        decode_header(&out).map(|h| h.recorded_sector_size),
        Ok(None)
    );
}

#[test]
fn extended_header_uses_its_own_magic_so_red_hat_tools_skip_it() {
    let header = QuorumHeader {
        layout: Layout::Extended { max_nodes: 255 },
        created: 1_600_000_000,
        host: "node1".into(),
        label: "big".into(),
        recorded_sector_size: Some(4096),
    };
    let mut out = vec![0; 4096];
    encode_header(&header, 1_600_000_000, &mut out).expect("encodes");
    // Red Hat's check_device compares the first payload word with 0xEB7A62C2.
    assert_eq!(&out[32..36], &hex("51445848")[..]);
    assert_ne!(&out[32..36], &hex("eb7a62c2")[..]);
    assert_eq!(
        &out[32 + 272..32 + 288],
        &hex("000000ff 00001000 0000000000001000")[..]
    );
    assert_eq!(decode_header(&out), Ok(header));
}

#[test]
fn extended_status_block_round_trips_with_high_node_ids() {
    let mut block = status_block();
    block.node = NodeId(200);
    block.updated_by = 1;
    block.state = NodeState::Evicted;
    block.heartbeat = 987_654_321;
    block.timestamp_ms = 1_600_000_000_123;
    block.mask = [1, 100, 200, 255].into_iter().map(NodeId).collect();
    block.master_mask = NodeMask::new();
    let layout = Layout::Extended { max_nodes: 255 };
    let mut out = vec![0; 512];
    encode_status(&block, layout, 5, &mut out).expect("encodes");
    assert_eq!(&out[32..36], &hex("51445342")[..]);
    // The incarnation is big-endian here, unlike Red Hat's host-order field.
    assert_eq!(&out[32 + 40..32 + 48], &hex("5f5e10005f5e1000")[..]);
    assert_eq!(decode_status(&out, layout, NodeId(200)), Ok(block));
}

#[test]
fn a_block_in_the_wrong_slot_is_refused() {
    let mut out = vec![0; 512];
    encode_status(&status_block(), Layout::Classic, 1, &mut out).expect("encodes");
    assert_eq!(
        decode_status(&out, Layout::Classic, NodeId(4)),
        Err(FormatError::WrongSlot {
            block: BlockId::Node(NodeId(4)),
            found: 3
        })
    );
}

#[test]
fn node_ids_beyond_the_red_hat_layout_cannot_be_encoded() {
    let mut block = status_block();
    block.node = NodeId(17);
    let mut out = vec![0; 512];
    assert!(encode_status(&block, Layout::Classic, 1, &mut out).is_err());
    let mut block = status_block();
    block.mask.insert(NodeId(40));
    assert!(encode_status(&block, Layout::Classic, 1, &mut out).is_err());
}

#[test]
fn labels_longer_than_red_hat_stores_are_refused() {
    assert!(QuorumHeader::validate_label(&"x".repeat(118)).is_ok());
    assert!(QuorumHeader::validate_label(&"x".repeat(119)).is_err());
    assert!(QuorumHeader::validate_label("").is_err());
    let e = QuorumHeader::validate_label("web\u{1b}[2Jqdisk").expect_err("control");
    assert!(e.to_string().contains("control character '\\u{1b}'"), "{e}");
    assert!(QuorumHeader::validate_label("仲裁盘-1").is_ok());
}
