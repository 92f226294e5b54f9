//! mkqdisk's command line.

use std::path::PathBuf;

use clap::{ArgGroup, Parser, ValueEnum};

const LONG_ABOUT: &str = "\
Create, list, find and inspect quorum disks.

A quorum disk is a small shared block device (a LUN on the SAN, an iSCSI target) on which \
qdiskd writes a timestamped status block for each node every interval. mkqdisk writes the \
initial header and status blocks, and shows what is on a disk, including every node's \
status while a cluster runs.

Two layouts exist. The Red Hat layout (the default, up to 16 nodes) is byte-for-byte the \
one Red Hat Cluster Suite's mkqdisk and qdiskd use: either tool reads a disk the other \
made. The extended layout (--nodes above 16, or --layout extended) holds up to 256 nodes, \
reads every node's status in one I/O and allows sub-second qdiskd intervals; Red Hat's \
tools do not recognise it and leave it alone.";

const AFTER_LONG_HELP: &str = "\
MODES:
    -c DEVICE -l LABEL    Initialise DEVICE as a quorum disk called LABEL. Refuses a device \
that is mounted, used as swap, held by multipath, LVM or RAID, or too small, and says why. \
Asks for confirmation unless --yes is given. Everything written is read back and checked.
    -L [DEVICE...]        List quorum disks: every block device of this machine, or only \
the DEVICEs given (regular files too). Multipath legs, RAID members and software RAID are \
skipped, as Red Hat's mkqdisk does.
    -f LABEL [DEVICE...]  Like -L, only disks labelled LABEL.
    -d DEVICE...          Dump the header and every node's status block of each DEVICE.
    -d with -L or -f      Also dump the status blocks of every disk listed.

EXAMPLES:
    Create a quorum disk for a two-node cluster on a multipath LUN:
        mkqdisk -c /dev/mapper/mpatha -l web-qdisk
    Create one for 64 nodes without a prompt, from a script:
        mkqdisk -c /dev/sdq -l big-qdisk --nodes 64 --yes
    Find the disk qdiskd would use for label web-qdisk:
        mkqdisk -f web-qdisk
    Watch every node's status on a running cluster:
        watch mkqdisk -d /dev/mapper/mpatha
    Machine-readable listing:
        mkqdisk -L --json

EXIT STATUS:
    0   success; with -L, -f and -d: at least one quorum disk was shown
    1   failure, refusal, answer other than yes, or no quorum disk found
    2   invalid command line

NOTES:
    Never initialise a disk that a running cluster uses: every node's state is lost. A \
label must be unique on the storage network; qdiskd takes the first disk it finds with its \
label. Labels are at most 118 bytes (the Red Hat header's limit), without control \
characters. Labels and host names read from a disk are shown with control characters \
escaped (\\u{1b}), so a disk cannot drive the terminal. A disk initialised while \
the device had 512-byte sectors is refused if the device later reports 4096 (and the other \
way round): re-initialise it.";

/// The layout to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    /// Red Hat's layout: 16 nodes, compatible with Red Hat's qdiskd and mkqdisk.
    Redhat,
    /// The extended layout: up to 256 nodes, one I/O per read pass, sub-second intervals.
    Extended,
}

/// Command-line arguments of mkqdisk.
#[derive(Debug, Parser)]
#[command(
    name = "mkqdisk",
    version,
    about = "Create, list, find and inspect quorum disks",
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP,
    group(ArgGroup::new("mode").args(["create", "list", "find", "dump"]).required(true).multiple(true)),
)]
pub struct Args {
    /// Initialise DEVICE as a quorum disk (needs --label)
    #[arg(short = 'c', long = "create", value_name = "DEVICE", requires = "label", conflicts_with_all = ["list", "find", "dump", "devices"])]
    pub create: Option<PathBuf>,

    /// Label of the new quorum disk (at most 118 bytes; unique on the storage network)
    #[arg(short = 'l', long = "label", value_name = "LABEL")]
    pub label: Option<String>,

    /// List every quorum disk found
    #[arg(short = 'L', long = "list", conflicts_with = "find")]
    pub list: bool,

    /// Show the quorum disks labelled LABEL
    #[arg(short = 'f', long = "find", value_name = "LABEL")]
    pub find: Option<String>,

    /// Dump the header and every node's status block (repeating it changes nothing)
    #[arg(short = 'd', long = "dump", action = clap::ArgAction::Count)]
    pub dump: u8,

    /// Print JSON instead of text (listing and dump)
    #[arg(long)]
    pub json: bool,

    /// Node slots to create (1-256); more than 16 selects the extended layout
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256), requires = "create")]
    pub nodes: Option<u32>,

    /// Layout to create [default: redhat, or extended when --nodes is above 16]
    #[arg(long, value_enum, requires = "create")]
    pub layout: Option<LayoutArg>,

    /// Sector size to use when DEVICE is a regular file (block devices report their own)
    #[arg(long, value_name = "BYTES", value_parser = ["512", "1024", "2048", "4096"], requires = "create")]
    pub sector_size: Option<String>,

    /// Do not ask for confirmation before initialising
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Devices or files to look at instead of scanning the whole machine
    #[arg(value_name = "DEVICE")]
    pub devices: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn create_needs_a_label() {
        assert!(Args::try_parse_from(["mkqdisk", "-c", "/dev/x"]).is_err());
        assert!(Args::try_parse_from(["mkqdisk", "-c", "/dev/x", "-l", "q"]).is_ok());
    }

    #[test]
    fn a_mode_is_required() {
        assert!(Args::try_parse_from(["mkqdisk"]).is_err());
        assert!(Args::try_parse_from(["mkqdisk", "-L"]).is_ok());
        assert!(Args::try_parse_from(["mkqdisk", "-d", "/dev/x"]).is_ok());
    }

    #[test]
    fn nodes_are_bounded() {
        assert!(Args::try_parse_from(["mkqdisk", "-c", "x", "-l", "q", "--nodes", "257"]).is_err());
        assert!(Args::try_parse_from(["mkqdisk", "-c", "x", "-l", "q", "--nodes", "0"]).is_err());
    }
}
