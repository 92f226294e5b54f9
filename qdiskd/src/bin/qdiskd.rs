//! qdiskd: the quorum-disk daemon. See `qdiskd --help`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;
use qdisk::config::{DiskTarget, QdiskdConfig, DEFAULT_CONFIG};
use qdisk::daemon::{run, Outcome};

const LONG_ABOUT: &str = "\
The quorum-disk daemon.

Every interval qdiskd writes this node's status block to the shared quorum disk and reads \
every other node's. A node whose block stops changing for tko intervals is declared dead; \
the lowest live node id is elected master; the master writes an eviction notice into the \
slot of a dead or hung node, which fences itself the moment it reads it. Heuristics \
(programs such as a ping of the router) decide whether this node may hold the quorum-disk \
votes, which hbd adds to its quorum: the tie-breaker for even-sized clusters.

qdiskd reads the [quorumd] section of the cluster file, with Red Hat's qdiskd defaults. It \
works on disks made by Red Hat's mkqdisk and by ours.";

const AFTER_LONG_HELP: &str = "\
SELF-FENCING:
    A node fences itself when it finds an eviction notice in its slot, when it cannot \
complete a status write for (tko-1) intervals (before anyone may evict it), when its score \
drops below min_score (reboot = true), and with io_timeout / paranoid when reads fail or a \
cycle overruns. These deadlines are timers: they fire while an I/O system call hangs. The \
action is self_fence = \"reboot\" (production: immediate reboot, no sync) or \
\"kill-cgroup\" (test labs: kills every process of qdiskd's cgroup). qdiskd says at start \
which action is set, and refuses to start when it cannot carry it out.

HARDWARE WATCHDOG:
    qdiskd arms a watchdog device (watchdog = \"/dev/watchdog\" by default; watchdog_timeout = automatic) and pets it only while a hang starting now would let it fire before the write deadline, so a node whose daemon or kernel hangs is reset by hardware, and a write stuck in the storage path dies with the reset instead of landing after the eviction. The timeout is whole seconds with timeout + 1.5 intervals <= (tko-1) intervals. qdiskd names the device, its driver and the timeout at start, refuses to start when it cannot arm it, and disarms it (magic close) only on a clean stop: a crash, SIGKILL or giving up leaves it running. watchdog = \"none\" runs without one, and says so.

SIGNALS:
    SIGTERM, SIGINT   leave cleanly: a master announces it is leaving and waits for a new \
master; state None is written; the votes are withdrawn.

FILES:
    /etc/cluster/cluster.toml   the cluster file ([cluster], [[node]], [quorumd])
    /run/qdiskd/qdiskd.sock     the API socket (root only): status and events, JSON lines

EXIT STATUS:
    0   stopped cleanly
    1   refused to start (configuration, disk, self-fence action), with the reason
    2   invalid command line
    3   gave up after max_error_cycles cycles with read errors

EXAMPLES:
    Check the configuration without starting:
        qdiskd --check
    Run in the foreground with debug logging:
        qdiskd -f -d
    Watch it work:
        mkqdisk -d /dev/mapper/qdisk";

#[derive(Debug, Parser)]
#[command(name = "qdiskd", version, about = "The quorum-disk daemon", long_about = LONG_ABOUT, after_long_help = AFTER_LONG_HELP)]
struct Args {
    /// Cluster file
    #[arg(short = 'c', long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    config: PathBuf,

    /// This node's name in the cluster file [default: uname -n]
    #[arg(long, value_name = "NAME")]
    node_name: Option<String>,

    /// Validate the configuration, print the effective settings, and exit
    #[arg(long)]
    check: bool,

    /// Stay in the foreground (qdiskd always does; for Red Hat compatibility)
    #[arg(short = 'f')]
    foreground: bool,

    /// Debug logging
    #[arg(short = 'd', long)]
    debug: bool,

    /// Accepted for Red Hat compatibility; ignored
    #[arg(short = 'Q', hide = true)]
    quiet: bool,
}

fn node_name(args: &Args) -> String {
    args.node_name.clone().unwrap_or_else(|| {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    })
}

fn print_check(config: &QdiskdConfig) {
    println!(
        "configuration {} is valid for node {} (id {})",
        config.file.display(),
        config.node_name,
        config.node
    );
    match &config.target {
        DiskTarget::Label(l) => println!("  disk:          label '{l}'"),
        DiskTarget::Device(d) => println!("  disk:          {}", d.display()),
    }
    let t = config.timing;
    println!(
        "  membership:    {}",
        qdisk::timing::human(&config.membership_timeout)
    );
    println!(
        "  interval:      {}",
        t.interval
            .map_or("1 s (default)".into(), |i| qdisk::timing::human(&i))
    );
    println!(
        "  tko:           {}",
        t.tko.map_or("automatic".into(), |v| v.to_string())
    );
    println!(
        "  votes:         {}{}",
        config.votes,
        if config.master_wins {
            " (master_wins)"
        } else {
            ""
        }
    );
    println!("  heuristics:    {}", config.heuristics.len());
    println!("  self_fence:    {}", config.self_fence);
    match &config.watchdog {
        qdisk::config::WatchdogDevice::None => println!("  watchdog:      none"),
        qdisk::config::WatchdogDevice::Device(d) => println!(
            "  watchdog:      {} (timeout {})",
            d.display(),
            config
                .watchdog_timeout
                .map_or("automatic".into(), |t| qdisk::timing::human(&t))
        ),
    }
    println!("  socket:        {}", config.socket.display());
}

fn main() {
    if plumbing::man::print_if_asked(<Args as clap::CommandFactory>::command()) {
        return;
    }
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_max_level(if args.debug {
            tracing::Level::DEBUG
        } else {
            tracing::Level::INFO
        })
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let name = node_name(&args);
    let config = match QdiskdConfig::load(&args.config, &name) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("qdiskd: {e}");
            std::process::exit(1);
        }
    };
    if args.check {
        print_check(&config);
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            eprintln!("qdiskd: cannot handle signal {signal}: {e}");
            std::process::exit(1);
        }
    }
    let code = match run(&config, stop) {
        Ok(Outcome::Stopped) => 0,
        Ok(Outcome::GaveUp) => 3,
        Err(e) => {
            eprintln!("qdiskd: {e}");
            1
        }
    };
    std::process::exit(code);
}
