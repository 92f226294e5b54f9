//! mkqdisk: create, list, find and inspect quorum disks. See `mkqdisk --help`.

use clap::Parser;

fn main() {
    let args = tools::mkqdisk::Args::parse();
    std::process::exit(tools::mkqdisk::run(&args));
}
