//! Human time formats shared by the tools.

use chrono::{Local, TimeZone};

/// `ctime(3)`-style local time, as Red Hat's tools print it: `Wed Nov 25 07:30:00 2026`.
pub fn ctime(epoch_seconds: u64) -> String {
    i64::try_from(epoch_seconds)
        .ok()
        .and_then(|s| Local.timestamp_opt(s, 0).single())
        .map_or_else(
            || format!("(invalid time {epoch_seconds})"),
            |t| t.format("%a %b %e %H:%M:%S %Y").to_string(),
        )
}

/// A short age such as `0.8 s`, `12 s`, `5 min`, `3 h`, `2 days`; negative ages (a writer
/// whose clock is ahead) read `in the future`.
pub fn age(ms: i128) -> String {
    if ms < 0 {
        return format!("{:.1} s in the future", -ms as f64 / 1000.0);
    }
    let s = ms as f64 / 1000.0;
    match ms {
        0..=9_999 => format!("{s:.1} s ago"),
        10_000..=119_999 => format!("{s:.0} s ago"),
        120_000..=7_199_999 => format!("{:.0} min ago", s / 60.0),
        7_200_000..=172_799_999 => format!("{:.0} h ago", s / 3600.0),
        _ => format!("{:.0} days ago", s / 86400.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_pick_a_readable_unit() {
        assert_eq!(age(800), "0.8 s ago");
        assert_eq!(age(12_000), "12 s ago");
        assert_eq!(age(300_000), "5 min ago");
        assert_eq!(age(3 * 86_400_000), "3 days ago");
        assert_eq!(age(-1500), "1.5 s in the future");
    }
}
