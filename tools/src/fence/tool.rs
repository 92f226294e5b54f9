//! `fence_tool ls | history [NODE] | ack NODE | dump`: what fenced is doing and has done.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use fenced::api::{Payload, Request};
use fenced::client::{ClientError, FencedClient};
use fenced::config::{FencedConfig, DEFAULT_CONFIG, DEFAULT_HISTORY, DEFAULT_SOCKET};

use super::render;
use crate::say;

const AFTER_LONG_HELP: &str = "\
EXAMPLES:
    fence_tool ls                   operations in progress, and whether we are quorate
    fence_tool history web1         every fence operation on web1, with each device tried
    fence_tool ack web1             declare web1 safely down (only after checking it!);
                                    refused while the quorum disk shows web1 writing
    fence_tool ack --force web1     ... even then (or when qdiskd cannot be asked)
    fence_tool history --json       for scripts

While fenced is not running, `fence_tool history` reads the history file itself (from
--history-file, or the cluster file's [fenced] history_file, or the default) and says so;
the other commands say how to go on (fence_node fences straight from the cluster file).

EXIT STATUS:
    0 success, 1 fenced not reachable or the request refused, 2 invalid command line";

/// Arguments of fence_tool.
#[derive(Debug, Parser)]
#[command(name = "fence_tool", version, about = "Query and control fenced", after_long_help = AFTER_LONG_HELP)]
pub struct Args {
    /// What to do
    #[command(subcommand)]
    pub command: Command,
    /// fenced's socket
    #[arg(long, global = true, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Print JSON
    #[arg(long, global = true)]
    pub json: bool,
    /// The cluster file, for the history file's place when fenced is not running
    #[arg(long, global = true, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub cluster_file: PathBuf,
    /// The history file to read when fenced is not running [default: the cluster file's
    /// [fenced] history_file, or /var/lib/cluster/fence-history.jsonl]
    #[arg(long, global = true, value_name = "FILE")]
    pub history_file: Option<PathBuf>,
}

/// fence_tool's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Operations in progress and the quorum state
    Ls,
    /// Past operations (of NODE, or all)
    History {
        /// Only this node
        node: Option<String>,
        /// At most this many, newest last
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Declare NODE safely down: ends its fencing as acknowledged (manual override).
    /// With a quorum disk, fenced refuses while qdiskd sees NODE still writing its status
    /// block, or cannot be asked, unless --force
    Ack {
        /// The node
        node: String,
        /// Do not ask for confirmation
        #[arg(short = 'y', long)]
        yes: bool,
        /// Acknowledge even when the quorum disk shows NODE still writing or qdiskd cannot
        /// be asked (only after checking NODE yourself!)
        #[arg(long)]
        force: bool,
    },
    /// Everything fenced knows: status and the whole history, as JSON
    Dump,
}

/// Runs fence_tool.
pub fn run(args: &Args) -> i32 {
    match execute(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fence_tool: {e}");
            1
        }
    }
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Where fenced keeps its history: `--history-file`, else the cluster file's, else the
/// default; with a note when the cluster file could not be read.
fn history_path(args: &Args) -> (PathBuf, Option<String>) {
    if let Some(path) = &args.history_file {
        return (path.clone(), None);
    }
    match FencedConfig::load(&args.cluster_file) {
        Ok(config) => (config.history_file, None),
        Err(e) => (
            PathBuf::from(DEFAULT_HISTORY),
            Some(format!(
                "the cluster file could not be read ({e}); using the default"
            )),
        ),
    }
}

/// `fence_tool history` while fenced is down: the records straight from the file.
fn history_from_file(
    args: &Args,
    node: Option<&str>,
    limit: usize,
    why: &ClientError,
) -> Result<i32, Box<dyn std::error::Error>> {
    let (path, note) = history_path(args);
    eprintln!(
        "fence_tool: {why}; is fenced running? Reading the history file {} instead",
        path.display()
    );
    if let Some(note) = note {
        eprintln!("fence_tool: {note}");
    }
    let file = fenced::store::read_history(&path)
        .map_err(|e| format!("cannot read the history file {}: {e}", path.display()))?;
    for (line, e) in &file.damaged {
        eprintln!(
            "fence_tool: {}:{line}: a damaged line, skipped: {e}",
            path.display()
        );
    }
    let mut records: Vec<_> = file
        .records
        .into_iter()
        .filter(|r| node.is_none_or(|n| r.target.0 == n))
        .collect();
    let skip = records.len().saturating_sub(limit);
    records.drain(..skip);
    if args.json {
        say!("{}", json(&Payload::History { records }));
    } else {
        if records.is_empty() {
            say!("no fence operations recorded");
        }
        for r in &records {
            crate::output::print_stdout(&render::record(r));
        }
    }
    Ok(0)
}

fn execute(args: &Args) -> Result<i32, Box<dyn std::error::Error>> {
    let mut client = match FencedClient::connect(&args.socket) {
        Ok(client) => client,
        Err(e @ ClientError::Connect { .. }) => {
            if let Command::History { node, limit } = &args.command {
                return history_from_file(args, node.as_deref(), *limit, &e);
            }
            return Err(format!(
                "{e}; is fenced running (start it with `fenced`, or check its log)? \
                 `fence_tool history` still reads the history file, and `fence_node NODE` \
                 fences straight from the cluster file"
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    let timeout = Some(Duration::from_secs(10));
    match &args.command {
        Command::Ls => {
            let status = client.call(Request::Status, timeout)?;
            if args.json {
                say!("{}", json(&status));
            } else if let Payload::Status { quorate, ops } = status {
                say!(
                    "partition: {}",
                    if quorate {
                        "quorate"
                    } else {
                        "NOT quorate (cluster fencing waits)"
                    }
                );
                if ops.is_empty() {
                    say!("no fence operation in progress");
                }
                for op in ops {
                    say!(
                        "#{} {} {}: {} (round {}, {} device calls), asked by {}",
                        op.id,
                        render::action(op.action),
                        op.target,
                        op.state,
                        op.round,
                        op.attempts,
                        op.origin
                    );
                }
            }
        }
        Command::History { node, limit } => {
            let history = client.call(
                Request::History {
                    target: node.clone(),
                    limit: Some(*limit),
                },
                timeout,
            )?;
            if args.json {
                say!("{}", json(&history));
            } else if let Payload::History { records } = history {
                if records.is_empty() {
                    say!("no fence operations recorded");
                }
                for r in &records {
                    crate::output::print_stdout(&render::record(r));
                }
            }
        }
        Command::Ack { node, yes, force } => {
            if !yes {
                crate::output::print_stdout(&format!(
                    "Acknowledging {node} as fenced lets the cluster take over its resources.\nOnly do this after checking that {node} is powered off or cut off from shared storage.\nProceed [N/y]? "
                ));
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    say!("not acknowledged");
                    return Ok(1);
                }
            }
            let acked = client.call(
                Request::Ack {
                    target: node.clone(),
                    by: super::who(),
                    force: *force,
                },
                timeout,
            );
            match acked {
                Ok(_) => say!("{node} acknowledged as safely down"),
                // fenced's refusal says why and what to do: shown as it is.
                Err(ClientError::Refused(why)) => {
                    eprintln!("fence_tool: {why}");
                    return Ok(1);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Command::Dump => {
            let status = client.call(Request::Status, timeout)?;
            let history = client.call(
                Request::History {
                    target: None,
                    limit: None,
                },
                timeout,
            )?;
            say!(
                "{}",
                json(&serde_json::json!({ "status": status, "history": history }))
            );
        }
    }
    Ok(0)
}
