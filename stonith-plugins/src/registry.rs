//! The plugins by name: what fenced, `fence_node` and the agent binaries look up.

use crate::device::{Action, FenceDevice};
use crate::error::{FenceError, ParamError};
use crate::params::{ParamSpec, ParamWarning, Params};

/// Builds a device from validated parameters (required ones checked, secrets resolved).
pub type BuildFn = fn(&Params) -> Result<Box<dyn FenceDevice>, FenceError>;

/// One plugin: its names, its parameters and how to build a device from them.
#[derive(Debug, Clone)]
pub struct Plugin {
    /// The plugin name used in configuration (`ipmilan`).
    pub name: &'static str,
    /// Its agent binary name (`fence_qd_ipmilan`), never one of the fence-agents package.
    pub agent: &'static str,
    /// One line for metadata.
    pub shortdesc: &'static str,
    /// A paragraph for metadata.
    pub longdesc: &'static str,
    /// Where the device's vendor documents it.
    pub vendor_url: &'static str,
    /// Every parameter, the plugin's own and the common ones.
    pub params: Vec<ParamSpec>,
    /// The actions it offers.
    pub actions: Vec<Action>,
    /// A fabric (resource-level) plugin: it cuts a node's ports instead of its power. Then
    /// `on` is unfencing and metadata declares it `automatic="1"` (as fence-agents does for
    /// every `fabric_fencing` agent), `enable`/`disable` are accepted as `on`/`off`, and
    /// the default action is `off`.
    pub fabric: bool,
    /// Builds a device.
    pub build: BuildFn,
}

impl Plugin {
    /// Validates `pairs` against the plugin's parameters (types, choices and required
    /// ones), without contacting anything.
    pub fn params<S: AsRef<str>, V: AsRef<str>>(
        &self,
        pairs: &[(S, V)],
    ) -> Result<(Params, Vec<ParamWarning>), ParamError> {
        let (params, warnings) = Params::parse(&self.params, pairs)?;
        params.check_required()?;
        Ok((params, warnings))
    }

    /// Builds a device from `name=value` pairs (fence-agents names and aliases). A
    /// `password_script` is not run here: resolve it first (the agent front end does).
    pub fn create<S: AsRef<str>, V: AsRef<str>>(
        &self,
        pairs: &[(S, V)],
    ) -> Result<(Box<dyn FenceDevice>, Params), FenceError> {
        let (params, _) = self.params(pairs)?;
        let device = (self.build)(&params)?;
        Ok((device, params))
    }
}

/// Plugins by name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    plugins: Vec<Plugin>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Every plugin this crate ships.
    pub fn builtin() -> Registry {
        let mut r = Registry::new();
        r.register(crate::ipmi::plugin());
        r.register(crate::ifmib::plugin());
        r.register(crate::fcmib::plugin());
        r.register(crate::brocade::plugin());
        r.register(crate::serial::rps10::plugin());
        r.register(crate::serial::apcsmart::plugin());
        r.register(crate::serial::nw_rpc100s::plugin());
        r.register(crate::serial::lcus::plugin());
        r.register(crate::usb::plugins::hub_plugin());
        r.register(crate::usb::plugins::relay_plugin());
        r
    }

    /// Adds (or replaces, by name) a plugin.
    pub fn register(&mut self, plugin: Plugin) {
        self.plugins.retain(|p| p.name != plugin.name);
        self.plugins.push(plugin);
    }

    /// The plugin called `name`, by plugin name (`ipmilan`) or agent name
    /// (`fence_qd_ipmilan`).
    pub fn get(&self, name: &str) -> Result<&Plugin, ParamError> {
        self.plugins
            .iter()
            .find(|p| p.name == name || p.agent == name)
            .ok_or_else(|| ParamError::UnknownPlugin {
                name: name.to_string(),
            })
    }

    /// Plugin names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.plugins.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names
    }

    /// Builds a device of plugin `name` from `name=value` pairs.
    pub fn create<S: AsRef<str>, V: AsRef<str>>(
        &self,
        name: &str,
        pairs: &[(S, V)],
    ) -> Result<(Box<dyn FenceDevice>, Params), FenceError> {
        self.get(name)?.create(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{PowerCommand, PowerState};
    use crate::params::{ParamType, COMMON};

    struct Null;
    impl FenceDevice for Null {
        fn plugin(&self) -> &'static str {
            "null"
        }
        fn status(&mut self, _p: Option<&str>) -> Result<PowerState, FenceError> {
            Ok(PowerState::On)
        }
        fn power(&mut self, _p: Option<&str>, _c: PowerCommand) -> Result<(), FenceError> {
            Ok(())
        }
    }

    fn null_plugin() -> Plugin {
        let mut params = vec![ParamSpec::new("ip", ParamType::String, "ip").required()];
        params.extend(COMMON.iter().filter(|s| s.name != "ip").copied());
        Plugin {
            name: "null",
            agent: "fence_qd_null",
            shortdesc: "null",
            longdesc: "does nothing",
            vendor_url: "https://example.org",
            params,
            actions: vec![Action::Status],
            fabric: false,
            build: |_| Ok(Box::new(Null)),
        }
    }

    #[test]
    fn the_builtin_registry_has_ipmilan_under_both_names() {
        let r = Registry::builtin();
        assert_eq!(
            r.names(),
            vec![
                "apcsmart",
                "brocade",
                "cisco_mds",
                "ifmib",
                "ipmilan",
                "lcus",
                "nw_rpc100s",
                "rps10",
                "usbhub",
                "usbrelay"
            ]
        );
        assert_eq!(r.get("ipmilan").map(|p| p.agent), Ok("fence_qd_ipmilan"));
        assert_eq!(r.get("fence_qd_ipmilan").map(|p| p.name), Ok("ipmilan"));
        assert_eq!(
            r.get("fence_ipmilan").map(|p| p.name),
            Err(ParamError::UnknownPlugin {
                name: "fence_ipmilan".into()
            })
        );
    }

    #[test]
    fn registering_replaces_by_name_and_create_checks_required_params() {
        let mut r = Registry::new();
        r.register(null_plugin());
        r.register(null_plugin());
        assert_eq!(r.names(), vec!["null"]);
        let err = r.create("null", &[("plug", "1")]).err();
        assert_eq!(
            err,
            Some(FenceError::Param(ParamError::Missing { name: "ip".into() }))
        );
        let (mut dev, params) = r.create("null", &[("ip", "h")]).expect("create");
        assert_eq!(params.get("ip"), Some("h"));
        assert_eq!(dev.status(None), Ok(PowerState::On));
    }

    #[test]
    fn ipmilan_builds_from_key_value_pairs() {
        let r = Registry::builtin();
        let (dev, params) = r
            .create(
                "ipmilan",
                &[
                    ("ip", "127.0.0.1"),
                    ("username", "admin"),
                    ("password", "pw"),
                    ("lanplus", "1"),
                ],
            )
            .expect("create");
        assert_eq!(dev.plugin(), "ipmilan");
        assert_eq!(params.get("ipport"), Some("623"));
    }
}
