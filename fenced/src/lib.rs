//! Fencing as a service: fence topology, the request queue, policy, history and unfencing.
//!
//! This crate is laid out by the workspace design; its content arrives with the fenced issue.
