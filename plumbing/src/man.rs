//! Manual pages built from the programs' own `--help` definitions, so the two cannot drift:
//! `PROGRAM --man` prints the program's page (roff, section 8) to standard output, e.g.
//! `mkqdisk --man | man -l -` or `hbd --man > /usr/share/man/man8/hbd.8`.

use std::io::Write;

/// When the first argument is `--man`, prints the manual page of `command` and returns
/// true (the program then exits 0); otherwise does nothing and returns false.
pub fn print_if_asked(command: clap::Command) -> bool {
    if std::env::args().nth(1).as_deref() != Some("--man") {
        return false;
    }
    let page = render(command);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&page).and_then(|()| out.flush());
    true
}

/// The manual page of `command`, section 8, in roff.
pub fn render(command: clap::Command) -> Vec<u8> {
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(command).section("8");
    // Writing into a Vec cannot fail.
    let _ = man.render(&mut page);
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_has_the_name_synopsis_options_and_the_long_help() {
        let command = clap::Command::new("exampled")
            .about("An example daemon")
            .after_long_help("EXAMPLES:\n    exampled --check")
            .arg(
                clap::Arg::new("check")
                    .long("check")
                    .action(clap::ArgAction::SetTrue)
                    .help("Validate and exit"),
            );
        let page = String::from_utf8(render(command)).expect("roff is text");
        for want in [
            ".TH exampled 8",
            ".SH NAME",
            ".SH SYNOPSIS",
            "\\-\\-check",
            "Validate and exit",
            "EXAMPLES:",
        ] {
            assert!(page.contains(want), "{want}:\n{page}");
        }
    }
}
