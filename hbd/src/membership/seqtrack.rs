//! Receiving side of heartbeat's sequence numbers: per peer, the last seq seen and the
//! missing ones, each with its retransmission-request timer (heartbeat's `seqtrack`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::time::Time;

/// A gap larger than this resets tracking instead of requesting retransmission
/// (`FLOWCONTROL_LIMIT`).
pub const GAP_LIMIT: u64 = 250;
/// At most this many missing seqs are remembered per peer; older ones are given up.
pub const MAX_MISSING: usize = 500;

/// How a sequenced packet fits the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// The newest so far (possibly after a gap).
    New,
    /// A late packet that fills a recorded hole.
    Late,
    /// Seen already, or too old to matter.
    Duplicate,
}

/// The outcome of [`SeqTrack::receive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// How it fits.
    pub fit: Fit,
    /// A new hole `first..=last` was recorded.
    pub lost: Option<(u64, u64)>,
    /// The gap exceeded [`GAP_LIMIT`]: tracking restarted, this many seqs skipped.
    pub reset_gap: Option<u64>,
    /// This packet emptied the list of missing seqs.
    pub filled: bool,
}

/// Per-peer receive tracking.
#[derive(Debug, Clone, Default)]
pub struct SeqTrack {
    last: Option<u64>,
    /// Missing seq → when to (re)request it.
    missing: BTreeMap<u64, Time>,
}

impl SeqTrack {
    /// Forgets everything (node death, restart, tracking reset).
    pub fn reset(&mut self) {
        self.last = None;
        self.missing.clear();
    }

    /// The highest seq seen since the last reset.
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// The lowest missing seq.
    pub fn lowest_missing(&self) -> Option<u64> {
        self.missing.keys().next().copied()
    }

    /// How many seqs are missing.
    pub fn missing_count(&self) -> usize {
        self.missing.len()
    }

    /// Fits `seq` in; `delay` draws the first request delay for each new missing seq.
    pub fn receive(&mut self, seq: u64, now: Time, mut delay: impl FnMut() -> Duration) -> Receipt {
        let mut receipt = Receipt {
            fit: Fit::New,
            lost: None,
            reset_gap: None,
            filled: false,
        };
        let Some(last) = self.last else {
            self.last = Some(seq);
            return receipt;
        };
        if seq > last {
            let gap = seq - last - 1;
            if gap > GAP_LIMIT {
                self.missing.clear();
                receipt.reset_gap = Some(gap);
            } else if gap > 0 {
                for s in last + 1..seq {
                    self.missing.insert(s, now + delay());
                }
                while self.missing.len() > MAX_MISSING {
                    self.missing.pop_first();
                }
                receipt.lost = Some((last + 1, seq - 1));
            }
            self.last = Some(seq);
            return receipt;
        }
        if seq < last && self.missing.remove(&seq).is_some() {
            receipt.fit = Fit::Late;
            receipt.filled = self.missing.is_empty();
            return receipt;
        }
        receipt.fit = Fit::Duplicate;
        receipt
    }

    /// Gives up on `seq` (the sender NAKed it). Returns whether it was missing and whether
    /// the list is now empty.
    pub fn forget(&mut self, seq: u64) -> (bool, bool) {
        let was = self.missing.remove(&seq).is_some();
        (was, self.missing.is_empty())
    }

    /// The missing seqs whose request is due at `now`; each is rescheduled `every` later.
    pub fn due(&mut self, now: Time, every: Duration, out: &mut Vec<u64>) {
        for (seq, at) in self.missing.iter_mut() {
            if *at <= now {
                out.push(*seq);
                *at = now + every;
            }
        }
    }

    /// The earliest request timer.
    pub fn next_due(&self) -> Option<Time> {
        self.missing.values().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Time = Time::ZERO;
    fn d() -> Duration {
        Duration::from_millis(100)
    }

    #[test]
    fn the_first_packet_sets_the_base_and_the_next_is_in_order() {
        let mut t = SeqTrack::default();
        assert_eq!(t.receive(42, T, d).fit, Fit::New);
        let r = t.receive(43, T, d);
        assert_eq!((r.fit, r.lost), (Fit::New, None));
        assert_eq!(t.last(), Some(43));
    }

    #[test]
    fn the_same_seq_again_is_a_duplicate() {
        let mut t = SeqTrack::default();
        t.receive(5, T, d);
        assert_eq!(t.receive(5, T, d).fit, Fit::Duplicate);
        assert_eq!(
            t.receive(3, T, d).fit,
            Fit::Duplicate,
            "older, never missing"
        );
    }

    #[test]
    fn a_gap_records_the_holes_and_a_late_packet_fills_one() {
        let mut t = SeqTrack::default();
        t.receive(1, T, d);
        let r = t.receive(5, T, d);
        assert_eq!(r.lost, Some((2, 4)));
        assert_eq!(t.missing_count(), 3);
        assert_eq!(t.lowest_missing(), Some(2));
        let r = t.receive(3, T, d);
        assert_eq!((r.fit, r.filled), (Fit::Late, false));
        assert_eq!(t.receive(3, T, d).fit, Fit::Duplicate);
        t.receive(2, T, d);
        let r = t.receive(4, T, d);
        assert_eq!((r.fit, r.filled), (Fit::Late, true));
    }

    #[test]
    fn a_gap_over_250_resets_instead_of_requesting() {
        let mut t = SeqTrack::default();
        t.receive(1, T, d);
        t.receive(3, T, d);
        let r = t.receive(3 + GAP_LIMIT + 2, T, d);
        assert_eq!(r.reset_gap, Some(GAP_LIMIT + 1));
        assert_eq!(t.missing_count(), 0, "the old hole is forgotten too");
        // Exactly 250 missing is still requested.
        let base = t.last().unwrap_or(0);
        let r = t.receive(base + GAP_LIMIT + 1, T, d);
        assert_eq!(r.lost, Some((base + 1, base + GAP_LIMIT)));
    }

    #[test]
    fn requests_fall_due_after_their_delay_and_repeat() {
        let mut t = SeqTrack::default();
        t.receive(1, T, d);
        t.receive(3, T, d);
        let mut out = Vec::new();
        t.due(Time::from_millis(99), Duration::from_millis(250), &mut out);
        assert!(out.is_empty());
        assert_eq!(t.next_due(), Some(Time::from_millis(100)));
        t.due(Time::from_millis(100), Duration::from_millis(250), &mut out);
        assert_eq!(out, vec![2]);
        assert_eq!(t.next_due(), Some(Time::from_millis(350)));
        assert_eq!(t.forget(2), (true, true));
        assert_eq!(t.next_due(), None);
    }

    #[test]
    fn the_missing_list_is_bounded() {
        let mut t = SeqTrack::default();
        let mut seq = 1;
        t.receive(seq, T, d);
        for _ in 0..4 {
            seq += 200;
            t.receive(seq, T, d);
        }
        assert_eq!(t.missing_count(), MAX_MISSING);
        // 4 holes of 199: the lowest 296 are given up (all of 2..=200, then 202..=298).
        assert_eq!(t.lowest_missing(), Some(299));
    }
}
