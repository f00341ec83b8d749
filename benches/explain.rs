//! `explain` cost: it grows with opcodes, not with payload bytes. The same array pickle
//! with a 1 MiB and a 1 GiB payload (sparse files, memory-mapped) must take the same time;
//! an opcode-dense pickle shows the per-opcode cost; a protocol-2 `bytes` (a latin-1
//! BINUNICODE) costs one UTF-8 validation of its text. The comparisons against CPython's
//! `pickle.load` and `cat` are `scripts/bench_explain.sh`.

use std::io::Write;

use criterion::{criterion_group, criterion_main, Criterion};
use pklinspect::input::Input;
use pklinspect::inspect::{inspect, Options};

#[path = "common/mod.rs"]
mod common;
use common::many_small_dicts;

/// A float64 array of `n` elements as numpy 2 pickles it at protocol 4, written sparse.
fn array_pickle(dir: &std::path::Path, n: u64) -> std::path::PathBuf {
    let mut head = b"\x80\x04\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01\x8a\x08".to_vec();
    head.extend_from_slice(&n.to_le_bytes());
    head.extend_from_slice(b"\x85\x94h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02f8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89\x8e");
    head.extend_from_slice(&(n * 8).to_le_bytes());
    let path = dir.join(format!("array_{n}.pkl"));
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&head).unwrap();
    f.set_len(head.len() as u64 + n * 8).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"\x94t\x94b.").unwrap();
    path
}

/// `bytes` of `n` pseudo-random bytes as protocols 0-2 pickle them:
/// `_codecs.encode(text, 'latin1')`, the text one BINUNICODE (bytes >= 0x80 take two UTF-8
/// bytes), so explain's cost is validating that text once.
fn latin1_bytes_pickle(n: usize) -> Vec<u8> {
    let mut text = Vec::with_capacity(n * 2);
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let ch = char::from(x as u8);
        let mut buf = [0; 2];
        text.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
    let mut out = b"\x80\x02c_codecs\nencode\nq\x00X".to_vec();
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(b"q\x01X\x06\x00\x00\x00latin1q\x02\x86q\x03Rq\x04.");
    out
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let options = Options::default();
    let mut group = c.benchmark_group("explain-array-payload");
    for (label, n) in [("1MiB", 1u64 << 17), ("1GiB", 1u64 << 27)] {
        let path = array_pickle(dir.path(), n);
        group.bench_function(label, |b| {
            b.iter(|| {
                let input = Input::open(&path).unwrap();
                inspect("bench", input.bytes(), &options)
                    .unwrap()
                    .pickles
                    .len()
            })
        });
    }
    group.finish();
    let dense = many_small_dicts(100_000);
    c.bench_function("explain-opcode-dense-100k-dicts", |b| {
        b.iter(|| inspect("bench", &dense, &options).unwrap().pickles.len())
    });
    // Protocol 2's bytes: one pass of UTF-8 validation over the text, nothing more.
    let latin1 = latin1_bytes_pickle(16 << 20);
    c.bench_function("explain-protocol-2-bytes-16MiB", |b| {
        b.iter(|| inspect("bench", &latin1, &options).unwrap().arrays.len())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
