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
mcast eth0 225.0.0.1 694 1 0
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
    dir
}

fn check(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hbd"))
        .arg("--check")
        .arg(dir)
        .args(extra)
        .output()
        .expect("run hbd")
}

#[test]
fn check_prints_effective_settings_with_masked_secrets_and_exits_0() {
    let dir = setup(CLASSIC, 0o600);
    let out = check(dir.path(), &["--node", "web1.example.com"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
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
    assert_eq!(check(dir.path(), &[]).status.code(), Some(0));
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
