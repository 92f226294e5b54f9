//! The daemons' API sockets: bound the same way by qdiskd, fenced and hbd.
//!
//! A socket is private: mode 0600, in a directory this daemon made with mode 0700 (a
//! directory that already existed keeps its mode: `/tmp` must never become 0700). A socket
//! file left by a daemon that died is replaced; one that a live daemon answers on is not.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// Binds the API socket of `daemon` at `path` (see the module).
pub fn bind_private(path: &Path, daemon: &str) -> io::Result<UnixListener> {
    let with_path = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "another {daemon} answers on {}; stop it first",
                    path.display()
                ),
            ));
        }
        std::fs::remove_file(path).map_err(with_path)?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(with_path)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(with_path)?;
        }
    }
    let listener = UnixListener::bind(path).map_err(with_path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(with_path)?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn a_socket_is_private_and_a_directory_it_made_too() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("run").join("d.sock");
        let _listener = bind_private(&path, "testd").expect("bind");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&tmp.path().join("run")), 0o700);
    }

    #[test]
    fn an_existing_directory_keeps_its_mode() {
        let tmp = tempfile::tempdir().expect("tmp");
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777))
            .expect("chmod");
        let _listener = bind_private(&tmp.path().join("d.sock"), "testd").expect("bind");
        assert_eq!(mode(tmp.path()), 0o777, "a shared directory stays shared");
    }

    #[test]
    fn a_stale_socket_is_replaced_and_a_live_one_is_not() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("d.sock");
        drop(UnixListener::bind(&path).expect("stale"));
        let live = bind_private(&path, "testd").expect("replaces the stale one");
        let e = bind_private(&path, "testd").expect_err("a live one answers");
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert!(e.to_string().contains("another testd answers on"), "{e}");
        drop(live);
    }
}
