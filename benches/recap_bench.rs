//! Criterion benchmarks, one group per concern.
use criterion::{criterion_group, criterion_main, Criterion};

mod retrieve;
mod synth_bench;

fn placeholder(_c: &mut Criterion) {}

criterion_group!(
    benches,
    placeholder,
    synth_bench::synth_generate,
    retrieve::bench
);
criterion_main!(benches);
