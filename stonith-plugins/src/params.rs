//! Parameter descriptions ([`ParamSpec`]), their fence-agents names and deprecated aliases,
//! and validation into [`Params`].
//!
//! Names follow fence-agents: `-` and `_` are interchangeable, deprecated aliases
//! (`ipaddr`, `login`, `passwd`, `port`, ...) map to the canonical name, the last
//! occurrence of a name wins, unknown names are reported as warnings (never as errors, as
//! the fence agent API asks), and boolean values are `1/yes/on/true` or `0/no/off/false`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::error::ParamError;

/// The type of a parameter's value (the `<content type>` of the metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// A flag: `1/yes/on/true` or `0/no/off/false`; on the command line, present = true.
    Boolean,
    /// Free text.
    String,
    /// A non-negative integer.
    Integer,
    /// A duration in seconds (decimals allowed).
    Second,
    /// One of a fixed list.
    Select(&'static [&'static str]),
}

impl ParamType {
    /// The metadata name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Boolean => "boolean",
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Second => "second",
            ParamType::Select(_) => "select",
        }
    }
}

/// The description of one parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    /// Canonical name (stdin name; the long option is this with `_` replaced by `-`).
    pub name: &'static str,
    /// Short command-line option, if any (`-a` for `ip`).
    pub short: Option<char>,
    /// Deprecated names still accepted (`ipaddr` for `ip`).
    pub aliases: &'static [&'static str],
    /// Value type.
    pub kind: ParamType,
    /// Default value, as text.
    pub default: Option<&'static str>,
    /// Required for device actions.
    pub required: bool,
    /// A secret: never printed, logged or echoed in errors.
    pub secret: bool,
    /// One line of description.
    pub shortdesc: &'static str,
    /// Refused with this reason when given: a fence-agents option this agent cannot honour
    /// and must not ignore (IPMI bridging would send the command to the wrong controller).
    /// Not shown in metadata or help.
    pub refused: Option<&'static str>,
}

impl ParamSpec {
    /// A string parameter with no default, optional, not secret.
    pub const fn new(name: &'static str, kind: ParamType, shortdesc: &'static str) -> ParamSpec {
        ParamSpec {
            name,
            short: None,
            aliases: &[],
            kind,
            default: None,
            required: false,
            secret: false,
            shortdesc,
            refused: None,
        }
    }

    /// Refused when given, with `reason` (and the fix).
    pub const fn refused(mut self, reason: &'static str) -> ParamSpec {
        self.refused = Some(reason);
        self
    }

    /// With a short option.
    pub const fn short(mut self, c: char) -> ParamSpec {
        self.short = Some(c);
        self
    }

    /// With deprecated aliases.
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> ParamSpec {
        self.aliases = aliases;
        self
    }

    /// With a default.
    pub const fn default(mut self, value: &'static str) -> ParamSpec {
        self.default = Some(value);
        self
    }

    /// Required.
    pub const fn required(mut self) -> ParamSpec {
        self.required = true;
        self
    }

    /// Secret.
    pub const fn secret(mut self) -> ParamSpec {
        self.secret = true;
        self
    }

    /// The long command-line option (`--power-timeout`).
    pub fn long(&self) -> String {
        format!("--{}", self.name.replace('_', "-"))
    }

    /// The fence-agents `getopt mixed` text: `-a, --ip=[ip]`.
    pub fn getopt(&self) -> String {
        let long = if self.kind == ParamType::Boolean {
            self.long()
        } else {
            format!("{}=[{}]", self.long(), self.name)
        };
        match self.short {
            Some(c) => format!("-{c}, {long}"),
            None => long,
        }
    }

    /// Whether `name` (already normalized) is this parameter or one of its aliases.
    pub fn matches(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }

    fn check(&self, value: &str) -> Result<String, ParamError> {
        let shown = |reason: &str| {
            if self.secret {
                reason.to_string()
            } else {
                format!("{reason} (got {value:?})")
            }
        };
        let invalid = |reason: &str| ParamError::Invalid {
            name: self.name.to_string(),
            reason: shown(reason),
        };
        match self.kind {
            ParamType::String => Ok(value.to_string()),
            ParamType::Boolean => parse_bool(value)
                .map(|b| if b { "1" } else { "0" }.to_string())
                .ok_or_else(|| invalid("expected 1/yes/on/true or 0/no/off/false")),
            ParamType::Integer => value
                .trim()
                .parse::<u32>()
                .map(|n| n.to_string())
                .map_err(|_| invalid("expected a non-negative integer")),
            ParamType::Second => parse_seconds(value)
                .map(|_| value.trim().to_string())
                .ok_or_else(|| invalid("expected a number of seconds")),
            ParamType::Select(options) => {
                let lower = value.trim().to_ascii_lowercase();
                if options.contains(&lower.as_str()) {
                    Ok(lower)
                } else {
                    Err(invalid(&format!("expected one of {}", options.join(", "))))
                }
            }
        }
    }
}

/// Parses a fence-agents boolean.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "on" | "true" | "" => Some(true),
        "0" | "no" | "off" | "false" => Some(false),
        _ => None,
    }
}

/// Parses seconds (`20`, `0.5`), rejecting negative, infinite and absurd values.
pub fn parse_seconds(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    if !(0.0..=86_400.0 * 365.0).contains(&secs) {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

/// Normalizes a parameter name: trimmed, lower case, `-` as `_`, leading dashes removed.
pub fn normalize_name(name: &str) -> String {
    name.trim()
        .trim_start_matches('-')
        .to_ascii_lowercase()
        .replace('-', "_")
}

/// Parameters every power agent takes, with fence-agents' names, aliases and defaults.
/// Plugins prepend their own and may override defaults (see [`with_default`]).
pub const COMMON: &[ParamSpec] = &[
    ParamSpec::new("action", ParamType::String, "Fencing action")
        .short('o')
        .aliases(&["option"])
        .default("reboot"),
    ParamSpec::new(
        "ip",
        ParamType::String,
        "IP address or hostname of fencing device",
    )
    .short('a')
    .aliases(&["ipaddr"]),
    ParamSpec::new(
        "ipport",
        ParamType::Integer,
        "TCP/UDP port to use for connection with device",
    )
    .short('u'),
    ParamSpec::new("username", ParamType::String, "Login name")
        .short('l')
        .aliases(&["login"]),
    ParamSpec::new(
        "password",
        ParamType::String,
        "Login password or passphrase",
    )
    .short('p')
    .aliases(&["passwd"])
    .secret(),
    ParamSpec::new(
        "password_script",
        ParamType::String,
        "Script to run to retrieve password",
    )
    .short('S')
    .aliases(&["passwd_script"]),
    ParamSpec::new(
        "plug",
        ParamType::String,
        "Physical plug number on device, UUID or identification of machine",
    )
    .short('n')
    .aliases(&["port"]),
    ParamSpec::new(
        "nodename",
        ParamType::String,
        "Name of the node to be fenced (set by the cluster manager)",
    ),
    ParamSpec::new(
        "verbose",
        ParamType::Boolean,
        "Verbose mode. Secrets are masked.",
    )
    .short('v'),
    ParamSpec::new(
        "quiet",
        ParamType::Boolean,
        "Disable logging to stderr. Does not affect --verbose.",
    )
    .short('q'),
    ParamSpec::new(
        "delay",
        ParamType::Second,
        "Wait X seconds before fencing is started",
    )
    .default("0"),
    ParamSpec::new(
        "power_timeout",
        ParamType::Second,
        "Test X seconds for status change after ON/OFF",
    )
    .default("20"),
    ParamSpec::new(
        "power_wait",
        ParamType::Second,
        "Wait X seconds after issuing ON/OFF",
    )
    .default("0"),
    ParamSpec::new(
        "stonith_status_sleep",
        ParamType::Second,
        "Sleep X seconds between status calls during a STONITH action",
    )
    .default("1"),
    ParamSpec::new(
        "login_timeout",
        ParamType::Second,
        "Wait X seconds for the device to answer a login step",
    )
    .default("5"),
    ParamSpec::new(
        "retry_on",
        ParamType::Integer,
        "Count of attempts to retry power on",
    )
    .default("1"),
    ParamSpec::new(
        "disable_timeout",
        ParamType::Boolean,
        "Accepted for compatibility; this agent's per-step timeouts stay bounded",
    ),
    ParamSpec::new(
        "method",
        ParamType::Select(&["onoff", "cycle"]),
        "Method to fence (onoff: off confirmed, then on; cycle: the device's power cycle)",
    )
    .short('m')
    .default("onoff"),
];

/// The plug (port, outlet) an action is for, trimmed: a missing or blank one is an error
/// naming `plug`, so no device is touched without knowing which of its ports is meant.
pub fn required_plug(plug: Option<&str>) -> Result<&str, ParamError> {
    plug.map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ParamError::Missing {
            name: "plug".into(),
        })
}

/// `specs` with the default of `name` replaced.
pub fn with_default(mut specs: Vec<ParamSpec>, name: &str, value: &'static str) -> Vec<ParamSpec> {
    for s in specs.iter_mut().filter(|s| s.name == name) {
        s.default = Some(value);
    }
    specs
}

/// Something worth telling about the input that is not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamWarning {
    /// An unknown name was ignored (its value is never shown).
    Unknown(String),
    /// A deprecated alias was used.
    Deprecated {
        /// The alias.
        alias: String,
        /// The canonical name.
        name: &'static str,
    },
}

impl fmt::Display for ParamWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamWarning::Unknown(n) => write!(f, "Ignoring unknown option '{n}'"),
            ParamWarning::Deprecated { alias, name } => {
                write!(f, "Parameter '{alias}' is deprecated, use '{name}'")
            }
        }
    }
}

/// Validated parameters: canonical name → value (defaults filled in).
#[derive(Clone, PartialEq, Eq)]
pub struct Params {
    specs: Vec<ParamSpec>,
    values: BTreeMap<&'static str, String>,
    given: Vec<&'static str>,
}

impl fmt::Debug for Params {
    /// Secrets show as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.values {
            if self.is_secret(k) {
                m.entry(k, &"***");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

impl Params {
    /// Validates `pairs` (name, value; in input order, the last occurrence wins) against
    /// `specs`. Types and choices are checked; required parameters are not (that is
    /// [`Params::check_required`], since `metadata` needs none).
    pub fn parse<S: AsRef<str>, V: AsRef<str>>(
        specs: &[ParamSpec],
        pairs: &[(S, V)],
    ) -> Result<(Params, Vec<ParamWarning>), ParamError> {
        let mut values = BTreeMap::new();
        let mut given = Vec::new();
        let mut warnings = Vec::new();
        for (name, value) in pairs {
            let raw = normalize_name(name.as_ref());
            let Some(spec) = specs.iter().find(|s| s.matches(&raw)) else {
                warnings.push(ParamWarning::Unknown(raw));
                continue;
            };
            if spec.name != raw {
                warnings.push(ParamWarning::Deprecated {
                    alias: raw.clone(),
                    name: spec.name,
                });
            }
            if let Some(reason) = spec.refused {
                return Err(ParamError::Invalid {
                    name: spec.name.to_string(),
                    reason: reason.to_string(),
                });
            }
            let checked = spec.check(value.as_ref())?;
            values.insert(spec.name, checked);
            if !given.contains(&spec.name) {
                given.push(spec.name);
            }
        }
        for spec in specs {
            if let (Some(d), false) = (spec.default, values.contains_key(spec.name)) {
                values.insert(spec.name, d.to_string());
            }
        }
        Ok((
            Params {
                specs: specs.to_vec(),
                values,
                given,
            },
            warnings,
        ))
    }

    /// Errors unless every required parameter has a value. `password` counts as given
    /// when `password_script` is.
    pub fn check_required(&self) -> Result<(), ParamError> {
        for spec in self.specs.iter().filter(|s| s.required) {
            if self.get(spec.name).is_none_or(str::is_empty) {
                return Err(ParamError::Missing {
                    name: spec.name.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The specs these parameters were checked against.
    pub fn specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    /// Whether `name` is a secret parameter.
    pub fn is_secret(&self, name: &str) -> bool {
        self.specs.iter().any(|s| s.name == name && s.secret)
    }

    /// Whether the caller gave `name` (not just its default).
    pub fn is_given(&self, name: &str) -> bool {
        self.given.contains(&name)
    }

    /// The value of `name` (given or default).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Sets `name` (a known parameter) to `value`, checked. Used for `password` read from
    /// `password_script` and for `port_as_ip`.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ParamError> {
        let spec = self
            .specs
            .iter()
            .find(|s| s.name == name)
            .copied()
            .ok_or_else(|| ParamError::Invalid {
                name: name.to_string(),
                reason: "not a parameter of this device".into(),
            })?;
        let checked = spec.check(value)?;
        self.values.insert(spec.name, checked);
        if !self.given.contains(&spec.name) {
            self.given.push(spec.name);
        }
        Ok(())
    }

    /// A boolean parameter (absent = false).
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).and_then(parse_bool).unwrap_or(false)
    }

    /// An integer parameter, `None` when absent.
    pub fn integer(&self, name: &str) -> Result<Option<u32>, ParamError> {
        self.get(name)
            .map(|v| {
                v.trim().parse::<u32>().map_err(|_| ParamError::Invalid {
                    name: name.to_string(),
                    reason: format!("expected a non-negative integer (got {v:?})"),
                })
            })
            .transpose()
    }

    /// A seconds parameter, `None` when absent.
    pub fn seconds(&self, name: &str) -> Result<Option<Duration>, ParamError> {
        self.get(name)
            .map(|v| {
                parse_seconds(v).ok_or_else(|| ParamError::Invalid {
                    name: name.to_string(),
                    reason: format!("expected a number of seconds (got {v:?})"),
                })
            })
            .transpose()
    }

    /// Every secret value that is set, for masking output.
    pub fn secret_values(&self) -> Vec<&str> {
        self.values
            .iter()
            .filter(|(k, v)| self.is_secret(k) && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `text` with every secret value replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.secret_values() {
            out = out.replace(secret, "***");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<(Params, Vec<ParamWarning>), ParamError> {
        Params::parse(COMMON, pairs)
    }

    #[test]
    fn aliases_map_to_canonical_names_and_the_last_occurrence_wins() {
        let (p, w) = parse(&[
            ("ipaddr", "10.0.0.1"),
            ("login", "admin"),
            ("passwd", "s3cret"),
            ("port", "node1"),
            ("ip", "10.0.0.2"),
        ])
        .expect("parse");
        assert_eq!(p.get("ip"), Some("10.0.0.2"));
        assert_eq!(p.get("username"), Some("admin"));
        assert_eq!(p.get("password"), Some("s3cret"));
        assert_eq!(p.get("plug"), Some("node1"));
        assert!(w.contains(&ParamWarning::Deprecated {
            alias: "ipaddr".into(),
            name: "ip"
        }));
    }

    #[test]
    fn dashes_and_underscores_are_the_same_name() {
        let (p, _) = parse(&[("power-wait", "3"), ("--power_timeout", "7.5")]).expect("parse");
        assert_eq!(p.seconds("power_wait"), Ok(Some(Duration::from_secs(3))));
        assert_eq!(
            p.seconds("power_timeout"),
            Ok(Some(Duration::from_millis(7500)))
        );
    }

    #[test]
    fn defaults_fill_in_and_unknown_names_only_warn() {
        let (p, w) = parse(&[("frobnicate", "x")]).expect("parse");
        assert_eq!(p.get("action"), Some("reboot"));
        assert_eq!(p.get("power_timeout"), Some("20"));
        assert!(!p.is_given("power_timeout"));
        assert_eq!(w, vec![ParamWarning::Unknown("frobnicate".into())]);
    }

    #[test]
    fn bad_values_are_errors_that_never_show_a_secret() {
        assert_eq!(
            parse(&[("retry_on", "many")]),
            Err(ParamError::Invalid {
                name: "retry_on".into(),
                reason: "expected a non-negative integer (got \"many\")".into()
            })
        );
        assert!(parse(&[("power_timeout", "-1")]).is_err());
        assert!(parse(&[("method", "bounce")]).is_err());
        let specs = [ParamSpec::new("key", ParamType::Integer, "k").secret()];
        let err = Params::parse(&specs, &[("key", "hunter2")]).expect_err("invalid");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn booleans_take_fence_agents_spellings() {
        for (v, b) in [
            ("yes", true),
            ("ON", true),
            ("1", true),
            ("false", false),
            ("0", false),
        ] {
            let (p, _) = parse(&[("verbose", v)]).expect("parse");
            assert_eq!(p.flag("verbose"), b, "{v}");
        }
    }

    #[test]
    fn debug_output_masks_secrets() {
        let (p, _) = parse(&[("password", "hunter2"), ("ip", "h")]).expect("parse");
        let shown = format!("{p:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(p.mask("-P hunter2 -H h"), "-P *** -H h");
    }

    #[test]
    fn required_parameters_are_checked_separately() {
        let specs = [ParamSpec::new("ip", ParamType::String, "ip").required()];
        let (p, _) = Params::parse(&specs, &[] as &[(&str, &str)]).expect("parse");
        assert_eq!(
            p.check_required(),
            Err(ParamError::Missing { name: "ip".into() })
        );
    }

    #[test]
    fn getopt_text_matches_fence_agents() {
        let ip = COMMON.iter().find(|s| s.name == "ip").expect("ip");
        assert_eq!(ip.getopt(), "-a, --ip=[ip]");
        let v = COMMON
            .iter()
            .find(|s| s.name == "verbose")
            .expect("verbose");
        assert_eq!(v.getopt(), "-v, --verbose");
        let pt = COMMON
            .iter()
            .find(|s| s.name == "power_timeout")
            .expect("pt");
        assert_eq!(pt.getopt(), "--power-timeout=[power_timeout]");
    }
}
