//! mkqdisk: create, list, find and inspect quorum disks. See `mkqdisk --help`.

use clap::Parser;

fn main() {
    if plumbing::man::print_if_asked(<tools::mkqdisk::Args as clap::CommandFactory>::command()) {
        return;
    }
    let args = tools::mkqdisk::Args::parse();
    std::process::exit(tools::mkqdisk::run(&args));
}
