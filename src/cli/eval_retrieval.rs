//! `recap eval-retrieval`: image→text and text→image recall@1/5/10 and median rank.
//!
//! ```text
//! recap eval-retrieval --images images.npy --texts texts.npy
//!     (--captions-per-image 5 | --captions captions.json [--image-ids ids.json])
//!     [--map W.npy] [--json] [--out report.json]
//! ```
//!
//! The grouping says which caption rows describe which image row: consecutive blocks of
//! `--captions-per-image` rows, or by matching each caption record's `image_id` to the ids of
//! the image rows. A hit is any caption of the image (image→text) or the caption's image
//! (text→image). `--map` applies `X @ W` to the image rows first. `--out` writes the JSON
//! report (as `--json` prints it) to a file, e.g. for `recap plot recall`.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Args;

use super::common::ComputeArgs;
use crate::error::{Error, Result};
use crate::io::captions::read_records;
use crate::io::captions::CaptionSet;
use crate::io::{npy, Grouping};
use crate::retrieve::{evaluate_on, DirectionReport, RetrievalReport};

/// Options of `recap eval-retrieval`.
#[derive(Args, Debug)]
pub struct EvalRetrievalArgs {
    /// Image embeddings (n_images x d_x .npy).
    #[arg(long)]
    pub images: PathBuf,
    /// Caption embeddings (n_captions x d .npy).
    #[arg(long)]
    pub texts: PathBuf,
    /// Caption rows per image, consecutive (COCO Karpathy: 5).
    #[arg(long, conflicts_with = "captions")]
    pub captions_per_image: Option<usize>,
    /// Captions of the text rows: the crate's sidecar (its `images` are the image rows), a
    /// COCO/Karpathy file, or a plain array `[{"image_id", "caption"}, ...]` together with
    /// `--image-ids`.
    #[arg(long)]
    pub captions: Option<PathBuf>,
    /// Image id of every image row (JSON array).
    #[arg(long, requires = "captions")]
    pub image_ids: Option<PathBuf>,
    /// Linear map W applied to the images (X @ W).
    #[arg(long)]
    pub map: Option<PathBuf>,
    #[command(flatten)]
    pub compute: ComputeArgs,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report here (what `--json` prints; `recap plot recall` reads it).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Run `recap eval-retrieval`.
pub fn run(args: EvalRetrievalArgs) -> Result<()> {
    args.compute.in_pool(|| {
        let backend = args.compute.backend()?;
        let mut images = npy::read_f32(&args.images)?;
        if let Some(w) = &args.map {
            images = crate::align::LinearMap::load(w)?.apply(&images)?;
        }
        let texts = npy::read_f32(&args.texts)?;
        let grouping = grouping(&args, images.rows(), texts.rows())?;
        let report = evaluate_on(&backend, &images, &texts, &grouping)?;
        if let Some(out) = &args.out {
            crate::io::atomic::write_json_atomic(out, &report)?;
        }
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("serializable")
            );
        } else {
            print_table(&report);
        }
        Ok(())
    })
}

fn grouping(args: &EvalRetrievalArgs, n_images: usize, n_texts: usize) -> Result<Grouping> {
    if let (Some(caps), None) = (&args.captions, &args.image_ids) {
        let g = CaptionSet::read_auto(caps)?.grouping()?;
        g.check_rows(n_images, n_texts)?;
        return Ok(g);
    }
    if let (Some(caps), Some(ids)) = (&args.captions, &args.image_ids) {
        let records = read_records(caps)?;
        let value = crate::io::captions::read_json(ids)?;
        let ids: Vec<String> = value
            .as_array()
            .ok_or_else(|| Error::format(ids, "expected a JSON array of ids"))?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect();
        let row_of: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let image_of = records
            .iter()
            .enumerate()
            .map(|(c, r)| {
                row_of.get(r.image_id.as_str()).copied().ok_or_else(|| {
                    Error::invalid(
                        "captions",
                        format!(
                            "caption {c}: image id {:?} not among --image-ids",
                            r.image_id
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let g = Grouping::new(image_of, ids.len())?;
        g.check_rows(n_images, n_texts)?;
        return Ok(g);
    }
    let per = args.captions_per_image.unwrap_or(1);
    if per == 0 || n_texts != n_images * per {
        return Err(Error::shape(
            "caption rows vs images x --captions-per-image",
            format!("{n_images} x {per} = {} caption rows", n_images * per),
            format!("{n_texts} caption rows"),
        ));
    }
    Ok(Grouping::from_counts(&vec![per; n_images]))
}

fn print_table(r: &RetrievalReport) {
    println!(
        "{:<14} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8}",
        "direction", "R@1", "R@5", "R@10", "MedR", "mean rank", "queries"
    );
    for (name, d) in [
        ("image→text", &r.image_to_text),
        ("text→image", &r.text_to_image),
    ] {
        print_row(name, d);
    }
}

fn print_row(name: &str, d: &DirectionReport) {
    let pct: Vec<String> = d
        .recall
        .iter()
        .map(|(_, v)| format!("{:.2}", 100.0 * v))
        .collect();
    println!(
        "{:<14} {:>8} {:>8} {:>8} {:>8.1} {:>10.2} {:>8}",
        name, pct[0], pct[1], pct[2], d.median_rank, d.mean_rank, d.queries
    );
}
