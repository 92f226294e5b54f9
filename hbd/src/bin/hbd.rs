//! `hbd`: the heartbeat daemon. So far only `--check` is implemented.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use hbd::config::{load_dir, summary, LocalNode, NodeName, DEFAULT_DIR};

/// Heartbeat daemon for v1 (haresources) clusters.
///
/// Only `--check` is available so far: running the daemon itself prints
/// "not implemented yet: only --check is available" and exits 2.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// Parse and validate ha.cf, authkeys and haresources without starting anything; print
    /// the effective settings (defaults included, keys masked). Exit 0 when valid, 1 otherwise.
    #[arg(long)]
    check: bool,

    /// Configuration directory holding ha.cf, authkeys and haresources.
    #[arg(default_value = DEFAULT_DIR)]
    dir: PathBuf,

    /// This node's cluster name, instead of DIR/nodeinfo or `uname -n`.
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.check {
        eprintln!("hbd: not implemented yet: only --check is available");
        return ExitCode::from(2);
    }
    let local = match &args.node {
        Some(n) => LocalNode::Named(NodeName::new(n)),
        None => LocalNode::FromSystem,
    };
    let loaded = load_dir(&args.dir, &local);
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    for e in &loaded.errors {
        eprintln!("{e}");
    }
    match loaded.value {
        Some(cfg) if loaded.errors.is_empty() => {
            print!("{}", summary(&cfg));
            println!("\n# configuration is valid");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "hbd: {} error(s) in {}",
                loaded.errors.len(),
                args.dir.display()
            );
            ExitCode::from(1)
        }
    }
}
