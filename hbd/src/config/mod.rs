//! Heartbeat v1 configuration: `ha.cf`, `authkeys` and `haresources`.
//!
//! Each file has a pure parser (`parse_*(file, text)`) and a reader (`read_*(path)`); all
//! return a [`Parsed`] holding the value (when error-free), every error, and every warning.
//! [`load_dir`] reads all three from a directory (`/etc/ha.d`), resolves the local node name
//! and runs the cross-file checks; [`summary`] renders the effective settings with secrets
//! masked, for `hbd --check`.

pub mod authkeys;
mod error;
pub mod hacf;
pub mod haresources;
mod load;
mod native;
mod summary;
mod values;

pub use authkeys::{parse_authkeys, read_authkeys, AuthKeys, AuthMethod, Key, KeyIndex, Secret};
pub use error::{ConfigError, ConfigWarning, ErrorKind, WarningKind};
pub use hacf::{parse_hacf, read_hacf, AutoFailback, HaCf, Medium, Parsed};
pub use haresources::{
    parse_haresources, read_haresources, IpAgent, IpSpec, Resource, ResourceGroup, Resources,
};
pub use load::{load_dir, local_node_name, Config, Loaded, LocalNode, DEFAULT_DIR};
pub use native::load_native;
pub use summary::summary;
pub use values::{format_time, parse_bool, parse_time, NodeName};
