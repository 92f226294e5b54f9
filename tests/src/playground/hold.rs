//! `lab cluster up`: builds the cluster, waits until the floating IP serves, writes the
//! state file, prints how to reach every node, then holds the cluster, doing the faults
//! `lab cluster fault` sends, until `--hold` ends, SIGTERM/SIGINT, or `lab cluster down`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::hacluster::{Binaries, HaCluster};
use crate::playground::control::{self, Reply, Request};
use crate::playground::{apply, spec_of, state_of, tool_lines, ClusterState, Fault, Options};

/// How long `up` waits for the floating IP to serve.
const SERVE_WITHIN: Duration = Duration::from_secs(90);

/// Brings the cluster up and holds it (see the module documentation).
pub fn up(options: &Options, bins: &Path, state_path: &Path, hold: Option<Duration>) -> Result<()> {
    if let Ok(old) = ClusterState::read(state_path) {
        let alive = rustix::process::Pid::from_raw(old.pid as i32)
            .is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok());
        if alive && old.pid != std::process::id() {
            return Err(LabError::Invalid(format!(
                "{}: a cluster is already up (lab {}, held by PID {}): `lab cluster down --state {}` first, or give another --state",
                state_path.display(),
                old.lab,
                old.pid,
                state_path.display()
            )));
        }
    }
    let spec = spec_of(options)?;
    let bins = Binaries::in_dir(bins)?;
    let term = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, term.clone())
            .map_err(|e| LabError::Invalid(format!("cannot handle signal {signal}: {e}")))?;
    }
    println!(
        "building the cluster: {} nodes, stack {}, {}, fencing {}, timing {} ...",
        options.nodes,
        options.stack,
        if options.qdisk {
            "quorum disk"
        } else {
            "no quorum disk"
        },
        options.fencing,
        options.timing
    );
    let cluster = HaCluster::start(spec, bins)?;
    println!(
        "lab {} up in {:.1} s; waiting for http://{}/ to answer from {} ...",
        cluster.lab().id(),
        cluster.lab().up_time().as_secs_f64(),
        cluster.vip(),
        options.prefer
    );
    let took = cluster
        .wait_served_by(&options.prefer, SERVE_WITHIN)
        .map_err(|e| LabError::Invalid(format!("{e}\n{}", cluster.logs())))?;
    cluster.check_daemons()?;
    let control_path = cluster.lab().dir().join("control.sock");
    let listener = control::bind(&control_path)?;
    let state = state_of(&cluster, options, &control_path);
    state.write(state_path)?;
    println!(
        "serving from {} after {:.1} s; floating IP {}\nstate file: {}\n\nrun the tools on a node:\n{}",
        options.prefer,
        took.as_secs_f64(),
        cluster.vip(),
        state_path.display(),
        tool_lines(&cluster, &state)
    );
    println!(
        "break it:   lab cluster fault --state {} crash web1   (see lab cluster fault --help)\nend it:     lab cluster down --state {}{}",
        state_path.display(),
        state_path.display(),
        match hold {
            Some(h) => format!("   (or it ends by itself in {:.0} s)", h.as_secs_f64()),
            None => String::new(),
        }
    );
    let cluster = Arc::new(cluster);
    let down = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (cluster, down, stop) = (cluster.clone(), down.clone(), stop.clone());
        std::thread::spawn(move || {
            control::serve(listener, &stop, |request| match request {
                Request::Fault(words) => {
                    let reply = words
                        .split_first()
                        .ok_or_else(|| LabError::Invalid("no fault given".into()))
                        .and_then(|(kind, args)| Fault::parse(kind, args))
                        .and_then(|fault| {
                            let said = apply::apply(&cluster, &fault)?;
                            println!("fault {fault}: {said}");
                            Ok(said)
                        });
                    match reply {
                        Ok(message) => Reply { ok: true, message },
                        Err(e) => Reply {
                            ok: false,
                            message: e.to_string(),
                        },
                    }
                }
                Request::Down => {
                    down.store(true, Ordering::Relaxed);
                    Reply {
                        ok: true,
                        message: "tearing the cluster down".into(),
                    }
                }
            })
        })
    };
    let start = Instant::now();
    while !term.load(Ordering::Relaxed)
        && !down.load(Ordering::Relaxed)
        && hold.is_none_or(|h| start.elapsed() < h)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("tearing the cluster down ...");
    // No new request once the socket is gone; the one running (if any) finishes first.
    let _ = std::fs::remove_file(&control_path);
    stop.store(true, Ordering::Relaxed);
    let _ = server.join();
    let _ = std::fs::remove_file(state_path);
    // The last reference: the lab is torn down here.
    drop(cluster);
    println!("the cluster is gone");
    Ok(())
}

/// `lab cluster fault`: sends the fault to the holding process; prints what it did.
pub fn fault(state_path: &Path, words: &[String]) -> Result<String> {
    // Parsed here too, so a typo is reported without a round trip.
    let (kind, args) = words.split_first().ok_or_else(|| {
        LabError::Invalid("name a fault: lab cluster fault KIND [NODE...]".into())
    })?;
    Fault::parse(kind, args)?;
    let state = ClusterState::read(state_path)?;
    let reply = control::send(
        &state.control,
        &Request::Fault(words.to_vec()),
        Duration::from_secs(120),
    )?;
    if reply.ok {
        Ok(reply.message)
    } else {
        Err(LabError::Refused(reply.message))
    }
}

/// `lab cluster down`: asks the holding process to tear the cluster down and waits until it
/// has (its PID gone).
pub fn down(state_path: &Path, within: Duration) -> Result<()> {
    let state = ClusterState::read(state_path)?;
    let reply = control::send(&state.control, &Request::Down, Duration::from_secs(10))?;
    if !reply.ok {
        return Err(LabError::Refused(reply.message));
    }
    let pid = rustix::process::Pid::from_raw(state.pid as i32);
    let deadline = Instant::now() + within;
    while pid.is_some_and(|p| rustix::process::test_kill_process(p).is_ok()) {
        if Instant::now() > deadline {
            return Err(LabError::Timeout {
                what: format!("the cluster's holder (PID {}) to exit", state.pid),
                after: within,
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
