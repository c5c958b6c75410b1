//! Criterion group `align`: Gram accumulation of one chunk, ridge and Procrustes solves.

use criterion::{BenchmarkId, Criterion, Throughput};
use std::sync::Arc;

use recap::align::{fit_matrices, FitOptions, GramPrecision, GramStats, Method};
use recap::backend::{Backend, CpuBackend};
use recap::RowMatrix;

fn data(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..rows * cols)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.3
        })
        .collect()
}

/// Benchmarks of the alignment core.
pub fn align(c: &mut Criterion) {
    let mut g = c.benchmark_group("align");
    g.sample_size(10);
    let (rows, d) = (4096, 512);
    let x = data(rows, d, 1);
    let y = data(rows, d, 2);
    // The portable (faer) Gram path, as a CPU without AVX-512 runs it.
    let portable: Arc<dyn Backend> = Arc::new(CpuBackend::portable());
    for p in [GramPrecision::F32, GramPrecision::F64] {
        // Work counted as the peers count it: XᵀX as a full GEMM plus XᵀY.
        g.throughput(Throughput::Elements((2 * rows * d * (d + d)) as u64));
        g.bench_function(
            BenchmarkId::new("gram_chunk_4096x512_portable", format!("{p:?}")),
            |b| {
                let mut s = GramStats::new(d, d, true)
                    .with_precision(p)
                    .on(portable.clone());
                b.iter(|| s.accumulate(&x, &y, rows).unwrap())
            },
        );
    }
    gram_stats_chunks(&mut g);
    g.throughput(Throughput::Elements(1));
    let xm = RowMatrix::from_vec(rows, d, x).unwrap();
    let ym = RowMatrix::from_vec(rows, d, y).unwrap();
    for m in [Method::Ridge, Method::Procrustes] {
        let mut o = FitOptions::new(m).lambda(1.0);
        o.precision = recap::align::PrecisionChoice::F32;
        g.bench_function(BenchmarkId::new("fit_4096x512", format!("{m:?}")), |b| {
            b.iter(|| fit_matrices(&xm, &ym, &o).unwrap())
        });
    }
    g.finish();
}

/// One streamed chunk of `GramStats` at the CLI's chunk size and CLIP ViT-L's width, as a fit
/// runs it (the fused AVX-512 path on CPUs that have it, else faer), with and without `XᵀX`;
/// throughput in useful flops (`n·d·(d+1)` for the triangle, `2·n·d²` for `XᵀY`).
fn gram_stats_chunks(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let (rows, d) = (4096, 768);
    let x = data(rows, d, 3);
    let y = data(rows, d, 4);
    let path = if CpuBackend::has_avx512() {
        "fused"
    } else {
        "faer"
    };
    for with_xtx in [true, false] {
        let flops = 2 * rows * d * d + if with_xtx { rows * d * (d + 1) } else { 0 };
        g.throughput(Throughput::Elements(flops as u64));
        let name = if with_xtx { "ridge" } else { "procrustes" };
        g.bench_function(
            BenchmarkId::new(format!("gram_stats_chunk_4096x768_{path}"), name),
            |b| {
                let mut s = GramStats::new(d, d, with_xtx).with_precision(GramPrecision::F32);
                b.iter(|| s.accumulate(&x, &y, rows).unwrap())
            },
        );
    }
}
