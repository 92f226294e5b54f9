//! Where an agent's options come from: the command line (GNU getopt style: `-a x`, `-ax`,
//! `--ip=x`, `--ip x`, grouped boolean flags `-vP`) **or**, when there are no arguments at
//! all, standard input (`name=value` lines). Never both, exactly as fence-agents.

use crate::error::ParamError;
use crate::params::{normalize_name, ParamSpec, ParamType};

/// Where the options came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Command-line arguments.
    CommandLine,
    /// `name=value` lines on standard input.
    Stdin,
}

/// Raw options: (name as given, normalized; value), in input order.
pub type Pairs = Vec<(String, String)>;

/// Parses command-line arguments (without the program name) against `specs`.
/// `-h`/`--help` and `-V`/`--version` become `action=help` / `action=version`.
pub fn parse_args(specs: &[ParamSpec], args: &[String]) -> Result<Pairs, ParamError> {
    let mut out = Vec::new();
    let mut i = 0;
    let bad = |arg: &str, reason: &str| ParamError::BadArgument {
        arg: arg.to_string(),
        reason: reason.to_string(),
    };
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let norm = normalize_name(name);
            if norm == "help" || norm == "version" {
                out.push(("action".into(), norm));
                continue;
            }
            let spec = specs
                .iter()
                .find(|s| s.matches(&norm))
                .ok_or_else(|| bad(&format!("--{name}"), "unknown option"))?;
            let value = if spec.kind == ParamType::Boolean {
                inline.unwrap_or_else(|| "1".into())
            } else if let Some(v) = inline {
                v
            } else {
                let v = args
                    .get(i)
                    .ok_or_else(|| bad(&format!("--{name}"), "option requires a value"))?;
                i += 1;
                v.clone()
            };
            out.push((spec.name.to_string(), value));
        } else if let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            let chars: Vec<char> = shorts.chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                if c == 'h' || c == 'V' {
                    let what = if c == 'h' { "help" } else { "version" };
                    out.push(("action".into(), what.into()));
                    continue;
                }
                let spec = specs
                    .iter()
                    .find(|s| s.short == Some(c))
                    .ok_or_else(|| bad(&format!("-{c}"), "unknown option"))?;
                if spec.kind == ParamType::Boolean {
                    out.push((spec.name.to_string(), "1".into()));
                    continue;
                }
                let rest: String = chars[j..].iter().collect();
                let value = if !rest.is_empty() {
                    rest
                } else {
                    let v = args
                        .get(i)
                        .ok_or_else(|| bad(&format!("-{c}"), "option requires a value"))?;
                    i += 1;
                    v.clone()
                };
                out.push((spec.name.to_string(), value));
                break;
            }
        } else {
            // Never echo the argument: it might be a password typed in the wrong place.
            return Err(bad(
                "(positional argument)",
                "unexpected argument; options are -x VALUE or --name=VALUE",
            ));
        }
    }
    Ok(out)
}

/// Parses standard input: one `name=value` per line; blank lines and `#` comments skipped;
/// the line trimmed; split at the first `=`; surrounding double quotes removed. Lines
/// without `=` are returned as warnings (their text is not, it may be a secret).
pub fn parse_stdin(text: &str) -> (Pairs, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            warnings.push(format!("Ignoring stdin line {} without '='", n + 1));
            continue;
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        out.push((normalize_name(name), value.to_string()));
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipmi::plugin;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn short_long_attached_and_separate_forms_all_parse() {
        let specs = plugin().params;
        let got = parse_args(
            &specs,
            &args(&[
                "-a",
                "10.0.0.1",
                "-lroot",
                "--password=pw",
                "--plug",
                "n1",
                "-o",
                "off",
                "-vP",
                "--power-wait=3",
                "-C",
                "3",
            ]),
        )
        .expect("parse");
        let want: Pairs = [
            ("ip", "10.0.0.1"),
            ("username", "root"),
            ("password", "pw"),
            ("plug", "n1"),
            ("action", "off"),
            ("verbose", "1"),
            ("lanplus", "1"),
            ("power_wait", "3"),
            ("cipher", "3"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn deprecated_long_aliases_are_accepted_on_the_command_line() {
        let got =
            parse_args(&plugin().params, &args(&["--ipaddr=h", "--login", "u"])).expect("parse");
        assert_eq!(got[0], ("ip".to_string(), "h".to_string()));
        assert_eq!(got[1], ("username".to_string(), "u".to_string()));
    }

    #[test]
    fn bad_arguments_never_echo_values() {
        let err = parse_args(&plugin().params, &args(&["hunter2"])).expect_err("positional");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = parse_args(&plugin().params, &args(&["--frob=hunter2"])).expect_err("unknown");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = parse_args(&plugin().params, &args(&["-p"])).expect_err("missing value");
        assert!(err.to_string().contains("requires a value"), "{err}");
    }

    #[test]
    fn stdin_lines_follow_the_fence_agent_api() {
        let (pairs, warnings) = parse_stdin(
            "# comment\n\n  ipaddr = 10.0.0.1 \npasswd=\"a b=c\"\npower-wait=0\nport=n1\nnonsense\naction=status\naction=off\n",
        );
        let want: Pairs = [
            ("ipaddr", "10.0.0.1"),
            ("passwd", "a b=c"),
            ("power_wait", "0"),
            ("port", "n1"),
            ("action", "status"),
            ("action", "off"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(pairs, want);
        assert_eq!(
            warnings,
            vec!["Ignoring stdin line 7 without '='".to_string()]
        );
        // The last occurrence wins once validated.
        let (p, _) = plugin().params(&pairs).expect("params");
        assert_eq!(p.get("action"), Some("off"));
        assert_eq!(p.get("password"), Some("a b=c"));
    }
}
