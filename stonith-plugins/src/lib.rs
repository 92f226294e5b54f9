//! Fence devices: the `FenceDevice` abstraction, every device plugin and the fence-agent
//! front end.
//!
//! This crate is laid out by the workspace design; its content arrives with the plugin
//! framework issue.
