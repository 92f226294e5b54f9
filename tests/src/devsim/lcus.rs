//! CH340 "LCUS" relay board model: 4-byte frames `A0 <relay> <state> <sum>` switch a relay
//! (bad checksum or relay: ignored, as the boards do); `FF` alone asks for the state, one
//! `CH<n>:ON|OFF` line per relay (multi-channel boards; a model without read-back ignores it).

use std::time::Instant;

use crate::devsim::{Delays, DeviceState, Model, Schedule};

/// The relay board model.
pub struct Lcus {
    delays: Delays,
    channels: u8,
    query: bool,
    buf: Vec<u8>,
}

impl Lcus {
    /// A board with `channels` relays, answering the status query if `query`.
    pub fn new(delays: Delays, channels: u8, query: bool) -> Lcus {
        Lcus {
            delays,
            channels,
            query,
            buf: Vec::new(),
        }
    }
}

impl Model for Lcus {
    fn byte(&mut self, now: Instant, b: u8, st: &mut DeviceState, out: &mut Schedule) {
        if self.buf.is_empty() {
            if b == 0xFF && self.query {
                let text: String = (0..usize::from(self.channels))
                    .map(|i| {
                        let on = st.outputs.get(i).copied().unwrap_or(false);
                        format!("CH{}:{}\r\n", i + 1, if on { "ON" } else { "OFF" })
                    })
                    .collect();
                out.emit(now + self.delays.reply, text);
                return;
            }
            if b != 0xA0 {
                return;
            }
        }
        self.buf.push(b);
        if self.buf.len() < 4 {
            return;
        }
        let f = std::mem::take(&mut self.buf);
        let sum = f[0].wrapping_add(f[1]).wrapping_add(f[2]);
        if sum != f[3] || f[1] == 0 || f[1] > self.channels || f[2] > 1 {
            return;
        }
        st.commands.push(format!(
            "{:02X} {:02X} {:02X} {:02X}",
            f[0], f[1], f[2], f[3]
        ));
        let (idx, on) = (usize::from(f[1] - 1), f[2] == 1);
        out.change(now + self.delays.relay, move |s| {
            if let Some(o) = s.outputs.get_mut(idx) {
                *o = on;
            }
        });
    }
}
