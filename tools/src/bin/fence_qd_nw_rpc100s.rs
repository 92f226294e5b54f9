//! `fence_qd_nw_rpc100s`: fence through the outlet of a Night/Ware RPC100S serial power switch. Called like a fence-agents agent (options on the
//! command line or `name=value` lines on stdin, `-o metadata`, exit codes 0/1/2).

fn main() {
    std::process::exit(stonith::agent::run::main("nw_rpc100s"));
}
