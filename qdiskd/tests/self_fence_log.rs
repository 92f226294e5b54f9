//! A self-fence never waits for its log reader: with standard error a pipe that nobody
//! reads and that is already full, the self-fence's log line returns at once (dropped)
//! instead of blocking the fence. One test per binary: it replaces this process's fd 2.

#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc::channel;
use std::time::Duration;

#[test]
fn the_self_fence_line_does_not_block_on_a_full_stderr_pipe() {
    let mut fds = [0i32; 2];
    // SAFETY: pipe(2) fills two fresh descriptors, owned from here on.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // Fill the pipe: nobody will read it.
    rustix::fs::fcntl_setfl(&writer, rustix::fs::OFlags::NONBLOCK).expect("nonblock");
    let chunk = [b'x'; 4096];
    let mut filled = 0usize;
    while let Ok(n) = rustix::io::write(&writer, &chunk) {
        filled += n;
    }
    assert!(filled > 0, "the pipe took some bytes before it was full");
    rustix::fs::fcntl_setfl(&writer, rustix::fs::OFlags::empty()).expect("blocking again");
    // SAFETY: fd 2 is replaced by the full pipe's write end for the rest of this process
    // (this binary has no other test).
    let rc = unsafe { libc::dup2(writer.as_raw_fd(), 2) };
    assert_eq!(rc, 2, "dup2 onto stderr");
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        qdisk::daemon::fence::say_without_blocking("qdiskd: SELF-FENCE: test; action: none\n");
        let _ = tx.send(());
    });
    // A blocking write would never return: nobody reads the pipe.
    let returned = rx.recv_timeout(Duration::from_secs(30));
    drop(reader);
    assert!(returned.is_ok(), "the log line blocked the self-fence");
}
