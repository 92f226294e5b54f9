//! Running one schedule: the cluster up, the observer sampling, the faults at their
//! moments, then every fault lifted and the service awaited; then the checker's verdict.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::chaos::observe::{Observations, Observer};
use crate::chaos::record::{
    ClusterShape, FaultWindow, FenceEvent, RunRecord, Sample, TimelineLine, Verdict, Violation,
};
use crate::chaos::schedule::Schedule;
use crate::error::{LabError, Result};
use crate::hacluster::{Binaries, HaCluster, Story};
use crate::node::Power;
use crate::playground::apply::{apply, node_index};
use crate::playground::fault::Fault;
use crate::playground::spec_of;

/// How a schedule is run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The workspace's binaries.
    pub bins: PathBuf,
    /// Where a violating schedule's logs go (`DIR/seed-N/logs`).
    pub out: PathBuf,
    /// Every fence agent lies from the start (the checker's own test).
    pub liar: bool,
    /// Set on SIGINT or SIGTERM: the running schedule stops, its cluster is torn down.
    pub interrupted: Arc<AtomicBool>,
}

/// Sleeps `span`, in short steps; false as soon as `flag` is set.
fn sleep_unless(flag: &AtomicBool, span: Duration) -> bool {
    let end = Instant::now() + span;
    loop {
        if flag.load(Ordering::SeqCst) {
            return false;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// The error of a schedule cut short by SIGINT or SIGTERM.
fn interrupted() -> LabError {
    LabError::Invalid("interrupted (SIGINT or SIGTERM): the cluster was torn down".into())
}

/// How long the service may take to come back after the last fault is lifted: the
/// nodes the campaign reset boot (initdead), the membership settles (deadtime), a fence
/// runs (up to fenced's 20 s device timeout), the group starts.
pub fn recovery_bound(timing: &str) -> Duration {
    match timing {
        "fast" => Duration::from_secs(40),
        "demo" => Duration::from_secs(50),
        _ => Duration::from_secs(60),
    }
}

/// Does the fault `lift` lift `fault`?
fn lifts(lift: &Fault, fault: &Fault) -> bool {
    let covers = |a: &[String], b: &[String]| b.iter().all(|n| a.contains(n));
    match (fault, lift) {
        (Fault::Crash(n) | Fault::PowerOff(n), Fault::PowerOn(m)) => covers(m, n),
        (Fault::Pause(n), Fault::Resume(m)) => covers(m, n),
        (Fault::KillDaemon(d, n), Fault::RestartDaemon(e, m)) => d == e && covers(m, n),
        (Fault::PauseDaemon(d, n), Fault::ResumeDaemon(e, m)) => d == e && covers(m, n),
        (Fault::Cut(..) | Fault::CutOneWay { .. } | Fault::Partition(_), Fault::Heal(m)) => {
            m.is_empty() || covers(m, &fault.nodes())
        }
        (Fault::Loss(p, n), Fault::Loss(0, m)) => *p > 0 && covers(m, n),
        (Fault::DiskFail(n) | Fault::DiskStall(n), Fault::DiskHeal(m)) => covers(m, n),
        (Fault::BmcDown(n) | Fault::BmcSlow(n), Fault::BmcUp(m)) => covers(m, n),
        (Fault::FenceLie, Fault::FenceHonest) => true,
        _ => false,
    }
}

/// The fault windows of what was applied: (time, fault) in order.
pub fn windows(applied: &[(f64, Fault)]) -> Vec<FaultWindow> {
    let mut out: Vec<FaultWindow> = Vec::new();
    let mut open: Vec<(usize, Fault)> = Vec::new();
    for (at, fault) in applied {
        let mut lifted_any = false;
        open.retain(|(k, f)| {
            if lifts(fault, f) {
                out[*k].end_s = Some(*at);
                lifted_any = true;
                false
            } else {
                true
            }
        });
        if lifted_any {
            continue;
        }
        out.push(FaultWindow {
            kind: fault.kind().to_string(),
            spec: fault.to_string(),
            nodes: fault.nodes(),
            start_s: *at,
            end_s: None,
        });
        open.push((out.len() - 1, fault.clone()));
    }
    out
}

/// Converts a wall-clock time to seconds on the lab's clock.
struct Clock {
    lab_start: Instant,
    wall0: SystemTime,
    inst0: Instant,
}

impl Clock {
    fn new(lab_start: Instant) -> Clock {
        Clock {
            lab_start,
            wall0: SystemTime::now(),
            inst0: Instant::now(),
        }
    }

    fn since_start(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.lab_start).as_secs_f64()
    }

    fn wall(&self, at: SystemTime) -> f64 {
        let base = self.since_start(self.inst0);
        match at.duration_since(self.wall0) {
            Ok(d) => base + d.as_secs_f64(),
            Err(e) => base - e.duration().as_secs_f64(),
        }
    }
}

/// Runs `schedule`; never panics: a lab failure is a [`Verdict::LabError`] record.
pub fn run(schedule: &Schedule, config: &RunConfig) -> RunRecord {
    let shape = ClusterShape {
        nodes: schedule.options.nodes,
        stack: schedule.options.stack.clone(),
        qdisk: schedule.options.qdisk,
        fencing: schedule.options.fencing.clone(),
        timing: schedule.options.timing.clone(),
    };
    let bound = recovery_bound(&schedule.options.timing);
    let mut record = RunRecord {
        seed: schedule.seed,
        shape,
        verdict: Verdict::LabError,
        error: None,
        duration_s: schedule.duration.as_secs_f64(),
        faults_end_s: 0.0,
        recovery_bound_s: bound.as_secs_f64(),
        recovered_after_s: None,
        longest_outage_s: 0.0,
        faults: Vec::new(),
        samples: Vec::new(),
        fences: Vec::new(),
        ownership: Vec::new(),
        violations: Vec::new(),
        timeline: Vec::new(),
    };
    if let Err(e) = run_into(schedule, config, bound, &mut record) {
        record.verdict = Verdict::LabError;
        record.error = Some(e.to_string());
    }
    record
}

fn run_into(
    schedule: &Schedule,
    config: &RunConfig,
    bound: Duration,
    record: &mut RunRecord,
) -> Result<()> {
    let spec = spec_of(&schedule.options)?;
    let bins = Binaries::in_dir(&config.bins)?;
    let cluster = HaCluster::start(spec, bins)?;
    let lab_start = cluster.lab().timeline().start();
    let clock = Clock::new(lab_start);
    let wall_start = SystemTime::now();
    if config.liar {
        apply(&cluster, &Fault::FenceLie)?;
    }
    let preferred = schedule.options.prefer.clone();
    cluster
        .wait_served_by(&preferred, Duration::from_secs(90))
        .map_err(|e| LabError::Invalid(format!("the cluster never served: {e}")))?;
    cluster.check_daemons()?;
    cluster.lab().note("the service is up: the faults begin");
    let observations = Mutex::new(Observations::default());
    let stop = AtomicBool::new(false);
    let mut applied: Vec<(f64, Fault)> = Vec::new();
    let mut faults_end = Instant::now();
    let mut recovered = None;
    let outcome: Result<()> = std::thread::scope(|scope| {
        let observer = Observer::new(&cluster, lab_start);
        let obs = &observations;
        let stop_ref = &stop;
        scope.spawn(move || observer.run(obs, stop_ref));
        let phase = Instant::now();
        for step in &schedule.steps {
            let due = phase + step.at;
            if !sleep_unless(
                &config.interrupted,
                due.saturating_duration_since(Instant::now()),
            ) {
                stop.store(true, Ordering::Relaxed);
                return Err(interrupted());
            }
            let at = clock.since_start(Instant::now());
            match apply(&cluster, &step.fault) {
                Ok(said) => {
                    cluster
                        .lab()
                        .timeline()
                        .record("chaos", format!("{}: {said}", step.fault));
                    applied.push((at, step.fault.clone()));
                }
                Err(e) => cluster
                    .lab()
                    .timeline()
                    .record("chaos", format!("{}: not applied: {e}", step.fault)),
            }
        }
        if !sleep_unless(
            &config.interrupted,
            (phase + schedule.duration).saturating_duration_since(Instant::now()),
        ) {
            stop.store(true, Ordering::Relaxed);
            return Err(interrupted());
        }
        let lifted = lift_everything(&cluster, config.liar);
        faults_end = Instant::now();
        lifted?;
        // The service is back when it is served and one node holds the address, twice in a
        // row (a moment apart).
        let deadline = faults_end + bound;
        let mut good_since: Option<Instant> = None;
        while Instant::now() < deadline {
            if config.interrupted.load(Ordering::SeqCst) {
                stop.store(true, Ordering::Relaxed);
                return Err(interrupted());
            }
            let last = {
                let o = obs.lock().unwrap_or_else(|p| p.into_inner());
                o.samples.last().cloned()
            };
            let good = last
                .as_ref()
                .is_some_and(|s| s.served_by.is_some() && s.vip_holders.len() == 1);
            match (good, good_since) {
                (true, None) => good_since = Some(Instant::now()),
                (true, Some(t)) if t.elapsed() >= Duration::from_millis(500) => {
                    recovered = Some(t.saturating_duration_since(faults_end));
                    break;
                }
                (false, _) => good_since = None,
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // A little more watching: a late second holder or write still counts.
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, Ordering::Relaxed);
        Ok(())
    });
    outcome?;
    let obs = observations.into_inner().unwrap_or_else(|p| p.into_inner());
    record.faults_end_s = clock.since_start(faults_end);
    record.recovered_after_s = recovered.map(|d| d.as_secs_f64());
    record.faults = windows(&applied);
    record.longest_outage_s = longest_outage(&obs.samples);
    record.samples = obs.samples;
    record.violations = obs.violations;
    record.fences = fences(&cluster, &clock, &record.faults, record.faults_end_s);
    for f in &record.fences {
        if f.result == "fenced" && !f.victim_faulted && !config.liar {
            record.violations.push(Violation {
                kind: "wrong-fence".into(),
                at_s: f.at_s,
                detail: format!(
                    "{} fenced {}, which no fault had touched in the minute before",
                    f.by, f.victim
                ),
            });
        }
    }
    let (ownership, disk_violations) = crate::chaos::disk::findings(&cluster, lab_start)?;
    record.ownership = ownership;
    record.violations.extend(disk_violations);
    record.violations.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    record.timeline = merged_timeline(&cluster, &clock, wall_start, record);
    record.verdict = if !record.violations.is_empty() {
        Verdict::Violation
    } else if recovered.is_none() {
        Verdict::NoRecovery
    } else {
        Verdict::Ok
    };
    if record.verdict != Verdict::Ok {
        let dest = config
            .out
            .join(format!("seed-{}", schedule.seed))
            .join("logs");
        let _ = cluster.lab().collect_logs(&dest);
    }
    Ok(())
}

/// Lifts every fault the schedule may have left and what the cluster did to itself that a
/// real machine would undo by rebooting: nodes powered off (by fencing) are powered on;
/// nodes whose processes are gone (crashed, self-fenced with the lab's kill-cgroup action)
/// or whose hbd is gone are reset, as the real machine's reboot would.
fn lift_everything(cluster: &HaCluster, liar: bool) -> Result<()> {
    let lab = cluster.lab();
    let webs: Vec<String> = cluster
        .web_nodes()
        .map(|i| lab.node(i).hostname().to_string())
        .collect();
    let mut lifts = vec![
        Fault::Heal(Vec::new()),
        Fault::DiskHeal(webs.clone()),
        Fault::Resume(webs.clone()),
    ];
    if lab.bmc(1).is_ok() {
        lifts.push(Fault::BmcUp(webs.clone()));
    }
    if !liar {
        lifts.push(Fault::FenceHonest);
    }
    for fault in &lifts {
        apply(cluster, fault)?;
    }
    for name in &webs {
        let i = node_index(cluster, name)?;
        for daemon in ["hbd", "fenced", "qdiskd"] {
            if cluster.daemon_pid(i, daemon).is_some() {
                let _ = cluster.pause_daemon(i, daemon, false);
            }
        }
        let node = lab.node(i);
        let off = node.power()? == Power::Off;
        let broken = !off
            && (node.disk_powered_off()
                || cluster.daemon_pid(i, "hbd").is_none()
                || cluster.daemon_pid(i, "fenced").is_none()
                || (cluster.spec().qdisk && cluster.daemon_pid(i, "qdiskd").is_none()));
        if off {
            node.power_on()?;
            lab.note(format!("chaos: {name} was off: powered on"));
        } else if broken {
            node.power_cycle()?;
            lab.note(format!(
                "chaos: {name} had lost its daemons (crash, self-fence or kill): reset"
            ));
        }
    }
    lab.note("chaos: every fault lifted");
    Ok(())
}

/// The longest stretch without an answer, from the first answer on.
pub fn longest_outage(samples: &[Sample]) -> f64 {
    let mut longest: f64 = 0.0;
    let mut down_since: Option<f64> = None;
    let mut served_once = false;
    for s in samples {
        match (&s.served_by, down_since) {
            (Some(_), Some(t)) => {
                longest = longest.max(s.at_s - t);
                down_since = None;
                served_once = true;
            }
            (Some(_), None) => served_once = true,
            (None, None) if served_once => down_since = Some(s.at_s),
            _ => {}
        }
    }
    if let (Some(t), Some(last)) = (down_since, samples.last()) {
        longest = longest.max(last.at_s - t);
    }
    longest
}

/// One record of a node's fence history, on the lab's clock.
#[derive(Debug, Clone, PartialEq)]
struct HistoryEntry {
    at_s: f64,
    by: String,
    victim: String,
    /// `off`, `reboot` or `on` (unfencing).
    action: String,
    /// `fenced`, `failed`, ...
    result: String,
}

fn fences(
    cluster: &HaCluster,
    clock: &Clock,
    faults: &[FaultWindow],
    faults_end_s: f64,
) -> Vec<FenceEvent> {
    let mut entries = Vec::new();
    for i in cluster.web_nodes() {
        let by = cluster.node(i).hostname().to_string();
        for r in cluster.fence_history(i) {
            let finished = r["finished_at"].as_u64().unwrap_or(0);
            entries.push(HistoryEntry {
                at_s: clock.wall(SystemTime::UNIX_EPOCH + Duration::from_secs(finished)),
                by: by.clone(),
                victim: r["target"].as_str().unwrap_or("?").to_string(),
                action: r["action"].as_str().unwrap_or("off").to_string(),
                result: r["outcome"]["kind"].as_str().unwrap_or("?").to_string(),
            });
        }
    }
    judge_fences(entries, faults, faults_end_s)
}

/// The fences of the histories, each judged: was its victim unreachable from the fencer?
/// Either a fault hit the victim (or cut the fencer off) within the minute before, or the
/// victim was still fenced from an earlier fence: not unfenced since (a fabric-fenced node
/// stays cut off, and silent, until it is unfenced at its next boot), not reset by the
/// nemesis and not brought back when the faults ended. Fencing it again harms nothing.
fn judge_fences(
    mut entries: Vec<HistoryEntry>,
    faults: &[FaultWindow],
    faults_end_s: f64,
) -> Vec<FenceEvent> {
    // In time order; within a second (the histories' resolution), unfencing first.
    entries.sort_by(|a, b| {
        a.at_s
            .total_cmp(&b.at_s)
            .then_with(|| (a.action != "on").cmp(&(b.action != "on")))
    });
    // The victim was reset or powered on by the lab between `since` and `at`.
    let brought_back = |victim: &str, since: f64, at: f64| {
        (since..=at).contains(&faults_end_s)
            || faults.iter().any(|w| {
                matches!(w.kind.as_str(), "crash" | "power-off")
                    && w.nodes.iter().any(|n| n == victim)
                    && w.end_s.is_some_and(|end| end >= since && end <= at)
            })
    };
    let mut fenced_since: std::collections::HashMap<String, f64> = Default::default();
    let mut out = Vec::new();
    for e in entries {
        // Unfencing (a node switching its own fabric ports back on at boot) is no fence.
        if e.action == "on" {
            fenced_since.remove(&e.victim);
            continue;
        }
        let still_fenced = fenced_since
            .get(&e.victim)
            .is_some_and(|since| !brought_back(&e.victim, *since, e.at_s));
        // A fault on the victim, or a network fault on the fencer (a node cut off sees
        // everyone else dead). The finish time has whole seconds: the window is generous on
        // both sides. A fault of the victim's BMC alone leaves the victim healthy.
        let faulted = faults.iter().any(|w| {
            if matches!(w.kind.as_str(), "bmc-down" | "bmc-slow") {
                return false;
            }
            let network = matches!(w.kind.as_str(), "cut" | "partition" | "loss");
            (w.nodes.contains(&e.victim) || (network && w.nodes.contains(&e.by)))
                && w.start_s <= e.at_s + 1.0
                && w.end_s.is_none_or(|end| end >= e.at_s - 60.0)
        });
        if e.result == "fenced" {
            fenced_since.insert(e.victim.clone(), e.at_s);
        }
        out.push(FenceEvent {
            at_s: e.at_s,
            by: e.by,
            victim: e.victim,
            result: e.result,
            victim_faulted: faulted || still_fenced,
        });
    }
    out
}

fn merged_timeline(
    cluster: &HaCluster,
    clock: &Clock,
    wall_start: SystemTime,
    record: &RunRecord,
) -> Vec<TimelineLine> {
    let mut lines: Vec<TimelineLine> = cluster
        .lab()
        .timeline()
        .events()
        .into_iter()
        .map(|e| TimelineLine {
            at_s: e.at.as_secs_f64(),
            source: e.source,
            what: e.what,
        })
        .collect();
    let mut story = Story::new();
    let until = Duration::from_secs(3600);
    for i in cluster.web_nodes() {
        cluster.add_logs(i, wall_start, until, &mut story);
    }
    let base = clock.wall(wall_start);
    for (at, who, what) in story.lines() {
        lines.push(TimelineLine {
            at_s: base + at.as_secs_f64(),
            source: who.clone(),
            what: what.clone(),
        });
    }
    for v in &record.violations {
        lines.push(TimelineLine {
            at_s: v.at_s,
            source: "checker".into(),
            what: format!("VIOLATION {}: {}", v.kind, v.detail),
        });
    }
    lines.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    lines
}

/// Writes `record` as `DIR/seed-N/record.json`.
pub fn save(dir: &Path, record: &RunRecord) -> Result<()> {
    let d = dir.join(format!("seed-{}", record.seed));
    std::fs::create_dir_all(&d).map_err(|e| LabError::io(&d, e))?;
    let path = d.join("record.json");
    let text = serde_json::to_string(record)
        .map_err(|e| LabError::Invalid(format!("record of seed {}: {e}", record.seed)))?;
    std::fs::write(&path, text).map_err(|e| LabError::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(line: &str) -> Fault {
        Fault::parse_line(line).expect(line)
    }

    fn entry(at_s: f64, by: &str, victim: &str, action: &str, result: &str) -> HistoryEntry {
        HistoryEntry {
            at_s,
            by: by.into(),
            victim: victim.into(),
            action: action.into(),
            result: result.into(),
        }
    }

    fn judged(entries: Vec<HistoryEntry>, applied: &[(f64, Fault)], end: f64) -> Vec<bool> {
        judge_fences(entries, &windows(applied), end)
            .iter()
            .map(|e| e.victim_faulted)
            .collect()
    }

    #[test]
    fn a_node_still_fenced_from_an_earlier_fence_may_be_fenced_again() {
        // Seed 46: web1, cut off at 2.5 s, is fabric-fenced at 6 s and stays cut off from
        // every network; its ports are never switched back on during the schedule. A
        // restarted fenced (52 s) and a restarted hbd (89 s) on web2 fence it again, more
        // than a minute after the cut ended: no healthy node was shot.
        let applied = vec![(2.5, f("cut web1")), (14.4, f("heal web1"))];
        let entries = vec![
            entry(6.0, "web2", "web1", "off", "fenced"),
            entry(52.0, "web2", "web1", "off", "fenced"),
            entry(89.0, "web2", "web1", "off", "fenced"),
        ];
        assert_eq!(judged(entries, &applied, 122.0), [true, true, true]);
    }

    #[test]
    fn a_node_unfenced_or_brought_back_since_is_healthy_again() {
        let applied = vec![
            (2.5, f("cut web1")),
            (3.0, f("crash web3")),
            (14.4, f("heal web1")),
            (20.0, f("power-on web3")),
            (39.0, f("bmc-slow web4")),
        ];
        let entries = vec![
            // web1: fenced, unfenced at its boot, then fenced with no fault: wrong.
            entry(6.0, "web2", "web1", "off", "fenced"),
            entry(30.0, "web1", "web1", "on", "fenced"),
            entry(95.0, "web2", "web1", "off", "fenced"),
            // web3: fenced while crashed, reset by the lab at 20 s, fenced again: wrong.
            entry(8.0, "web2", "web3", "reboot", "fenced"),
            entry(90.0, "web2", "web3", "off", "fenced"),
            // web4: a fence that failed leaves it as it was; a BMC fault is no excuse.
            entry(40.0, "web2", "web4", "off", "failed"),
            entry(41.0, "web2", "web4", "off", "failed"),
        ];
        assert_eq!(
            judged(entries, &applied, 122.0),
            [true, true, false, false, false, false],
            "in time order: web1 6 s, web3 8 s, web4 40 s, 41 s, web3 90 s, web1 95 s"
        );
        // Everything is brought back when the faults end.
        let entries = vec![
            entry(6.0, "web2", "web1", "off", "fenced"),
            entry(130.0, "web2", "web1", "off", "fenced"),
        ];
        let applied = vec![(2.5, f("cut web1")), (14.4, f("heal web1"))];
        assert_eq!(judged(entries, &applied, 122.0), [true, false]);
    }

    #[test]
    fn windows_pair_each_fault_with_what_lifts_it() {
        let applied = vec![
            (1.0, f("crash web1")),
            (2.0, f("partition web1/web2")),
            (3.0, f("loss 40 web2")),
            (4.0, f("loss 0 web2")),
            (5.0, f("heal")),
            (6.0, f("power-on web1")),
            (7.0, f("kill-daemon hbd web2")),
        ];
        let w = windows(&applied);
        assert_eq!(w.len(), 4, "{w:?}");
        assert_eq!((w[0].kind.as_str(), w[0].end_s), ("crash", Some(6.0)));
        assert_eq!((w[1].kind.as_str(), w[1].end_s), ("partition", Some(5.0)));
        assert_eq!((w[2].kind.as_str(), w[2].end_s), ("loss", Some(4.0)));
        assert_eq!((w[3].kind.as_str(), w[3].end_s), ("kill-daemon", None));
    }

    #[test]
    fn the_longest_outage_counts_from_the_first_answer() {
        let s = |at_s: f64, up: bool| Sample {
            at_s,
            served_by: up.then(|| "web1".to_string()),
            vip_holders: Vec::new(),
            arp_owner: None,
        };
        let samples = vec![
            s(0.0, false),
            s(5.0, false),
            s(6.0, true),
            s(7.0, false),
            s(9.5, true),
            s(10.0, false),
            s(11.0, false),
        ];
        assert_eq!(longest_outage(&samples), 2.5);
        assert_eq!(longest_outage(&[]), 0.0);
    }
}
