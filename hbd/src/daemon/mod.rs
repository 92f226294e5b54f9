//! The hbd daemon: the driver that feeds the pure cores ([`crate::membership`],
//! [`crate::policy`]) from the media, the agents, fenced and qdiskd, and carries out what
//! they ask.
//!
//! One thread owns every piece of state and runs the loop: it waits on a channel for the
//! next [`Ev`] (a packet, a finished group operation, a fence result, qdiskd's votes, an
//! API command, a signal) or the cores' next timeout, hands it to the cores, then drains
//! their actions. Everything that blocks (media reads, resource agents, fenced calls,
//! qdiskd polls) runs on helper threads that report back through the same channel.

mod codec;
mod options;
mod server;
mod workers;

use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::agents::Agents;
use crate::api::{
    CommandReply, GroupSet, LinkReport, NodeReport, QuorumReport, RequestKind, StatusReply,
    API_VERSION,
};
use crate::auth::Authenticator;
use crate::config::{Config, NodeName};
use crate::media::{Link, LinkId as MediaLink, Pinger, Received};
use crate::membership::{
    self, Event, LinkStatus, Membership, MembershipConfig, MsgHandle, NodeStatus, QdiskVotes, Time,
};
use crate::policy::{self, AdminCommand, GroupId, NodeId, NodeSet, Policy, PolicyConfig, Scope};
use crate::proto::{self, Body, Origin, Stamp};
use crate::wire::{self, EncodeOptions, Format};

pub use options::{Options, SelfFence};
use server::Shared;
use workers::{FencedNotice, GroupOp, GroupResult};

/// Something for the loop to handle.
pub enum Ev {
    /// A packet from a medium.
    Packet(Received),
    /// A group operation finished.
    Group(GroupId, GroupOp, GroupResult),
    /// fenced answered a fence request.
    Fenced(NodeId, bool),
    /// qdiskd's votes.
    Qdisk(QdiskVotes),
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

    let (tx, rx) = channel::<Ev>();
    let (packets_tx, packets_rx) = channel::<Received>();
    {
        let tx = tx.clone();
        std::thread::Builder::new()
            .name("hbd packets".into())
            .spawn(move || {
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
    realtime(&cfg.hacf);

    let mut mcfg = MembershipConfig::from_hacf(&cfg.hacf, rand_seed());
    if opts.qdisk_socket.is_some() {
        mcfg.quorum.qdisk_votes = opts.qdisk_votes;
    }
    mcfg.quorum.ping_votes = opts.ping_votes;
    let start = Instant::now();
    let membership = Membership::new(mcfg, local.clone(), uuid, generation.value, Time::ZERO);
    let mut pcfg = PolicyConfig::from_config(&cfg.hacf, &cfg.resources, &local, generation.value)
        .map_err(|e| DaemonError::Config(e.to_string()))?;
    if let Some(interval) = opts.monitor_interval {
        pcfg.monitor = Some(policy::MonitorConfig {
            interval,
            max_restarts: opts.max_restarts,
        });
    }
    let policy = Policy::new(pcfg, Duration::ZERO);

    let shared = Arc::new(Shared::default());
    server::serve(&opts.socket, Arc::clone(&shared), tx.clone())
        .map_err(|e| DaemonError::Setup(format!("API socket {}: {e}", opts.socket.display())))?;
    if let Some(path) = &opts.qdisk_socket {
        workers::poll_qdisk(path.clone(), tx.clone());
    }
    let agents = Agents::new(opts.agents.clone());
    let groups_tx = workers::group_worker(agents, cfg.resources.clone(), tx.clone());

    let fenced = opts.fenced_socket.clone().map(workers::fenced_notifier);
    let nodes: Vec<NodeName> = cfg.hacf.nodes.iter().map(|n| n.name.clone()).collect();
    let ttl = 1 + u32::try_from(nodes.len()).unwrap_or(u32::MAX);
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
        membership,
        policy,
        start,
        payloads: HashMap::new(),
        next_handle: 0,
        nodes,
        tx,
        groups_tx,
        fenced,
        shared,
        armed,
        auth_failures: 0,
        replays: 0,
        send_failures: 0,
        group_state: HashMap::new(),
        left: false,
        comm_up: false,
        exit: false,
    };
    driver.drain();
    driver.publish();
    driver.run(&rx);
    // The leave announcement (or last heartbeats) must still reach the peers.
    for link in std::mem::take(&mut driver.links) {
        let name = link.name().to_string();
        if !link.close(LINK_DRAIN) {
            tracing::warn!("link {name}: not drained within {LINK_DRAIN:?}; closed anyway");
        }
    }
    Ok(())
}

/// How long hbd waits at exit for its links to send what is queued (a serial line at
/// 19200 baud sends a 1 KiB frame in about half a second).
const LINK_DRAIN: Duration = Duration::from_secs(2);

/// `realtime on` (heartbeat's default): locked memory and SCHED_RR at `rtprio` (default the
/// lowest real-time priority), so a paging storm or a busy machine cannot delay heartbeats
/// past deadtime. A failure is a warning, as in heartbeat: the daemon still works.
fn realtime(hacf: &crate::config::HaCf) {
    if !hacf.realtime {
        tracing::info!("realtime off: normal scheduling, memory not locked");
        return;
    }
    match qdisk::daemon::rt::lock_memory() {
        Ok(()) => tracing::info!("realtime: memory locked"),
        Err(e) => tracing::warn!("{e}; continuing without locked memory"),
    }
    let priority = hacf.rtprio.map_or(1, i32::from);
    match qdisk::daemon::rt::set_scheduler(qdisk::config::Scheduler::Rr, priority) {
        Ok(()) => tracing::info!("realtime: SCHED_RR priority {priority}"),
        Err(e) => tracing::warn!("{e}; continuing with the normal scheduler"),
    }
}

fn rand_seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() as u64 ^ (u64::from(std::process::id()) << 32)
}

struct Driver {
    local: NodeName,
    cfg: Config,
    opts: Options,
    origin: Origin,
    auth: Authenticator,
    links: Vec<Link>,
    pinger: Option<Pinger>,
    membership: Membership,
    policy: Policy,
    start: Instant,
    payloads: HashMap<MsgHandle, proto::ClusterMsg>,
    next_handle: u64,
    nodes: Vec<NodeName>,
    tx: Sender<Ev>,
    groups_tx: Sender<(GroupId, GroupOp)>,
    fenced: Option<Sender<FencedNotice>>,
    shared: Arc<Shared>,
    armed: options::Armed,
    auth_failures: u64,
    replays: u64,
    send_failures: u64,
    group_state: HashMap<GroupId, &'static str>,
    left: bool,
    comm_up: bool,
    exit: bool,
}

impl Driver {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn run(&mut self, rx: &Receiver<Ev>) {
        while !self.exit {
            let now = self.now();
            let next = [
                self.membership.poll_timeout().map(|t| t.0),
                self.policy.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let wait = next.map_or(Duration::from_secs(1), |t| t.saturating_sub(now));
            match rx.recv_timeout(wait) {
                Ok(ev) => self.handle(ev),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let now = self.now();
            if self.membership.poll_timeout().is_some_and(|t| t.0 <= now) {
                self.membership.on_tick(Time(now));
            }
            if self.policy.poll_timeout().is_some_and(|t| t <= now) {
                self.policy.handle_timeout(now);
            }
            self.drain();
            self.publish();
        }
    }

    fn handle(&mut self, ev: Ev) {
        let now = self.now();
        match ev {
            Ev::Packet(p) => self.on_packet(p),
            Ev::Group(g, op, result) => {
                let input = match (op, result) {
                    (GroupOp::Start, GroupResult::Ok) => {
                        self.group_state.insert(g, "running");
                        policy::Input::Started(g)
                    }
                    (GroupOp::Start, _) => {
                        self.group_state.insert(g, "failed");
                        policy::Input::StartFailed(g)
                    }
                    (GroupOp::Stop, GroupResult::Ok) => {
                        self.group_state.insert(g, "stopped");
                        policy::Input::Stopped(g)
                    }
                    (GroupOp::Stop, _) => {
                        self.group_state.insert(g, "failed");
                        policy::Input::StopFailed(g)
                    }
                    (GroupOp::Monitor, GroupResult::Ok) => return,
                    (GroupOp::Monitor, _) => policy::Input::MonitorFailed(g),
                };
                self.policy.handle(now, input);
            }
            Ev::Fenced(node, ok) => self
                .policy
                .handle(now, policy::Input::FenceDone { node, ok }),
            Ev::Qdisk(votes) => self.membership.on_qdisk(Time(now), votes),
            Ev::PingReply(name) => self.membership.on_ping_reply(Time(now), &name),
            Ev::Command(kind, reply) => {
                let answer = self.command(kind);
                let _ = reply.send(answer);
            }
            Ev::Terminate => {
                if self.left {
                    return;
                }
                tracing::info!("shutting down: stopping local resource groups, then leaving");
                self.policy.handle(now, policy::Input::Shutdown);
            }
        }
    }

    fn command(&mut self, kind: RequestKind) -> CommandReply {
        let (set, standby) = match kind {
            RequestKind::Standby(s) => (s, true),
            RequestKind::Takeover(s) => (s, false),
            RequestKind::Status => {
                return CommandReply {
                    version: API_VERSION,
                    accepted: false,
                    message: "status is not a command".into(),
                }
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
        self.policy.handle(self.now(), policy::Input::Admin(cmd));
        CommandReply {
            version: API_VERSION,
            accepted: true,
            message: format!(
                "{} {:?} requested; the coordinator moves the groups (hbctl status shows progress)",
                if standby { "standby" } else { "takeover" },
                set
            )
            .to_lowercase(),
        }
    }

    fn on_packet(&mut self, p: Received) {
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
                return;
            }
        };
        let incoming = match proto::parse(&decoded.message) {
            Ok(i) => i,
            Err(e) => {
                tracing::debug!("{}: malformed message dropped: {e}", p.link);
                return;
            }
        };
        if incoming
            .header
            .src
            .eq_ignore_ascii_case(self.local.as_str())
            && incoming.header.src_uuid == Some(self.origin.uuid)
            && incoming.header.generation == Some(self.origin.generation)
        {
            return; // our own broadcast or multicast, looped back
        }
        let handle = if let Body::Cluster(c) = &incoming.body {
            let h = MsgHandle(self.next_handle);
            self.next_handle += 1;
            self.payloads.insert(h, c.clone());
            Some(h)
        } else {
            None
        };
        let Some(pkt) = codec::to_membership(&incoming, handle) else {
            return;
        };
        let link = membership::LinkId(u16::try_from(p.link.0).unwrap_or(u16::MAX));
        self.membership.on_packet(Time(self.now()), link, pkt);
    }

    fn node_id(&self, name: &NodeName) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| n == name)
            .map(|i| NodeId(i as u16))
    }

    fn members(&self) -> NodeSet {
        let mut set = NodeSet::EMPTY;
        if let Some(me) = self.node_id(&self.local) {
            set.insert(me);
        }
        for n in self.membership.nodes() {
            if matches!(n.status, NodeStatus::Up | NodeStatus::Active) {
                if let Some(id) = self.node_id(&n.name) {
                    set.insert(id);
                }
            }
        }
        set
    }

    /// Drains both cores until neither has anything left to do.
    fn drain(&mut self) {
        loop {
            let mut busy = false;
            while let Some(a) = self.membership.poll_action() {
                busy = true;
                self.membership_action(a);
            }
            while let Some(a) = self.policy.poll_action() {
                busy = true;
                self.policy_action(a);
            }
            if !busy {
                return;
            }
        }
    }

    fn membership_action(&mut self, a: membership::Action) {
        use membership::Action as A;
        match a {
            A::SendStatus {
                seq,
                state,
                deadtime,
            } => {
                let body = codec::status_body(state, deadtime);
                self.send(&body, seq, None);
                if let Some(p) = &mut self.pinger {
                    p.send_round();
                }
            }
            A::SendShutdone { seq } => {
                self.send(&Body::Shutdone, seq, None);
                self.left = true;
            }
            A::Transmit { seq, handle, dest } => {
                if let Some(c) = self.payloads.get(&handle).cloned() {
                    self.send(&Body::Cluster(c), seq, dest.as_ref());
                }
            }
            A::Retransmit { seq, msg, dest, .. } => {
                let body = match msg {
                    membership::Sent::Status { state, deadtime } => {
                        codec::status_body(state, deadtime)
                    }
                    membership::Sent::Shutdone => Body::Shutdone,
                    membership::Sent::Cluster { handle } => match self.payloads.get(&handle) {
                        Some(c) => Body::Cluster(c.clone()),
                        None => return,
                    },
                };
                self.send(&body, seq, dest.as_ref());
            }
            A::Release { handle } | A::Discard { handle } => {
                self.payloads.remove(&handle);
            }
            A::SendRexmitRequest { to, seq } => {
                self.send(&codec::rexmit(&to, seq), 0, None);
            }
            A::SendNak { to, seq } => self.send(&codec::nak(&to, seq), 0, None),
            A::SendAck { to, seq } => self.send(&codec::ack(&to, seq), 0, None),
            A::Deliver { from, handle, .. } => {
                let Some(c) = self.payloads.remove(&handle) else {
                    return;
                };
                if c.msg_type == codec::REQNODES {
                    // heartbeat 3.0.6 waits for this answer before it calls a link up.
                    let body = codec::repnodes(&self.nodes, &from);
                    let h = MsgHandle(self.next_handle);
                    self.next_handle += 1;
                    self.payloads.insert(h, body);
                    if self
                        .membership
                        .send_cluster(Time(self.now()), h, Some(from))
                        .is_none()
                    {
                        self.payloads.remove(&h);
                    }
                    return;
                }
                match (codec::policy_msg(&c), self.node_id(&from)) {
                    (Some(msg), Some(id)) => {
                        let now = self.now();
                        self.policy
                            .handle(now, policy::Input::Message { from: id, msg });
                    }
                    _ => tracing::debug!("message {} from {from} ignored", c.msg_type),
                }
            }
            A::Event(e) => self.membership_event(e),
        }
    }

    fn membership_event(&mut self, e: Event) {
        let now = self.now();
        match &e {
            Event::LateHeartbeat { node, interval } => tracing::warn!(
                "Late heartbeat: Node {node}: interval {} ms",
                interval.as_millis()
            ),
            Event::NodeDead { .. }
            | Event::ReplayRejected { .. }
            | Event::UuidClash(_)
            | Event::ReturningAfterPartition { .. }
            | Event::NoLocalHeartbeat { .. }
            | Event::TooManyLost { .. } => tracing::warn!("{}", codec::describe(&e)),
            _ => tracing::info!("{}", codec::describe(&e)),
        }
        match e {
            Event::CommUp => {
                self.comm_up = true;
                let members = self.members();
                let quorate = self.membership.quorum().quorate;
                self.policy.handle(
                    now,
                    policy::Input::Membership {
                        members,
                        quorate,
                        dead: policy::NodeSet::EMPTY,
                    },
                );
                self.policy.handle(now, policy::Input::CommUp);
            }
            Event::NodeDead { node, reason } => {
                let id = self.node_id(&node);
                if reason == membership::DeadReason::Left {
                    // Known clean first, so the new view never asks to fence it.
                    if let Some(id) = id {
                        self.policy.handle(now, policy::Input::NodeLeft(id));
                    }
                    self.view_changed();
                } else if let Some(id) = id {
                    // The death goes with the view and quorum it produced.
                    self.view_changed_with_death(id);
                }
            }
            Event::NodeUp { node } | Event::NodeActive { node } => {
                if let (Some(fenced), false) = (&self.fenced, self.left) {
                    let _ = fenced.send(FencedNotice::Rejoined(node.to_string()));
                }
                self.view_changed();
            }
            Event::ReplayRejected { .. } => self.replays += 1,
            Event::QuorumChanged(q) => {
                if let Some(fenced) = &self.fenced {
                    let _ = fenced.send(FencedNotice::Quorum(q.quorate));
                }
                self.view_changed();
            }
            _ => {}
        }
    }

    /// Hands the policy the current view, once communication is up (before, the view is
    /// still filling in).
    fn view_changed(&mut self) {
        if self.comm_up {
            self.send_view(policy::NodeSet::EMPTY);
        }
    }

    /// Hands the policy the view a death produced; also before communication is up, so a
    /// node seen and then lost during initdead is still fenced.
    fn view_changed_with_death(&mut self, dead: policy::NodeId) {
        self.send_view(policy::NodeSet::from_ids([dead]));
    }

    fn send_view(&mut self, dead: policy::NodeSet) {
        let members = self.members();
        let quorate = self.membership.quorum().quorate;
        self.policy.handle(
            self.now(),
            policy::Input::Membership {
                members,
                quorate,
                dead,
            },
        );
    }

    fn policy_action(&mut self, a: policy::Action) {
        use policy::Action as A;
        match a {
            A::Send { to, msg } => {
                let dest = match to {
                    policy::Dest::All => None,
                    policy::Dest::Node(id) => self.nodes.get(id.index()).cloned(),
                };
                let body = codec::policy_body(&msg, dest.as_ref());
                let h = MsgHandle(self.next_handle);
                self.next_handle += 1;
                self.payloads.insert(h, body);
                if self
                    .membership
                    .send_cluster(Time(self.now()), h, dest)
                    .is_none()
                {
                    self.payloads.remove(&h);
                }
            }
            A::Start(g) => {
                self.group_state.insert(g, "starting");
                let _ = self.groups_tx.send((g, GroupOp::Start));
            }
            A::Stop(g) => {
                self.group_state.insert(g, "stopping");
                let _ = self.groups_tx.send((g, GroupOp::Stop));
            }
            A::Monitor(g) => {
                let _ = self.groups_tx.send((g, GroupOp::Monitor));
            }
            A::RequestFence(id) => {
                let Some(name) = self.nodes.get(id.index()).cloned() else {
                    return;
                };
                match &self.opts.fenced_socket {
                    Some(path) => {
                        tracing::info!("asking fenced to fence {name}");
                        workers::fence(
                            path.clone(),
                            id,
                            name.to_string(),
                            self.local.to_string(),
                            self.tx.clone(),
                        );
                    }
                    None => {
                        tracing::error!(
                            "node {name} must be fenced before its groups move, but no fenced is configured (--fenced-socket); its groups stay down"
                        );
                        let _ = self.tx.send(Ev::Fenced(id, false));
                    }
                }
            }
            A::SelfFence(reason) => {
                options::fire(&self.armed, &format!("{reason:?}"));
            }
            A::ShutdownComplete => {
                let now = Time(self.now());
                self.membership.leave(now);
                while let Some(a) = self.membership.poll_action() {
                    self.membership_action(a);
                }
                tracing::info!("left the cluster");
                self.exit = true;
            }
        }
    }

    /// Builds, signs and sends `body` on every link.
    fn send(&mut self, body: &Body, seq: u64, dest: Option<&NodeName>) {
        let dest_uuid = dest
            .and_then(|d| self.membership.node(d))
            .and_then(|v| v.uuid)
            .map(|u| u.0);
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
        let q = self.membership.quorum();
        let mut nodes = vec![NodeReport {
            name: self.local.to_string(),
            node_type: "normal".into(),
            status: match self.membership.local_state() {
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
        for n in self.membership.nodes() {
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
        let status = self.policy.status();
        let groups = codec::group_reports(&status, &self.cfg, &self.nodes, &self.group_state);
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
                qdisk_votes: self.membership.qdisk_votes_held(),
                quorate: q.quorate,
            },
            parameters: codec::parameters(&self.cfg),
            auth_failures: self.auth_failures,
            replays: self.replays,
        };
        if let Ok(mut s) = self.shared.status.lock() {
            *s = reply;
        }
    }
}

/// Where hbd keeps its state unless told otherwise (heartbeat's directory, so `hb_uuid`
/// and `hb_generation` carry over in a migration).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/heartbeat";
