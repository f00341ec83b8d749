//! Python's text rules (repr, int(), float(), printability) against the running CPython.

mod common;

use pklinspect::pytext;

#[test]
fn printable_table_matches_cpython_isprintable() {
    let Some(python) = common::python3() else {
        return;
    };
    let script = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/printable_ranges.py"),
    )
    .unwrap();
    let output = common::run_python(python, &script, &["--plain"]);
    let theirs = String::from_utf8(output.stdout).unwrap();
    let mut ours = Vec::new();
    let mut start = None;
    for cp in 0..=0x110000u32 {
        let printable = cp < 0x110000 && pytext::is_printable(cp);
        match (printable, start) {
            (true, None) => start = Some(cp),
            (false, Some(s)) => {
                ours.push(format!("{s} {}", cp - 1));
                start = None;
            }
            _ => {}
        }
    }
    let theirs: Vec<&str> = theirs.lines().collect();
    assert_eq!(ours, theirs);
}

/// 20,000 doubles from every corner of the bit space, and Python's repr of each.
const FLOAT_REPRS: &str = r#"
import random, struct
rng = random.Random(1234)
values = [0.0, -0.0, 1e16, 1e15, 9999999999999998.0, 1e-4, 1e-5, 0.1, 5e-324, 2.2250738585072014e-308]
for _ in range(20000):
    kind = rng.random()
    if kind < 0.5:
        values.append(struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0])
    elif kind < 0.8:
        values.append(rng.uniform(-1, 1) * 10 ** rng.randint(-20, 20))
    else:
        values.append(float(rng.randint(-10**6, 10**6)) / 2 ** rng.randint(0, 30))
for v in values:
    print(struct.pack(">d", v).hex(), repr(v))
"#;

#[test]
fn float_repr_matches_cpython() {
    let Some(python) = common::python3() else {
        return;
    };
    let output = common::run_python(python, FLOAT_REPRS, &[]);
    let text = String::from_utf8(output.stdout).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let (hex, want) = line.split_once(' ').unwrap();
        let bits = u64::from_str_radix(hex, 16).unwrap();
        let mut got = String::new();
        pytext::repr_float(f64::from_bits(bits), &mut got);
        assert_eq!(got, want, "bits {hex}");
        checked += 1;
    }
    assert!(checked > 20_000);
}

/// Strings of random code points (all planes, surrogates, controls) and their repr,
/// plus random bytes and their repr, as UTF-8 hex so the transport is exact.
const TEXT_REPRS: &str = r#"
import random
rng = random.Random(99)
for _ in range(3000):
    n = rng.randint(0, 12)
    cps = []
    for _ in range(n):
        r = rng.random()
        if r < 0.3: cps.append(rng.randint(0, 0x7f))
        elif r < 0.5: cps.append(rng.randint(0x80, 0x3ff))
        elif r < 0.7: cps.append(rng.randint(0x400, 0xffff))
        else: cps.append(rng.randint(0x10000, 0x10ffff))
    s = "".join(map(chr, cps))
    print("s", ",".join(map(str, cps)), repr(s).encode("utf-8").hex())
    b = bytes(rng.choice(b"'\\\"ab\x00\xff") if rng.random() < 0.3 else rng.getrandbits(8) for _ in range(n))
    print("b", b.hex(), repr(b).encode().hex())
    print("a", b.hex(), repr(bytearray(b)).encode().hex())
"#;

#[test]
fn str_and_bytes_repr_match_cpython() {
    let Some(python) = common::python3() else {
        return;
    };
    let output = common::run_python(python, TEXT_REPRS, &[]);
    let text = String::from_utf8(output.stdout).unwrap();
    let unhex = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    };
    for line in text.lines() {
        let mut parts = line.split(' ');
        let (kind, value, want) = (parts.next(), parts.next(), parts.next());
        let want = String::from_utf8(unhex(want.unwrap())).unwrap();
        let mut got = String::new();
        match kind {
            Some("s") => {
                let cps: Vec<u32> = value
                    .unwrap()
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().unwrap())
                    .collect();
                pytext::repr_str(&cps, &mut got);
            }
            Some("a") => pytext::repr_bytearray(&unhex(value.unwrap()), &mut got),
            _ => pytext::repr_bytes(&unhex(value.unwrap()), &mut got),
        }
        assert_eq!(got, want, "{line}");
    }
}

/// Python's int() and float() over tricky literals: the result, or "ERR".
const NUMBER_PARSES: &str = r#"
cases = [b"0", b"00", b"01", b"-0", b"+7", b" 12 ", b"\t-3\n", b"1_000", b"1__0", b"_1", b"1_",
         b"12L", b"", b" ", b"0x10", b"1e5", b"1.5", b"1.", b".5", b".", b"inf", b"-Infinity",
         b"nan", b"-NaN", b"1_0.5", b"1_.5", b"1e1_0", b"1e", b"e5", b"--1", b"+-1", b"1e+5",
         b"9" * 30, b"-" + b"9" * 30, b"0000000000000000000000001", b"1 2", b"\x00", b"\xa01",
         b"2.5e-3", b"1E400", b"-1e-400", b"0.1e-1_0"]
for c in cases:
    try: i = repr(int(c))
    except ValueError: i = "ERR"
    try: f = repr(float(c))
    except ValueError: f = "ERR"
    print(c.hex(), i, f)
"#;

#[test]
fn int_and_float_parsing_match_cpython() {
    let Some(python) = common::python3() else {
        return;
    };
    let output = common::run_python(python, NUMBER_PARSES, &[]);
    let text = String::from_utf8(output.stdout).unwrap();
    for line in text.lines() {
        let mut parts = line.split(' ');
        let hex = parts.next().unwrap();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let (want_int, want_float) = (parts.next().unwrap(), parts.next().unwrap());
        let got_int = pytext::parse_int(&bytes)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| "ERR".into());
        let got_float = pytext::parse_float(&bytes)
            .map(|v| {
                let mut s = String::new();
                pytext::repr_float(v, &mut s);
                s
            })
            .unwrap_or_else(|_| "ERR".into());
        assert_eq!(got_int, want_int, "int({bytes:?})");
        assert_eq!(got_float, want_float, "float({bytes:?})");
    }
}
