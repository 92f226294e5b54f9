//! Waiting for a condition with a deadline: the one way lab tests wait.

use std::time::{Duration, Instant};

use crate::error::{LabError, Result};

/// Polls `condition` every `poll` until it holds or `deadline` has passed.
///
/// Returns how long it took; [`LabError::Timeout`] naming `what` otherwise.
pub fn wait_until(
    deadline: Duration,
    poll: Duration,
    what: &str,
    mut condition: impl FnMut() -> bool,
) -> Result<Duration> {
    wait_for(deadline, poll, what, || condition().then_some(())).map(|((), took)| took)
}

/// Polls `probe` every `poll` until it returns `Some` or `deadline` has passed.
///
/// Returns the value and how long it took; [`LabError::Timeout`] naming `what` otherwise.
pub fn wait_for<T>(
    deadline: Duration,
    poll: Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<(T, Duration)> {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return Ok((value, start.elapsed()));
        }
        if start.elapsed() >= deadline {
            return Err(LabError::Timeout {
                what: what.to_string(),
                after: deadline,
            });
        }
        std::thread::sleep(poll);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_returns_once_the_condition_holds() {
        let mut n = 0;
        let took = wait_until(
            Duration::from_secs(1),
            Duration::from_millis(1),
            "n",
            || {
                n += 1;
                n == 3
            },
        );
        assert!(took.is_ok());
    }

    #[test]
    fn wait_until_times_out_with_the_name_of_what_it_waited_for() {
        let err = wait_until(
            Duration::from_millis(20),
            Duration::from_millis(5),
            "never",
            || false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("never"), "{err}");
    }
}
