//! Stage 5: serial lines, PTY pairs between two nodes.

use std::time::Duration;

use lab::root::require_root;
use lab::Lab;

#[test]
fn bytes_written_on_one_node_arrive_on_the_other() {
    require_root("bytes_written_on_one_node_arrive_on_the_other");
    let lab = Lab::builder().nodes(2).build().expect("lab up");
    let (a, b) = lab.serial_pair("ttyS0").expect("serial pair");
    let reader = lab
        .node(2)
        .command("timeout")
        .args(["5", "head", "-c", "11"])
        .stdin(std::fs::File::open(&b).expect("open b"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("reader");
    std::thread::sleep(Duration::from_millis(100));
    lab.node(1)
        .run(&[
            "sh",
            "-c",
            &format!("printf 'hello node2' > {}", a.display()),
        ])
        .expect("write a");
    let out = reader.wait_with_output().expect("reader done");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello node2");
}
