//! A duration in the cluster file, read the same way by every daemon: a string with units
//! (`"5s"`, `"500ms"`, `"1m 30s"`, humantime's syntax), or a number of seconds (`5`, `1.5`,
//! `"5"`). Anything else is an error that shows what to write.

use std::time::Duration;

use serde::Deserialize;

/// A duration as the cluster file writes it (see the module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ConfigDuration(pub Duration);

impl From<ConfigDuration> for Duration {
    fn from(d: ConfigDuration) -> Duration {
        d.0
    }
}

/// What to write instead of `value`.
fn not_a_duration(value: &str) -> String {
    format!("{value} is not a duration; write e.g. \"5s\", \"500ms\" or a number of seconds")
}

/// Parses the text form: units, or bare seconds.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    humantime::parse_duration(t)
        .ok()
        .or_else(|| seconds(t.parse::<f64>().ok()?))
        .ok_or_else(|| not_a_duration(&format!("{text:?}")))
}

/// A non-negative, finite number of seconds.
fn seconds(s: f64) -> Option<Duration> {
    (s >= 0.0 && s.is_finite() && s < 1e12).then(|| Duration::from_secs_f64(s))
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Float(f64),
            Text(String),
            Other(serde::de::IgnoredAny),
        }
        match Raw::deserialize(d)? {
            Raw::Int(s) => Ok(ConfigDuration(Duration::from_secs(s))),
            Raw::Float(s) => seconds(s)
                .map(ConfigDuration)
                .ok_or_else(|| serde::de::Error::custom(not_a_duration(&s.to_string()))),
            Raw::Text(t) => parse(&t)
                .map(ConfigDuration)
                .map_err(serde::de::Error::custom),
            Raw::Other(_) => Err(serde::de::Error::custom(not_a_duration("this value"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct One {
        d: ConfigDuration,
    }

    fn read(value: &str) -> Result<Duration, String> {
        toml::from_str::<One>(&format!("d = {value}"))
            .map(|o| o.d.0)
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn units_and_seconds_are_read_alike() {
        for (value, want) in [
            ("\"5s\"", Duration::from_secs(5)),
            ("\"500ms\"", Duration::from_millis(500)),
            ("\"1m 30s\"", Duration::from_secs(90)),
            ("5", Duration::from_secs(5)),
            ("1.5", Duration::from_millis(1500)),
            ("\"5\"", Duration::from_secs(5)),
            ("\" 2.5 \"", Duration::from_millis(2500)),
            ("0", Duration::ZERO),
        ] {
            assert_eq!(read(value), Ok(want), "{value}");
        }
    }

    #[test]
    fn anything_else_says_what_to_write() {
        for value in ["\"soon\"", "-1", "-0.5", "\"5 parsecs\"", "true", "nan"] {
            let e = read(value).expect_err(value);
            assert!(
                e.contains("is not a duration; write e.g. \"5s\""),
                "{value}: {e}"
            );
        }
        let e = read("\"soon\"").expect_err("soon");
        assert!(e.contains("\"soon\" is not a duration"), "{e}");
    }
}
