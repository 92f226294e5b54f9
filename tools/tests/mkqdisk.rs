//! mkqdisk end to end on real loop devices (512- and 4096-byte sectors) and regular files.
//! Needs root (loop devices); touches no block device it did not create.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use lab::loopdev::LoopDevice;
use lab::root::require_root;
use qdisk::device::{DeviceOptions, SectorDevice};
use qdisk::geometry::{Geometry, Layout};
use qdisk::NodeId;
use serde_json::Value;

fn mkqdisk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mkqdisk"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("mkqdisk runs")
}

fn mkqdisk_with_input(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mkqdisk"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mkqdisk runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write answer");
    child.wait_with_output().expect("mkqdisk ends")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "mkqdisk failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("valid JSON")
}

fn loop_device(sector_size: u32) -> LoopDevice {
    require_root("mkqdisk loop-device tests");
    LoopDevice::builder()
        .sector_size(sector_size)
        .size_bytes(8 << 20)
        .build()
        .expect("loop device")
}

fn path(dev: &LoopDevice) -> &str {
    dev.path().to_str().expect("utf-8 path")
}

fn create_list_find_dump(sector_size: u32) {
    let dev = loop_device(sector_size);
    let out = ok(&mkqdisk(&["-c", path(&dev), "-l", "lab-qdisk", "--yes"]));
    assert!(
        out.contains("Initializing status block for node 16..."),
        "{out}"
    );
    assert!(out.contains("Reading everything back... ok"), "{out}");

    let listing = ok(&mkqdisk(&["-L", path(&dev)]));
    assert!(
        listing.contains("Label:                lab-qdisk"),
        "{listing}"
    );
    assert!(listing.contains(&format!("Kernel Sector Size:   {sector_size}")));
    assert!(listing.contains(&format!("Recorded Sector Size: {sector_size}")));
    assert!(listing.contains("Magic:                eb7a62c2"));

    let found = json(&mkqdisk(&["-f", "lab-qdisk", "--json", path(&dev)]));
    assert_eq!(found["disks"][0]["header"]["label"], "lab-qdisk");
    assert_eq!(found["disks"][0]["header"]["layout"]["kind"], "redhat");
    assert_eq!(found["disks"][0]["kernel_sector_size"], sector_size);

    let missing = mkqdisk(&["-f", "other-label", path(&dev)]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no quorum disk labelled 'other-label' found"));

    let dump = json(&mkqdisk(&["-d", "--json", path(&dev)]));
    let slots = dump["disks"][0]["status"].as_array().expect("slots");
    assert_eq!(slots.len(), 16);
    for (i, slot) in slots.iter().enumerate() {
        assert_eq!(slot["node"], i + 1);
        assert_eq!(slot["block"]["state"], "none");
        assert_eq!(slot["error"], Value::Null);
    }
}

#[test]
fn creates_lists_finds_and_dumps_on_512_byte_sectors() {
    create_list_find_dump(512);
}

#[test]
fn creates_lists_finds_and_dumps_on_4096_byte_sectors() {
    create_list_find_dump(4096);
}

#[test]
fn extended_layout_holds_255_nodes_on_4096_byte_sectors() {
    let dev = loop_device(4096);
    let out = ok(&mkqdisk(&[
        "-c",
        path(&dev),
        "-l",
        "big",
        "--nodes",
        "255",
        "-y",
    ]));
    assert!(
        out.contains("Initializing 255 status blocks in one 1044480-byte write..."),
        "{out}"
    );
    let dump = json(&mkqdisk(&["-d", "--json", path(&dev)]));
    let disk = &dump["disks"][0];
    assert_eq!(disk["header"]["layout"]["kind"], "extended");
    assert_eq!(disk["header"]["layout"]["max_nodes"], 255);
    let slots = disk["status"].as_array().expect("slots");
    assert_eq!(slots.len(), 255);
    assert!(slots.iter().all(|s| s["error"].is_null()));
    let listing = ok(&mkqdisk(&["-L", path(&dev)]));
    assert!(listing.contains("extended (255 node slots)"), "{listing}");
}

#[test]
fn only_the_corrupted_status_block_is_flagged() {
    for sector_size in [512u32, 4096] {
        let dev = loop_device(sector_size);
        ok(&mkqdisk(&["-c", path(&dev), "-l", "corrupt", "-y"]));
        // Flip one payload byte of node 5's block, through the loop device, with O_DIRECT.
        let device = SectorDevice::open(
            dev.path(),
            DeviceOptions {
                write: true,
                ..DeviceOptions::default()
            },
        )
        .expect("open");
        let geometry = Geometry::new(Layout::Classic, sector_size).expect("geometry");
        let offset = geometry.status_offset(NodeId(5)).expect("slot");
        let mut sector = qdisk::aligned::AlignedBuf::new(sector_size as usize);
        device.read_at(offset, sector.as_mut_slice()).expect("read");
        sector.as_mut_slice()[40] ^= 0x10;
        device.write_at(offset, sector.as_slice()).expect("write");
        drop(device);

        let dump = json(&mkqdisk(&["-d", "--json", path(&dev)]));
        let slots = dump["disks"][0]["status"].as_array().expect("slots");
        for slot in slots {
            if slot["node"] == 5 {
                let error = slot["error"].as_str().expect("node 5 flagged");
                assert!(
                    error.contains("node 5") && error.contains("bad CRC"),
                    "{error}"
                );
                assert!(slot["block"].is_null());
            } else {
                assert!(slot["error"].is_null(), "only node 5 is bad: {slot}");
            }
        }
        let text_dump = ok(&mkqdisk(&["-d", path(&dev)]));
        assert!(
            text_dump.contains("Status block for node 5: BAD"),
            "{text_dump}"
        );
        assert_eq!(text_dump.matches(": BAD").count(), 1);
    }
}

#[test]
fn a_regular_file_works_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("qdisk.img");
    std::fs::File::create(&file)
        .and_then(|f| f.set_len(1 << 20))
        .expect("file");
    let file = file.to_str().expect("utf-8");
    ok(&mkqdisk(&["-c", file, "-l", "in-a-file", "-y"]));
    let found = json(&mkqdisk(&["-f", "in-a-file", "--json", file]));
    assert_eq!(found["disks"][0]["kind"], "regular_file");
    // 4096-byte sectors on a file are remembered from the header.
    ok(&mkqdisk(&[
        "-c",
        file,
        "-l",
        "four-k",
        "--sector-size",
        "4096",
        "-y",
    ]));
    let found = json(&mkqdisk(&["-f", "four-k", "-d", "--json", file]));
    assert_eq!(found["disks"][0]["kernel_sector_size"], 4096);
    assert_eq!(
        found["disks"][0]["status"].as_array().map(Vec::len),
        Some(16)
    );
}

#[test]
fn a_changed_sector_size_is_reported_not_silently_skipped() {
    require_root("mkqdisk loop-device tests");
    let dev = loop_device(512);
    ok(&mkqdisk(&["-c", path(&dev), "-l", "moved", "-y"]));
    // The same bytes seen through a 4096-byte-sector device.
    let output = Command::new("losetup")
        .args(["--find", "--show", "--sector-size", "4096"])
        .arg(dev.backing_file())
        .output()
        .expect("losetup");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let other = text(&output.stdout).trim().to_string();
    let listing = mkqdisk(&["-L", &other]);
    let _ = Command::new("losetup").args(["--detach", &other]).status();
    assert_eq!(listing.status.code(), Some(1));
    let stderr = text(&listing.stderr);
    assert!(
        stderr.contains(
            "initialised with 512-byte sectors but the device now reports 4096-byte sectors"
        ),
        "{stderr}"
    );
}

#[test]
fn answering_anything_but_yes_writes_nothing() {
    let dev = loop_device(512);
    let output = mkqdisk_with_input(&["-c", path(&dev), "-l", "asked"], "n\n");
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).contains("proceed [N/y] ?"));
    assert_eq!(
        mkqdisk(&["-L", path(&dev)]).status.code(),
        Some(1),
        "nothing written"
    );
    let output = mkqdisk_with_input(&["-c", path(&dev), "-l", "asked"], "");
    assert_eq!(output.status.code(), Some(1), "end of input is a no");
    let output = mkqdisk_with_input(&["-c", path(&dev), "-l", "asked"], "y\n");
    ok(&output);
    ok(&mkqdisk(&["-f", "asked", path(&dev)]));
}

#[test]
fn a_device_holding_a_file_system_or_swap_is_named_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (tool, args, want) in [
        (
            "mkfs.ext4",
            &["-F", "-q"][..],
            "holds an ext2/3/4 file system",
        ),
        ("mkswap", &[][..], "holds a swap area"),
    ] {
        let image = dir.path().join(format!("{tool}.img"));
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(4 << 20))
            .expect("image");
        let made = Command::new(tool)
            .args(args)
            .arg(&image)
            .output()
            .unwrap_or_else(|e| panic!("{tool} (e2fsprogs / util-linux) runs: {e}"));
        assert!(made.status.success(), "{tool}: {}", text(&made.stderr));
        let image = image.to_str().expect("utf-8");
        let output = mkqdisk_with_input(&["-c", image, "-l", "q"], "n\n");
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert!(stderr.contains(want), "{tool}: {stderr}");
        assert!(stderr.contains("lsblk -f"), "{stderr}");
        let what = want.trim_start_matches("holds ");
        assert!(
            text(&output.stdout).contains(&format!("About to destroy {what} on")),
            "{}",
            text(&output.stdout)
        );
        assert_eq!(
            mkqdisk(&["-L", image]).status.code(),
            Some(1),
            "nothing written"
        );
    }
    // A blank device gets the plain question.
    let blank = dir.path().join("blank.img");
    std::fs::File::create(&blank)
        .and_then(|f| f.set_len(4 << 20))
        .expect("image");
    let output = mkqdisk_with_input(&["-c", blank.to_str().expect("utf-8"), "-l", "q"], "n\n");
    assert!(text(&output.stdout).contains("About to destroy all data on"));
    assert!(
        !text(&output.stderr).contains("holds"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn reinitialising_warns_about_the_old_disk() {
    let dev = loop_device(512);
    ok(&mkqdisk(&["-c", path(&dev), "-l", "first", "-y"]));
    let out = ok(&mkqdisk(&["-c", path(&dev), "-l", "second", "-y"]));
    assert!(out.contains("already holds quorum disk 'first'"), "{out}");
    ok(&mkqdisk(&["-f", "second", path(&dev)]));
}

#[test]
fn a_mounted_device_is_refused_with_the_reason() {
    let dev = loop_device(512);
    let mkfs = Command::new("mkfs.ext4")
        .args(["-q", "-F", path(&dev)])
        .output()
        .expect("mkfs.ext4 (e2fsprogs)");
    assert!(mkfs.status.success(), "{}", text(&mkfs.stderr));
    let mount_point = tempfile::tempdir().expect("tempdir");
    // Mount in a private mount namespace: the mount disappears with the shell, whatever
    // happens to this test.
    let script = format!(
        "mount {dev} {dir} && exec {bin} -c {dev} -l nope -y",
        dev = path(&dev),
        dir = mount_point.path().display(),
        bin = env!("CARGO_BIN_EXE_mkqdisk"),
    );
    let output = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("is mounted on"), "{stderr}");
    assert!(stderr.contains("refusing to initialise"), "{stderr}");
}

#[test]
fn a_device_too_small_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("small.img");
    std::fs::File::create(&file)
        .and_then(|f| f.set_len(69_632))
        .expect("file");
    let output = mkqdisk(&["-c", file.to_str().expect("utf-8"), "-l", "x", "-y"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("too small") && stderr.contains("73728"),
        "{stderr}"
    );
}

#[test]
fn bad_labels_and_layouts_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("q.img");
    std::fs::File::create(&file)
        .and_then(|f| f.set_len(1 << 20))
        .expect("file");
    let file = file.to_str().expect("utf-8");
    let long = "x".repeat(119);
    let output = mkqdisk(&["-c", file, "-l", &long, "-y"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("at most 118"));
    let output = mkqdisk(&[
        "-c", file, "-l", "q", "--layout", "redhat", "--nodes", "32", "-y",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("use --layout extended"));
    let output = mkqdisk(&["-c", file, "-l", "q", "--nodes", "300"]);
    assert_eq!(output.status.code(), Some(2), "a usage error");
}

#[test]
fn a_device_without_a_quorum_disk_is_reported() {
    let dev = loop_device(512);
    let output = mkqdisk(&["-L", path(&dev)]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("no qdisk frame"), "{stderr}");
}

#[test]
fn the_scan_offers_our_loop_device_as_a_candidate() {
    let dev = loop_device(512);
    let name = dev
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .to_string();
    let devices = qdisk::scan::block_devices(&qdisk::scan::ScanRoots::default());
    let ours = devices.iter().find(|d| d.name == name).expect("listed");
    assert_eq!(ours.skip, None);
    assert_eq!(ours.size, 8 << 20);
}

#[test]
fn help_explains_modes_examples_and_exit_status() {
    let help = ok(&mkqdisk(&["--help"]));
    for section in ["MODES:", "EXAMPLES:", "EXIT STATUS:", "NOTES:", "--nodes"] {
        assert!(help.contains(section), "missing {section}");
    }
}
