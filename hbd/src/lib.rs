//! The heartbeat layer: `ha.cf`/`authkeys`/`haresources`, the wire format, authentication,
//! media, membership, quorum and the resource manager.
//!
//! This crate is laid out by the workspace design; its content arrives with the hbd issues.
