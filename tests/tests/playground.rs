//! The playground end to end, as an administrator's script drives it: the real `lab` binary
//! runs `lab cluster up` in the background, the test reads the state file it writes, runs
//! programs inside the nodes through each node's `exec`, injects faults with
//! `lab cluster fault`, and ends the cluster with `lab cluster down` or SIGTERM; nothing of
//! the lab may be left afterwards. Needs root.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use lab::root::require_root;
use serde_json::Value;

/// The `lab` binary under test.
const LAB: &str = env!("CARGO_BIN_EXE_lab");

/// How long `up` may take to write its state file (the floating IP serving), on a loaded
/// machine.
const UP_WITHIN: Duration = Duration::from_secs(120);

/// One cluster at a time: two at once overload a two-core machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// The directory of the workspace's binaries: `lab`'s own (where cargo puts every package's
/// binaries). The cluster's binaries of the other packages are (re)built there first, as the
/// tools' lab tests do, so `cargo test -p lab` finds them too and they are never stale.
fn bins() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = Path::new(LAB).parent().expect("target dir").to_path_buf();
        let start = Instant::now();
        for (package, bins) in [
            ("hbd", &["hbd"][..]),
            ("fenced", &["fenced"][..]),
            ("qdisk", &["qdiskd"][..]),
            (
                "tools",
                &[
                    "mkqdisk",
                    "hbctl",
                    "fence_tool",
                    "fence_qd_ipmilan",
                    "fence_qd_ifmib",
                ][..],
            ),
        ] {
            let mut build = Command::new(env!("CARGO"));
            build.args(["build", "-q", "--locked", "-p", package]);
            for bin in bins {
                build.args(["--bin", bin]);
            }
            if dir.ends_with("release") {
                build.arg("--release");
            }
            let status = build.status().expect("cargo build");
            assert!(status.success(), "cargo build -p {package} {bins:?} failed");
            for bin in bins {
                assert!(dir.join(bin).exists(), "{} was not built", bin);
            }
        }
        eprintln!(
            "the cluster's binaries checked or built in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        dir
    })
}

/// The `lab cluster up` process this test started (its PID and nothing else is ever
/// signalled). Dropped while it still runs (a failed assertion), it is sent SIGTERM and
/// waited for, so the cluster is torn down; SIGKILL only if it hangs.
struct Holder {
    child: Child,
    state: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
    status: Option<ExitStatus>,
}

impl Holder {
    /// Starts `lab cluster up --state STATE --bins BINS ARGS...` with its output in files
    /// under `dir`. `--hold 300` bounds its life should this test be killed outright.
    fn spawn(dir: &Path, state: &Path, args: &[&str]) -> Holder {
        let stdout = dir.join("up.stdout");
        let stderr = dir.join("up.stderr");
        let child = Command::new(LAB)
            .args(["cluster", "up", "--state"])
            .arg(state)
            .arg("--bins")
            .arg(bins())
            .args(["--hold", "300"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).expect("stdout file"))
            .stderr(File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawn lab cluster up");
        Holder {
            child,
            state: state.to_path_buf(),
            stdout,
            stderr,
            status: None,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it printed so far, for assertions and failure messages.
    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn output(&self) -> String {
        format!(
            "`lab cluster up` stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// Its exit status once it has exited (reaping it: `lab cluster down` waits for the PID
    /// to be gone, which a zombie never is).
    fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// The state file, parsed as JSON, once `up` has written it.
    fn wait_state(&mut self) -> Value {
        let start = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.state) {
                match serde_json::from_str(&text) {
                    Ok(json) => return json,
                    Err(e) => panic!(
                        "{}: not JSON ({e}):\n{text}\n{}",
                        self.state.display(),
                        self.output()
                    ),
                }
            }
            if let Some(status) = self.try_wait() {
                panic!(
                    "`lab cluster up` ended ({status}) without a state file\n{}",
                    self.output()
                );
            }
            assert!(
                start.elapsed() < UP_WITHIN,
                "no state file after {UP_WITHIN:?}\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for it to exit; its status.
    fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_wait() {
                return status;
            }
            assert!(
                start.elapsed() < within,
                "`lab cluster up` still runs {within:?} later\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).expect("pid");
        let _ = rustix::process::kill_process(pid, signal);
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if self.try_wait().is_some() {
            return;
        }
        eprintln!(
            "tearing down the cluster of `lab cluster up` (PID {}) with SIGTERM",
            self.pid()
        );
        self.signal(rustix::process::Signal::TERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(90) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("`lab cluster up` (PID {}) hangs: SIGKILL", self.pid());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `lab ARGS...` to the end.
fn lab(args: &[&str]) -> Output {
    Command::new(LAB)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run lab")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `lab cluster fault --state STATE WORDS...`.
fn fault(state: &Path, words: &[&str]) -> Output {
    let state = state.to_str().expect("utf-8 path");
    let mut args = vec!["cluster", "fault", "--state", state];
    args.extend_from_slice(words);
    lab(&args)
}

/// The node's `exec` from the state file.
fn exec_of(node: &Value) -> Vec<String> {
    node["exec"]
        .as_array()
        .unwrap_or_else(|| panic!("no exec list in {node}"))
        .iter()
        .map(|w| w.as_str().expect("exec words are strings").to_string())
        .collect()
}

/// Runs `command` inside a node: its `exec` with the command appended, as a script does.
fn in_node(node: &Value, command: &[&str]) -> Output {
    let exec = exec_of(node);
    Command::new(&exec[0])
        .args(&exec[1..])
        .args(command)
        .stdin(Stdio::null())
        .output()
        .expect("run through exec")
}

/// The page at the floating IP as the client gets it.
fn page(state: &Value) -> String {
    let vip = state["vip"].as_str().expect("vip");
    let url = format!("http://{vip}/");
    let out = in_node(
        &state["client"],
        &["curl", "-s", "--max-time", "3", url.as_str()],
    );
    text(&out.stdout).trim().to_string()
}

/// The lab's network namespaces still on the machine (`ip netns list`).
fn namespaces_of(lab_id: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let prefix = format!("{lab_id}-");
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name == lab_id || name.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

/// Nothing of the lab is left: no state file, no namespace, no other lab object.
fn assert_gone(holder: &Holder, lab_id: &str) {
    assert!(
        !holder.state.exists(),
        "the state file {} is still there\n{}",
        holder.state.display(),
        holder.output()
    );
    assert_eq!(
        namespaces_of(lab_id),
        Vec::<String>::new(),
        "namespaces of lab {lab_id} left\n{}",
        holder.output()
    );
    let left: Vec<String> = lab::sweep::leftovers_of(lab_id)
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert!(left.is_empty(), "lab {lab_id} left:\n{}", left.join("\n"));
    assert!(
        holder.stdout().contains("the cluster is gone"),
        "{}",
        holder.output()
    );
}

fn field<'a>(json: &'a Value, key: &str, what: &str) -> &'a Value {
    let v = &json[key];
    assert!(!v.is_null(), "{what}.{key} is missing in\n{json:#}");
    v
}

#[test]
fn up_serves_faults_act_and_down_removes_everything() {
    require_root("up_serves_faults_act_and_down_removes_everything");
    let _one = one_at_a_time();
    bins();
    let dir = tempfile::tempdir().expect("tempdir");
    let state_path = dir.path().join("cluster.json");
    let started = Instant::now();
    let mut holder = Holder::spawn(dir.path(), &state_path, &[]);
    let state = holder.wait_state();
    eprintln!("state file after {:.1} s", started.elapsed().as_secs_f64());

    // The contract: the floating IP, every node's identity and the way into it.
    let lab_id = field(&state, "lab", "state").as_str().expect("lab id");
    assert!(lab_id.starts_with(lab::unique::PREFIX), "{state:#}");
    assert_eq!(state["pid"], holder.pid(), "{state:#}");
    let vip = field(&state, "vip", "state").as_str().expect("vip string");
    assert!(vip.parse::<std::net::Ipv4Addr>().is_ok(), "vip {vip}");
    let options = field(&state, "options", "state");
    assert_eq!(options["nodes"], 2, "{state:#}");
    assert_eq!(options["stack"], "ours", "{state:#}");
    assert_eq!(options["qdisk"], true, "{state:#}");
    assert_eq!(options["fencing"], "ipmi", "{state:#}");
    assert_eq!(options["timing"], "demo", "{state:#}");
    let nodes = field(&state, "nodes", "state")
        .as_array()
        .expect("nodes list");
    let names: Vec<&str> = nodes.iter().filter_map(|n| n["name"].as_str()).collect();
    assert_eq!(names, ["web1", "web2"], "{state:#}");
    for (i, node) in nodes.iter().enumerate() {
        let what = format!("nodes[{i}]");
        for key in ["name", "netns", "cgroup", "addrs", "bmc", "exec"] {
            field(node, key, &what);
        }
        let netns = node["netns"].as_str().expect("netns");
        assert!(
            namespaces_of(lab_id).iter().any(|n| n == netns),
            "{what}.netns {netns} is not in `ip netns list`"
        );
        assert!(
            Path::new(node["cgroup"].as_str().expect("cgroup")).is_dir(),
            "{what}.cgroup"
        );
        assert!(
            node["addrs"].as_object().is_some_and(|a| !a.is_empty()),
            "{what}.addrs"
        );
        assert!(!exec_of(node).is_empty(), "{what}.exec");
    }
    let client = field(&state, "client", "state");
    for key in ["netns", "exec"] {
        field(client, key, "client");
    }
    let out = holder.stdout();
    for needle in [
        lab_id,
        "serving from web1",
        "state file:",
        "lab cluster down --state",
    ] {
        assert!(out.contains(needle), "`up` did not print {needle:?}\n{out}");
    }

    // A script's view: the page through the client, the tools inside a node.
    assert_eq!(page(&state), "served by web1", "{}", holder.output());
    let hbctl = bins().join("hbctl");
    let status = in_node(&nodes[0], &[hbctl.to_str().expect("utf-8 path"), "status"]);
    let said = text(&status.stdout);
    assert!(
        status.status.success() && said.contains("web1") && said.contains("web2"),
        "hbctl status through nodes[0].exec: {}\n{said}{}",
        status.status,
        text(&status.stderr)
    );

    // A crash: said what it did, and web2 serves.
    let crash = fault(&state_path, &["crash", "web1"]);
    assert!(
        crash.status.success() && text(&crash.stdout).contains("crashed web1"),
        "fault crash web1: {}\n{}{}",
        crash.status,
        text(&crash.stdout),
        text(&crash.stderr)
    );
    let crashed = Instant::now();
    let mut last = String::new();
    while last != "served by web2" {
        assert!(
            crashed.elapsed() < Duration::from_secs(30),
            "no page from web2 30 s after the crash of web1 (last: {last:?})\n{}",
            holder.output()
        );
        std::thread::sleep(Duration::from_millis(200));
        last = page(&state);
    }
    eprintln!(
        "web2 serves {:.1} s after the crash",
        crashed.elapsed().as_secs_f64()
    );
    let on = fault(&state_path, &["power-on", "web1"]);
    assert!(
        on.status.success() && text(&on.stdout).contains("powered on web1"),
        "fault power-on web1: {}\n{}{}",
        on.status,
        text(&on.stdout),
        text(&on.stderr)
    );

    // Mistakes are refused with a clear word, and nothing is done.
    let unknown = fault(&state_path, &["explode", "web1"]);
    let err = text(&unknown.stderr);
    assert!(
        !unknown.status.success()
            && err.contains("unknown fault \"explode\"")
            && err.contains("crash"),
        "fault explode: {}\n{err}",
        unknown.status
    );
    let nobody = fault(&state_path, &["crash", "web9"]);
    let err = text(&nobody.stderr);
    assert!(
        !nobody.status.success() && err.contains("no node \"web9\"") && err.contains("web1, web2"),
        "fault crash web9: {}\n{err}",
        nobody.status
    );
    assert!(holder.try_wait().is_none(), "{}", holder.output());

    // Down: the holder ends, and the cluster with it.
    let mut down = Command::new(LAB)
        .args(["cluster", "down", "--state"])
        .arg(&state_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lab cluster down");
    let asked = Instant::now();
    while down.try_wait().expect("try_wait").is_none() {
        // Reaped as soon as it exits, so `down` sees its PID go.
        holder.try_wait();
        assert!(
            asked.elapsed() < Duration::from_secs(150),
            "`lab cluster down` hangs\n{}",
            holder.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let down = down.wait_with_output().expect("down output");
    assert!(
        down.status.success() && text(&down.stdout).contains("the cluster is down"),
        "lab cluster down: {}\n{}{}\n{}",
        down.status,
        text(&down.stdout),
        text(&down.stderr),
        holder.output()
    );
    let status = holder.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{status}\n{}", holder.output());
    assert_gone(&holder, lab_id);
    eprintln!("whole run {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn sigterm_tears_down_and_a_second_up_on_the_same_state_file_is_refused() {
    require_root("sigterm_tears_down_and_a_second_up_on_the_same_state_file_is_refused");
    let _one = one_at_a_time();
    bins();
    let dir = tempfile::tempdir().expect("tempdir");
    let state_path = dir.path().join("cluster.json");
    let started = Instant::now();
    let mut holder = Holder::spawn(
        dir.path(),
        &state_path,
        &["--timing", "fast", "--auto-failback", "off"],
    );
    let state = holder.wait_state();
    let lab_id = state["lab"].as_str().expect("lab id").to_string();
    assert_eq!(state["options"]["timing"], "fast", "{state:#}");
    assert_eq!(state["options"]["auto_failback"], "off", "{state:#}");
    assert!(
        !namespaces_of(&lab_id).is_empty(),
        "no namespace of {lab_id}"
    );

    // A second cluster on the same state file: refused at once, the first one untouched.
    let before = std::fs::read_to_string(&state_path).expect("state file");
    let second = Command::new(LAB)
        .args(["cluster", "up", "--state"])
        .arg(&state_path)
        .arg("--bins")
        .arg(bins())
        .args(["--hold", "1"])
        .stdin(Stdio::null())
        .output()
        .expect("second up");
    let err = text(&second.stderr);
    assert!(
        !second.status.success()
            && err.contains("a cluster is already up")
            && err.contains(&lab_id)
            && err.contains(&holder.pid().to_string())
            && err.contains("lab cluster down --state"),
        "second up: {}\n{}{err}",
        second.status,
        text(&second.stdout)
    );
    assert!(
        !text(&second.stdout).contains("building the cluster"),
        "the second up built something:\n{}",
        text(&second.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(&state_path).expect("state file still there"),
        before
    );
    assert!(holder.try_wait().is_none(), "{}", holder.output());

    // SIGTERM: the holder tears everything down and exits cleanly.
    holder.signal(rustix::process::Signal::TERM);
    let status = holder.wait_exit(Duration::from_secs(90));
    assert!(status.success(), "{status}\n{}", holder.output());
    assert_gone(&holder, &lab_id);
    eprintln!("whole run {:.1} s", started.elapsed().as_secs_f64());
}
