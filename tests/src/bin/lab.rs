//! `lab`: bring a test lab up by hand, sweep leftovers of killed runs, check for leftovers.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use lab::sweep::{leftovers, sweep};
use lab::Lab;

/// The qdisk/fencing test lab: a whole cluster on this machine (run as root).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bring a lab up, print its nodes, addresses, BMCs and disk, wait, then tear it down.
    Up {
        /// Number of nodes (1-99).
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// Heartbeat media (1 or 2).
        #[arg(long, default_value_t = 2)]
        media: u8,
        /// Size of the shared disk in MiB (0 for none).
        #[arg(long, default_value_t = 64)]
        disk_mib: u64,
        /// Sector size of the shared disk (512 or 4096).
        #[arg(long, default_value_t = 512)]
        sector_size: u32,
        /// Do not start BMCs (ipmi_sim).
        #[arg(long)]
        no_bmcs: bool,
        /// Do not start the switch's SNMP agent (snmpd).
        #[arg(long)]
        no_snmp: bool,
        /// Tear down after this many seconds instead of waiting for Ctrl-C / SIGTERM.
        #[arg(long, value_name = "SECS")]
        hold: Option<f64>,
    },
    /// Time full labs (2 media, 64 MiB shared disk, BMCs, SNMP) coming up and going down.
    Bench {
        /// Number of nodes.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// How many times.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// The demo: the heartbeat tutorial's two-node web cluster (our hbd, fenced and
    /// qdiskd, a quorum disk, IPMI BMCs) is built, web1 crashes, is fenced, web2 takes
    /// over, web1 comes back and takes its service back; a timeline of each step.
    Demo {
        /// Directory holding the workspace's binaries (hbd, hbctl, fenced, qdiskd,
        /// mkqdisk, fence_qd_ipmilan), e.g. target/release.
        #[arg(long, value_name = "DIR")]
        bins: std::path::PathBuf,
    },
    /// Remove leftovers of labs whose process is dead (namespaces, cgroups and their
    /// processes, FUSE mounts, loop devices, directories).
    Sweep,
    /// List lab objects on this machine; exit 1 if any is left over from a dead lab.
    Check,
    /// Run a serial power-switch simulator on a PTY linked at PORT (rps10, apcsmart,
    /// nw_rpc100s, lcus), until Ctrl-C / SIGTERM or --hold; needs no root.
    SerialSim {
        /// The device: rps10, apcsmart, nw_rpc100s or lcus.
        #[arg(long)]
        device: String,
        /// Where to link the serial port (the path a client opens).
        #[arg(long)]
        port: std::path::PathBuf,
        /// Short device delays (tests) instead of realistic ones.
        #[arg(long)]
        fast: bool,
        /// Stop after this many seconds.
        #[arg(long, value_name = "SECS")]
        hold: Option<f64>,
    },
    /// Run the chaos campaign's shared-disk writer until SIGTERM or SIGINT: a record every
    /// interval to this node's area of a region of the shared disk.
    ///
    /// While it runs it writes a 512-byte record (magic QLABWREC, format version, node id
    /// and name, a random incarnation, a sequence number from 1, the CLOCK_MONOTONIC time
    /// the write was issued, CRC-32) every --interval with O_DIRECT and O_DSYNC to this
    /// node's area of the region, as a database on shared storage would.
    ///
    /// The region is split into --max-nodes equal areas of whole slots, a slot being one
    /// logical sector of the device (512 or 4096 bytes; the record is its first 512).
    /// Node N writes only area N, round it as a ring. At start it reads its area and
    /// continues in the slot after its newest record (highest issue time), so a restarted
    /// writer never overwrites its recent records.
    ///
    /// An I/O error does not stop it: it reports the first one on stderr, then one line
    /// every 5 s while they go on, and tries again at each interval. It logs one line at
    /// start (node, incarnation, the slot it continues at) and one at stop. On SIGTERM or
    /// SIGINT it exits once the write in flight has returned.
    ///
    /// It is the program of the `diskwriter` resource script
    /// (lab::diskwriter::DISKWRITER_SCRIPT). The lab's checker reads the region and, with
    /// the landing times the lab's disk layer journaled, proves that no two writers ever
    /// owned the region at once. Needs no root beyond what opening the device needs.
    ///
    /// Exit status: 0 after SIGTERM or SIGINT, 1 if the device cannot be opened, 2 on bad
    /// options (node id out of range, region beyond the device or not aligned to its
    /// sectors, ...).
    DiskWriter {
        /// The shared disk as this node sees it: a block device (e.g. /dev/loop5) or a
        /// regular file on a file system with direct I/O.
        #[arg(long, value_name = "DEV")]
        device: std::path::PathBuf,
        /// The writer region: OFFSET:LEN, in bytes or with a binary unit (K, M, G, T),
        /// both multiples of 512 (of 4096 on a 4096-byte-sector disk), e.g. 16M:16M.
        #[arg(long, value_name = "OFFSET:LEN")]
        region: lab::diskwriter::Region,
        /// This node's id, 1 to --max-nodes (the lab node index): it picks the area.
        #[arg(long, value_name = "N")]
        node_id: u32,
        /// This node's name, written into every record (1 to 32 bytes).
        #[arg(long, value_name = "NAME")]
        node_name: String,
        /// Into how many equal per-node areas the region is split (the same on every
        /// node).
        #[arg(long, value_name = "N", default_value_t = 8)]
        max_nodes: u32,
        /// Time between two records, e.g. 20ms or 1s.
        #[arg(long, value_name = "DURATION", default_value = "20ms", value_parser = humantime::parse_duration)]
        interval: Duration,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::SerialSim {
        device,
        port,
        fast,
        hold,
    } = &cli.command
    {
        return serial_sim(device, port, *fast, *hold);
    }
    if matches!(cli.command, Command::DiskWriter { .. }) {
        return disk_writer(&cli.command);
    }
    if !lab::root::is_root() {
        eprintln!("lab: must run as root (namespaces, loop devices, cgroups)");
        return ExitCode::from(2);
    }
    match cli.command {
        Command::Up {
            nodes,
            media,
            disk_mib,
            sector_size,
            no_bmcs,
            no_snmp,
            hold,
        } => up(
            nodes,
            media,
            disk_mib,
            sector_size,
            !no_bmcs,
            !no_snmp,
            hold,
        ),
        Command::Bench { nodes, runs } => bench(nodes, runs),
        Command::Demo { bins } => demo(&bins),
        Command::SerialSim {
            device,
            port,
            fast,
            hold,
        } => serial_sim(&device, &port, fast, hold),
        command @ Command::DiskWriter { .. } => disk_writer(&command),
        Command::Sweep => {
            let removed = sweep();
            for l in &removed {
                println!("removed {l}");
            }
            println!("{} leftovers removed", removed.len());
            ExitCode::SUCCESS
        }
        Command::Check => {
            let all = leftovers();
            let dead = all.iter().filter(|l| !l.owner_alive).count();
            for l in &all {
                println!("{l}");
            }
            println!(
                "{dead} leftovers, {} objects of running labs",
                all.len() - dead
            );
            if dead == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn demo(bins: &std::path::Path) -> ExitCode {
    let bins = match lab::hacluster::Binaries::in_dir(bins) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("lab demo: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout();
    match lab::demo::run(bins, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn up(
    nodes: usize,
    media: u8,
    disk_mib: u64,
    sector_size: u32,
    bmcs: bool,
    snmp: bool,
    hold: Option<f64>,
) -> ExitCode {
    // Handle Ctrl-C and SIGTERM from the start, so that they end in a teardown.
    let signal = signal_channel();
    let mut builder = Lab::builder()
        .nodes(nodes)
        .media(media)
        .bmcs(bmcs)
        .snmp(snmp);
    if disk_mib > 0 {
        builder = builder.shared_disk(disk_mib << 20, sector_size);
    }
    let mut lab = match builder.build() {
        Ok(lab) => lab,
        Err(e) => {
            eprintln!("lab: {e}");
            return ExitCode::FAILURE;
        }
    };
    print_lab(&lab);
    println!("up in {:.3} s", lab.up_time().as_secs_f64());
    match hold {
        Some(secs) => {
            let _ = signal.recv_timeout(Duration::from_secs_f64(secs.max(0.0)));
        }
        None => {
            println!("Ctrl-C or SIGTERM tears the lab down");
            let _ = signal.recv();
        }
    }
    let started = Instant::now();
    let result = lab.teardown();
    println!("down in {:.3} s", started.elapsed().as_secs_f64());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab: teardown: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bench(nodes: usize, runs: usize) -> ExitCode {
    let mut ups = Vec::new();
    let mut downs = Vec::new();
    for run in 1..=runs.max(1) {
        let started = Instant::now();
        let built = Lab::builder()
            .nodes(nodes)
            .media(2)
            .shared_disk(64 << 20, 512)
            .bmcs(true)
            .snmp(true)
            .build();
        let mut lab = match built {
            Ok(lab) => lab,
            Err(e) => {
                eprintln!("lab: {e}");
                return ExitCode::FAILURE;
            }
        };
        let up = started.elapsed();
        let started = Instant::now();
        if let Err(e) = lab.teardown() {
            eprintln!("lab: teardown: {e}");
            return ExitCode::FAILURE;
        }
        let down = started.elapsed();
        println!(
            "run {run}: {nodes}-node lab up {:.3} s, down {:.3} s",
            up.as_secs_f64(),
            down.as_secs_f64()
        );
        if run == 1 {
            print!("{}", lab.timeline().render());
        }
        ups.push(up);
        downs.push(down);
    }
    ups.sort();
    downs.sort();
    println!(
        "median of {}: up {:.3} s, down {:.3} s",
        ups.len(),
        ups[ups.len() / 2].as_secs_f64(),
        downs[downs.len() / 2].as_secs_f64()
    );
    ExitCode::SUCCESS
}

fn print_lab(lab: &Lab) {
    println!("lab {} in {}", lab.id(), lab.dir().display());
    for node in lab.nodes() {
        let addrs: Vec<String> = node
            .nets()
            .iter()
            .map(|n| format!("{}={} ({})", n.node_ifname(), node.addr(*n), n))
            .collect();
        println!(
            "{}: netns {}  enter: {}  {}",
            node.hostname(),
            node.netns().name(),
            node.enter_script().display(),
            addrs.join("  ")
        );
        if let Ok(bmc) = lab.bmc(node.index()) {
            println!(
                "  BMC {}:{} user {} password {}  (ipmitool {})",
                bmc.addr(),
                bmc.port(),
                bmc.credentials().user,
                bmc.credentials().password,
                bmc.ipmitool_args().join(" ")
            );
        }
        if let Ok(disk) = lab.disk() {
            if let Ok(dev) = disk.device(node.index()) {
                println!("  shared disk {}", dev.display());
            }
        }
    }
    if let Ok(switch) = lab.switch() {
        println!("switch: netns {}", switch.netns().name());
    }
    if let Ok(snmp) = lab.snmp() {
        let c = snmp.credentials();
        println!(
            "  snmpd {}:161 ro {} rw {} v3 {} (SHA {} / AES {}); ifAdminStatus {}.<ifIndex>",
            snmp.addr(),
            c.ro_community,
            c.rw_community,
            c.v3_user,
            c.v3_auth,
            c.v3_priv,
            lab::snmp::IF_ADMIN_STATUS
        );
    }
}

fn serial_sim(device: &str, port: &std::path::Path, fast: bool, hold: Option<f64>) -> ExitCode {
    use lab::devsim::{Delays, DeviceKind, DeviceSim};
    let kind: DeviceKind = match device.parse() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("lab: {e} (rps10, apcsmart, nw_rpc100s, lcus)");
            return ExitCode::from(2);
        }
    };
    let delays = if fast {
        Delays::fast()
    } else {
        Delays::realistic(kind)
    };
    let signal = signal_channel();
    let sim = match DeviceSim::start(kind, port, delays) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lab: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{} simulator on {} ({delays:?})",
        kind.name(),
        port.display()
    );
    match hold {
        Some(secs) => {
            let _ = signal.recv_timeout(Duration::from_secs_f64(secs.max(0.0)));
        }
        None => {
            let _ = signal.recv();
        }
    }
    println!("{:?}", sim.state());
    ExitCode::SUCCESS
}

/// A channel that receives once SIGINT or SIGTERM arrives; from then on these signals no
/// longer kill the process, so the lab is always torn down.
fn signal_channel() -> std::sync::mpsc::Receiver<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let (tx, rx) = std::sync::mpsc::channel();
    match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                if signals.forever().next().is_some() {
                    let _ = tx.send(());
                }
            });
        }
        Err(e) => eprintln!("lab: cannot handle signals ({e}); Ctrl-C will skip teardown"),
    }
    rx
}

/// `lab disk-writer`: runs the shared-disk writer until SIGTERM or SIGINT.
fn disk_writer(command: &Command) -> ExitCode {
    let Command::DiskWriter {
        device,
        region,
        node_id,
        node_name,
        max_nodes,
        interval,
    } = command
    else {
        return ExitCode::from(2);
    };
    let opts = lab::diskwriter::WriterOptions {
        device: device.clone(),
        region: *region,
        node_id: *node_id,
        node_name: node_name.clone(),
        max_nodes: *max_nodes,
        interval: *interval,
    };
    let stop = match lab::diskwriter::writer::stop_on_signals() {
        Ok(stop) => stop,
        Err(e) => {
            eprintln!("lab disk-writer: {e}");
            return ExitCode::FAILURE;
        }
    };
    match lab::diskwriter::run_writer(&opts, &stop) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e @ lab::diskwriter::Error::Invalid(_)) => {
            eprintln!("lab disk-writer: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("lab disk-writer: {e}");
            ExitCode::FAILURE
        }
    }
}
