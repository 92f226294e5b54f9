//! The heartbeat tutorial's two-node web cluster, for real, in the lab: `web1` and `web2`
//! serve a floating IP and a small web service (`websrv`, a heartbeat `resource.d` script
//! around socat), with a quorum disk, a BMC each, and a third node, `client`, that fetches
//! the page and answers ping as the router would.
//!
//! [`HaCluster::start`] writes every node's files exactly as an administrator would
//! (`/etc/ha.d/ha.cf`, `authkeys`, `haresources`, `resource.d/websrv`, and for our stack
//! `/etc/cluster/cluster.toml` for qdiskd and fenced), makes the quorum disk with `mkqdisk`,
//! and starts the daemons: qdiskd, fenced and hbd ([`Stack::Ours`]), or Debian's heartbeat
//! 3.0.6 ([`Stack::Heartbeat`], the peer the benchmarks compare with). Everything is observed
//! from outside, through the same tools an administrator uses: `hbctl --json status` (or
//! `cl_status`), fenced's history file, `ip addr`, and `curl` from the client.
//!
//! Self-fencing is `kill-cgroup` everywhere: it kills a node's processes, never the machine.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use crate::cluster::Lab;
use crate::error::{LabError, Result};
use crate::node::{Daemon, Node};
use crate::topology::Net;

/// heartbeat 3.0.6's daemon (Debian).
pub const HEARTBEAT: &str = "/usr/libexec/heartbeat/heartbeat";

/// Gives lab node `node` what Debian's heartbeat needs besides its configuration: its own
/// scripts (`harc`, `rc.d`, `resource.d`, `shellfuncs`) copied into the node's private
/// `/etc/ha.d`, and its state layout into the private `/var/lib/heartbeat`.
pub fn prepare_heartbeat_node(node: &Node) -> Result<()> {
    for (from, dir) in [
        ("/etc/ha.d/.", "/etc/ha.d"),
        ("/var/lib/heartbeat/.", "/var/lib/heartbeat"),
    ] {
        let to = node
            .private_dir(dir)
            .ok_or_else(|| LabError::Invalid(format!("no private {dir} on {}", node.hostname())))?;
        let ok = Command::new("cp")
            .args(["-a", from])
            .arg(to)
            .status()
            .map_err(|e| LabError::io(Path::new("cp"), e))?;
        if !ok.success() {
            return Err(LabError::Invalid(format!(
                "cp -a {from} {} failed",
                to.display()
            )));
        }
    }
    Ok(())
}

/// Debian's heartbeat as a lab daemon: its run directories made (a node's `/run` starts
/// empty, as after a boot, so a stale pid file of a crashed run goes too), in the foreground.
pub fn heartbeat_daemon() -> Daemon {
    Daemon::new(
        "heartbeat",
        &[
            "bash",
            "-c",
            &format!(
                "mkdir -p /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/dopd /run/heartbeat/rsctmp; \
                 chown -R hacluster:haclient /run/heartbeat; rm -f /run/heartbeat.pid; exec {HEARTBEAT} -f"
            ),
        ],
    )
}

/// Lab node index of `web1` (`webN` is node N).
pub const WEB1: usize = 1;
/// Lab node index of `web2`.
pub const WEB2: usize = 2;
/// Lab node index of the client (and ping node) of a two-node cluster; in general
/// [`HaCluster::client`].
pub const CLIENT: usize = 3;

/// Size of the shared disk: the quorum disk at its start, the writer's region above.
pub const SHARED_DISK_SIZE: u64 = 32 << 20;

/// The shared-disk writer's region (16 MiB from 16 MiB: far above the quorum disk's
/// blocks), split into [`WRITER_MAX_NODES`] per-node rings of records.
pub const WRITER_REGION: crate::diskwriter::Region = crate::diskwriter::Region {
    offset: 16 << 20,
    len: 16 << 20,
};

/// How many per-node parts the writer's region has (the most web nodes a cluster has).
pub const WRITER_MAX_NODES: usize = 8;

/// Where the workspace's binaries are (`target/debug` or `target/release`).
#[derive(Debug, Clone)]
pub struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// The binaries in `dir`; every one the cluster needs must be there.
    pub fn in_dir(dir: &Path) -> Result<Binaries> {
        let b = Binaries {
            dir: dir.to_path_buf(),
        };
        for name in [
            "hbd",
            "hbctl",
            "fenced",
            "qdiskd",
            "mkqdisk",
            "fence_qd_ipmilan",
            "fence_qd_ifmib",
        ] {
            let path = b.path(name);
            if !path.exists() {
                return Err(LabError::Invalid(format!(
                    "{} is missing: build the workspace first (cargo build --workspace --bins)",
                    path.display()
                )));
            }
        }
        Ok(b)
    }

    /// The path of binary `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Which cluster software runs on web1 and web2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// hbd, fenced and (with a quorum disk) qdiskd.
    Ours,
    /// Debian's heartbeat 3.0.6 (no fencing, no quorum disk: heartbeat v1 has neither).
    Heartbeat,
}

/// How our stack fences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fencing {
    /// Through the node's BMC with `fence_qd_ipmilan` (power off, confirmed).
    Ipmi,
    /// Through the switch (`fence_qd_ifmib` over SNMP): the node's SAN port and its
    /// heartbeat port are disabled, so it can neither write to the shared disk nor serve;
    /// fenced enables them again when the node starts after a reboot (unfencing).
    Fabric,
    /// Through the quorum disk (`fence_qd_poison`): a poison pill in the victim's slot; its
    /// qdiskd acknowledges and fences itself (`kill-cgroup`), and a node that cannot read the
    /// pill is reset by its watchdog (every node gets the lab's watchdog; needs the quorum
    /// disk).
    Poison,
    /// A fence agent that reports success at once without doing anything: only for the
    /// benchmark's like-for-like comparison with heartbeat, which does not fence.
    NoOp,
}

impl Fencing {
    /// `ipmi`, `fabric`, `poison` or `noop`.
    pub fn name(self) -> &'static str {
        match self {
            Fencing::Ipmi => "ipmi",
            Fencing::Fabric => "fabric",
            Fencing::Poison => "poison",
            Fencing::NoOp => "noop",
        }
    }
}

/// heartbeat timings, as `ha.cf` writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// `keepalive`.
    pub keepalive: Duration,
    /// `deadtime`.
    pub deadtime: Duration,
    /// `warntime`.
    pub warntime: Duration,
    /// `initdead`.
    pub initdead: Duration,
}

impl Timing {
    /// The tutorial's (keepalive 1 s, deadtime 8 s; initdead 10 s, warntime 5 s).
    pub const SEED: Timing = Timing {
        keepalive: Duration::from_secs(1),
        deadtime: Duration::from_secs(8),
        warntime: Duration::from_secs(5),
        initdead: Duration::from_secs(10),
    };
    /// The demo's: keepalive 500 ms, deadtime 5 s (room for the quorum disk's master to
    /// move before the membership timeout, with a write deadline a loaded machine meets).
    pub const DEMO: Timing = Timing {
        keepalive: Duration::from_millis(500),
        deadtime: Duration::from_secs(5),
        warntime: Duration::from_millis(2500),
        initdead: Duration::from_secs(10),
    };
    /// A fast profile for labs: keepalive 250 ms, deadtime 2 s.
    pub const FAST: Timing = Timing {
        keepalive: Duration::from_millis(250),
        deadtime: Duration::from_secs(2),
        warntime: Duration::from_secs(1),
        initdead: Duration::from_secs(4),
    };

    fn hacf(&self) -> String {
        format!(
            "keepalive {}ms\ndeadtime {}ms\nwarntime {}ms\ninitdead {}ms\n",
            self.keepalive.as_millis(),
            self.deadtime.as_millis(),
            self.warntime.as_millis(),
            self.initdead.as_millis()
        )
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Cluster nodes, `web1` … `webN` (the tutorial's 2; our stack also runs more). The
    /// client is node N+1.
    pub nodes: usize,
    /// The cluster software.
    pub stack: Stack,
    /// heartbeat timings.
    pub timing: Timing,
    /// A quorum disk (our stack only): the tie-breaker of a two-node cluster.
    pub qdisk: bool,
    /// The quorum disk's `interval` and `tko`: a node fences itself when no status write
    /// was issued for (tko − 1) × interval after the last completed one, and the master's
    /// failover, interval × (tko + master_wait + 3.5), must be shorter than deadtime.
    pub qdisk_timing: (Duration, u32),
    /// How our stack fences.
    pub fencing: Fencing,
    /// The client's address as a ping node (`ping` in ha.cf), counted for quorum by hbd
    /// (`--ping-votes 1`) when there is no quorum disk.
    pub ping_node: bool,
    /// `auto_failback on|off|legacy`.
    pub auto_failback: &'static str,
    /// The group's preferred node in haresources (`web1` … `webN`).
    pub preferred: String,
    /// The shared-disk writer ([`crate::diskwriter`]) as the group's last resource: while
    /// it runs it writes records to its own region of the shared disk, so a checker can
    /// prove afterwards that two nodes never wrote at once.
    pub writer: bool,
    /// Resource monitoring by hbd (our stack): check interval and restarts in place
    /// before the group moves (`--monitor-interval`, `--max-restarts`); `None` is
    /// heartbeat v1's behaviour, no monitoring.
    pub monitor: Option<(Duration, u32)>,
}

impl Spec {
    /// The demo: our stack, a quorum disk, IPMI fencing, auto_failback on, keepalive 500 ms
    /// and deadtime 5 s, the quorum disk every 350 ms with tko 5 (a master failover takes up
    /// to 0.35 s · (5 + 3 + 4.5) = 4.4 s, inside the deadtime).
    pub fn demo() -> Spec {
        Spec {
            nodes: 2,
            stack: Stack::Ours,
            timing: Timing::DEMO,
            qdisk: true,
            qdisk_timing: (Duration::from_millis(350), 5),
            fencing: Fencing::Ipmi,
            ping_node: false,
            auto_failback: "on",
            preferred: "web1".into(),
            monitor: None,
            writer: false,
        }
    }
}

/// The web service's resource script (heartbeat `resource.d` convention: start, stop,
/// status judged by its output). `@VIP@` is replaced by the floating address.
const WEBSRV: &str = r#"#!/bin/sh
# websrv: the demo's web service, a heartbeat resource.d script (start|stop|status).
# It serves "served by HOSTNAME" on the floating IP, port 80.
PIDFILE=/run/websrv.pid
# Running: the PID in the file is alive and no zombie (a killed daemon whose reaper, the
# machine's PID 1, has not collected it yet still answers kill -0).
running() {
  [ -f "$PIDFILE" ] || return 1
  case "$(ps -o stat= -p "$(cat "$PIDFILE")" 2>/dev/null)" in
    ""|Z*) return 1 ;;
  esac
}
case "$1" in
  start)
    running && exit 0
    setsid socat TCP-LISTEN:80,bind=@VIP@,reuseaddr,fork EXEC:"$0 reply" \
      </dev/null >/dev/null 2>&1 &
    echo $! > "$PIDFILE"
    # Up once it listens.
    for _ in $(seq 50); do
      ss -Hltn "sport = :80" | grep -q . && exit 0
      sleep 0.02
    done
    echo "websrv: socat did not start listening on @VIP@:80" >&2
    exit 1 ;;
  stop)
    if running; then kill "$(cat "$PIDFILE")"; fi
    rm -f "$PIDFILE"
    exit 0 ;;
  status)
    if running; then echo "websrv is running"; else echo "websrv is stopped"; fi ;;
  reply)
    # One HTTP exchange on standard input and output (socat runs this per connection).
    read -r _request
    printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nserved by %s\n' "$(hostname)" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
"#;

/// A fence agent that succeeds at once (see [`Fencing::NoOp`]); it reads and ignores its
/// options.
const NOOP_AGENT: &str = "#!/bin/sh\n# Benchmark only: reports success without fencing anything.\ncat >/dev/null\nexit 0\n";

/// The running cluster. Dropping it tears the lab down.
pub struct HaCluster {
    lab: Lab,
    spec: Spec,
    bins: Binaries,
    vip: Ipv4Addr,
}

impl HaCluster {
    /// Builds the lab (web1 … webN, client; a shared disk and BMCs for our stack), writes
    /// the configuration, makes the quorum disk and starts the daemons on the web nodes.
    pub fn start(spec: Spec, bins: Binaries) -> Result<HaCluster> {
        crate::root::require_root("the HA cluster lab");
        let ours = spec.stack == Stack::Ours;
        if !(2..=WRITER_MAX_NODES).contains(&spec.nodes) {
            return Err(LabError::Invalid(format!(
                "{} web nodes: the cluster has 2 to {WRITER_MAX_NODES}",
                spec.nodes
            )));
        }
        let preferred_ok = spec
            .preferred
            .strip_prefix("web")
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| (1..=spec.nodes).contains(&n));
        if !preferred_ok {
            return Err(LabError::Invalid(format!(
                "preferred node {:?}: use one of web1 to web{}",
                spec.preferred, spec.nodes
            )));
        }
        let mut hostnames: Vec<String> = (1..=spec.nodes).map(|i| format!("web{i}")).collect();
        hostnames.push("client".into());
        let mut builder = Lab::builder()
            .nodes(spec.nodes + 1)
            .media(1)
            .hostnames(&hostnames);
        if ours {
            builder = builder.bmcs(true);
        }
        if spec.fencing == Fencing::Fabric && ours {
            builder = builder.snmp(true).san(true);
        }
        if spec.fencing == Fencing::Poison && ours {
            if !spec.qdisk {
                return Err(LabError::Invalid(
                    "poison-pill fencing goes through the quorum disk: add --qdisk".into(),
                ));
            }
            let agent = bins.path("fence_qd_poison");
            if !agent.exists() {
                return Err(LabError::Invalid(format!(
                    "{} is missing: build the workspace first (cargo build --workspace --bins)",
                    agent.display()
                )));
            }
            builder = builder.watchdogs(true);
        }
        if (ours && spec.qdisk) || spec.writer {
            builder = builder.shared_disk(SHARED_DISK_SIZE, 512);
        }
        let lab = builder.build()?;
        let vip = Net::Heartbeat(0).node_addr(100);
        let cluster = HaCluster {
            lab,
            spec,
            bins,
            vip,
        };
        if ours && cluster.spec.qdisk {
            cluster.make_qdisk()?;
        }
        if cluster.spec.writer {
            cluster.lab.disk()?.journal_writes(WRITER_REGION.range())?;
        }
        for i in cluster.web_nodes() {
            cluster.configure(i)?;
        }
        for i in cluster.web_nodes() {
            cluster.start_daemons(i)?;
        }
        cluster.lab.note("the web nodes started");
        Ok(cluster)
    }

    /// The lab underneath.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The binaries it runs.
    pub fn binaries(&self) -> &Binaries {
        &self.bins
    }

    /// The spec it was built from.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The floating IP.
    pub fn vip(&self) -> Ipv4Addr {
        self.vip
    }

    /// Node `i` (WEB1, WEB2, …, the client).
    pub fn node(&self, i: usize) -> &Node {
        self.lab.node(i)
    }

    /// The web nodes' lab indexes, 1 to N.
    pub fn web_nodes(&self) -> std::ops::RangeInclusive<usize> {
        1..=self.spec.nodes
    }

    /// The client's lab index: N+1.
    pub fn client(&self) -> usize {
        self.spec.nodes + 1
    }

    fn make_qdisk(&self) -> Result<()> {
        let disk = self.lab.disk()?;
        let device = disk.device(WEB1)?;
        let out = Command::new(self.bins.path("mkqdisk"))
            .args(["-c"])
            .arg(device)
            .args(["-l", "web-qdisk", "--layout", "extended", "--yes"])
            .output()
            .map_err(|e| LabError::io(self.bins.path("mkqdisk"), e))?;
        if !out.status.success() {
            return Err(LabError::Invalid(format!(
                "mkqdisk failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    fn write(&self, path: &Path, text: &str, mode: u32) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).map_err(|e| LabError::io(path, e))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| LabError::io(path, e))
    }

    fn private(&self, i: usize, dir: &str) -> Result<PathBuf> {
        self.lab
            .node(i)
            .private_dir(dir)
            .map(Path::to_path_buf)
            .ok_or_else(|| LabError::Invalid(format!("no private {dir} on node {i}")))
    }

    fn configure(&self, i: usize) -> Result<()> {
        let etc = self.private(i, "/etc/ha.d")?;
        if self.spec.stack == Stack::Heartbeat {
            prepare_heartbeat_node(self.lab.node(i))?;
        }
        let ping = if self.spec.ping_node {
            format!("ping {}\n", Net::Heartbeat(0).node_addr(self.client()))
        } else {
            String::new()
        };
        let node_lines: String = self.web_nodes().map(|n| format!("node web{n}\n")).collect();
        let hacf = format!(
            "# The heartbeat tutorial's cluster.\nlogfile /var/log/ha-log\n{}udpport 694\nmcast hb0 225.0.0.1 694 1 0\nauto_failback {}\n{node_lines}{ping}",
            self.spec.timing.hacf(),
            self.spec.auto_failback
        );
        self.write(&etc.join("ha.cf"), &hacf, 0o644)?;
        self.write(
            &etc.join("authkeys"),
            "auth 1\n1 sha1 web-cluster-secret\n",
            0o600,
        )?;
        self.write(
            &etc.join("haresources"),
            &format!(
                "{} IPaddr2::{}/24/hb0 websrv{}\n",
                self.spec.preferred,
                self.vip,
                if self.spec.writer { " diskwriter" } else { "" }
            ),
            0o644,
        )?;
        let rd = etc.join("resource.d");
        std::fs::create_dir_all(&rd).map_err(|e| LabError::io(&rd, e))?;
        self.write(
            &rd.join("websrv"),
            &WEBSRV.replace("@VIP@", &self.vip.to_string()),
            0o755,
        )?;
        if self.spec.writer {
            self.write(&rd.join("diskwriter"), &self.writer_script(i)?, 0o755)?;
        }
        if self.spec.stack == Stack::Ours {
            self.write_cluster_toml(i)?;
        }
        Ok(())
    }

    /// Node `i`'s `resource.d/diskwriter`: the writer on its own device, in its own part
    /// of [`WRITER_REGION`], every 20 ms.
    fn writer_script(&self, i: usize) -> Result<String> {
        let lab = self.bins.path("lab");
        if !lab.exists() {
            return Err(LabError::Invalid(format!(
                "{} is missing: the shared-disk writer runs `lab disk-writer` (cargo build -p lab)",
                lab.display()
            )));
        }
        crate::diskwriter::ResourceScript {
            lab,
            device: self.lab.disk()?.device(i)?.to_path_buf(),
            region: WRITER_REGION,
            node_id: i as u32,
            node_name: self.lab.node(i).hostname().to_string(),
            max_nodes: WRITER_MAX_NODES as u32,
            interval: Duration::from_millis(20),
        }
        .render()
        .map_err(|e| LabError::Invalid(format!("the writer's resource script: {e}")))
    }

    fn write_cluster_toml(&self, i: usize) -> Result<()> {
        let etc = self.private(i, "/etc/cluster")?;
        let mut devices = String::new();
        let mut nodes = String::new();
        for n in self.web_nodes() {
            let name = format!("web{n}");
            match self.spec.fencing {
                Fencing::Ipmi => {
                    let bmc = self.lab.bmc(n)?;
                    devices.push_str(&format!(
                        "[[fence_device]]\nname = \"ipmi-{name}\"\nagent = \"{}\"\nip = \"{}\"\nipport = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\nlanplus = \"1\"\ncipher = \"3\"\npower_wait = \"0\"\n\n",
                        self.fence_agent("fence_qd_ipmilan")?.display(),
                        bmc.addr(),
                        bmc.port(),
                        bmc.credentials().user,
                        bmc.credentials().password
                    ));
                }
                Fencing::Fabric | Fencing::Poison => {}
                Fencing::NoOp => {
                    let agent = etc.join("fence_noop");
                    self.write(&agent, NOOP_AGENT, 0o755)?;
                    devices.push_str(&format!(
                        "[[fence_device]]\nname = \"ipmi-{name}\"\nagent = \"/etc/cluster/fence_noop\"\n\n"
                    ));
                }
            }
            if self.spec.fencing == Fencing::Fabric {
                // Its SAN port (the shared disk) and its heartbeat port (the service): a
                // fenced node can neither write nor answer for the floating IP.
                let ports = format!(
                    "{},{}",
                    Net::San.port_name(n),
                    Net::Heartbeat(0).port_name(n)
                );
                nodes.push_str(&format!(
                    "[[node]]\nname = \"{name}\"\nid = {n}\n[[node.fence]]\ndevices = [{{ device = \"fabric\", port = \"{ports}\" }}]\n[[node.unfence]]\ndevice = \"fabric\"\nport = \"{ports}\"\n\n"
                ));
            } else if self.spec.fencing == Fencing::Poison {
                nodes.push_str(&format!(
                    "[[node]]\nname = \"{name}\"\nid = {n}\n[[node.fence]]\ndevices = [{{ device = \"poison\", port = \"{name}\" }}]\n\n"
                ));
            } else {
                nodes.push_str(&format!(
                    "[[node]]\nname = \"{name}\"\nid = {n}\n[[node.fence]]\ndevices = [{{ device = \"ipmi-{name}\" }}]\n\n"
                ));
            }
        }
        if self.spec.fencing == Fencing::Fabric {
            let snmp = self.lab.snmp()?;
            devices.push_str(&format!(
                "[[fence_device]]\nname = \"fabric\"\nagent = \"{}\"\nip = \"{}\"\ncommunity = \"{}\"\n\n",
                self.fence_agent("fence_qd_ifmib")?.display(),
                crate::topology::SWITCH_ADDR,
                snmp.credentials().rw_community
            ));
        }
        if self.spec.fencing == Fencing::Poison {
            // The agent runs on the fencing node and reaches the disk by that node's path.
            devices.push_str(&format!(
                "[[fence_device]]\nname = \"poison\"\nagent = \"{}\"\ndevice = \"{}\"\ncluster_file = \"/etc/cluster/cluster.toml\"\n\n",
                self.fence_agent("fence_qd_poison")?.display(),
                self.lab.disk()?.device(i)?.display(),
            ));
        }
        let quorumd = if self.spec.qdisk {
            let watchdog = if self.spec.fencing == Fencing::Poison {
                format!(
                    "# The lab's watchdog: on expiry the node is reset.\nwatchdog = \"{}\"\n",
                    self.lab.watchdog(i)?.path().display()
                )
            } else {
                "# This lab gives its nodes no watchdog: qdiskd says so at start.\nwatchdog = \"none\"\n".to_string()
            };
            format!(
                "[quorumd]\ndevice = \"{}\"\ninterval = \"{}ms\"\ntko = {}\nself_fence = \"kill-cgroup\"\n{watchdog}",
                self.lab.disk()?.device(i)?.display(),
                self.spec.qdisk_timing.0.as_millis(),
                self.spec.qdisk_timing.1
            )
        } else {
            String::new()
        };
        let text = format!(
            "# Quorum disk and fencing for the web cluster (hbd reads /etc/ha.d).\n[cluster]\nname = \"web\"\ndeadtime = \"{}ms\"\n\n[fenced]\ndevice_timeout = \"20s\"\n\n{devices}{nodes}{quorumd}",
            self.spec.timing.deadtime.as_millis()
        );
        // It holds the BMC passwords.
        self.write(&etc.join("cluster.toml"), &text, 0o600)
    }

    /// The path of the lab's wrapper around fence agent `agent`: it runs the real agent,
    /// unless [`HaCluster::set_fence_lie`] made the cluster's agents lie.
    fn fence_agent(&self, agent: &str) -> Result<PathBuf> {
        let path = self.lab.dir().join(format!("lab_{agent}"));
        if !path.exists() {
            let text = format!(
                "#!/bin/sh\n# Generated by the lab: the cluster's {agent}. While {flag} exists it\n# lies: it reports success and does nothing (the chaos checker's own test).\nif [ -e {flag} ]; then\n  cat >/dev/null\n  echo \"lab: a lying fence agent: success reported, nothing done\" >&2\n  exit 0\nfi\nexec {real} \"$@\"\n",
                flag = self.fence_lie_flag().display(),
                real = self.bins.path(agent).display()
            );
            self.write(&path, &text, 0o755)?;
        }
        Ok(path)
    }

    fn fence_lie_flag(&self) -> PathBuf {
        self.lab.dir().join("fence-lie")
    }

    /// Makes every fence agent of the cluster lie (report success without doing anything)
    /// or act again.
    pub fn set_fence_lie(&self, lie: bool) -> Result<()> {
        let flag = self.fence_lie_flag();
        if lie {
            std::fs::write(&flag, "").map_err(|e| LabError::io(&flag, e))
        } else {
            match std::fs::remove_file(&flag) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LabError::io(&flag, e)),
                _ => Ok(()),
            }
        }
    }

    fn start_daemons(&self, i: usize) -> Result<()> {
        let node = self.lab.node(i);
        match self.spec.stack {
            Stack::Heartbeat => node.add_daemon(heartbeat_daemon()),
            Stack::Ours => {
                let cfg = "/etc/cluster/cluster.toml";
                if self.spec.qdisk {
                    node.add_daemon(Daemon::new(
                        "qdiskd",
                        &[
                            self.bins.path("qdiskd").display().to_string().as_str(),
                            "-f",
                            "-c",
                            cfg,
                        ],
                    ))?;
                }
                node.add_daemon(Daemon::new(
                    "fenced",
                    &[
                        self.bins.path("fenced").display().to_string().as_str(),
                        "-c",
                        cfg,
                    ],
                ))?;
                let mut argv: Vec<String> = vec![
                    self.bins.path("hbd").display().to_string(),
                    "--self-fence".into(),
                    "kill-cgroup".into(),
                    "--fenced-socket".into(),
                    "/run/fenced/fenced.sock".into(),
                ];
                if self.spec.qdisk {
                    argv.extend(["--qdisk-socket".into(), "/run/qdiskd/qdiskd.sock".into()]);
                }
                if self.spec.ping_node {
                    argv.extend(["--ping-votes".into(), "1".into()]);
                }
                if let Some((interval, restarts)) = self.spec.monitor {
                    argv.extend([
                        "--monitor-interval".into(),
                        format!("{}ms", interval.as_millis()),
                        "--max-restarts".into(),
                        restarts.to_string(),
                    ]);
                }
                node.add_daemon(Daemon::new("hbd", &argv))
            }
        }
    }

    /// The PID of daemon `name` (its process name) on node `i`.
    pub fn daemon_pid(&self, i: usize, name: &str) -> Option<u32> {
        self.lab.node(i).pids().into_iter().find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
    }

    /// `kill -9` of one daemon of node `i` (`hbd`, `fenced`, `qdiskd`): what it started
    /// keeps running.
    pub fn kill_daemon(&self, i: usize, name: &str) -> Result<()> {
        self.signal_daemon(i, name, rustix::process::Signal::KILL)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.daemon_pid(i, name).is_some() {
            if std::time::Instant::now() > deadline {
                return Err(LabError::Invalid(format!("{name} on node {i} did not die")));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.lab
            .timeline()
            .record("nemesis", format!("kill -9 {name} on node{i}"));
        Ok(())
    }

    /// Starts daemon `name` of node `i` again, as configured.
    pub fn restart_daemon(&self, i: usize, name: &str) -> Result<()> {
        let node = self.lab.node(i);
        let daemon = node
            .daemons()
            .into_iter()
            .find(|d| d.name == name)
            .ok_or_else(|| LabError::Invalid(format!("no daemon {name} on node {i}")))?;
        node.add_daemon(daemon)?;
        self.lab
            .timeline()
            .record("nemesis", format!("restart {name} on node{i}"));
        Ok(())
    }

    /// `kill -STOP` (`pause`) or `kill -CONT` of one daemon of node `i`.
    pub fn pause_daemon(&self, i: usize, name: &str, pause: bool) -> Result<()> {
        let signal = if pause {
            rustix::process::Signal::STOP
        } else {
            rustix::process::Signal::CONT
        };
        self.signal_daemon(i, name, signal)?;
        self.lab.timeline().record(
            "nemesis",
            format!(
                "{} {name} on node{i}",
                if pause { "pause" } else { "resume" }
            ),
        );
        Ok(())
    }

    fn signal_daemon(&self, i: usize, name: &str, signal: rustix::process::Signal) -> Result<()> {
        let pid = self
            .daemon_pid(i, name)
            .ok_or_else(|| LabError::Invalid(format!("{name} does not run on node {i}")))?;
        let pid = rustix::process::Pid::from_raw(pid as i32)
            .ok_or_else(|| LabError::Invalid(format!("bad pid {pid}")))?;
        rustix::process::kill_process(pid, signal)
            .map_err(|e| LabError::Invalid(format!("signal {name} on node {i}: {e}")))
    }

    /// Drops everything node `from` sends to node `to` on the heartbeat network, at `to`
    /// (a one-way cut: `to` no longer hears `from`; `from` still hears `to`, and the client
    /// reaches both).
    pub fn cut_one_way(&self, from: usize, to: usize) -> Result<()> {
        let source = self.lab.node(from).addr(Net::Heartbeat(0));
        let script = format!(
            "add table inet labcut\nadd chain inet labcut input {{ type filter hook input priority 0; }}\nadd rule inet labcut input ip saddr {source} drop\n"
        );
        let out = self
            .lab
            .node(to)
            .command("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(script.as_bytes())?;
                }
                child.wait_with_output()
            })
            .map_err(|e| LabError::io("nft", e))?;
        if !out.status.success() {
            return Err(LabError::Invalid(format!(
                "nft: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        self.lab
            .timeline()
            .record("nemesis", format!("one-way cut node{from} -> node{to}"));
        Ok(())
    }

    /// `hbctl --json status` on node `i` (our stack), or `None` when hbd does not answer.
    pub fn status(&self, i: usize) -> Option<serde_json::Value> {
        let hbctl = self.bins.path("hbctl").display().to_string();
        let out = self
            .lab
            .node(i)
            .output(&[hbctl.as_str(), "--json", "status"])
            .ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Runs `hbctl ARGS` on node `i` (our stack), as an administrator would there.
    pub fn hbctl(&self, i: usize, args: &[&str]) -> Result<std::process::Output> {
        let hbctl = self.bins.path("hbctl").display().to_string();
        let mut argv = vec![hbctl.as_str()];
        argv.extend_from_slice(args);
        self.lab.node(i).output(&argv)
    }

    /// What node `on` says of node `of` (`active`, `up`, `dead`, …): `hbctl nodestatus`
    /// for our stack, `cl_status nodestatus` for heartbeat.
    pub fn nodestatus(&self, on: usize, of: &str) -> String {
        let hbctl = self.bins.path("hbctl").display().to_string();
        let argv: Vec<&str> = match self.spec.stack {
            Stack::Ours => vec![hbctl.as_str(), "nodestatus", of],
            Stack::Heartbeat => vec!["cl_status", "nodestatus", of],
        };
        match self.lab.node(on).output(&argv) {
            Ok(o) => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            Err(e) => e.to_string(),
        }
    }

    /// The page the client gets from the floating IP (`served by web1`), if any.
    pub fn fetch(&self) -> Option<String> {
        let url = format!("http://{}/", self.vip);
        let out = self
            .lab
            .node(self.client())
            .output(&["curl", "-s", "--max-time", "0.3", url.as_str()])
            .ok()?;
        let body = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !body.is_empty()).then_some(body)
    }

    /// The web nodes that have the floating IP configured now. The nodes are asked one
    /// after the other, so a handover from web1 to web2 between the two questions would
    /// look like both at once: when a later node answers yes, every earlier one that said
    /// yes is asked again, and counts only if it still has it (it then had it while the
    /// later one did).
    pub fn vip_holders(&self) -> Vec<String> {
        let first: Vec<bool> = self.web_nodes().map(|i| self.holds_vip(i)).collect();
        let n = first.len();
        (0..n)
            .filter(|&k| first[k] && (!first[k + 1..].contains(&true) || self.holds_vip(k + 1)))
            .map(|k| format!("web{}", k + 1))
            .collect()
    }

    fn holds_vip(&self, i: usize) -> bool {
        self.lab
            .node(i)
            .output(&["ip", "-4", "-o", "addr", "show"])
            .is_ok_and(|out| {
                String::from_utf8_lossy(&out.stdout).contains(&format!(" {}/", self.vip))
            })
    }

    /// The fence records in fenced's history on node `i` (JSON lines), newest last.
    pub fn fence_history(&self, i: usize) -> Vec<serde_json::Value> {
        let Ok(dir) = self.private(i, "/var/lib/cluster") else {
            return Vec::new();
        };
        std::fs::read_to_string(dir.join("fence-history.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until `probe` holds, polling every 50 ms; the time it took.
    pub fn wait_for(
        &self,
        what: &str,
        within: Duration,
        mut probe: impl FnMut() -> bool,
    ) -> Result<Duration> {
        crate::wait::wait_until(within, Duration::from_millis(50), what, &mut probe)
    }

    /// Waits until the client gets the page from `host` (`web1` or `web2`).
    pub fn wait_served_by(&self, host: &str, within: Duration) -> Result<Duration> {
        let want = format!("served by {host}");
        self.wait_for(&format!("the page served by {host}"), within, || {
            self.fetch().is_some_and(|b| b == want)
        })
    }

    /// The last lines of every daemon log of the web nodes, for failure messages.
    /// Checks that every daemon of the stack runs on every web node that is powered on: a
    /// daemon that refused its configuration exits at once, and a cluster that serves
    /// without it (hbd alone still fails over) is not the cluster asked for. The error names
    /// the node and the daemon and quotes the end of its log.
    pub fn check_daemons(&self) -> Result<()> {
        let names: &[&str] = match (self.spec.stack, self.spec.qdisk) {
            (Stack::Heartbeat, _) => &[],
            (Stack::Ours, true) => &["qdiskd", "fenced", "hbd"],
            (Stack::Ours, false) => &["fenced", "hbd"],
        };
        let mut missing = Vec::new();
        for i in self.web_nodes() {
            let node = self.lab.node(i);
            for name in names {
                if self.daemon_pid(i, name).is_none() {
                    let log = node.log_dir().join(format!("lab-{name}.log"));
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(5).collect();
                    missing.push(format!(
                        "{name} is not running on {}; the end of {}:\n{}",
                        node.hostname(),
                        log.display(),
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    ));
                }
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(LabError::Invalid(missing.join("\n")))
        }
    }

    /// The last 30 lines of every web node's daemon logs.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for i in self.web_nodes() {
            let node = self.lab.node(i);
            let Ok(entries) = std::fs::read_dir(node.log_dir()) else {
                continue;
            };
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                s.push_str(&format!(
                    "--- {} {} ---\n{}\n",
                    node.hostname(),
                    e.file_name().to_string_lossy(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
        }
        s
    }
}

/// A timeline of one scenario, relative to the moment something was done (the crash).
#[derive(Debug, Default)]
pub struct Story {
    lines: Vec<(Duration, String, String)>,
}

impl Story {
    /// An empty story.
    pub fn new() -> Story {
        Story::default()
    }

    /// Records `what`, seen by `who`, `at` after the start.
    pub fn record(&mut self, at: Duration, who: &str, what: impl Into<String>) {
        self.lines.push((at, who.to_string(), what.into()));
        self.lines.sort_by_key(|(t, _, _)| *t);
    }

    /// The events: time, who, what.
    pub fn lines(&self) -> &[(Duration, String, String)] {
        &self.lines
    }

    /// When the first event containing `what` happened.
    pub fn when(&self, what: &str) -> Option<Duration> {
        self.lines
            .iter()
            .find(|(_, _, w)| w.contains(what))
            .map(|(t, _, _)| *t)
    }

    /// The story, one line per event: `+  1.234 s  web2     what`.
    pub fn render(&self) -> String {
        self.lines
            .iter()
            .map(|(t, who, what)| format!("  +{:>7.3} s  {who:<16} {what}\n", t.as_secs_f64()))
            .collect()
    }
}

/// What the failover scenario saw, for tests and the benchmark.
#[derive(Debug, Default)]
pub struct Failover {
    /// The timeline from the crash on: the survivor's daemons' own log lines (by their
    /// timestamps) and what the client saw.
    pub story: Story,
    /// The most nodes ever seen holding the floating IP at once (must be 1 at most).
    pub max_vip_holders: usize,
    /// Crash to the page served by the survivor.
    pub service_back: Duration,
}

/// Log lines of a node's daemons worth telling, by daemon: hbd's membership, quorum,
/// fencing and resource steps, qdiskd's master and votes, fenced's requests and results.
const TOLD: &[(&str, &[&str])] = &[
    (
        "hbd",
        &[
            "is dead",
            "quorate",
            "fence",
            "Taking over",
            "address added",
            "websrv\" [\"start",
            "Start of",
            "Releasing",
            "Stop of",
            "waits",
        ],
    ),
    ("qdiskd", &["master", "votes", "down", "evict"]),
    ("fenced", &["fence", "level", "quorum"]),
];

/// `2026-12-03T13:29:54.611286Z  INFO [target: ]message` → (time, message).
fn parse_log_line(line: &str) -> Option<(SystemTime, String)> {
    let (stamp, rest) = line.split_once(' ')?;
    let at = humantime::parse_rfc3339(stamp).ok()?;
    let rest = rest.trim_start();
    let (_level, message) = rest.split_once(' ')?;
    let message = message.trim_start();
    let message = match message.split_once(": ") {
        Some((target, m)) if target.contains("::") => m,
        _ => message,
    };
    Some((at, message.to_string()))
}

impl HaCluster {
    /// Adds the log lines worth telling ([`TOLD`]) of node `i`'s daemons, from `since`
    /// (wall clock) for `until`, to `story`, each at its own timestamp.
    pub fn add_logs(&self, i: usize, since: SystemTime, until: Duration, story: &mut Story) {
        let node = self.lab.node(i);
        let log_dir = node.log_dir();
        for (daemon, keys) in TOLD {
            let path = log_dir.join(format!("lab-{daemon}.log"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for line in text.lines() {
                let Some((at, message)) = parse_log_line(line) else {
                    continue;
                };
                let Ok(after) = at.duration_since(since) else {
                    continue;
                };
                if after <= until && keys.iter().any(|k| message.contains(k)) {
                    story.record(after, &format!("{} {daemon}", node.hostname()), message);
                }
            }
        }
    }

    /// Waits until `host` serves and holds the only floating IP (start-up or failback).
    pub fn wait_settled_on(&self, host: &str, within: Duration) -> Result<Duration> {
        let want = format!("served by {host}");
        let mut last = (None, Vec::new());
        self.wait_for(&format!("{host} alone serving"), within, || {
            last = (self.fetch(), self.vip_holders());
            last.0.as_deref() == Some(want.as_str()) && last.1 == [host]
        })
        .map_err(|e| {
            LabError::Invalid(format!(
                "{e}; last seen: page {:?}, floating IP on {:?}",
                last.0, last.1
            ))
        })
    }

    /// Crashes `victim` (links down, every process killed: a hung machine), then fetches
    /// the page from the client until the survivor serves it, sampling who holds the
    /// floating IP meanwhile. The story is the survivor's daemons' log lines from the crash
    /// on, by their own timestamps, with the client's view. Fails after `within`.
    pub fn crash_and_follow(&self, victim: usize, within: Duration) -> Result<Failover> {
        let (victim_name, survivor, survivor_name) = if victim == WEB1 {
            ("web1", WEB2, "web2")
        } else {
            ("web2", WEB1, "web1")
        };
        let mut f = Failover::default();
        let crash_wall = SystemTime::now();
        let start = Instant::now();
        self.lab.node(victim).crash()?;
        f.story.record(
            start.elapsed(),
            "lab",
            format!("{victim_name} crashed (links down, every process killed)"),
        );
        let want = format!("served by {survivor_name}");
        let answered;
        loop {
            if start.elapsed() > within {
                return Err(LabError::Timeout {
                    what: format!("the page from {survivor_name} after the crash of {victim_name}"),
                    after: within,
                });
            }
            let holders = self.vip_holders();
            f.max_vip_holders = f.max_vip_holders.max(holders.len());
            let asked = start.elapsed();
            if let Some(page) = self.fetch() {
                if page == want {
                    // The service is back from the moment the successful request was sent;
                    // the story runs to its answer (a request may wait out the takeover:
                    // the fence, the address, the start all happen before it is answered).
                    f.service_back = asked;
                    answered = start.elapsed();
                    f.story.record(
                        answered,
                        "client",
                        format!("http://{}/ answers: {page}", self.vip),
                    );
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.spec.stack == Stack::Ours {
            self.add_logs(survivor, crash_wall, answered, &mut f.story);
        }
        Ok(f)
    }
}
