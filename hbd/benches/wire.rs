//! Per-packet cost of the wire layer: build + encode + sign a status heartbeat, and decode +
//! verify + parse one, for each authentication method; plus a compressed 64 KiB message.
// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::path::Path;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hbd::auth::Authenticator;
use hbd::config::parse_authkeys;
use hbd::proto::{self, Body, Generation, NodeStatus, Origin, Seq, Stamp, Status};
use hbd::wire::{self, Algorithm, CompressOptions, EncodeOptions, Message};

fn auth(line: &str) -> Authenticator {
    let keys = parse_authkeys(Path::new("authkeys"), &format!("auth 1\n{line}\n"))
        .value
        .expect("valid authkeys");
    Authenticator::new(&keys).expect("signing key")
}

fn status() -> Message {
    let body = Body::Status(Status {
        status: NodeStatus::Active,
        deadtime: Some(Duration::from_secs(8)),
        protocol: Some(proto::PROTOCOL_VERSION),
        hears: None,
    });
    let origin = Origin {
        node: "web2".into(),
        uuid: [0x5a; 16],
        generation: Generation(0x6b06990c),
        ttl: 3,
    };
    let stamp = Stamp {
        seq: Seq(0x2a),
        unix_time: 0x6b069917,
        load: "0.08 0.03 0.01 1/120 4242".into(),
    };
    proto::build(&body, &origin, None, &stamp)
}

fn bench(c: &mut Criterion) {
    let opts = EncodeOptions::default();
    for line in ["1 crc", "1 md5 secret", "1 sha1 secret", "1 sha256 secret"] {
        let a = auth(line);
        let method = line.split(' ').nth(1).unwrap_or("?");
        let msg = status();
        c.bench_function(&format!("encode+sign status ({method})"), |b| {
            b.iter(|| wire::encode(black_box(&msg), &a, &opts).expect("encodes"))
        });
        let packet = wire::encode(&msg, &a, &opts).expect("encodes");
        c.bench_function(&format!("decode+verify+parse status ({method})"), |b| {
            b.iter(|| {
                let d = wire::decode(black_box(&packet), &a).expect("verifies");
                proto::parse(&d.message).expect("parses")
            })
        });
    }
    let a = auth("1 sha1 secret");
    let mut big = status();
    big.add(
        "cib",
        "<node id=\"x\" uname=\"web1\"/>\n"
            .repeat(2000)
            .replace('\n', " "),
    );
    for alg in [Algorithm::Bz2, Algorithm::Zlib] {
        let opts = EncodeOptions {
            compression: Some(CompressOptions {
                algorithm: alg,
                threshold: 2048,
            }),
            ..EncodeOptions::default()
        };
        let packet = wire::encode(&big, &a, &opts).expect("compresses");
        c.bench_function(
            &format!("decode+verify 60 KB {} message", alg.name()),
            |b| b.iter(|| wire::decode(black_box(&packet), &a).expect("expands")),
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
