//! `fence_qd_ipmilan`: fence a node through its BMC over IPMI LAN (1.5 or 2.0/RMCP+),
//! natively. Called exactly like fence-agents' `fence_ipmilan` (options on the command line
//! or `name=value` lines on stdin, `-o metadata`, exit codes 0/1/2).

fn main() {
    std::process::exit(stonith::agent::run::main("ipmilan"));
}
