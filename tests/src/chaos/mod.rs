//! The chaos campaign: random fault schedules against the real cluster, checked by an
//! observer the cluster cannot fool.
//!
//! - [`record`]: what one schedule did and saw (JSON).
//! - [`report`]: the summary table, the merged timeline and the HTML report.

pub mod record;
pub mod report;
