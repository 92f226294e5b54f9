//! APC Smart-UPS smart-protocol model. `Y` → `SM`; `Q` status; registers `~` (bit 0x40:
//! output off), `8` (bit 0x08: reset in progress), `?` and `'`; `p`/`r` read the shutdown
//! and wake-up delays and `-` after them steps to the next value (an EEPROM write,
//! counted); `S` (shutdown on battery) → `NA` on line power; `@ddd` → `OK`, output off
//! after the grace delay `p`, back on `cycle_off` later; `Z` and `^N` twice, 1.5 s to 10 s
//! apart, switch the output off / on. Replies end CR LF. The factory state here is grace
//! 180 s and wake-up 60 s, values cluster-glue's plugin walks and rewrites.

use std::time::{Duration, Instant};

use crate::devsim::{Delays, DeviceState, Model, Schedule};

const GRACE: [&str; 4] = ["020", "180", "300", "600"];
const WAKEUP: [&str; 4] = ["000", "060", "180", "300"];
const MIN_GAP: Duration = Duration::from_millis(1500);
const MAX_GAP: Duration = Duration::from_secs(10);

/// The UPS model.
pub struct ApcSmart {
    delays: Delays,
    grace: usize,
    wakeup: usize,
    selected: Option<u8>,
    armed: Option<(u8, Instant)>,
    at_digits: Option<String>,
}

/// Whether an `@ddd` reset is under way (its last mark in the log is its start).
fn resetting(st: &DeviceState) -> bool {
    st.commands
        .iter()
        .rev()
        .find(|c| c.starts_with("reset-"))
        .is_some_and(|c| c == "reset-started")
}

impl ApcSmart {
    /// A UPS in its factory state, output on.
    pub fn new(delays: Delays) -> ApcSmart {
        ApcSmart {
            delays,
            grace: 1,
            wakeup: 1,
            selected: None,
            armed: None,
            at_digits: None,
        }
    }
}

impl Model for ApcSmart {
    fn byte(&mut self, now: Instant, b: u8, st: &mut DeviceState, out: &mut Schedule) {
        let at = now + self.delays.reply;
        if let Some(digits) = self.at_digits.as_mut() {
            if b.is_ascii_digit() {
                digits.push(char::from(b));
                if digits.len() == 3 {
                    let cmd = format!("@{digits}");
                    self.at_digits = None;
                    st.commands.push(cmd);
                    if !st.outputs[0] || resetting(st) {
                        out.emit(at, "NA\r\n");
                        return;
                    }
                    out.emit(at, "OK\r\n");
                    st.commands.push("reset-started".into());
                    let grace_s: f64 = GRACE[self.grace].parse().unwrap_or(20.0);
                    let off = at + Duration::from_secs_f64(grace_s * self.delays.cycle_scale);
                    let on = off + self.delays.cycle_off;
                    out.change(off, |s| s.outputs[0] = false);
                    out.change(on, |s| {
                        s.outputs[0] = true;
                        s.commands.push("reset-done".into());
                    });
                }
                return;
            }
            self.at_digits = None;
        }
        if b == b'\r' || b == b'\n' {
            return;
        }
        if b != b'-' {
            self.selected = None;
        }
        match b {
            b'Y' => out.emit(at, "SM\r\n"),
            b'Q' => out.emit(at, if st.outputs[0] { "08\r\n" } else { "00\r\n" }),
            b'~' => out.emit(at, if st.outputs[0] { "00\r\n" } else { "40\r\n" }),
            b'8' => out.emit(at, if resetting(st) { "08\r\n" } else { "00\r\n" }),
            b'?' | b'\'' => out.emit(at, "00\r\n"),
            b'p' => {
                self.selected = Some(b'p');
                out.emit(at, format!("{}\r\n", GRACE[self.grace]));
            }
            b'r' => {
                self.selected = Some(b'r');
                out.emit(at, format!("{}\r\n", WAKEUP[self.wakeup]));
            }
            b'-' => match self.selected {
                Some(b'p') => {
                    self.grace = (self.grace + 1) % GRACE.len();
                    st.eeprom_writes += 1;
                    out.emit(at + Duration::from_millis(100), "OK\r\n");
                }
                Some(b'r') => {
                    self.wakeup = (self.wakeup + 1) % WAKEUP.len();
                    st.eeprom_writes += 1;
                    out.emit(at + Duration::from_millis(100), "OK\r\n");
                }
                _ => out.emit(at, "NA\r\n"),
            },
            b'S' => {
                st.commands.push("S".into());
                out.emit(at, "NA\r\n");
            }
            b'@' => self.at_digits = Some(String::new()),
            b'Z' | 0x0E => {
                let name = if b == b'Z' { "Z" } else { "^N" };
                match self.armed {
                    Some((c, t)) if c == b && (MIN_GAP..=MAX_GAP).contains(&(now - t)) => {
                        self.armed = None;
                        st.commands.push(name.into());
                        let on = b == 0x0E;
                        out.change(at + self.delays.relay, move |s| s.outputs[0] = on);
                    }
                    _ => self.armed = Some((b, now)),
                }
            }
            _ => out.emit(at, "NA\r\n"),
        }
    }
}
