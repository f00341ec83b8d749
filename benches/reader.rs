//! Benchmarks for the opcode reader and `dis` over a synthetic opcode-dense pickle.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pklinspect::dis::{dis_all, DisOptions};
use pklinspect::OpReader;

#[path = "common/mod.rs"]
mod common;
use common::many_small_dicts;

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
