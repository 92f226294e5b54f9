//! `fence_qd_apcsmart`: fence through every host on an APC Smart-UPS (smart protocol, serial). Called like a fence-agents agent (options on the
//! command line or `name=value` lines on stdin, `-o metadata`, exit codes 0/1/2).

fn main() {
    std::process::exit(stonith::agent::run::main("apcsmart"));
}
