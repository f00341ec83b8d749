//! Python's own text rules, as `pickletools.dis` applies them to arguments.
//!
//! `repr` of `str`, `bytes`, `bytearray`, `float` and `int`; `int()` and `float()` of
//! bytes; `codecs.escape_decode`; the `raw-unicode-escape` and `utf-8`/`surrogatepass`
//! decoders. Strings are handled as code points (`u32`), not Rust `char`s, because a
//! Python `str` can hold lone surrogates and a pickle can carry them.
//!
//! A lower-level module: public for the tests that check it against the running CPython,
//! and it may change between minor versions.

mod printable;

use num_bigint::BigInt;
use std::fmt::Write as _;

/// CPython 3.11's default `sys.get_int_max_str_digits()`: int <-> decimal conversions of
/// more digits raise `ValueError` (CVE-2020-10735), and so `pickletools` fails on them.
pub(crate) const INT_MAX_STR_DIGITS: usize = 4300;

/// Whether CPython 3.11 considers `cp` printable (`str.isprintable`).
pub fn is_printable(cp: u32) -> bool {
    let table = printable::PRINTABLE;
    let i = table.partition_point(|&(_, hi)| hi < cp);
    table.get(i).is_some_and(|&(lo, _)| lo <= cp)
}

/// Checks UTF-8 as CPython's `surrogatepass` handler does: encoded surrogates
/// (`ED A0..BF 80..BF`) are accepted. On failure, returns the offset of the bad byte.
pub fn check_utf8_surrogatepass(bytes: &[u8]) -> Result<(), usize> {
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        match std::str::from_utf8(rest) {
            Ok(_) => return Ok(()),
            Err(e) => {
                let bad = e.valid_up_to();
                match rest.get(bad..bad + 3) {
                    Some([0xED, 0xA0..=0xBF, 0x80..=0xBF]) => pos += bad + 3,
                    _ => return Err(pos + bad),
                }
            }
        }
    }
    Ok(())
}

/// Decodes UTF-8 with `surrogatepass` into code points. Input that does not pass
/// [`check_utf8_surrogatepass`] yields U+FFFD for bad bytes.
pub fn decode_utf8_surrogatepass(bytes: &[u8]) -> Vec<u32> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, None),
            Err(e) => {
                // The prefix up to valid_up_to() is UTF-8 by definition.
                let valid = std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or("");
                (valid, Some(e.valid_up_to()))
            }
        };
        out.extend(valid.chars().map(u32::from));
        match bad {
            None => break,
            Some(at) => match rest.get(at..at + 3) {
                Some(&[0xED, b1 @ 0xA0..=0xBF, b2 @ 0x80..=0xBF]) => {
                    out.push(0xD000 | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F));
                    pos += at + 3;
                }
                _ => {
                    out.push(0xFFFD);
                    pos += at + 1;
                }
            },
        }
    }
    out
}

/// Decodes bytes as latin-1 (every byte is its own code point).
pub(crate) fn decode_latin1(bytes: &[u8]) -> Vec<u32> {
    bytes.iter().map(|&b| u32::from(b)).collect()
}

/// Python's `str(data, 'raw-unicode-escape')`: bytes are latin-1, except that
/// `\uXXXX` and `\UXXXXXXXX` are escapes (a `\\` pair is kept as two backslashes).
pub(crate) fn decode_raw_unicode_escape(bytes: &[u8]) -> Result<Vec<u32>, String> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        i += 1;
        if c != b'\\' {
            out.push(u32::from(c));
            continue;
        }
        let start = i - 1;
        let Some(&kind) = bytes.get(i) else {
            out.push(u32::from(c));
            break;
        };
        i += 1;
        let count = match kind {
            b'u' => 4,
            b'U' => 8,
            _ => {
                out.push(u32::from(b'\\'));
                out.push(u32::from(kind));
                continue;
            }
        };
        let mut cp: u32 = 0;
        for _ in 0..count {
            let digit = bytes.get(i).and_then(|&d| char::from(d).to_digit(16));
            let Some(digit) = digit else {
                let what = if count == 4 {
                    "truncated \\uXXXX escape"
                } else {
                    "truncated \\UXXXXXXXX escape"
                };
                return Err(format!(
                    "'rawunicodeescape' codec can't decode bytes in position {start}-{}: {what}",
                    i.min(bytes.len()).saturating_sub(1).max(start + 1)
                ));
            };
            cp = (cp << 4) | digit;
            i += 1;
        }
        if cp > 0x10FFFF {
            return Err(format!(
                "'rawunicodeescape' codec can't decode bytes in position {start}-{}: \\Uxxxxxxxx out of range",
                i - 1
            ));
        }
        out.push(cp);
    }
    Ok(out)
}

/// Python's `codecs.escape_decode`: backslash escapes of a bytes literal.
pub(crate) fn escape_decode(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = bytes.get(i) else {
            return Err("Trailing \\ in string".to_string());
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0C),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(0x0B),
            b'a' => out.push(0x07),
            b'0'..=b'7' => {
                let mut value = u32::from(e - b'0');
                for _ in 0..2 {
                    match bytes.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                // CPython 3.11 stores the low byte of an octal escape above \377.
                out.push((value & 0xFF) as u8);
            }
            b'x' => {
                let hex = |at: usize| bytes.get(at).and_then(|&d| char::from(d).to_digit(16));
                match (hex(i), hex(i + 1)) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 2;
                    }
                    _ => return Err(format!("invalid \\x escape at position {}", i - 2)),
                }
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

fn is_python_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

fn trim_python_space(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_python_space(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_python_space(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// Removes underscores that sit between two digits of `radix`, as Python's numeric parsers
/// allow; `None` if an underscore sits anywhere else.
fn strip_digit_underscores(s: &[u8], radix: u32) -> Option<Vec<u8>> {
    let is_digit = |b: Option<&u8>| b.is_some_and(|&b| char::from(b).is_digit(radix));
    let mut out = Vec::with_capacity(s.len());
    for (i, &b) in s.iter().enumerate() {
        if b == b'_' {
            let before = i.checked_sub(1).and_then(|j| s.get(j));
            if !(is_digit(before) && is_digit(s.get(i + 1))) {
                return None;
            }
        } else {
            out.push(b);
        }
    }
    Some(out)
}

/// An optional leading `-` or `+`, and the rest.
fn split_sign(s: &[u8]) -> (bool, &[u8]) {
    match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    }
}

/// `s` up to its first NUL: where CPython's C code, reading it as a C string, stops.
fn until_nul(s: &[u8]) -> &[u8] {
    memchr::memchr(0, s).map_or(s, |nul| &s[..nul])
}

/// The magnitude Python's `int()` reads from `digits` in `radix` (single underscores
/// between digits allowed), `Ok(None)` when they are not such digits, and an error past
/// CPython's limit on decimal digits.
fn python_int_digits(digits: &[u8], radix: u32) -> Result<Option<BigInt>, String> {
    if !digits
        .first()
        .is_some_and(|&b| char::from(b).is_digit(radix))
    {
        return Ok(None);
    }
    let Some(clean) = strip_digit_underscores(digits, radix) else {
        return Ok(None);
    };
    if !clean.iter().all(|&b| char::from(b).is_digit(radix)) {
        return Ok(None);
    }
    if radix == 10 && clean.len() > INT_MAX_STR_DIGITS {
        return Err(format!(
            "Exceeds the limit ({INT_MAX_STR_DIGITS} digits) for integer string conversion: \
             value has {} digits; use sys.set_int_max_str_digits() to increase the limit",
            clean.len()
        ));
    }
    Ok(BigInt::parse_bytes(&clean, radix))
}

/// Python's `int(data)` for bytes in base 10 (what pickletools does for INT, LONG,
/// GET and PUT arguments).
pub fn parse_int(data: &[u8]) -> Result<BigInt, String> {
    let invalid = || {
        let mut msg = String::from("invalid literal for int() with base 10: ");
        repr_bytes(data, &mut msg);
        msg
    };
    let s = trim_python_space(data);
    let (negative, digits) = split_sign(s);
    let magnitude = python_int_digits(digits, 10)?.ok_or_else(invalid)?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// [`parse_int`] for the common case, without a big integer: an optional sign and at most
/// 18 ASCII digits, nothing else. `None` means "use [`parse_int`]" (which also gives the
/// error), not that the text is invalid.
pub(crate) fn parse_small_int(data: &[u8]) -> Option<i64> {
    let (negative, digits) = split_sign(data);
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut value: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(b - b'0');
    }
    Some(if negative { -value } else { value })
}

/// Python's `int(text, 0)` (`PyLong_FromString` with base 0), which the C unpickler uses for
/// LONG and for INT lines `strtol` cannot read: a `0x`, `0o` or `0b` prefix picks the base,
/// underscores may sit between digits (and after a prefix), and a decimal number with a
/// leading zero must be all zeros (`010` is refused). `data` ends at its first NUL, as the
/// C string it is in CPython does.
pub(crate) fn parse_int_base0(data: &[u8]) -> Result<BigInt, String> {
    let data = until_nul(data);
    let invalid = || {
        let mut msg = String::from("invalid literal for int() with base 0: ");
        repr_bytes(data, &mut msg);
        msg
    };
    let (negative, body) = split_sign(trim_python_space(data));
    let (radix, digits) = match body {
        [b'0', b'x' | b'X', rest @ ..] => (16, rest),
        [b'0', b'o' | b'O', rest @ ..] => (8, rest),
        [b'0', b'b' | b'B', rest @ ..] => (2, rest),
        _ => (10, body),
    };
    // After a prefix, one underscore may come before the first digit (`0x_ff`).
    let digits = match (radix, digits) {
        (10, _) => digits,
        (_, [b'_', rest @ ..]) => rest,
        _ => digits,
    };
    // Without a prefix, a leading zero is allowed only in zero itself (`0_0`, not `010`).
    if radix == 10
        && digits.first() == Some(&b'0')
        && digits.iter().any(|&b| b != b'0' && b != b'_')
    {
        return Err(invalid());
    }
    let magnitude = python_int_digits(digits, radix)?.ok_or_else(invalid)?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// C's `strtol(s, &end, 0)` for a 64-bit `long`: the value and how many bytes it read
/// (0 when it read no number: `end` is then `s` itself), or `None` when the value overflows
/// (`ERANGE`). A leading `0` means octal and `0x` hex; there is no `0b` or `0o`, and no
/// underscores.
fn c_strtol_base0(s: &[u8]) -> Option<(i64, usize)> {
    let mut i = s.iter().take_while(|&&b| is_python_space(b)).count();
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let hex = s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    let radix: u32 = if hex {
        i += 2;
        16
    } else if s.get(i) == Some(&b'0') {
        8
    } else {
        10
    };
    let start = i;
    let mut magnitude: u64 = 0;
    let mut overflow = false;
    while let Some(d) = s.get(i).and_then(|&b| char::from(b).to_digit(radix)) {
        match magnitude
            .checked_mul(u64::from(radix))
            .and_then(|m| m.checked_add(u64::from(d)))
        {
            Some(m) => magnitude = m,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return Some((0, 0));
    }
    let limit = if negative {
        1u64 << 63
    } else {
        i64::MAX as u64
    };
    if overflow || magnitude > limit {
        return None;
    }
    let value = if negative {
        (magnitude as i64).wrapping_neg()
    } else {
        magnitude as i64
    };
    Some((value, i))
}

/// What the C unpickler's INT makes of its line (without the newline): `load_int` in
/// `Modules/_pickle.c` reads it with `strtol(s, &end, 0)` (so `010` is 8 and `0x10` is 16),
/// gives `False`/`True` for a two-character line worth 0 or 1 (`00`, `01`, also `-0` or
/// ` 1`), and falls back to `int(s, 0)` when `strtol` overflows or stops before the newline.
/// pickle.py and pickletools read the same line differently (base 10); `pickle.load` is
/// the C one.
pub(crate) fn parse_int_line(line: &[u8]) -> Result<IntLine, String> {
    if line.is_empty() {
        return Err("pickle data was truncated".to_string());
    }
    if let Some((value, read)) = c_strtol_base0(line) {
        // `end` must sit on the newline or a NUL; reading nothing leaves it at the start.
        if matches!(line.get(read), None | Some(0)) {
            if line.len() == 2 && (value == 0 || value == 1) {
                return Ok(IntLine::Bool(value == 1));
            }
            return Ok(IntLine::Small(value));
        }
    }
    let mut text = line.to_vec();
    text.push(b'\n');
    parse_int_base0(&text)
        .map(IntLine::Big)
        .map_err(|_| "could not convert string to int".to_string())
}

/// What the C unpickler's FLOAT makes of its line (without the newline): `load_float` in
/// `Modules/_pickle.c` uses `PyOS_string_to_double`, stricter than `float()` (what
/// pickletools uses): no surrounding whitespace, no underscores, and a finite literal too
/// large for a double is an error (`1e500`), not infinity. `inf`, `infinity` and `nan`, in
/// any case and with a sign, are read. The line ends at its first NUL.
pub(crate) fn parse_float_line(line: &[u8]) -> Result<f64, String> {
    if line.is_empty() {
        return Err("pickle data was truncated".to_string());
    }
    let text = until_nul(line);
    let invalid = || {
        let mut msg = String::from("could not convert string to float: ");
        repr_bytes(text, &mut msg);
        msg
    };
    let (negative, body) = split_sign(text);
    let signed = |v: f64| if negative { -v } else { v };
    let lower = body.to_ascii_lowercase();
    match lower.as_slice() {
        b"inf" | b"infinity" => return Ok(signed(f64::INFINITY)),
        b"nan" => return Ok(signed(f64::NAN)),
        _ => {}
    }
    // digits [. digits] [e [sign] digits], with at least one mantissa digit, and nothing
    // after it: the C code refuses a line where the number stops before the newline.
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while body.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    if body.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return Err(invalid());
    }
    if matches!(body.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(body.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return Err(invalid());
        }
    }
    if i != body.len() {
        return Err(invalid());
    }
    let value: f64 = std::str::from_utf8(body)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(invalid)?;
    if value.is_infinite() {
        let mut msg = String::from("value too large to convert to float: ");
        repr_bytes(text, &mut msg);
        return Err(msg);
    }
    Ok(signed(value))
}

/// The value of an INT line ([`parse_int_line`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum IntLine {
    Bool(bool),
    Small(i64),
    Big(BigInt),
}

/// Python's `float(data)` for bytes.
pub fn parse_float(data: &[u8]) -> Result<f64, String> {
    let invalid = || {
        let mut msg = String::from("could not convert string to float: ");
        repr_bytes(data, &mut msg);
        msg
    };
    let s = trim_python_space(data);
    let (negative, body) = split_sign(s);
    let lower = body.to_ascii_lowercase();
    let magnitude = match lower.as_slice() {
        b"inf" | b"infinity" => f64::INFINITY,
        b"nan" => f64::NAN,
        _ => {
            let plain = strip_digit_underscores(body, 10).ok_or_else(invalid)?;
            // Python's grammar: digits [. digits] [e [sign] digits], or . digits ...
            let ok_chars = plain
                .iter()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
            if !ok_chars || plain.first().is_some_and(|b| matches!(b, b'+' | b'-')) {
                return Err(invalid());
            }
            let text = std::str::from_utf8(&plain).map_err(|_| invalid())?;
            text.parse::<f64>().map_err(|_| invalid())?
        }
    };
    Ok(if negative { -magnitude } else { magnitude })
}

/// Appends Python's `repr()` of a `str` whose text is `bytes`, when every byte is printable
/// ASCII other than `'` and `\\` (the common case, which needs no decoding: such bytes are
/// the same in UTF-8 and latin-1, and are printed as they are between single quotes), and
/// returns true; else appends nothing and returns false.
pub fn repr_plain_ascii(bytes: &[u8], out: &mut String) -> bool {
    let plain = bytes
        .iter()
        .all(|&b| (0x20..=0x7E).contains(&b) && b != b'\'' && b != b'\\');
    if plain {
        out.push('\'');
        out.push_str(std::str::from_utf8(bytes).unwrap_or(""));
        out.push('\'');
    }
    plain
}

/// Appends Python's `repr()` of a `str` given as code points.
pub fn repr_str(cps: &[u32], out: &mut String) {
    let has_single = cps.contains(&u32::from(b'\''));
    let has_double = cps.contains(&u32::from(b'"'));
    let quote = if has_single && !has_double { '"' } else { '\'' };
    out.push(quote);
    for &cp in cps {
        match cp {
            _ if cp == u32::from(quote) || cp == u32::from(b'\\') => {
                out.push('\\');
                out.push(char::from(cp as u8));
            }
            0x09 => out.push_str("\\t"),
            0x0A => out.push_str("\\n"),
            0x0D => out.push_str("\\r"),
            0..=0x1F | 0x7F => {
                let _ = write!(out, "\\x{cp:02x}");
            }
            0x20..=0x7E => out.push(char::from(cp as u8)),
            _ => match char::from_u32(cp) {
                Some(ch) if is_printable(cp) => out.push(ch),
                _ if cp <= 0xFF => {
                    let _ = write!(out, "\\x{cp:02x}");
                }
                _ if cp <= 0xFFFF => {
                    let _ = write!(out, "\\u{cp:04x}");
                }
                _ => {
                    let _ = write!(out, "\\U{cp:08x}");
                }
            },
        }
    }
    out.push(quote);
}

/// Appends Python's `repr()` of a `str` held as Rust text (which, unlike a Python `str`,
/// cannot hold a lone surrogate): [`repr_str`] of its code points.
pub fn repr_text(s: &str, out: &mut String) {
    let cps: Vec<u32> = s.chars().map(u32::from).collect();
    repr_str(&cps, out);
}

/// Appends Python's `repr()` of a tuple whose items `item` writes: `()`, `(a,)`, `(a, b)`.
pub fn repr_tuple<T>(
    items: impl IntoIterator<Item = T>,
    out: &mut String,
    mut item: impl FnMut(T, &mut String),
) {
    out.push('(');
    let mut count = 0usize;
    for each in items {
        if count > 0 {
            out.push_str(", ");
        }
        item(each, out);
        count += 1;
    }
    if count == 1 {
        out.push(',');
    }
    out.push(')');
}

/// Appends Python's `repr()` of a tuple of ints, such as a numpy shape: `()`, `(5,)`,
/// `(3, 4)`.
pub fn repr_int_tuple(items: &[u64], out: &mut String) {
    repr_tuple(items, out, |n, out| {
        let _ = write!(out, "{n}");
    });
}

/// Appends Python's `repr()` of a `bytes` object.
pub fn repr_bytes(bytes: &[u8], out: &mut String) {
    repr_bytes_quoted(bytes, false, out);
}

/// The body of `bytes` and `bytearray` reprs. They pick the quote alike, but
/// `bytearray.__repr__` escapes a single quote even inside double quotes.
fn repr_bytes_quoted(bytes: &[u8], always_escape_single: bool, out: &mut String) {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.push('b');
    out.push(char::from(quote));
    for &b in bytes {
        match b {
            _ if b == quote || b == b'\\' || (always_escape_single && b == b'\'') => {
                out.push('\\');
                out.push(char::from(b));
            }
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            0x20..=0x7E => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(char::from(quote));
}

/// Appends Python's `repr()` of a `bytearray`.
pub fn repr_bytearray(bytes: &[u8], out: &mut String) {
    out.push_str("bytearray(");
    repr_bytes_quoted(bytes, true, out);
    out.push(')');
}

/// Appends Python's `repr()` of a float: the shortest digits that round-trip, in fixed
/// notation when the decimal exponent is in -4 < e <= 16, else `1e+16` style.
pub fn repr_float(x: f64, out: &mut String) {
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if x.is_sign_negative() {
        out.push('-');
    }
    if x == 0.0 {
        out.push_str("0.0");
        return;
    }
    // Python's repr is the shortest string that round-trips and, among those, the one
    // nearest to `x` (ties to even): what Schubfach (zmij) finds. zmij lays the digits out
    // its own way; only the digits and the decimal point are taken from it.
    let mut buffer = zmij::Buffer::new();
    let (digits, decpt) = shortest_digits(buffer.format_finite(x.abs()).as_bytes());
    let digits = &digits[..];
    let ndigits = digits.len() as i32;
    fn text(d: &[u8]) -> &str {
        std::str::from_utf8(d).unwrap_or("")
    }
    if decpt <= -4 || decpt > 16 {
        out.push_str(text(&digits[..1]));
        if ndigits > 1 {
            out.push('.');
            out.push_str(text(&digits[1..]));
        }
        let e = decpt - 1;
        out.push_str(if e < 0 { "e-" } else { "e+" });
        if e.abs() < 10 {
            out.push('0');
        }
        out.push_str(itoa::Buffer::new().format(e.unsigned_abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..-decpt {
            out.push('0');
        }
        out.push_str(text(digits));
    } else if decpt >= ndigits {
        out.push_str(text(digits));
        for _ in 0..decpt - ndigits {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        out.push_str(text(&digits[..decpt as usize]));
        out.push('.');
        out.push_str(text(&digits[decpt as usize..]));
    }
}

/// The significant digits of a positive decimal (`123.45`, `0.00012`, `1.5e-7`, `1e+16`),
/// without leading or trailing zeros, and the position of the decimal point relative to
/// the first of them (`0.0012` is `12` with point at -2, `120.0` is `12` at 3).
fn shortest_digits(text: &[u8]) -> (DigitBuf, i32) {
    let (mantissa, exp) = match text.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => (text, &b""[..]),
    };
    let exp = std::str::from_utf8(exp)
        .ok()
        .and_then(|e| e.trim_start_matches('+').parse::<i32>().ok())
        .unwrap_or(0);
    let mut digits = DigitBuf::default();
    let mut decpt = 0i32;
    let mut seen_point = false;
    for &b in mantissa {
        match b {
            b'.' => seen_point = true,
            // Leading zeros: after the point each moves it one place left.
            b'0' if digits.len == 0 && seen_point => decpt -= 1,
            b'0' if digits.len == 0 => {}
            b'0'..=b'9' => {
                digits.push(b);
                if !seen_point {
                    decpt += 1;
                }
            }
            _ => {}
        }
    }
    if digits.len == 0 {
        digits.push(b'0');
        decpt = 1;
    }
    while digits.len > 1 && digits.bytes[digits.len - 1] == b'0' {
        digits.len -= 1;
    }
    // Zeros before the point are counted once a digit has been seen (`120.0`).
    (digits, decpt.saturating_add(exp))
}

/// Up to 32 decimal digits on the stack (a double has at most 17 significant ones).
#[derive(Default)]
struct DigitBuf {
    bytes: [u8; 32],
    len: usize,
}

impl DigitBuf {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }
}

impl std::ops::Deref for DigitBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Appends Python's `repr()` of an int, or fails as CPython 3.11 does when the value has
/// more than [`INT_MAX_STR_DIGITS`] decimal digits.
pub(crate) fn repr_int(value: &BigInt, out: &mut String) -> Result<(), String> {
    let too_long = || {
        format!(
            "Exceeds the limit ({INT_MAX_STR_DIGITS} digits) for integer string conversion; \
             use sys.set_int_max_str_digits() to increase the limit"
        )
    };
    // 4300 digits need at least 14281 bits; refuse clearly larger values before the
    // (quadratic) conversion, so a huge LONG4 costs nothing.
    if value.bits() > 14_300 {
        return Err(too_long());
    }
    let text = value.to_string();
    let digits = text.trim_start_matches('-').len();
    if digits > INT_MAX_STR_DIGITS {
        return Err(too_long());
    }
    out.push_str(&text);
    Ok(())
}

/// Python's `pickle.decode_long`: a little-endian two's-complement integer.
pub(crate) fn decode_long(bytes: &[u8]) -> BigInt {
    BigInt::from_signed_bytes_le(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_text_is_quoted_as_repr_str_quotes_it() {
        for text in ["", "item0", "say \"hi\"", " ~{}"] {
            let mut fast = String::new();
            assert!(repr_plain_ascii(text.as_bytes(), &mut fast), "{text}");
            let mut full = String::new();
            repr_text(text, &mut full);
            assert_eq!(fast, full);
        }
        for text in ["it's", "a\\b", "tab\t", "caf\u{e9}", "\u{7f}"] {
            let mut out = String::from("x");
            assert!(!repr_plain_ascii(text.as_bytes(), &mut out), "{text}");
            assert_eq!(out, "x");
        }
    }

    fn s(text: &str) -> String {
        let mut out = String::new();
        repr_text(text, &mut out);
        out
    }

    /// `repr(())`, `repr((5,))`, `repr((3, 4))` and a tuple of strs, as CPython prints them.
    #[test]
    fn tuples_have_pythons_punctuation() {
        let ints = |items: &[u64]| {
            let mut out = String::new();
            repr_int_tuple(items, &mut out);
            out
        };
        assert_eq!(ints(&[]), "()");
        assert_eq!(ints(&[5]), "(5,)");
        assert_eq!(ints(&[3, 4]), "(3, 4)");
        let mut out = String::new();
        repr_tuple(["it's", "a"], &mut out, repr_text);
        assert_eq!(out, "(\"it's\", 'a')");
    }

    /// What CPython 3.11's `pickle.loads` gives for `I<line>\n.` and `L<line>\n.` (checked
    /// with it; `None` is an error). tests/extract_json.rs asks the running CPython too.
    #[test]
    fn int_and_long_lines_read_as_the_c_unpickler_reads_them() {
        use IntLine::{Big, Bool, Small};
        let big = |v: i128| Big(BigInt::from(v));
        let cases: &[(&[u8], Option<IntLine>, Option<i128>)] = &[
            (b"0", Some(Small(0)), Some(0)),
            (b"00", Some(Bool(false)), Some(0)),
            (b"01", Some(Bool(true)), None),
            (b"-0", Some(Bool(false)), Some(0)),
            (b" 1", Some(Bool(true)), Some(1)),
            (b"-1", Some(Small(-1)), Some(-1)),
            (b"010", Some(Small(8)), None),
            (b"-010", Some(Small(-8)), None),
            (b"0001", Some(Small(1)), None),
            (b"0x10", Some(Small(16)), Some(16)),
            (b"0x", None, None),
            (b"0o17", Some(big(15)), Some(15)),
            (b"0b101", Some(big(5)), Some(5)),
            (b"1_0", Some(big(10)), Some(10)),
            (b"0_10", None, None),
            (b"09", None, None),
            (b" 5 ", Some(big(5)), Some(5)),
            (b"12\x00zz", Some(Small(12)), Some(12)),
            (b"\x00", Some(Small(0)), None),
            (b"\x00x", Some(Bool(false)), None),
            (b"-", None, None),
            (b"", None, None),
            (
                b"9223372036854775808",
                Some(big(9223372036854775808)),
                Some(9223372036854775808),
            ),
            (
                b"-9223372036854775808",
                Some(Small(i64::MIN)),
                Some(-9223372036854775808),
            ),
            (
                b"0xffffffffffffffffff",
                Some(big(0xffffffffffffffffff)),
                Some(0xffffffffffffffffff),
            ),
            (b"07777777777777777777777777", None, None),
            (b"0x_1f", Some(big(31)), Some(31)),
            (b"0x__1", None, None),
            (b"1__0", None, None),
            (b"1_", None, None),
            (b"\x0b7", Some(Small(7)), Some(7)),
        ];
        for (line, int, long) in cases {
            assert_eq!(
                parse_int_line(line).ok().as_ref(),
                int.as_ref(),
                "I{line:?}"
            );
            let long = long.map(BigInt::from);
            assert_eq!(parse_int_base0(line).ok(), long, "L{line:?}");
        }
    }

    /// What CPython 3.11's `pickle.loads` gives for `F<line>\n.` (checked with it).
    #[test]
    fn float_lines_read_as_the_c_unpickler_reads_them() {
        let cases: &[(&[u8], Option<f64>)] = &[
            (b"1.5", Some(1.5)),
            (b"1_0", None),
            (b" 1.5", None),
            (b"1.5 ", None),
            (b"1.5\r", None),
            (b"inf", Some(f64::INFINITY)),
            (b"-Infinity", Some(f64::NEG_INFINITY)),
            (b"1e500", None),
            (b"1e-500", Some(0.0)),
            (b"0x10", None),
            (b"1.5\x00zz", Some(1.5)),
            (b".5", Some(0.5)),
            (b"5.", Some(5.0)),
            (b"1E3", Some(1000.0)),
            (b"+1.0", Some(1.0)),
            (b"1e", None),
            (b".", None),
            (b"in f", None),
            (b"", None),
        ];
        for (line, want) in cases {
            assert_eq!(parse_float_line(line).ok(), *want, "F{line:?}");
        }
        assert!(parse_float_line(b"nAn").unwrap().is_nan());
        assert!(parse_float_line(b"-nan").unwrap().is_sign_negative());
    }

    #[test]
    fn the_small_int_fast_path_agrees_with_parse_int() {
        for text in [
            "0",
            "-0",
            "+7",
            "007",
            "42",
            "-42",
            "999999999999999999",
            "-999999999999999999",
            "1000000000000000000",
            " 5",
            "5 ",
            "1_000",
            "",
            "-",
            "+",
            "0x10",
            "1.5",
            "\u{665}",
        ] {
            let fast = parse_small_int(text.as_bytes());
            let slow = parse_int(text.as_bytes()).ok();
            if let Some(v) = fast {
                assert_eq!(slow, Some(BigInt::from(v)), "{text:?}");
            }
        }
        assert_eq!(parse_small_int(b"-42"), Some(-42));
        assert_eq!(parse_small_int(b"1_000"), None);
        assert_eq!(parse_small_int(b"1000000000000000000"), None);
    }

    fn b(bytes: &[u8]) -> String {
        let mut out = String::new();
        repr_bytes(bytes, &mut out);
        out
    }

    fn f(x: f64) -> String {
        let mut out = String::new();
        repr_float(x, &mut out);
        out
    }

    #[test]
    fn str_repr_follows_python() {
        assert_eq!(s("abc"), "'abc'");
        assert_eq!(s("it's"), "\"it's\"");
        assert_eq!(s("'\""), "'\\'\"'");
        assert_eq!(s("a\\b\t\n\r\x00\x7f"), "'a\\\\b\\t\\n\\r\\x00\\x7f'");
        assert_eq!(s("\u{e9}\u{4e2d}\u{1f600}"), "'\u{e9}\u{4e2d}\u{1f600}'");
        assert_eq!(
            s("\u{85}\u{a0}\u{ad}\u{2028}\u{e000}\u{10ffff}"),
            "'\\x85\\xa0\\xad\\u2028\\ue000\\U0010ffff'"
        );
        let mut out = String::new();
        repr_str(&[0xD800], &mut out);
        assert_eq!(out, "'\\ud800'");
    }

    #[test]
    fn bytearray_repr_escapes_single_quotes_inside_double_quotes() {
        let mut out = String::new();
        repr_bytearray(b"it's", &mut out);
        assert_eq!(out, "bytearray(b\"it\\'s\")");
    }

    #[test]
    fn bytes_repr_follows_python() {
        assert_eq!(b(b"abc"), "b'abc'");
        assert_eq!(b(b"it's"), "b\"it's\"");
        assert_eq!(b(b"\x00\x80\xff\\"), "b'\\x00\\x80\\xff\\\\'");
    }

    #[test]
    fn float_repr_follows_python() {
        for (x, want) in [
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.5, "1.5"),
            (123456789.125, "123456789.125"),
            (5e-324, "5e-324"),
            (1e300, "1e+300"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (12345678901234567.0, "1.2345678901234568e+16"),
        ] {
            assert_eq!(f(x), want, "{x:e}");
        }
    }

    #[test]
    fn int_parsing_follows_python() {
        assert_eq!(parse_int(b" 12 ").unwrap(), BigInt::from(12));
        assert_eq!(parse_int(b"-1_000").unwrap(), BigInt::from(-1000));
        assert_eq!(parse_int(b"007").unwrap(), BigInt::from(7));
        assert!(parse_int(b"1__0").is_err());
        assert!(parse_int(b"_1").is_err());
        assert!(parse_int(b"12L").is_err());
        assert!(parse_int(b"").is_err());
        assert!(parse_int(&[b'1'; 4301]).is_err());
    }

    #[test]
    fn float_parsing_follows_python() {
        assert_eq!(parse_float(b"1.5\t").unwrap(), 1.5);
        assert_eq!(parse_float(b"-inf").unwrap(), f64::NEG_INFINITY);
        assert!(parse_float(b"nan").unwrap().is_nan());
        assert_eq!(parse_float(b"1_0.5").unwrap(), 10.5);
        assert!(parse_float(b"1_.5").is_err());
        assert!(parse_float(b"0x10").is_err());
        assert!(parse_float(b"--1").is_err());
    }

    #[test]
    fn escapes_decode_as_python_does() {
        assert_eq!(escape_decode(b"a\\x41\\101\\n\\q").unwrap(), b"aAA\n\\q");
        assert!(escape_decode(b"\\x4").is_err());
        assert!(escape_decode(b"abc\\").is_err());
        assert_eq!(
            decode_raw_unicode_escape(b"a\\u00e9\\\\u1234\\U0001f600").unwrap(),
            vec![0x61, 0xe9, 0x5c, 0x5c, 0x75, 0x31, 0x32, 0x33, 0x34, 0x1f600]
        );
        assert!(decode_raw_unicode_escape(b"\\u12").is_err());
        assert!(decode_raw_unicode_escape(b"\\U00110000").is_err());
    }

    #[test]
    fn surrogatepass_utf8() {
        assert_eq!(check_utf8_surrogatepass(b"a\xed\xa0\x80b"), Ok(()));
        assert_eq!(check_utf8_surrogatepass(b"ab\xff"), Err(2));
        assert_eq!(
            decode_utf8_surrogatepass(b"a\xed\xb0\x80"),
            vec![0x61, 0xDC00]
        );
    }

    #[test]
    fn big_ints_beyond_python_limit_refuse_to_print() {
        let mut out = String::new();
        let huge = decode_long(&[0x7f; 4000]);
        assert!(repr_int(&huge, &mut out).is_err());
        assert!(repr_int(&decode_long(&[0xff]), &mut out).is_ok());
        assert_eq!(out, "-1");
    }
}
