//! Criterion benchmarks, one group per concern.
use criterion::{criterion_group, criterion_main, Criterion};

mod metrics_bench;

fn placeholder(_c: &mut Criterion) {}

criterion_group!(benches, placeholder, metrics_bench::bench);
criterion_main!(benches);
