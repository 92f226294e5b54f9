//! The serial fence agents against the lab's device simulators (PTYs), and cluster-glue's
//! `stonith` plugins against the same simulators: the independent client that tells
//! whether a simulator is right. Every test uses its own lock directory and unique port
//! names, and checks that no lock file is left.

mod common;
#[path = "common/serial.rs"]
mod common_serial;

use std::process::Command;
use std::time::{Duration, Instant};

use common_serial::{agent_path, run, Bench};
use lab::devsim::{Delays, DeviceKind, Faults};

/// The devices cluster-glue has plugins for.
const GLUE_KINDS: [DeviceKind; 3] = [
    DeviceKind::Rps10,
    DeviceKind::ApcSmart,
    DeviceKind::NwRpc100s,
];

fn output(b: &Bench) -> bool {
    b.sim.state().outputs[0]
}

fn settle(b: &Bench) {
    b.sim
        .wait_idle(Duration::from_secs(30))
        .expect("simulator idle");
}

#[test]
fn every_action_of_every_device_works_against_its_simulator() {
    for kind in DeviceKind::ALL {
        let b = Bench::new(kind, Delays::fast());
        let reports = kind != DeviceKind::NwRpc100s;
        let name = kind.name();
        if reports {
            let r = b.ours("status", "");
            assert_eq!(
                (r.rc, r.out.trim()),
                (0, "Status: ON"),
                "{name} status {r:?}"
            );
        }
        let r = b.ours("monitor", "");
        assert_eq!(r.rc, 0, "{name} monitor {r:?}");

        let r = b.ours("off", "");
        assert_eq!(
            (r.rc, r.out.trim()),
            (0, "Success: Powered OFF"),
            "{name} off {r:?}"
        );
        settle(&b);
        assert!(!output(&b), "{name}: output still on after off");
        if reports {
            let r = b.ours("status", "");
            assert_eq!(
                (r.rc, r.out.trim()),
                (2, "Status: OFF"),
                "{name} status {r:?}"
            );
            let r = b.ours("off", "");
            assert_eq!(
                (r.rc, r.out.trim()),
                (0, "Success: Already OFF"),
                "{name} {r:?}"
            );
        }

        let r = b.ours("on", "");
        assert_eq!(
            (r.rc, r.out.trim()),
            (0, "Success: Powered ON"),
            "{name} on {r:?}"
        );
        settle(&b);
        assert!(output(&b), "{name}: output still off after on");

        let before = b.sim.state().commands.len();
        let r = b.ours("reboot", "");
        assert_eq!(
            (r.rc, r.out.trim()),
            (0, "Success: Rebooted"),
            "{name} reboot {r:?}"
        );
        settle(&b);
        let st = b.sim.state();
        assert!(st.outputs[0], "{name}: output off after reboot");
        assert!(
            st.commands.len() >= before + 2,
            "{name}: reboot sent {:?}",
            st.commands
        );

        if matches!(kind, DeviceKind::Rps10 | DeviceKind::Lcus) {
            let r = b.ours("list-status", "");
            assert_eq!(r.rc, 0, "{name} list {r:?}");
            assert!(
                r.out.lines().any(|l| l.ends_with(",ON")),
                "{name} list {r:?}"
            );
        }
        if kind == DeviceKind::Rps10 {
            // The switch's own toggle, with method=cycle.
            let r = b.ours("reboot", "method=cycle\n");
            assert_eq!(r.rc, 0, "rps10 cycle {r:?}");
            assert_eq!(
                b.sim.state().commands.last().map(String::as_str),
                Some("0T")
            );
        }
        assert!(
            b.locks_left().is_empty(),
            "{name}: locks left {:?}",
            b.locks_left()
        );
    }
}

#[test]
fn cluster_glue_plugins_succeed_against_the_simulators() {
    for kind in GLUE_KINDS {
        let b = Bench::new(kind, Delays::fast());
        let name = kind.name();
        let r = b.glue("status");
        assert_eq!(r.rc, 0, "stonith {name} status {r:?}");
        let r = b.glue("off");
        assert_eq!(r.rc, 0, "stonith {name} off {r:?}");
        settle(&b);
        assert!(!output(&b), "stonith {name} off left the output on");
        let r = b.glue("on");
        assert_eq!(r.rc, 0, "stonith {name} on {r:?}");
        settle(&b);
        assert!(output(&b), "stonith {name} on left the output off");
        let before = b.sim.state().commands.len();
        let r = b.glue("reset");
        assert_eq!(r.rc, 0, "stonith {name} reset {r:?}");
        settle(&b);
        let st = b.sim.state();
        assert!(st.outputs[0], "stonith {name} reset left the output off");
        assert!(
            st.commands.len() > before,
            "stonith {name} reset sent nothing"
        );
    }
}

/// Our action name for cluster-glue's.
fn ours_for(kind: DeviceKind, glue: &str) -> &'static str {
    match (kind, glue) {
        (DeviceKind::NwRpc100s, "status") => "monitor",
        (_, "status") => "status",
        (_, "off") => "off",
        (_, "on") => "on",
        _ => "reboot",
    }
}

#[test]
fn our_agent_and_cluster_glue_agree_on_the_outcome() {
    for kind in GLUE_KINDS {
        for action in ["status", "off", "on", "reset"] {
            for start_on in [true, false] {
                let outcome = |glue: bool| {
                    let b = Bench::new(kind, Delays::fast());
                    b.sim.set_output(0, start_on);
                    let r = if glue {
                        b.glue(action)
                    } else {
                        b.ours(ours_for(kind, action), "")
                    };
                    settle(&b);
                    // Reachable is success for status (ours says off with exit 2).
                    let ok = r.rc == 0 || (action == "status" && r.rc == 2 && !glue);
                    assert!(b.locks_left().is_empty());
                    (ok, output(&b), r)
                };
                let (ours_ok, ours_out, ro) = outcome(false);
                let (glue_ok, glue_out, rg) = outcome(true);
                assert_eq!(
                    (ours_ok, ours_out),
                    (glue_ok, glue_out),
                    "{} {action} from {}: ours {ro:?} glue {rg:?}",
                    kind.name(),
                    if start_on { "on" } else { "off" }
                );
            }
        }
        // A dead device: both fail (ours within its deadline).
        let b = Bench::new(kind, Delays::fast());
        b.sim.set_faults(Faults {
            silent: true,
            no_banner: true,
            ..Faults::default()
        });
        let ro = b.ours(
            ours_for(kind, "off"),
            "serial_timeout=0.3\nbanner_timeout=0.3\ndtr_pulse=0.05\n",
        );
        let rg = b.glue("off");
        assert_eq!(ro.rc, 1, "{} ours on a dead device {ro:?}", kind.name());
        assert_ne!(rg.rc, 0, "{} glue on a dead device {rg:?}", kind.name());
        assert!(b.locks_left().is_empty());
    }
}

#[test]
fn a_device_without_banner_or_reply_fails_after_its_deadline() {
    let fast = "serial_timeout=0.3\nbanner_timeout=0.4\ndtr_pulse=0.05\n";
    // RPS-10 silent: no reply, then the DTR reset brings no banner either.
    let b = Bench::new(DeviceKind::Rps10, Delays::fast());
    b.sim.set_faults(Faults {
        silent: true,
        no_banner: true,
        ..Faults::default()
    });
    let r = b.ours("status", fast);
    assert_eq!(r.rc, 1, "{r:?}");
    assert!(r.err.contains("no \"RPS-10 Ready\" banner"), "{r:?}");
    assert!(r.took < Duration::from_secs(3), "took {:?}", r.took);
    assert_eq!(b.sim.state().hangups, 1, "our DTR drop was not seen");
    // Answers commands but never sends its banner, with cluster-glue's always-reset mode.
    b.sim.set_faults(Faults {
        silent: false,
        no_banner: true,
        ..Faults::default()
    });
    let r = b.ours("status", &format!("{fast}dtr_reset=1\n"));
    assert_eq!(r.rc, 1, "{r:?}");
    assert!(r.err.contains("banner"), "{r:?}");
    assert!(b.locks_left().is_empty());
    // Every other device: no reply within the deadline.
    for kind in [
        DeviceKind::ApcSmart,
        DeviceKind::NwRpc100s,
        DeviceKind::Lcus,
    ] {
        let b = Bench::new(kind, Delays::fast());
        b.sim.set_faults(Faults {
            silent: true,
            ..Faults::default()
        });
        let r = b.ours("monitor", fast);
        assert_eq!(r.rc, 1, "{} {r:?}", kind.name());
        assert!(r.err.contains("no reply"), "{} {r:?}", kind.name());
        assert!(
            r.took < Duration::from_secs(3),
            "{} took {:?}",
            kind.name(),
            r.took
        );
        assert!(b.locks_left().is_empty());
    }
}

#[test]
fn an_unknown_outlet_is_refused_before_the_line_is_touched() {
    for (kind, extra) in [
        (DeviceKind::Rps10, "outlets=0-1\nplug=7\n"),
        (DeviceKind::Rps10, "plug=x\n"),
        (DeviceKind::ApcSmart, "plug=node9\n"),
        (DeviceKind::NwRpc100s, "plug=node9\n"),
        (DeviceKind::Lcus, "plug=5\n"),
    ] {
        let b = Bench::new(kind, Delays::fast());
        let r = b.ours("off", extra);
        assert_eq!(r.rc, 1, "{} {r:?}", kind.name());
        assert!(
            r.err.contains("unknown to the device"),
            "{} {r:?}",
            kind.name()
        );
        assert_eq!(
            b.sim.state().bytes_in,
            0,
            "{}: the line was touched",
            kind.name()
        );
        assert!(b.locks_left().is_empty(), "{}: lock taken", kind.name());
    }
}

#[test]
fn a_busy_port_is_reported_with_the_pid_that_holds_it() {
    let b = Bench::new(DeviceKind::Rps10, Delays::fast());
    let mut holder = Command::new("sleep").arg("60").spawn().expect("sleep");
    let name = b
        .sim
        .path()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let lock = b.lock_dir.join(format!("LCK..{name}"));
    std::fs::write(&lock, format!("{:>10}\n", holder.id())).expect("lock");
    let r = b.ours("status", "");
    assert_eq!(r.rc, 1, "{r:?}");
    assert!(
        r.err.contains("busy") && r.err.contains(&holder.id().to_string()),
        "{r:?}"
    );
    assert_eq!(b.sim.state().bytes_in, 0, "the line was touched");
    assert!(lock.exists(), "someone else's lock was removed");
    let _ = holder.kill();
    let _ = holder.wait();
    // Its process gone, the lock is stale: taken over and removed afterwards.
    let r = b.ours("status", "");
    assert_eq!(r.rc, 0, "{r:?}");
    assert!(b.locks_left().is_empty(), "{:?}", b.locks_left());
}

#[test]
fn a_killed_agent_removes_its_lock_file() {
    let b = Bench::new(DeviceKind::ApcSmart, Delays::fast());
    b.sim.set_faults(Faults {
        silent: true,
        ..Faults::default()
    });
    let mut child = Command::new(agent_path(DeviceKind::ApcSmart))
        .args([
            "--serial-device",
            &b.sim.path().display().to_string(),
            "--serial-lock-dir",
            &b.lock_dir.display().to_string(),
            "--hostlist",
            "node1",
            "--serial-timeout",
            "30",
            "-o",
            "status",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("agent");
    let start = Instant::now();
    let locked = |b: &Bench| b.locks_left().iter().any(|n| n.starts_with("LCK.."));
    while !locked(&b) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(locked(&b), "the agent never took its lock");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(128 + 15));
    assert!(b.locks_left().is_empty(), "{:?}", b.locks_left());
    // Killed at every moment of its start, it leaves nothing either (the temporary file
    // of the lock protocol included).
    for delay_ms in 0..12 {
        let mut child = Command::new(agent_path(DeviceKind::ApcSmart))
            .args([
                "--serial-device",
                &b.sim.path().display().to_string(),
                "--serial-lock-dir",
                &b.lock_dir.display().to_string(),
                "--hostlist",
                "node1",
                "-o",
                "status",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("agent");
        std::thread::sleep(Duration::from_micros(500 * delay_ms));
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
        assert!(
            b.locks_left().is_empty(),
            "after {delay_ms}: {:?}",
            b.locks_left()
        );
    }
}

#[test]
fn apcsmart_never_writes_the_ups_eeprom_where_cluster_glue_does() {
    let b = Bench::new(DeviceKind::ApcSmart, Delays::fast());
    for action in ["status", "off", "on", "reboot"] {
        let r = b.ours(action, "");
        assert_eq!(r.rc, 0, "{action} {r:?}");
    }
    assert_eq!(b.sim.state().eeprom_writes, 0);
    let r = b.glue("status");
    assert_eq!(r.rc, 0, "{r:?}");
    let writes = b.sim.state().eeprom_writes;
    eprintln!("cluster-glue apcsmart status: {writes} EEPROM writes");
    assert!(writes > 0);
}

#[test]
fn metadata_of_every_serial_agent_is_valid_against_the_fence_agents_schema() {
    for kind in DeviceKind::ALL {
        let r = run(
            {
                let mut c = Command::new(agent_path(kind));
                c.args(["-o", "metadata"]);
                c
            },
            None,
        );
        assert_eq!(r.rc, 0, "{r:?}");
        common::metadata::assert_valid(kind.name(), r.out.as_bytes());
        // fence-agents' name for the port (fence_rcd_serial) is the primary one.
        assert!(
            r.out.contains(
                "<parameter name=\"serial_port\" unique=\"0\" required=\"1\" obsoletes=\"serial_device\">"
            ),
            "{}",
            r.out
        );
    }
}

#[test]
fn metadata_of_the_usb_agents_is_valid_and_they_fail_cleanly_without_usb() {
    for (agent, opts) in [
        (
            env!("CARGO_BIN_EXE_fence_qd_usbhub"),
            "hub=1-1.4\nplug=2\naction=status\n",
        ),
        (
            env!("CARGO_BIN_EXE_fence_qd_usbrelay"),
            "relay_serial=QAAMZ\nplug=1\naction=status\n",
        ),
    ] {
        let mut c = Command::new(agent);
        c.args(["-o", "metadata"]);
        let r = run(c, None);
        assert_eq!(r.rc, 0, "{r:?}");
        common::metadata::assert_valid(agent, r.out.as_bytes());
        // This machine has no USB: a clear failure, exit 1, no hang.
        let r = run(Command::new(agent), Some(opts));
        assert_eq!(r.rc, 1, "{agent} {r:?}");
        assert!(r.err.contains("Failed"), "{agent} {r:?}");
    }
}

#[test]
fn our_agent_and_cluster_glue_exclude_each_other_on_one_port() {
    let b = Bench::new(DeviceKind::Rps10, Delays::fast());
    let var_lock = std::path::Path::new("/var/lock");
    let glue_lock = var_lock.join(b.sim.lock_names().pop().expect("glue name"));
    // cluster-glue holds its lock for at least its 2 s DTR drop.
    let mut glue = Command::new("stonith")
        .args(b.glue_args("status"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("stonith");
    let start = Instant::now();
    while !glue_lock.exists() && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        glue_lock.exists(),
        "cluster-glue took no {}",
        glue_lock.display()
    );
    let r = b.ours("status", "serial_lock_dir=/var/lock\n");
    assert_eq!(r.rc, 1, "{r:?}");
    assert!(
        r.err.contains("busy") && r.err.contains(&glue.id().to_string()),
        "{r:?}"
    );
    assert!(glue.wait().expect("wait").success());
    b.sim.remove_dead_lock(var_lock);
    let r = b.ours("status", "serial_lock_dir=/var/lock\n");
    assert_eq!(r.rc, 0, "{r:?}");
    let ours_left: Vec<_> = std::fs::read_dir(var_lock)
        .expect("/var/lock")
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            b.sim.lock_names().contains(&n)
        })
        .collect();
    assert!(ours_left.is_empty(), "left in /var/lock: {ours_left:?}");
}

#[test]
fn an_rps10_out_of_step_is_reset_by_dtr_and_then_answers() {
    let b = Bench::new(DeviceKind::Rps10, Delays::fast());
    b.sim.set_faults(Faults {
        needs_reset: true,
        ..Faults::default()
    });
    let r = b.ours("off", "serial_timeout=0.3\ndtr_pulse=0.05\n");
    assert_eq!((r.rc, r.out.trim()), (0, "Success: Powered OFF"), "{r:?}");
    let st = b.sim.state();
    assert_eq!(st.hangups, 1);
    assert!(!st.outputs[0]);
    assert!(b.locks_left().is_empty());
}
