//! Property tests of the wire layer: round trips in both encodings, and every forged,
//! truncated, bit-flipped or random packet rejected without a panic.

use std::path::Path;

use hbd::auth::Authenticator;
use hbd::config::parse_authkeys;
use hbd::proto;
use hbd::wire::{self, Algorithm, CompressOptions, EncodeOptions, Format, Message, Value};
use proptest::prelude::*;

fn auth(text: &str) -> Authenticator {
    let keys = parse_authkeys(Path::new("authkeys"), text)
        .value
        .expect("valid authkeys");
    Authenticator::new(&keys).expect("signing key")
}

fn keys() -> Vec<Authenticator> {
    vec![
        auth("auth 1\n1 sha1 secret\n"),
        auth("auth 2\n2 md5 k2\n1 sha1 secret\n"),
        auth("auth 3\n3 crc\n"),
        auth("auth 15\n15 sha256 a-long-key-a-long-key-a-long-key-a-long-key-a-long-key-a-long-key-xx\n"),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[ -~]{0,40}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Binary),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    proptest::collection::vec(("[a-z_][a-z0-9_]{0,12}", value()), 1..16).prop_map(|fields| {
        let mut m = Message::new();
        for (n, v) in fields {
            if n != "auth" {
                m.add(n, v);
            }
        }
        if m.is_empty() {
            m.add("t", "status");
        }
        m
    })
}

fn expected_len_probe(m: &Message, a: &Authenticator) -> Message {
    let mut m = m.clone();
    wire::sign_classic(&mut m, a).expect("signs");
    m
}

fn format() -> impl Strategy<Value = Format> {
    prop_oneof![Just(Format::Netstring), Just(Format::Classic)]
}

fn opts(format: Format, classic_auth: bool) -> EncodeOptions {
    EncodeOptions {
        format,
        classic_auth,
        compression: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode_gives_the_message_back(
        m in message(), fmt in format(), classic_auth in any::<bool>(), k in 0usize..4,
    ) {
        let a = &keys()[k];
        let packet = wire::encode(&m, a, &opts(fmt, classic_auth)).expect("encodes");
        let d = wire::decode(&packet, a).expect("verifies");
        prop_assert_eq!(d.format, fmt);
        prop_assert_eq!(d.key, a.signing_index());
        let mut expected = m.clone();
        if classic_auth || fmt == Format::Classic {
            wire::sign_classic(&mut expected, a).expect("signs");
        }
        prop_assert_eq!(&d.message, &expected);
        // Re-encoding what was decoded gives the same bytes.
        prop_assert_eq!(wire::encode(&d.message, a, &opts(fmt, classic_auth)).expect("enc"), packet);
    }

    #[test]
    fn compressed_messages_round_trip(m in message(), bz2 in any::<bool>(), pad in 0usize..5000) {
        let a = &keys()[0];
        let mut m = m;
        m.add("pad", "p".repeat(pad));
        let algorithm = if bz2 { Algorithm::Bz2 } else { Algorithm::Zlib };
        let o = EncodeOptions {
            compression: Some(CompressOptions { algorithm, threshold: 1024 }),
            ..EncodeOptions::default()
        };
        let packet = wire::encode(&m, a, &o).expect("encodes");
        let d = wire::decode(&packet, a).expect("verifies");
        let mut expected = m.clone();
        wire::sign_classic(&mut expected, a).expect("signs");
        prop_assert_eq!(d.message, expected);
        // Compressed exactly when the signed message is over the threshold.
        let over = wire::netstring::body_len(&expected_len_probe(&m, a)) > 1024;
        prop_assert_eq!(d.compressed, over.then_some(algorithm));
    }

    #[test]
    fn a_forged_signature_is_rejected(m in message(), fmt in format()) {
        let ks = keys();
        // Same index 1, other secret.
        let forger = auth("auth 1\n1 sha1 guessed\n");
        let packet = wire::encode(&m, &forger, &opts(fmt, true)).expect("encodes");
        prop_assert_eq!(wire::decode(&packet, &ks[0]), Err(wire::Rejected::BadSignature { index: 1 }));
    }

    #[test]
    fn truncated_packets_are_rejected(m in message(), fmt in format(), cut in any::<prop::sample::Index>()) {
        let a = &keys()[1];
        let packet = wire::encode(&m, a, &opts(fmt, true)).expect("encodes");
        // A classic packet without its final NUL is still whole.
        let whole = if fmt == Format::Classic { packet.len() - 1 } else { packet.len() };
        let len = cut.index(whole);
        prop_assert!(wire::decode(&packet[..len], a).is_err());
    }

    #[test]
    fn bit_flipped_packets_are_rejected(m in message(), fmt in format(), at in any::<prop::sample::Index>(), bit in 0u8..8, k in 0usize..4) {
        let a = &keys()[k];
        let mut packet = wire::encode(&m, a, &opts(fmt, true)).expect("encodes");
        let i = at.index(packet.len());
        packet[i] ^= 1 << bit;
        prop_assert!(wire::decode(&packet, a).is_err(), "flip at {} accepted", i);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), prefix in 0usize..3) {
        let a = &keys()[0];
        let mut p = [b"".as_slice(), b"###\n", b">>>\n"][prefix].to_vec();
        p.extend_from_slice(&bytes);
        let _ = wire::decode(&p, a);
        if let Ok((m, _)) = wire::parse_unverified(&p) {
            let _ = proto::parse(&m);
        }
    }

    #[test]
    fn mutated_valid_packets_never_panic(m in message(), fmt in format(), edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let a = &keys()[2];
        let mut packet = wire::encode(&m, a, &opts(fmt, true)).expect("encodes");
        for (at, b) in edits {
            let i = at.index(packet.len());
            packet[i] = b;
        }
        let _ = wire::decode(&packet, a);
        if let Ok((m, _)) = wire::parse_unverified(&packet) {
            let _ = proto::parse(&m);
        }
    }
}

#[test]
fn oversized_and_bomb_packets_are_refused() {
    let a = &keys()[0];
    let huge = vec![b'#'; wire::MAX_MSG + 1];
    assert!(matches!(
        wire::decode(&huge, a),
        Err(wire::Rejected::TooLarge { .. })
    ));
    // A compressed payload that expands past MAXUNCOMPRESSED.
    let bomb =
        wire::compress::compress_bytes(Algorithm::Zlib, &vec![b'x'; wire::MAX_UNCOMPRESSED + 10])
            .expect("compresses");
    let mut m = Message::new();
    m.add(wire::compress::PAYLOAD_FIELD, bomb)
        .add(wire::compress::ALGORITHM_FIELD, "zlib");
    let packet = wire::encode(&m, a, &EncodeOptions::default()).expect("encodes");
    assert!(matches!(
        wire::decode(&packet, a),
        Err(wire::Rejected::TooLarge { .. })
    ));
    // Too large to send uncompressed.
    let mut big = Message::new();
    big.add("t", "x").add("v", "y".repeat(wire::MAX_MSG));
    assert!(matches!(
        wire::encode(&big, a, &EncodeOptions::default()),
        Err(wire::EncodeError::TooLarge { .. })
    ));
}
