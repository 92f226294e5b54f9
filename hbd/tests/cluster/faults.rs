//! The faults: injected at random during the chaos period, undone after a while, and all
//! healed when the faults stop.

use super::*;

impl World {
    pub(super) fn pick(&mut self) -> usize {
        self.rng.random_range(0..self.params.nodes)
    }

    pub(super) fn fault(&mut self) {
        if self.now >= self.chaos_end {
            self.end_chaos();
            return;
        }
        self.stats.faults += 1;
        let f = self.params.faults;
        let i = self.pick();
        let daemon = match self.rng.random_range(0..4) {
            0 | 1 => Daemon::Hbd,
            2 => Daemon::Fenced,
            _ => Daemon::Qdiskd,
        };
        match self.rng.random_range(0..13) {
            0 if f.crash && self.machines[i].powered => {
                self.power_off(i, "crash");
                let d = ms(self.rng.random_range(1000..6000));
                self.after(d, Ev::Undo(Undo::PowerOn(i)));
            }
            1 | 2 if f.kill_daemon => {
                let present = match daemon {
                    Daemon::Hbd => self.machines[i].hbd.is_some(),
                    Daemon::Fenced => self.machines[i].fenced.is_some(),
                    Daemon::Qdiskd => self.machines[i].qdiskd.is_some(),
                };
                if present && self.machines[i].powered {
                    if daemon == Daemon::Hbd {
                        self.begin_disturbance(i);
                    }
                    self.kill(i, daemon);
                    // Often within deadtime (the restart hole), sometimes much later.
                    let d = ms(if self.rng.random_bool(0.5) {
                        self.rng.random_range(50..450)
                    } else {
                        self.rng.random_range(500..4000)
                    });
                    self.after(d, Ev::Undo(Undo::Restart(i, daemon)));
                }
            }
            3 if f.pause_node => {
                let m = &mut self.machines[i];
                if m.powered && !m.paused {
                    m.paused = true;
                    m.paused_since = self.now;
                    self.note(format!("{} paused", self.names[i]));
                    self.begin_disturbance(i);
                    let d = ms(self.rng.random_range(100..3000));
                    self.after(d, Ev::Undo(Undo::ResumeNode(i)));
                }
            }
            4 if f.pause_daemon => {
                let now = self.now;
                let m = &mut self.machines[i];
                let paused = match daemon {
                    Daemon::Hbd => m.hbd.as_mut().map(|h| {
                        let was = h.paused;
                        h.paused = true;
                        !was
                    }),
                    Daemon::Fenced => m.fenced.as_mut().map(|f| {
                        let was = f.paused;
                        if !was {
                            f.paused = true;
                            f.paused_since = now;
                        }
                        !was
                    }),
                    Daemon::Qdiskd => m.qdiskd.as_mut().map(|q| {
                        let was = q.paused_since.is_some();
                        if !was {
                            q.paused_since = Some(now);
                        }
                        !was
                    }),
                };
                if paused == Some(true) {
                    self.note(format!("{}: {daemon:?} paused", self.names[i]));
                    if daemon == Daemon::Hbd {
                        self.begin_disturbance(i);
                    }
                    let d = ms(self.rng.random_range(100..3000));
                    self.after(d, Ev::Undo(Undo::ResumeDaemon(i, daemon)));
                }
            }
            5 | 6 if f.partition => {
                let n = self.params.nodes;
                let mut side: Vec<bool> = (0..n).map(|_| self.rng.random_bool(0.5)).collect();
                if side.iter().all(|s| *s) || side.iter().all(|s| !*s) {
                    return self.next_fault();
                }
                if self.params.ping {
                    // The ping node is on one side too.
                    side.push(self.rng.random_bool(0.5));
                }
                let n = self.endpoints();
                let id = self.seq + 1;
                for a in 0..n {
                    for b in 0..n {
                        if side[a] != side[b] && self.cut[a][b].is_none() {
                            self.cut[a][b] = Some(id);
                        }
                    }
                }
                for a in 0..n {
                    self.begin_disturbance(a);
                }
                self.note(format!("partition {side:?}"));
                let d = ms(self.rng.random_range(500..5000));
                self.after(d, Ev::Undo(Undo::Heal(id)));
            }
            7 if f.one_way => {
                let b = if self.params.ping {
                    // The ping node may be either end.
                    self.rng.random_range(0..self.endpoints())
                } else {
                    self.pick()
                };
                let (i, b) = if b == self.params.nodes && self.rng.random_bool(0.5) {
                    (b, i)
                } else {
                    (i, b)
                };
                if b != i && self.cut[i][b].is_none() {
                    let id = self.seq + 1;
                    self.cut[i][b] = Some(id);
                    self.begin_disturbance(i);
                    self.begin_disturbance(b);
                    self.note(format!(
                        "one-way cut {} -> {}",
                        self.endpoint_name(i),
                        self.endpoint_name(b)
                    ));
                    let d = ms(self.rng.random_range(500..5000));
                    self.after(d, Ev::Undo(Undo::Heal(id)));
                }
            }
            8 if f.loss && self.loss.is_none() => {
                let id = self.seq + 1;
                let p = [0.05, 0.2, 0.4][self.rng.random_range(0..3)];
                self.loss = Some((id, p));
                for a in 0..self.params.nodes {
                    self.begin_disturbance(a);
                }
                self.note(format!("loss {p}"));
                let d = ms(self.rng.random_range(500..4000));
                self.after(d, Ev::Undo(Undo::Loss(id)));
            }
            9 if f.replay && !self.archive.is_empty() => {
                let k = self.rng.random_range(0..self.archive.len());
                let (from, msg) = self.archive[k].clone();
                if from != i {
                    self.after(
                        ms(1),
                        Ev::Packet {
                            to: i,
                            link: 0,
                            msg,
                        },
                    );
                }
            }
            10 if f.device_down && self.device_down[i].is_none() => {
                let id = self.seq + 1;
                self.device_down[i] = Some(id);
                self.note(format!("fence device of {} down", self.names[i]));
                let d = ms(self.rng.random_range(1000..8000));
                self.after(d, Ev::Undo(Undo::DeviceUp(i, id)));
            }
            11 if f.ack => {
                // An administrator acknowledges a machine that is really off.
                if let Some(x) = (0..self.params.nodes).find(|&x| !self.machines[x].powered) {
                    let by = self.pick();
                    let name = self.names[x].clone();
                    self.note(format!("fence_tool ack {name} on {}", self.names[by]));
                    self.fenced_input(by, FencedInput::Ack(name));
                }
            }
            12 if f.shutdown && self.hbd_running(i) => {
                self.note(format!("{}: hbd asked to shut down", self.names[i]));
                self.hbd_input(i, None, Input::Terminate);
                let d = ms(self.rng.random_range(1000..4000));
                self.after(d, Ev::Undo(Undo::Restart(i, Daemon::Hbd)));
            }
            _ => {}
        }
        self.next_fault();
    }

    pub(super) fn next_fault(&mut self) {
        let d = ms(self.rng.random_range(300..3000));
        self.after(d, Ev::Fault);
    }

    pub(super) fn undo(&mut self, u: Undo) {
        match u {
            Undo::PowerOn(i) => self.power_on(i),
            Undo::Restart(i, d) => {
                self.start(i, d);
                self.end_disturbance(i);
            }
            Undo::ResumeNode(i) => self.resume_node(i),
            Undo::ResumeDaemon(i, d) => self.resume_daemon(i, d),
            Undo::Heal(id) => {
                let n = self.endpoints();
                for a in 0..n {
                    for b in 0..n {
                        if self.cut[a][b] == Some(id) {
                            self.cut[a][b] = None;
                        }
                    }
                }
                self.note("healed".into());
                for a in 0..n {
                    self.end_disturbance(a);
                }
            }
            Undo::Loss(id) => {
                if self.loss.is_some_and(|(l, _)| l == id) {
                    self.loss = None;
                    for a in 0..self.params.nodes {
                        self.end_disturbance(a);
                    }
                }
            }
            Undo::DeviceUp(i, id) => {
                if self.device_down[i] == Some(id) {
                    self.device_down[i] = None;
                }
            }
        }
    }

    pub(super) fn resume_node(&mut self, i: usize) {
        let m = &mut self.machines[i];
        if !m.powered || !m.paused {
            return;
        }
        m.paused = false;
        let since = m.paused_since;
        self.note(format!("{} resumed", self.names[i]));
        self.fenced_resume(i, since);
        self.hbd_resume(i);
        self.qdisk_resumed(i, since);
        self.end_disturbance(i);
    }

    pub(super) fn resume_daemon(&mut self, i: usize, d: Daemon) {
        let m = &mut self.machines[i];
        match d {
            Daemon::Hbd => {
                if let Some(h) = m.hbd.as_mut() {
                    if h.paused {
                        h.paused = false;
                        self.note(format!("{}: hbd resumed", self.names[i]));
                    }
                }
                self.hbd_resume(i);
                self.end_disturbance(i);
            }
            Daemon::Fenced => {
                let mut since = None;
                if let Some(f) = m.fenced.as_mut() {
                    if f.paused {
                        f.paused = false;
                        since = Some(f.paused_since);
                    }
                }
                if let Some(since) = since {
                    self.fenced_resume(i, since);
                }
            }
            Daemon::Qdiskd => {
                let since = m.qdiskd.as_mut().and_then(|q| q.paused_since.take());
                if let Some(since) = since {
                    self.qdisk_resumed(i, since);
                }
            }
        }
    }

    /// The faults stop: every cut heals, loss ends, everything paused resumes, every daemon
    /// is restarted and every machine powered on.
    pub fn end_chaos(&mut self) {
        if self.chaos_over {
            return;
        }
        self.chaos_over = true;
        self.chaos_end = self.now;
        self.note("faults stop: heal, resume, restart, power on".into());
        let n = self.params.nodes;
        let e = self.endpoints();
        self.cut = vec![vec![None; e]; e];
        self.loss = None;
        self.device_down = vec![None; n];
        for i in 0..n {
            if self.machines[i].paused {
                self.resume_node(i);
            }
            for d in [Daemon::Hbd, Daemon::Fenced, Daemon::Qdiskd] {
                self.resume_daemon(i, d);
            }
        }
        for i in 0..n {
            if self.machines[i].powered {
                for d in [Daemon::Fenced, Daemon::Qdiskd, Daemon::Hbd] {
                    self.start(i, d);
                }
            } else {
                self.power_on(i);
            }
            self.end_disturbance(i);
        }
        self.after(Duration::from_secs(1), Ev::Revive);
    }
}
