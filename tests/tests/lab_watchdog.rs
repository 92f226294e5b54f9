//! The lab watchdog: a FUSE file answering the Linux watchdog API, driven here with plain
//! `open`/`write`/`ioctl`/`close` from the test process and from inside lab nodes, and, in a
//! lab, powering its node off when it expires.
//!
//! Timing assertions only bound from below (an expiry never comes before its timeout);
//! upper limits are generous, as a busy machine can be slow.

// The watchdog API is ioctls on an int or a struct; each call names what it passes.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lab::owner::Owner;
use lab::root::require_root;
use lab::sweep::leftovers_of;
use lab::unique::unique_name;
use lab::wait::wait_until;
use lab::watchdog::api::*;
use lab::watchdog::{LabWatchdog, IDENTITY, OPEN_GRACE};
use lab::{Daemon, DiskFault, Lab, Power};

/// A watchdog mounted in a directory of its own (with an owner marker, so the sweeper knows
/// it is in use); unmounted and removed on drop.
struct Fixture {
    dog: LabWatchdog,
    dir: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = std::env::temp_dir().join(unique_name("W"));
        std::fs::create_dir(&dir).expect("fixture dir");
        Owner::me().write_to(&dir).expect("owner marker");
        let dog = LabWatchdog::mount(&dir.join("wd")).expect("mount the watchdog");
        Fixture { dog, dir }
    }

    fn open(&self) -> std::io::Result<File> {
        std::fs::OpenOptions::new()
            .write(true)
            .open(self.dog.path())
    }

    /// Waits until the file's release (sent by FUSE after `close()` returned) has arrived.
    fn wait_closed(&self) {
        wait_until(
            Duration::from_secs(5),
            Duration::from_millis(1),
            "the watchdog's release",
            || !self.dog.state().open,
        )
        .expect("released");
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Err(e) = self.dog.destroy() {
            eprintln!("fixture: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `ioctl(fd, cmd, &value)` on one int; returns the int after the call.
fn ioctl_int(file: &File, cmd: u32, value: i32) -> std::io::Result<i32> {
    let mut value = value;
    // SAFETY: every command used here reads and/or writes one int at the pointer, which
    // points at `value` for the duration of the call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), cmd as _, &mut value as *mut i32) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(value)
}

fn getsupport(file: &File) -> std::io::Result<WatchdogInfo> {
    let mut info = WatchdogInfo {
        options: 0,
        firmware_version: 0,
        identity: [0; 32],
    };
    // SAFETY: WDIOC_GETSUPPORT writes one struct watchdog_info at the pointer.
    let rc = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            WDIOC_GETSUPPORT as _,
            &mut info as *mut WatchdogInfo,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(info)
}

fn errno(result: std::io::Result<impl std::fmt::Debug>) -> Option<i32> {
    result.err().and_then(|e| e.raw_os_error())
}

#[test]
fn a_petted_watchdog_lives_and_one_left_alone_expires_after_its_timeout() {
    require_root("a_petted_watchdog_lives_and_one_left_alone_expires_after_its_timeout");
    let fixture = Fixture::new();
    let dog = &fixture.dog;
    let actions = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&actions);
    dog.set_expiry_action(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
    });
    let file = fixture.open().expect("open");
    assert_eq!(
        ioctl_int(&file, WDIOC_SETTIMEOUT, 1).expect("settimeout"),
        1
    );
    assert_eq!(
        ioctl_int(&file, WDIOC_GETTIMEOUT, 0).expect("gettimeout"),
        1
    );
    // Pet for 3 s, by write and by ioctl in turn.
    let start = Instant::now();
    let mut last_pet = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(3) {
        last_pet = Instant::now();
        if n % 2 == 0 {
            (&file).write_all(b"x").expect("write pets");
        } else {
            ioctl_int(&file, WDIOC_KEEPALIVE, 0).expect("keepalive");
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let state = dog.state();
    assert_eq!(state.expiries, 0, "expired while petted: {state:?}");
    assert!(state.armed && state.open, "{state:?}");
    assert!(state.pings >= 10, "{state:?}");
    // Left alone, it expires one timeout after the last pet, not before.
    let expiry = dog
        .wait_for_expiry(1, Duration::from_secs(15))
        .expect("expiry");
    assert!(
        expiry.at >= last_pet + Duration::from_secs(1),
        "expired {:?} after the last pet",
        expiry.at.saturating_duration_since(last_pet)
    );
    assert_eq!(expiry.timeout, 1);
    // SAFETY: gettid has no arguments and cannot fail.
    let me = unsafe { libc::gettid() };
    assert_eq!(expiry.opener, u32::try_from(me).ok(), "the opening thread");
    // Once, and then it stays disarmed: pets do nothing.
    (&file).write_all(b"x").expect("write after expiry");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(actions.load(Ordering::SeqCst), 1, "the action runs once");
    let state = dog.state();
    assert_eq!(state.expiries, 1);
    assert!(!state.armed && state.time_left.is_none(), "{state:?}");
    assert_eq!(
        ioctl_int(&file, WDIOC_GETBOOTSTATUS, 0).expect("bootstatus") as u32,
        WDIOF_CARDRESET
    );
    drop(file);
    fixture.wait_closed();
    // Opening it again arms it again.
    let file = fixture.open().expect("reopen");
    assert!(dog.state().armed);
    (&file).write_all(b"V").expect("magic");
    drop(file);
    fixture.wait_closed();
    assert!(!dog.state().armed);
}

#[test]
fn the_magic_close_disarms_it() {
    require_root("the_magic_close_disarms_it");
    let fixture = Fixture::new();
    let file = fixture.open().expect("open");
    ioctl_int(&file, WDIOC_SETTIMEOUT, 1).expect("settimeout");
    (&file).write_all(b"V").expect("magic character");
    assert!(fixture.dog.state().expect_close);
    drop(file);
    fixture.wait_closed();
    std::thread::sleep(Duration::from_secs(2));
    let state = fixture.dog.state();
    assert_eq!(state.expiries, 0, "{state:?}");
    assert!(!state.armed, "{state:?}");
}

#[test]
fn a_close_without_the_magic_character_leaves_it_running_to_expiry() {
    require_root("a_close_without_the_magic_character_leaves_it_running_to_expiry");
    let fixture = Fixture::new();
    let file = fixture.open().expect("open");
    ioctl_int(&file, WDIOC_SETTIMEOUT, 1).expect("settimeout");
    // A 'V' followed by a write without one does not count (the kernel looks at the last
    // write only).
    (&file).write_all(b"xxVx").expect("write with V");
    (&file).write_all(b"x").expect("write without V");
    assert!(!fixture.dog.state().expect_close);
    let closed = Instant::now();
    drop(file);
    fixture.wait_closed();
    assert!(fixture.dog.state().armed, "still running after the close");
    let expiry = fixture
        .dog
        .wait_for_expiry(1, Duration::from_secs(15))
        .expect("expiry after an unexpected close");
    assert!(expiry.at >= closed + Duration::from_secs(1));
    assert_eq!(expiry.opener, None, "nobody holds it");
}

#[test]
fn a_second_opener_gets_ebusy_until_the_first_has_closed() {
    require_root("a_second_opener_gets_ebusy_until_the_first_has_closed");
    let fixture = Fixture::new();
    let first = fixture.open().expect("first open");
    let refused_at = Instant::now();
    let second = fixture.open();
    assert_eq!(errno(second), Some(libc::EBUSY));
    assert!(refused_at.elapsed() >= OPEN_GRACE, "EBUSY after the grace");
    // Closed with 'V' and reopened at once: the release FUSE sends after close() returns
    // is waited for, as a real device has released by then.
    (&first).write_all(b"V").expect("magic");
    drop(first);
    let again = fixture.open().expect("open right after the close");
    assert!(fixture.dog.state().armed);
    (&again).write_all(b"V").expect("magic");
    drop(again);
    fixture.wait_closed();
    assert!(!fixture.dog.state().armed);
}

#[test]
fn the_ioctls_answer_as_the_kernels_watchdog_core() {
    require_root("the_ioctls_answer_as_the_kernels_watchdog_core");
    let fixture = Fixture::new();
    let dog = &fixture.dog;
    let file = fixture.open().expect("open");
    let info = getsupport(&file).expect("GETSUPPORT");
    assert_eq!(info.identity(), IDENTITY);
    assert_eq!(
        info.options,
        WDIOF_SETTIMEOUT | WDIOF_MAGICCLOSE | WDIOF_KEEPALIVEPING
    );
    assert_eq!(ioctl_int(&file, WDIOC_GETTIMEOUT, 0).expect("timeout"), 60);
    assert_eq!(ioctl_int(&file, WDIOC_SETTIMEOUT, 30).expect("set"), 30);
    let left = ioctl_int(&file, WDIOC_GETTIMELEFT, -1).expect("timeleft");
    assert!((28..=30).contains(&left), "time left {left}");
    assert_eq!(ioctl_int(&file, WDIOC_GETBOOTSTATUS, -1).expect("boot"), 0);
    let status = ioctl_int(&file, WDIOC_GETSTATUS, -1).expect("status") as u32;
    assert_eq!(status, WDIOF_KEEPALIVEPING, "pinged since armed");
    for bad in [0, -1, 3601] {
        assert_eq!(
            errno(ioctl_int(&file, WDIOC_SETTIMEOUT, bad)),
            Some(libc::EINVAL),
            "timeout {bad}"
        );
    }
    assert_eq!(ioctl_int(&file, WDIOC_GETTIMEOUT, 0).expect("timeout"), 30);
    // SETOPTIONS passes its int although encoded _IOR: the server reads it from the caller.
    ioctl_int(&file, WDIOC_SETOPTIONS, WDIOS_DISABLECARD as i32).expect("disable");
    assert!(!dog.state().armed);
    assert_eq!(
        ioctl_int(&file, WDIOC_GETTIMELEFT, -1).expect("timeleft"),
        0
    );
    ioctl_int(&file, WDIOC_SETOPTIONS, WDIOS_ENABLECARD as i32).expect("enable");
    assert!(dog.state().armed);
    assert_eq!(
        errno(ioctl_int(&file, WDIOC_SETPRETIMEOUT, 5)),
        Some(libc::EOPNOTSUPP)
    );
    assert_eq!(ioctl_int(&file, WDIOC_GETPRETIMEOUT, -1).expect("pre"), 0);
    assert_eq!(
        errno(ioctl_int(&file, WDIOC_GETTEMP, 0)),
        Some(libc::ENOTTY)
    );
    (&file).write_all(b"V").expect("magic");
    drop(file);
    fixture.wait_closed();
    assert!(!dog.state().armed);
    assert_eq!(dog.state().expiries, 0);
}

#[test]
fn a_shell_redirection_opens_and_magic_closes_it() {
    require_root("a_shell_redirection_opens_and_magic_closes_it");
    let fixture = Fixture::new();
    // `>` opens with O_CREAT|O_TRUNC: answered as an open of the device.
    let path = fixture.dog.path().display().to_string();
    let status = std::process::Command::new("sh")
        .args(["-c", "printf V > \"$1\"", "sh", &path])
        .status()
        .expect("sh");
    assert!(status.success());
    fixture.wait_closed();
    let state = fixture.dog.state();
    assert!(!state.armed && state.pings == 1, "{state:?}");
}

/// Opens the watchdog named by its first argument, sets a 1 s timeout, pets it five times
/// 0.3 s apart, then stops petting and sleeps.
const PETTER: &str = r#"
use Fcntl;
$| = 1;
sysopen(my $w, $ARGV[0], O_WRONLY) or die "open $ARGV[0]: $!";
my $t = pack("i", 1);
ioctl($w, 0xC0045706, $t) or die "WDIOC_SETTIMEOUT: $!";
print "timeout ", unpack("i", $t), "\n";
for (1..5) { syswrite($w, "k") or die "pet: $!"; select(undef, undef, undef, 0.3); }
print "stopped petting\n";
sleep 1000;
"#;

fn daemon_log(lab: &Lab, node: usize, name: &str) -> String {
    let log = lab.node(node).log_dir().join(format!("lab-{name}.log"));
    std::fs::read_to_string(log).unwrap_or_default()
}

#[test]
fn an_expired_watchdog_powers_its_node_off() {
    require_root("an_expired_watchdog_powers_its_node_off");
    let lab = Lab::builder()
        .nodes(2)
        .watchdogs(true)
        .build()
        .expect("lab up");
    let id = lab.id().to_string();
    let node = lab.node(1);
    let dog = lab.watchdog(1).expect("watchdog of node 1");
    assert!(dog.path().starts_with(node.dir()));
    assert!(lab.watchdog(3).is_err());
    node.add_daemon(Daemon::new("sleeper", &["sleep", "1000"]))
        .expect("sleeper");
    let path = dog.path().display().to_string();
    node.add_daemon(Daemon::new("petter", &["perl", "-e", PETTER, &path]))
        .expect("petter");
    wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        "the node's daemon to open the watchdog",
        || dog.state().open,
    )
    .expect("opened from inside the node");
    let expiry = dog
        .wait_for_expiry(1, Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("{e}; petter log: {}", daemon_log(&lab, 1, "petter")));
    let log = daemon_log(&lab, 1, "petter");
    assert!(log.contains("timeout 1\n"), "petter log: {log}");
    assert_eq!(expiry.timeout, 1);
    assert!(
        dog.state().pings >= 5,
        "petted from inside the node: {:?}",
        dog.state()
    );
    wait_until(
        Duration::from_secs(20),
        Duration::from_millis(10),
        "node 1 to be powered off",
        || {
            lab.timeline()
                .render()
                .contains("watchdog expired on node1: powered off")
        },
    )
    .expect("the timeline tells of the reset");
    eprintln!(
        "expiry seen {:?} after its deadline; node off, seen {:?} after the expiry\n{}",
        expiry.at.saturating_duration_since(expiry.deadline),
        expiry.at.elapsed(),
        lab.timeline().render()
    );
    assert_eq!(node.power().expect("power"), Power::Off);
    assert!(node.pids().is_empty(), "left: {:?}", node.pids());
    assert!(!node.is_paused(), "the frozen processes were killed");
    // The other node is untouched.
    assert_eq!(lab.node(2).power().expect("power"), Power::On);
    assert_eq!(lab.watchdog(2).expect("watchdog 2").state().expiries, 0);
    drop(lab);
    assert_eq!(leftovers_of(&id), vec![]);
}

#[test]
fn a_reset_nodes_hanging_disk_writes_die_with_it() {
    require_root("a_reset_nodes_hanging_disk_writes_die_with_it");
    let sector = 4096;
    let lab = Lab::builder()
        .nodes(2)
        .shared_disk(8 << 20, sector)
        .watchdogs(true)
        .build()
        .expect("lab up");
    let node = lab.node(1);
    let disk = lab.disk().expect("disk");
    let device = disk.device(1).expect("device").display().to_string();
    // A 2 s timeout set from the lab's side; the node arms it and never pets it.
    let dog = lab.watchdog(1).expect("watchdog");
    dog.set_timeout(2).expect("timeout");
    disk.set_fault(1, DiskFault::Stall).expect("stall");
    let script = format!(
        "exec 3>{path}; head -c {sector} /dev/zero | tr '\\0' W | dd of={device} bs={sector} count=1 seek=5 oflag=direct status=none; echo dd returned $?; sleep 1000",
        path = dog.path().display()
    );
    node.add_daemon(Daemon::new("writer", &["sh", "-c", &script]))
        .expect("writer");
    wait_until(
        Duration::from_secs(10),
        Duration::from_millis(10),
        "the write to hang",
        || disk.stalled_requests(1).unwrap_or(0) > 0,
    )
    .expect("the write hangs");
    dog.wait_for_expiry_handled(1, Duration::from_secs(30))
        .expect("expiry and reset");
    assert_eq!(node.power().expect("power"), Power::Off);
    assert!(node.pids().is_empty(), "left: {:?}", node.pids());
    assert_eq!(disk.stalled_requests(1).expect("stalled"), 0);
    assert_eq!(disk.fault(1).expect("fault"), DiskFault::Healthy);
    let log = daemon_log(&lab, 1, "writer");
    assert!(!log.contains("dd returned"), "the writer ran on: {log}");
    // The hanging write did not land.
    let image = std::fs::read(disk.image()).expect("image");
    let at = 5 * sector as usize;
    assert!(
        image[at..at + sector as usize].iter().all(|b| *b == 0),
        "a reset node's hanging write landed"
    );
    // The other node's disk works.
    let out = lab
        .node(2)
        .output(&[
            "dd",
            &format!("if={}", disk.device(2).expect("device 2").display()),
            &format!("bs={sector}"),
            "count=1",
            "iflag=direct",
            "status=none",
        ])
        .expect("dd on node 2");
    assert!(out.status.success());
    assert_eq!(lab.watchdog(2).expect("watchdog 2").state().expiries, 0);
}

#[test]
fn a_lab_without_watchdogs_has_none() {
    require_root("a_lab_without_watchdogs_has_none");
    let lab = Lab::builder().nodes(1).build().expect("lab up");
    assert!(lab.watchdog(1).is_err());
}
