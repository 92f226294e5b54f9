//! `hbd`: the heartbeat daemon.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use hbd::agents::AgentConfig;
use hbd::config::{
    load_dir, load_native, summary, Config, LocalNode, NodeName, Parsed, DEFAULT_DIR,
};
use hbd::daemon::{Options, SelfFence, DEFAULT_STATE_DIR};

/// Heartbeat daemon for v1 (haresources) clusters: authenticated heartbeats, membership,
/// quorum (with ping nodes and a quorum disk) and resource failover with fencing.
///
/// hbd reads heartbeat's own ha.cf, authkeys and haresources from DIR (default /etc/ha.d),
/// or the native cluster file with --cluster. It runs in the foreground and logs to
/// standard error (run it under systemd or a supervisor). SIGTERM stops the local resource
/// groups, tells the peers at once (they take over without waiting for deadtime) and exits.
///
/// A dead node's groups move only after fenced confirms the node fenced
/// (--fenced-socket) and only in a quorate partition; hbctl status shows why a group waits.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// Check the whole setup without starting anything: parse and validate the files, print
    /// the effective settings (defaults included, keys masked), then judge the setup as it
    /// would run with these options: fencing, a tie-breaker for two nodes, node names in
    /// ha.cf and the cluster file, fence agents (installed, and their own validate-all),
    /// interfaces, serial devices and resource agents on this node, the quorum disk's timing
    /// against deadtime. Exit 0 when all is well, 1 on errors, 3 on warnings only.
    #[arg(long)]
    check: bool,

    /// The cluster file fenced and qdiskd read (for --check) [default: /etc/cluster/cluster.toml,
    /// or the --cluster file]
    #[arg(long, value_name = "FILE")]
    cluster_file: Option<PathBuf>,

    /// Configuration directory holding ha.cf, authkeys and haresources.
    #[arg(default_value = DEFAULT_DIR)]
    dir: PathBuf,

    /// Read the native cluster file (TOML) instead of DIR.
    #[arg(long, value_name = "FILE")]
    cluster: Option<PathBuf>,

    /// This node's cluster name, instead of DIR/nodeinfo or `uname -n`.
    #[arg(long, value_name = "NAME")]
    node: Option<String>,

    /// State directory: hb_uuid and hb_generation (heartbeat's, so they carry over).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    state_dir: PathBuf,

    /// hbd's API socket (hbctl talks to it).
    #[arg(long, value_name = "PATH", default_value = hbd::client::DEFAULT_SOCKET)]
    socket: PathBuf,

    /// fenced's socket. Without it, a dead node's groups never move (no fencing, no
    /// takeover): hbd refuses to risk two owners.
    #[arg(long, value_name = "PATH")]
    fenced_socket: Option<PathBuf>,

    /// qdiskd's socket: the quorum disk's votes count for quorum while this node holds
    /// them (the tie-breaker of two-node clusters).
    #[arg(long, value_name = "PATH")]
    qdisk_socket: Option<PathBuf>,

    /// Votes of the quorum disk.
    #[arg(long, value_name = "N", default_value_t = 1)]
    qdisk_votes: u32,

    /// Votes of each answering ping node (0: ping nodes do not count for quorum).
    #[arg(long, value_name = "N", default_value_t = 0)]
    ping_votes: u32,

    /// heartbeat-style resource scripts (looked up first).
    #[arg(long, value_name = "DIR", default_value = "/etc/ha.d/resource.d")]
    resource_dir: PathBuf,

    /// LSB init scripts (looked up second).
    #[arg(long, value_name = "DIR", default_value = "/etc/init.d")]
    init_dir: PathBuf,

    /// Check running groups this often (e.g. 10s); a failed check restarts the group in
    /// place up to --max-restarts times, then moves it. Off by default, as in heartbeat.
    #[arg(long, value_name = "TIME", value_parser = humantime::parse_duration)]
    monitor_interval: Option<Duration>,

    /// Restarts in place before a failing group moves.
    #[arg(long, value_name = "N", default_value_t = 3)]
    max_restarts: u32,

    /// What this node does when it must fence itself (a stop failed): reboot (production)
    /// or kill-cgroup (test labs: kills every process of hbd's cgroup, never the machine).
    #[arg(long, value_enum, default_value_t = FenceArg::Reboot)]
    self_fence: FenceArg,

    /// Log level: error, warn, info, debug, trace.
    #[arg(long, default_value = "info")]
    log: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FenceArg {
    Reboot,
    KillCgroup,
}

/// `hbd --check`'s second half: the setup as it would run (see [`hbd::setup`]).
fn whole_setup_check(args: &Args, cfg: &Config) -> ExitCode {
    use hbd::setup::{check, ClusterFile, Setup, Severity, System};
    let path = args
        .cluster_file
        .clone()
        .or_else(|| args.cluster.clone())
        .unwrap_or_else(|| PathBuf::from(fenced::config::DEFAULT_CONFIG));
    let file = match ClusterFile::read(&path, &cfg.local_node.to_string()) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("error: {e}; fix it or point --cluster-file at the right file");
            return ExitCode::from(1);
        }
    };
    let agents = AgentConfig {
        resource_dir: args.resource_dir.clone(),
        init_dir: args.init_dir.clone(),
        ..AgentConfig::default()
    };
    let setup = Setup {
        config: cfg,
        fenced_socket: args.fenced_socket.as_deref(),
        qdisk_socket: args.qdisk_socket.as_deref(),
        ping_votes: args.ping_votes,
        agents: &agents,
        cluster_file: file.as_ref(),
    };
    let findings = check(&setup, &System);
    for f in &findings {
        eprintln!("{f}");
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    let file_note = match &file {
        Some(_) => format!("with {}", path.display()),
        None => format!("without a cluster file ({} does not exist)", path.display()),
    };
    println!("# the setup, {file_note}: {errors} error(s), {warnings} warning(s)");
    if errors > 0 {
        ExitCode::from(1)
    } else if warnings > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

fn report(loaded: &Parsed<Config>, what: &str) -> Option<Config> {
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    for e in &loaded.errors {
        eprintln!("{e}");
    }
    match &loaded.value {
        Some(cfg) if loaded.errors.is_empty() => Some(cfg.clone()),
        _ => {
            eprintln!("hbd: {} error(s) in {what}", loaded.errors.len());
            None
        }
    }
}

fn main() -> ExitCode {
    if plumbing::man::print_if_asked(<Args as clap::CommandFactory>::command()) {
        return ExitCode::SUCCESS;
    }
    let args = Args::parse();
    let local = match &args.node {
        Some(n) => LocalNode::Named(NodeName::new(n)),
        None => LocalNode::FromSystem,
    };
    let (loaded, what) = match &args.cluster {
        Some(file) => (load_native(file, &local), file.display().to_string()),
        None => (load_dir(&args.dir, &local), args.dir.display().to_string()),
    };
    let Some(cfg) = report(&loaded, &what) else {
        return ExitCode::from(1);
    };
    if args.check {
        print!("{}", summary(&cfg));
        println!("\n# the files are valid");
        return whole_setup_check(&args, &cfg);
    }
    let level: tracing::Level = match args.log.parse() {
        Ok(l) => l,
        Err(_) => {
            eprintln!(
                "hbd: --log {}: use error, warn, info, debug or trace",
                args.log
            );
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let agents = AgentConfig {
        resource_dir: args.resource_dir.clone(),
        init_dir: args.init_dir.clone(),
        ..AgentConfig::default()
    };
    let opts = Options {
        state_dir: args.state_dir,
        socket: args.socket,
        fenced_socket: args.fenced_socket,
        qdisk_socket: args.qdisk_socket,
        qdisk_votes: args.qdisk_votes,
        ping_votes: args.ping_votes,
        agents,
        monitor_interval: args.monitor_interval,
        max_restarts: args.max_restarts,
        self_fence: match args.self_fence {
            FenceArg::Reboot => SelfFence::Reboot,
            FenceArg::KillCgroup => SelfFence::KillCgroup,
        },
    };
    if opts.fenced_socket.is_none() {
        tracing::warn!("no --fenced-socket: a dead node's resource groups will not be taken over (fencing is required before takeover)");
    }
    match hbd::daemon::run(opts, cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hbd: {e}");
            ExitCode::from(1)
        }
    }
}
