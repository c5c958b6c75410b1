//! `recap bench device`: Gram + solve and top-k search on one device, with the GEMM rate
//! measured in the same run as the reference.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use rayon::prelude::*;

use crate::backend::{Backend, Base, GramStats, RowsRef, SearchTuning, StoredRows};
use crate::error::{Error, Result};

use super::common::DeviceArgs;

/// Options of `recap bench device`.
#[derive(Args, Debug)]
pub struct BackendBenchArgs {
    #[command(flatten)]
    device: DeviceArgs,
    /// Rows of the fit (image/caption pairs).
    #[arg(long, default_value_t = 566_000)]
    n: usize,
    /// Embedding dimension (fit and search).
    #[arg(long, default_value_t = 768)]
    d: usize,
    /// Query rows of the search.
    #[arg(long, default_value_t = 5_000)]
    q: usize,
    /// Datastore rows of the search.
    #[arg(long, default_value_t = 566_000)]
    m: usize,
    /// Values of k to search with (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "7,4096")]
    k: Vec<usize>,
    /// Timed repetitions (the best is reported).
    #[arg(long, alias = "reps", default_value_t = 3)]
    repeat: usize,
    /// Skip the fit benchmark.
    #[arg(long)]
    no_fit: bool,
    /// Skip the search benchmark.
    #[arg(long)]
    no_search: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Deterministic pseudo-random `n` values in [-1, 1), generated in parallel.
fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut v = vec![0f32; n];
    v.par_chunks_mut(1 << 16)
        .enumerate()
        .for_each(|(c, chunk)| {
            let mut s = (seed ^ (c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1;
            for x in chunk {
                s ^= s >> 12;
                s ^= s << 25;
                s ^= s >> 27;
                *x = ((s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u32 << 24) as f32)
                    * 2.0
                    - 1.0;
            }
        });
    v
}

fn best_of<T>(reps: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        last = Some(f()?);
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok((best, last.expect("at least one repetition")))
}

/// One timed measurement.
#[derive(serde::Serialize, Debug)]
struct Row {
    what: String,
    seconds: f64,
    gflops: f64,
    /// Fraction of the reference SGEMM rate of this run.
    of_sgemm: f64,
}

/// Run `recap bench device`.
pub fn run(args: BackendBenchArgs) -> Result<()> {
    let backend = args.device.backend()?;
    let mut rows = Vec::new();
    let sgemm_gflops = reference_sgemm(&args, backend.as_ref())?;
    let mut push = |what: String, seconds: f64, flops: f64| {
        let gflops = flops / seconds / 1e9;
        rows.push(Row {
            what,
            seconds,
            gflops,
            of_sgemm: gflops / sgemm_gflops,
        });
    };
    let d = args.d;
    if !args.no_fit {
        let x = random(args.n * d, 1);
        let y = random(args.n * d, 2);
        let chunk = backend.chunk_rows() * d;
        let (t, _) = best_of(args.repeat, || {
            let mut st = GramStats::new(d, d, true).on(Arc::clone(&backend));
            for (xc, yc) in x.chunks(chunk).zip(y.chunks(chunk)) {
                st.accumulate(xc, yc, xc.len() / d)?;
            }
            let mut a = st.xtx()?;
            let lambda = 1e-3 * (0..d).map(|i| a.row(i)[i]).sum::<f64>() / d as f64;
            (0..d).for_each(|i| a.row_mut(i)[i] += lambda);
            let b = st.xty();
            backend.cholesky_solve((&a).into(), (&b).into())
        })?;
        let (n, df) = (args.n as f64, d as f64);
        let flops = n * df * (df + 1.0) + 2.0 * n * df * df + df.powi(3) / 3.0 + 2.0 * df.powi(3);
        push(
            format!(
                "fit n={} d={d} (Gram + ridge Cholesky, from host memory)",
                args.n
            ),
            t,
            flops,
        );
    }
    if !args.no_search {
        let qs = random(args.q * d, 3);
        let xs = random(args.m * d, 4);
        let qr = RowsRef::new(&qs, args.q, d)?;
        let xr = RowsRef::new(&xs, args.m, d)?;
        let flops = 2.0 * args.q as f64 * args.m as f64 * d as f64;
        search_rows(&args, backend.as_ref(), qr, xr, flops, &mut push)?;
    }
    report(&args, &backend.name(), sgemm_gflops, &rows)
}

/// GFLOP/s of the reference SGEMM (device-resident 4096³ on CUDA, 2048³ on the CPU).
fn reference_sgemm(args: &BackendBenchArgs, backend: &dyn Backend) -> Result<f64> {
    #[cfg(any(feature = "cuda", feature = "cuda-13"))]
    if let Some(c) = cuda_of(args)? {
        let s = 4096;
        let t = c.time_sgemm(s, s, s, args.repeat)?;
        return Ok(2.0 * (s as f64).powi(3) / t / 1e9);
    }
    let s = 2048;
    let a = random(s * s, 5);
    let mut c = vec![0f32; s * s];
    let ar = RowsRef::new(&a, s, s)?;
    let (t, _) = best_of(args.repeat, || {
        let cm = crate::backend::RowsMut::new(&mut c, s, s)?;
        backend.gemm(
            1.0,
            ar,
            crate::backend::Op::N,
            ar,
            crate::backend::Op::T,
            0.0,
            cm,
        )
    })?;
    Ok(2.0 * (s as f64).powi(3) / t / 1e9)
}

#[cfg(any(feature = "cuda", feature = "cuda-13"))]
fn cuda_of(args: &BackendBenchArgs) -> Result<Option<crate::backend::cuda::CudaBackend>> {
    let opts = crate::backend::BackendOptions {
        allow_tf32: args.device.tf32,
    };
    match args.device.device {
        crate::backend::Device::Cpu => Ok(None),
        crate::backend::Device::Cuda(n) => {
            crate::backend::cuda::CudaBackend::open(n, opts).map(Some)
        }
        crate::backend::Device::Auto => Ok(crate::backend::cuda::CudaBackend::open(0, opts).ok()),
    }
}

fn search_rows(
    args: &BackendBenchArgs,
    backend: &dyn Backend,
    qr: RowsRef<'_, f32>,
    xr: RowsRef<'_, f32>,
    flops: f64,
    push: &mut impl FnMut(String, f64, f64),
) -> Result<()> {
    let shape = format!("q={} m={} d={}", args.q, args.m, args.d);
    #[cfg(any(feature = "cuda", feature = "cuda-13"))]
    if let Some(c) = cuda_of(args)? {
        let base = c.upload(xr)?;
        let (t, _) = best_of(args.repeat, || c.score_tiles_only(qr, &base))?;
        push(
            format!("score tiles only (cuBLAS, same tiles) {shape}"),
            t,
            flops,
        );
        let t_single = c.time_sgemm(args.q, args.m, args.d, args.repeat);
        if let Ok(ts) = t_single {
            push(
                format!("one cuBLAS SGEMM {shape} (q x m output)"),
                ts,
                flops,
            );
        }
        for &k in &args.k {
            let (t, _) = best_of(args.repeat, || c.search_resident(qr, &base, k, None))?;
            push(
                format!("search k={k} (resident datastore) {shape}"),
                t,
                flops,
            );
        }
        return Ok(());
    }
    for &k in &args.k {
        let base = Base {
            rows: StoredRows::F32(xr.as_slice()),
            dim: xr.cols(),
        };
        let tuning = SearchTuning::default();
        let (t, _) = best_of(args.repeat, || backend.search(qr, base, k, None, &tuning))?;
        push(format!("search k={k} {shape}"), t, flops);
    }
    Ok(())
}

fn report(args: &BackendBenchArgs, device: &str, sgemm: f64, rows: &[Row]) -> Result<()> {
    if args.json {
        let v = serde_json::json!({ "device": device, "sgemm_gflops": sgemm, "rows": rows });
        let s =
            serde_json::to_string_pretty(&v).map_err(|e| Error::invalid("json", e.to_string()))?;
        println!("{s}");
        return Ok(());
    }
    println!("device: {device}");
    println!("reference SGEMM: {sgemm:.0} GFLOP/s");
    println!(
        "{:>10} {:>10} {:>9}  what",
        "seconds", "GFLOP/s", "of SGEMM"
    );
    for r in rows {
        println!(
            "{:>10.4} {:>10.0} {:>8.1}%  {}",
            r.seconds,
            r.gflops,
            100.0 * r.of_sgemm,
            r.what
        );
    }
    Ok(())
}
