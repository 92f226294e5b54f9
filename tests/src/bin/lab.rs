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
    /// The playground: the tutorial's web cluster up, to break by hand (`up`, `fault`,
    /// `down`).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// The chaos campaign: random fault schedules against the real cluster, each checked by
    /// an observer the cluster cannot fool (the shared-disk writer's landing times, ARP
    /// answers for the floating IP, fence history); a verdict per schedule, a summary
    /// table, an HTML report and, for a violation, the schedule and one merged timeline.
    #[command(after_long_help = CHAOS_EXAMPLES)]
    Chaos {
        /// The seeds: `1..201` (201 excluded), `1..=200`, or one seed. Each seed draws one
        /// schedule (cluster size, fencing, quorum disk, timing, 30-120 s of faults).
        #[arg(long)]
        seeds: String,
        /// Only clusters of this many nodes (2-8) instead of 2, 3 or 5 drawn from the seed.
        #[arg(long)]
        nodes: Option<usize>,
        /// Only this fencing: ipmi, fabric or poison (poison implies the quorum disk).
        #[arg(long)]
        fencing: Option<String>,
        /// Only with the quorum disk.
        #[arg(long, conflicts_with = "no_qdisk")]
        qdisk: bool,
        /// Only without the quorum disk.
        #[arg(long)]
        no_qdisk: bool,
        /// Only this timing profile: fast, demo or seed.
        #[arg(long)]
        timing: Option<String>,
        /// Length of each schedule's fault phase in seconds, instead of 30-120 drawn.
        #[arg(long, value_name = "SECS")]
        duration: Option<u64>,
        /// Every fence agent lies (reports success, does nothing): the checker's own test,
        /// which must then report violations.
        #[arg(long)]
        liar: bool,
        /// Where the records, timelines and reports go.
        #[arg(long, value_name = "DIR", default_value = "chaos-out")]
        out: std::path::PathBuf,
        /// Directory of the workspace's binaries (default: this program's own).
        #[arg(long, value_name = "DIR")]
        bins: Option<std::path::PathBuf>,
    },
    /// One report for campaigns run side by side: reads every seed-N/record.json of the
    /// DIRs and writes the summary table, summary.md, report.html and the timelines to --out.
    ChaosReport {
        /// Campaign output directories (lab chaos --out).
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<std::path::PathBuf>,
        /// Where the merged reports go.
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
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

/// `lab cluster` subcommands.
#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Build the web cluster (web1..webN, a client, BMCs, a quorum disk, the floating IP and
    /// its web service, and the shared-disk writer), wait until the floating IP serves,
    /// write the state file, print how to run the tools on each node, and hold it until
    /// --hold ends, SIGTERM/Ctrl-C, or `lab cluster down`.
    #[command(after_long_help = CLUSTER_UP_EXAMPLES)]
    Up {
        /// Cluster nodes, 2 to 5 (web1..webN); the client is one more.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=5))]
        nodes: u8,
        /// The cluster software: ours (hbd, fenced, qdiskd) or heartbeat (Debian's 3.0.6,
        /// which has neither fencing nor a quorum disk: use --no-qdisk).
        #[arg(long, default_value = "ours")]
        stack: String,
        /// With the quorum disk (the default).
        #[arg(long, conflicts_with = "no_qdisk")]
        qdisk: bool,
        /// Without the quorum disk (the client then answers ping for quorum).
        #[arg(long)]
        no_qdisk: bool,
        /// How nodes are fenced: ipmi (BMC power off), fabric (the node's SAN and
        /// heartbeat switch ports disabled over SNMP), poison (a poison pill on the quorum
        /// disk; every node gets a watchdog; needs --qdisk) or noop (success reported,
        /// nothing done: unsafe, for comparisons only).
        #[arg(long, default_value = "ipmi")]
        fencing: String,
        /// Timing profile: seed (the tutorial's: keepalive 1 s, deadtime 8 s), demo
        /// (500 ms, 5 s) or fast (250 ms, 2 s); the quorum disk's interval follows.
        #[arg(long, default_value = "demo")]
        timing: String,
        /// haresources' auto_failback: on, off or legacy.
        #[arg(long, default_value = "on")]
        auto_failback: String,
        /// The group's preferred node in haresources.
        #[arg(long, default_value = "web1")]
        prefer: String,
        /// Leave the shared-disk writer out of the group.
        #[arg(long)]
        no_writer: bool,
        /// The state file (JSON: the nodes, their namespaces, cgroups, addresses, BMCs and
        /// the command that runs a program inside each; the floating IP; the client).
        #[arg(long, value_name = "FILE", default_value = lab::playground::state::DEFAULT_STATE)]
        state: std::path::PathBuf,
        /// Tear down after this many seconds.
        #[arg(long, value_name = "SECS")]
        hold: Option<f64>,
        /// Directory of the workspace's binaries (default: this program's own).
        #[arg(long, value_name = "DIR")]
        bins: Option<std::path::PathBuf>,
    },
    /// Inject a fault into the running cluster and say what was done.
    #[command(after_long_help = FAULT_KINDS)]
    Fault {
        /// The state file `lab cluster up` wrote.
        #[arg(long, value_name = "FILE", default_value = lab::playground::state::DEFAULT_STATE)]
        state: std::path::PathBuf,
        /// KIND and its arguments, e.g. `crash web1`, `partition web1/web2`,
        /// `cut --from web1 --to web2` (see below).
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "KIND [ARGS]"
        )]
        words: Vec<String>,
    },
    /// Tear the cluster down (waits until it is gone).
    Down {
        /// The state file `lab cluster up` wrote.
        #[arg(long, value_name = "FILE", default_value = lab::playground::state::DEFAULT_STATE)]
        state: std::path::PathBuf,
    },
}

const CLUSTER_UP_EXAMPLES: &str = "EXAMPLES:
    lab cluster up                               the tutorial's two nodes, quorum disk, IPMI
    lab cluster up --nodes 3 --fencing fabric --timing fast --state /tmp/c3.json
    lab cluster up --stack heartbeat --no-qdisk  Debian's heartbeat 3.0.6, to compare

Then, from another terminal:
    lab cluster fault crash web1
    jq -r '.nodes[0].exec | join(\" \")' /run/lab-cluster.json   # prefix running a command on web1
    lab cluster down";

const FAULT_KINDS: &str = "KINDS:
    crash NODE...                 dies: off the network, processes killed, disk I/O lost
    power-off NODE...             power button off;  power-on NODE... (a crashed node is reset)
    pause NODE... / resume NODE...          every process frozen / thawed
    kill-daemon DAEMON NODE...    kill -9 of hbd, fenced, qdiskd or heartbeat
    restart-daemon DAEMON NODE... / pause-daemon DAEMON NODE... / resume-daemon DAEMON NODE...
    cut [--net heartbeat|mgmt|san|all] NODE...    links cut both ways (default: heartbeat)
    cut --from A --to B           one way: B no longer hears A
    heal [NODE...]                every cut, one-way cut, partition and loss lifted
    partition A,B/C               heartbeat network split in groups (others stay in the first)
    loss PERCENT [NODE...]        heartbeat packets lost both ways (0 lifts it)
    disk-fail / disk-stall / disk-heal NODE...   shared-disk I/O fails (EIO) / hangs / works
    bmc-down / bmc-up NODE...     the node's BMC stops / starts answering
    bmc-slow NODE...              the BMC answers late (frozen 1.5 s of every 2 s; bmc-up lifts)
    fence-lie / fence-honest      every fence agent reports success without acting / acts

EXAMPLES:
    lab cluster fault partition web1/web2
    lab cluster fault --state /tmp/c3.json kill-daemon hbd web2";

const CHAOS_EXAMPLES: &str = "EXAMPLES:
    lab chaos --seeds 1..201 --out /tmp/chaos     the campaign: 200 schedules
    lab chaos --seeds 17 --out /tmp/chaos17       replay one seed
    lab chaos --seeds 1..4 --nodes 2 --no-qdisk --liar --duration 30
                                                  the checker's own test: must report violations

EXIT STATUS:
    0 every schedule ok; 1 a violation or no recovery; 2 bad usage, a lab failure, or
    interrupted (Ctrl-C / SIGTERM tear the running schedule's cluster down; the reports cover
    the schedules that finished)";

/// The directory of this program (where cargo put the workspace's other binaries too).
fn own_dir() -> std::path::PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_else(|| std::path::PathBuf::from("."))
}

fn cluster(command: ClusterCommand) -> ExitCode {
    let result = match command {
        ClusterCommand::Up {
            nodes,
            stack,
            qdisk: _,
            no_qdisk,
            fencing,
            timing,
            auto_failback,
            prefer,
            no_writer,
            state,
            hold,
            bins,
        } => {
            let options = lab::playground::Options {
                nodes: usize::from(nodes),
                qdisk: !no_qdisk && stack == "ours",
                stack,
                fencing,
                timing,
                auto_failback,
                prefer,
                writer: !no_writer,
            };
            lab::playground::hold::up(
                &options,
                &bins.unwrap_or_else(own_dir),
                &state,
                hold.map(Duration::from_secs_f64),
            )
        }
        ClusterCommand::Fault { state, words } => {
            lab::playground::hold::fault(&state, &words).map(|said| println!("{said}"))
        }
        ClusterCommand::Down { state } => {
            lab::playground::hold::down(&state, Duration::from_secs(120))
                .map(|()| println!("the cluster is down"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab cluster: {e}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn chaos(
    seeds: &str,
    nodes: Option<usize>,
    fencing: Option<String>,
    qdisk: Option<bool>,
    timing: Option<String>,
    duration: Option<u64>,
    liar: bool,
    out: &std::path::Path,
    bins: Option<std::path::PathBuf>,
) -> ExitCode {
    let seeds = match lab::chaos::campaign::parse_seeds(seeds) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lab chaos: {e}");
            return ExitCode::from(2);
        }
    };
    let constraints = lab::chaos::schedule::Constraints {
        nodes,
        fencing,
        qdisk,
        timing,
        duration: duration.map(Duration::from_secs),
    };
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, std::sync::Arc::clone(&interrupted)) {
            eprintln!("lab chaos: cannot handle signals ({e}); Ctrl-C would skip the teardown");
            return ExitCode::from(2);
        }
    }
    let config = lab::chaos::run::RunConfig {
        bins: bins.unwrap_or_else(own_dir),
        out: out.to_path_buf(),
        liar,
        interrupted: std::sync::Arc::clone(&interrupted),
    };
    match lab::chaos::campaign::campaign(seeds, &constraints, &config, out) {
        Ok(records) => {
            use lab::chaos::record::Verdict;
            if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
                eprintln!(
                    "lab chaos: interrupted after {} schedules; the reports in {} cover them",
                    records.len(),
                    out.display()
                );
                ExitCode::from(2)
            } else if records.iter().any(|r| r.verdict == Verdict::LabError) {
                ExitCode::from(2)
            } else if records.iter().all(|r| r.verdict == Verdict::Ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("lab chaos: {e}");
            ExitCode::from(2)
        }
    }
}

/// `lab chaos-report`: the reports of several campaign directories as one.
fn chaos_report(dirs: &[std::path::PathBuf], out: &std::path::Path) -> ExitCode {
    let records = match lab::chaos::campaign::load_records(dirs) {
        Ok(r) if r.is_empty() => {
            eprintln!("lab chaos-report: no seed-N/record.json in the directories given");
            return ExitCode::from(2);
        }
        Ok(r) => r,
        Err(e) => {
            eprintln!("lab chaos-report: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = lab::chaos::report::write_reports(out, &records) {
        eprintln!("lab chaos-report: writing {}: {e}", out.display());
        return ExitCode::from(2);
    }
    println!(
        "{}\n{} schedules; report: {}",
        lab::chaos::report::summary_table(&records),
        records.len(),
        out.join("report.html").display()
    );
    ExitCode::SUCCESS
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
        Command::Cluster(command) => cluster(command),
        Command::ChaosReport { dirs, out } => chaos_report(&dirs, &out),
        Command::Chaos {
            seeds,
            nodes,
            fencing,
            qdisk,
            no_qdisk,
            timing,
            duration,
            liar,
            out,
            bins,
        } => chaos(
            &seeds,
            nodes,
            fencing,
            match (qdisk, no_qdisk) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            timing,
            duration,
            liar,
            &out,
            bins,
        ),
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
