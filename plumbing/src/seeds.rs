//! Which seeded schedules a whole-cluster or core simulation runs, the same in every crate:
//! `SIM_SEED=S` replays one, `SIM_SEEDS=N` sets how many (each test has its default), and
//! a test that starts from a random base prints it (`SIM_BASE=B` repeats the run).

/// `SIM_SEED` when set: the one seed to replay.
pub fn replay() -> Option<u64> {
    env_number("SIM_SEED")
}

/// How many schedules to run: `SIM_SEEDS`, else `default`.
pub fn count(default: u64) -> u64 {
    env_number("SIM_SEEDS").unwrap_or(default)
}

/// The seeds `0..count(default)`, or the one `SIM_SEED` replays.
pub fn seeds(default: u64) -> Vec<u64> {
    match replay() {
        Some(seed) => vec![seed],
        None => (0..count(default)).collect(),
    }
}

/// The seeds `base..base + count(default)` from `SIM_BASE`, or from a base drawn from the
/// clock (so every run covers new schedules), or the one `SIM_SEED` replays. The range is
/// printed, so a failing run can be repeated.
pub fn seeds_from_random_base(default: u64, what: &str) -> Vec<u64> {
    if let Some(seed) = replay() {
        return vec![seed];
    }
    let count = count(default);
    let base = env_number("SIM_BASE").unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (t.as_nanos() % 1_000_000) as u64 * 1000
    });
    println!("{what}: seeds {base}..{} (SIM_BASE={base})", base + count);
    (base..base + count).collect()
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.trim().parse().ok())
}
