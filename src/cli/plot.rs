//! `recap plot`: draw a figure from the JSON another `recap` command wrote, as PNG and SVG.
//!
//! ```text
//! recap plot correlation --input items.json [--tau b|c] --out figs/corr
//! recap plot dal         --input dal/dal.json (or dal/, or the JSON of recap dal --json) --out figs/dal
//! recap plot recall      --input raw.json --label "raw CLIP" --input aligned.json --label "W" --out figs/recall
//! recap plot lambda      --input fit.json (recap fit --report / --json, or W.json) --out figs/lambda
//! ```
//!
//! Writes `PREFIX.png` and `PREFIX.svg` (atomically; nothing on error) and prints the two
//! paths, one per line, or `{"png": ..., "svg": ...}` with `--json`. `correlation` reads the
//! items of `recap correlate --items-out` (with their per-item scores) and computes Kendall τ
//! with `--tau` (c for Flickr8k-Expert, b for CrowdFlower, as in `recap correlate`); `recall`
//! takes one `recap eval-retrieval --json`/`--out` report per setting, `--label` naming each
//! in order (default: the file stem). See [`crate::plot`].

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::correlate::TauArg;
use crate::error::{Error, Result};
use crate::metrics::correlation::TauVariant;
use crate::plot;

/// Figure kind on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindArg {
    /// Metric vs human rating per metric, Kendall τ in the titles (`recap correlate --items-out`).
    Correlation,
    /// Corpus metrics per DAL iteration (`dal.json` of `recap dal --references`).
    Dal,
    /// recall@k of one or more `recap eval-retrieval` reports.
    Recall,
    /// λ-selection curve of a ridge fit (`recap fit --lambda-grid ... --report`).
    Lambda,
}

/// Options of `recap plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// The figure.
    #[arg(value_enum)]
    pub kind: KindArg,
    /// Input JSON (repeat for `recall`: one report per setting).
    #[arg(long, value_name = "FILE", required = true)]
    pub input: Vec<PathBuf>,
    /// Legend name of each `--input` in order (`recall`; default: the file stem).
    #[arg(long, value_name = "NAME")]
    pub label: Vec<String>,
    /// Kendall variant for `correlation`: c for Flickr8k-Expert, b for CrowdFlower.
    #[arg(long, value_enum, default_value_t = TauArg::B)]
    pub tau: TauArg,
    /// Output prefix: writes PREFIX.png and PREFIX.svg.
    #[arg(long, value_name = "PREFIX", visible_alias = "out-prefix")]
    pub out: PathBuf,
    /// Print the written paths as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Run `recap plot`.
pub fn run(args: PlotArgs) -> Result<()> {
    if args.kind != KindArg::Recall && args.input.len() != 1 {
        return Err(Error::invalid(
            "input",
            format!(
                "{:?} draws one file, {} given (only recall takes several)",
                args.kind,
                args.input.len()
            ),
        ));
    }
    if !args.label.is_empty() && args.label.len() != args.input.len() {
        return Err(Error::invalid(
            "label",
            format!(
                "{} labels for {} inputs: give one --label per --input, or none",
                args.label.len(),
                args.input.len()
            ),
        ));
    }
    let input = &args.input[0];
    let written = match args.kind {
        KindArg::Correlation => {
            let variant = match args.tau {
                TauArg::B => TauVariant::B,
                TauArg::C => TauVariant::C,
            };
            plot::scatter(&plot::read_correlation_items(input)?, variant, &args.out)?
        }
        KindArg::Dal => plot::dal_metrics(&plot::read_dal_metrics(input)?, &args.out)?,
        KindArg::Lambda => plot::lambda_curve(&plot::read_lambda_selection(input)?, &args.out)?,
        KindArg::Recall => {
            let series = args
                .input
                .iter()
                .enumerate()
                .map(|(i, path)| {
                    let label = args.label.get(i).cloned().unwrap_or_else(|| {
                        path.file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_else(|| path.display().to_string())
                    });
                    plot::read_retrieval_report(path, label)
                })
                .collect::<Result<Vec<_>>>()?;
            plot::recall_at_k(&series, &args.out)?
        }
    };
    print_written(&written, args.json);
    Ok(())
}

/// The two paths, one per line, or as JSON.
pub(crate) fn print_written(w: &plot::Written, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(w).unwrap_or_default());
    } else {
        println!("{}\n{}", w.png.display(), w.svg.display());
    }
}
