//! `recap fit`: fit a closed-form alignment map from `.npy` files (streamed in row chunks).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::align::npyfile::NpyStream;
use crate::align::source::ChunkSource;
use crate::align::{
    self, Criterion, FitOptions, Lambda, Method, Normalize, Pairing, PrecisionChoice,
};
use crate::error::{Error, Result};
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
    /// Image embeddings (`n x d_x` .npy; with --groups: one row per image).
    #[arg(long)]
    pub x: PathBuf,
    /// Text embeddings (`n x d_y` .npy; with --groups: one row per caption).
    #[arg(long)]
    pub y: PathBuf,
    /// Pair-grouping of caption rows to image rows: a caption sidecar / COCO / Karpathy file
    /// (`CaptionSet`: images in image-row order, captions in caption-row order), a JSON list
    /// with the image row of every caption row, or an object with `image_of_caption` (list)
    /// or `counts` (captions per image, consecutive caption rows).
    #[arg(long)]
    pub groups: Option<PathBuf>,
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
    /// Rows per streamed chunk.
    #[arg(long, default_value_t = align::source::DEFAULT_CHUNK_ROWS)]
    pub chunk_rows: usize,
    /// Arithmetic of the Gram products.
    #[arg(long, value_enum, default_value = "auto")]
    pub gram_precision: PrecisionArg,
    /// Output map (`W.npy`; the JSON sidecar `W.json` is written next to it).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the fit report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
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
            None => Lambda::Fixed(0.0),
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

/// Read a grouping file (see [`FitArgs::groups`]).
pub fn read_grouping(path: &Path, n_images: usize) -> Result<Grouping> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let v: serde_json::Value = serde_json::from_slice(&text).map_err(|e| Error::Json {
        path: path.into(),
        source: e,
    })?;
    let list = |v: &serde_json::Value, what: &str| -> Result<Vec<usize>> {
        v.as_array()
            .ok_or_else(|| Error::format(path, format!("{what} must be a list of row indices")))?
            .iter()
            .enumerate()
            .map(|(i, e)| {
                e.as_u64().map(|u| u as usize).ok_or_else(|| {
                    Error::format(path, format!("{what}[{i}] is not a non-negative integer"))
                })
            })
            .collect()
    };
    if v.is_array() {
        return Grouping::new(list(&v, "grouping")?, n_images);
    }
    if let Some(l) = v.get("image_of_caption") {
        return Grouping::new(list(l, "image_of_caption")?, n_images);
    }
    if let Some(c) = v.get("counts") {
        return Ok(Grouping::from_counts(&list(c, "counts")?));
    }
    if v.get("images").is_some() || v.get("annotations").is_some() {
        let set = crate::io::captions::CaptionSet::read_auto(path)?;
        let g = set.grouping()?;
        if g.n_images() != n_images {
            return Err(Error::shape(
                format!("{} images vs image rows", path.display()),
                format!("{n_images} images"),
                format!("{} images", g.n_images()),
            ));
        }
        return Ok(g);
    }
    Err(Error::format(
        path,
        "expected a caption sidecar, a list of image rows, {\"image_of_caption\": [...]} or {\"counts\": [...]}",
    ))
}

/// Run `recap fit`.
pub fn run(args: FitArgs) -> Result<()> {
    let opts = args.options();
    for out in std::iter::once(&args.out).chain(args.report.as_ref()) {
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
    let mut x = NpyStream::open(&args.x, args.chunk_rows)?;
    let mut y = NpyStream::open(&args.y, args.chunk_rows)?;
    let grouping = args
        .groups
        .as_deref()
        .map(|g| read_grouping(g, x.rows()))
        .transpose()?;
    let pairing = grouping.as_ref().map_or(Pairing::Rows, Pairing::Grouped);
    let total = (x.rows() + y.rows()) as u64 / if grouping.is_some() { 1 } else { 2 };
    let bar = crate::cli::progress::bar(total, "rows", args.quiet);
    let progress = |r: u64| bar.inc(r);
    let map = align::fit(&mut x, &mut y, pairing, &opts, &progress)?;
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
    Ok(())
}
