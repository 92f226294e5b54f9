//! Night/Ware RPC100S model. `//0,<wait>,<relay>;` (CR LF and stray CRs around it are
//! ignored): relay `0` on, `*` off, `N` off for N seconds (times `cycle_scale`) then on;
//! `OK` once the relay has switched; anything else `Invalid Entry`.

use std::time::{Duration, Instant};

use crate::devsim::{Delays, DeviceState, Model, Schedule};

/// The RPC100S model.
pub struct NwRpc100s {
    delays: Delays,
    buf: Vec<u8>,
}

impl NwRpc100s {
    /// A unit with its outlet on.
    pub fn new(delays: Delays) -> NwRpc100s {
        NwRpc100s {
            delays,
            buf: Vec::new(),
        }
    }
}

impl Model for NwRpc100s {
    fn byte(&mut self, now: Instant, b: u8, st: &mut DeviceState, out: &mut Schedule) {
        if b != b';' {
            if !(self.buf.is_empty() && b.is_ascii_whitespace()) {
                self.buf.push(b);
            }
            if self.buf.len() > 64 {
                self.buf.clear();
            }
            return;
        }
        let text = String::from_utf8_lossy(&std::mem::take(&mut self.buf))
            .trim()
            .to_string();
        let at = now + self.delays.reply;
        let fields: Vec<&str> = text
            .strip_prefix("//")
            .map(|t| t.split(',').collect())
            .unwrap_or_default();
        let relay = match fields.as_slice() {
            [unit, wait, relay] if *unit == "0" && wait.parse::<u32>().is_ok() => *relay,
            _ => {
                out.emit(at, "Invalid Entry\r\n");
                return;
            }
        };
        let switched = at + self.delays.relay;
        match relay {
            "0" => out.change(switched, |s| s.outputs[0] = true),
            "*" => out.change(switched, |s| s.outputs[0] = false),
            n => match n.parse::<u32>() {
                Ok(secs) if secs > 0 => {
                    let off_for =
                        Duration::from_secs_f64(f64::from(secs) * self.delays.cycle_scale);
                    out.change(switched, |s| s.outputs[0] = false);
                    out.change(switched + off_for + self.delays.relay, |s| {
                        s.outputs[0] = true
                    });
                }
                _ => {
                    out.emit(at, "Invalid Entry\r\n");
                    return;
                }
            },
        }
        st.commands.push(format!("{text};"));
        out.emit(switched, "OK\r\n");
    }
}
