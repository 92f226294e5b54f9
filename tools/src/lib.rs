//! The command-line face of the toolkit. Each tool is a module with a `run` function that
//! takes parsed arguments and returns an exit status; the binaries in `src/bin` only parse
//! and call it (ripgrep's thin `main`).

pub mod fence;
pub mod mkqdisk;
pub mod output;
pub mod poison;
pub mod timefmt;
