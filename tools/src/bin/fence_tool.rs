//! fence_tool: query and control fenced. See `fence_tool --help`.

use clap::Parser;

fn main() {
    let args = tools::fence::tool::Args::parse();
    std::process::exit(tools::fence::tool::run(&args));
}
