//! `fence_qd_usbrelay`: fence through one relay of a USBRelay HID relay board. Called like a fence-agents agent (options on the
//! command line or `name=value` lines on stdin, `-o metadata`, exit codes 0/1/2).

fn main() {
    std::process::exit(stonith::agent::run::main("usbrelay"));
}
