//! A lab node: a network namespace with its own hostname, private directories and a cgroup
//! holding every process it runs, plus the generated scripts that enter it and switch its
//! power.
//!
//! Processes enter a node through `enter.sh` (in the node's directory): it moves itself into
//! the node's cgroup, then `ip netns exec NS unshare --uts --mount --propagation private`,
//! sets the hostname, bind-mounts the node's private copies over the shared directories and
//! `exec`s the command, so the PID a caller gets is the command's own. `power.sh` is the
//! single implementation of power off/on, used both by [`Node`] and by the node's BMC
//! (ipmi_sim's `chassis_control` program): off takes the node off the network (links down,
//! addresses flushed), then kills every process in the cgroup and waits until they are gone;
//! on restores the links and starts the node's configured daemons again.
//!
//! Each node has its own boot id: `enter.sh` bind-mounts the node's `boot_id` file over
//! `/proc/sys/kernel/random/boot_id`, and power-on writes a new random one before the
//! daemons start, so a power cycle looks like a reboot to them and a daemon restart does not.

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::cgroup::Cgroup;
use crate::cmd::{describe, run_command, shell_join, shell_quote};
use crate::error::{LabError, Result};
use crate::netns::NetNs;
use crate::topology::Net;
use crate::wait::wait_until;

/// Directories every node gets a private copy of unless the lab is told otherwise:
/// configuration (`/etc/ha.d`, `/etc/cluster`), state (`/var/lib/heartbeat`,
/// `/var/lib/cluster`), runtime (`/run`, which also holds `/run/lock` for UUCP serial locks,
/// and `/dev/shm`) and logs (`/var/log`).
pub const DEFAULT_PRIVATE_DIRS: &[&str] = &[
    "/etc/ha.d",
    "/etc/cluster",
    "/var/lib/heartbeat",
    "/var/lib/cluster",
    "/var/log",
    "/run",
    "/dev/shm",
];

/// The kernel's boot id, which each node sees as its own (a bind mount in `enter.sh`).
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// A new random UUID at every read.
const RANDOM_UUID: &str = "/proc/sys/kernel/random/uuid";

/// A daemon a node runs at lab start and again at every power on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    /// Short name; its output goes to `/var/log/lab-NAME.log` inside the node.
    pub name: String,
    /// Program and arguments.
    pub argv: Vec<String>,
}

impl Daemon {
    /// A daemon called `name` running `argv`.
    pub fn new<S: AsRef<str>>(name: &str, argv: &[S]) -> Daemon {
        Daemon {
            name: name.to_string(),
            argv: argv.iter().map(|a| a.as_ref().to_string()).collect(),
        }
    }
}

/// Power state of a node as its BMC reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Running (possibly crashed or hung: a crash does not change the power state).
    On,
    /// Powered off: no processes, no links.
    Off,
}

/// One node of a lab. Made by [`crate::Lab`]; removed with it.
#[derive(Debug)]
pub struct Node {
    index: usize,
    hostname: String,
    ns: NetNs,
    cgroup: Cgroup,
    dir: PathBuf,
    private: Vec<(String, PathBuf)>,
    nets: Vec<Net>,
    daemons: Mutex<Vec<Daemon>>,
}

impl Node {
    /// Creates node `index` (1-based): its namespace `ns_name`, its cgroup at `cgroup`, and
    /// its directory `dir` holding the private copies of `private_dirs`.
    pub(crate) fn create(
        index: usize,
        hostname: &str,
        ns_name: &str,
        cgroup: PathBuf,
        dir: PathBuf,
        private_dirs: &[String],
    ) -> Result<Node> {
        std::fs::create_dir_all(&dir).map_err(|e| LabError::io(&dir, e))?;
        let mut private = Vec::new();
        for target in private_dirs {
            let local = dir.join(target.trim_start_matches('/').replace('/', "_"));
            std::fs::create_dir_all(&local).map_err(|e| LabError::io(&local, e))?;
            // The mount point must exist on the host; an empty directory is all we add.
            std::fs::create_dir_all(target).map_err(|e| LabError::io(target, e))?;
            if target == "/run" {
                let lock = local.join("lock");
                std::fs::create_dir_all(&lock).map_err(|e| LabError::io(&lock, e))?;
            }
            private.push((target.clone(), local));
        }
        let cgroup = Cgroup::create(cgroup)?;
        let ns = NetNs::create(ns_name)?;
        let node = Node {
            index,
            hostname: hostname.to_string(),
            ns,
            cgroup,
            dir,
            private,
            nets: Vec::new(),
            daemons: Mutex::new(Vec::new()),
        };
        std::fs::write(node.dir.join("power"), "1\n")
            .map_err(|e| LabError::io(node.dir.join("power"), e))?;
        let uuid =
            std::fs::read_to_string(RANDOM_UUID).map_err(|e| LabError::io(RANDOM_UUID, e))?;
        std::fs::write(node.boot_id_file(), uuid)
            .map_err(|e| LabError::io(node.boot_id_file(), e))?;
        node.write_enter_script()?;
        Ok(node)
    }

    /// Records that the node is wired to `net` (the switch made the link) and rewrites the
    /// power script, which must know every interface.
    pub(crate) fn add_net(&mut self, net: Net) -> Result<()> {
        self.nets.push(net);
        self.write_power_script()
    }

    /// 1-based index of the node in the lab.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The node's hostname (its UTS namespace), e.g. `node1`.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The node's network namespace.
    pub fn netns(&self) -> &NetNs {
        &self.ns
    }

    /// The node's cgroup (every process the node runs is in it).
    pub fn cgroup(&self) -> &Cgroup {
        &self.cgroup
    }

    /// The networks the node is wired to.
    pub fn nets(&self) -> &[Net] {
        &self.nets
    }

    /// The node's address on `net`.
    pub fn addr(&self, net: Net) -> Ipv4Addr {
        net.node_addr(self.index)
    }

    /// The node's working directory on the host (scripts, power state, private copies).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Host path of the node's private copy of `target` (e.g. `/etc/ha.d`), if private.
    /// Tests write a node's configuration there before starting its daemons.
    pub fn private_dir(&self, target: &str) -> Option<&Path> {
        self.private
            .iter()
            .find(|(t, _)| t == target)
            .map(|(_, local)| local.as_path())
    }

    /// Host path of the node's `/var/log`.
    pub fn log_dir(&self) -> PathBuf {
        self.private_dir("/var/log")
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.dir.join("log"))
    }

    /// The script that runs its arguments inside the node.
    pub fn enter_script(&self) -> PathBuf {
        self.dir.join("enter.sh")
    }

    /// The node's boot id as its processes read it from `/proc/sys/kernel/random/boot_id`:
    /// new at every power on (a power cycle is a reboot), unchanged by a crash of its
    /// processes or a daemon restart.
    pub fn boot_id(&self) -> Result<String> {
        let path = self.boot_id_file();
        std::fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(|e| LabError::io(&path, e))
    }

    fn boot_id_file(&self) -> PathBuf {
        self.dir.join("boot_id")
    }

    /// The node's power program (`power.sh get power | set power 0|1 | set reset 1 |
    /// crash`), shared with its BMC.
    pub fn power_script(&self) -> PathBuf {
        self.dir.join("power.sh")
    }

    /// A command that runs `program` inside the node (cgroup, namespaces, private dirs).
    /// The child joins the node's cgroup shortly after it starts: call
    /// [`Node::wait_joined`] before crashing or pausing the node if that matters.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.enter_script());
        command.arg(program);
        command
    }

    /// Runs `argv` inside the node to completion and returns its output, whatever its
    /// exit status.
    pub fn output<S: AsRef<str>>(&self, argv: &[S]) -> Result<Output> {
        let mut command = self.argv_command(argv)?;
        command.stdin(Stdio::null());
        command.output().map_err(|e| LabError::Command {
            command: describe(&command),
            reason: format!("cannot start: {e}"),
        })
    }

    /// Runs `argv` inside the node; error unless it exits 0. Returns its standard output.
    pub fn run<S: AsRef<str>>(&self, argv: &[S]) -> Result<String> {
        let mut command = self.argv_command(argv)?;
        command.stdin(Stdio::null());
        let output = run_command(&mut command)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Starts `argv` inside the node and hands back the child (the PID is the program's).
    /// Returns once the child is in the node's cgroup, so a crash right after cannot miss it.
    pub fn spawn<S: AsRef<str>>(&self, argv: &[S]) -> Result<Child> {
        let mut command = self.argv_command(argv)?;
        command.stdin(Stdio::null());
        let mut child = command.spawn().map_err(|e| LabError::Command {
            command: describe(&command),
            reason: format!("cannot start: {e}"),
        })?;
        self.wait_joined(&mut child)?;
        Ok(child)
    }

    /// Waits until `child` (started with [`Node::command`]) has joined the node's cgroup,
    /// which `enter.sh` does as its first step; until then a crash could miss it.
    pub fn wait_joined(&self, child: &mut Child) -> Result<()> {
        let pid = child.id();
        let mut exited = false;
        wait_until(
            Duration::from_secs(5),
            Duration::from_millis(1),
            "a spawned process to join its node's cgroup",
            || {
                exited = matches!(child.try_wait(), Ok(Some(_)));
                exited || self.cgroup.pids().contains(&pid)
            },
        )
        .map(drop)
    }

    fn argv_command<S: AsRef<str>>(&self, argv: &[S]) -> Result<Command> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| LabError::Invalid("empty command line".into()))?;
        let mut command = self.command(program.as_ref());
        command.args(args.iter().map(AsRef::as_ref));
        Ok(command)
    }

    /// Adds a daemon to the node's configuration and starts it now (if the node is on).
    /// It is started again at every power on.
    pub fn add_daemon(&self, daemon: Daemon) -> Result<()> {
        if daemon.argv.is_empty() || daemon.name.is_empty() || daemon.name.contains('/') {
            return Err(LabError::Invalid(format!("bad daemon {daemon:?}")));
        }
        let script = {
            let mut daemons = self.daemons.lock().unwrap_or_else(|p| p.into_inner());
            daemons.retain(|d| d.name != daemon.name);
            daemons.push(daemon.clone());
            self.write_daemons_script(&daemons)?;
            self.start_line(&daemon)
        };
        if self.power()? == Power::On {
            // A process joining a frozen cgroup freezes at once: the start line would never
            // return. The daemon is configured; it starts at the next power on.
            if self.is_paused() {
                return Err(LabError::Invalid(format!(
                    "{} is paused (frozen): {} is configured but not started; resume the node first",
                    self.hostname, daemon.name
                )));
            }
            run_command(Command::new("bash").args(["-c", &script]))?;
        }
        Ok(())
    }

    /// The daemons configured on this node.
    pub fn daemons(&self) -> Vec<Daemon> {
        self.daemons
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// PIDs of every process the node runs now.
    pub fn pids(&self) -> Vec<u32> {
        self.cgroup.pids()
    }

    /// SIGKILLs every process of the node and waits until they are gone. The node stays on
    /// the network: this is a crash of the daemons, not of the machine (see [`Node::crash`]).
    pub fn kill_processes(&self) -> Result<()> {
        self.cgroup.kill_all()
    }

    /// Crashes the machine: takes it off the network (links down, addresses removed), then
    /// SIGKILLs all its processes. The power state stays on, as for a hung machine; a BMC
    /// power cycle or [`Node::power_cycle`] brings it back.
    pub fn crash(&self) -> Result<()> {
        self.power_program(&["crash"]).map(drop)
    }

    /// Freezes every process of the node (cgroup freezer).
    pub fn pause(&self) -> Result<()> {
        self.cgroup.freeze()
    }

    /// Thaws the node's processes.
    pub fn resume(&self) -> Result<()> {
        self.cgroup.thaw()
    }

    /// Whether the node's processes are frozen.
    pub fn is_paused(&self) -> bool {
        self.cgroup.is_frozen()
    }

    /// Powers the node off, exactly as its BMC does.
    pub fn power_off(&self) -> Result<()> {
        self.power_program(&["set", "power", "0"]).map(drop)
    }

    /// Powers the node on (links up, daemons started), exactly as its BMC does.
    /// Does nothing if it is on.
    pub fn power_on(&self) -> Result<()> {
        self.power_program(&["set", "power", "1"]).map(drop)
    }

    /// Off, then on.
    pub fn power_cycle(&self) -> Result<()> {
        self.power_program(&["set", "reset", "1"]).map(drop)
    }

    /// The node's power state.
    pub fn power(&self) -> Result<Power> {
        let path = self.dir.join("power");
        let text = std::fs::read_to_string(&path).map_err(|e| LabError::io(&path, e))?;
        Ok(if text.trim() == "0" {
            Power::Off
        } else {
            Power::On
        })
    }

    fn power_program(&self, args: &[&str]) -> Result<String> {
        let output = run_command(Command::new(self.power_script()).args(args))?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn write_enter_script(&self) -> Result<()> {
        let mut inner = format!("hostname {}", shell_quote(&self.hostname));
        for (target, local) in &self.private {
            inner.push_str(&format!(
                " && mount --bind {} {}",
                shell_quote(&local.display().to_string()),
                shell_quote(target)
            ));
        }
        // The node's own boot id (a file, so it changes only when power-on rewrites it).
        inner.push_str(&format!(
            " && mount --bind {} {BOOT_ID}",
            shell_quote(&self.boot_id_file().display().to_string())
        ));
        // `ip netns exec` mounts a fresh /sys, hiding the cgroup file system; a node should
        // look like a machine, where daemons find their cgroup under /sys/fs/cgroup.
        inner.push_str(
            " && { mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup; }",
        );
        inner.push_str(" && exec \"$@\"");
        let procs = self.cgroup.procs_file();
        let script = format!(
            "#!/bin/bash\n\
             # Generated by the lab: runs its arguments inside node {host} (cgroup, network,\n\
             # UTS and mount namespaces, private directories). The PID stays the command's.\n\
             [ $# -gt 0 ] || {{ echo 'usage: enter.sh PROGRAM [ARGS...]' >&2; exit 2; }}\n\
             echo $$ > {procs} || {{ echo 'lab: cannot join the cgroup of {host}' >&2; exit 125; }}\n\
             exec ip netns exec {ns} unshare --uts --mount --propagation private -- \
             /bin/bash -c {inner} {host} \"$@\"\n",
            host = self.hostname,
            procs = shell_quote(&procs.display().to_string()),
            ns = shell_quote(self.ns.name()),
            inner = shell_quote(&inner),
        );
        write_script(&self.enter_script(), &script)
    }

    fn start_line(&self, daemon: &Daemon) -> String {
        let log = format!("{}/lab-{}.log", self.log_dir().display(), daemon.name);
        // The subshell joins the cgroup before setsid forks, so the daemon is in it by the
        // time this line returns (a crash right after cannot miss it).
        format!(
            "( echo $BASHPID > {} && exec setsid -f {} {} </dev/null >>{} 2>&1 )\n",
            shell_quote(&self.cgroup.procs_file().display().to_string()),
            shell_quote(&self.enter_script().display().to_string()),
            shell_join(&daemon.argv),
            shell_quote(&log)
        )
    }

    fn write_daemons_script(&self, daemons: &[Daemon]) -> Result<()> {
        let mut script = String::from(
            "#!/bin/bash\n# Generated by the lab: starts the node's configured daemons, detached.\n",
        );
        for daemon in daemons {
            script.push_str(&self.start_line(daemon));
        }
        write_script(&self.dir.join("daemons.sh"), &script)
    }

    fn write_power_script(&self) -> Result<()> {
        let ns = shell_quote(self.ns.name());
        let mut net_off = String::new();
        let mut net_on = String::new();
        for net in &self.nets {
            let ifname = net.node_ifname();
            let addr = format!("{}/{}", net.node_addr(self.index), Net::PREFIX_LEN);
            net_off.push_str(&format!(
                "link set {ifname} down\naddr flush dev {ifname}\n"
            ));
            net_on.push_str(&format!(
                "addr replace {addr} dev {ifname}\nlink set {ifname} up\n"
            ));
        }
        if !self.daemons_script().exists() {
            self.write_daemons_script(&[])?;
        }
        let cg = shell_quote(&self.cgroup.path().display().to_string());
        let state = shell_quote(&self.dir.join("power").display().to_string());
        let disk_power = shell_quote(&self.disk_power_file().display().to_string());
        // The BMC runs this for every status query and power command, so it is POSIX sh
        // (dash starts in a fifth of bash's time) and answers `get power` with builtins
        // only: the fence agents' benchmarks measure it as part of the device. Only
        // power-on, off the fencing path, needs bash (see `power_on_script`).
        let script = format!(
            r#"#!/bin/sh
# Generated by the lab: power control of node {host}. Called by its BMC (ipmi_sim
# chassis_control) as `power.sh get power`, `power.sh set power 0|1`, `power.sh set reset 1`,
# and by the lab (also `power.sh crash`).
CG={cg}
STATE={state}
# 0 while the node is off or crashed: the lab's shared disk then fails the node's I/O,
# also requests hanging in a disk stall (a machine that lost power loses its queued
# writes), so no write of the node lands after this line.
DISK_POWER={disk_power}
# One `ip` process per change of all links.
net_off() {{
  ip -n {ns} -batch - <<'IP'
{net_off}IP
}}
# Kills every process of the node and waits until the cgroup is empty: checked with
# builtins first (SIGKILLed processes are usually gone within a millisecond), then with
# 1 ms sleeps, for at most about 10 s.
kill_all() {{
  echo 0 > "$CG/cgroup.freeze" 2>/dev/null
  echo 1 > "$CG/cgroup.kill" || return 1
  i=0
  while [ "$i" -lt 10000 ]; do
    while read -r key value; do
      if [ "$key" = populated ] && [ "$value" = 0 ]; then return 0; fi
    done < "$CG/cgroup.events"
    i=$((i + 1))
    [ "$i" -gt 200 ] && sleep 0.001
  done
  echo "lab: processes of {host} did not die" >&2; return 1
}}
off() {{ net_off; echo 0 > "$DISK_POWER"; kill_all || exit 1; echo 0 > "$STATE"; }}
case "$1 $2" in
  "get power") read -r power < "$STATE"; echo "power:$power" ;;
  "set power") if [ "$3" = 0 ]; then off; else exec bash {on}; fi ;;
  "set reset") off; exec bash {on} ;;
  "crash ") net_off; echo 0 > "$DISK_POWER"; kill_all ;;
  *) echo "usage: $0 get power | set power 0|1 | set reset 1 | crash" >&2; exit 2 ;;
esac
"#,
            host = self.hostname,
            on = shell_quote(&self.power_on_script().display().to_string()),
        );
        write_script(&self.power_script(), &script)?;
        let on = format!(
            r#"#!/bin/bash
# Generated by the lab: powers node {host} on (links up, daemons started), unless it is on.
# Run by power.sh.
STATE={state}
DISK_POWER={disk_power}
CG={cg}
# ipmi_sim's pipe and UDP socket must not leak into the node's processes: the daemons
# are started from a subshell that closes every descriptor above 2 first.
close_fds() {{
  for fd in /proc/$BASHPID/fd/*; do n=${{fd##*/}}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-"; done 2>/dev/null
}}
[ "$(cat "$STATE")" = 1 ] && exit 0
ip -n {ns} -batch - <<'IP'
{net_on}IP
# A new boot: a new boot id (written in place: the node's processes bind-mount this file).
cat {RANDOM_UUID} > {boot_id}
echo 1 > "$DISK_POWER"
# A machine that powers on runs: a freeze left from before the power off ends here.
echo 0 > "$CG/cgroup.freeze" 2>/dev/null
echo 1 > "$STATE"
( close_fds; exec bash {daemons} </dev/null >/dev/null 2>&1 )
"#,
            host = self.hostname,
            daemons = shell_quote(&self.daemons_script().display().to_string()),
            boot_id = shell_quote(&self.boot_id_file().display().to_string()),
        );
        write_script(&self.power_on_script(), &on)
    }

    /// The file saying whether the node's disk I/O can land: `0` from the moment a power
    /// off or crash begins until the next power on (missing: it can).
    pub fn disk_power_file(&self) -> PathBuf {
        self.dir.join("disk-power")
    }

    /// Whether the node is cut off the shared disk by power: off, or crashed and not yet
    /// powered on again.
    pub fn disk_powered_off(&self) -> bool {
        std::fs::read(self.disk_power_file()).is_ok_and(|b| b.first() == Some(&b'0'))
    }

    fn power_on_script(&self) -> PathBuf {
        self.dir.join("power-on.sh")
    }

    fn daemons_script(&self) -> PathBuf {
        self.dir.join("daemons.sh")
    }

    /// Kills the node's processes and removes its cgroup and namespace (teardown).
    pub(crate) fn destroy(&mut self) -> Result<()> {
        let killed = self.cgroup.destroy();
        let deleted = self.ns.delete();
        killed.and(deleted)
    }
}

fn write_script(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| LabError::io(path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| LabError::io(path, e))
}
