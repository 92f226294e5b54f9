//! WTI RPS-10 model. Commands are `^B^X^X^B^X^X`, an outlet address (`0`-`9` or `*`), a
//! command (`0` off, `1` on, `T` toggle, `?` status) and CR; replies are `Plug <n> On|Off`
//! lines and `Complete`, each CR LF. A DTR reset (hang-up) makes the unit send
//! `RPS-10 Ready` after its banner delay. Realistic delays are assumptions: 1 s to the
//! banner (cluster-glue's comment reports 5-10 s for its 2 s DTR drop plus banner on real
//! units), 100 ms relay switching, 5 s off during a toggle.

use std::time::Instant;

use crate::devsim::{Delays, DeviceState, Model, Schedule};

const PREFIX: [u8; 6] = [0x02, 0x18, 0x18, 0x02, 0x18, 0x18];

/// The RPS-10 model.
pub struct Rps10 {
    delays: Delays,
    units: Vec<u8>,
    buf: Vec<u8>,
}

impl Rps10 {
    /// A switch with units at `units` (addresses 0-9).
    pub fn new(delays: Delays, units: Vec<u8>) -> Rps10 {
        Rps10 {
            delays,
            units,
            buf: Vec::new(),
        }
    }

    fn command(
        &mut self,
        now: Instant,
        outlet: u8,
        cmd: u8,
        st: &mut DeviceState,
        out: &mut Schedule,
    ) {
        st.commands
            .push(format!("{}{}", char::from(outlet), char::from(cmd)));
        let targets: Vec<u8> = if outlet == b'*' {
            self.units.clone()
        } else if outlet.is_ascii_digit() && self.units.contains(&(outlet - b'0')) {
            vec![outlet - b'0']
        } else {
            Vec::new()
        };
        let d = self.delays;
        let start = now + d.reply;
        let plug = |n: u8, on: bool| format!("Plug {n} {}\r\n", if on { "On" } else { "Off" });
        match cmd {
            b'?' => {
                let mut text = String::new();
                for &n in &targets {
                    let on = st.outputs.get(usize::from(n)).copied().unwrap_or(false);
                    text.push_str(&plug(n, on));
                }
                text.push_str("Complete\r\n");
                out.emit(start, text);
            }
            b'0' | b'1' => {
                let on = cmd == b'1';
                let at = start + d.relay;
                let t = targets.clone();
                out.change(at, move |s| {
                    for n in t {
                        if let Some(o) = s.outputs.get_mut(usize::from(n)) {
                            *o = on;
                        }
                    }
                });
                let mut text: String = targets.iter().map(|&n| plug(n, on)).collect();
                text.push_str("Complete\r\n");
                out.emit(at, text);
            }
            b'T' => {
                let off_at = start + d.relay;
                let on_at = off_at + d.cycle_off + d.relay;
                let (t1, t2) = (targets.clone(), targets.clone());
                out.change(off_at, move |s| {
                    for n in t1 {
                        if let Some(o) = s.outputs.get_mut(usize::from(n)) {
                            *o = false;
                        }
                    }
                });
                out.change(on_at, move |s| {
                    for n in t2 {
                        if let Some(o) = s.outputs.get_mut(usize::from(n)) {
                            *o = true;
                        }
                    }
                });
                let offs: String = targets.iter().map(|&n| plug(n, false)).collect();
                let mut ons: String = targets.iter().map(|&n| plug(n, true)).collect();
                ons.push_str("Complete\r\n");
                out.emit(off_at, offs);
                out.emit(on_at, ons);
            }
            _ => out.emit(start, "Complete\r\n"),
        }
    }
}

impl Model for Rps10 {
    fn byte(&mut self, now: Instant, b: u8, st: &mut DeviceState, out: &mut Schedule) {
        if b != b'\r' {
            self.buf.push(b);
            if self.buf.len() > 64 {
                self.buf.drain(..32);
            }
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        if st.faults.needs_reset {
            return;
        }
        let Some(pos) = buf.windows(PREFIX.len()).rposition(|w| w == PREFIX) else {
            return;
        };
        if let [outlet, cmd] = buf[pos + PREFIX.len()..] {
            self.command(now, outlet, cmd, st, out);
        }
    }

    fn hangup(&mut self, now: Instant, st: &mut DeviceState, out: &mut Schedule) {
        self.buf.clear();
        st.faults.needs_reset = false;
        if !st.faults.no_banner {
            out.emit(now + self.delays.banner, "RPS-10 Ready\r\n");
        }
    }
}
