//! Writing to standard output without dying on a closed pipe (`mkqdisk -L | head`), and
//! showing text read from a disk without letting it drive the terminal.

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

/// `text` as it may be shown on a terminal: control characters (escape sequences, line
/// breaks that would forge lines) and backslashes are written as escapes (`\u{1b}`, `\n`,
/// `\\`); everything else, any script included, stays as it is.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || c == '\\') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped_and_nothing_else_changes() {
        assert_eq!(printable("web-qdisk"), "web-qdisk");
        assert_eq!(printable("仲裁盘"), "仲裁盘");
        assert_eq!(
            printable("x\u{1b}[2J\nHost: forged\\"),
            "x\\u{1b}[2J\\nHost: forged\\\\"
        );
        assert!(!printable("a\u{7}\u{9b}b").chars().any(char::is_control));
    }
}
