//! Criterion benchmarks, one group per concern (`cargo bench --bench recap_bench -- GROUP`).
use criterion::{criterion_group, criterion_main};

mod align;
mod metrics_bench;
mod npy_read;
mod retrieve;
mod synth_bench;

criterion_group!(
    benches,
    align::align,
    npy_read::npy_read,
    retrieve::bench,
    metrics_bench::bench,
    synth_bench::synth_generate
);
criterion_main!(benches);
