//! Value syntaxes shared by the three files: heartbeat's time and boolean syntax, node names.

use std::fmt;
use std::time::Duration;

/// Parses a time the way heartbeat's `cl_get_msec` (cluster-glue `cl_misc.c`) does.
///
/// A decimal number (digits and at most one `.`), optionally followed by a unit: none means
/// seconds, `ms`/`msec` milliseconds, `us`/`usec` microseconds (units case-insensitive).
/// The result is rounded to the nearest millisecond (`1.5` → 1500 ms, `501us` → 1 ms).
/// Anything else — notably an `s` or `sec` suffix — is refused, as heartbeat refuses it.
/// We are stricter than `atof` on one point: `1.2.3` is refused instead of read as `1.2`.
pub fn parse_time(input: &str) -> Option<Duration> {
    let s = input.trim();
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(num_end);
    if !num.bytes().any(|b| b.is_ascii_digit()) || num.matches('.').count() > 1 {
        return None;
    }
    let unit = unit.trim_start().to_ascii_lowercase();
    // Microseconds per unit.
    let scale: u128 = match unit.as_str() {
        "" => 1_000_000,
        "ms" | "msec" => 1_000,
        "us" | "usec" => 1,
        _ => return None,
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    // Exact fixed-point arithmetic in nanoseconds of the unit, then round to ms.
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_digits = frac.len().min(9);
    let frac_val: u128 = if frac_digits == 0 {
        0
    } else {
        frac.get(..frac_digits)?.parse().ok()?
    };
    let frac_scaled = frac_val * 10u128.pow(9 - frac_digits as u32);
    // Value in units × 1e9, times µs per unit → µs × 1e9.
    let micros_e9 = int
        .checked_mul(1_000_000_000)?
        .checked_add(frac_scaled)?
        .checked_mul(scale)?;
    let ms_e9 = 1_000u128 * 1_000_000_000;
    let ms = (micros_e9 + ms_e9 / 2) / ms_e9;
    let ms = u64::try_from(ms).ok()?;
    Some(Duration::from_millis(ms))
}

/// Parses heartbeat's booleans: `true on yes y 1` and `false off no n 0`, case-insensitive.
pub fn parse_bool(input: &str) -> Option<bool> {
    match input.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// A cluster node's name, lower-cased as heartbeat does everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeName(String);

impl NodeName {
    /// A node name from text, lower-cased.
    pub fn new(name: &str) -> Self {
        Self(name.trim().to_ascii_lowercase())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Prints a duration the way `ha.cf` writes it: whole seconds bare, otherwise `NNNms`.
pub fn format_time(d: Duration) -> String {
    super::error::Hb(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_follow_cl_get_msec() {
        let ms = |s| parse_time(s).map(|d| d.as_millis());
        assert_eq!(ms("1"), Some(1000));
        assert_eq!(ms("1000ms"), Some(1000));
        assert_eq!(ms("1000 ms"), Some(1000));
        assert_eq!(ms("1000MS"), Some(1000));
        assert_eq!(ms("1000msec"), Some(1000));
        assert_eq!(ms("1000000us"), Some(1000));
        assert_eq!(ms("0.1"), Some(100));
        assert_eq!(ms(".5"), Some(500));
        assert_eq!(ms("1.5"), Some(1500));
        assert_eq!(ms("0.001"), Some(1));
        assert_eq!(ms("499us"), Some(0));
        assert_eq!(ms("501us"), Some(1));
        assert_eq!(ms("2s"), None);
        assert_eq!(ms("2sec"), None);
        assert_eq!(ms("ms"), None);
        assert_eq!(ms("."), None);
        assert_eq!(ms("-1"), None);
        assert_eq!(ms("1.2.3"), None);
        assert_eq!(ms("99999999999999999999999999999999999999"), None);
    }

    #[test]
    fn booleans_follow_heartbeat() {
        for t in ["true", "on", "YES", "y", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "Off", "no", "N", "0"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn node_names_are_lower_cased() {
        assert_eq!(
            NodeName::new("Web1.Example.COM").as_str(),
            "web1.example.com"
        );
    }
}
