//! A small parser for the Python literals a `.npy` header is made of.
//!
//! numpy writes the header with `repr()` of a dict and reads it back with
//! `ast.literal_eval`. This reads the subset that can describe an array: dicts, lists,
//! tuples, `str` (either quote, `u`/`r` prefixes, escapes, adjacent literals joined), `int`
//! (with the Python 2 `L` suffix that numpy's `_filter_header` drops), `True`, `False` and
//! `None`, with comments and line continuations between tokens as Python's tokenizer allows.
//! Anything else is an error with the byte offset where it starts. Nesting is bounded.

use crate::error::{Error, ErrorKind, Result};
use crate::limits::Limit;

/// A parsed literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Lit {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    List(Vec<Lit>),
    Tuple(Vec<Lit>),
    /// Entries in source order; duplicates are resolved by the caller (last one wins in Python).
    Dict(Vec<(Lit, Lit)>),
}

impl Lit {
    /// What kind of value this is, for messages.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Lit::Str(_) => "str",
            Lit::Int(_) => "int",
            Lit::Bool(_) => "bool",
            Lit::None => "None",
            Lit::List(_) => "list",
            Lit::Tuple(_) => "tuple",
            Lit::Dict(_) => "dict",
        }
    }
}

/// How the header's bytes are decoded (numpy: latin-1 for format 1.0/2.0, UTF-8 for 3.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Encoding {
    Latin1,
    Utf8,
}

/// Parses one literal filling `text` (surrounding whitespace allowed). `base` is the offset of
/// `text` in the file, for error offsets. `py2_longs` accepts `12L`.
pub(super) fn parse(
    text: &[u8],
    base: u64,
    encoding: Encoding,
    py2_longs: bool,
    max_depth: usize,
) -> Result<Lit> {
    if encoding == Encoding::Utf8 {
        if let Err(e) = std::str::from_utf8(text) {
            return Err(Error::new(
                ErrorKind::InvalidUtf8,
                base + e.valid_up_to() as u64,
                "npy header (format 3.0) is not valid utf-8",
            ));
        }
    }
    let mut p = Parser {
        text,
        pos: 0,
        base,
        encoding,
        py2_longs,
        max_depth,
    };
    p.skip_ws()?;
    let value = p.value(0)?;
    p.skip_ws()?;
    if p.pos < text.len() {
        return Err(p.error(format!(
            "unexpected {} after the header literal",
            describe(text[p.pos])
        )));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    base: u64,
    encoding: Encoding,
    py2_longs: bool,
    max_depth: usize,
}

fn describe(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("'{}'", char::from(byte))
    } else {
        format!("byte 0x{byte:02x}")
    }
}

impl<'a> Parser<'a> {
    #[cold]
    fn error(&self, message: String) -> Error {
        self.error_at(self.pos, message)
    }

    #[cold]
    fn error_at(&self, pos: usize, message: String) -> Error {
        Error::new(
            ErrorKind::InvalidArgument,
            self.base + pos as u64,
            format!("npy header: {message}"),
        )
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    /// Whitespace, comments and backslash-newline continuations between tokens.
    fn skip_ws(&mut self) -> Result<()> {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => self.pos += 1,
                b'#' => {
                    while self.peek().is_some_and(|b| b != b'\n' && b != b'\r') {
                        self.pos += 1;
                    }
                }
                b'\\' => match self.text.get(self.pos + 1..) {
                    Some([b'\n', ..]) => self.pos += 2,
                    Some([b'\r', b'\n', ..]) => self.pos += 3,
                    Some([b'\r', ..]) => self.pos += 2,
                    _ => return Err(self.error("unexpected '\\' outside a string".into())),
                },
                _ => break,
            }
        }
        Ok(())
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<()> {
        self.skip_ws()?;
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            let found = self.peek().map_or("the end of the header".into(), describe);
            Err(self.error(format!("expected {what}, found {found}")))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Lit> {
        if depth >= self.max_depth {
            return Err(Error::new(
                ErrorKind::LimitExceeded(Limit::NpyHeaderDepth),
                self.base + self.pos as u64,
                format!(
                    "npy header: literals nested deeper than {} levels",
                    self.max_depth
                ),
            ));
        }
        self.skip_ws()?;
        let start = self.pos;
        match self.peek() {
            None => Err(self.error("expected a value, found the end of the header".into())),
            Some(b'{') => {
                self.pos += 1;
                self.dict(depth)
            }
            Some(b'[') => {
                self.pos += 1;
                let items = self.items(b']', depth)?.0;
                Ok(Lit::List(items))
            }
            Some(b'(') => {
                self.pos += 1;
                let (mut items, trailing_comma) = self.items(b')', depth)?;
                if items.len() == 1 && !trailing_comma {
                    // `(x)` is just `x` in parentheses.
                    Ok(items.remove(0))
                } else {
                    Ok(Lit::Tuple(items))
                }
            }
            Some(b'\'' | b'"') => self.strings(),
            Some(b'0'..=b'9' | b'-' | b'+') => self.int(),
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
                let word = self.word();
                match word {
                    b"True" => Ok(Lit::Bool(true)),
                    b"False" => Ok(Lit::Bool(false)),
                    b"None" => Ok(Lit::None),
                    // String prefixes: u'…' (Python 2 unicode), r'…' (raw), and their mixes.
                    _ if matches!(self.peek(), Some(b'\'' | b'"'))
                        && matches!(
                            word.to_ascii_lowercase().as_slice(),
                            b"u" | b"r" | b"ur" | b"ru"
                        ) =>
                    {
                        self.pos = start;
                        self.strings()
                    }
                    _ => Err(self.error_at(
                        start,
                        format!(
                            "expected a literal, found the name {:?}",
                            String::from_utf8_lossy(word)
                        ),
                    )),
                }
            }
            Some(b) => Err(self.error(format!("expected a value, found {}", describe(b)))),
        }
    }

    fn word(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    /// Comma-separated values up to `close`; returns them and whether a comma came last.
    fn items(&mut self, close: u8, depth: usize) -> Result<(Vec<Lit>, bool)> {
        let mut items = Vec::new();
        let mut trailing_comma = false;
        loop {
            self.skip_ws()?;
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok((items, trailing_comma));
            }
            if !items.is_empty() && !trailing_comma {
                let found = self.peek().map_or("the end of the header".into(), describe);
                return Err(self.error(format!(
                    "expected ',' or '{}', found {found}",
                    char::from(close)
                )));
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws()?;
            trailing_comma = self.peek() == Some(b',');
            if trailing_comma {
                self.pos += 1;
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Lit> {
        let mut entries = Vec::new();
        loop {
            self.skip_ws()?;
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Lit::Dict(entries));
            }
            let key = self.value(depth + 1)?;
            self.expect(b':', "':' after a dict key")?;
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                other => {
                    let found = other.map_or("the end of the header".into(), describe);
                    return Err(
                        self.error(format!("expected ',' or '}}' in a dict, found {found}"))
                    );
                }
            }
        }
    }

    fn int(&mut self) -> Result<Lit> {
        let start = self.pos;
        let mut negative = false;
        // Unary signs, as `ast.literal_eval` folds them (`-3`, `+3`, `- 3`).
        while let Some(sign @ (b'-' | b'+')) = self.peek() {
            negative ^= sign == b'-';
            self.pos += 1;
            self.skip_ws()?;
        }
        let digits_start = self.pos;
        let mut value: i128 = 0;
        let mut last_was_digit = false;
        while let Some(b) = self.peek() {
            match b {
                b'0'..=b'9' => {
                    value = value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(i128::from(b - b'0')))
                        .ok_or_else(|| self.error_at(start, "integer too large".into()))?;
                    last_was_digit = true;
                }
                // PEP 515 underscores, only between digits.
                b'_' if last_was_digit
                    && self.text.get(self.pos + 1).is_some_and(u8::is_ascii_digit) =>
                {
                    last_was_digit = false;
                }
                _ => break,
            }
            self.pos += 1;
        }
        if self.pos == digits_start {
            return Err(self.error_at(start, "expected digits after a sign".into()));
        }
        let digits = &self.text[digits_start..self.pos];
        if digits.len() > 1 && digits[0] == b'0' && digits.iter().any(|&d| d != b'0' && d != b'_') {
            return Err(self.error_at(
                digits_start,
                "leading zeros in a decimal integer are not allowed".into(),
            ));
        }
        if self.py2_longs && matches!(self.peek(), Some(b'L' | b'l')) {
            self.pos += 1;
        }
        if let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' {
                return Err(self.error_at(
                    start,
                    "only decimal integers are allowed as numbers in an npy header".into(),
                ));
            }
        }
        Ok(Lit::Int(if negative { -value } else { value }))
    }

    /// One or more adjacent string literals, joined as Python joins them.
    fn strings(&mut self) -> Result<Lit> {
        let mut out = String::new();
        loop {
            self.string(&mut out)?;
            let save = self.pos;
            self.skip_ws()?;
            let at_string = match self.peek() {
                Some(b'\'' | b'"') => true,
                Some(b'u' | b'U' | b'r' | b'R') => {
                    let mut i = self.pos;
                    while self
                        .text
                        .get(i)
                        .is_some_and(|b| matches!(b, b'u' | b'U' | b'r' | b'R'))
                    {
                        i += 1;
                    }
                    i - self.pos <= 2 && matches!(self.text.get(i), Some(b'\'' | b'"'))
                }
                _ => false,
            };
            if !at_string {
                self.pos = save;
                return Ok(Lit::Str(out));
            }
        }
    }

    fn string(&mut self, out: &mut String) -> Result<()> {
        let start = self.pos;
        let mut raw = false;
        while let Some(b) = self.peek() {
            match b {
                b'u' | b'U' => self.pos += 1,
                b'r' | b'R' => {
                    raw = true;
                    self.pos += 1;
                }
                b'b' | b'B' | b'f' | b'F' => {
                    return Err(self.error("bytes and f-strings are not allowed here".into()))
                }
                _ => break,
            }
        }
        let Some(quote @ (b'\'' | b'"')) = self.peek() else {
            return Err(self.error_at(start, "expected a string".into()));
        };
        if self.text.get(self.pos..self.pos + 3) == Some(&[quote; 3][..]) {
            return Err(self.error("triple-quoted strings are not allowed here".into()));
        }
        self.pos += 1;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error_at(start, "string literal is not closed".into()));
            };
            match b {
                _ if b == quote => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\n' | b'\r' => {
                    return Err(self.error("newline inside a string literal".into()));
                }
                b'\\' if raw => {
                    // A raw string keeps the backslash, and it still protects the quote.
                    out.push('\\');
                    self.pos += 1;
                    match self.peek() {
                        Some(b'\n' | b'\r') | None => {}
                        Some(_) => {
                            let c = self.char()?;
                            out.push(c);
                        }
                    }
                }
                b'\\' => {
                    self.pos += 1;
                    self.escape(out)?;
                }
                _ => {
                    let c = self.char()?;
                    out.push(c);
                }
            }
        }
    }

    /// The character at `pos` in the header's encoding.
    fn char(&mut self) -> Result<char> {
        let Some(b) = self.peek() else {
            return Err(self.error("unexpected end of the header".into()));
        };
        if b < 0x80 || self.encoding == Encoding::Latin1 {
            self.pos += 1;
            return Ok(char::from(b));
        }
        let len = match b {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        };
        // The whole header was checked to be UTF-8, so this slice is one character.
        let c = self
            .text
            .get(self.pos..self.pos + len)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.chars().next())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidUtf8,
                    self.base + self.pos as u64,
                    "npy header: invalid utf-8",
                )
            })?;
        self.pos += len;
        Ok(c)
    }

    /// A backslash escape (Python's string-literal escapes, `\N{…}` excepted).
    fn escape(&mut self, out: &mut String) -> Result<()> {
        let at = self.pos - 1;
        let Some(b) = self.peek() else {
            return Err(self.error_at(at, "string literal is not closed".into()));
        };
        self.pos += 1;
        let simple = match b {
            b'\n' => return Ok(()),
            b'\r' => {
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
                return Ok(());
            }
            b'\\' => '\\',
            b'\'' => '\'',
            b'"' => '"',
            b'a' => '\x07',
            b'b' => '\x08',
            b'f' => '\x0c',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'v' => '\x0b',
            b'0'..=b'7' => {
                let mut value = u32::from(b - b'0');
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                char::from_u32(value).unwrap_or('\u{fffd}')
            }
            b'x' | b'u' | b'U' => {
                let width = match b {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let hex = self
                    .text
                    .get(self.pos..self.pos + width)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .ok_or_else(|| {
                        self.error_at(at, format!("truncated \\{} escape", char::from(b)))
                    })?;
                let value = hex.iter().fold(0u32, |v, &h| {
                    v * 16 + char::from(h).to_digit(16).unwrap_or(0)
                });
                self.pos += width;
                char::from_u32(value).ok_or_else(|| {
                    self.error_at(
                        at,
                        format!("escape \\{}{value:x} is not a character that can be represented here (surrogate or out of range)", char::from(b)),
                    )
                })?
            }
            b'N' => {
                return Err(self.error_at(at, "\\N{...} escapes are not supported".into()));
            }
            _ => {
                // Unknown escapes keep the backslash (Python warns but accepts them).
                out.push('\\');
                self.pos -= 1;
                let c = self.char()?;
                out.push(c);
                return Ok(());
            }
        };
        out.push(simple);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(text: &str) -> Result<Lit> {
        parse(text.as_bytes(), 0, Encoding::Utf8, true, 16)
    }

    fn s(v: &str) -> Lit {
        Lit::Str(v.into())
    }

    #[test]
    fn the_dict_numpy_writes() {
        let v =
            lit("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }          \n").unwrap();
        assert_eq!(
            v,
            Lit::Dict(vec![
                (s("descr"), s("<f8")),
                (s("fortran_order"), Lit::Bool(false)),
                (s("shape"), Lit::Tuple(vec![Lit::Int(3), Lit::Int(4)])),
            ])
        );
    }

    #[test]
    fn tuples_parentheses_and_trailing_commas() {
        assert_eq!(lit("()").unwrap(), Lit::Tuple(vec![]));
        assert_eq!(lit("(5,)").unwrap(), Lit::Tuple(vec![Lit::Int(5)]));
        assert_eq!(lit("(5)").unwrap(), Lit::Int(5));
        assert_eq!(
            lit("[1, 2,]").unwrap(),
            Lit::List(vec![Lit::Int(1), Lit::Int(2)])
        );
        assert!(lit("(,)").is_err());
        assert!(lit("[1 2]").is_err());
    }

    #[test]
    fn strings_with_escapes_quotes_prefixes_and_joins() {
        assert_eq!(lit(r#""it's""#).unwrap(), s("it's"));
        assert_eq!(
            lit(r"'a\'b\\c\n\x41\u00e9\U0001F600\101'").unwrap(),
            s("a'b\\c\nAé😀A")
        );
        assert_eq!(lit("u'x'").unwrap(), s("x"));
        assert_eq!(lit(r"r'a\n'").unwrap(), s("a\\n"));
        assert_eq!(lit("'a' \"b\"").unwrap(), s("ab"));
        assert_eq!(lit("'名'").unwrap(), s("名"));
        assert!(lit("b'x'").is_err());
        assert!(lit("'''x'''").is_err());
        assert!(lit("'open").is_err());
        assert!(
            lit(r"'\ud800'").is_err(),
            "lone surrogates cannot be a Rust String"
        );
    }

    #[test]
    fn latin1_headers_decode_every_byte_as_one_character() {
        let v = parse(b"'\xe9\xff'", 0, Encoding::Latin1, false, 4).unwrap();
        assert_eq!(v, s("\u{e9}\u{ff}"));
        let err = parse(b"'\xe9'", 10, Encoding::Utf8, false, 4).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidUtf8);
        assert_eq!(err.offset(), 11);
    }

    #[test]
    fn integers_signs_and_python2_longs() {
        assert_eq!(lit("-3").unwrap(), Lit::Int(-3));
        assert_eq!(lit("- 3").unwrap(), Lit::Int(-3));
        assert_eq!(lit("1_000").unwrap(), Lit::Int(1000));
        assert_eq!(
            lit("(3L, 4L)").unwrap(),
            Lit::Tuple(vec![Lit::Int(3), Lit::Int(4)])
        );
        assert!(parse(b"3L", 0, Encoding::Latin1, false, 4).is_err());
        assert!(lit("007").is_err());
        assert_eq!(lit("000").unwrap(), Lit::Int(0));
        assert!(lit("1.5").is_err());
        assert!(lit("0x10").is_err());
        assert!(lit("99999999999999999999999999999999999999999").is_err());
    }

    #[test]
    fn comments_and_continuations_are_whitespace() {
        assert_eq!(
            lit("{'a': 1, # note\n 'b': \\\n 2}").unwrap(),
            Lit::Dict(vec![(s("a"), Lit::Int(1)), (s("b"), Lit::Int(2))])
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(100) + &"]".repeat(100);
        let err = lit(&deep).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded(Limit::NpyHeaderDepth));
        assert!(lit(&("[".repeat(10) + &"]".repeat(10))).is_ok());
    }

    #[test]
    fn errors_point_at_the_offending_byte() {
        let err = parse(b"{'a': x}", 100, Encoding::Utf8, false, 8).unwrap_err();
        assert_eq!(err.offset(), 106);
        assert!(err.message().contains("name"), "{err}");
        let err = lit("{'a': 1} junk").unwrap_err();
        assert_eq!(err.offset(), 9);
    }
}
