//! Criterion benchmarks, one group per concern.
use criterion::{criterion_group, criterion_main, Criterion};

mod align;

fn placeholder(_c: &mut Criterion) {}

criterion_group!(benches, placeholder, align::align);
criterion_main!(benches);
