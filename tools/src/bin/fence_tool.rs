//! fence_tool: query and control fenced. See `fence_tool --help`.

use clap::Parser;

fn main() {
    if plumbing::man::print_if_asked(<tools::fence::tool::Args as clap::CommandFactory>::command())
    {
        return;
    }
    let args = tools::fence::tool::Args::parse();
    std::process::exit(tools::fence::tool::run(&args));
}
