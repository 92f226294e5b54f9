//! Resource agents run for real: heartbeat-style `resource.d` scripts, LSB init scripts and
//! heartbeat's `OCF::TYPE::INSTANCE` form, from temporary directories; timeouts that kill a
//! whole process group; groups started and stopped through real scripts.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hbd::agents::{AgentConfig, Agents, GroupOutcome, Op, Outcome, Timeouts};
use hbd::config::haresources::parse_resource;
use hbd::config::Resource;

/// One test at a time writes scripts and runs agents. A script is written through a file
/// descriptor; a fork in another thread while it is open (a parallel test starting its
/// agent) gives the child a copy until it execs, and exec of the script then fails with
/// ETXTBSY ("Text file busy"). Held by [`Dirs`] for the whole test, so no fork happens
/// while a script is open for writing.
static SCRIPTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Dirs {
    tmp: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

impl Dirs {
    fn new() -> Dirs {
        let serial = SCRIPTS.lock().unwrap_or_else(|p| p.into_inner());
        let tmp = tempfile::tempdir().expect("tempdir");
        for d in ["resource.d", "init.d", "state"] {
            fs::create_dir(tmp.path().join(d)).expect("mkdir");
        }
        Dirs {
            tmp,
            _serial: serial,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn script(&self, rel: &str, body: &str) {
        let p = self.path(rel);
        fs::write(
            &p,
            format!("#!/bin/sh\nSTATE={}\n{body}", self.path("state").display()),
        )
        .expect("write script");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    fn config(&self) -> AgentConfig {
        AgentConfig {
            resource_dir: self.path("resource.d"),
            init_dir: self.path("init.d"),
            ha_dir: self.path("ha.d"),
            stop_retries: 2,
            stop_retry_interval: Duration::from_millis(20),
            ..AgentConfig::default()
        }
    }

    fn agents(&self) -> Agents {
        Agents::new(self.config())
    }
}

fn res(token: &str) -> Resource {
    parse_resource(token).expect("resource token")
}

/// A heartbeat-style script: state in a file, status printed as text, exit codes that
/// contradict the text (heartbeat ignores them).
const HEARTBEAT_SCRIPT: &str = r#"
name=$(basename "$0")
op=$(eval echo \${$#})
echo "$*" >> "$STATE/$name.calls"
case "$op" in
  start) touch "$STATE/$name.on" ;;
  stop) rm -f "$STATE/$name.on" ;;
  status) if [ -e "$STATE/$name.on" ]; then echo "$name Running OK"; exit 3
          else echo "$name is not running"; exit 0; fi ;;
esac
exit 0
"#;

#[test]
fn heartbeat_style_script_status_is_judged_by_its_output() {
    let d = Dirs::new();
    d.script("resource.d/websvc", HEARTBEAT_SCRIPT);
    let a = d.agents();
    let r = res("websvc::one::two");
    assert!(matches!(
        a.resolve(&r),
        Ok(hbd::agents::Agent::Heartbeat { .. })
    ));
    assert_eq!(a.status(&r), Outcome::Stopped);
    assert_eq!(a.run(&r, Op::Start), Outcome::Running);
    assert_eq!(
        a.status(&r),
        Outcome::Running,
        "exit 3 ignored, text says running"
    );
    assert_eq!(a.run(&r, Op::Stop), Outcome::Stopped);
    assert_eq!(
        a.status(&r),
        Outcome::Stopped,
        "exit 0 ignored, text says not running"
    );
    let calls = fs::read_to_string(d.path("state/websvc.calls")).expect("calls");
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        [
            "one two status",
            "one two start",
            "one two status",
            "one two stop",
            "one two status"
        ]
    );
}

#[test]
fn resource_d_comes_before_init_d_and_init_d_uses_lsb_exit_codes() {
    let d = Dirs::new();
    d.script("resource.d/both", HEARTBEAT_SCRIPT);
    d.script("init.d/both", "exit 1\n");
    // An LSB script whose output says "running" but whose exit code says stopped.
    d.script(
        "init.d/lsbsvc",
        r#"case "$1" in
  start) touch "$STATE/lsb.on" ;;
  stop) rm -f "$STATE/lsb.on" ;;
  status) echo "lsbsvc is running?"; [ -e "$STATE/lsb.on" ] && exit 0; exit 3 ;;
esac
exit 0
"#,
    );
    let a = d.agents();
    assert!(matches!(
        a.resolve(&res("both")),
        Ok(hbd::agents::Agent::Heartbeat { .. })
    ));
    assert_eq!(a.run(&res("both"), Op::Start), Outcome::Running);
    let r = res("lsbsvc");
    assert!(matches!(a.resolve(&r), Ok(hbd::agents::Agent::Lsb { .. })));
    assert_eq!(a.status(&r), Outcome::Stopped);
    assert_eq!(a.run(&r, Op::Start), Outcome::Running);
    assert_eq!(a.status(&r), Outcome::Running);
    assert_eq!(a.run(&r, Op::Stop), Outcome::Stopped);
    assert_eq!(a.status(&r), Outcome::Stopped);
}

#[test]
fn missing_or_non_executable_scripts_are_not_installed_and_failures_carry_stderr() {
    let d = Dirs::new();
    fs::write(d.path("resource.d/plain"), "#!/bin/sh\nexit 0\n").expect("write");
    d.script("init.d/lsbfive", "exit 5\n");
    d.script("init.d/lsbsix", "exit 6\n");
    d.script(
        "resource.d/broken",
        "echo first >&2\necho 'disk on fire' >&2\nexit 4\n",
    );
    let a = d.agents();
    assert!(matches!(
        a.run(&res("nosuch"), Op::Start),
        Outcome::NotInstalled { .. }
    ));
    assert!(matches!(
        a.run(&res("plain"), Op::Start),
        Outcome::NotInstalled { .. }
    ));
    assert!(matches!(
        a.run(&res("lsbfive"), Op::Start),
        Outcome::NotInstalled { .. }
    ));
    assert!(matches!(
        a.run(&res("lsbsix"), Op::Start),
        Outcome::ConfigError { .. }
    ));
    assert_eq!(
        a.run(&res("broken"), Op::Start),
        Outcome::Failed {
            code: 4,
            stderr: "first\ndisk on fire".into()
        }
    );
    assert!(matches!(
        a.run(&res("ocf:heartbeat"), Op::Start),
        Outcome::ConfigError { .. }
    ));
    assert!(matches!(
        a.run(&res("ocf:heartbeat:NoSuchAgentHere"), Op::Start),
        Outcome::NotInstalled { .. }
    ));
    assert!(matches!(
        a.run(&res("ocf:heartbeat:Dummy::a b"), Op::Start),
        Outcome::ConfigError { .. }
    ));
}

/// Whether `pid` is gone (absent, or a zombie waiting for init).
fn is_dead(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn wait_dead(pids: &[u32]) -> Vec<u32> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let alive: Vec<u32> = pids.iter().copied().filter(|p| !is_dead(*p)).collect();
        if alive.is_empty() || Instant::now() > until {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_pids(p: &Path) -> Vec<u32> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

#[test]
fn timeout_kills_the_whole_process_group_and_leaves_no_process() {
    let d = Dirs::new();
    // The script, a child and a grandchild all hang; each records its pid.
    d.script(
        "resource.d/hang",
        r#"echo $$ >> "$STATE/pids"
sleep 300 & echo $! >> "$STATE/pids"
sh -c 'sleep 300 & echo $! >> "$0/pids"; echo $$ >> "$0/pids"; wait' "$STATE" &
sleep 300
"#,
    );
    let mut cfg = d.config();
    cfg.timeouts = Timeouts {
        start: Duration::from_millis(700),
        ..Timeouts::default()
    };
    let a = Agents::new(cfg);
    let out = a.run(&res("hang"), Op::Start);
    assert!(
        matches!(out, Outcome::TimedOut { after } if after >= Duration::from_millis(700)),
        "{out:?}"
    );
    let pids = read_pids(&d.path("state/pids"));
    assert_eq!(pids.len(), 4, "script, sleep, sh, its sleep: {pids:?}");
    assert_eq!(wait_dead(&pids), Vec::<u32>::new(), "left behind");
}

#[test]
fn a_daemon_left_by_a_successful_start_is_not_killed_nor_waited_for() {
    let d = Dirs::new();
    // The daemon keeps stdout and stderr open; start must still return at once.
    d.script(
        "resource.d/daemon",
        r#"case "$1" in
  start) (while :; do echo tick; sleep 0.05; done) & echo $! > "$STATE/daemon.pid"; echo started ;;
  stop) [ -e "$STATE/daemon.pid" ] && kill $(cat "$STATE/daemon.pid"); rm -f "$STATE/daemon.pid" ;;
  status) [ -e "$STATE/daemon.pid" ] && kill -0 $(cat "$STATE/daemon.pid") && echo running ;;
esac
exit 0
"#,
    );
    let a = d.agents();
    let r = res("daemon");
    assert_eq!(a.run(&r, Op::Start), Outcome::Running);
    let pid = read_pids(&d.path("state/daemon.pid"));
    assert_eq!(pid.len(), 1);
    // It keeps writing to the stdout it inherited: it must not die of SIGPIPE.
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        !is_dead(pid[0]),
        "the service must survive its start script"
    );
    assert_eq!(a.status(&r), Outcome::Running);
    assert_eq!(a.run(&r, Op::Stop), Outcome::Stopped);
    assert_eq!(wait_dead(&pid), Vec::<u32>::new());
    assert_eq!(a.status(&r), Outcome::Stopped);
}

#[test]
fn group_start_failure_stops_the_group_and_a_stuck_stop_asks_for_fencing() {
    let d = Dirs::new();
    d.script("resource.d/first", HEARTBEAT_SCRIPT);
    d.script("resource.d/second", HEARTBEAT_SCRIPT);
    d.script(
        "resource.d/bad",
        "case \"$1\" in start) echo 'no config' >&2; exit 1;; status) echo stopped;; esac\nexit 0\n",
    );
    let a = d.agents();
    let group = [res("first"), res("second"), res("bad")];
    let report = a.start_group(&group);
    assert!(
        matches!(&report.outcome, GroupOutcome::StartFailed { index: 2, outcome: Outcome::Failed { code: 1, stderr } } if stderr == "no config"),
        "{report:?}"
    );
    assert!(!d.path("state/first.on").exists());
    assert!(!d.path("state/second.on").exists());

    let good = [res("first"), res("second")];
    assert_eq!(
        a.start_group(&good).outcome,
        GroupOutcome::Started { skipped: vec![] }
    );
    assert_eq!(a.monitor_group(&good).held(), hbd::agents::Held::All);
    assert_eq!(
        a.start_group(&good).outcome,
        GroupOutcome::Started {
            skipped: vec![0, 1]
        }
    );
    assert_eq!(a.stop_group(&good).outcome, GroupOutcome::Stopped);
    assert_eq!(a.monitor_group(&good).held(), hbd::agents::Held::None);

    // A stop that always fails while status says running: retried, then fencing.
    d.script(
        "resource.d/stuck",
        "echo \"$1\" >> \"$STATE/stuck.calls\"\ncase \"$1\" in stop) exit 1;; status) echo running;; esac\nexit 0\n",
    );
    let report = a.stop_group(&[res("first"), res("stuck")]);
    assert!(report.outcome.needs_fencing(), "{report:?}");
    let calls = fs::read_to_string(d.path("state/stuck.calls")).expect("calls");
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        ["stop", "stop", "stop", "status"]
    );
}

#[test]
fn heartbeat_ocf_form_reads_the_instance_file() {
    let d = Dirs::new();
    let conf = d.path("ha.d/conf/OCF/Dummy");
    fs::create_dir_all(&conf).expect("mkdir");
    let state = d.path("state/dummy-web.state");
    fs::write(
        conf.join("web"),
        format!("# test instance\nstate={}\n", state.display()),
    )
    .expect("write");
    let a = d.agents();
    let r = res("OCF::Dummy::web");
    let agent = a.resolve(&r);
    let Ok(hbd::agents::Agent::Ocf(ocf)) = agent else {
        panic!("not an OCF agent: {agent:?} (is resource-agents installed?)");
    };
    assert_eq!(ocf.instance, "web");
    assert_eq!(a.status(&r), Outcome::Stopped);
    assert_eq!(a.run(&r, Op::Start), Outcome::Running);
    assert!(
        state.exists(),
        "Dummy wrote its state file where the instance file says"
    );
    assert_eq!(a.status(&r), Outcome::Running);
    assert_eq!(a.run(&r, Op::Stop), Outcome::Stopped);
    assert!(!state.exists());
    assert!(matches!(
        a.status(&res("OCF::Dummy::nosuchinstance")),
        Outcome::ConfigError { .. }
    ));
}

/// The operation ledger for real: while a `stop` runs, the ledger names its process; a
/// successor (as a restarted hbd's resource worker does first) waits until the stop has
/// ended, so a probe after it sees the resource stopped, never half done; the ledger is
/// gone once the agent is reaped.
#[test]
fn a_successor_waits_for_a_stop_its_predecessor_left_running() {
    use hbd::agents::ledger::{OpLedger, Predecessor, LEDGER_FILE};
    let d = Dirs::new();
    d.script(
        "resource.d/slowsvc",
        r#"
case "$1" in
  start) touch "$STATE/on" ;;
  stop) cp "$STATE/../agent-op" "$STATE/ledger-seen"; sleep 0.6; rm -f "$STATE/on" ;;
  status) if [ -e "$STATE/on" ]; then echo "running"; else echo "stopped"; fi ;;
esac
exit 0
"#,
    );
    let mut cfg = d.config();
    cfg.op_ledger = Some(d.path(LEDGER_FILE));
    let a = Agents::new(cfg);
    let r = res("slowsvc");
    assert_eq!(a.run(&r, Op::Start), Outcome::Running);
    assert!(!d.path(LEDGER_FILE).exists(), "cleared after the start");
    let stopper = {
        let a = a.clone();
        let r = r.clone();
        std::thread::spawn(move || a.run(&r, Op::Stop))
    };
    let ledger = OpLedger::new(d.path(LEDGER_FILE));
    let began = Instant::now();
    while !d.path("state/ledger-seen").exists() {
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "the stop never ran"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let seen = fs::read_to_string(d.path("state/ledger-seen")).expect("ledger copy");
    assert!(seen.ends_with("slowsvc stop\n"), "{seen:?}");
    match ledger.wait_for_predecessor(Duration::from_millis(10)) {
        Predecessor::Finished(e, _) => assert_eq!(e.what, "slowsvc stop"),
        other => panic!("{other:?}"),
    }
    assert_eq!(a.status(&r), Outcome::Stopped, "the probe after the wait");
    assert_eq!(stopper.join().expect("stopper"), Outcome::Stopped);
    assert!(!d.path(LEDGER_FILE).exists());
}
