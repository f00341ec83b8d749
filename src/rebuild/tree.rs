//! The document `extract --to json` writes, read back as a tree that keeps each value's
//! text: plain values are copied into `params.json` byte for byte (a float keeps the
//! digits Python's `repr` gave it; nothing is parsed to `f64` and printed again), and
//! object keys keep their order (a `state_dict`'s key order survives).

use std::fmt;

/// Documents nested deeper than this are not rebuilt: input controls the depth, and the
/// tree and the code generator both recurse.
pub(crate) const MAX_DEPTH: usize = 200;

/// One JSON value and its text in the document.
#[derive(Debug)]
pub(crate) enum Json<'a> {
    /// An object: its keys (decoded) and values, in document order, and whether every
    /// key could be decoded (a lone surrogate, which Python strings may hold, cannot be
    /// a Rust string: such a key is left empty, and the object can only be copied whole).
    Object(Vec<(String, Json<'a>)>, &'a str, bool),
    /// An array.
    Array(Vec<Json<'a>>, &'a str),
    /// A string (decoded, unless it holds a lone surrogate) and its quoted text.
    Str(Option<String>, &'a str),
    /// A number, `true`, `false` or `null`: its text.
    Literal(&'a str),
}

impl<'a> Json<'a> {
    /// The value's text, exactly as in the document.
    pub(crate) fn text(&self) -> &'a str {
        match self {
            Json::Object(_, t, _) | Json::Array(_, t) | Json::Str(_, t) | Json::Literal(t) => t,
        }
    }

    /// The value of `key`, if this is an object that has it.
    pub(crate) fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(pairs, _, _) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The tag of a tagged value (`$tuple`, `$object`, …): an object whose first key starts
    /// with `$` (the JSON extractor writes dicts with such keys as `$dict`).
    pub(crate) fn tag(&self) -> Option<&str> {
        match self {
            Json::Object(pairs, _, _) => pairs
                .first()
                .map(|(k, _)| k.as_str())
                .filter(|k| k.starts_with('$')),
            _ => None,
        }
    }

    /// The decoded string, if this is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s, _) => s.as_deref(),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub(crate) fn items(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(items, _) => Some(items),
            _ => None,
        }
    }
}

/// Why the document could not be read back (it is ours, so this means a bug or a
/// document nested deeper than [`MAX_DEPTH`]).
#[derive(Debug)]
pub(crate) struct TreeError(pub String);

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads one JSON document.
pub(crate) fn parse(text: &str) -> Result<Json<'_>, TreeError> {
    let mut p = Parser { text, at: 0 };
    let value = p.value(0)?;
    p.space();
    if p.at != text.len() {
        return Err(p.error("text after the document"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, what: &str) -> TreeError {
        TreeError(format!("{what} at byte {} of the JSON document", self.at))
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at = self.at.saturating_add(1);
        }
    }

    fn eat(&mut self, byte: u8) -> Result<(), TreeError> {
        self.space();
        if self.peek() != Some(byte) {
            return Err(self.error(&format!("expected `{}`", char::from(byte))));
        }
        self.at = self.at.saturating_add(1);
        Ok(())
    }

    fn slice(&self, start: usize) -> &'a str {
        self.text.get(start..self.at).unwrap_or("")
    }

    fn value(&mut self, depth: usize) -> Result<Json<'a>, TreeError> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.space();
        let start = self.at;
        match self.peek() {
            Some(b'{') => {
                self.at = self.at.saturating_add(1);
                let mut pairs = Vec::new();
                let mut clean = true;
                self.space();
                if self.peek() == Some(b'}') {
                    self.at = self.at.saturating_add(1);
                    return Ok(Json::Object(pairs, self.slice(start), clean));
                }
                loop {
                    self.space();
                    let (key, _) = self.string()?;
                    clean &= key.is_some();
                    self.eat(b':')?;
                    let value = self.value(depth.saturating_add(1))?;
                    pairs.push((key.unwrap_or_default(), value));
                    self.space();
                    match self.peek() {
                        Some(b',') => self.at = self.at.saturating_add(1),
                        Some(b'}') => break,
                        _ => return Err(self.error("expected `,` or `}`")),
                    }
                }
                self.at = self.at.saturating_add(1);
                Ok(Json::Object(pairs, self.slice(start), clean))
            }
            Some(b'[') => {
                self.at = self.at.saturating_add(1);
                let mut items = Vec::new();
                self.space();
                if self.peek() == Some(b']') {
                    self.at = self.at.saturating_add(1);
                    return Ok(Json::Array(items, self.slice(start)));
                }
                loop {
                    items.push(self.value(depth.saturating_add(1))?);
                    self.space();
                    match self.peek() {
                        Some(b',') => self.at = self.at.saturating_add(1),
                        Some(b']') => break,
                        _ => return Err(self.error("expected `,` or `]`")),
                    }
                }
                self.at = self.at.saturating_add(1);
                Ok(Json::Array(items, self.slice(start)))
            }
            Some(b'"') => {
                let (s, raw) = self.string()?;
                Ok(Json::Str(s, raw))
            }
            Some(_) => {
                while matches!(
                    self.peek(),
                    Some(b'0'..=b'9' | b'a'..=b'z' | b'+' | b'-' | b'.' | b'E')
                ) {
                    self.at = self.at.saturating_add(1);
                }
                let raw = self.slice(start);
                if raw.is_empty() {
                    return Err(self.error("expected a value"));
                }
                Ok(Json::Literal(raw))
            }
            None => Err(self.error("unexpected end")),
        }
    }

    /// A quoted string: decoded (serde_json does the escapes; `None` for a lone
    /// surrogate) and as written.
    fn string(&mut self) -> Result<(Option<String>, &'a str), TreeError> {
        let start = self.at;
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a string"));
        }
        self.at = self.at.saturating_add(1);
        loop {
            match self.peek() {
                Some(b'\\') => self.at = self.at.saturating_add(2),
                Some(b'"') => break,
                Some(_) => self.at = self.at.saturating_add(1),
                None => return Err(self.error("unterminated string")),
            }
        }
        self.at = self.at.saturating_add(1);
        let raw = self.slice(start);
        Ok((serde_json::from_str(raw).ok(), raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_text_and_keys_their_order() {
        let doc = r#"{"z":1.10,"a":[1,{"$tuple":["x",null]}],"\u00e9":"\u00e9"}"#;
        let tree = parse(doc).unwrap_or_else(|e| panic!("{e}"));
        let Json::Object(pairs, _, true) = &tree else {
            panic!("not an object")
        };
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["z", "a", "é"]);
        assert_eq!(tree.get("z").map(Json::text), Some("1.10"));
        assert_eq!(
            tree.get("a").map(Json::text),
            Some(r#"[1,{"$tuple":["x",null]}]"#)
        );
        assert_eq!(tree.get("é").and_then(Json::as_str), Some("é"));
    }

    #[test]
    fn deep_or_broken_documents_are_errors_not_crashes() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 5), "]".repeat(MAX_DEPTH + 5));
        assert!(parse(&deep).is_err());
        for bad in ["", "{", r#"{"a" 1}"#, "[1,", "[1] 2", r#""abc"#] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // A lone surrogate is kept as text, not decoded.
        let lone = parse(r#"{"\ud800":"\udc00"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(lone, Json::Object(_, _, false)));
    }
}
