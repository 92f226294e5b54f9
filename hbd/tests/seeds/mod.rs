//! Which seeded schedules a simulation test runs: `SIM_SEED=S` replays one, `SIM_SEEDS=N`
//! sets how many (default 2000).

/// The seeds to run.
pub fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![seed];
    }
    let count = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    (0..count).collect()
}
