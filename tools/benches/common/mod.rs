//! What the lab benchmarks share: timing a program started in a network namespace, the
//! statistics they print, and their environment knobs.
#![allow(dead_code)] // each benchmark uses its own part

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `program args` inside namespace `ns` (`ip netns exec`, so every program pays the
/// same launcher), with `envs` and `stdin` written to it, and times it to exit. Returns
/// the wall time, the exit code (-1 if killed by a signal) and stdout then stderr.
pub fn run_in_netns(
    ns: &str,
    program: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    stdin: &str,
) -> (Duration, i32, String) {
    let started = Instant::now();
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, program])
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program} in {ns}: {e}"));
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .unwrap_or_else(|e| panic!("stdin of {program}: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {program}: {e}"));
    let took = started.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (took, out.status.code().unwrap_or(-1), text)
}

/// The median (the upper one of an even count); zero for no samples.
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// The `p` quantile (0.0–1.0) of `sorted`, nearest rank; zero for no samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The number in environment variable `name` (e.g. `BENCH_ROUNDS`), or `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
