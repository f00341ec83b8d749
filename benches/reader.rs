//! Benchmarks for the opcode reader and `dis` over a synthetic opcode-dense pickle.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pklinspect::dis::{dis_all, DisOptions};
use pklinspect::OpReader;

/// A protocol-4 style pickle of `n` small dicts in a list, built by hand so the
/// benchmark needs no Python: `[{"a": i, "b": "x"}, ...]` with MEMOIZE after each dict.
fn many_small_dicts(n: u32) -> Vec<u8> {
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

fn bench(c: &mut Criterion) {
    let data = many_small_dicts(100_000);
    let mut group = c.benchmark_group("opcode-dense");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("reader", |b| {
        b.iter(|| OpReader::new(&data, 0).filter(|op| op.is_ok()).count())
    });
    group.bench_function("dis", |b| {
        b.iter(|| {
            let mut sink = std::io::sink();
            dis_all(&data, &DisOptions::default(), &mut sink).is_ok()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
