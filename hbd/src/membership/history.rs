//! Sending side: the last 500 sequenced messages, kept for retransmission
//! (heartbeat's `MAXMSGHIST`), trimmed by the peers' acknowledgements.

use std::collections::VecDeque;
use std::time::Duration;

use crate::config::NodeName;

use super::time::Time;
use super::types::Sent;

/// Messages kept for retransmission.
pub const MAX_HISTORY: usize = 500;

/// One sent message.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its seq.
    pub seq: u64,
    /// What it was.
    pub msg: Sent,
    /// Its `dest`.
    pub dest: Option<NodeName>,
    /// When it was last (re)sent.
    pub last_sent: Time,
}

/// What a retransmission request finds.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// Still held.
    Found(&'a mut Entry),
    /// Below the history's low-water mark, or never sent: NAK it.
    Gone,
}

/// The sender's history and sequence counter.
#[derive(Debug, Clone)]
pub struct History {
    entries: VecDeque<Entry>,
    next_seq: u64,
}

impl Default for History {
    fn default() -> Self {
        Self {
            entries: VecDeque::new(),
            next_seq: 1,
        }
    }
}

impl History {
    /// The highest seq sent so far (0 before the first).
    pub fn high(&self) -> u64 {
        self.next_seq - 1
    }

    /// How many messages are held.
    pub fn held(&self) -> usize {
        self.entries.len()
    }

    /// Records a new message; returns its seq and the entry pushed out when full.
    pub fn push(&mut self, now: Time, msg: Sent, dest: Option<NodeName>) -> (u64, Option<Entry>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let evicted = if self.entries.len() >= MAX_HISTORY {
            self.entries.pop_front()
        } else {
            None
        };
        self.entries.push_back(Entry {
            seq,
            msg,
            dest,
            last_sent: now,
        });
        (seq, evicted)
    }

    /// Finds `seq` for a retransmission.
    pub fn lookup(&mut self, seq: u64) -> Lookup<'_> {
        let Some(front) = self.entries.front().map(|e| e.seq) else {
            return Lookup::Gone;
        };
        if seq < front {
            return Lookup::Gone;
        }
        match self.entries.get_mut((seq - front) as usize) {
            Some(e) => Lookup::Found(e),
            None => Lookup::Gone,
        }
    }

    /// Drops every entry up to and including `seq`, handing each to `dropped`.
    pub fn trim_upto(&mut self, seq: u64, mut dropped: impl FnMut(Entry)) {
        while self.entries.front().is_some_and(|e| e.seq <= seq) {
            if let Some(e) = self.entries.pop_front() {
                dropped(e);
            }
        }
    }

    /// Whether a retransmission of `entry` now would repeat one sent within `min_gap`.
    pub fn too_soon(entry: &Entry, now: Time, min_gap: Duration) -> bool {
        now.since(entry.last_sent) < min_gap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Sent {
        Sent::Shutdone
    }

    #[test]
    fn seqs_start_at_one_and_are_found_until_trimmed() {
        let mut h = History::default();
        for _ in 0..5 {
            h.push(Time::ZERO, status(), None);
        }
        assert_eq!(h.high(), 5);
        assert!(matches!(h.lookup(3), Lookup::Found(e) if e.seq == 3));
        assert!(matches!(h.lookup(6), Lookup::Gone), "never sent");
        let mut gone = Vec::new();
        h.trim_upto(3, |e| gone.push(e.seq));
        assert_eq!(gone, vec![1, 2, 3]);
        assert!(matches!(h.lookup(3), Lookup::Gone));
        assert!(matches!(h.lookup(4), Lookup::Found(e) if e.seq == 4));
    }

    #[test]
    fn the_history_keeps_the_last_500() {
        let mut h = History::default();
        let mut evicted = Vec::new();
        for _ in 0..MAX_HISTORY + 3 {
            if let (_, Some(e)) = h.push(Time::ZERO, status(), None) {
                evicted.push(e.seq);
            }
        }
        assert_eq!(evicted, vec![1, 2, 3]);
        assert_eq!(h.held(), MAX_HISTORY);
        assert!(matches!(h.lookup(3), Lookup::Gone));
        assert!(matches!(h.lookup(4), Lookup::Found(_)));
    }
}
