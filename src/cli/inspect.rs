//! `recap inspect PATH`: what a researcher wants to know about an embedding file.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::Result;
use crate::io::npy::{array_stats, ArrayStats};

/// Options of `recap inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The array: a `.npy` file, or `FILE.npz:MEMBER` for one array of an `.npz`.
    pub path: PathBuf,
    /// Print one JSON object (keys: shape, dtype, fortran_order, row_norm_min,
    /// row_norm_mean, row_norm_max, non_finite) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Rows read per chunk; memory use is about 3 x rows x columns x 4 bytes.
    #[arg(long, default_value_t = 16384)]
    pub chunk_rows: usize,
}

/// Stream the file once and print the report.
pub fn run(args: InspectArgs) -> Result<()> {
    let header = crate::io::npy::read_header(&args.path)?;
    let bar = ProgressBar::new(header.rows() as u64).with_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} rows ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("inspecting");
    let stats = array_stats(&args.path, args.chunk_rows, |done| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", to_json(&stats));
    } else {
        print_text(&args.path, &stats);
    }
    Ok(())
}

/// The `--json` object. Norms are null when no row is finite.
pub fn to_json(s: &ArrayStats) -> serde_json::Value {
    serde_json::json!({
        "shape": s.header.shape,
        "dtype": s.header.dtype.name(),
        "fortran_order": s.header.fortran_order,
        "row_norm_min": s.row_norm_min,
        "row_norm_mean": s.row_norm_mean,
        "row_norm_max": s.row_norm_max,
        "non_finite": s.non_finite,
    })
}

fn print_text(path: &std::path::Path, s: &ArrayStats) {
    let h = &s.header;
    let order = if h.fortran_order {
        "Fortran (column-major; transposed on read)"
    } else {
        "C (row-major)"
    };
    let fmt = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{x:.6}"));
    println!("file:          {}", path.display());
    println!(
        "shape:         {} -> {} rows x {} columns",
        h.shape_string(),
        h.rows(),
        h.cols()
    );
    println!("dtype:         {} ('{}')", h.dtype.name(), h.descr);
    println!("byte order:    {}", h.byte_order());
    println!("memory order:  {order}");
    println!(
        "row norms:     min {}  mean {}  max {}  (over {} finite rows)",
        fmt(s.row_norm_min),
        fmt(s.row_norm_mean),
        fmt(s.row_norm_max),
        s.finite_rows
    );
    match s.first_non_finite_row {
        None => println!("non-finite:    0 values (no NaN/Inf)"),
        Some(first) => println!(
            "non-finite:    {} values in {} rows (first: row {first}); those rows are left out of the norms",
            s.non_finite, s.non_finite_rows
        ),
    }
}
