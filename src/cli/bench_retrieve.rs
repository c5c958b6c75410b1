//! `recap bench retrieve`: throughput of the exact top-k search.
//!
//! Runs on the peers' files (`--texts datastore.npy --images queries.npy`) or on
//! synthetic unit-norm data (`--m --q --d`). For each screening choice (`--screen`, default
//! `none,int8,bf16`: the plain f32 search and the two exact screened searches, with the
//! rescored rows per query and the time to build each quantized copy), each k (default 1, 7,
//! 100), and for f16 storage (k = 7, plain search) it reports the median search time over `--repeat` runs, queries/s and
//! GFLOP/s (= 2·q·m·d / time). In the same run it measures the GEMM part alone (the same
//! packed tile loop without selection) and the machine's f32 GEMM rate (faer `matmul` of
//! `--peak-n`³), and the peak RSS after the f32 searches (datastore + queries + results) and
//! at the end (f16 copy added). `--out PREFIX` writes `PREFIX_k7_indices.npy` /
//! `PREFIX_k7_scores.npy` (and `PREFIX_f16_k7_*`) for the peers' `compare_topk.py`;
//! `--jsonl FILE` appends peers-compatible `"kind": "topk"` lines for `table.py`.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::common::ComputeArgs;
use crate::backend::{CpuBackend, RowsRef, ScreenMode};
use crate::error::{Error, Result};
use crate::io::npy;
use crate::matrix::RowMatrix;
use crate::retrieve::{Datastore, Matches, Screen, ScreenStats, SearchOptions, Storage};

/// Options of `recap bench retrieve`.
#[derive(Args, Debug)]
pub struct BenchRetrieveArgs {
    /// Text embeddings, the datastore (`m x d` .npy); synthetic data when absent.
    #[arg(long, alias = "datastore", requires = "images", value_name = "FILE")]
    pub texts: Option<PathBuf>,
    /// Image embeddings, the queries (`q x d` .npy).
    #[arg(long, alias = "queries", requires = "texts", value_name = "FILE")]
    pub images: Option<PathBuf>,
    /// Synthetic datastore rows.
    #[arg(long, default_value_t = 100_000)]
    pub m: usize,
    /// Synthetic queries.
    #[arg(long, default_value_t = 1_000)]
    pub q: usize,
    /// Synthetic dimension.
    #[arg(long, default_value_t = 512)]
    pub d: usize,
    /// Values of k to time (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 7, 100])]
    pub k: Vec<usize>,
    /// Screening choices to time (comma-separated: none, int8, bf16, auto).
    #[arg(long, value_delimiter = ',', default_values_t = vec![Screen::None, Screen::Int8, Screen::Bf16])]
    pub screen: Vec<Screen>,
    /// Also time f16 storage at this k (0 = skip).
    #[arg(long, default_value_t = 7)]
    pub f16_k: usize,
    /// Timed searches per configuration (median reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Queries per block (0 = automatic).
    #[arg(long, default_value_t = 0)]
    pub query_block: usize,
    /// Size n of the n x n x n faer GEMM used as the machine's f32 rate (0 = skip).
    #[arg(long, default_value_t = 2048)]
    pub peak_n: usize,
    /// Label for the JSON lines (`_k<k>` is appended).
    #[arg(long, default_value = "")]
    pub label: String,
    /// Output prefix: `PREFIX_k<k>_{indices,scores}.npy`, `PREFIX_f16_k<k>_...`.
    #[arg(long, alias = "out", value_name = "PREFIX")]
    pub out_prefix: Option<String>,
    /// Append peers-compatible `"kind": "topk"` JSON lines to this file.
    #[arg(long)]
    pub jsonl: Option<PathBuf>,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

/// One timed configuration.
struct Timing {
    k: usize,
    storage: Storage,
    runs: Vec<f64>,
    /// What the screen did (None: plain search).
    stats: Option<ScreenStats>,
}

impl Timing {
    fn method(&self) -> String {
        let storage = format!("{:?}", self.storage).to_lowercase();
        match &self.stats {
            Some(s) => format!("recap_{storage}_screen_{}", s.mode.name()),
            None => format!("recap_{storage}"),
        }
    }
}

impl Timing {
    fn sorted(&self) -> Vec<f64> {
        let mut r = self.runs.clone();
        r.sort_by(|a, b| a.total_cmp(b));
        r
    }

    fn median(&self) -> f64 {
        let r = self.sorted();
        r[r.len() / 2]
    }
}

/// What the run measured, for the report.
struct Measured {
    shape: (usize, usize, usize),
    gflop: f64,
    load_s: f64,
    normalize_s: f64,
    gemm_s: f64,
    peak: Option<f64>,
    int8_peak: Option<f64>,
    bf16_peak: Option<f64>,
    amx_peak: Option<f64>,
    copies: Vec<(String, f64, usize)>,
    rss_f32_gb: Option<f64>,
    timings: Vec<Timing>,
    outs: Vec<Option<String>>,
}

/// Run the benchmark.
pub fn run(args: BenchRetrieveArgs) -> Result<()> {
    args.compute.in_pool(|| run_in_pool(&args))
}

fn run_in_pool(args: &BenchRetrieveArgs) -> Result<()> {
    let t = Instant::now();
    let (data, queries) = load(args)?;
    let load_s = t.elapsed().as_secs_f64();
    let (q, m, d) = (queries.rows(), data.rows(), data.cols());
    let gflop = 2.0 * q as f64 * m as f64 * d as f64 * 1e-9;
    let t = Instant::now();
    let backend = args.compute.backend()?;
    let ds32 = Datastore::cosine(data, Storage::F32)?.on(backend.clone());
    let normalize_s = t.elapsed().as_secs_f64();
    eprintln!(
        "q={q} m={m} d={d} on {} load {load_s:.3} s normalize {normalize_s:.3} s",
        backend.name()
    );
    let opts = SearchOptions {
        query_block: args.query_block,
        ..Default::default()
    };
    let mut unit_queries = queries.clone();
    unit_queries.l2_normalize_rows("queries")?;
    let gemm_s = time_gemm_part(&ds32, &unit_queries, &opts, args.repeat)?;
    drop(unit_queries);
    let mut timings = Vec::new();
    let mut outs = Vec::new();
    let mut copies = Vec::new();
    for &screen in &args.screen {
        let mode = screen.resolve(d)?;
        if let Some(mode) = mode {
            let t = Instant::now();
            let bytes = ds32.screen_copy(mode)?.bytes();
            copies.push((mode.name().to_string(), t.elapsed().as_secs_f64(), bytes));
        }
        let opts = SearchOptions { screen, ..opts };
        for &k in &args.k {
            let (t, matches) = time_search(&ds32, &queries, k, &opts, args.repeat)?;
            let tag = match mode {
                Some(mode) => format!("{}_k{k}", mode.name()),
                None => format!("k{k}"),
            };
            outs.push(write_prefix(args, &tag, &matches)?);
            timings.push(t);
        }
    }
    let rss_f32_gb = peak_rss_gb();
    if args.f16_k > 0 {
        let ds16 = ds32.to_storage(Storage::F16)?;
        drop(ds32);
        let opts = SearchOptions {
            screen: Screen::None,
            ..opts
        };
        let (t, matches) = time_search(&ds16, &queries, args.f16_k, &opts, args.repeat)?;
        outs.push(write_prefix(
            args,
            &format!("f16_k{}", args.f16_k),
            &matches,
        )?);
        timings.push(t);
    }
    let peak = machine_gemm_gflops(args.peak_n, args.repeat);
    let amx_peak = if args.peak_n > 0 {
        crate::backend::cpu::screen::amx::peak_gops(2_000_000)
    } else {
        None
    };
    let (int8_peak, bf16_peak) = if args.peak_n > 0 {
        (
            crate::backend::cpu::screen::vnni::peak_gops(ScreenMode::Int8, 20_000_000),
            crate::backend::cpu::screen::vnni::peak_gops(ScreenMode::Bf16, 5_000_000),
        )
    } else {
        (None, None)
    };
    let measured = Measured {
        shape: (q, m, d),
        gflop,
        load_s,
        normalize_s,
        gemm_s,
        peak,
        int8_peak,
        bf16_peak,
        amx_peak,
        copies,
        rss_f32_gb,
        timings,
        outs,
    };
    report(args, &measured);
    if let Some(path) = &args.jsonl {
        append_jsonl(path, args, &measured)?;
    }
    Ok(())
}

/// Write `PREFIX_<tag>_indices.npy` / `_scores.npy`; returns the prefix written.
fn write_prefix(args: &BenchRetrieveArgs, tag: &str, m: &Matches) -> Result<Option<String>> {
    let Some(prefix) = &args.out_prefix else {
        return Ok(None);
    };
    let p = format!("{prefix}_{tag}");
    npy::write_i64(
        format!("{p}_indices.npy"),
        m.indices.rows(),
        m.indices.cols(),
        m.indices.as_slice(),
    )?;
    npy::write_f32(format!("{p}_scores.npy"), &m.scores)?;
    Ok(Some(p))
}

fn append_jsonl(path: &PathBuf, args: &BenchRetrieveArgs, r: &Measured) -> Result<()> {
    use std::io::Write;
    let (q, m, d) = r.shape;
    let mut lines = String::new();
    for (t, out) in r.timings.iter().zip(&r.outs) {
        let s = t.sorted();
        let med = t.median();
        let v = serde_json::json!({
            // table.py groups by (label, method): one label per k.
            "kind": "topk", "label": format!("{}{}k{}", args.label, if args.label.is_empty() { "" } else { "_" }, t.k),
            "method": t.method(),
            "screen": t.stats.as_ref().map(|s| s.mode.name()),
            "rescored_mean": t.stats.as_ref().map(|s| s.rescored_mean),
            "rescored_max": t.stats.as_ref().map(|s| s.rescored_max),
            "plain_queries": t.stats.as_ref().map(|s| s.plain_queries),
            "machine_int8_gops": r.int8_peak, "machine_bf16_gops": r.bf16_peak,
            "machine_amx_int8_gops": r.amx_peak,
            "screen_kernel": t.stats.as_ref().map(|s| s.kernel),
            "q": q, "m": m, "d": d, "k": t.k, "threads": rayon::current_num_threads(),
            "load_s": r.load_s, "normalize_s": r.normalize_s, "build_s": 0.0,
            "search_s": med, "search_min_s": s[0], "search_max_s": s[s.len() - 1],
            "search_runs": t.runs, "gflop": r.gflop, "gflops": r.gflop / med,
            "qps": q as f64 / med, "out": out,
            "gemm_only_s": r.gemm_s, "gemm_only_gflops": r.gflop / r.gemm_s,
            "machine_gemm_gflops": r.peak, "max_rss_gb": peak_rss_gb(),
            "max_rss_f32_phase_gb": r.rss_f32_gb,
        });
        lines.push_str(&v.to_string());
        lines.push('\n');
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.write_all(lines.as_bytes())
        .map_err(|e| Error::io(path, e))
}

fn load(args: &BenchRetrieveArgs) -> Result<(RowMatrix<f32>, RowMatrix<f32>)> {
    match (&args.texts, &args.images) {
        (Some(ds), Some(qs)) => Ok((npy::read_f32(ds)?, npy::read_f32(qs)?)),
        _ => Ok((synthetic(args.m, args.d, 1), synthetic(args.q, args.d, 2))),
    }
}

/// Deterministic pseudo-Gaussian rows (sum of 4 uniforms) with a shared offset, so that
/// scores cluster like CLIP embeddings do.
pub fn synthetic(rows: usize, cols: usize, seed: u64) -> RowMatrix<f32> {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let data = (0..rows * cols)
        .map(|i| next() + next() + next() + next() + if i % cols == 0 { 1.0 } else { 0.0 })
        .collect();
    RowMatrix::from_vec(rows, cols, data).expect("rows x cols")
}

fn time_gemm_part(
    ds: &Datastore,
    queries: &RowMatrix<f32>,
    opts: &SearchOptions<'_>,
    repeat: usize,
) -> Result<f64> {
    let mut runs = Vec::new();
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        let _ = opts;
        let q = RowsRef::new(queries.as_slice(), queries.rows(), queries.cols())?;
        let sum = CpuBackend::new().search_gemm_only(q, ds.base())?;
        runs.push(t.elapsed().as_secs_f64());
        std::hint::black_box(sum);
    }
    runs.sort_by(|a, b| a.total_cmp(b));
    Ok(runs[runs.len() / 2])
}

/// Median GFLOP/s of an `n x n x n` f32 faer matmul on the current rayon pool.
fn machine_gemm_gflops(n: usize, repeat: usize) -> Option<f64> {
    if n == 0 {
        return None;
    }
    use faer::linalg::matmul::matmul;
    use faer::{Accum, Mat, Par};
    let a = Mat::<f32>::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f32 * 0.1);
    let b = Mat::<f32>::from_fn(n, n, |i, j| ((i * 5 + j) % 13) as f32 * 0.1);
    let mut c = Mat::<f32>::zeros(n, n);
    let par = Par::rayon(rayon::current_num_threads());
    let mut runs = Vec::new();
    for _ in 0..repeat.max(1) + 1 {
        let t = Instant::now();
        matmul(
            c.as_mut(),
            Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            1.0f32,
            par,
        );
        runs.push(t.elapsed().as_secs_f64());
    }
    runs.remove(0);
    runs.sort_by(|x, y| x.total_cmp(y));
    std::hint::black_box(&c);
    Some(2.0 * (n as f64).powi(3) * 1e-9 / runs[runs.len() / 2])
}

fn time_search(
    ds: &Datastore,
    queries: &RowMatrix<f32>,
    k: usize,
    opts: &SearchOptions<'_>,
    repeat: usize,
) -> Result<(Timing, Matches)> {
    let mut runs = Vec::new();
    let mut last = None;
    let mut stats = None;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        let (m, s) = ds.search_report(queries, k, opts)?;
        runs.push(t.elapsed().as_secs_f64());
        last = Some(m);
        stats = s;
    }
    let timing = Timing {
        k,
        storage: ds.storage(),
        runs,
        stats,
    };
    Ok((timing, last.expect("at least one run")))
}

fn report(args: &BenchRetrieveArgs, r: &Measured) {
    let (q, m, d) = r.shape;
    let gflop = r.gflop;
    let gemm_rate = gflop / r.gemm_s;
    println!(
        "recap bench retrieve: q={q} m={m} d={d} ({gflop:.1} GFLOP per search), threads={}",
        rayon::current_num_threads()
    );
    if let Some(p) = r.peak {
        println!(
            "  machine f32 GEMM (faer {n}^3): {p:.1} GFLOP/s",
            n = args.peak_n
        );
    }
    for (name, p) in [
        ("int8 vpdpbusd", r.int8_peak),
        ("bf16 vdpbf16ps", r.bf16_peak),
        ("int8 AMX tdpbusd", r.amx_peak),
    ] {
        if let Some(p) = p {
            println!("  machine {name} peak (registers only): {p:.1} GOP/s");
        }
    }
    for (mode, s, bytes) in &r.copies {
        println!(
            "  {mode} copy: built in {s:.3} s, {:.3} GB",
            *bytes as f64 / 1e9
        );
    }
    println!(
        "  GEMM part alone (same tiles, no selection): {:.3} s = {gemm_rate:.1} GFLOP/s",
        r.gemm_s
    );
    println!(
        "  {:>5} {:>7} {:>6} {:>9} {:>10} {:>9} {:>17}  runs",
        "k", "storage", "screen", "search s", "queries/s", "GFLOP/s", "rescored mean/max"
    );
    for t in &r.timings {
        let s = t.median();
        let (screen, rescored) = match &t.stats {
            Some(st) => (
                st.mode.name(),
                format!("{:.1}/{}", st.rescored_mean, st.rescored_max),
            ),
            None => ("none", "-".to_string()),
        };
        println!(
            "  {:>5} {:>7} {:>6} {:>9.3} {:>10.0} {:>9.1} {:>17}  {:?} {}",
            t.k,
            format!("{:?}", t.storage),
            screen,
            s,
            q as f64 / s,
            gflop / s,
            rescored,
            t.runs
                .iter()
                .map(|r| (r * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>(),
            t.stats.as_ref().map_or("", |s| s.kernel)
        );
    }
    println!(
        "  datastore f32: {:.3} GB; peak RSS after the f32 searches: {:.3} GB; at the end: {:.3} GB",
        (m * d * 4) as f64 / 1e9,
        r.rss_f32_gb.unwrap_or(f64::NAN),
        peak_rss_gb().unwrap_or(f64::NAN)
    );
}

/// Peak resident set size of this process (Linux `VmHWM`), in GB.
pub fn peak_rss_gb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1e9)
}
