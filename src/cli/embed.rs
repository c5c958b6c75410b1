//! `recap embed`: CLIP embeddings of images or texts into `.npy`, with a sidecar naming rows.
//!
//! ```text
//! recap embed --model DIR|ORG/NAME --images DIR|LIST.txt|FILE --out img.npy
//! recap embed --model DIR|ORG/NAME --texts captions.json|lines.txt --out txt.npy
//!     [--batch 32] [--threads N] [--quiet] [--json]
//! ```
//!
//! Rows are L2-normalized `f32` (`n x projection_dim`). Beside `X.npy`:
//! - images: `X.ids.json`, the image ids in row order (file names without extension for a
//!   folder or a file, the lines as written for a list) — what `--image-ids` / `--query-ids`
//!   take;
//! - texts from a caption JSON (sidecar, COCO, Karpathy): `X.captions.json`, the caption
//!   sidecar of the rows (`--captions`); from a plain JSON array of records: that array;
//!   from a text file (one caption per line): `X.texts.json`, the texts in row order.
//!
//! Files are written atomically (the sidecar, then the `.npy`). An image that cannot be read
//! or decoded stops the command with an error naming it, and nothing is written. Texts
//! longer than the model's 77 tokens are cut (as CLIP's tokenizer does) and reported.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::common::ComputeArgs;
use super::progress::bar;
use crate::backend::Device;
use crate::error::{Error, Result};
use crate::io::atomic::write_json_atomic;
use crate::io::captions::sidecar::CaptionRecord;
use crate::io::captions::text::read_lines;
use crate::io::captions::{read_json, read_records, CaptionSet};
use crate::io::npy;
use crate::models::clip::Clip;
use crate::models::resolve;
use crate::RowMatrix;

/// Image file extensions taken from a folder.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"];

/// `recap embed` arguments.
#[derive(Args, Debug)]
pub struct EmbedArgs {
    /// The CLIP model: a directory or an org/name id in the local Hugging Face cache.
    #[arg(long)]
    pub model: String,
    /// Images: a folder (its image files, sorted by name), a .txt list (one path per line,
    /// relative to the list's folder) or one image file.
    #[arg(long, conflicts_with = "texts", required_unless_present = "texts")]
    pub images: Option<PathBuf>,
    /// Texts: a caption JSON (sidecar, COCO, Karpathy or an array of records) or a text file
    /// with one caption per line.
    #[arg(long)]
    pub texts: Option<PathBuf>,
    /// Output `.npy` (the sidecar is written beside it).
    #[arg(long)]
    pub out: PathBuf,
    /// Images or texts per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Where and how to compute (the models run on the CPU).
    #[command(flatten)]
    pub compute: ComputeArgs,
}

/// The `--json` summary.
#[derive(Serialize, Debug)]
pub struct EmbedReport {
    /// The model spec.
    pub model: String,
    /// `images` or `texts`.
    pub kind: &'static str,
    /// Rows written.
    pub rows: usize,
    /// Embedding width.
    pub dim: usize,
    /// The `.npy` written.
    pub out: String,
    /// The sidecar written.
    pub sidecar: String,
    /// Rows whose text was cut to the model's token limit.
    pub truncated: Vec<usize>,
    /// Wall-clock seconds (model load excluded).
    pub seconds: f64,
}

/// Run `recap embed`.
pub fn run(args: EmbedArgs) -> Result<()> {
    if matches!(args.compute.device, Device::Cuda(_)) {
        return Err(Error::invalid(
            "device",
            "the models run on the CPU only (use --device cpu)",
        ));
    }
    if args.batch == 0 {
        return Err(Error::invalid("batch", "must be at least 1"));
    }
    let files = resolve(&args.model)?;
    args.compute.in_pool(|| {
        let clip = Clip::load(&files)?.with_batch_size(args.batch);
        let start = Instant::now();
        let (m, sidecar, truncated, kind) = match (&args.images, &args.texts) {
            (Some(images), _) => {
                let (m, sidecar) = embed_images(&clip, images, &args)?;
                (m, sidecar, Vec::new(), "images")
            }
            (None, Some(texts)) => {
                let (m, sidecar, truncated) = embed_texts(&clip, texts, &args)?;
                (m, sidecar, truncated, "texts")
            }
            (None, None) => return Err(Error::invalid("images", "give --images or --texts")),
        };
        npy::write_f32(&args.out, &m)?;
        let report = EmbedReport {
            model: args.model.clone(),
            kind,
            rows: m.rows(),
            dim: m.cols(),
            out: args.out.display().to_string(),
            sidecar: sidecar.display().to_string(),
            truncated,
            seconds: start.elapsed().as_secs_f64(),
        };
        print_report(&report, args.json);
        Ok(())
    })
}

fn print_report(r: &EmbedReport, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(r).expect("serializable"));
        return;
    }
    if !r.truncated.is_empty() {
        eprintln!(
            "note: {} text(s) longer than the model's token limit were cut (rows {:?})",
            r.truncated.len(),
            r.truncated
        );
    }
    println!(
        "{} {} -> {} ({} x {}, {:.1}/s), rows named in {}",
        r.rows,
        r.kind,
        r.out,
        r.rows,
        r.dim,
        r.rows as f64 / r.seconds.max(1e-9),
        r.sidecar
    );
}

/// The sidecar path beside `out`: `X.npy` -> `X.<suffix>`.
pub fn sidecar_path(out: &Path, suffix: &str) -> PathBuf {
    out.with_extension(suffix)
}

/// Image files and their ids from a folder, a `.txt` list or one file.
pub fn image_inputs(spec: &Path) -> Result<(Vec<PathBuf>, Vec<String>)> {
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if spec.is_dir() {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(spec)
            .map_err(|e| Error::io(spec, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension().is_some_and(|x| {
                        IMAGE_EXTENSIONS.contains(&x.to_string_lossy().to_lowercase().as_str())
                    })
            })
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(Error::invalid(
                "images",
                format!("no image files in {}", spec.display()),
            ));
        }
        let ids = paths.iter().map(|p| stem(p)).collect();
        return Ok((paths, ids));
    }
    if spec.extension().is_some_and(|x| x == "txt") {
        let base = spec.parent().unwrap_or(Path::new("."));
        let lines = read_lines(spec)?;
        let paths = lines.iter().map(|l| base.join(l)).collect();
        return Ok((paths, lines));
    }
    if !spec.is_file() {
        return Err(Error::invalid(
            "images",
            format!("{} is not a folder, a .txt list or a file", spec.display()),
        ));
    }
    Ok((vec![spec.to_path_buf()], vec![stem(spec)]))
}

fn embed_images(clip: &Clip, spec: &Path, args: &EmbedArgs) -> Result<(RowMatrix<f32>, PathBuf)> {
    let (paths, ids) = image_inputs(spec)?;
    let progress = bar(
        paths.len() as u64,
        "images",
        args.compute.quiet || args.json,
    );
    let mut data = Vec::with_capacity(paths.len() * clip.dim());
    for chunk in paths.chunks(args.batch) {
        data.extend_from_slice(clip.embed_image_files(chunk)?.as_slice());
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    let m = RowMatrix::from_vec(paths.len(), clip.dim(), data)?;
    let sidecar = sidecar_path(&args.out, "ids.json");
    write_json_atomic(&sidecar, &ids)?;
    Ok((m, sidecar))
}

/// What the rows of a text file are, for the sidecar.
enum TextRows {
    Set(CaptionSet),
    Records(Vec<CaptionRecord>),
    Lines(Vec<String>),
}

fn read_texts(path: &Path) -> Result<TextRows> {
    if path.extension().is_some_and(|x| x == "json") {
        let v = read_json(path)?;
        if v.get("images").is_some() || v.get("annotations").is_some() {
            return Ok(TextRows::Set(CaptionSet::read_auto(path)?));
        }
        return Ok(TextRows::Records(read_records(path)?));
    }
    Ok(TextRows::Lines(read_lines(path)?))
}

fn embed_texts(
    clip: &Clip,
    path: &Path,
    args: &EmbedArgs,
) -> Result<(RowMatrix<f32>, PathBuf, Vec<usize>)> {
    let rows = read_texts(path)?;
    let texts: Vec<&str> = match &rows {
        TextRows::Set(s) => s.texts().collect(),
        TextRows::Records(r) => r.iter().map(|r| r.text.as_str()).collect(),
        TextRows::Lines(l) => l.iter().map(String::as_str).collect(),
    };
    let tokens = clip.tokenize(&texts)?;
    let progress = bar(texts.len() as u64, "texts", args.compute.quiet || args.json);
    let mut data = Vec::with_capacity(texts.len() * clip.dim());
    for chunk in tokens.ids.chunks(args.batch) {
        data.extend_from_slice(clip.embed_tokens(chunk)?.as_slice());
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    let m = RowMatrix::from_vec(texts.len(), clip.dim(), data)?;
    let sidecar = match &rows {
        TextRows::Set(s) => {
            let p = sidecar_path(&args.out, "captions.json");
            s.write(&p)?;
            p
        }
        TextRows::Records(r) => {
            let p = sidecar_path(&args.out, "captions.json");
            write_json_atomic(&p, r)?;
            p
        }
        TextRows::Lines(l) => {
            let p = sidecar_path(&args.out, "texts.json");
            write_json_atomic(&p, l)?;
            p
        }
    };
    Ok((m, sidecar, tokens.truncated))
}
