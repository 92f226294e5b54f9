//! `hbctl`: the command-line face of hbd — heartbeat's `cl_status` subcommands with the same
//! output and exit codes, `--json` for programs, and `standby`/`takeover` (heartbeat's
//! `hb_standby`/`hb_takeover`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use hbd::api::{GroupSet, StatusReply};
use hbd::client::{HbdClient, DEFAULT_SOCKET};
use tools::say;

/// cl_status's exit codes.
const OK: u8 = 0;
const NORMAL_FAIL: u8 = 1;
const PARAMETER_ERROR: u8 = 11;
const UNKNOWN_ERROR: u8 = 13;

#[derive(Parser)]
#[command(
    name = "hbctl",
    version,
    about = "Query and steer the local hbd (heartbeat's cl_status, hb_standby and hb_takeover)",
    long_about = "Query and steer the local hbd.\n\n\
The query subcommands are heartbeat's cl_status ones, with the same output and exit codes, \
so scripts written for cl_status work unchanged: 0 success (node or link up), 1 normal \
failure (node or link dead, hbd not running), 11 parameter error (a bad command line, an \
unknown node, link or parameter), 13 other error. --json prints hbd's whole answer instead, \
for programs; with --json a failure is a JSON object too: {\"error\": ..., \"exit\": CODE}.",
    after_help = "Examples:\n  hbctl nodestatus web2 && echo web2 is up\n  hbctl listnodes -n\n  \
hbctl hblinkstatus web2 eth1\n  hbctl status            (nodes, links, quorum, groups and why a group waits)\n  \
hbctl standby foreign   (give the groups preferring another node back to it)\n  hbctl --json status | jq .quorum"
)]
struct Cli {
    /// hbd's API socket.
    #[arg(long, global = true, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Human-readable sentences instead of bare words (cl_status -m).
    #[arg(short = 'm', global = true)]
    human: bool,
    /// Print hbd's answer as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Whether hbd runs on this machine (exit 0 running, 1 stopped).
    Hbstatus {
        /// Also list nodes with their type, status and links.
        #[arg(short = 'v')]
        verbose: bool,
    },
    /// List the cluster's nodes.
    Listnodes {
        /// Only ping nodes.
        #[arg(short = 'p', conflicts_with = "normal")]
        ping: bool,
        /// Only normal nodes.
        #[arg(short = 'n')]
        normal: bool,
        /// Also type, status and links.
        #[arg(short = 'v')]
        verbose: bool,
    },
    /// A node's status: init, up, active, dead or ping (exit 0 for active, up, ping).
    Nodestatus {
        /// Node name.
        node: String,
    },
    /// A node's type: normal or ping.
    Nodetype {
        /// Node name.
        node: String,
    },
    /// The heartbeat links (interfaces, serial lines) to a node.
    Listhblinks {
        /// Also each link's status.
        #[arg(short = 'v')]
        verbose: bool,
        /// Node name.
        node: String,
    },
    /// One link's status: up or dead (exit 0 up, 1 dead).
    Hblinkstatus {
        /// Node name.
        node: String,
        /// Link name (as listhblinks prints it).
        link: String,
    },
    /// What this node holds: none, local, foreign, all (or transition).
    Rscstatus,
    /// A parameter's effective value (keepalive, deadtime, warntime, initdead, udpport,
    /// auto_failback, baud, hbversion, ...).
    Hbparameter {
        /// Parameter name.
        #[arg(short = 'p', value_name = "NAME")]
        name: String,
    },
    /// Overview: nodes, links, quorum, resource groups and why a group is not running.
    Status,
    /// Give resource groups to the peer (heartbeat's hb_standby).
    Standby {
        /// Which groups, relative to this node.
        #[arg(value_enum, default_value_t = Set::All)]
        set: Set,
    },
    /// Take resource groups from the peer (heartbeat's hb_takeover).
    Takeover {
        /// Which groups, relative to this node.
        #[arg(value_enum, default_value_t = Set::All)]
        set: Set,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Set {
    All,
    Local,
    Foreign,
}

impl From<Set> for GroupSet {
    fn from(s: Set) -> GroupSet {
        match s {
            Set::All => GroupSet::All,
            Set::Local => GroupSet::Local,
            Set::Foreign => GroupSet::Foreign,
        }
    }
}

fn main() -> ExitCode {
    if plumbing::man::print_if_asked(<Cli as clap::CommandFactory>::command()) {
        return ExitCode::SUCCESS;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(usage_error(&e)),
    };
    ExitCode::from(run(&cli))
}

/// A bad command line: cl_status's parameter error (11), not clap's 2; help and version are
/// no errors. With `--json` anywhere on the line the error is a JSON object on stdout.
fn usage_error(e: &clap::Error) -> u8 {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return OK;
    }
    if std::env::args().any(|a| a == "--json") {
        let message = e.kind().as_str().map_or_else(
            || e.to_string().lines().next().unwrap_or_default().to_string(),
            str::to_string,
        );
        let detail = e.to_string();
        say!(
            "{}",
            serde_json::json!({
                "error": message,
                "detail": detail.trim_end(),
                "exit": PARAMETER_ERROR,
            })
        );
    } else {
        let _ = e.print();
    }
    PARAMETER_ERROR
}

/// Reports a failure: `hbctl: MESSAGE` on stderr, or with `--json` a JSON object on stdout
/// (`{"error": MESSAGE, "exit": CODE}`), so programs always get JSON. Returns `code`.
fn fail(cli: &Cli, code: u8, message: &str) -> u8 {
    if cli.json {
        say!("{}", serde_json::json!({ "error": message, "exit": code }));
    } else {
        eprintln!("hbctl: {message}");
    }
    code
}

fn run(cli: &Cli) -> u8 {
    let mut client = match HbdClient::connect(&cli.socket) {
        Ok(c) => c,
        Err(e) => {
            if matches!(cli.command, Command::Hbstatus { .. }) {
                if cli.json {
                    say!("{{\"running\":false}}");
                } else {
                    say!("Heartbeat is stopped on this machine.");
                }
                return NORMAL_FAIL;
            }
            return fail(
                cli,
                NORMAL_FAIL,
                &format!("{e}; is hbd running? (hbctl hbstatus)"),
            );
        }
    };
    match &cli.command {
        Command::Standby { set } | Command::Takeover { set } => {
            let reply = if matches!(cli.command, Command::Standby { .. }) {
                client.standby((*set).into())
            } else {
                client.takeover((*set).into())
            };
            return match reply {
                Ok(r) => {
                    if cli.json {
                        say!("{}", serde_json::to_string(&r).unwrap_or_default());
                    } else {
                        say!("{}", r.message);
                    }
                    if r.accepted {
                        OK
                    } else {
                        NORMAL_FAIL
                    }
                }
                Err(e) => fail(cli, UNKNOWN_ERROR, &e.to_string()),
            };
        }
        _ => {}
    }
    let status = match client.status() {
        Ok(s) => s,
        Err(e) => return fail(cli, UNKNOWN_ERROR, &e.to_string()),
    };
    if cli.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&status).unwrap_or_default()
        );
        return OK;
    }
    query(cli, &status)
}

fn unknown_node(node: &str) -> u8 {
    eprintln!("Error. May be due to incorrect node name: {node} is not in ha.cf (hbctl listnodes lists the nodes)");
    PARAMETER_ERROR
}

fn query(cli: &Cli, s: &StatusReply) -> u8 {
    let human = cli.human;
    let node = |name: &str| {
        let name = name.to_ascii_lowercase();
        s.nodes.iter().find(|n| n.name == name)
    };
    match &cli.command {
        Command::Hbstatus { verbose } => {
            if *verbose {
                say!("version:\t{}", s.hbversion);
                say!("managed by:\t\"haresources\"");
                list_nodes(s, false, false, true);
            } else {
                say!("Heartbeat is running on this machine.");
            }
            OK
        }
        Command::Listnodes {
            ping,
            normal,
            verbose,
        } => {
            list_nodes(s, *ping, *normal, *verbose);
            OK
        }
        Command::Nodestatus { node: name } => match node(name) {
            None => unknown_node(name),
            Some(n) => {
                if human {
                    say!("The cluster node {name} is {}", n.status);
                } else {
                    say!("{}", n.status);
                }
                if matches!(n.status.as_str(), "active" | "up" | "ping") {
                    OK
                } else {
                    NORMAL_FAIL
                }
            }
        },
        Command::Nodetype { node: name } => match node(name) {
            None => unknown_node(name),
            Some(n) => {
                if human {
                    say!("The node {name}'s type: {}", n.node_type);
                } else {
                    say!("{}", n.node_type);
                }
                OK
            }
        },
        Command::Listhblinks {
            verbose,
            node: name,
        } => match node(name) {
            None => unknown_node(name),
            Some(n) => {
                if human {
                    say!("\tthis node has the following heartbeat links:");
                }
                for l in &n.links {
                    if *verbose {
                        say!("\t{}\t{}", l.name, l.status);
                    } else {
                        say!("\t{}", l.name);
                    }
                }
                OK
            }
        },
        Command::Hblinkstatus { node: name, link } => match node(name) {
            None => unknown_node(name),
            Some(n) => match n.links.iter().find(|l| &l.name == link) {
                None => {
                    eprintln!("Cannot get heartbeat link status: {name} has no link {link} (hbctl listhblinks {name})");
                    UNKNOWN_ERROR
                }
                Some(l) => {
                    if human {
                        say!("The node {name}'s heartbeat link {link} is {}", l.status);
                    } else {
                        say!("{}", l.status);
                    }
                    if l.status == "up" {
                        OK
                    } else {
                        NORMAL_FAIL
                    }
                }
            },
        },
        Command::Rscstatus => {
            if human {
                say!("This node is holding {} resources.", s.rscstatus);
            } else {
                say!("{}", s.rscstatus);
            }
            OK
        }
        Command::Hbparameter { name } => match s.parameters.iter().find(|(k, _)| k == name) {
            Some((_, v)) => {
                if human {
                    say!("Heartbeat parameter {name}'s value: {v}");
                } else {
                    say!("{v}");
                }
                OK
            }
            None => {
                eprintln!(
                    "Cannot get parameter {name}'s value (known: {})",
                    s.parameters
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                NORMAL_FAIL
            }
        },
        Command::Status => {
            overview(s);
            OK
        }
        Command::Standby { .. } | Command::Takeover { .. } => OK,
    }
}

fn list_nodes(s: &StatusReply, ping: bool, normal: bool, verbose: bool) {
    for n in &s.nodes {
        if (ping && n.node_type != "ping") || (normal && n.node_type != "normal") {
            continue;
        }
        if verbose {
            say!("\n{}\t{}\t(nodetype: {})", n.name, n.status, n.node_type);
            for l in &n.links {
                say!("\t{}\t{}", l.name, l.status);
            }
        } else {
            say!("{}", n.name);
        }
    }
}

fn overview(s: &StatusReply) {
    let q = &s.quorum;
    say!(
        "Node {} — quorum: {} ({} of {} votes, {} from the quorum disk)",
        s.local,
        if q.quorate { "yes" } else { "NO" },
        q.votes,
        q.expected,
        q.qdisk_votes
    );
    say!("\nNodes:");
    for n in &s.nodes {
        let links: Vec<String> = n
            .links
            .iter()
            .map(|l| format!("{} {}", l.name, l.status))
            .collect();
        let heard = n
            .last_heard_ms
            .map(|ms| format!(", heard {:.1} s ago", ms as f64 / 1000.0))
            .unwrap_or_default();
        say!(
            "  {:<20} {:<7} {:<6} [{}]{heard}",
            n.name,
            n.status,
            n.node_type,
            links.join(", ")
        );
    }
    if !s.groups.is_empty() {
        say!("\nResource groups (this node holds: {}):", s.rscstatus);
        for g in &s.groups {
            let owner = g.owner.as_deref().unwrap_or("-");
            let reason = g
                .reason
                .as_deref()
                .map(|r| format!(" — {r}"))
                .unwrap_or_default();
            say!(
                "  {:<28} {:<9} on {:<16} (prefers {}){reason}",
                g.key,
                g.state,
                owner,
                g.preferred
            );
        }
    }
    if s.auth_failures > 0 || s.replays > 0 {
        say!(
            "\nDropped packets: {} failed authentication, {} replays or duplicates",
            s.auth_failures,
            s.replays
        );
    }
}
