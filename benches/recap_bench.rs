//! Criterion benchmarks, one group per concern.
use criterion::{criterion_group, criterion_main, Criterion};

mod metrics_bench;
mod npy_read;

fn placeholder(_c: &mut Criterion) {}

criterion_group!(
    benches,
    placeholder,
    npy_read::npy_read,
    metrics_bench::bench
);
criterion_main!(benches);
