//! What a device already holds, told by the signatures in its first 72 KiB: partition tables,
//! file systems, swap, volume-manager, RAID and encryption labels. `mkqdisk -c` names them
//! before it overwrites anything, as `mkfs` and `wipefs` do.

/// How many bytes from the start of the device the signatures need (btrfs sits at 64 KiB).
pub const PROBE_LEN: usize = 72 * 1024;

fn at(head: &[u8], offset: usize, magic: &[u8]) -> bool {
    head.get(offset..offset + magic.len()) == Some(magic)
}

/// What `head` (the device's first bytes, up to [`PROBE_LEN`]) holds, each named as a
/// sentence part ("an ext2/3/4 file system"); empty when nothing is recognised.
pub fn identify(head: &[u8]) -> Vec<&'static str> {
    let mut found = Vec::new();
    if at(head, 512, b"EFI PART") || at(head, 4096, b"EFI PART") {
        found.push("a GPT partition table");
    }
    let boot_signature = at(head, 510, &[0x55, 0xaa]);
    let fat = at(head, 54, b"FAT1") || at(head, 82, b"FAT32");
    if boot_signature && fat {
        found.push("a FAT file system");
    } else if boot_signature && at(head, 3, b"NTFS    ") {
        found.push("an NTFS file system");
    } else if boot_signature && found.is_empty() {
        // A DOS partition table: at least one of its four entries has a partition type.
        let used = (0..4).any(|i| head.get(446 + i * 16 + 4).is_some_and(|t| *t != 0));
        if used {
            found.push("a DOS (MBR) partition table");
        }
    }
    if at(head, 1080, &[0x53, 0xef]) {
        found.push("an ext2/3/4 file system");
    }
    if at(head, 0, b"XFSB") {
        found.push("an XFS file system");
    }
    if at(head, 65_600, b"_BHRfS_M") {
        found.push("a btrfs file system");
    }
    if at(head, 4086, b"SWAPSPACE2") || at(head, 4086, b"SWAP-SPACE") {
        found.push("a swap area");
    }
    if (0..4).any(|s| at(head, s * 512, b"LABELONE")) {
        found.push("an LVM physical volume");
    }
    if at(head, 0, b"LUKS\xba\xbe") {
        found.push("a LUKS encrypted volume");
    }
    let md_magic = 0xa92b_4efc_u32.to_le_bytes();
    if at(head, 0, &md_magic) || at(head, 4096, &md_magic) {
        found.push("a Linux software RAID member");
    }
    if at(head, 32_769, b"CD001") {
        found.push("an ISO 9660 image");
    }
    found
}

/// The findings as one phrase: "an ext2/3/4 file system and a swap area".
pub fn describe(found: &[&str]) -> String {
    match found {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(parts: &[(usize, &[u8])]) -> Vec<u8> {
        let mut head = vec![0u8; PROBE_LEN];
        for (offset, bytes) in parts {
            head[*offset..*offset + bytes.len()].copy_from_slice(bytes);
        }
        head
    }

    #[test]
    fn every_signature_is_named_and_a_blank_device_holds_nothing() {
        assert!(identify(&vec![0u8; PROBE_LEN]).is_empty());
        let mut mbr_entry = [0u8; 16];
        mbr_entry[4] = 0x83;
        for (head, want) in [
            (with(&[(512, b"EFI PART")]), "a GPT partition table"),
            (
                with(&[(446, &mbr_entry), (510, &[0x55, 0xaa])]),
                "a DOS (MBR) partition table",
            ),
            (
                with(&[(82, b"FAT32"), (510, &[0x55, 0xaa])]),
                "a FAT file system",
            ),
            (
                with(&[(3, b"NTFS    "), (510, &[0x55, 0xaa])]),
                "an NTFS file system",
            ),
            (with(&[(1080, &[0x53, 0xef])]), "an ext2/3/4 file system"),
            (with(&[(0, b"XFSB")]), "an XFS file system"),
            (with(&[(65_600, b"_BHRfS_M")]), "a btrfs file system"),
            (with(&[(4086, b"SWAPSPACE2")]), "a swap area"),
            (with(&[(512, b"LABELONE")]), "an LVM physical volume"),
            (with(&[(0, b"LUKS\xba\xbe")]), "a LUKS encrypted volume"),
            (
                with(&[(4096, &0xa92b_4efc_u32.to_le_bytes())]),
                "a Linux software RAID member",
            ),
            (with(&[(32_769, b"CD001")]), "an ISO 9660 image"),
        ] {
            assert_eq!(identify(&head), [want]);
        }
        // A boot signature alone (an empty partition table) is nothing to warn about.
        assert!(identify(&with(&[(510, &[0x55, 0xaa])])).is_empty());
        // A short device: only what fits is looked at.
        assert!(identify(&[0u8; 100]).is_empty());
    }

    #[test]
    fn findings_read_as_one_phrase() {
        assert_eq!(describe(&[]), "");
        assert_eq!(describe(&["a swap area"]), "a swap area");
        assert_eq!(
            describe(&["a GPT partition table", "an XFS file system", "a swap area"]),
            "a GPT partition table, an XFS file system and a swap area"
        );
    }
}
