//! `recap fit`: fit a closed-form alignment map from `.npy` files (streamed in row chunks).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::common::ComputeArgs;
use crate::align::{
    self, Criterion, FitOptions, Lambda, Method, Normalize, Pairing, PrecisionChoice,
};
use crate::error::{Error, Result};
use crate::io::npy::NpyStream;
use crate::io::rows::RowSource;
use crate::io::Grouping;

/// Solver choice on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MethodArg {
    /// Normal equations by Cholesky (no regularization).
    Ols,
    /// Ridge, λ as scikit-learn's alpha.
    Ridge,
    /// QR least squares on the data (in memory).
    Lstsq,
    /// Orthogonal Procrustes.
    Procrustes,
    /// Iteratively reweighted orthogonal Procrustes.
    RobustProcrustes,
}

/// λ-selection criterion on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SelectArg {
    /// Generalized cross-validation (from the statistics; no extra pass).
    Gcv,
    /// Exact leave-one-out (loads the pairs into memory).
    Loo,
    /// k-fold cross-validation (see --folds).
    Kfold,
}

/// Row normalization on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum NormalizeArg {
    /// Rows as they are.
    None,
    /// Unit L2 norm rows (X and Y).
    L2,
    /// Per-dimension z-score (X and Y; implies --center).
    Zscore,
}

/// Arithmetic of the statistics pass on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PrecisionArg {
    /// f32 products, redone in f64 when the problem is too ill-conditioned for them.
    Auto,
    /// f32 products summed in f64 (fastest).
    F32,
    /// f64 products.
    F64,
}

/// Options of `recap fit`.
#[derive(Args, Debug)]
pub struct FitArgs {
    /// Image embeddings X (`n x d_x` .npy or file.npz:member; with --captions: one row per
    /// image).
    #[arg(long, alias = "x", value_name = "FILE")]
    pub images: PathBuf,
    /// Text embeddings Y (`n x d_y` .npy; with --captions: one row per caption).
    #[arg(long, alias = "y", value_name = "FILE")]
    pub texts: PathBuf,
    /// Captions: which caption rows describe which image row: a caption sidecar / COCO / Karpathy file
    /// (`CaptionSet`: images in image-row order, captions in caption-row order), a JSON list
    /// with the image row of every caption row, or an object with `image_of_caption` (list)
    /// or `counts` (captions per image, consecutive caption rows).
    #[arg(long, alias = "groups", value_name = "FILE")]
    pub captions: Option<PathBuf>,
    /// Solver.
    #[arg(long, value_enum, default_value = "ridge")]
    pub method: MethodArg,
    /// Ridge λ (scikit-learn's alpha; not scaled by n).
    #[arg(long = "lambda", default_value_t = 1.0)]
    pub lambda: f64,
    /// Choose λ over this comma-separated grid instead (ridge only).
    #[arg(long = "lambda-grid", value_delimiter = ',')]
    pub lambda_grid: Option<Vec<f64>>,
    /// Criterion for --lambda-grid.
    #[arg(long, value_enum, default_value = "gcv")]
    pub select: SelectArg,
    /// Folds for --select kfold.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Row normalization.
    #[arg(long, value_enum, default_value = "none")]
    pub normalize: NormalizeArg,
    /// Center X and Y (fit an intercept).
    #[arg(long)]
    pub center: bool,
    /// Robust Procrustes: maximum reweighting passes.
    #[arg(long, default_value_t = 10)]
    pub iterations: usize,
    /// Robust Procrustes: ε in the weights 1/(‖y − xW‖ + ε).
    #[arg(long, default_value_t = 1e-6)]
    pub epsilon: f64,
    /// Rows per streamed chunk (0: the device's choice, 4096 on the CPU).
    #[arg(long, default_value_t = 0)]
    pub chunk_rows: usize,
    /// Arithmetic of the Gram products.
    #[arg(long, value_enum, default_value = "auto")]
    pub gram_precision: PrecisionArg,
    /// Output map (`W.npy`; the JSON sidecar `W.json` is written next to it).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also write the fit report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Draw the λ curve of the selection (criterion vs λ, chosen λ marked) to PREFIX.png and
    /// PREFIX.svg. Needs --lambda-grid: a fixed λ or a method without λ has no curve.
    #[arg(long, value_name = "PREFIX", requires = "lambda_grid")]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

impl FitArgs {
    /// The library options these arguments describe.
    pub fn options(&self) -> FitOptions {
        let method = match self.method {
            MethodArg::Ols => Method::Ols,
            MethodArg::Ridge => Method::Ridge,
            MethodArg::Lstsq => Method::Lstsq,
            MethodArg::Procrustes => Method::Procrustes,
            MethodArg::RobustProcrustes => Method::RobustProcrustes,
        };
        let normalize = match self.normalize {
            NormalizeArg::None => Normalize::None,
            NormalizeArg::L2 => Normalize::L2,
            NormalizeArg::Zscore => Normalize::Zscore,
        };
        let mut o = FitOptions::new(method).preprocess(normalize, self.center);
        o.lambda = match &self.lambda_grid {
            Some(grid) => Lambda::Select {
                grid: grid.clone(),
                criterion: match self.select {
                    SelectArg::Gcv => Criterion::Gcv,
                    SelectArg::Loo => Criterion::Loo,
                    SelectArg::Kfold => Criterion::KFold(self.folds),
                },
            },
            None if method == Method::Ridge => Lambda::Fixed(self.lambda),
            None => Lambda::Unset,
        };
        o.robust.iterations = self.iterations;
        o.robust.epsilon = self.epsilon;
        o.chunk_rows = self.chunk_rows;
        o.precision = match self.gram_precision {
            PrecisionArg::Auto => PrecisionChoice::Auto,
            PrecisionArg::F32 => PrecisionChoice::F32,
            PrecisionArg::F64 => PrecisionChoice::F64,
        };
        o
    }
}

/// Run `recap fit`.
pub fn run(args: FitArgs) -> Result<()> {
    args.compute.in_pool(|| run_in_pool(&args))
}

fn run_in_pool(args: &FitArgs) -> Result<()> {
    let opts = args.options();
    let backend = args.compute.backend()?;
    let chunk = match args.chunk_rows {
        0 => backend.chunk_rows(),
        n => n,
    };
    for out in std::iter::once(&args.out)
        .chain(args.report.as_ref())
        .chain(args.plot.as_ref())
    {
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(Error::io(
                out,
                std::io::Error::new(std::io::ErrorKind::NotFound, "output folder does not exist"),
            ));
        }
    }
    let mut x = NpyStream::open(&args.images, chunk)?;
    let mut y = NpyStream::open(&args.texts, chunk)?;
    let grouping = args
        .captions
        .as_deref()
        .map(|g| Grouping::read(g, x.rows()))
        .transpose()?;
    let pairing = grouping.as_ref().map_or(Pairing::Rows, Pairing::Grouped);
    let bar = crate::cli::progress::bar(0, "rows", args.compute.quiet);
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let map = align::fit_on(&backend, &mut x, &mut y, pairing, &opts, &progress)?;
    bar.finish_and_clear();
    map.save(&args.out)?;
    if let Some(r) = &args.report {
        crate::io::atomic::write_json_atomic(r, &map.report)?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&map.report).unwrap_or_default()
        );
    }
    eprintln!("{}", map.report.summary());
    eprintln!(
        "  wrote {} (+ {})",
        args.out.display(),
        align::map::sidecar_path(&args.out).display()
    );
    if let Some(prefix) = &args.plot {
        let selection = map.report.selection.as_ref().ok_or_else(|| {
            Error::invalid(
                "plot",
                format!(
                    "{} selected no λ (only ridge with --lambda-grid has a λ curve)",
                    map.report.method
                ),
            )
        })?;
        let drawn = crate::plot::lambda_curve(selection, prefix)?;
        eprintln!(
            "  drew the λ curve: {}, {}",
            drawn.png.display(),
            drawn.svg.display()
        );
    }
    Ok(())
}
