//! Inputs shared by the benchmarks.

/// `[{"a": i, "b": "x"}, ...]` at protocol 4, built by hand so the benchmarks need no
/// Python: MEMOIZE after each object, APPENDS batches of 1000 as pickle writes them.
pub fn many_small_dicts(n: u32) -> Vec<u8> {
    let mut p = vec![0x80, 4, b']', 0x94, b'('];
    for i in 0..n {
        p.extend_from_slice(b"}\x94(\x8c\x01a\x94J");
        p.extend_from_slice(&(i as i32).to_le_bytes());
        p.extend_from_slice(b"\x8c\x01b\x94\x8c\x01x\x94u");
        if i % 1000 == 999 {
            p.extend_from_slice(b"e(");
        }
    }
    p.extend_from_slice(b"e.");
    p
}
