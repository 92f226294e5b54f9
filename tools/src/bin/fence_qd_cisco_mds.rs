//! `fence_qd_cisco_mds`: see the `stonith::fcmib` plugin. Called exactly like fence-agents'
//! `fence_cisco_mds` (options on the command line or `name=value` lines on stdin, `-o metadata`,
//! exit codes 0/1/2); the community and passphrases belong on stdin.

fn main() {
    std::process::exit(stonith::agent::run::main("cisco_mds"));
}
