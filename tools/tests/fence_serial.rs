//! The serial fence agents against the lab's device simulators (PTYs), and cluster-glue's
//! `stonith` plugins against the same simulators: the independent client that tells
//! whether a simulator is right.

mod common_serial;

use std::time::Duration;

use common_serial::Bench;
use lab::devsim::{Delays, DeviceKind};

#[test]
fn smoke() {
    let b = Bench::new(DeviceKind::Rps10, Delays::fast());
    let r = b.ours("status", "");
    eprintln!("{r:?}");
    let g = b.glue("status");
    eprintln!("{g:?}");
    eprintln!("{:?}", b.sim.state());
}
