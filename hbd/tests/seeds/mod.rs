//! Which seeded schedules a simulation test runs: `SIM_SEED=S` replays one, `SIM_SEEDS=N`
//! sets how many (default 2000); the workspace's one reading ([`plumbing::seeds`]).

/// The seeds to run.
pub fn seeds() -> Vec<u64> {
    plumbing::seeds::seeds(2000)
}
