//! The quorum disk, modelled: the master (`master_wins`, one vote), its handover a tko
//! after it is lost, qdiskd's answers to hbd's polls, and eviction of a qdiskd that was
//! away past tko.

use super::*;

impl World {
    pub(super) fn qdiskd_awake(&self, i: usize) -> bool {
        let m = &self.machines[i];
        m.powered && !m.paused && m.qdiskd.as_ref().is_some_and(|q| q.paused_since.is_none())
    }

    pub(super) fn lose_master(&mut self, i: usize) {
        if self.master == Some(i) {
            self.note(format!("quorum disk: master {} lost", self.names[i]));
            self.master = None;
            self.master_lost_at = Some(self.now);
        }
    }

    pub(super) fn update_master(&mut self) {
        if !self.params.qdisk {
            return;
        }
        let now = self.now;
        let keep = self.master.is_some_and(|m| {
            let mm = &self.machines[m];
            mm.powered
                && mm.qdiskd.as_ref().is_some_and(|q| {
                    let paused = if mm.paused {
                        Some(mm.paused_since)
                    } else {
                        q.paused_since
                    };
                    paused.is_none_or(|p| now.since(p) < TKO)
                })
        });
        if !keep && self.master.is_some() {
            let m = self.machines[self.master.unwrap_or(0)].name.clone();
            self.note(format!("quorum disk: master {m} lost"));
            self.master = None;
            self.master_lost_at = Some(now);
        }
        let may_elect = self.master_lost_at.is_none_or(|t| now.since(t) >= TKO);
        if self.master.is_none() && may_elect {
            let new = (0..self.params.nodes).find(|&i| {
                self.qdiskd_awake(i)
                    && self.machines[i]
                        .qdiskd
                        .as_ref()
                        .is_some_and(|q| now.since(q.started) >= TKO)
            });
            if let Some(m) = new {
                self.note(format!("quorum disk master: {}", self.names[m]));
                self.master_lost_at = None;
            }
            self.master = new;
        }
    }

    pub(super) fn qdisk_poll(&mut self, i: usize, boot: u64) {
        if !self.machines[i].powered || self.machines[i].boot != boot {
            return; // power-on starts the poll anew
        }
        if !self.hbd_running(i) {
            // The poll thread is hbd's: it stops with it.
            self.after(ms(250), Ev::QdiskPoll(i, boot));
            return;
        }
        let report = match &self.machines[i].qdiskd {
            None => Some(QdiskReport::Unreachable),
            Some(q) if q.paused_since.is_some() => None,
            Some(_) => Some(QdiskReport::Votes(QdiskVotes {
                votes: 1,
                held: self.master == Some(i),
            })),
        };
        if let Some(report) = report {
            let asked_at = self.now;
            self.hbd_input(i, None, Input::Qdisk { report, asked_at });
        }
        self.after(ms(250), Ev::QdiskPoll(i, boot));
    }

    /// qdiskd (or its whole machine) resumes: evicted when it was away past tko.
    pub(super) fn qdisk_resumed(&mut self, i: usize, paused_since: Time) {
        if self.now.since(paused_since) >= TKO {
            if let Some(q) = &self.machines[i].qdiskd {
                let pid = q.pid;
                let d = ms(self.rng.random_range(0..50));
                self.after(d, Ev::SelfFence(i, pid));
            }
        }
    }
}
