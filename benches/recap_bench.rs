//! Criterion benchmarks, one group per concern.
use criterion::{criterion_group, criterion_main, Criterion};

mod retrieve;

fn placeholder(_c: &mut Criterion) {}

criterion_group!(benches, placeholder, retrieve::bench);
criterion_main!(benches);
