//! Criterion group `retrieve`: exact top-k search (f32 and f16 storage) and the bare tile
//! GEMM of the same shape. Throughput is in queries.

use criterion::{BenchmarkId, Criterion, Throughput};
use recap::backend::{CpuBackend, RowsRef};
use recap::retrieve::{Datastore, SearchOptions, Storage};
use recap::RowMatrix;

fn rows(n: usize, d: usize, seed: u64) -> RowMatrix<f32> {
    let mut s = seed | 1;
    let data = (0..n * d)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5 + if i % d == 0 { 1.0 } else { 0.0 }
        })
        .collect();
    RowMatrix::from_vec(n, d, data).unwrap()
}

/// `retrieve/search/{f32,f16}/k` and `retrieve/gemm_only` on q = 256, m = 20,000, d = 512.
pub fn bench(c: &mut Criterion) {
    let (q, m, d) = (256, 20_000, 512);
    let data = rows(m, d, 1);
    let queries = rows(q, d, 2);
    let ds32 = Datastore::cosine(data, Storage::F32).unwrap();
    let ds16 = ds32.to_storage(Storage::F16).unwrap();
    let opts = SearchOptions::default();
    let mut g = c.benchmark_group("retrieve");
    g.sample_size(10);
    g.throughput(Throughput::Elements(q as u64));
    for k in [1usize, 7, 100] {
        g.bench_with_input(BenchmarkId::new("search_f32", k), &k, |b, &k| {
            b.iter(|| ds32.search_with(&queries, k, &opts).unwrap())
        });
    }
    g.bench_function(BenchmarkId::new("search_f16", 7), |b| {
        b.iter(|| ds16.search_with(&queries, 7, &opts).unwrap())
    });
    let mut unit = queries.clone();
    unit.l2_normalize_rows("q").unwrap();
    g.bench_function("gemm_only", |b| {
        let q = RowsRef::new(unit.as_slice(), q, d).unwrap();
        let cpu = CpuBackend::new();
        b.iter(|| cpu.search_gemm_only(q, ds32.base()).unwrap())
    });
    g.finish();
}
