//! fenced on a simulated machine: its queue core fed in order (everything queued is read
//! before any device is called), and the fence devices it calls.

use super::*;

impl World {
    /// fenced's answer reaches the hbd that asked (if it still runs) a moment later.
    pub(super) fn reply_to_hbd(
        &mut self,
        node: usize,
        hbd_pid: u64,
        ticket: FenceTicket,
        reply: FenceReply,
    ) {
        self.after(
            ms(1),
            Ev::FenceReply {
                node,
                hbd_pid,
                ticket,
                reply,
            },
        );
    }

    pub(super) fn topology(&self) -> Topology {
        let mut t = Topology::default();
        for n in &self.names {
            t.nodes.insert(
                FNodeName(n.to_string()),
                NodeFencing {
                    levels: vec![Level {
                        index: 1,
                        devices: vec![DeviceUse {
                            device: DeviceName(format!("ipmi-{n}")),
                            args: [("port".to_string(), n.to_string())].into_iter().collect(),
                        }],
                    }],
                    unfence: Vec::new(),
                    delay: Duration::ZERO,
                },
            );
        }
        t
    }

    pub(super) fn fenced_input(&mut self, i: usize, input: FencedInput) {
        let m = &mut self.machines[i];
        let paused = m.paused;
        let Some(f) = m.fenced.as_mut() else {
            if let FencedInput::Request {
                hbd_pid, ticket, ..
            } = input
            {
                self.reply_to_hbd(
                    i,
                    hbd_pid,
                    ticket,
                    FenceReply::Error("fenced: connection refused".into()),
                );
            }
            return;
        };
        if paused || f.paused {
            f.inbox.push_back(input);
            return;
        }
        self.fenced_apply(i, input);
        self.fenced_actions(i);
    }

    pub(super) fn fenced_apply(&mut self, i: usize, input: FencedInput) {
        let now = BootTime(self.now.0);
        let Some(f) = self.machines[i].fenced.as_mut() else {
            return;
        };
        match input {
            FencedInput::Request {
                hbd_pid,
                ticket,
                target,
                origin,
            } => {
                match f.queue.handle_request(
                    now,
                    FNodeName(target.to_string()),
                    FenceAction::Off,
                    origin,
                ) {
                    Ok(op) => f
                        .waiting
                        .entry(op)
                        .or_default()
                        .push((hbd_pid, ticket, target)),
                    Err(e) => {
                        let reply = FenceReply::Error(e.to_string());
                        self.reply_to_hbd(i, hbd_pid, ticket, reply);
                    }
                }
            }
            FencedInput::Withdraw { target, origin } => {
                f.queue
                    .handle_withdraw(now, FNodeName(target.to_string()), &origin)
            }
            FencedInput::Notice(FencedNotice::Quorum(q)) => f.queue.handle_quorum(now, q),
            FencedInput::Notice(FencedNotice::Membership(m)) => f
                .queue
                .handle_membership(now, m.iter().map(|n| FNodeName(n.to_string())).collect()),
            FencedInput::Notice(FencedNotice::Rejoined(n)) => {
                f.queue.handle_rejoin(now, FNodeName(n.to_string()))
            }
            FencedInput::Result { call, ok } => f.queue.handle_result(
                now,
                call,
                if ok {
                    Ok(())
                } else {
                    Err("device failed".into())
                },
            ),
            FencedInput::Ack(n) => f.queue.handle_ack(
                now,
                FNodeName(n.to_string()),
                "root (fence_tool ack)".into(),
            ),
        }
    }

    /// A resumed fenced reads everything that queued up before it calls any device (as the
    /// daemon does).
    pub(super) fn fenced_resume(&mut self, i: usize, paused_since: Time) {
        if !self.fenced_running(i) {
            return;
        }
        // The daemon's loop turns every 200 ms: a pause over a second is a stall it sees.
        if self.now.since(paused_since) > Duration::from_secs(1) {
            let now = BootTime(self.now.0);
            if let Some(f) = self.machines[i].fenced.as_mut() {
                f.queue.handle_stall(now);
            }
        }
        let inbox: Vec<FencedInput> = self.machines[i]
            .fenced
            .as_mut()
            .map(|f| f.inbox.drain(..).collect())
            .unwrap_or_default();
        for input in inbox {
            self.fenced_apply(i, input);
        }
        self.fenced_actions(i);
    }

    pub(super) fn fenced_actions(&mut self, i: usize) {
        loop {
            let Some(f) = self.machines[i].fenced.as_mut() else {
                return;
            };
            let Some(a) = f.queue.poll_action() else {
                return;
            };
            let fpid = f.pid;
            match a {
                QAction::Run(call) => {
                    let Some(target) = self.index_of(&call.target.0) else {
                        continue;
                    };
                    // Invariant 3.
                    if self.hbd_running(i) {
                        let sees = self.machines[i].hbd.as_ref().is_some_and(|h| {
                            h.core
                                .node_id(&self.names[target])
                                .is_some_and(|id| h.core.members().contains(id))
                        });
                        if sees {
                            self.violation(format!(
                                "{}'s fenced calls {:?} on {} while its hbd sees {} as a member",
                                self.names[i], call.action, call.device.0, self.names[target]
                            ));
                        }
                    }
                    let off = !matches!(call.action, fenced::history::DeviceAction::On);
                    if off {
                        // Invariant 6.
                        self.watch_early_call(i, target);
                    }
                    let ok = self.device_down[target].is_none()
                        && !self.rng.random_bool(self.params.device_fail_rate);
                    let max = self.params.device_latency_max.as_millis() as u64;
                    let d = ms(self.rng.random_range(20..=max.max(21)));
                    let justified = self.justified(target);
                    self.note(format!(
                        "{}: fenced calls {} {:?}",
                        self.names[i], call.device.0, call.action
                    ));
                    self.after(
                        d,
                        Ev::DeviceDone {
                            fencer: i,
                            fenced_pid: fpid,
                            call: call.call,
                            target,
                            off,
                            ok,
                            justified,
                        },
                    );
                }
                QAction::Finished(record) => {
                    let waiting = self.machines[i]
                        .fenced
                        .as_mut()
                        .and_then(|f| f.waiting.remove(&OpId(record.id)))
                        .unwrap_or_default();
                    self.note(format!(
                        "{}: fenced: {} {:?}",
                        self.names[i], record.target.0, record.outcome
                    ));
                    for (hbd_pid, ticket, _) in waiting {
                        self.reply_to_hbd(
                            i,
                            hbd_pid,
                            ticket,
                            FenceReply::Finished(record.outcome.clone()),
                        );
                    }
                }
                QAction::Event(_) => {}
            }
        }
    }

    pub(super) fn device_done(
        &mut self,
        fencer: usize,
        fpid: u64,
        call: CallId,
        target: usize,
        (off, ok): (bool, bool),
        justified: bool,
    ) {
        if ok && off && !self.params.lying_devices && self.machines[target].powered {
            // Invariant 6, before the target goes.
            self.check_early_calls();
            // Invariant 2 (judged when the device was called).
            if !justified {
                self.violation(format!(
                    "{} fenced {}, which nothing made unreachable or paused",
                    self.names[fencer], self.names[target]
                ));
            }
            self.stats.fenced += 1;
            self.power_off(target, &format!("fenced by {}", self.names[fencer]));
        }
        let same = self.machines[fencer]
            .fenced
            .as_ref()
            .is_some_and(|f| f.pid == fpid);
        if same {
            self.fenced_input(fencer, FencedInput::Result { call, ok });
        }
    }
}
