//! Property tests: no input makes the parsers panic, and keys never reach error text.

use std::path::Path;

use hbd::config::{parse_authkeys, parse_hacf, parse_haresources, parse_time};
use proptest::prelude::*;

/// Text built from config-like fragments, so the parsers' deeper paths are reached.
fn configish() -> impl Strategy<Value = String> {
    let frag = prop_oneof![
        Just("keepalive".to_string()),
        Just("deadtime".to_string()),
        Just("mcast".to_string()),
        Just("bcast".to_string()),
        Just("node".to_string()),
        Just("auth".to_string()),
        Just("sha1".to_string()),
        Just("crc".to_string()),
        Just("::".to_string()),
        Just("/".to_string()),
        Just("#".to_string()),
        Just("\\".to_string()),
        Just("\n".to_string()),
        Just(" ".to_string()),
        Just(",".to_string()),
        "[0-9.]{1,12}(ms|us|s)?",
        "\\PC{0,8}",
    ];
    prop::collection::vec(frag, 0..60).prop_map(|v| v.join(" "))
}

proptest! {
    #[test]
    fn hacf_parser_never_panics(text in configish()) {
        let _ = parse_hacf(Path::new("ha.cf"), &text);
    }

    #[test]
    fn hacf_parser_never_panics_on_arbitrary_text(text in "\\PC*") {
        let _ = parse_hacf(Path::new("ha.cf"), &text);
    }

    #[test]
    fn hacf_parser_never_panics_on_arbitrary_bytes(
        text in configish(),
        noise in proptest::collection::vec(any::<u8>(), 0..64),
        at in any::<usize>(),
    ) {
        let mut bytes = text.into_bytes();
        let at = at % (bytes.len() + 1);
        bytes.splice(at..at, noise);
        let _ = hbd::config::hacf::parse_hacf_bytes(Path::new("ha.cf"), &bytes);
    }

    #[test]
    fn authkeys_parser_never_panics_and_never_echoes_keys(text in configish(), key in "[A-Za-z]{20}") {
        let full = format!("{text}\n1 sha1 {key}\n2 crc {key}\n");
        let p = parse_authkeys(Path::new("authkeys"), &full);
        for e in &p.errors {
            prop_assert!(!e.to_string().contains(&key));
        }
    }

    #[test]
    fn haresources_parser_never_panics(text in configish()) {
        let _ = parse_haresources(Path::new("haresources"), &text);
    }

    #[test]
    fn time_parser_never_panics(text in "\\PC{0,40}") {
        let _ = parse_time(&text);
    }
}
