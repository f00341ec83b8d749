//! File names for extracted arrays, derived from object paths.
//!
//! `$.data` → `data`, `$["layer.weight"]` → `layer.weight`, `$["a"][0].b` → `a.0.b`; torch
//! tensors are named by their `state_dict` keys instead ([`super::state_dict`]).
//! Only `[A-Za-z0-9._-]` survive; no name is empty, starts with a dot, or contains `..`,
//! so a hostile path can never name a file outside the output folder. Names are unique
//! without regard to case (`x`, `x-2`, `x-3`, …), for case-insensitive file systems.

use std::collections::{HashMap, HashSet};

/// Longest name kept before the uniqueness suffix.
const MAX_NAME: usize = 120;

/// Makes unique, safe file stems from object paths.
#[derive(Default, Debug)]
pub(super) struct Namer {
    taken: HashSet<String>,
    /// Per stem (lowercased), the suffix to try next: many arrays can share a stem (names
    /// are cut at [`MAX_NAME`]), and counting up from 2 each time would be quadratic.
    next_suffix: HashMap<String, u64>,
}

/// The stem for a path, before uniqueness.
pub(super) fn stem_of(path: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let body = path.strip_prefix('$').unwrap_or(path);
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => parts.push(String::new()),
            '[' => {
                let mut inner = String::new();
                if chars.peek() == Some(&'"') {
                    // A JSON string key: read to its closing quote, honouring escapes.
                    let mut raw = String::from("\"");
                    chars.next();
                    let mut escaped = false;
                    for c in chars.by_ref() {
                        raw.push(c);
                        if escaped {
                            escaped = false;
                        } else if c == '\\' {
                            escaped = true;
                        } else if c == '"' {
                            break;
                        }
                    }
                    inner = serde_json::from_str::<String>(&raw).unwrap_or(raw);
                    // skip to the closing bracket
                    for c in chars.by_ref() {
                        if c == ']' {
                            break;
                        }
                    }
                } else {
                    for c in chars.by_ref() {
                        if c == ']' {
                            break;
                        }
                        inner.push(c);
                    }
                }
                parts.push(inner);
            }
            other => match parts.last_mut() {
                Some(last) => last.push(other),
                None => parts.push(other.to_string()),
            },
        }
    }
    let joined = parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(".");
    sanitise(&joined)
}

fn sanitise(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let keep = c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let c = if keep { c } else { '_' };
        // No "..": a dot never follows a dot.
        if c == '.' && out.ends_with('.') {
            continue;
        }
        out.push(c);
    }
    let trimmed = out.trim_matches('.');
    let mut name: String = trimmed.chars().take(MAX_NAME).collect();
    while name.ends_with('.') {
        name.pop();
    }
    if name.is_empty() {
        name = "root".to_string();
    }
    // A Windows device name (`con.npy` opens the console there, whatever the extension).
    if crate::rebuild::windows_device(&name) {
        name.insert(0, '_');
    }
    name
}

impl Namer {
    /// A unique name for `path`, with `extension` (e.g. `npy`).
    pub(super) fn name(&mut self, path: &str, extension: &str) -> String {
        self.unique(stem_of(path), extension)
    }

    /// A unique name for a tensor called `key` (a `state_dict` key such as `fc1.weight`),
    /// with `extension`: the key's characters outside `[A-Za-z0-9._-]` become `_`.
    pub(super) fn name_key(&mut self, key: &str, extension: &str) -> String {
        self.unique(sanitise(key), extension)
    }

    fn unique(&mut self, stem: String, extension: &str) -> String {
        let key = format!("{stem}.{extension}").to_ascii_lowercase();
        let mut candidate = stem.clone();
        let mut n = self.next_suffix.get(&key).copied().unwrap_or(2);
        while !self
            .taken
            .insert(format!("{candidate}.{extension}").to_ascii_lowercase())
        {
            candidate = format!("{stem}-{n}");
            n += 1;
        }
        self.next_suffix.insert(key, n);
        format!("{candidate}.{extension}")
    }

    /// Reserves a name (e.g. `index.json`) so no array takes it.
    pub(super) fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_ascii_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_paths() {
        assert_eq!(stem_of("$.data"), "data");
        assert_eq!(stem_of("$[\"layer.weight\"]"), "layer.weight");
        assert_eq!(
            stem_of("$[\"frame\"]._mgr.__args__[0][2]"),
            "frame._mgr.__args__.0.2"
        );
        assert_eq!(stem_of("$"), "root");
        assert_eq!(stem_of("$[3]"), "3");
    }

    #[test]
    fn hostile_paths_stay_inside_the_folder() {
        for path in [
            "$[\"../../etc/passwd\"]",
            "$[\"/abs/path\"]",
            "$[\"..\"]",
            "$[\"a\\\\b\"]",
            "$[\"\\u0000x\"]",
            "$[\"C:\\\\x\"]",
            "$....x",
        ] {
            let name = stem_of(path);
            assert!(!name.contains(".."), "{path} -> {name}");
            assert!(
                !name.contains('/') && !name.contains('\\'),
                "{path} -> {name}"
            );
            assert!(
                !name.starts_with('.') && !name.is_empty(),
                "{path} -> {name}"
            );
            assert!(name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
        }
    }

    #[test]
    fn names_are_unique_without_regard_to_case() {
        let mut namer = Namer::default();
        namer.reserve("index.json");
        assert_eq!(namer.name("$.data", "npy"), "data.npy");
        assert_eq!(namer.name("$.Data", "npy"), "Data-2.npy");
        assert_eq!(namer.name("$.data", "npy"), "data-3.npy");
        assert_eq!(namer.name("$.index", "json"), "index-2.json");
        assert_eq!(namer.name_key("fc1.weight", "npy"), "fc1.weight.npy");
        assert_eq!(namer.name_key("../x y", "npy"), "_x_y.npy");
    }
}
