//! How each agent class's answers are read: pure functions from exit code or output to
//! [`Outcome`].

use super::exec::{Exit, Finished};
use super::outcome::{Op, Outcome};

/// Heartbeat's `ResourceManager` rule for `status` (function `we_own_resource`): the exit
/// code is ignored and the standard output is matched, in this order, against the shell
/// patterns `*[Nn][Oo][Tt]\ *[Rr]unning*` (stopped) and `*[Rr]unning*|*OK*` (running);
/// anything else is stopped.
pub fn heartbeat_status_text(stdout: &str) -> Outcome {
    let b = stdout.as_bytes();
    let has_running = |from: usize| {
        b.get(from..).is_some_and(|rest| {
            rest.windows(7)
                .any(|w| w[1..] == *b"unning" && (w[0] | 0x20) == b'r')
        })
    };
    let not_space = b.windows(4).position(|w| {
        w[0].eq_ignore_ascii_case(&b'n')
            && w[1].eq_ignore_ascii_case(&b'o')
            && w[2].eq_ignore_ascii_case(&b't')
            && w[3] == b' '
    });
    if let Some(p) = not_space {
        if has_running(p + 4) {
            return Outcome::Stopped;
        }
    }
    if has_running(0) || stdout.contains("OK") {
        Outcome::Running
    } else {
        Outcome::Stopped
    }
}

/// A heartbeat-style (`resource.d`) script's result: `status` by its output, `start` and
/// `stop` by exit code 0.
pub fn heartbeat(op: Op, f: &Finished) -> Outcome {
    match (op, f.exit) {
        (_, Exit::TimedOut) => timed_out(f),
        (Op::Status, _) => heartbeat_status_text(&f.stdout),
        (Op::Start, Exit::Code(0)) => Outcome::Running,
        (Op::Stop, Exit::Code(0)) => Outcome::Stopped,
        _ => failed(f),
    }
}

/// An LSB init script's result (LSB 3.0 core, "Init Script Actions"): `status` 0 running,
/// 1–3 not running (dead with a pid file, dead with a lock file, stopped), 4 unknown;
/// `start`/`stop` 0 success, 2 and 6 configuration errors, 5 not installed.
pub fn lsb(op: Op, f: &Finished) -> Outcome {
    match (op, f.exit) {
        (_, Exit::TimedOut) => timed_out(f),
        (Op::Status, Exit::Code(0)) => Outcome::Running,
        (Op::Status, Exit::Code(1..=3)) => Outcome::Stopped,
        (Op::Start, Exit::Code(0)) => Outcome::Running,
        (Op::Stop, Exit::Code(0)) => Outcome::Stopped,
        (Op::Start | Op::Stop, Exit::Code(5)) => Outcome::NotInstalled {
            what: program_of(f),
        },
        (Op::Start | Op::Stop, Exit::Code(c @ (2 | 6))) => Outcome::ConfigError {
            why: format!("the init script exited {c} ({}){}", lsb_word(c), tail(f)),
        },
        _ => failed(f),
    }
}

/// OCF exit codes (OCF resource agent API 1.0, section "Return codes"), as Pacemaker reads
/// them: `monitor` 0 running, 7 not running, 8 running promoted; 2/6 configuration errors,
/// 5 not installed; the rest (1 generic, 3 unimplemented, 4 permission, 9 failed promoted)
/// failures.
pub fn ocf(op: Op, f: &Finished) -> Outcome {
    match (op, f.exit) {
        (_, Exit::TimedOut) => timed_out(f),
        (Op::Status, Exit::Code(0 | 8)) => Outcome::Running,
        (Op::Status, Exit::Code(7)) => Outcome::Stopped,
        (Op::Start, Exit::Code(0)) => Outcome::Running,
        (Op::Stop, Exit::Code(0)) => Outcome::Stopped,
        (_, Exit::Code(5)) => Outcome::NotInstalled {
            what: format!("the agent reports OCF_ERR_INSTALLED{}", tail(f)),
        },
        (_, Exit::Code(c @ (2 | 6))) => Outcome::ConfigError {
            why: format!(
                "the agent exited {c} ({}){}",
                if c == 2 {
                    "OCF_ERR_ARGS"
                } else {
                    "OCF_ERR_CONFIGURED"
                },
                tail(f)
            ),
        },
        _ => failed(f),
    }
}

fn lsb_word(code: i32) -> &'static str {
    if code == 2 {
        "invalid or excess arguments"
    } else {
        "program is not configured"
    }
}

fn timed_out(f: &Finished) -> Outcome {
    Outcome::TimedOut { after: f.elapsed }
}

fn failed(f: &Finished) -> Outcome {
    let code = match f.exit {
        Exit::Code(c) => c,
        Exit::Signal(s) => 128 + s,
        Exit::TimedOut => -1,
    };
    Outcome::Failed {
        code,
        stderr: f.stderr_tail.clone(),
    }
}

fn tail(f: &Finished) -> String {
    if f.stderr_tail.is_empty() {
        String::new()
    } else {
        format!(": {}", f.stderr_tail)
    }
}

fn program_of(f: &Finished) -> String {
    if f.stderr_tail.is_empty() {
        "the init script reports exit 5 (program is not installed)".into()
    } else {
        format!("the init script reports exit 5: {}", f.stderr_tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_follows_resource_managers_patterns() {
        for (text, want) in [
            ("IPaddr Running OK", Outcome::Running),
            ("INFO: IPaddr2 Running OK", Outcome::Running),
            ("apache is running", Outcome::Running),
            ("Running", Outcome::Running),
            ("all OK", Outcome::Running),
            ("INFO: Dummy Resource is stopped", Outcome::Stopped),
            ("apache is not running", Outcome::Stopped),
            ("Not Running", Outcome::Stopped),
            ("NOT currently running", Outcome::Stopped),
            ("OK: not running", Outcome::Stopped),
            ("notrunning", Outcome::Running),
            ("RUNNING", Outcome::Stopped),
            ("ok", Outcome::Stopped),
            ("", Outcome::Stopped),
            ("stopped\n", Outcome::Stopped),
            ("line one\nservice running\n", Outcome::Running),
        ] {
            assert_eq!(heartbeat_status_text(text), want, "{text:?}");
        }
    }

    fn fin(exit: Exit) -> Finished {
        Finished {
            exit,
            stdout: "running".into(),
            stderr_tail: "boom".into(),
            elapsed: std::time::Duration::from_millis(5),
        }
    }

    #[test]
    fn heartbeat_status_ignores_the_exit_code() {
        assert_eq!(heartbeat(Op::Status, &fin(Exit::Code(3))), Outcome::Running);
        assert_eq!(heartbeat(Op::Start, &fin(Exit::Code(0))), Outcome::Running);
        assert_eq!(
            heartbeat(Op::Stop, &fin(Exit::Code(1))),
            Outcome::Failed {
                code: 1,
                stderr: "boom".into()
            }
        );
        assert_eq!(
            heartbeat(Op::Start, &fin(Exit::Signal(9))),
            Outcome::Failed {
                code: 137,
                stderr: "boom".into()
            }
        );
    }

    #[test]
    fn lsb_and_ocf_codes_map_to_outcomes() {
        assert_eq!(lsb(Op::Status, &fin(Exit::Code(0))), Outcome::Running);
        assert_eq!(lsb(Op::Status, &fin(Exit::Code(3))), Outcome::Stopped);
        assert!(matches!(
            lsb(Op::Status, &fin(Exit::Code(4))),
            Outcome::Failed { code: 4, .. }
        ));
        assert!(matches!(
            lsb(Op::Start, &fin(Exit::Code(5))),
            Outcome::NotInstalled { .. }
        ));
        assert!(matches!(
            lsb(Op::Start, &fin(Exit::Code(6))),
            Outcome::ConfigError { .. }
        ));
        assert_eq!(ocf(Op::Status, &fin(Exit::Code(7))), Outcome::Stopped);
        assert_eq!(ocf(Op::Status, &fin(Exit::Code(8))), Outcome::Running);
        assert_eq!(ocf(Op::Stop, &fin(Exit::Code(0))), Outcome::Stopped);
        assert!(matches!(
            ocf(Op::Stop, &fin(Exit::Code(1))),
            Outcome::Failed { code: 1, .. }
        ));
        assert!(matches!(
            ocf(Op::Status, &fin(Exit::Code(5))),
            Outcome::NotInstalled { .. }
        ));
        assert!(matches!(
            ocf(Op::Start, &fin(Exit::Code(2))),
            Outcome::ConfigError { .. }
        ));
        assert!(matches!(
            ocf(Op::Start, &fin(Exit::TimedOut)),
            Outcome::TimedOut { .. }
        ));
    }
}
