//! `-o metadata`: the XML fence-agents' `metadata.rng` describes and Pacemaker reads.
//!
//! The schema has no attribute for secrets, so a secret parameter says so in its
//! `shortdesc`. Deprecated aliases are listed as their own parameters with
//! `deprecated="1"`, and the canonical parameter carries `obsoletes="alias"`, as
//! fence-agents does.

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use crate::params::ParamType;
use crate::registry::Plugin;

/// The metadata XML of `plugin`.
pub fn metadata(plugin: &Plugin) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b'\t', 1);
    // Writing into a Vec cannot fail; errors are dropped to keep the signature simple.
    let _ = write(&mut w, plugin);
    let mut text = String::from_utf8_lossy(&w.into_inner()).into_owned();
    text.push('\n');
    text
}

fn write(w: &mut Writer<Vec<u8>>, plugin: &Plugin) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", None, None)))?;
    w.create_element("resource-agent")
        .with_attributes([("name", plugin.agent), ("shortdesc", plugin.shortdesc)])
        .write_inner_content(|w| {
            w.create_element("longdesc")
                .write_text_content(BytesText::new(plugin.longdesc))?;
            w.create_element("vendor-url")
                .write_text_content(BytesText::new(plugin.vendor_url))?;
            w.create_element("parameters").write_inner_content(|w| {
                let mut entries: Vec<(&str, &crate::params::ParamSpec, Option<&str>)> = Vec::new();
                for spec in plugin.params.iter().filter(|s| s.refused.is_none()) {
                    entries.push((spec.name, spec, None));
                    for alias in spec.aliases {
                        entries.push((alias, spec, Some(spec.name)));
                    }
                }
                entries.sort_by(|a, b| a.0.cmp(b.0));
                for (name, spec, alias_of) in entries {
                    let required = if spec.required { "1" } else { "0" };
                    let mut el = w.create_element("parameter").with_attributes([
                        ("name", name),
                        ("unique", "0"),
                        ("required", required),
                    ]);
                    if alias_of.is_some() {
                        el = el.with_attribute(("deprecated", "1"));
                    } else if let Some(first) = spec.aliases.first() {
                        el = el.with_attribute(("obsoletes", *first));
                    }
                    el.write_inner_content(|w| {
                        let getopt = spec.getopt();
                        w.create_element("getopt")
                            .with_attribute(("mixed", getopt.as_str()))
                            .write_empty()?;
                        let mut content = w
                            .create_element("content")
                            .with_attribute(("type", spec.kind.as_str()));
                        if let Some(d) = spec.default {
                            content = content.with_attribute(("default", d));
                        }
                        match spec.kind {
                            ParamType::Select(options) => {
                                content.write_inner_content(|w| {
                                    for o in options {
                                        w.create_element("option")
                                            .with_attribute(("value", *o))
                                            .write_empty()?;
                                    }
                                    Ok(())
                                })?;
                            }
                            _ => {
                                content.write_empty()?;
                            }
                        }
                        let desc = if spec.secret {
                            format!("{} (secret: never shown or logged)", spec.shortdesc)
                        } else {
                            spec.shortdesc.to_string()
                        };
                        w.create_element("shortdesc")
                            .with_attribute(("lang", "en"))
                            .write_text_content(BytesText::new(&desc))?;
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
            w.create_element("actions").write_inner_content(|w| {
                for a in &plugin.actions {
                    let mut el = w
                        .create_element("action")
                        .with_attribute(("name", a.as_str()));
                    if *a == crate::device::Action::On {
                        // Fabric agents need unfencing before a node may use the storage
                        // again (Pacemaker unfences such nodes when they join).
                        let automatic = if plugin.fabric { "1" } else { "0" };
                        el = el.with_attribute(("automatic", automatic));
                    }
                    el.write_empty()?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use quick_xml::Reader;
    use std::collections::BTreeMap;

    #[test]
    fn metadata_parses_and_has_the_fence_agents_structure() {
        let xml = metadata(&crate::ipmi::plugin());
        let mut r = Reader::from_str(&xml);
        let mut stack: Vec<String> = Vec::new();
        let mut params: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut actions = Vec::new();
        let mut root = BTreeMap::new();
        let mut current = String::new();
        loop {
            let ev = r.read_event().expect("well-formed XML");
            let (e, empty) = match &ev {
                Event::Start(e) => (e.clone(), false),
                Event::Empty(e) => (e.clone(), true),
                Event::End(_) => {
                    stack.pop();
                    continue;
                }
                Event::Eof => break,
                _ => continue,
            };
            let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
            let attrs: BTreeMap<String, String> = e
                .attributes()
                .map(|a| {
                    let a = a.expect("attribute");
                    (
                        String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                        a.unescape_value().expect("value").into_owned(),
                    )
                })
                .collect();
            let parent = stack.last().cloned().unwrap_or_default();
            match (parent.as_str(), name.as_str()) {
                ("", "resource-agent") => root = attrs.clone(),
                ("parameters", "parameter") => {
                    current = attrs["name"].clone();
                    params.insert(current.clone(), attrs.clone());
                }
                ("parameter", child) => children
                    .entry(current.clone())
                    .or_default()
                    .push(child.to_string()),
                ("actions", "action") => actions.push(attrs["name"].clone()),
                _ => {}
            }
            if !empty {
                stack.push(name);
            }
        }
        assert_eq!(
            root.get("name").map(String::as_str),
            Some("fence_qd_ipmilan")
        );
        assert!(root.contains_key("shortdesc"));
        for (name, attrs) in &params {
            assert_eq!(attrs.get("unique").map(String::as_str), Some("0"), "{name}");
            assert!(attrs.contains_key("required"), "{name}");
            let kids = &children[name];
            assert_eq!(
                &kids[..3],
                &["getopt", "content", "shortdesc"],
                "{name}: {kids:?}"
            );
        }
        assert_eq!(
            params["ip"].get("obsoletes").map(String::as_str),
            Some("ipaddr")
        );
        assert_eq!(
            params["ipaddr"].get("deprecated").map(String::as_str),
            Some("1")
        );
        for p in [
            "ip",
            "username",
            "password",
            "password_script",
            "plug",
            "port",
            "action",
            "power_timeout",
            "power_wait",
            "delay",
            "retry_on",
            "verbose",
            "lanplus",
            "cipher",
            "privlvl",
        ] {
            assert!(params.contains_key(p), "missing parameter {p}");
        }
        for a in [
            "on",
            "off",
            "reboot",
            "status",
            "monitor",
            "metadata",
            "validate-all",
        ] {
            assert!(actions.contains(&a.to_string()), "missing action {a}");
        }
        assert!(
            xml.contains("<action name=\"on\" automatic=\"0\"/>"),
            "{xml}"
        );
        assert!(xml.contains("secret: never shown"));
    }
}
