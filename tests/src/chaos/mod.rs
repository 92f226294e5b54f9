//! The chaos campaign: random fault schedules against the real cluster, checked by an
//! observer the cluster cannot fool.
//!
//! - [`schedule`]: random fault schedules from a seed.
//! - [`observe`]: the observer: who serves, who holds the floating IP, who answers ARP.
//! - [`disk`]: the shared-disk checker over the running cluster.
//! - [`run`]: one schedule, from the cluster's start to its verdict.
//! - [`campaign`]: many schedules, with progress and reports.
//! - [`record`]: what one schedule did and saw (JSON).
//! - [`report`]: the summary table, the merged timeline and the HTML report.

pub mod campaign;
pub mod disk;
pub mod observe;
pub mod record;
pub mod report;
pub mod run;
pub mod schedule;
