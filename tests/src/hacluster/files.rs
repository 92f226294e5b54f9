//! Every node's files, written as an administrator would: ha.cf, authkeys, haresources,
//! resource.d/websrv, the cluster file for qdiskd and fenced, the fence agents and the
//! quorum disk.

use super::*;

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

impl HaCluster {
    pub(super) fn make_qdisk(&self) -> Result<()> {
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

    pub(super) fn private(&self, i: usize, dir: &str) -> Result<PathBuf> {
        self.lab
            .node(i)
            .private_dir(dir)
            .map(Path::to_path_buf)
            .ok_or_else(|| LabError::Invalid(format!("no private {dir} on node {i}")))
    }

    pub(super) fn configure(&self, i: usize) -> Result<()> {
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
}
