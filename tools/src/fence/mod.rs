//! `fence_node` and `fence_tool`: the command-line face of fenced.

pub mod node;
pub mod render;
pub mod tool;

/// Who runs the tool, for the history (`SUDO_USER`, `USER`, or the uid).
pub fn who() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| format!("uid {}", rustix::process::getuid().as_raw()))
}
