//! Time to fence through shared storage: `fence_qd_poison` against SBD's
//! `sbd -d DEV message NODE reset` (Debian's sbd 1.5.2), on the same lab disk, with the same
//! watchdog timeout and message wait, in one run, rounds alternating.
//!
//! The lab: nodes 1–3 run qdiskd (lab watchdogs, self-fence `kill-cgroup`); node 4 runs
//! `sbd watch` on its own region of the same image (a loop device per node at an offset of
//! each node's fault disk, so both go through the same FUSE path) with its lab watchdog.
//! Both senders run in the benchmark process (the host) through node 1's path.
//!
//! Settings (SBD's defaults, ours matched): SBD loop 1 s, watchdog 5 s, msgwait 10 s,
//! allocate 2 s; qdiskd interval 1 s, tko 8, watchdog_timeout 5 s, the agent's msgwait 10 s.
//!
//! Victims:
//! - **live**: the victim runs; ours returns when it acknowledged, SBD's after msgwait.
//! - **frozen**: the victim's processes are frozen (cgroup freezer): its watchdog resets it
//!   (the lab powers it off); both senders return after msgwait.
//!
//! Per round: sender start → sender's successful return, and sender start → the victim's
//! processes gone (its self-fence, or the watchdog's power-off).
//!
//! SBD runs in debug mode 2 (`-Z -Z`: a fence order makes it log, disarm and exit instead of
//! rebooting), without real-time scheduling (`-R`), without Pacemaker, and with
//! CAP_SYS_BOOT dropped from its bounding set (`setpriv`), in the node's namespaces and
//! cgroup; all of this is checked on its processes before any message is sent. This machine
//! has no /proc/sysrq-trigger. Every fence (and every freeze) starts after a random delay
//! of up to one second, so that it falls at any moment of the victim's 1 s cycle (the
//! victims' readiness checks would otherwise line the start up with their writes).
//! `BENCH_ROUNDS` (default 3), `BENCH_SEED` (default: from the clock; printed). Needs root.

#[path = "../tests/common/bins.rs"]
mod bins;
mod common;
#[path = "../tests/common/poison.rs"]
mod poison;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{env_or, median};
use lab::{Daemon, Node, Power};
use poison::{PoisonLab, QdiskSettings};
use rand::{Rng, SeedableRng};

const OURS: &str = env!("CARGO_BIN_EXE_fence_qd_poison");
const SBD: &str = "/usr/sbin/sbd";
const OUR_VICTIM: usize = 3;
const SBD_VICTIM: usize = 4;
const WATCHDOG_S: u64 = 5;
const MSGWAIT_S: u64 = 10;
/// Where SBD's region starts in the shared image (qdisk uses the first few KiB).
const SBD_OFFSET: u64 = 8 << 20;
const SBD_SIZE: u64 = 1 << 20;

/// Loop devices over each node's fault-disk file at [`SBD_OFFSET`]; detached on drop.
struct SbdDevices {
    devices: Vec<PathBuf>,
}

impl SbdDevices {
    fn attach(q: &PoisonLab) -> SbdDevices {
        let disk = q.lab.disk().expect("disk");
        let mut devices = Vec::new();
        for i in 1..=q.lab.nodes().len() {
            let node_dev = disk.device(i).expect("device").display().to_string();
            let back = run("losetup", &["-n", "-O", "BACK-FILE", &node_dev]);
            let dev = run(
                "losetup",
                &[
                    "--find",
                    "--show",
                    "--offset",
                    &SBD_OFFSET.to_string(),
                    "--sizelimit",
                    &SBD_SIZE.to_string(),
                    "--sector-size",
                    "512",
                    back.trim(),
                ],
            );
            devices.push(PathBuf::from(dev.trim()));
        }
        SbdDevices { devices }
    }

    fn of(&self, node: usize) -> &Path {
        &self.devices[node - 1]
    }
}

impl Drop for SbdDevices {
    fn drop(&mut self) {
        for d in &self.devices {
            let _ = Command::new("losetup").args(["--detach"]).arg(d).status();
        }
    }
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// `sbd watch` of node `i`, as a lab daemon (started now and at every power on).
fn sbd_daemon(devices: &SbdDevices, q: &PoisonLab, i: usize) -> Daemon {
    let dev = devices.of(i).display().to_string();
    let watchdog = q
        .lab
        .watchdog(i)
        .expect("watchdog")
        .path()
        .display()
        .to_string();
    let name = format!("node{i}");
    Daemon::new(
        "sbd",
        &[
            "setpriv",
            "--bounding-set",
            "-sys_boot",
            "env",
            "SBD_PACEMAKER=no",
            "SBD_SYNC_RESOURCE_STARTUP=no",
            "SBD_MOVE_TO_ROOT_CGROUP=no",
            "SBD_DELAY_START=no",
            "SBD_STARTMODE=always",
            SBD,
            "-d",
            &dev,
            "-w",
            &watchdog,
            "-Z",
            "-Z",
            "-R",
            "-n",
            &name,
            "watch",
        ],
    )
}

/// Waits until node `i` runs exactly SBD's inquisitor and watcher (its `watch` command
/// returned: the node is protected), then checks they cannot reboot this machine: debug
/// mode 2 on their command line, CAP_SYS_BOOT out of their bounding set, the node's own
/// network namespace, the node's cgroup. Panics (after killing them) if not.
fn wait_sbd_safe(node: &Node) {
    let started = Instant::now();
    loop {
        let pids = node.pids();
        let titles: Vec<String> = pids.iter().map(|p| cmdline(*p)).collect();
        if pids.len() == 2
            && titles.iter().any(|t| t.contains("inquisitor"))
            && titles.iter().any(|t| t.contains("watcher"))
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "sbd did not start on {}: {titles:?}",
            node.hostname()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let host_net = std::fs::read_link("/proc/self/ns/net").expect("own netns");
    for pid in node.pids() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let bounding = status
            .lines()
            .find_map(|l| l.strip_prefix("CapBnd:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok());
        let net = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok();
        // CAP_SYS_BOOT is capability 22.
        let safe = bounding.is_some_and(|b| b & (1 << 22) == 0)
            && net.as_ref().is_some_and(|n| *n != host_net);
        if !safe {
            let _ = node.kill_processes();
            panic!(
                "sbd pid {pid} on {} is not confined (CapBnd {bounding:x?}, net {net:?}): killed, benchmark aborted",
                node.hostname()
            );
        }
    }
    // The debug level is a command-line option of the daemon we started; check the
    // configured line rather than the rewritten process titles.
    let daemon = node
        .daemons()
        .into_iter()
        .find(|d| d.name == "sbd")
        .expect("sbd daemon");
    assert!(
        daemon.argv.windows(2).any(|w| w == ["-Z", "-Z"]),
        "{daemon:?}"
    );
    // Settle one loop past the start.
    std::thread::sleep(Duration::from_secs(1));
}

/// Samples of one kind.
#[derive(Default)]
struct Samples {
    returned: Vec<Duration>,
    gone: Vec<Duration>,
}

/// Records when `node` has no process left, from `t0`, polling every 2 ms until `stop`.
fn watch_gone(
    node_cgroup: PathBuf,
    t0: Instant,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Option<Duration>> {
    std::thread::spawn(move || {
        let events = node_cgroup.join("cgroup.events");
        while !stop.load(Ordering::Relaxed) {
            let text = std::fs::read_to_string(&events).unwrap_or_default();
            if text.lines().any(|l| l == "populated 0") {
                return Some(t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    })
}

/// One timed fence: `sender` runs from `t0`; returns (sender took, victim gone after).
fn timed(
    node: &Node,
    sender: impl FnOnce() -> (i32, String),
) -> (Duration, Option<Duration>, i32, String) {
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let watcher = watch_gone(node.cgroup().path().to_path_buf(), t0, Arc::clone(&stop));
    let (code, text) = sender();
    let took = t0.elapsed();
    // The victim may go a little after the sender returns (an acknowledgement is written
    // before the self-fence); wait for it up to the watchdog's timeout.
    let deadline = Instant::now() + Duration::from_secs(WATCHDOG_S + 5);
    while Instant::now() < deadline && !watcher.is_finished() {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    let gone = watcher.join().unwrap_or(None);
    (took, gone, code, text)
}

fn ours(q: &PoisonLab) -> (i32, String) {
    let run = q.agent(
        Path::new(OURS),
        &format!("action=reboot\nplug=node{OUR_VICTIM}\nmsgwait={MSGWAIT_S}\n"),
        Duration::from_secs(120),
    );
    (run.code, format!("{}{}", run.stdout, run.stderr))
}

fn sbd_message(devices: &SbdDevices) -> (i32, String) {
    let dev = devices.of(1).display().to_string();
    let out = Command::new("timeout")
        .args([
            "120",
            SBD,
            "-d",
            &dev,
            "message",
            &format!("node{SBD_VICTIM}"),
            "reset",
        ])
        .output()
        .expect("sbd message");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Powers `node` off (if on) and on again: its daemons start anew.
fn restart(node: &Node) {
    if node.power().expect("power") == Power::On {
        node.power_off().expect("power off");
    }
    node.power_on().expect("power on");
}

/// Waits until `node`'s watchdog has expired `count` times and the expiry was handled
/// (the node is off).
fn wait_reset(q: &PoisonLab, i: usize, count: u64) {
    q.lab
        .watchdog(i)
        .expect("watchdog")
        .wait_for_expiry_handled(count, Duration::from_secs(WATCHDOG_S * 4))
        .unwrap_or_else(|e| panic!("node {i}'s watchdog: {e}"));
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    lab::root::require_root("the poison-pill benchmark");
    assert!(
        Path::new(SBD).exists(),
        "Debian's sbd is not installed: run scripts/install-test-deps.sh"
    );
    let rounds = env_or("BENCH_ROUNDS", 3);
    let qdiskd = bins::sibling("qdisk", "qdiskd");
    let settings = QdiskSettings {
        interval: Duration::from_secs(1),
        tko: 8,
        deadtime: "18s".into(),
        watchdog_timeout: Some(WATCHDOG_S as u32),
        layout: qdisk::geometry::Layout::Extended { max_nodes: 16 },
    };
    let q = PoisonLab::start_with(3, 4, &qdiskd, settings);
    let devices = SbdDevices::attach(&q);
    run(
        SBD,
        &[
            "-d",
            &devices.of(1).display().to_string(),
            "-1",
            &WATCHDOG_S.to_string(),
            "-2",
            "2",
            "-3",
            "1",
            "-4",
            &MSGWAIT_S.to_string(),
            "create",
        ],
    );
    let dump = run(SBD, &["-d", &devices.of(1).display().to_string(), "dump"]);
    assert!(dump.contains("Timeout (msgwait)  : 10"), "{dump}");
    let sbd_node = q.lab.node(SBD_VICTIM);
    sbd_node
        .add_daemon(sbd_daemon(&devices, &q, SBD_VICTIM))
        .expect("sbd watch");
    wait_sbd_safe(sbd_node);
    q.wait_running();
    let seed = std::env::var("BENCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut phase = || Duration::from_millis(rng.random_range(0..1000));
    println!(
        "poison pill vs SBD, {rounds} rounds alternating (BENCH_SEED={seed}); watchdog {WATCHDOG_S} s and msgwait {MSGWAIT_S} s for both; qdiskd interval 1 s / SBD loop 1 s"
    );

    let our_node = q.lab.node(OUR_VICTIM);
    let mut incarnation = Some(q.wait_node_running(OUR_VICTIM, None));
    let (mut ours_live, mut ours_frozen, mut sbd_live, mut sbd_frozen) = (
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
    );
    let (mut our_resets, mut sbd_resets) = (0u64, 0u64);
    for round in 1..=rounds {
        // Ours, live: acknowledged; then the lab watchdog (qdiskd died without the magic
        // close) powers the node off, and it is powered on again.
        std::thread::sleep(phase());
        let (took, gone, code, text) = timed(our_node, || ours(&q));
        assert!(
            code == 0 && text.contains("acknowledged"),
            "ours live: {text}\n{}",
            q.logs()
        );
        println!(
            "round {round}: ours, live:   returned {:.3} s, victim gone {:.3} s",
            secs(took),
            gone.map_or(f64::NAN, secs)
        );
        ours_live.returned.push(took);
        ours_live.gone.extend(gone);
        our_resets += 1;
        wait_reset(&q, OUR_VICTIM, our_resets);
        our_node.power_on().expect("power on");
        incarnation = Some(q.wait_node_running(OUR_VICTIM, incarnation));

        // SBD, live: the message is read within a loop; sbd exits (debug mode).
        std::thread::sleep(phase());
        let (took, gone, code, text) = timed(sbd_node, || sbd_message(&devices));
        assert_eq!(code, 0, "sbd message: {text}");
        println!(
            "round {round}: SBD,  live:   returned {:.3} s, victim gone {:.3} s",
            secs(took),
            gone.map_or(f64::NAN, secs)
        );
        sbd_live.returned.push(took);
        sbd_live.gone.extend(gone);
        restart(sbd_node);
        wait_sbd_safe(sbd_node);

        // Ours, frozen: reset by its watchdog; the agent waits msgwait.
        std::thread::sleep(phase());
        our_node.pause().expect("freeze node 3");
        let (took, gone, code, text) = timed(our_node, || ours(&q));
        assert!(
            code == 0 && text.contains("message wait"),
            "ours frozen: {text}\n{}",
            q.logs()
        );
        println!(
            "round {round}: ours, frozen: returned {:.3} s, victim gone {:.3} s",
            secs(took),
            gone.map_or(f64::NAN, secs)
        );
        ours_frozen.returned.push(took);
        ours_frozen.gone.extend(gone);
        our_resets += 1;
        wait_reset(&q, OUR_VICTIM, our_resets);
        our_node.power_on().expect("power on");
        incarnation = Some(q.wait_node_running(OUR_VICTIM, incarnation));

        // SBD, frozen.
        std::thread::sleep(phase());
        sbd_node.pause().expect("freeze node 4");
        let (took, gone, code, text) = timed(sbd_node, || sbd_message(&devices));
        assert_eq!(code, 0, "sbd message: {text}");
        println!(
            "round {round}: SBD,  frozen: returned {:.3} s, victim gone {:.3} s",
            secs(took),
            gone.map_or(f64::NAN, secs)
        );
        sbd_frozen.returned.push(took);
        sbd_frozen.gone.extend(gone);
        sbd_resets += 1;
        wait_reset(&q, SBD_VICTIM, sbd_resets);
        sbd_node.power_on().expect("power on");
        wait_sbd_safe(sbd_node);
    }

    println!();
    println!("medians of {rounds} rounds (seconds): sender returned with success / victim's processes gone");
    println!("| victim | fence_qd_poison | sbd message reset |");
    println!("|---|---|---|");
    for (what, ours, sbd) in [
        ("live", &mut ours_live, &mut sbd_live),
        ("frozen", &mut ours_frozen, &mut sbd_frozen),
    ] {
        println!(
            "| {what} | {:.3} / {:.3} | {:.3} / {:.3} |",
            secs(median(&mut ours.returned)),
            secs(median(&mut ours.gone)),
            secs(median(&mut sbd.returned)),
            secs(median(&mut sbd.gone)),
        );
    }
}
