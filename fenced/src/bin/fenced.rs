//! fenced: fencing as a service. See `fenced --help`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;
use fenced::config::{FencedConfig, DEFAULT_CONFIG};

const LONG_ABOUT: &str = "\
The fence daemon.

fenced fences (STONITH) failed nodes before anyone touches their resources. It walks each \
node's fence levels from the cluster file in order (every device of a level must succeed), \
retries, then retries the whole list with back-off until it succeeds or an administrator \
acknowledges the node as safely down. Cluster requests wait for this partition to be \
quorate and for the configured delays; administrator requests act at once. Resource-level \
devices (fabric ports) are switched back on when a node rejoins (unfencing). Every \
operation is recorded in a history that survives restarts.

Devices are fence agents called with the fence-agents convention (parameters on standard \
input, never on the command line): ClusterLabs agents such as fence_ipmilan and fence_ifmib, \
and this toolkit's own.";

const AFTER_LONG_HELP: &str = "\
FILES:
    /etc/cluster/cluster.toml              [fenced], [[fence_device]], [[node]] fence levels
                                           (mode 0600 when it holds passwords)
    /run/fenced/fenced.sock                the API socket (root only)
    /var/lib/cluster/fence-history.jsonl   the history
    /var/lib/cluster/fenced.boot_id        the boot id fenced last started in (beside the
                                           history): at start fenced unfences its own node
                                           only after a reboot, never after a mere restart
    /proc/sys/kernel/random/boot_id        this boot's id

SIGNALS:
    SIGTERM, SIGINT   stop (operations in progress are abandoned and not recorded)

EXIT STATUS:
    0 stopped, 1 refused to start (with the reason), 2 invalid command line

SEE ALSO:
    fence_node(8), fence_tool(8)";

#[derive(Debug, Parser)]
#[command(name = "fenced", version, about = "The fence daemon", long_about = LONG_ABOUT, after_long_help = AFTER_LONG_HELP)]
struct Args {
    /// Cluster file
    #[arg(short = 'c', long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// Validate the configuration and exit
    #[arg(long)]
    check: bool,
    /// Stay in the foreground (fenced always does)
    #[arg(short = 'f')]
    foreground: bool,
    /// Debug logging
    #[arg(short = 'D', long)]
    debug: bool,
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
    let config = match FencedConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fenced: {e}");
            std::process::exit(1);
        }
    };
    if args.check {
        println!(
            "configuration {} is valid: {} fence devices, {} nodes",
            config.file.display(),
            config.devices.len(),
            config.topology.nodes.len()
        );
        for (name, node) in &config.topology.nodes {
            let levels: Vec<String> = node
                .levels
                .iter()
                .map(|l| {
                    l.devices
                        .iter()
                        .map(|d| d.device.0.clone())
                        .collect::<Vec<_>>()
                        .join("+")
                })
                .collect();
            println!(
                "  {name}: levels [{}], unfence {}",
                levels.join(", "),
                node.unfence.len()
            );
        }
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            eprintln!("fenced: cannot handle signal {signal}: {e}");
            std::process::exit(1);
        }
    }
    if let Err(e) = fenced::daemon::run(&config, stop) {
        eprintln!("fenced: {e}");
        std::process::exit(1);
    }
}
