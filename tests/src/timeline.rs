//! The event timeline: what the lab (and the test) did and saw, with monotonic timestamps
//! relative to the lab's start, so a failure can be read back in order.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Monotonic time since the lab started.
    pub at: Duration,
    /// Who: `lab`, `nemesis`, `test`, a node's hostname, ...
    pub source: String,
    /// What happened.
    pub what: String,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>5}.{:03}s  {:<8} {}",
            self.at.as_secs(),
            self.at.subsec_millis(),
            self.source,
            self.what
        )
    }
}

/// A shared, append-only list of [`Event`]s. Cheap to clone (all clones share the list).
#[derive(Debug, Clone)]
pub struct Timeline {
    start: Instant,
    events: Arc<Mutex<Vec<Event>>>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    /// An empty timeline starting now.
    pub fn new() -> Timeline {
        Timeline {
            start: Instant::now(),
            events: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// When the timeline started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Appends an event stamped now.
    pub fn record(&self, source: &str, what: impl Into<String>) {
        let event = Event {
            at: self.start.elapsed(),
            source: source.to_string(),
            what: what.into(),
        };
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event);
    }

    /// A copy of every event so far, in order.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The timeline as text, one event a line.
    pub fn render(&self) -> String {
        self.events()
            .iter()
            .map(|e| format!("{e}\n"))
            .collect::<String>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_their_order_and_timestamps_do_not_go_back() {
        let timeline = Timeline::new();
        timeline.record("test", "first");
        timeline.record("node1", "second");
        let events = timeline.events();
        assert_eq!(events.len(), 2);
        assert!(events[0].at <= events[1].at);
        assert!(timeline.render().contains("node1"));
    }
}
