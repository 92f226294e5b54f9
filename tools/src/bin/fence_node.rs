//! fence_node: fence or unfence a cluster node. See `fence_node --help`.

use clap::Parser;

fn main() {
    if plumbing::man::print_if_asked(<tools::fence::node::Args as clap::CommandFactory>::command())
    {
        return;
    }
    let args = tools::fence::node::Args::parse();
    std::process::exit(tools::fence::node::run(&args));
}
