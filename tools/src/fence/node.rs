//! `fence_node NODE`: fence (or `-U` unfence) a node, through fenced when it runs, directly
//! from the cluster file otherwise.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use fenced::api::{Payload, Request};
use fenced::client::{ClientError, FencedClient};
use fenced::config::{FencedConfig, DEFAULT_CONFIG, DEFAULT_SOCKET};
use fenced::direct::Progress;
use fenced::history::{FenceAction, Origin, Record};

use super::render;
use crate::say;

const AFTER_LONG_HELP: &str = "\
fence_node asks fenced to fence NODE and waits for the result. When fenced is not running \
(or with --direct) it fences NODE itself, walking the node's fence levels from the cluster \
file in order, giving up after --rounds rounds. Either way the node's levels and devices are \
the ones in the cluster file; administrator requests are not delayed and not gated by \
quorum.

EXIT STATUS:
    0   the node is fenced (or unfenced with -U)
    1   it could not be, or the request was refused

EXAMPLES:
    fence_node web1                 fence web1 (power off)
    fence_node -o reboot -v web1    reboot it, showing each level and device
    fence_node -U                   unfence this node (switch its fabric ports back on)";

/// Arguments of fence_node.
#[derive(Debug, Parser)]
#[command(name = "fence_node", version, about = "Fence or unfence a cluster node", after_long_help = AFTER_LONG_HELP)]
pub struct Args {
    /// The node [default with -U: this node]
    pub node: Option<String>,
    /// Unfence instead of fence
    #[arg(short = 'U', long)]
    pub unfence: bool,
    /// Fence action
    #[arg(short = 'o', long, value_parser = ["off", "reboot"], default_value = "off")]
    pub action: String,
    /// Show each level and device as it goes
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Cluster file
    #[arg(short = 'c', long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// fenced's socket
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Do not use fenced even if it runs
    #[arg(long)]
    pub direct: bool,
    /// Rounds of the whole fence list before giving up (direct mode)
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
}

fn done(record: &Record, unfence: bool) -> i32 {
    say!("{}", render::record(record).trim_end());
    let ok = if unfence {
        record.outcome == fenced::history::Outcome::Unfenced
    } else {
        record.outcome.is_fenced()
    };
    i32::from(!ok)
}

/// Runs fence_node.
pub fn run(args: &Args) -> i32 {
    let node = match (&args.node, args.unfence) {
        (Some(n), _) => n.clone(),
        (None, true) => rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned(),
        (None, false) => {
            eprintln!("fence_node: name the node to fence");
            return 2;
        }
    };
    let action = match (args.unfence, args.action.as_str()) {
        (true, _) => FenceAction::On,
        (false, "reboot") => FenceAction::Reboot,
        _ => FenceAction::Off,
    };
    if !args.direct {
        match FencedClient::connect(&args.socket) {
            Ok(mut client) => return through_fenced(&mut client, &node, action, args),
            Err(ClientError::Connect { .. }) => {
                if args.verbose > 0 {
                    say!("fenced is not running: fencing {node} directly");
                }
            }
            Err(e) => {
                eprintln!("fence_node: {e}");
                return 1;
            }
        }
    }
    let config = match FencedConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fence_node: {e}");
            return 1;
        }
    };
    let verbose = args.verbose > 0;
    let mut progress = |p: Progress| {
        if !verbose {
            return;
        }
        match p {
            Progress::Calling {
                level,
                device,
                action,
            } => say!("level {level}: {device} {action} ..."),
            Progress::Answered {
                device,
                error: None,
            } => say!("  {device}: ok"),
            Progress::Answered {
                device,
                error: Some(e),
            } => say!("  {device}: {e}"),
            Progress::Note(n) => say!("{n}"),
        }
    };
    match fenced::direct::run(
        &config,
        &node,
        action,
        &super::who(),
        args.rounds,
        &mut progress,
    ) {
        Ok(record) => done(&record, args.unfence),
        Err(e) => {
            eprintln!("fence_node: {e}");
            1
        }
    }
}

fn through_fenced(client: &mut FencedClient, node: &str, action: FenceAction, args: &Args) -> i32 {
    let request = if action == FenceAction::On {
        Request::Unfence {
            target: node.into(),
            wait: true,
        }
    } else {
        Request::Fence {
            target: node.into(),
            action,
            origin: Origin::Admin(super::who()),
            wait: true,
        }
    };
    match client.call(request, Some(Duration::from_secs(30))) {
        Ok(Payload::Accepted { id }) => {
            if args.verbose > 0 {
                say!("fenced accepted the request as operation #{id}; waiting");
            }
        }
        Ok(other) => {
            eprintln!("fence_node: unexpected answer {other:?}");
            return 1;
        }
        Err(e) => {
            eprintln!("fence_node: {e}");
            return 1;
        }
    }
    match client.wait_reply(None) {
        Ok(Payload::Finished { record }) => done(&record, args.unfence),
        Ok(other) => {
            eprintln!("fence_node: unexpected answer {other:?}");
            1
        }
        Err(e) => {
            eprintln!("fence_node: {e}");
            1
        }
    }
}
