//! `hbd --check` end to end.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const SECRET: &str = "NeverPrintThisKey";

const CLASSIC: &str = "\
logfile /var/log/ha-log
keepalive 1000ms
deadtime 8
warntime 10
udpport 694
mcast lo 225.0.0.1 694 1 0
auto_failback on
node web1.example.com
node web2.example.com
ping 192.168.8.254
compression bz2
compression_threshold 2
";

fn setup(hacf: &str, key_mode: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("ha.cf"), hacf).expect("ha.cf");
    let keys = d.join("authkeys");
    std::fs::write(&keys, format!("auth 1\n1 sha1 {SECRET}\n")).expect("authkeys");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(key_mode)).expect("chmod");
    std::fs::write(
        d.join("haresources"),
        "web1.example.com 192.168.8.100/24/eth0 apache\n",
    )
    .expect("haresources");
    // The resource agent `apache`, so the whole-setup check finds it.
    std::fs::create_dir(d.join("resource.d")).expect("resource.d");
    std::fs::create_dir(d.join("init.d")).expect("init.d");
    let apache = d.join("init.d").join("apache");
    std::fs::write(&apache, "#!/bin/sh\nexit 0\n").expect("apache");
    std::fs::set_permissions(&apache, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// `hbd --check DIR`, with this test's agent directories and cluster file (none unless
/// written), never the machine's.
fn check(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hbd"))
        .arg("--check")
        .arg(dir)
        .arg("--resource-dir")
        .arg(dir.join("resource.d"))
        .arg("--init-dir")
        .arg(dir.join("init.d"))
        .arg("--cluster-file")
        .arg(dir.join("cluster.toml"))
        .args(extra)
        .output()
        .expect("run hbd")
}

#[test]
fn check_prints_effective_settings_with_masked_secrets_and_warns_of_the_setup() {
    let dir = setup(CLASSIC, 0o600);
    let out = check(dir.path(), &["--node", "web1.example.com"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Valid files, but as started it could never fail over: warnings, exit 3.
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stderr.contains("warning: no fencing"), "{stderr}");
    assert!(
        stderr.contains("warning: two nodes and no tie-breaker"),
        "{stderr}"
    );
    assert!(stdout.contains("0 error(s), 2 warning(s)"), "{stdout}");
    assert!(stdout.contains("1 sha1 ***"), "{stdout}");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
    assert!(stdout.contains("initdead 16\t# default"), "{stdout}");
    assert!(stdout.contains("keepalive 1\n"), "{stdout}");
    assert!(stdout.contains("web1.example.com 192.168.8.100/24/eth0 apache"));
    assert!(
        stderr.contains("ha.cf:4: warning: warntime 10 is not below deadtime 8"),
        "{stderr}"
    );
}

#[test]
fn check_reports_every_error_with_file_and_line_and_exits_1() {
    let broken = CLASSIC
        .replace("keepalive 1000ms", "keepalive 2s")
        .replace("compression bz2", "compresion bz2");
    let dir = setup(&broken, 0o644);
    let out = check(dir.path(), &["--node", "web1.example.com"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let hacf = dir.path().join("ha.cf");
    let keys = dir.path().join("authkeys");
    assert!(
        stderr.contains(&format!("{}:2: `2s` is not a valid time", hacf.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}:11: unknown directive `compresion`",
            hacf.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}: bad permissions 0644", keys.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("chmod 600 {}", keys.display())),
        "{stderr}"
    );
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
}

#[test]
fn check_refuses_a_node_list_without_the_local_node() {
    let dir = setup(CLASSIC, 0o600);
    let out = check(dir.path(), &["--node", "db3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("ha.cf:8: this node `db3` is not in the node list; add `node db3`"),
        "{stderr}"
    );
}

#[test]
fn nodeinfo_names_the_local_node() {
    let dir = setup(CLASSIC, 0o600);
    std::fs::write(dir.path().join("nodeinfo"), "web2.example.com\n").expect("nodeinfo");
    assert_eq!(
        check(dir.path(), &[]).status.code(),
        Some(3),
        "valid, with warnings"
    );
}

#[test]
fn running_refuses_an_invalid_configuration_before_starting_anything() {
    let dir = setup(CLASSIC, 0o644);
    let out = Command::new(env!("CARGO_BIN_EXE_hbd"))
        .arg(dir.path())
        .args(["--node", "web1.example.com", "--self-fence", "kill-cgroup"])
        .output()
        .expect("run hbd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("authkeys"), "{stderr}");
    let help = Command::new(env!("CARGO_BIN_EXE_hbd"))
        .arg("--help")
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--check") && help.contains("--fenced-socket"),
        "{help}"
    );
}

/// A cluster file for the two nodes, fence devices of the given agents.
fn cluster_file(dir: &Path, nodes: &[&str], agent: &str, extra: &str) {
    let mut text = format!(
        "[cluster]\nname = \"web\"\ndeadtime = \"8s\"\n\n[[fence_device]]\nname = \"pdu\"\nagent = \"{agent}\"\n\n"
    );
    for (i, n) in nodes.iter().enumerate() {
        text.push_str(&format!(
            "[[node]]\nname = \"{n}\"\nid = {}\n[[node.fence]]\ndevices = [{{ device = \"pdu\", port = \"{}\" }}]\n\n",
            i + 1,
            i + 1
        ));
    }
    text.push_str(extra);
    std::fs::write(dir.join("cluster.toml"), text).expect("cluster.toml");
}

#[test]
fn a_whole_setup_that_can_fail_over_is_clean() {
    let dir = setup(CLASSIC, 0o600);
    cluster_file(
        dir.path(),
        &["web1.example.com", "web2.example.com"],
        "/bin/true",
        "",
    );
    let out = check(
        dir.path(),
        &[
            "--node",
            "web1.example.com",
            "--fenced-socket",
            "/run/fenced/fenced.sock",
            "--ping-votes",
            "1",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("0 error(s), 0 warning(s)"), "{stdout}");
}

#[test]
fn the_whole_setup_check_names_each_problem_with_its_fix() {
    let hacf = CLASSIC.replace("mcast lo ", "mcast qlabnosuch0 ");
    let dir = setup(&hacf, 0o600);
    std::fs::write(
        dir.path().join("haresources"),
        "web1.example.com 192.168.8.100/24/eth0 apache nosuchagent\n",
    )
    .expect("haresources");
    cluster_file(
        dir.path(),
        &["web1.example.com", "web3.example.com"],
        "/bin/false",
        "[quorumd]\nlabel = \"q\"\ninterval = \"1s\"\ntko = 10\n",
    );
    // qdiskd's own check passes against the cluster file's 30 s; hbd's deadtime is 8 s.
    let file = dir.path().join("cluster.toml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        text.replace("deadtime = \"8s\"", "deadtime = \"30s\""),
    )
    .expect("write");
    let out = check(
        dir.path(),
        &[
            "--node",
            "web1.example.com",
            "--fenced-socket",
            "/run/fenced/fenced.sock",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for want in [
        "error: node web2.example.com is in ha.cf but not in",
        "error: node web3.example.com is in",
        "error: fence device pdu (/bin/false validate-all for",
        "error: ha.cf names interface qlabnosuch0",
        "nosuchagent",
        "install the resource agent",
        "error: the quorum disk timing does not fit hbd's deadtime: quorum disk timings are too slow for the membership timeout 8 s",
        "warning: qdiskd checks its timing against the membership timeout 30 s",
        "node web2.example.com has no fence level",
        "the cluster file has a quorum disk, but hbd is not given --qdisk-socket",
    ] {
        assert!(stderr.contains(want), "{want}:\n{stderr}");
    }
    // A fence agent that is not installed.
    cluster_file(
        dir.path(),
        &["web1.example.com", "web2.example.com"],
        "fence_qlab_not_installed",
        "",
    );
    let out = check(
        dir.path(),
        &["--node", "web1.example.com", "--fenced-socket", "/x"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "error: fence device pdu: the agent fence_qlab_not_installed is not installed"
        ),
        "{stderr}"
    );
}
