//! `fence_qd_poison`: fence a node through the quorum disk with a poison pill (SBD's
//! storage-based fencing, acknowledged). Called like a fence-agents agent (options on the
//! command line or `name=value` lines on stdin, `-o metadata`, exit codes 0/1/2).

fn main() {
    std::process::exit(tools::poison::main());
}
