//! Translations from the cores' state to the API, and the load average heartbeat sends.

use std::collections::HashMap;
use std::time::Duration;

use crate::api::GroupReport;
use crate::config::{Config, NodeName};
use crate::policy::{self, GroupId, GroupState};

/// The first line of `/proc/loadavg` (heartbeat's `ld` field).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_default()
}

/// The groups for the API; `nodes` are the policy's node names by id.
pub fn group_reports(
    status: &policy::Status,
    cfg: &Config,
    nodes: &[NodeName],
    local_state: &HashMap<GroupId, &'static str>,
) -> Vec<GroupReport> {
    status
        .groups
        .iter()
        .map(|g| {
            let preferred = cfg
                .resources
                .groups
                .iter()
                .find(|x| x.key == g.key)
                .map(|x| x.preferred.to_string())
                .unwrap_or_default();
            let owner = g
                .holders
                .iter()
                .find(|(_, s)| *s == GroupState::Running)
                .or_else(|| g.holders.first())
                .and_then(|(n, _)| nodes.get(n.index()))
                .map(ToString::to_string);
            let state = match g.local {
                GroupState::Running => "running",
                GroupState::Starting => "starting",
                GroupState::Stopping => "stopping",
                GroupState::Stopped => match local_state.get(&g.id) {
                    Some(&"failed") => "failed",
                    _ if owner.is_some() => "running",
                    _ if g.reason.is_some() => "waiting",
                    _ => "stopped",
                },
            };
            GroupReport {
                key: g.key.clone(),
                preferred,
                owner,
                state: state.into(),
                reason: g.reason_text.clone(),
            }
        })
        .collect()
}

/// `cl_status rscstatus`: which of its groups this node holds.
pub fn rscstatus(groups: &[GroupReport], local: &str, _cfg: &Config) -> String {
    let mine = |g: &GroupReport| g.owner.as_deref() == Some(local);
    let (mut local_all, mut local_any, mut foreign_all, mut foreign_any) =
        (true, false, true, false);
    let mut transition = false;
    for g in groups {
        if matches!(g.state.as_str(), "starting" | "stopping") && g.owner.as_deref() == Some(local)
        {
            transition = true;
        }
        if g.preferred == local {
            local_all &= mine(g);
            local_any |= mine(g);
        } else {
            foreign_all &= mine(g);
            foreign_any |= mine(g);
        }
    }
    if transition {
        return "transition".into();
    }
    match (local_any, foreign_any) {
        (false, false) => "none",
        (true, false) if local_all => "local",
        (false, true) if foreign_all => "foreign",
        (true, true) if local_all && foreign_all => "all",
        (true, _) => "local",
        (false, true) => "foreign",
    }
    .into()
}

fn ms(d: Duration) -> String {
    d.as_millis().to_string()
}

/// `cl_status hbparameter` values (times in milliseconds, as heartbeat reports them).
pub fn parameters(cfg: &Config) -> Vec<(String, String)> {
    let h = &cfg.hacf;
    vec![
        ("keepalive".into(), ms(h.keepalive)),
        ("deadtime".into(), ms(h.deadtime)),
        ("warntime".into(), ms(h.warntime)),
        ("initdead".into(), ms(h.initdead)),
        ("deadping".into(), ms(h.deadping)),
        ("udpport".into(), h.udpport.to_string()),
        ("baud".into(), h.baud.to_string()),
        (
            "auto_failback".into(),
            format!("{:?}", h.auto_failback).to_lowercase(),
        ),
        ("debug".into(), h.debug.to_string()),
        ("hbversion".into(), env!("CARGO_PKG_VERSION").into()),
    ]
}
