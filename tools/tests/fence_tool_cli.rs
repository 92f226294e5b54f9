//! `fence_tool` while fenced is not running: `history` reads the history file itself and
//! says so; the other commands say how to go on. No fenced, no root needed.

use std::process::{Command, Output};

const HISTORY: &str = r#"{"id":1,"target":"web1","action":"on","origin":{"kind":"admin","name":"fenced start"},"joined":[],"attempts":[{"round":1,"level":0,"device":"fabric","action":"on","duration_ms":19,"error":null}],"outcome":{"kind":"unfenced"},"elapsed_ms":19,"requested_at":1796688372,"finished_at":1796688372}
{"id":2,"target":"web2","action":"off","origin":{"kind":"cluster","name":"hbd on web1"},"joined":[],"attempts":[{"round":1,"level":1,"device":"fabric","action":"off","duration_ms":97,"error":null}],"outcome":{"kind":"fenced"},"elapsed_ms":97,"requested_at":1796688379,"finished_at":1796688379}
{"id":3,"target":"web2","action":"off","origin":{"kind":"cluster","name":"hbd on web1"},"joined":[],"att
{"id":4,"target":"web2","action":"off","origin":{"kind":"cluster","name":"hbd on web1"},"joined":[],"attempts":[],"outcome":{"kind":"cancelled","detail":"the node rejoined the cluster before it was fenced"},"elapsed_ms":0,"requested_at":1796688420,"finished_at":1796688420}
"#;

fn fence_tool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fence_tool"))
        .args(args)
        .output()
        .expect("fence_tool runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn history_is_read_from_the_file_while_fenced_is_down() {
    let dir = tempfile::tempdir().expect("tmp");
    let socket = dir.path().join("fenced.sock");
    let history = dir.path().join("fence-history.jsonl");
    std::fs::write(&history, HISTORY).expect("history");
    let (socket, history) = (
        socket.to_str().expect("utf-8"),
        history.to_str().expect("utf-8"),
    );

    let out = fence_tool(&[
        "--socket",
        socket,
        "--history-file",
        history,
        "history",
        "web2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is fenced running?"), "{stderr}");
    assert!(
        stderr.contains(&format!("Reading the history file {history}")),
        "{stderr}"
    );
    assert!(stderr.contains(":3: a damaged line, skipped"), "{stderr}");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("#2 ") && stdout.contains("#4 "), "{stdout}");
    assert!(
        !stdout.contains("#1 "),
        "web1's record is left out: {stdout}"
    );

    let out = fence_tool(&[
        "--socket",
        socket,
        "--history-file",
        history,
        "history",
        "--limit",
        "1",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let records = v["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{v}");
    assert_eq!(records[0]["id"], 4);

    // A cluster file that cannot be read: the default place, and a note saying why.
    let out = fence_tool(&[
        "--socket",
        socket,
        "--cluster-file",
        "/nonexistent/cluster.toml",
        "history",
    ]);
    assert!(
        text(&out.stderr).contains("the cluster file could not be read"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn other_commands_say_how_to_go_on_without_fenced() {
    let dir = tempfile::tempdir().expect("tmp");
    let socket = dir.path().join("fenced.sock");
    let out = fence_tool(&["--socket", socket.to_str().expect("utf-8"), "ls"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is fenced running"), "{stderr}");
    assert!(stderr.contains("fence_node NODE"), "{stderr}");
}
