//! The faults the playground and the chaos campaign inject, as `lab cluster fault` spells
//! them: parsed from the words after `fault` and printed back the same way, so a schedule's
//! faults can be replayed by hand.

use std::fmt;

use crate::error::{LabError, Result};

/// The daemons a fault can hit.
pub const DAEMONS: &[&str] = &["hbd", "fenced", "qdiskd", "heartbeat"];

/// Which of a node's networks a cut takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutNet {
    /// The heartbeat network (the cluster's and the client's); the default.
    Heartbeat,
    /// The management network (BMCs, the switch's SNMP agent): fencing from the node
    /// stops working.
    Mgmt,
    /// The storage network: the node's shared-disk I/O fails.
    San,
    /// All of them.
    All,
}

impl CutNet {
    fn parse(word: &str) -> Result<CutNet> {
        match word {
            "heartbeat" | "hb" => Ok(CutNet::Heartbeat),
            "mgmt" => Ok(CutNet::Mgmt),
            "san" => Ok(CutNet::San),
            "all" => Ok(CutNet::All),
            _ => Err(LabError::Invalid(format!(
                "--net {word}: use heartbeat, mgmt, san or all"
            ))),
        }
    }

    /// The word `--net` takes.
    pub fn word(self) -> &'static str {
        match self {
            CutNet::Heartbeat => "heartbeat",
            CutNet::Mgmt => "mgmt",
            CutNet::San => "san",
            CutNet::All => "all",
        }
    }
}

/// One fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The machines die: off the network, every process killed, disk I/O lost; their BMC
    /// still says on (a power cycle brings them back).
    Crash(Vec<String>),
    /// Power off, as the power button does.
    PowerOff(Vec<String>),
    /// Power on: links up, daemons started, a new boot id.
    PowerOn(Vec<String>),
    /// Every process frozen (cgroup freezer): a hung machine.
    Pause(Vec<String>),
    /// Thawed.
    Resume(Vec<String>),
    /// `kill -9` of one daemon; what it started keeps running.
    KillDaemon(String, Vec<String>),
    /// The daemon started again, as configured.
    RestartDaemon(String, Vec<String>),
    /// `kill -STOP` of one daemon.
    PauseDaemon(String, Vec<String>),
    /// `kill -CONT` of one daemon.
    ResumeDaemon(String, Vec<String>),
    /// The nodes' links on a network cut in both directions (switch port down).
    Cut(CutNet, Vec<String>),
    /// Everything `from` sends on the heartbeat network dropped at `to`: `to` no longer
    /// hears `from`, `from` still hears `to`.
    CutOneWay {
        /// The sender nobody hears.
        from: String,
        /// The receiver that no longer hears it.
        to: String,
    },
    /// Every network fault lifted: of the listed nodes, or of all (cuts, one-way cuts,
    /// partitions, loss).
    Heal(Vec<String>),
    /// The heartbeat network split into groups that reach each other only within their
    /// group; nodes not listed (and the client unless listed) stay with the first group.
    Partition(Vec<Vec<String>>),
    /// A share of the nodes' heartbeat packets lost in both directions (0 lifts it); no
    /// nodes: every web node.
    Loss(u8, Vec<String>),
    /// Every shared-disk request of the nodes fails with EIO.
    DiskFail(Vec<String>),
    /// Every shared-disk request of the nodes hangs until healed.
    DiskStall(Vec<String>),
    /// The nodes' shared disk works again; requests that hung complete.
    DiskHeal(Vec<String>),
    /// The nodes' BMCs stop answering (ipmi_sim frozen).
    BmcDown(Vec<String>),
    /// The nodes' BMCs answer late: frozen most of the time, answering in short spells.
    BmcSlow(Vec<String>),
    /// The nodes' BMCs answer again, at once.
    BmcUp(Vec<String>),
    /// Every fence agent of the cluster reports success without doing anything: the
    /// checker's own test (it must then find a violation).
    FenceLie,
    /// The fence agents act again.
    FenceHonest,
}

/// Every kind, as `lab cluster fault` takes it, for help texts and errors.
pub const KINDS: &[&str] = &[
    "crash",
    "power-off",
    "power-on",
    "pause",
    "resume",
    "kill-daemon",
    "restart-daemon",
    "pause-daemon",
    "resume-daemon",
    "cut",
    "heal",
    "partition",
    "loss",
    "disk-fail",
    "disk-stall",
    "disk-heal",
    "bmc-down",
    "bmc-slow",
    "bmc-up",
    "fence-lie",
    "fence-honest",
];

fn nodes_of(kind: &str, args: &[String]) -> Result<Vec<String>> {
    if args.is_empty() {
        return Err(LabError::Invalid(format!(
            "{kind}: name the node(s), e.g. `{kind} web1`"
        )));
    }
    if let Some(flag) = args.iter().find(|a| a.starts_with('-')) {
        return Err(LabError::Invalid(format!("{kind}: unknown option {flag}")));
    }
    Ok(args.to_vec())
}

fn daemon_and_nodes(kind: &str, args: &[String]) -> Result<(String, Vec<String>)> {
    let Some((daemon, nodes)) = args.split_first() else {
        return Err(LabError::Invalid(format!(
            "{kind}: name the daemon ({}) and the node(s), e.g. `{kind} hbd web1`",
            DAEMONS.join(", ")
        )));
    };
    if !DAEMONS.contains(&daemon.as_str()) {
        return Err(LabError::Invalid(format!(
            "{kind}: unknown daemon {daemon:?}: use one of {}",
            DAEMONS.join(", ")
        )));
    }
    Ok((daemon.clone(), nodes_of(kind, nodes)?))
}

fn no_args(kind: &str, args: &[String]) -> Result<()> {
    match args.first() {
        None => Ok(()),
        Some(a) => Err(LabError::Invalid(format!(
            "{kind} takes no arguments ({a:?})"
        ))),
    }
}

impl Fault {
    /// Parses `KIND ARGS...` as `lab cluster fault` takes them.
    pub fn parse(kind: &str, args: &[String]) -> Result<Fault> {
        Ok(match kind {
            "crash" => Fault::Crash(nodes_of(kind, args)?),
            "power-off" => Fault::PowerOff(nodes_of(kind, args)?),
            "power-on" => Fault::PowerOn(nodes_of(kind, args)?),
            "pause" => Fault::Pause(nodes_of(kind, args)?),
            "resume" => Fault::Resume(nodes_of(kind, args)?),
            "kill-daemon" => {
                let (d, n) = daemon_and_nodes(kind, args)?;
                Fault::KillDaemon(d, n)
            }
            "restart-daemon" => {
                let (d, n) = daemon_and_nodes(kind, args)?;
                Fault::RestartDaemon(d, n)
            }
            "pause-daemon" => {
                let (d, n) = daemon_and_nodes(kind, args)?;
                Fault::PauseDaemon(d, n)
            }
            "resume-daemon" => {
                let (d, n) = daemon_and_nodes(kind, args)?;
                Fault::ResumeDaemon(d, n)
            }
            "cut" => Self::parse_cut(args)?,
            "heal" => {
                if let Some(flag) = args.iter().find(|a| a.starts_with('-')) {
                    return Err(LabError::Invalid(format!("heal: unknown option {flag}")));
                }
                Fault::Heal(args.to_vec())
            }
            "partition" => {
                let [spec] = args else {
                    return Err(LabError::Invalid(
                        "partition: give the groups as one word, e.g. `partition web1/web2,web3`"
                            .into(),
                    ));
                };
                let groups: Vec<Vec<String>> = spec
                    .split('/')
                    .map(|g| g.split(',').map(str::to_string).collect())
                    .collect();
                if groups.len() < 2 || groups.iter().flatten().any(String::is_empty) {
                    return Err(LabError::Invalid(format!(
                        "partition {spec:?}: give two or more groups of nodes separated by '/', \
                         nodes within a group by ',', e.g. web1/web2,web3"
                    )));
                }
                Fault::Partition(groups)
            }
            "loss" => {
                let Some((percent, nodes)) = args.split_first() else {
                    return Err(LabError::Invalid(
                        "loss: give the percentage (0 lifts the loss), e.g. `loss 30 web1`".into(),
                    ));
                };
                let p: u8 = percent
                    .trim_end_matches('%')
                    .parse()
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or_else(|| {
                        LabError::Invalid(format!("loss {percent}: use a percentage, 0 to 100"))
                    })?;
                if let Some(flag) = nodes.iter().find(|a| a.starts_with('-')) {
                    return Err(LabError::Invalid(format!("loss: unknown option {flag}")));
                }
                Fault::Loss(p, nodes.to_vec())
            }
            "disk-fail" => Fault::DiskFail(nodes_of(kind, args)?),
            "disk-stall" => Fault::DiskStall(nodes_of(kind, args)?),
            "disk-heal" => Fault::DiskHeal(nodes_of(kind, args)?),
            "bmc-down" => Fault::BmcDown(nodes_of(kind, args)?),
            "bmc-slow" => Fault::BmcSlow(nodes_of(kind, args)?),
            "bmc-up" => Fault::BmcUp(nodes_of(kind, args)?),
            "fence-lie" => {
                no_args(kind, args)?;
                Fault::FenceLie
            }
            "fence-honest" => {
                no_args(kind, args)?;
                Fault::FenceHonest
            }
            _ => {
                return Err(LabError::Invalid(format!(
                    "unknown fault {kind:?}: use one of {}",
                    KINDS.join(", ")
                )))
            }
        })
    }

    /// Parses a whole fault line, e.g. `partition web1/web2,web3`.
    pub fn parse_line(line: &str) -> Result<Fault> {
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        let Some((kind, args)) = words.split_first() else {
            return Err(LabError::Invalid("an empty fault".into()));
        };
        Fault::parse(kind, args)
    }

    fn parse_cut(args: &[String]) -> Result<Fault> {
        let mut net = CutNet::Heartbeat;
        let (mut from, mut to) = (None, None);
        let mut nodes = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |flag: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| LabError::Invalid(format!("cut: {flag} needs a value")))
            };
            match arg.as_str() {
                "--net" => net = CutNet::parse(&value("--net")?)?,
                "--from" => from = Some(value("--from")?),
                "--to" => to = Some(value("--to")?),
                flag if flag.starts_with('-') => {
                    return Err(LabError::Invalid(format!("cut: unknown option {flag}")))
                }
                node => nodes.push(node.to_string()),
            }
        }
        match (from, to) {
            (Some(from), Some(to)) if nodes.is_empty() && net == CutNet::Heartbeat => {
                Ok(Fault::CutOneWay { from, to })
            }
            (None, None) if !nodes.is_empty() => Ok(Fault::Cut(net, nodes)),
            (None, None) => Err(LabError::Invalid(
                "cut: name the node(s) to cut off, or give --from A --to B for a one-way cut"
                    .into(),
            )),
            _ => Err(LabError::Invalid(
                "cut: a one-way cut takes both --from and --to and nothing else (heartbeat \
                 network only)"
                    .into(),
            )),
        }
    }

    /// The kind, as `lab cluster fault` spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Crash(_) => "crash",
            Fault::PowerOff(_) => "power-off",
            Fault::PowerOn(_) => "power-on",
            Fault::Pause(_) => "pause",
            Fault::Resume(_) => "resume",
            Fault::KillDaemon(..) => "kill-daemon",
            Fault::RestartDaemon(..) => "restart-daemon",
            Fault::PauseDaemon(..) => "pause-daemon",
            Fault::ResumeDaemon(..) => "resume-daemon",
            Fault::Cut(..) | Fault::CutOneWay { .. } => "cut",
            Fault::Heal(_) => "heal",
            Fault::Partition(_) => "partition",
            Fault::Loss(..) => "loss",
            Fault::DiskFail(_) => "disk-fail",
            Fault::DiskStall(_) => "disk-stall",
            Fault::DiskHeal(_) => "disk-heal",
            Fault::BmcDown(_) => "bmc-down",
            Fault::BmcSlow(_) => "bmc-slow",
            Fault::BmcUp(_) => "bmc-up",
            Fault::FenceLie => "fence-lie",
            Fault::FenceHonest => "fence-honest",
        }
    }

    /// Every node the fault names.
    pub fn nodes(&self) -> Vec<String> {
        match self {
            Fault::Crash(n)
            | Fault::PowerOff(n)
            | Fault::PowerOn(n)
            | Fault::Pause(n)
            | Fault::Resume(n)
            | Fault::KillDaemon(_, n)
            | Fault::RestartDaemon(_, n)
            | Fault::PauseDaemon(_, n)
            | Fault::ResumeDaemon(_, n)
            | Fault::Cut(_, n)
            | Fault::Heal(n)
            | Fault::Loss(_, n)
            | Fault::DiskFail(n)
            | Fault::DiskStall(n)
            | Fault::DiskHeal(n)
            | Fault::BmcDown(n)
            | Fault::BmcSlow(n)
            | Fault::BmcUp(n) => n.clone(),
            Fault::CutOneWay { from, to } => vec![from.clone(), to.clone()],
            Fault::Partition(groups) => groups.iter().flatten().cloned().collect(),
            Fault::FenceLie | Fault::FenceHonest => Vec::new(),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())?;
        match self {
            Fault::KillDaemon(d, n)
            | Fault::RestartDaemon(d, n)
            | Fault::PauseDaemon(d, n)
            | Fault::ResumeDaemon(d, n) => write!(f, " {d} {}", n.join(" ")),
            Fault::Cut(net, n) => {
                if *net != CutNet::Heartbeat {
                    write!(f, " --net {}", net.word())?;
                }
                write!(f, " {}", n.join(" "))
            }
            Fault::CutOneWay { from, to } => write!(f, " --from {from} --to {to}"),
            Fault::Partition(groups) => {
                let groups: Vec<String> = groups.iter().map(|g| g.join(",")).collect();
                write!(f, " {}", groups.join("/"))
            }
            Fault::Loss(p, n) if n.is_empty() => write!(f, " {p}"),
            Fault::Loss(p, n) => write!(f, " {p} {}", n.join(" ")),
            Fault::Heal(n) if n.is_empty() => Ok(()),
            Fault::FenceLie | Fault::FenceHonest => Ok(()),
            other => write!(f, " {}", other.nodes().join(" ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn every_fault_prints_back_as_it_parses() {
        for line in [
            "crash web1",
            "power-off web1 web2",
            "power-on web2",
            "pause web3",
            "resume web3",
            "kill-daemon hbd web1",
            "restart-daemon qdiskd web2",
            "pause-daemon fenced web1",
            "resume-daemon fenced web1",
            "cut web1",
            "cut --net mgmt web2",
            "cut --net all web1 web2",
            "cut --from web1 --to web2",
            "heal",
            "heal web1",
            "partition web1/web2,web3",
            "partition web1,client/web2",
            "loss 30",
            "loss 0 web1",
            "disk-fail web1",
            "disk-stall web2",
            "disk-heal web2",
            "bmc-down web1",
            "bmc-slow web2",
            "bmc-up web1",
            "fence-lie",
            "fence-honest",
        ] {
            let fault = Fault::parse_line(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(fault.to_string(), line);
        }
    }

    #[test]
    fn bad_faults_say_what_to_write() {
        for (line, want) in [
            (
                "explode web1",
                "unknown fault \"explode\": use one of crash",
            ),
            ("crash", "crash: name the node(s)"),
            ("kill-daemon sshd web1", "unknown daemon \"sshd\""),
            ("kill-daemon hbd", "kill-daemon: name the node(s)"),
            ("cut --from web1", "a one-way cut takes both"),
            ("cut --net wifi web1", "--net wifi: use heartbeat"),
            ("cut --from web1 --to web2 web3", "a one-way cut takes both"),
            ("partition web1", "give two or more groups"),
            ("partition web1//web2", "give two or more groups"),
            ("loss 130", "loss 130: use a percentage"),
            ("loss", "loss: give the percentage"),
            ("fence-lie web1", "fence-lie takes no arguments"),
            ("crash --force web1", "crash: unknown option --force"),
        ] {
            let err = Fault::parse_line(line).expect_err(line).to_string();
            assert!(err.contains(want), "{line}: {err}");
        }
    }

    #[test]
    fn kinds_and_nodes_are_reported() {
        let f = Fault::parse("partition", &words("web1/web2,web3")).expect("parses");
        assert_eq!(f.kind(), "partition");
        assert_eq!(f.nodes(), words("web1 web2 web3"));
        let f = Fault::parse("cut", &words("--from web2 --to web1")).expect("parses");
        assert_eq!(f.kind(), "cut");
        assert_eq!(f.nodes(), words("web2 web1"));
        for kind in KINDS {
            let args = match *kind {
                "kill-daemon" | "restart-daemon" | "pause-daemon" | "resume-daemon" => {
                    words("hbd web1")
                }
                "partition" => words("web1/web2"),
                "loss" => words("10"),
                "fence-lie" | "fence-honest" | "heal" => Vec::new(),
                _ => words("web1"),
            };
            assert_eq!(Fault::parse(kind, &args).expect(kind).kind(), *kind);
        }
    }
}
