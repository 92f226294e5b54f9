//! Running the external tools the lab is built from (`ip`, `losetup`, `mount`, ...).

use std::ffi::OsStr;
use std::process::{Command, Output};

use crate::error::{LabError, Result};

/// Renders a command line for messages.
pub fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs `command` to completion; error unless it exits 0. Returns its output.
pub fn run_command(command: &mut Command) -> Result<Output> {
    let output = command.output().map_err(|error| LabError::Command {
        command: describe(command),
        reason: format!("cannot start: {error}"),
    })?;
    if !output.status.success() {
        let mut reason = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if reason.is_empty() {
            reason = String::from_utf8_lossy(&output.stdout).trim().to_string();
        }
        return Err(LabError::Command {
            command: describe(command),
            reason: format!("{} ({})", reason, output.status),
        });
    }
    Ok(output)
}

/// Runs `program args...`; error unless it exits 0. Returns its standard output.
pub fn run<I, S>(program: &str, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = run_command(Command::new(program).args(args))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Quotes `word` for a POSIX shell (single quotes, with embedded quotes escaped).
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Quotes and joins a whole argument vector for a shell.
pub fn shell_join<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| shell_quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(shell_quote("abc/d.e"), "abc/d.e");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
