//! [`Lab`] and its builder: the whole cluster, up in one call and down on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bmc::{Bmc, BmcCredentials};
use crate::cgroup::{cgroup2_root, Cgroup};
use crate::cmd::run_command;
use crate::disk::SharedDisk;
use crate::error::{LabError, Result};
use crate::faultdisk::{DiskFault, FaultControl};
use crate::node::{Node, DEFAULT_PRIVATE_DIRS};
use crate::owner::Owner;
use crate::portstate::PortProbe;
use crate::serial::SerialPair;
use crate::snmp::{SnmpAgent, SnmpCredentials};
use crate::switch::Switch;
use crate::timeline::Timeline;
use crate::topology::{Net, MAX_NODES};
use crate::unique::unique_name;
use crate::watchdog::{Expiry, LabWatchdog};

/// How long helper daemons (ipmi_sim, snmpd) get to answer after start.
const READY: Duration = Duration::from_secs(10);

/// What lab to build. Start with [`Lab::builder`].
#[derive(Debug, Clone)]
pub struct LabBuilder {
    nodes: usize,
    media: u8,
    disk: Option<(u64, u32)>,
    bmcs: bool,
    snmp: bool,
    private_dirs: Vec<String>,
    bmc_credentials: BmcCredentials,
    snmp_credentials: SnmpCredentials,
    hostnames: Vec<String>,
    bmc_power_stub: bool,
    watchdogs: bool,
    san: bool,
}

impl Default for LabBuilder {
    fn default() -> Self {
        LabBuilder {
            nodes: 2,
            media: 1,
            disk: None,
            bmcs: false,
            snmp: false,
            private_dirs: DEFAULT_PRIVATE_DIRS.iter().map(|s| s.to_string()).collect(),
            bmc_credentials: BmcCredentials::default(),
            snmp_credentials: SnmpCredentials::default(),
            hostnames: Vec::new(),
            bmc_power_stub: false,
            watchdogs: false,
            san: false,
        }
    }
}

impl LabBuilder {
    /// Number of nodes, 1 to 99 (default 2).
    pub fn nodes(mut self, n: usize) -> Self {
        self.nodes = n;
        self
    }

    /// Hostnames of the first nodes, in order (the others stay `nodeN`), e.g.
    /// `["web1", "web2", "client"]`.
    pub fn hostnames<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.hostnames = names.iter().map(|n| n.as_ref().to_string()).collect();
        self
    }

    /// Number of independent heartbeat media, 1 or 2 (default 1).
    pub fn media(mut self, media: u8) -> Self {
        self.media = media;
        self
    }

    /// A shared disk of `size` bytes with `sector_size`-byte sectors (512 or 4096), with
    /// per-node fault injection.
    pub fn shared_disk(mut self, size: u64, sector_size: u32) -> Self {
        self.disk = Some((size, sector_size));
        self
    }

    /// A BMC (ipmi_sim) per node on the management network.
    pub fn bmcs(mut self, on: bool) -> Self {
        self.bmcs = on;
        self
    }

    /// BMCs whose chassis power is only a state in a file (no node is switched): for
    /// measuring fence agents without the simulated power-off's own time.
    pub fn bmc_power_stub(mut self, on: bool) -> Self {
        self.bmc_power_stub = on;
        self
    }

    /// The BMCs' login (default `admin` / `qlab-ipmi`).
    pub fn bmc_credentials(mut self, user: &str, password: &str) -> Self {
        self.bmc_credentials = BmcCredentials {
            user: user.into(),
            password: password.into(),
        };
        self
    }

    /// An SNMP agent (snmpd) on the switch.
    pub fn snmp(mut self, on: bool) -> Self {
        self.snmp = on;
        self
    }

    /// A hardware watchdog per node (default off): a file served by the lab
    /// ([`LabWatchdog`], at `node.dir()/watchdog/watchdog`, visible inside the node) that
    /// answers the Linux watchdog API and, when it expires, resets the node: its processes
    /// are frozen, its hanging shared-disk requests fail, and it is powered off as its BMC
    /// does. See [`Lab::watchdog`].
    pub fn watchdogs(mut self, on: bool) -> Self {
        self.watchdogs = on;
        self
    }

    /// A storage network ([`Net::San`], default off): each node's shared-disk I/O passes its
    /// SAN switch port, so disabling that port (by `ip` or SNMP, i.e. fabric fencing) makes
    /// every request of the node fail from that moment on, hanging ones included.
    pub fn san(mut self, on: bool) -> Self {
        self.san = on;
        self
    }

    /// The SNMP agent's credentials.
    pub fn snmp_credentials(mut self, credentials: SnmpCredentials) -> Self {
        self.snmp_credentials = credentials;
        self
    }

    /// Directories each node gets a private copy of (replaces
    /// [`DEFAULT_PRIVATE_DIRS`]). Missing mount points are created (empty) on the host.
    pub fn private_dirs<S: AsRef<str>>(mut self, dirs: &[S]) -> Self {
        self.private_dirs = dirs.iter().map(|d| d.as_ref().to_string()).collect();
        self
    }

    /// Builds the lab. On error, everything made so far is removed again.
    pub fn build(self) -> Result<Lab> {
        if self.nodes == 0 || self.nodes > MAX_NODES {
            return Err(LabError::Invalid(format!(
                "{} nodes: a lab has 1 to {MAX_NODES}",
                self.nodes
            )));
        }
        if !(1..=2).contains(&self.media) {
            return Err(LabError::Invalid(format!(
                "{} heartbeat media: a lab has 1 or 2",
                self.media
            )));
        }
        for name in &self.hostnames {
            let valid = !name.is_empty()
                && name.len() <= 63
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !valid {
                return Err(LabError::Invalid(format!(
                    "hostname {name:?}: use letters, digits, '-' and '.' (at most 63)"
                )));
            }
        }
        for dir in &self.private_dirs {
            if !dir.starts_with('/') || dir == "/" {
                return Err(LabError::Invalid(format!(
                    "private dir {dir:?} must be an absolute path below /"
                )));
            }
        }
        let started = Instant::now();
        let id = unique_name("L");
        let dir = std::env::temp_dir().join(&id);
        std::fs::create_dir(&dir).map_err(|e| LabError::io(&dir, e))?;
        Owner::me()
            .write_to(&dir)
            .map_err(|e| LabError::io(&dir, e))?;
        let timeline = Timeline::new();
        let mut lab = Lab {
            id: id.clone(),
            dir,
            cgroup: None,
            infra: None,
            timeline,
            switch: None,
            nodes: Vec::new(),
            disk: None,
            watchdogs: Vec::new(),
            bmcs: Vec::new(),
            snmp: None,
            serials: Mutex::new(Vec::new()),
            extra_bridges: Mutex::new(Vec::new()),
            up_time: Duration::ZERO,
            torn_down: false,
            gate_watcher: None,
        };
        let lab_cgroup = Cgroup::create(cgroup2_root()?.join(&id))?;
        let infra = Cgroup::create(lab_cgroup.path().join("infra"))?;
        lab.cgroup = Some(lab_cgroup.clone());
        lab.infra = Some(infra.clone());

        let mut nets: Vec<Net> = (0..self.media).map(Net::Heartbeat).collect();
        nets.push(Net::Mgmt);
        if self.san {
            if self.disk.is_none() {
                return Err(LabError::Invalid(
                    "a storage network needs a shared disk (LabBuilder::shared_disk)".into(),
                ));
            }
            nets.push(Net::San);
        }
        lab.switch = Some(Switch::create(&format!("{id}-sw"), &nets)?);
        for index in 1..=self.nodes {
            let hostname = self
                .hostnames
                .get(index - 1)
                .cloned()
                .unwrap_or_else(|| format!("node{index}"));
            let node = Node::create(
                index,
                &hostname,
                &format!("{id}-n{index}"),
                lab_cgroup.path().join(format!("n{index}")),
                lab.dir.join(format!("node{index}")),
                &self.private_dirs,
            )?;
            lab.nodes.push(node);
            for net in &nets {
                if let (Some(switch), Some(node)) = (lab.switch.as_ref(), lab.nodes.last_mut()) {
                    switch.connect(index, node.netns(), *net)?;
                    node.add_net(*net)?;
                }
            }
        }
        lab.timeline
            .record("lab", format!("{} nodes wired to {:?}", self.nodes, nets));
        if let Some((size, sector)) = self.disk {
            lab.disk = Some(SharedDisk::create(
                &lab.dir.join("disk"),
                self.nodes,
                size,
                sector,
            )?);
            lab.timeline.record(
                "lab",
                format!("shared disk {size} bytes, {sector}-byte sectors"),
            );
            lab.gate_disk(self.san)?;
        }
        if self.watchdogs {
            for index in 1..=lab.nodes.len() {
                // Mounted before any of the node's processes starts: they enter a private
                // mount namespace, a copy of the host's mounts at that moment.
                let node = lab.try_node(index)?;
                let watchdog = LabWatchdog::mount(&node.dir().join("watchdog"))?;
                let disk = match &lab.disk {
                    Some(disk) => Some(disk.fault_control(index)?),
                    None => None,
                };
                watchdog.set_expiry_action(reset_node(node, disk, lab.timeline.clone()));
                lab.watchdogs.push(watchdog);
            }
            lab.timeline.record("lab", "a watchdog per node");
        }
        if self.bmcs {
            for node in &lab.nodes {
                let bmc_dir = lab.dir.join(format!("bmc{}", node.index()));
                let switch = lab.switch()?.netns();
                let bmc = Bmc::start(
                    node,
                    switch,
                    &infra,
                    &bmc_dir,
                    &self.bmc_credentials,
                    self.bmc_power_stub,
                )?;
                lab.bmcs.push(bmc);
            }
            for bmc in &mut lab.bmcs {
                bmc.wait_ready(READY)?;
            }
            lab.timeline.record("lab", "BMCs answer");
        }
        if self.snmp {
            let snmp_dir = lab.dir.join("snmp");
            let switch = lab.switch()?.netns();
            let mut agent = SnmpAgent::start(switch, &infra, &snmp_dir, &self.snmp_credentials)?;
            agent.wait_ready(READY)?;
            lab.snmp = Some(agent);
            lab.timeline.record("lab", "snmpd answers");
        }
        lab.up_time = started.elapsed();
        lab.timeline
            .record("lab", format!("up in {:?}", lab.up_time));
        Ok(lab)
    }
}

/// A whole cluster on this machine: nodes, switch, shared disk, watchdogs, BMCs, SNMP agent,
/// serial lines. Everything is removed on drop (also when a test panics; then the nodes' logs
/// and the timeline are copied out first, see [`Lab::collect_logs`]).
#[derive(Debug)]
pub struct Lab {
    id: String,
    dir: PathBuf,
    cgroup: Option<Cgroup>,
    infra: Option<Cgroup>,
    timeline: Timeline,
    switch: Option<Switch>,
    nodes: Vec<Node>,
    disk: Option<SharedDisk>,
    watchdogs: Vec<LabWatchdog>,
    bmcs: Vec<Bmc>,
    snmp: Option<SnmpAgent>,
    serials: Mutex<Vec<SerialPair>>,
    pub(crate) extra_bridges: Mutex<Vec<String>>,
    up_time: Duration,
    torn_down: bool,
    /// Stop flag and thread of the loop that fails hanging disk requests of nodes cut off
    /// the disk ([`Lab::gate_disk`]).
    gate_watcher: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl Lab {
    /// A builder with the defaults: 2 nodes, 1 heartbeat medium, management network, no
    /// disk, no watchdogs, no BMCs, no SNMP agent.
    pub fn builder() -> LabBuilder {
        LabBuilder::default()
    }

    /// The lab's unique id (prefix of all its names).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The lab's directory on the host.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How long [`LabBuilder::build`] took.
    pub fn up_time(&self) -> Duration {
        self.up_time
    }

    /// The event timeline.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// Records an event from the test on the timeline.
    pub fn note(&self, what: impl Into<String>) {
        self.timeline.record("test", what);
    }

    /// All nodes, in index order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Node `index` (1-based).
    ///
    /// # Panics
    /// If there is no such node (a bug in the test).
    pub fn node(&self, index: usize) -> &Node {
        match self.nodes.get(index.wrapping_sub(1)) {
            Some(node) => node,
            None => panic!("lab has nodes 1..={}, not {index}", self.nodes.len()),
        }
    }

    pub(crate) fn try_node(&self, index: usize) -> Result<&Node> {
        self.nodes
            .get(index.wrapping_sub(1))
            .ok_or_else(|| LabError::Invalid(format!("no node {index}")))
    }

    /// The switch.
    pub fn switch(&self) -> Result<&Switch> {
        self.switch
            .as_ref()
            .ok_or_else(|| LabError::Invalid("the lab has no switch".into()))
    }

    /// The shared disk, if the lab has one.
    pub fn disk(&self) -> Result<&SharedDisk> {
        self.disk
            .as_ref()
            .ok_or_else(|| LabError::Invalid("the lab was built without a shared disk".into()))
    }

    /// Node `index`'s watchdog (1-based), if the lab was built with
    /// [`LabBuilder::watchdogs`]. Put its [`LabWatchdog::path`] in the node's configuration
    /// as the watchdog device.
    pub fn watchdog(&self, index: usize) -> Result<&LabWatchdog> {
        self.watchdogs.get(index.wrapping_sub(1)).ok_or_else(|| {
            LabError::Invalid(format!(
                "no watchdog for node {index} (build the lab with .watchdogs(true))"
            ))
        })
    }

    /// Node `index`'s BMC.
    pub fn bmc(&self, index: usize) -> Result<&Bmc> {
        self.bmcs
            .iter()
            .find(|b| b.node() == index)
            .ok_or_else(|| LabError::Invalid(format!("no BMC for node {index}")))
    }

    /// The switch's SNMP agent.
    pub fn snmp(&self) -> Result<&SnmpAgent> {
        self.snmp
            .as_ref()
            .ok_or_else(|| LabError::Invalid("the lab was built without snmp".into()))
    }

    /// Makes a serial line (PTY pair) called `name`; returns its two ends.
    pub fn serial_pair(&self, name: &str) -> Result<(PathBuf, PathBuf)> {
        let infra = self
            .infra
            .as_ref()
            .ok_or_else(|| LabError::Invalid("lab has no cgroup".into()))?;
        let pair = SerialPair::start(name, &self.dir.join("serial"), infra)?;
        let ends = (pair.a().to_path_buf(), pair.b().to_path_buf());
        self.timeline.record(
            "lab",
            format!(
                "serial {name}: {} <-> {}",
                ends.0.display(),
                ends.1.display()
            ),
        );
        self.serials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(pair);
        Ok(ends)
    }

    /// Copies every node's logs, the helpers' logs and the timeline into `dest`.
    pub fn collect_logs(&self, dest: &Path) -> Result<()> {
        std::fs::create_dir_all(dest).map_err(|e| LabError::io(dest, e))?;
        for node in &self.nodes {
            copy_tree(&node.log_dir(), &dest.join(node.hostname()))?;
        }
        for entry in std::fs::read_dir(&self.dir)
            .map_err(|e| LabError::io(&self.dir, e))?
            .flatten()
        {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("bmc") || name == "snmp" || name == "serial" {
                for log in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                    if log.file_name().to_string_lossy().ends_with(".log") {
                        let to = dest.join(format!("{name}-{}", log.file_name().to_string_lossy()));
                        let _ = std::fs::copy(log.path(), to);
                    }
                }
            }
        }
        let timeline = dest.join("timeline.log");
        std::fs::write(&timeline, self.timeline.render()).map_err(|e| LabError::io(&timeline, e))
    }

    /// Removes everything the lab made: processes, disk, helpers, namespaces, cgroups and
    /// files. Called by drop; call it directly to see errors or to time it.
    pub fn teardown(&mut self) -> Result<()> {
        if self.torn_down {
            return Ok(());
        }
        self.torn_down = true;
        let mut first: Option<LabError> = None;
        let mut keep = |r: Result<()>| {
            if let Err(e) = r {
                eprintln!("lab {}: teardown: {e}", self.id);
                first.get_or_insert(e);
            }
        };
        if let Some((stop, thread)) = self.gate_watcher.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
        // No watchdog may power a node off while the lab is being removed.
        for watchdog in &mut self.watchdogs {
            watchdog.stop();
        }
        // Release hanging disk I/O first, or killed processes stay in state D.
        if let Some(disk) = &self.disk {
            for node in &self.nodes {
                let _ = disk.set_fault(node.index(), crate::faultdisk::DiskFault::Healthy);
            }
        }
        for node in &self.nodes {
            keep(node.cgroup().destroy());
        }
        for bmc in &mut self.bmcs {
            bmc.stop();
        }
        if let Some(snmp) = &mut self.snmp {
            snmp.stop();
        }
        for pair in self
            .serials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter_mut()
        {
            pair.stop();
        }
        if let Some(infra) = &self.infra {
            keep(infra.destroy());
        }
        // Unmounted once the nodes' processes, which may hold them open, are gone.
        for mut watchdog in std::mem::take(&mut self.watchdogs) {
            keep(watchdog.destroy());
        }
        if let Some(mut disk) = self.disk.take() {
            keep(disk.destroy());
        }
        for node in &mut self.nodes {
            keep(node.destroy());
        }
        if let Some(mut switch) = self.switch.take() {
            keep(switch.destroy());
        }
        if let Some(cgroup) = &self.cgroup {
            keep(cgroup.destroy());
        }
        keep(std::fs::remove_dir_all(&self.dir).map_err(|e| LabError::io(&self.dir, e)));
        first.map_or(Ok(()), Err)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.torn_down {
            let base = std::env::var_os("LAB_LOG_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("lab-logs"));
            let dest = base.join(&self.id);
            match self.collect_logs(&dest) {
                Ok(()) => eprintln!(
                    "lab {}: logs and timeline kept in {}",
                    self.id,
                    dest.display()
                ),
                Err(e) => eprintln!("lab {}: could not collect logs: {e}", self.id),
            }
        }
        let _ = self.teardown();
    }
}

impl Lab {
    /// Cuts each node off the shared disk while it is powered off or crashed (its
    /// `disk-power` file says `0`, see [`Node::disk_power_file`]) and, with a storage
    /// network, while its SAN switch port is down: checked at the moment each request would
    /// be served, so nothing lands after the cut, and by a watcher every few milliseconds
    /// for requests already hanging in a stall (they fail, as a powered-off machine's
    /// queued writes do, and its killed processes can leave state D).
    fn gate_disk(&mut self, san: bool) -> Result<()> {
        let probe = match (san, &self.switch) {
            (true, Some(switch)) => Some(Arc::new(PortProbe::open(switch.netns().name())?)),
            _ => None,
        };
        let disk = self.disk()?;
        let mut controls = Vec::new();
        for node in &self.nodes {
            let control = disk.fault_control(node.index())?;
            let power = node.disk_power_file();
            let port = Net::San.port_name(node.index());
            let probe = probe.clone();
            control.set_gate(Arc::new(move || {
                let off = std::fs::read(&power).is_ok_and(|b| b.first() == Some(&b'0'));
                // A port that cannot be asked about (gone at teardown) counts as down.
                off || probe
                    .as_ref()
                    .is_some_and(|p| !p.is_up(&port).unwrap_or(false))
            }));
            controls.push(control);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("disk-gate".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    for control in &controls {
                        control.recheck_gate();
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
            .map_err(|e| LabError::Invalid(format!("cannot start the disk gate thread: {e}")))?;
        self.gate_watcher = Some((stop, thread));
        Ok(())
    }
}

/// The expiry action of node `node`'s watchdog: a hardware reset. The node's processes are
/// frozen at once (they run no more code), its shared-disk requests that hang fail instead of
/// landing (a reset machine's queued writes die with it), its processes are killed while
/// frozen, and it is powered off exactly as its BMC does (`power.sh set power 0`: links down,
/// every process gone). Then its disk is healthy again (unless the test had made it fail),
/// and the timeline says "watchdog expired on NODE: powered off".
fn reset_node(
    node: &Node,
    disk: Option<FaultControl>,
    timeline: Timeline,
) -> impl FnMut(&Expiry) + Send + 'static {
    let hostname = node.hostname().to_string();
    let cgroup = node.cgroup().path().to_path_buf();
    let power = node.power_script();
    move |expiry| {
        // Not waiting for the freeze to complete: a process in a hanging disk request freezes
        // only when the request ends, which is the next step.
        let _ = std::fs::write(cgroup.join("cgroup.freeze"), "1");
        let fault_before = disk.as_ref().map(|disk| {
            let before = disk.fault();
            disk.set(DiskFault::Fail);
            before
        });
        // SIGKILL reaches frozen processes; power.sh waits until they are gone.
        let _ = std::fs::write(cgroup.join("cgroup.kill"), "1");
        let off = run_command(Command::new(&power).args(["set", "power", "0"]));
        if let (Some(disk), Some(before)) = (&disk, fault_before) {
            if before != DiskFault::Fail {
                disk.set(DiskFault::Healthy);
            }
        }
        let late = expiry.at.saturating_duration_since(expiry.deadline);
        match off {
            Ok(_) => timeline.record(
                "watchdog",
                format!("watchdog expired on {hostname}: powered off"),
            ),
            Err(e) => timeline.record(
                "watchdog",
                format!("watchdog expired on {hostname}: power off failed: {e}"),
            ),
        }
        if late > Duration::from_millis(100) {
            timeline.record(
                "watchdog",
                format!("(the expiry on {hostname} was seen {late:?} after its deadline)"),
            );
        }
    }
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| LabError::io(to, e))?;
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let target = to.join(entry.file_name());
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).map_err(|e| LabError::io(&target, e))?;
        }
    }
    Ok(())
}
