//! Tests for `authkeys`: methods, errors, permissions, and that keys never leak.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hbd::config::{parse_authkeys, read_authkeys, AuthMethod, KeyIndex, Secret};
use hbd::{ConfigError, ErrorKind, WarningKind};

const KEY: &str = "TopSecretKey42";

fn errors(text: &str) -> Vec<ConfigError> {
    parse_authkeys(Path::new("authkeys"), text).errors
}

fn err_at(line: usize, kind: ErrorKind) -> ConfigError {
    ConfigError::new(PathBuf::from("authkeys"), line, kind)
}

#[test]
fn all_methods_parse_and_every_key_verifies() {
    let text = format!("# keys\nauth 2\n1 crc\n2 sha1 {KEY}\n3 md5 {KEY}\n 4 sha256 a#b\n");
    let p = parse_authkeys(Path::new("authkeys"), &text);
    assert_eq!(p.errors, vec![]);
    let k = p.value.expect("valid");
    assert_eq!(k.signing, KeyIndex::new(2).expect("index"));
    let names: Vec<_> = k.keys.iter().map(|k| k.method.name()).collect();
    assert_eq!(names, ["crc", "sha1", "md5", "sha256"]);
    let signing = k.signing_key().expect("defined");
    assert_eq!(signing.method, AuthMethod::Sha1(Secret::new(KEY)));
    match &k.keys[3].method {
        AuthMethod::Sha256(s) => assert_eq!(s.expose(), b"a#b", "# inside a key is kept"),
        m => panic!("unexpected {m:?}"),
    }
}

#[test]
fn secrets_never_print() {
    let p = parse_authkeys(Path::new("authkeys"), &format!("auth 1\n1 sha1 {KEY}\n"));
    let k = p.value.expect("valid");
    let debug = format!("{k:?}");
    assert!(!debug.contains(KEY), "{debug}");
    assert!(debug.contains("***"));
    assert_eq!(Secret::new(KEY).to_string(), "***");
    assert_eq!(format!("{:?}", Secret::new(KEY)), "***");
}

#[test]
fn errors_never_contain_key_material() {
    // A key where the method should be, a key on a crc line, a duplicate index.
    let text = format!("auth 1\n1 {KEY}\n2 crc {KEY}\n1 sha1 {KEY} extra\n1 md5 {KEY}\n");
    let p = parse_authkeys(Path::new("authkeys"), &text);
    assert!(!p.errors.is_empty());
    for e in &p.errors {
        assert!(!e.to_string().contains(KEY), "{e}");
        assert!(!format!("{e:?}").contains(KEY), "{e:?}");
    }
    for w in &p.warnings {
        assert!(!w.to_string().contains(KEY), "{w}");
    }
}

#[test]
fn each_error_kind_names_line_and_fix() {
    assert_eq!(errors("1 sha1 k\n"), vec![err_at(0, ErrorKind::NoAuthLine)]);
    assert_eq!(
        errors("auth 3\n1 sha1 k\n"),
        vec![err_at(1, ErrorKind::UndefinedAuthKey { index: 3 })]
    );
    assert_eq!(
        errors("auth x\n1 crc\n")[0],
        err_at(1, ErrorKind::BadAuthLine)
    );
    assert_eq!(
        errors("auth 16\n1 crc\n")[0],
        err_at(1, ErrorKind::BadAuthLine)
    );
    assert_eq!(
        errors("auth 1\n1 crc\n16 crc\n"),
        vec![err_at(3, ErrorKind::BadKeyIndex)]
    );
    assert_eq!(
        errors("auth 1\n1 crc\n2 rot13 k\n"),
        vec![err_at(3, ErrorKind::UnknownMethod { index: 2 })]
    );
    assert_eq!(
        errors("auth 1\n1 crc\n2\n"),
        vec![err_at(3, ErrorKind::MissingMethod { index: 2 })]
    );
    assert_eq!(
        errors("auth 1\n1 crc k\n"),
        vec![err_at(2, ErrorKind::CrcTakesNoKey { index: 1 })]
    );
    assert_eq!(
        errors("auth 1\n1 md5\n"),
        vec![err_at(
            2,
            ErrorKind::KeyRequired {
                index: 1,
                method: "md5"
            }
        )]
    );
    assert_eq!(
        errors("auth 1\n1 crc\n1 sha1 k\n"),
        vec![err_at(
            3,
            ErrorKind::Duplicate {
                directive: "key 1".into(),
                first_line: 2
            }
        )]
    );
    assert_eq!(
        errors("auth 1\nauth 1\n1 crc\n"),
        vec![err_at(
            2,
            ErrorKind::Duplicate {
                directive: "auth".into(),
                first_line: 1
            }
        )]
    );
}

#[test]
fn extra_text_after_key_is_ignored_with_a_warning() {
    let p = parse_authkeys(Path::new("authkeys"), "auth 1\n1 sha1 key more words\n");
    assert_eq!(p.errors, vec![]);
    assert_eq!(
        p.warnings[0].kind,
        WarningKind::ExtraValues {
            directive: "key 1".into()
        }
    );
}

fn write_keys(mode: u32) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("authkeys");
    std::fs::write(&path, format!("auth 1\n1 sha1 {KEY}\n")).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    (dir, path)
}

#[test]
fn authkeys_with_mode_0644_is_refused() {
    let (_dir, path) = write_keys(0o644);
    let p = read_authkeys(&path);
    assert!(p.value.is_none());
    assert_eq!(
        p.errors,
        vec![ConfigError::new(
            &path,
            0,
            ErrorKind::BadPermissions {
                mode: 0o644,
                path: path.clone()
            }
        )]
    );
    let msg = p.errors[0].to_string();
    assert!(
        msg.contains(&format!("chmod 600 {}", path.display())),
        "{msg}"
    );
    assert!(!msg.contains(KEY));
}

#[test]
fn authkeys_writable_by_group_is_refused_and_0600_0400_are_accepted() {
    let (_d, path) = write_keys(0o620);
    assert!(matches!(
        read_authkeys(&path).errors[0].kind,
        ErrorKind::BadPermissions { .. }
    ));
    for mode in [0o600, 0o400] {
        let (_d, path) = write_keys(mode);
        let p = read_authkeys(&path);
        assert_eq!(p.errors, vec![], "mode {mode:o}");
    }
}

#[test]
fn missing_authkeys_is_reported() {
    let p = read_authkeys(Path::new("/nonexistent/authkeys"));
    assert!(matches!(p.errors[0].kind, ErrorKind::Unreadable { .. }));
}
