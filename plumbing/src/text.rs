//! Positions in a configuration file's text.

/// The 1-based line of byte `offset` in `text` (the last line for an offset past the end).
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The cluster file's node names seen so far, for the one rule every daemon applies: a
/// `[[node]]` listed twice (names differing only in case are the same host) is refused.
#[derive(Debug, Default)]
pub struct NodeNames {
    seen: std::collections::BTreeMap<String, (String, usize)>,
}

impl NodeNames {
    /// Records `name` (its `[[node]]` on `line`); the error names the first one's line.
    pub fn add(&mut self, name: &str, line: usize) -> Result<(), String> {
        match self
            .seen
            .insert(name.to_lowercase(), (name.to_string(), line))
        {
            None => Ok(()),
            Some((first, first_line)) => Err(format!(
                "node {name:?} is listed twice (as {first:?} on line {first_line}; names \
                 differing only in case are the same host): give each [[node]] its own name"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one_and_past_the_end_is_the_last() {
        let text = "a\nbb\n\nccc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 5), 3);
        assert_eq!(line_of(text, 6), 4);
        assert_eq!(line_of(text, 999), 4);
        assert_eq!(line_of("", 0), 1);
    }

    #[test]
    fn a_node_named_twice_in_any_case_names_the_first() {
        let mut names = NodeNames::default();
        assert_eq!(names.add("web1", 5), Ok(()));
        assert_eq!(names.add("web2", 9), Ok(()));
        let e = names.add("WEB1", 13).expect_err("twice");
        assert!(
            e.starts_with("node \"WEB1\" is listed twice (as \"web1\" on line 5"),
            "{e}"
        );
    }
}
