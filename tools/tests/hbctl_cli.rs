//! `hbctl`'s command line: cl_status's exit codes for usage errors, and JSON for programs
//! even when something fails (no hbd needed: a socket nobody serves).

use std::process::{Command, Output};

fn hbctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hbctl"))
        .args(args)
        .output()
        .expect("hbctl runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn usage_errors_exit_11_as_cl_status_does() {
    for args in [&["nodestatus"][..], &["bogus"], &["listnodes", "-x"]] {
        let out = hbctl(args);
        assert_eq!(out.status.code(), Some(11), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}: says what is wrong");
    }
    for args in [&["--help"][..], &["--version"], &["nodestatus", "--help"]] {
        assert_eq!(hbctl(args).status.code(), Some(0), "{args:?}");
    }
}

#[test]
fn with_json_every_failure_is_a_json_object_with_the_exit_code() {
    let out = hbctl(&["--json", "nodestatus"]);
    assert_eq!(out.status.code(), Some(11));
    let v = json(&out);
    assert_eq!(v["exit"], 11);
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");

    let dir = tempfile::tempdir().expect("tmp");
    let socket = dir.path().join("nobody.sock");
    let socket = socket.to_str().expect("utf-8");
    let out = hbctl(&["--json", "--socket", socket, "nodestatus", "web1"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["exit"], 1);
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("is hbd running")),
        "{v}"
    );
    let out = hbctl(&["--json", "--socket", socket, "hbstatus"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["running"], false);

    // Without --json: plain words on stderr, nothing on stdout.
    let out = hbctl(&["--socket", socket, "nodestatus", "web1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is hbd running"));
}
