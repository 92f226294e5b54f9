//! `PROGRAM --man` prints a manual page (section 8) built from the program's own `--help`
//! definition: every long option `--help` shows is in the page, so the two cannot drift.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A workspace binary, built beside this package's (built first if it is not there).
fn binary(package: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_mkqdisk"))
        .parent()
        .expect("target dir")
        .to_path_buf();
    let bin = dir.join(name);
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", package, "--bin", name])
            .status()
            .expect("cargo build");
        assert!(status.success(), "cargo build -p {package} --bin {name}");
    }
    bin
}

fn output(bin: &Path, arg: &str) -> String {
    let out = Command::new(bin).arg(arg).output().expect("runs");
    assert!(out.status.success(), "{} {arg}: {out:?}", bin.display());
    String::from_utf8(out.stdout).expect("text")
}

/// The long options in a `--help` text (`--check`, `--fenced-socket`, ...).
fn long_options(help: &str) -> Vec<String> {
    let mut found: Vec<String> = help
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2 && !w[2..].starts_with('-'))
        .map(str::to_string)
        .collect();
    found.sort();
    found.dedup();
    found
}

#[test]
fn every_program_has_a_manual_page_with_every_option_of_its_help() {
    for (package, name) in [
        ("qdisk", "qdiskd"),
        ("fenced", "fenced"),
        ("hbd", "hbd"),
        ("tools", "mkqdisk"),
        ("tools", "fence_node"),
        ("tools", "fence_tool"),
        ("tools", "hbctl"),
    ] {
        let bin = binary(package, name);
        let page = output(&bin, "--man");
        assert!(page.contains(&format!(".TH {name} 8")), "{name}:\n{page}");
        for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS"] {
            assert!(page.contains(section), "{name}: {section}");
        }
        // Options in the help's option list (the first column), not in its prose.
        let help = output(&bin, "--help");
        let listed: String = help
            .lines()
            .filter(|l| l.trim_start().starts_with('-'))
            .collect::<Vec<_>>()
            .join("\n");
        for option in long_options(&listed) {
            let roff = option.replace('-', "\\-");
            assert!(
                page.contains(&roff),
                "{name}: {option} is in --help, not in --man"
            );
        }
    }
}

#[test]
fn every_fence_agent_has_a_manual_page_from_its_parameters() {
    for name in [
        "fence_qd_ipmilan",
        "fence_qd_ifmib",
        "fence_qd_cisco_mds",
        "fence_qd_brocade",
        "fence_qd_rps10",
        "fence_qd_apcsmart",
        "fence_qd_nw_rpc100s",
        "fence_qd_lcus",
        "fence_qd_usbhub",
        "fence_qd_usbrelay",
        "fence_qd_poison",
    ] {
        let bin = binary("tools", name);
        let page = output(&bin, "--man");
        assert!(page.contains(&format!(".TH {name} 8")), "{name}:\n{page}");
        assert!(page.contains("\\-\\-action"), "{name}: no --action");
        assert!(page.contains("EXIT STATUS"), "{name}");
    }
}
