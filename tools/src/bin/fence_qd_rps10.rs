//! `fence_qd_rps10`: fence through a WTI RPS-10 serial power switch outlet. Called like a fence-agents agent (options on the
//! command line or `name=value` lines on stdin, `-o metadata`, exit codes 0/1/2).

fn main() {
    std::process::exit(stonith::agent::run::main("rps10"));
}
