//! Writing to standard output without dying on a closed pipe (`mkqdisk -L | head`).

use std::io::Write;

/// Writes `text` to standard output. A reader that went away (broken pipe) is not an
/// error worth a message; other failures are reported on standard error.
pub fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("cannot write to standard output: {error}");
        }
    }
}

/// `println!` that never panics: a closed standard output must not abort a tool half-way
/// through writing a disk.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::print_stdout(&format!("{}\n", format_args!($($arg)*)))
    };
}
