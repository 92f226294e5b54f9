//! Text output of fence history and status.

use std::fmt::Write;

use fenced::history::{FenceAction, Outcome, Record};

use crate::timefmt::ctime;

/// An action's name.
pub fn action(a: FenceAction) -> &'static str {
    match a {
        FenceAction::Off => "off",
        FenceAction::Reboot => "reboot",
        FenceAction::On => "unfence",
    }
}

/// An outcome in words.
pub fn outcome(o: &Outcome) -> String {
    match o {
        Outcome::Fenced => "fenced".into(),
        Outcome::FencedOnFailed(why) => format!("fenced (power on failed: {why})"),
        Outcome::Unfenced => "unfenced".into(),
        Outcome::Acknowledged(by) => format!("acknowledged by {by}"),
        Outcome::Cancelled(why) => format!("cancelled: {why}"),
        Outcome::Failed(why) => format!("FAILED: {why}"),
    }
}

/// One record as a block of lines.
pub fn record(r: &Record) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "#{} {} {} {}: {} in {:.1} s, asked by {}",
        r.id,
        if r.finished_at > 0 {
            ctime(r.finished_at)
        } else {
            "-".into()
        },
        action(r.action),
        r.target,
        outcome(&r.outcome),
        r.elapsed_ms as f64 / 1000.0,
        r.origin
    );
    for a in &r.attempts {
        let _ = writeln!(
            out,
            "    round {} level {} {} {:?}: {} ({} ms)",
            a.round,
            a.level,
            a.device,
            a.action,
            a.error.as_deref().unwrap_or("ok"),
            a.duration_ms
        );
    }
    for j in &r.joined {
        let _ = writeln!(out, "    also asked by {j}");
    }
    out
}
