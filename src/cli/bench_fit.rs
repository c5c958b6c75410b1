//! `recap bench fit`: end-to-end alignment fits on the peers' files or synthetic data.
//!
//! For every method: `--repeat` runs of the whole fit from the `.npy` files (streamed, so
//! "fit" includes reading), the phases of the report, the Gram rate against an f32 GEMM of
//! the `XᵀX` shape measured in the same run, and the peak RSS of each run (the kernel's
//! high-water mark, reset before each run) against the input size. `--grouped-by C` also
//! fits the same pairs pair-grouped (every `C` consecutive rows of X are one image, as in
//! the peers' data) and reports the speed-up. Results go to stderr as text, and as
//! peers-compatible lines to `OUT_DIR/results.jsonl`; the maps to `OUT_DIR/W_<method>.npy`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::common::ComputeArgs;
use crate::align::{self, FitOptions, Method, Pairing, PrecisionChoice};
use crate::backend::{Backend, CpuBackend, Op, RowsMut, RowsRef};
use crate::error::{Error, Result};
use crate::io::npy::NpyStream;
use crate::io::rows::RowSource;
use crate::io::Grouping;
use crate::matrix::RowMatrix;

/// Options of `recap bench fit`.
#[derive(Args, Debug)]
pub struct BenchFitArgs {
    /// Folder with `X.npy` and `Y.npy` (e.g. /tmp/peers-data/fit_n566000_d768).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Instead of --dir: generate synthetic data with this many images (recap::synth).
    #[arg(long)]
    pub synthetic_images: Option<usize>,
    /// Synthetic data: captions per image (X rows are repeated this often).
    #[arg(long, default_value_t = 5)]
    pub captions_per_image: usize,
    /// Synthetic data: embedding dimension.
    #[arg(long, default_value_t = 768)]
    pub dim: usize,
    /// Methods to run (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "ridge,procrustes")]
    pub methods: Vec<String>,
    /// Ridge λ.
    #[arg(long = "lambda", default_value_t = 1.0)]
    pub lambda: f64,
    /// Runs per method.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Also fit pair-grouped: every C consecutive X rows are one image (0 = skip).
    #[arg(long, default_value_t = 0)]
    pub grouped_by: usize,
    /// Gram precision (auto, f32, f64).
    #[arg(long, default_value = "auto")]
    pub gram_precision: String,
    /// Rows per streamed chunk.
    #[arg(long, default_value_t = crate::io::DEFAULT_CHUNK_ROWS)]
    pub chunk_rows: usize,
    /// Rows of the GEMM-rate probe (`d x rows` times `rows x d`, f32).
    #[arg(long, default_value_t = 131072)]
    pub gemm_rows: usize,
    /// Output folder for W files and results.jsonl.
    #[arg(long, default_value = "bench-fit-out")]
    pub out_dir: PathBuf,
    /// Label for the results lines.
    #[arg(long, default_value = "")]
    pub label: String,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

fn method_of(name: &str) -> Result<Method> {
    Ok(match name {
        "ols" => Method::Ols,
        "ridge" => Method::Ridge,
        "lstsq" => Method::Lstsq,
        "procrustes" => Method::Procrustes,
        "robust-procrustes" => Method::RobustProcrustes,
        other => return Err(Error::invalid("methods", format!("unknown method {other}"))),
    })
}

/// Peak resident set size of this process in GB (`VmHWM`), if readable.
pub fn peak_rss_gb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1e9)
}

/// Reset the peak-RSS high-water mark (Linux `clear_refs` 5); false if not possible.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn cpu_ticks() -> Option<[u64; 3]> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<u64> = s
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    (v.len() >= 8).then(|| [v[0] + v[1] + v[2] + v[5] + v[6], v[3] + v[4], v[7]])
}

fn cpu_usage(a: Option<[u64; 3]>, b: Option<[u64; 3]>) -> serde_json::Value {
    match (a, b) {
        (Some(a), Some(b)) => {
            let d: Vec<f64> = (0..3).map(|i| (b[i] - a[i]) as f64).collect();
            let tot = d.iter().sum::<f64>().max(1.0);
            json!({"busy_pct": (1000.0 * d[0] / tot).round() / 10.0, "idle_pct": (1000.0 * d[1] / tot).round() / 10.0,
                   "steal_pct": (1000.0 * d[2] / tot).round() / 10.0})
        }
        _ => json!({}),
    }
}

/// Median f32 GEMM rate (GFLOP/s) of `Xᵀ X` with `X` of `rows x d`, 3 runs after a warm-up.
pub fn gemm_rate(rows: usize, d: usize) -> f64 {
    let x: Vec<f32> = (0..rows * d)
        .map(|i| ((i * 2654435761) % 1000) as f32 * 1e-3 - 0.5)
        .collect();
    let mut out = vec![0f32; d * d];
    let probe = |x: &[f32], r: usize, out: &mut [f32]| {
        let xm = RowsRef::new(x, r, d).expect("r x d");
        let c = RowsMut::new(out, d, d).expect("d x d");
        CpuBackend::new()
            .gemm(1.0, xm, Op::T, xm, Op::N, 0.0, c)
            .expect("shapes agree");
    };
    probe(&x[..d * d.min(rows)], d.min(rows), &mut out);
    let mut rates: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            probe(&x, rows, &mut out);
            2.0 * rows as f64 * (d * d) as f64 / t.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[1]
}

fn inputs(args: &BenchFitArgs) -> Result<(PathBuf, PathBuf)> {
    if let Some(d) = &args.dir {
        return Ok((d.join("X.npy"), d.join("Y.npy")));
    }
    let n = args
        .synthetic_images
        .ok_or_else(|| Error::invalid("dir", "give --dir or --synthetic-images"))?;
    let cfg = crate::synth::SynthConfig {
        n_images: n,
        captions_per_image: args.captions_per_image,
        dim: args.dim,
        ..Default::default()
    };
    eprintln!(
        "generating synthetic data: {n} images x {} captions, d = {}",
        cfg.captions_per_image, cfg.dim
    );
    let data = crate::synth::generate(&cfg)?;
    let c = cfg.captions_per_image;
    let rep: Vec<f32> = (0..n * c)
        .flat_map(|r| data.images.row(r / c).to_vec())
        .collect();
    let x = RowMatrix::from_vec(n * c, cfg.dim, rep)?;
    let (xp, yp) = (args.out_dir.join("X.npy"), args.out_dir.join("Y.npy"));
    crate::io::npy::write_f32(&xp, &x)?;
    crate::io::npy::write_f32(&yp, &data.texts)?;
    Ok((xp, yp))
}

/// Write every `c`-th row of `x` to `out` (the image file of pair-grouped data).
fn write_images(x: &Path, c: usize, out: &Path, chunk: usize) -> Result<usize> {
    let mut src = NpyStream::open(x, chunk)?;
    let (n, d) = (src.rows(), src.cols());
    let n_img = n / c;
    let mut data = Vec::with_capacity(n_img * d);
    let mut buf = Vec::new();
    while let Some((start, r)) = src.next_into(&mut buf, chunk)? {
        for i in 0..r {
            let row = start + i;
            if row % c == 0 && row / c < n_img {
                data.extend_from_slice(&buf[i * d..(i + 1) * d]);
            }
        }
    }
    crate::io::npy::write_f32(out, &RowMatrix::from_vec(n_img, d, data)?)?;
    Ok(n_img)
}

struct RunStats {
    times: Vec<f64>,
    map: align::FittedMap,
    rss: Option<f64>,
    cpu: serde_json::Value,
}

fn run_method(
    x: &Path,
    y: &Path,
    grouping: Option<&Grouping>,
    opts: &FitOptions,
    repeat: usize,
) -> Result<RunStats> {
    let mut times = Vec::new();
    let mut last = None;
    let mut rss: Option<f64> = None;
    let c0 = cpu_ticks();
    for _ in 0..repeat.max(1) {
        let can_reset = reset_peak_rss();
        let t = Instant::now();
        let mut xs = NpyStream::open(x, opts.chunk_rows)?;
        let mut ys = NpyStream::open(y, opts.chunk_rows)?;
        let pairing = grouping.map_or(Pairing::Rows, Pairing::Grouped);
        let map = align::fit(&mut xs, &mut ys, pairing, opts, &|_, _| {})?;
        times.push(t.elapsed().as_secs_f64());
        if can_reset {
            rss = match (rss, peak_rss_gb()) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        last = Some(map);
    }
    Ok(RunStats {
        times,
        map: last.expect("at least one run"),
        rss,
        cpu: cpu_usage(c0, cpu_ticks()),
    })
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// Run `recap bench fit`.
pub fn run(args: BenchFitArgs) -> Result<()> {
    args.compute.in_pool(|| run_in_pool(&args))
}

fn run_in_pool(args: &BenchFitArgs) -> Result<()> {
    std::fs::create_dir_all(&args.out_dir).map_err(|e| Error::io(&args.out_dir, e))?;
    let (xp, yp) = inputs(args)?;
    let (n, d) = {
        let h = crate::io::npy::read_header(&xp)?;
        (h.rows(), h.cols())
    };
    let dy = crate::io::npy::read_header(&yp)?.cols();
    let input_gb = [&xp, &yp]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len() as f64)
        .sum::<f64>()
        / 1e9;
    let threads = rayon::current_num_threads();
    eprintln!(
        "data: {} ({n} x {d}) and {} ({n} x {dy}), {input_gb:.2} GB; {threads} threads",
        xp.display(),
        yp.display()
    );
    let gemm = gemm_rate(args.gemm_rows, d);
    eprintln!(
        "f32 GEMM rate (XᵀX shape, {} x {d}, faer, same run): {gemm:.1} GFLOP/s",
        args.gemm_rows
    );
    let precision = match args.gram_precision.as_str() {
        "auto" => PrecisionChoice::Auto,
        "f32" => PrecisionChoice::F32,
        "f64" => PrecisionChoice::F64,
        p => {
            return Err(Error::invalid(
                "gram-precision",
                format!("auto, f32 or f64, not {p}"),
            ))
        }
    };
    let results = args.out_dir.join("results.jsonl");
    let mut lines = Vec::new();
    let grouped = if args.grouped_by > 1 {
        let ip = args.out_dir.join("images.npy");
        let n_img = write_images(&xp, args.grouped_by, &ip, args.chunk_rows)?;
        let g = Grouping::from_counts(&vec![args.grouped_by; n_img]);
        if g.n_captions() != n {
            return Err(Error::invalid(
                "grouped-by",
                format!("{n} rows are not a multiple of {}", args.grouped_by),
            ));
        }
        Some((ip, g))
    } else {
        None
    };
    for name in &args.methods {
        let method = method_of(name)?;
        let mut opts = FitOptions::new(method).lambda(if method == Method::Ridge {
            args.lambda
        } else {
            0.0
        });
        opts.precision = precision;
        opts.chunk_rows = args.chunk_rows;
        opts.device = args.compute.device;
        let plain = run_method(&xp, &yp, None, &opts, args.repeat)?;
        let w_out = args.out_dir.join(format!("W_{name}.npy"));
        crate::io::npy::write_f32(&w_out, &plain.map.w_f32())?;
        let line = result_line(
            args, name, "", n, d, dy, threads, &plain, &w_out, gemm, input_gb,
        );
        print_summary(name, "plain", &plain, gemm, input_gb);
        lines.push(line);
        if let Some((ip, g)) = &grouped {
            let gr = run_method(ip, &yp, Some(g), &opts, args.repeat)?;
            let w_g = args.out_dir.join(format!("W_{name}_grouped.npy"));
            crate::io::npy::write_f32(&w_g, &gr.map.w_f32())?;
            let mut line = result_line(
                args, name, "_grouped", n, d, dy, threads, &gr, &w_g, gemm, input_gb,
            );
            let speedup = median(&plain.times) / median(&gr.times);
            let dw = rel_diff(&gr.map.w, &plain.map.w);
            line["grouped_speedup"] = json!(speedup);
            line["grouped_rel_dw_vs_plain"] = json!(dw);
            print_summary(name, "grouped", &gr, gemm, input_gb);
            eprintln!("  grouped vs plain: {speedup:.2}x faster, ‖ΔW‖/‖W‖ = {dw:.2e}");
            lines.push(line);
        }
    }
    let mut text = std::fs::read_to_string(&results).unwrap_or_default();
    for l in &lines {
        text += &serde_json::to_string(l).unwrap_or_default();
        text.push('\n');
    }
    crate::io::atomic::write_bytes_atomic(&results, text.as_bytes())?;
    eprintln!("appended {} lines to {}", lines.len(), results.display());
    Ok(())
}

fn rel_diff(a: &RowMatrix<f64>, b: &RowMatrix<f64>) -> f64 {
    let num: f64 = a
        .as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| (x - y).powi(2))
        .sum();
    let den: f64 = b.as_slice().iter().map(|y| y * y).sum();
    (num / den.max(f64::MIN_POSITIVE)).sqrt()
}

fn print_summary(name: &str, kind: &str, r: &RunStats, gemm: f64, input_gb: f64) {
    let rep = &r.map.report;
    let t = &rep.timings;
    eprintln!(
        "{name} ({kind}): end-to-end {:.3} s median [{:.3}-{:.3}] x{}; stats {:.3} s ({:.1} GFLOP/s = {:.0}% of GEMM, {}), solve {:.3} s; peak RSS {} ({}% of input)",
        median(&r.times),
        r.times.iter().copied().fold(f64::INFINITY, f64::min),
        r.times.iter().copied().fold(0.0, f64::max),
        r.times.len(),
        t.gram_s,
        rep.gram_gflops,
        100.0 * rep.gram_gflops / gemm,
        rep.gram_precision,
        t.solve_s + t.select_s,
        r.rss.map_or("n/a".into(), |g| format!("{g:.2} GB")),
        r.rss.map_or("n/a".into(), |g| format!("{:.0}", 100.0 * g / input_gb)),
    );
}

#[allow(clippy::too_many_arguments)]
fn result_line(
    args: &BenchFitArgs,
    name: &str,
    suffix: &str,
    n: usize,
    d: usize,
    dy: usize,
    threads: usize,
    r: &RunStats,
    w_out: &Path,
    gemm: f64,
    input_gb: f64,
) -> serde_json::Value {
    let rep = &r.map.report;
    let useful = 2.0 * n as f64 * d as f64 * (d + dy) as f64 / 1e9;
    let fit_s = median(&r.times);
    json!({
        "kind": "fit",
        "label": args.label,
        "method": format!("recap_{}{suffix}", name.replace('-', "_")),
        "computes_in": format!("{} chunk products summed in f64 + f64 solve (streamed; fit includes reading)", rep.gram_precision),
        "n": n, "d": d, "dy": dy,
        "lam": rep.lambda.unwrap_or(0.0),
        "threads": threads,
        "load_s": 0.0,
        "fit_s": fit_s,
        "fit_min_s": r.times.iter().copied().fold(f64::INFINITY, f64::min),
        "fit_max_s": r.times.iter().copied().fold(0.0, f64::max),
        "fit_runs": r.times,
        "gram_s": rep.timings.gram_s,
        "gram_gflop": rep.gram_gflop,
        "gram_gflops": rep.gram_gflops,
        "gemm_f32_gflops_same_run": gemm,
        "gram_vs_gemm": rep.gram_gflops / gemm,
        "solve_s": rep.timings.solve_s + rep.timings.select_s,
        "ne_equiv_gflops": useful / fit_s,
        "max_rss_gb": r.rss,
        "input_gb": input_gb,
        "cpu_during_fit": r.cpu,
        "relative_residual": rep.relative_residual,
        "w_out": w_out.display().to_string(),
    })
}
