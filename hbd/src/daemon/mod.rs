//! The hbd daemon: the driver around the node core ([`crate::node`]). It does I/O only:
//! it reads packets, agent results, fenced's answers, qdiskd's status and API commands,
//! hands them to the core with the time (`CLOCK_BOOTTIME`), and carries out what the core
//! asks. Every decision is the core's.
//!
//! One thread owns the core and runs the loop: it waits on a channel for the next [`Ev`]
//! or the core's next timeout, hands the core every event already queued (a process that
//! was stalled reads what arrived meanwhile before any timer runs), then the timers, then
//! carries out the actions. Everything that blocks (media reads, resource agents, fenced
//! calls, qdiskd polls) runs on helper threads that report back through the same channel.

mod codec;
mod options;
mod server;
mod workers;

use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::agents::Agents;
use crate::api::{
    CommandReply, GroupSet, LinkReport, NodeReport, QuorumReport, RequestKind, StatusReply,
    API_VERSION,
};
use crate::auth::Authenticator;
use crate::config::{Config, NodeName};
use crate::media::{Link, LinkId as MediaLink, Pinger, Received};
use crate::membership::{self, LinkStatus, MembershipConfig, NodeStatus, Time};
use crate::node::{
    self, FenceReply, FenceTicket, GroupOp, GroupResult, NodeConfig, NodeCore, Outgoing,
    QdiskReport,
};
use crate::policy::{self, AdminCommand, GroupId, PolicyConfig, Scope};
use crate::proto::{self, Origin, Stamp};
use crate::wire::{self, EncodeOptions, Format};

pub use options::{Options, SelfFence};
use server::Shared;
use workers::{FencedNotifier, ToFenced};

/// Something for the loop to handle.
pub enum Ev {
    /// A packet from a medium.
    Packet(Received),
    /// A group operation finished.
    Group(GroupId, GroupOp, GroupResult),
    /// fenced answered a fence request.
    Fenced(FenceTicket, FenceReply),
    /// qdiskd's status, and when it was asked for.
    Qdisk(QdiskReport, Time),
    /// A ping node answered.
    PingReply(NodeName),
    /// An API command, with where to answer.
    Command(RequestKind, Sender<CommandReply>),
    /// SIGTERM or SIGINT: leave gracefully.
    Terminate,
}

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration is invalid (each error on its own line).
    #[error("{0}")]
    Config(String),
    /// Setting something up failed.
    #[error("{0}")]
    Setup(String),
}

/// Runs hbd until it leaves the cluster (SIGTERM) or fences itself.
pub fn run(opts: Options, cfg: Config) -> Result<(), DaemonError> {
    let armed = opts.self_fence.arm().map_err(|e| {
        DaemonError::Setup(format!(
            "self-fence action {} cannot work here: {e}",
            opts.self_fence
        ))
    })?;
    tracing::info!("self-fence action: {}", armed);
    let watchdog = arm_watchdog(&opts, &cfg)?;
    let local = cfg.local_node.clone();
    std::fs::create_dir_all(&opts.state_dir)
        .map_err(|e| DaemonError::Setup(format!("{}: {e}", opts.state_dir.display())))?;
    let uuid = crate::state::load_uuid(&opts.state_dir, cfg.hacf.uuidfrom, &local)
        .map_err(|e| DaemonError::Setup(e.to_string()))?;
    let generation = crate::state::next_generation(&opts.state_dir, cfg.hacf.hbgenmethod)
        .map_err(|e| DaemonError::Setup(e.to_string()))?;
    tracing::info!(
        "node {local}, uuid {uuid}, generation {} ({:?})",
        generation.value,
        generation.source
    );
    let auth = Authenticator::new(&cfg.authkeys).map_err(|e| {
        DaemonError::Config(format!(
            "{}: no key {} for `auth {}`; add a line `{} sha1 SECRET`",
            cfg.authkeys.file.display(),
            e.0,
            e.0,
            e.0
        ))
    })?;

    // Before any thread starts: each heartbeat-path thread enters the real-time class.
    realtime(&cfg.hacf);
    let (tx, rx) = channel::<Ev>();
    let (packets_tx, packets_rx) = channel::<Received>();
    {
        let tx = tx.clone();
        std::thread::Builder::new()
            .name("hbd packets".into())
            .spawn(move || {
                crate::rt::enter("hbd packets");
                for p in packets_rx {
                    if tx.send(Ev::Packet(p)).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| DaemonError::Setup(e.to_string()))?;
    }
    let mut links = Vec::new();
    for (i, medium) in cfg.hacf.media.iter().enumerate() {
        let link = Link::open(MediaLink(i), medium, packets_tx.clone())
            .map_err(|e| DaemonError::Setup(e.to_string()))?;
        tracing::info!("link {}: {}", i, crate::media::describe(medium));
        links.push(link);
    }
    let pinger = if cfg.hacf.ping_nodes.is_empty() {
        None
    } else {
        let tx = tx.clone();
        let p = Pinger::open(&cfg.hacf.ping_nodes, move |name| {
            tx.send(Ev::PingReply(name)).is_ok()
        })
        .map_err(|e| DaemonError::Setup(e.to_string()))?;
        for n in &cfg.hacf.ping_nodes {
            tracing::info!("ping node {}: {}", n.name, n.addrs.join(" "));
        }
        Some(p)
    };
    workers::signals(tx.clone()).map_err(|e| DaemonError::Setup(format!("signals: {e}")))?;

    let mut mcfg = MembershipConfig::from_hacf(&cfg.hacf, rand_seed());
    if opts.qdisk_socket.is_some() {
        mcfg.quorum.qdisk_votes = opts.qdisk_votes;
    }
    mcfg.quorum.ping_votes = opts.ping_votes;
    let mut pcfg = PolicyConfig::from_config(&cfg.hacf, &cfg.resources, &local, generation.value)
        .map_err(|e| DaemonError::Config(e.to_string()))?;
    if let Some(interval) = opts.monitor_interval {
        pcfg.monitor = Some(policy::MonitorConfig {
            interval,
            max_restarts: opts.max_restarts,
        });
    }
    let core = NodeCore::new(
        NodeConfig {
            local: local.clone(),
            uuid,
            generation: generation.value,
            membership: mcfg,
            policy: pcfg,
            fenced: opts
                .fenced_socket
                .as_ref()
                .map(|_| node::DEFAULT_FENCE_REPLY_TIMEOUT),
            qdisk_vote_ttl: opts
                .qdisk_socket
                .as_ref()
                .map(|_| node::DEFAULT_QDISK_VOTE_TTL),
        },
        now(),
    );

    let shared = Arc::new(Shared::default());
    server::serve(&opts.socket, Arc::clone(&shared), tx.clone())
        .map_err(|e| DaemonError::Setup(format!("API socket {}: {e}", opts.socket.display())))?;
    let partition = Arc::new(std::sync::Mutex::new(vec![local.to_string()]));
    if let Some(path) = &opts.qdisk_socket {
        workers::poll_qdisk(path.clone(), Arc::clone(&partition), tx.clone());
    }
    let mut agent_cfg = opts.agents.clone();
    agent_cfg.op_ledger = Some(opts.state_dir.join(crate::agents::ledger::LEDGER_FILE));
    let agents = Agents::new(agent_cfg);
    // The worker finds groups by the policy's ids (sorted by key, not haresources order).
    let mut by_id = cfg.resources.clone();
    by_id.groups = core
        .policy()
        .config()
        .groups
        .iter()
        .filter_map(|spec| cfg.resources.groups.iter().find(|g| g.key == spec.key))
        .cloned()
        .collect();
    let groups_tx = workers::group_worker(agents, by_id, tx.clone());

    let fenced = opts
        .fenced_socket
        .clone()
        .map(|p| workers::fenced_notifier(p, local.to_string()));
    let ttl = 1 + u32::try_from(core.policy().config().nodes.len()).unwrap_or(u32::MAX);
    let mut driver = Driver {
        origin: Origin {
            node: local.to_string(),
            uuid: uuid.0,
            generation: proto::Generation(generation.value),
            ttl,
        },
        local,
        cfg,
        opts,
        auth,
        links,
        pinger,
        core,
        tx,
        groups_tx,
        fenced,
        shared,
        partition,
        armed,
        watchdog,
        auth_failures: 0,
        send_failures: 0,
        exit: false,
    };
    driver.carry_out();
    driver.publish();
    driver.run(&rx);
    // A clean stop: the magic close (a crash or a self-fence leaves it running).
    if let Some(dog) = driver.watchdog.take() {
        match dog.disarm() {
            Ok(()) => tracing::info!("hardware watchdog disarmed (clean stop)"),
            Err(e) => {
                tracing::error!("cannot disarm the hardware watchdog: {e}; it will reset this node")
            }
        }
    }
    // fenced must hear that this node no longer vouches for quorum.
    if let Some(f) = driver.fenced.take() {
        if !f.close(LINK_DRAIN) {
            tracing::warn!("fenced was not told everything within {LINK_DRAIN:?}");
        }
    }
    // The leave announcement (or last heartbeats) must still reach the peers.
    for link in std::mem::take(&mut driver.links) {
        let name = link.name().to_string();
        if !link.close(LINK_DRAIN) {
            tracing::warn!("link {name}: not drained within {LINK_DRAIN:?}; closed anyway");
        }
    }
    Ok(())
}

/// ha.cf's `watchdog DEVICE`, as heartbeat does it: the timeout is deadtime + 10 ms rounded
/// up to whole seconds, and the device is petted with every message hbd sends (a status
/// every keepalive), so a node whose hbd hangs is reset by hardware about when its peers
/// declare it dead. A watchdog has one opener: when qdiskd runs (it arms its own), ha.cf's
/// is ignored, and hbd says so. A device that cannot be armed refuses the start.
fn arm_watchdog(
    opts: &Options,
    cfg: &Config,
) -> Result<Option<qdisk::watchdog::Watchdog>, DaemonError> {
    let Some(path) = &cfg.hacf.watchdog else {
        return Ok(None);
    };
    if opts.qdisk_socket.is_some() {
        tracing::warn!(
            "ha.cf: watchdog {} ignored: qdiskd runs on this node and arms the hardware watchdog itself (a watchdog has one opener)",
            path.display()
        );
        return Ok(None);
    }
    let millis = cfg.hacf.deadtime.as_millis() + 10;
    let timeout = Duration::from_secs(u64::try_from(millis.div_ceil(1000)).unwrap_or(u64::MAX));
    let dog = qdisk::watchdog::Watchdog::arm(path, timeout)
        .map_err(|e| DaemonError::Setup(format!("ha.cf: watchdog: {e}")))?;
    tracing::info!("hardware watchdog: {dog}; petted with every message sent");
    Ok(Some(dog))
}

/// How long hbd waits at exit for its links to send what is queued (a serial line at
/// 19200 baud sends a 1 KiB frame in about half a second).
const LINK_DRAIN: Duration = Duration::from_secs(2);

/// `realtime on` (heartbeat's default): locked memory and SCHED_RR at `rtprio` (default the
/// lowest real-time priority) for every thread on the heartbeat path ([`crate::rt`]), so a
/// paging storm or a busy machine cannot delay heartbeats past deadtime. Called before any
/// thread starts. A failure is a warning, as in heartbeat: the daemon still works.
fn realtime(hacf: &crate::config::HaCf) {
    if !hacf.realtime {
        crate::rt::configure(None);
        tracing::info!("realtime off: normal scheduling, memory not locked");
        return;
    }
    match plumbing::rt::lock_memory() {
        Ok(()) => tracing::info!("realtime: memory locked"),
        Err(e) => tracing::warn!("{e}; continuing without locked memory"),
    }
    let priority = hacf.rtprio.map_or(1, i32::from);
    crate::rt::configure(Some(priority));
    match plumbing::rt::set_scheduler(plumbing::rt::Scheduler::Rr, priority) {
        Ok(()) => tracing::info!(
            "realtime: SCHED_RR priority {priority} for the main loop, media, ping, qdiskd polls and fenced notices"
        ),
        Err(e) => tracing::warn!("{e}; continuing with the normal scheduler"),
    }
}

fn rand_seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() as u64 ^ (u64::from(std::process::id()) << 32)
}

/// Reads `CLOCK_BOOTTIME`, which keeps counting through suspend (a suspended node must
/// not believe its peers' last heartbeats are recent).
fn now() -> Time {
    Time::now()
}

struct Driver {
    local: NodeName,
    cfg: Config,
    opts: Options,
    origin: Origin,
    auth: Authenticator,
    links: Vec<Link>,
    pinger: Option<Pinger>,
    core: NodeCore,
    tx: Sender<Ev>,
    groups_tx: Sender<(GroupId, GroupOp)>,
    fenced: Option<FencedNotifier>,
    shared: Arc<Shared>,
    /// This node's network partition, for the qdiskd poll (the master grants the disk's
    /// votes only within its own partition).
    partition: Arc<std::sync::Mutex<Vec<String>>>,
    armed: options::Armed,
    /// ha.cf's `watchdog`, when hbd runs without qdiskd: petted with every message sent.
    watchdog: Option<qdisk::watchdog::Watchdog>,
    auth_failures: u64,
    send_failures: u64,
    exit: bool,
}

impl Driver {
    fn run(&mut self, rx: &Receiver<Ev>) {
        while !self.exit {
            let wait = self
                .core
                .poll_timeout()
                .map_or(Duration::from_secs(1), |t| t.0.saturating_sub(now().0));
            match rx.recv_timeout(wait) {
                Ok(ev) => {
                    self.handle(ev);
                    // Everything already queued goes before the timers.
                    while let Ok(ev) = rx.try_recv() {
                        self.handle(ev);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let now = now();
            if self.core.poll_timeout().is_some_and(|t| t <= now) {
                self.core.handle_timeout(now);
            }
            self.carry_out();
            self.publish();
        }
    }

    fn handle(&mut self, ev: Ev) {
        let input = match ev {
            Ev::Packet(p) => match self.decode(&p) {
                Some(msg) => node::Input::Packet {
                    link: membership::LinkId(u16::try_from(p.link.0).unwrap_or(u16::MAX)),
                    msg,
                },
                None => return,
            },
            Ev::Group(group, op, result) => node::Input::Group { group, op, result },
            Ev::Fenced(ticket, reply) => node::Input::FenceReply { ticket, reply },
            Ev::Qdisk(report, asked_at) => node::Input::Qdisk { report, asked_at },
            Ev::PingReply(name) => node::Input::PingReply(name),
            Ev::Command(kind, reply) => {
                let (answer, cmd) = command(kind);
                let _ = reply.send(answer);
                match cmd {
                    Some(cmd) => node::Input::Admin(cmd),
                    None => return,
                }
            }
            Ev::Terminate => node::Input::Terminate,
        };
        self.core.handle(now(), input);
        // Sends go out at once (a long batch must not hold heartbeats back).
        self.carry_out();
    }

    /// Authenticates and parses a packet; counts and reports what fails.
    fn decode(&mut self, p: &Received) -> Option<proto::Incoming> {
        let decoded = match wire::decode(&p.bytes, &self.auth) {
            Ok(d) => d,
            Err(e) => {
                self.auth_failures += 1;
                if self.auth_failures.is_power_of_two() {
                    tracing::warn!(
                        "{}: packet dropped ({e}); {} dropped so far — check that authkeys match on every node",
                        p.link,
                        self.auth_failures
                    );
                }
                return None;
            }
        };
        match proto::parse(&decoded.message) {
            Ok(i) => Some(i),
            Err(e) => {
                tracing::debug!("{}: malformed message dropped: {e}", p.link);
                None
            }
        }
    }

    /// Carries out everything the core asked for, in order.
    fn carry_out(&mut self) {
        while let Some(a) = self.core.poll_action() {
            match a {
                node::Action::Send(out) => self.send(&out),
                node::Action::PingRound => {
                    if let Some(p) = &mut self.pinger {
                        p.send_round();
                    }
                }
                node::Action::Group(g, op) => {
                    let _ = self.groups_tx.send((g, op));
                }
                node::Action::Fence { ticket, node } => {
                    if let Some(path) = &self.opts.fenced_socket {
                        workers::fence(
                            path.clone(),
                            ticket,
                            node.to_string(),
                            self.local.to_string(),
                            node::DEFAULT_FENCE_REPLY_TIMEOUT,
                            self.tx.clone(),
                        );
                    }
                }
                node::Action::WithdrawFence { node } => {
                    if let Some(f) = &self.fenced {
                        f.send(ToFenced::Withdraw(node.to_string()));
                    }
                }
                node::Action::TellFenced(n) => {
                    if let Some(f) = &self.fenced {
                        f.send(ToFenced::Notice(n));
                    }
                }
                node::Action::SelfFence(reason) => options::fire(&self.armed, &reason),
                node::Action::Exit => self.exit = true,
            }
        }
    }

    /// Builds, signs and sends a message on every link.
    fn send(&mut self, out: &Outgoing) {
        if let Some(dog) = &self.watchdog {
            if let Err(e) = dog.pet() {
                tracing::error!("{e}");
            }
        }
        let body = &out.body;
        let seq = out.seq;
        let dest_uuid = out.dest_uuid;
        let stamp = Stamp {
            seq: proto::Seq(seq),
            unix_time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            load: codec::loadavg(),
        };
        let msg = proto::build(body, &self.origin, dest_uuid, &stamp);
        let mut netstring: Option<Vec<u8>> = None;
        let mut classic: Option<Vec<u8>> = None;
        for link in &self.links {
            let format = if link.wants_classic() {
                Format::Classic
            } else {
                Format::Netstring
            };
            let slot = if format == Format::Classic {
                &mut classic
            } else {
                &mut netstring
            };
            if slot.is_none() {
                let opts = EncodeOptions {
                    format,
                    ..EncodeOptions::default()
                };
                match wire::encode(&msg, &self.auth, &opts) {
                    Ok(bytes) => *slot = Some(bytes),
                    Err(e) => {
                        tracing::error!("cannot encode {}: {e}", body.msg_type());
                        return;
                    }
                }
            }
            if let Some(bytes) = slot.as_deref() {
                if let Err(e) = link.send(bytes) {
                    self.send_failures += 1;
                    if self.send_failures.is_power_of_two() {
                        tracing::warn!("{e} ({} send failures so far)", self.send_failures);
                    }
                }
            }
        }
    }

    fn publish(&self) {
        let membership = self.core.membership();
        if let Ok(mut partition) = self.partition.lock() {
            *partition = membership
                .partition()
                .iter()
                .map(ToString::to_string)
                .collect();
        }
        let q = membership.quorum();
        let mut nodes = vec![NodeReport {
            name: self.local.to_string(),
            node_type: "normal".into(),
            status: match membership.local_state() {
                membership::LocalState::Up => "up".into(),
                membership::LocalState::Active => "active".into(),
                membership::LocalState::Left => "dead".into(),
            },
            links: self
                .links
                .iter()
                .map(|l| LinkReport {
                    name: l.name().to_string(),
                    status: "up".into(),
                })
                .collect(),
            last_heard_ms: None,
        }];
        for n in membership.nodes() {
            let ping = n.kind == membership::NodeKind::Ping;
            nodes.push(NodeReport {
                name: n.name.to_string(),
                node_type: if ping { "ping" } else { "normal" }.into(),
                status: n.status.as_str().into(),
                links: if ping {
                    vec![LinkReport {
                        name: n.name.to_string(),
                        status: if n.status == NodeStatus::Ping {
                            "up"
                        } else {
                            "dead"
                        }
                        .into(),
                    }]
                } else {
                    n.links
                        .iter()
                        .zip(&self.links)
                        .map(|(s, l)| LinkReport {
                            name: l.name().to_string(),
                            status: if *s == LinkStatus::Up { "up" } else { "dead" }.into(),
                        })
                        .collect()
                },
                last_heard_ms: None,
            });
        }
        let order: HashMap<&str, usize> = self
            .cfg
            .hacf
            .node_names()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        nodes.sort_by_key(|n| {
            (
                n.node_type == "ping",
                order.get(n.name.as_str()).copied().unwrap_or(usize::MAX),
            )
        });
        let status = self.core.policy().status();
        let groups = codec::group_reports(
            &status,
            &self.cfg,
            &self.core.policy().config().nodes,
            self.core.group_states(),
        );
        let rscstatus = codec::rscstatus(&groups, self.local.as_str(), &self.cfg);
        let reply = StatusReply {
            version: API_VERSION,
            local: self.local.to_string(),
            hbversion: env!("CARGO_PKG_VERSION").into(),
            nodes,
            groups,
            rscstatus,
            quorum: QuorumReport {
                votes: q.votes,
                expected: q.expected,
                qdisk_votes: membership.qdisk_votes_held(),
                quorate: q.quorate,
            },
            parameters: codec::parameters(&self.cfg),
            auth_failures: self.auth_failures,
            replays: self.core.replays(),
        };
        if let Ok(mut s) = self.shared.status.lock() {
            *s = reply;
        }
    }
}

/// An API command: the answer, and what to hand the core.
fn command(kind: RequestKind) -> (CommandReply, Option<AdminCommand>) {
    let (set, standby) = match kind {
        RequestKind::Standby(s) => (s, true),
        RequestKind::Takeover(s) => (s, false),
        RequestKind::Status => {
            let reply = CommandReply {
                version: API_VERSION,
                accepted: false,
                message: "status is not a command".into(),
            };
            return (reply, None);
        }
    };
    let scope = match set {
        GroupSet::All => Scope::All,
        GroupSet::Local => Scope::Local,
        GroupSet::Foreign => Scope::Foreign,
    };
    let cmd = if standby {
        AdminCommand::Standby(scope)
    } else {
        AdminCommand::Takeover(scope)
    };
    let reply = CommandReply {
        version: API_VERSION,
        accepted: true,
        message: format!(
            "{} {:?} requested; the coordinator moves the groups (hbctl status shows progress)",
            if standby { "standby" } else { "takeover" },
            set
        )
        .to_lowercase(),
    };
    (reply, Some(cmd))
}

/// Where hbd keeps its state unless told otherwise (heartbeat's directory, so `hb_uuid`
/// and `hb_generation` carry over in a migration).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/heartbeat";
