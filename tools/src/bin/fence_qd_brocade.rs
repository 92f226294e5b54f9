//! `fence_qd_brocade`: see the `stonith::brocade` plugin. Called exactly like fence-agents'
//! `fence_brocade` (options on the command line or `name=value` lines on stdin, `-o metadata`,
//! exit codes 0/1/2); the password belongs on stdin.

fn main() {
    std::process::exit(stonith::agent::run::main("brocade"));
}
