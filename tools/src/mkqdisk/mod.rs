//! `mkqdisk`: create, list, find and inspect quorum disks.
//!
//! The options follow Red Hat's mkqdisk (`-c DEV -l LABEL`, `-L`, `-f LABEL`, `-d`), with
//! JSON output, the extended layout, safety checks before anything is overwritten, and a
//! read-back after creation.

pub mod cli;
pub mod create;
pub mod inspect;
pub mod render;
pub mod signature;

pub use cli::Args;

/// Exit status: success, or something was found.
pub const EXIT_OK: i32 = 0;
/// Exit status: failure, refused, or nothing found.
pub const EXIT_FAILURE: i32 = 1;

/// Runs mkqdisk with parsed arguments; returns the exit status.
pub fn run(args: &Args) -> i32 {
    let result = if let Some(device) = &args.create {
        create::run(args, device)
    } else {
        inspect::run(args)
    };
    match result {
        Ok(status) => status,
        Err(error) => {
            eprintln!("mkqdisk: {error:#}");
            EXIT_FAILURE
        }
    }
}
