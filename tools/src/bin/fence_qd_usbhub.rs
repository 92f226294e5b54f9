//! `fence_qd_usbhub`: fence through the power of one USB hub port (per-port power switching, both halves of a USB 3 hub). Called like a fence-agents agent (options on the
//! command line or `name=value` lines on stdin, `-o metadata`, exit codes 0/1/2).

fn main() {
    std::process::exit(stonith::agent::run::main("usbhub"));
}
