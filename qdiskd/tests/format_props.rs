//! Property tests: random bytes never panic the decoders, and encode/decode round-trips.

use std::time::Duration;

use proptest::prelude::*;
use qdisk::format::{
    decode_header, decode_status, encode_status, frame, Message, MessageKind, NodeMask, NodeState,
    StatusBlock,
};
use qdisk::geometry::Layout;
use qdisk::{Incarnation, NodeId};

fn layouts() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::Classic),
        (1u32..=256).prop_map(|max_nodes| Layout::Extended { max_nodes })
    ]
}

/// Seconds that survive the trip through milliseconds.
fn whole_seconds(ts: u64) -> u64 {
    ts % (u64::MAX / 1000)
}

fn block_for(layout: Layout) -> impl Strategy<Value = StatusBlock> {
    let max = layout.max_nodes();
    let extended = matches!(layout, Layout::Extended { .. });
    (
        1..=max,
        0..=max,
        any::<u64>(),
        any::<u8>(),
        any::<[u16; 3]>(),
        (0u64..4_000_000_000, 0u64..4_000_000_000),
        any::<u64>(),
        any::<u64>(),
        (any::<u16>(), any::<u16>(), any::<u32>()),
        proptest::collection::vec(1..=max, 0..20),
        proptest::collection::vec(1..=max, 0..20),
    )
        .prop_map(
            move |(
                node,
                by,
                ts,
                state,
                [flags, score, score_max],
                (avg, last),
                inc,
                hb,
                (kind, seq, arg),
                m,
                mm,
            )| {
                StatusBlock {
                    node: NodeId(node),
                    updated_by: by,
                    // Red Hat's layout keeps whole seconds and no heartbeat counter.
                    timestamp_ms: if extended {
                        ts
                    } else {
                        whole_seconds(ts) * 1000
                    },
                    state: NodeState::from_code(state),
                    flags,
                    score,
                    score_max,
                    average_write: Duration::from_micros(if extended {
                        avg % u64::from(u32::MAX)
                    } else {
                        avg
                    }),
                    last_write: Duration::from_micros(if extended {
                        last % u64::from(u32::MAX)
                    } else {
                        last
                    }),
                    incarnation: Incarnation(inc),
                    heartbeat: if extended { hb } else { whole_seconds(ts) },
                    message: Message {
                        kind: MessageKind::from_code(kind),
                        seq,
                        arg,
                    },
                    mask: m.into_iter().map(NodeId).collect::<NodeMask>(),
                    master_mask: mm.into_iter().map(NodeId).collect::<NodeMask>(),
                }
            },
        )
}

proptest! {
    #[test]
    fn random_sectors_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..4200), layout in layouts(), slot in 0u32..300) {
        let _ = decode_header(&bytes);
        let _ = decode_status(&bytes, layout, NodeId(slot));
    }

    #[test]
    fn random_payloads_with_valid_frames_never_panic_the_decoders(payload in proptest::collection::vec(any::<u8>(), 0..400), layout in layouts(), slot in 0u32..300) {
        let mut sector = vec![0; 512];
        frame::seal(&mut sector, &payload, 1);
        let _ = decode_header(&sector);
        let _ = decode_status(&sector, layout, NodeId(slot));
    }

    #[test]
    fn status_blocks_round_trip((layout, block) in layouts().prop_flat_map(|l| (Just(l), block_for(l))), ssz in prop_oneof![Just(512usize), Just(4096usize)]) {
        let mut sector = vec![0; ssz];
        encode_status(&block, layout, 42, &mut sector).expect("in range");
        prop_assert_eq!(decode_status(&sector, layout, block.node), Ok(block));
    }

    #[test]
    fn any_single_bit_flip_in_the_covered_bytes_is_detected(bit in 0usize..(32 + 80) * 8) {
        let block = StatusBlock::initial(NodeId(5), 1_000);
        let mut sector = vec![0; 512];
        encode_status(&block, Layout::Classic, 1, &mut sector).expect("in range");
        sector[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(decode_status(&sector, Layout::Classic, NodeId(5)).is_err());
    }
}
