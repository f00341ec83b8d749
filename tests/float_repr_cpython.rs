//! Python's float `repr` on the values where shortest-digit algorithms most often disagree:
//! every power of two (the rounding interval is lopsided there), small odd multiples of
//! powers of two across the exponent range, subnormals, and the decimal boundaries of
//! repr's fixed/exponent switch. `dis` prints every float through this repr.

mod common;

use pklinspect::pytext;

const HARD_FLOATS: &str = r#"
import struct, sys
values = set()
for k in range(-1074, 1024):
    values.add(2.0 ** k)
for n in range(1, 400, 2):
    for k in range(-1074, 1000, 5):
        try:
            values.add(float(n) * 2.0 ** k)
        except OverflowError:
            pass
for bits in range(1, 3000):
    values.add(struct.unpack("<d", struct.pack("<Q", bits))[0])
for e in range(-30, 31):
    for m in (1, 9.999999999999999, 9.999999999999998, 5, 1.0000000000000002):
        values.add(m * 10.0 ** e)
values.add(sys.float_info.max)
for v in sorted(values):
    if v == v and v not in (float("inf"),):
        print(struct.pack(">d", v).hex(), repr(v))
        print(struct.pack(">d", -v).hex(), repr(-v))
"#;

#[test]
fn float_repr_matches_cpython_on_powers_of_two_and_boundaries() {
    let Some(python) = common::python3() else {
        return;
    };
    let output = common::run_python(python, HARD_FLOATS, &[]);
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
    assert!(checked > 100_000, "{checked}");
}
