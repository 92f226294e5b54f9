//! The agent's manual page (`fence_qd_X --man`, section 8), built from the same parameter
//! descriptions as its `--help` and `-o metadata`, so none of the three can drift.

use crate::params::ParamType;
use crate::registry::Plugin;

/// The clap command describing `plugin`'s command line (for rendering only: the agent
/// parses its options itself, the fence-agents way).
fn command(plugin: &Plugin) -> clap::Command {
    let actions: Vec<String> = plugin.actions.iter().map(ToString::to_string).collect();
    let mut command = clap::Command::new(plugin.agent)
        .version(env!("CARGO_PKG_VERSION"))
        .about(plugin.shortdesc)
        .long_about(plugin.longdesc)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .after_long_help(format!(
            "Options are also read as name=value lines on standard input when no argument is \
             given (how fenced and Pacemaker call it); -o metadata prints them as XML.\n\n\
             ACTIONS (-o, --action): {}\n\n\
             EXIT STATUS: 0 success (status: on), 1 failure, 2 status: off.",
            actions.join(", ")
        ));
    for spec in plugin.params.iter().filter(|s| s.refused.is_none()) {
        let long = spec.long().trim_start_matches("--").to_string();
        let mut arg = clap::Arg::new(spec.name).long(long).help(spec.shortdesc);
        if let Some(c) = spec.short {
            arg = arg.short(c);
        }
        arg = match spec.kind {
            ParamType::Boolean => arg.action(clap::ArgAction::SetTrue),
            ParamType::Select(choices) => arg.value_parser(choices.to_vec()),
            _ => arg.value_name(spec.name.to_uppercase()),
        };
        if let Some(default) = spec.default.filter(|d| !d.is_empty()) {
            arg = arg.default_value(default);
        }
        command = command.arg(arg.required(false));
    }
    command
}

/// The manual page of `plugin`'s agent, in roff.
pub fn page(plugin: &Plugin) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = clap_mangen::Man::new(command(plugin))
        .section("8")
        .render(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_every_offered_parameter_and_the_actions() {
        let plugin = crate::ipmi::plugin();
        let page = String::from_utf8(page(&plugin)).expect("roff");
        assert!(page.contains(".TH fence_qd_ipmilan 8"), "{page}");
        for spec in plugin.params.iter().filter(|s| s.refused.is_none()) {
            let long = spec.long().replace('-', "\\-");
            assert!(page.contains(&long), "{long} missing");
        }
        assert!(
            !page.contains("\\-\\-target"),
            "refused options are not offered"
        );
        assert!(
            page.contains("ACTIONS (\\-o, \\-\\-action): on, off, reboot"),
            "{page}"
        );
    }
}
