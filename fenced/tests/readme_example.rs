//! The README's fenced example is a file fenced accepts (it once named undefined devices).

use std::path::Path;

use fenced::config::FencedConfig;

/// The first ```toml block after `heading` in the README.
fn toml_block_after(readme: &str, heading: &str) -> String {
    let section = &readme[readme.find(heading).expect("heading in README")..];
    let start = section.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = section[start..].find("```").expect("block end") + start;
    section[start..end].to_string()
}

#[test]
fn the_readme_fenced_example_parses() {
    let readme = include_str!("../../README.md");
    let text = toml_block_after(readme, "## fenced, fence_node, fence_tool");
    let config = FencedConfig::parse(Path::new("README.md"), &text)
        .unwrap_or_else(|e| panic!("the README's example: {e}\n{text}"));
    assert_eq!(config.topology.nodes.len(), 1);
    assert_eq!(config.devices.len(), 3);
}
