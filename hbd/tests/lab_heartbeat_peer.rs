//! Lab: a sender built on our wire layer talks to Debian's heartbeat 3.0.6.
//!
//! Two network namespaces joined by a veth pair. In the first, heartbeat 3.0.6 runs as node
//! `web1` (private hostname, `/etc/ha.d`, `/var/lib/heartbeat`, `/run` and `/var/log`), with a
//! ucast link to the second. In the second, a thread of this test sends signed status
//! packets every keepalive as node `web2` (our UUID, generation and sequence numbers), and
//! decodes and verifies what heartbeat sends back. heartbeat's own `cl_status nodestatus
//! web2` must say `active` while we send, and `dead` once we stop for longer than the dead
//! time we advertise. Everything started is stopped by PID, and the namespaces removed, even
//! when the test fails.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hbd::auth::Authenticator;
use hbd::config::parse_authkeys;
use hbd::proto::{self, Body, Generation, NodeStatus, Origin, Seq, Stamp, Status};
use hbd::wire::{self, EncodeOptions};

const HEARTBEAT: &str = "/usr/libexec/heartbeat/heartbeat";
const KEY_LINE: &str = "1 sha1 LabSecret";
const DEADTIME: Duration = Duration::from_secs(4);

/// Owns the namespaces and processes; tears them down on drop.
struct Lab {
    ns: [String; 2],
    dir: tempfile::TempDir,
    heartbeat: Option<Child>,
}

fn run(cmd: &[&str]) {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn kill(pid: i32, sig: rustix::process::Signal) {
    if let Some(p) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(p, sig);
    }
}

impl Lab {
    fn ns_pids(&self, ns: &str) -> Vec<i32> {
        Command::new("ip")
            .args(["netns", "pids", ns])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        use rustix::process::Signal;
        if let Some(child) = &mut self.heartbeat {
            kill(child.id() as i32, Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                thread::sleep(Duration::from_millis(100));
            }
            kill(child.id() as i32, Signal::KILL);
            let _ = child.wait();
        }
        // Whatever heartbeat left running in the namespaces (its children, resource scripts)
        // is ours: only processes we started live there.
        for ns in &self.ns {
            for pid in self.ns_pids(ns) {
                kill(pid, Signal::KILL);
            }
        }
        thread::sleep(Duration::from_millis(200));
        for ns in &self.ns {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = &self.dir;
    }
}

fn setup() -> Lab {
    assert!(
        rustix::process::geteuid().is_root(),
        "this lab test needs root (network namespaces): run the suite as root"
    );
    assert!(
        Path::new(HEARTBEAT).exists(),
        "Debian's heartbeat is not installed: run scripts/install-test-deps.sh"
    );
    let id = std::process::id();
    let ns = [format!("hbw{id}a"), format!("hbw{id}b")];
    let lab = Lab {
        ns: ns.clone(),
        dir: tempfile::tempdir().expect("tempdir"),
        heartbeat: None,
    };
    for n in &ns {
        run(&["ip", "netns", "add", n]);
        run(&["ip", "-n", n, "link", "set", "lo", "up"]);
    }
    let (va, vb) = (format!("hbw{id}x"), format!("hbw{id}y"));
    run(&[
        "ip", "link", "add", &va, "type", "veth", "peer", "name", &vb,
    ]);
    for (v, n, addr) in [
        (&va, &ns[0], "10.99.78.1/24"),
        (&vb, &ns[1], "10.99.78.2/24"),
    ] {
        run(&["ip", "link", "set", v, "netns", n]);
        run(&["ip", "-n", n, "link", "set", v, "name", "eth0"]);
        run(&["ip", "-n", n, "addr", "add", addr, "dev", "eth0"]);
        run(&["ip", "-n", n, "link", "set", "eth0", "up"]);
    }
    lab
}

fn start_heartbeat(lab: &mut Lab) -> PathBuf {
    let root = lab.dir.path().join("web1");
    let (etc, lib, log) = (root.join("etc"), root.join("lib"), root.join("log"));
    for d in [&etc, &lib, &log] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    // heartbeat's scripts (harc, rc.d, resource.d, shellfuncs) and state layout, then our
    // configuration over them.
    run(&["cp", "-a", "/etc/ha.d/.", etc.to_str().expect("utf8")]);
    run(&[
        "cp",
        "-a",
        "/var/lib/heartbeat/.",
        lib.to_str().expect("utf8"),
    ]);
    std::fs::write(
        etc.join("ha.cf"),
        format!(
            "logfile /var/log/ha-log\nkeepalive 1\ndeadtime {}\nwarntime 2\ninitdead 8\n\
             udpport 694\nucast eth0 10.99.78.2\nauto_failback on\nnode web1\nnode web2\n",
            DEADTIME.as_secs()
        ),
    )
    .expect("ha.cf");
    let authkeys = etc.join("authkeys");
    std::fs::write(&authkeys, format!("auth 1\n{KEY_LINE}\n")).expect("authkeys");
    std::fs::set_permissions(
        &authkeys,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    std::fs::write(etc.join("haresources"), "").expect("haresources");
    let script = format!(
        "set -e; hostname web1; mount --bind {etc} /etc/ha.d; mount --bind {lib} /var/lib/heartbeat; \
         mount -t tmpfs tmpfs /run; mkdir -p /run/heartbeat/ccm /run/heartbeat/crm \
         /run/heartbeat/dopd /run/heartbeat/rsctmp; chown -R hacluster:haclient /run/heartbeat; \
         mount --bind {log} /var/log; exec {HEARTBEAT} -f -l",
        etc = etc.display(),
        lib = lib.display(),
        log = log.display()
    );
    let child = Command::new("ip")
        .args(["netns", "exec", &lab.ns[0], "unshare", "--uts", "--mount"])
        .args(["--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start heartbeat");
    lab.heartbeat = Some(child);
    log.join("ha-log")
}

/// `cl_status nodestatus web2` inside web1's namespaces.
fn nodestatus(pid: u32) -> String {
    let out = Command::new("nsenter")
        .args([
            "-t",
            &pid.to_string(),
            "-m",
            "-u",
            "-n",
            "cl_status",
            "nodestatus",
            "web2",
        ])
        .output();
    match out {
        Ok(o) if !o.stdout.is_empty() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        Ok(o) => format!(
            "exit {:?}: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("nsenter: {e}"),
    }
}

fn wait_for_status(pid: u32, want: &str, within: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < within {
        last = nodestatus(pid);
        if last == want {
            return Ok(start.elapsed());
        }
        thread::sleep(Duration::from_millis(250));
    }
    Err(last)
}

struct Sender {
    stop: Arc<AtomicBool>,
    verified: Arc<AtomicU64>,
    rejected: Arc<AtomicU64>,
    /// When the last status (heartbeat) went out.
    last_status: Arc<Mutex<Option<Instant>>>,
    handle: thread::JoinHandle<()>,
}

/// Runs the `web2` sender on a thread moved into namespace `ns`.
fn start_sender(ns: &str, auth: Authenticator) -> Sender {
    let stop = Arc::new(AtomicBool::new(false));
    let verified = Arc::new(AtomicU64::new(0));
    let rejected = Arc::new(AtomicU64::new(0));
    let last_status = Arc::new(Mutex::new(None));
    let (s, v, r, last) = (
        stop.clone(),
        verified.clone(),
        rejected.clone(),
        last_status.clone(),
    );
    let ns_path = PathBuf::from("/run/netns").join(ns);
    let handle = thread::spawn(move || {
        let f = std::fs::File::open(&ns_path).expect("open netns");
        rustix::thread::move_into_link_name_space(
            std::os::fd::AsFd::as_fd(&f),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .expect("setns");
        let sock = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 694)).expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let peer = SocketAddrV4::new(Ipv4Addr::new(10, 99, 78, 1), 694);
        let now = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        };
        let origin = Origin {
            node: "web2".into(),
            uuid: *b"hbd-wire-labtest",
            generation: Generation(now()),
            ttl: 3,
        };
        let mut seq = 0u64;
        let mut send = |body: Body, dest_uuid: Option<[u8; 16]>| {
            seq += 1;
            let stamp = Stamp {
                seq: Seq(seq),
                unix_time: now(),
                load: "0.00 0.00 0.00 1/100 4242".into(),
            };
            let msg = proto::build(&body, &origin, dest_uuid, &stamp);
            let packet = wire::encode(&msg, &auth, &EncodeOptions::default()).expect("enc");
            let _ = sock.send_to(&packet, peer);
            seq
        };
        let mut statuses = 0u64;
        let mut next = Instant::now();
        let mut buf = vec![0u8; 65536];
        while !s.load(Ordering::SeqCst) {
            if Instant::now() >= next {
                send(
                    Body::Status(Status {
                        status: if statuses < 2 {
                            NodeStatus::Up
                        } else {
                            NodeStatus::Active
                        },
                        deadtime: Some(DEADTIME),
                        protocol: Some(proto::PROTOCOL_VERSION),
                        // Our statuses say whom we hear; heartbeat must not mind.
                        hears: Some(Vec::new()),
                    }),
                    None,
                );
                statuses += 1;
                *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                next += Duration::from_secs(1);
            }
            let Ok((n, _)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let incoming = match wire::decode(&buf[..n], &auth).map(|d| proto::parse(&d.message)) {
                Ok(Ok(i)) => i,
                _ => {
                    r.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
            };
            v.fetch_add(1, Ordering::SeqCst);
            // heartbeat declares communication up only once the peer it asked with
            // `reqnodes` answers with its node list (`repnodes`), as heartbeat itself does.
            if let Body::Cluster(c) = &incoming.body {
                if c.msg_type == "reqnodes" && c.dest.as_deref() == Some("web2") {
                    let mut fields = wire::Message::new();
                    fields.add("nodelist", "web1 web2 ").add("delnodelist", " ");
                    send(
                        Body::Cluster(proto::ClusterMsg {
                            msg_type: "repnodes".into(),
                            dest: Some(incoming.header.src.clone()),
                            fields,
                        }),
                        incoming.header.src_uuid,
                    );
                }
            }
        }
    });
    Sender {
        stop,
        verified,
        rejected,
        last_status,
        handle,
    }
}

#[test]
fn debian_heartbeat_sees_our_node_active_then_dead() {
    let mut lab = setup();
    let log = start_heartbeat(&mut lab);
    let pid = lab.heartbeat.as_ref().map(Child::id).expect("started");
    let keys = parse_authkeys(Path::new("authkeys"), &format!("auth 1\n{KEY_LINE}\n"))
        .value
        .expect("authkeys");
    let sender = start_sender(&lab.ns[1], Authenticator::new(&keys).expect("auth"));

    let active = wait_for_status(pid, "active", Duration::from_secs(40));
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        active.is_ok(),
        "heartbeat never saw web2 active (last cl_status: {:?}); ha-log:\n{}",
        active,
        log_text()
    );
    // Keep sending for a few keepalives: web2 must stay active.
    thread::sleep(Duration::from_secs(3));
    assert_eq!(nodestatus(pid), "active", "ha-log:\n{}", log_text());

    sender.stop.store(true, Ordering::SeqCst);
    sender.handle.join().expect("sender thread");
    // Deadtime counts from the last heartbeat heard, up to a keepalive before the stop.
    let stopped = sender
        .last_status
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .expect("a heartbeat was sent");
    let dead = wait_for_status(pid, "dead", DEADTIME + Duration::from_secs(10));
    assert!(
        dead.is_ok(),
        "web2 not declared dead after we stopped (last: {dead:?}); ha-log:\n{}",
        log_text()
    );
    let after = stopped.elapsed();
    assert!(after >= DEADTIME, "declared dead too early: {after:?}");

    let verified = sender.verified.load(Ordering::SeqCst);
    let rejected = sender.rejected.load(Ordering::SeqCst);
    assert!(
        verified >= 3,
        "heartbeat's packets verified by us: {verified}"
    );
    assert_eq!(rejected, 0, "heartbeat's packets we rejected");
    let text = log_text();
    assert!(!text.contains("authentication failed"), "ha-log:\n{text}");
    assert!(text.contains("web2"), "ha-log never mentions web2:\n{text}");
    eprintln!(
        "web2 active after {:?}; dead {after:?} after we stopped; {verified} heartbeat packets verified",
        active.unwrap_or_default()
    );
}
