//! `recap retrieve`: exact top-k caption retrieval for a file of queries.
//!
//! ```text
//! recap retrieve --texts texts.npy --images images.npy -k 7 [--map W.npy]
//!     [--metric cosine|ip] [--f16] [--screen auto|int8|bf16|none]
//!     [--out-indices I.npy --out-scores S.npy]
//!     [--captions captions.json --out retrieved.json [--query-ids ids.json]
//!      [--exclude-same-image]]
//! ```
//!
//! `--texts` (the datastore) is an `m x d` `.npy` (or a directory written by `Datastore::save`). The
//! `.npy` outputs are `q x k` int64 indices and float32 scores, best first, like faiss
//! (padding `-1` / `-inf` only where exclusion leaves fewer rows). `retrieved.json` is
//! SmallCap's format `{"<query image id>": [caption, ...]}` in rank order.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use super::common::ComputeArgs;
use crate::error::{Error, Result};
use crate::io::captions::{read_records, CaptionSet};
use crate::io::npy;
use crate::matrix::RowMatrix;
use crate::retrieve::CaptionRecord;
use crate::retrieve::{
    write_retrieved_captions, Datastore, Exclusion, Matches, Screen, ScreenStats, SearchOptions,
    Similarity, Storage,
};

/// Scoring function on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MetricArg {
    /// Cosine similarity (rows L2-normalized).
    Cosine,
    /// Raw inner product.
    Ip,
}

/// Low-precision screening on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ScreenArg {
    /// The fastest exact mode of this CPU (int8 with AVX512-VNNI, else bf16, else none).
    Auto,
    /// int8 screening, exact f32 rescoring.
    Int8,
    /// bf16 screening, exact f32 rescoring.
    Bf16,
    /// The plain f32 search.
    None,
}

impl From<ScreenArg> for Screen {
    fn from(s: ScreenArg) -> Screen {
        match s {
            ScreenArg::Auto => Screen::Auto,
            ScreenArg::Int8 => Screen::Int8,
            ScreenArg::Bf16 => Screen::Bf16,
            ScreenArg::None => Screen::None,
        }
    }
}

/// Options of `recap retrieve`.
#[derive(Args, Debug)]
pub struct RetrieveArgs {
    /// Text embeddings: the datastore (m x d .npy, or a saved datastore directory).
    #[arg(long, alias = "datastore", value_name = "FILE|DIR")]
    pub texts: PathBuf,
    /// Image embeddings: the queries (q x d_x .npy; through --map when given).
    #[arg(long, alias = "queries", value_name = "FILE")]
    pub images: PathBuf,
    /// Matches per query.
    #[arg(short, long, default_value_t = 7)]
    pub k: usize,
    /// Linear map W (d_x x d: queries are searched as X @ W).
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// Scoring function.
    #[arg(long, value_enum, default_value_t = MetricArg::Cosine)]
    pub metric: MetricArg,
    /// Store the datastore in f16 (half the memory; scores within 2^-11 of f32).
    #[arg(long)]
    pub f16: bool,
    /// Screen the datastore at low precision (int8 / bf16) with a proven error bound and
    /// rescore the rows that can still be in the top-k in f32: the same result as the plain
    /// search (none), faster. Default: the fastest exact mode of this CPU.
    #[arg(long, value_enum, default_value_t = ScreenArg::Auto)]
    pub screen: ScreenArg,
    /// Write the q x k int64 indices here.
    #[arg(long)]
    pub out_indices: Option<PathBuf>,
    /// Write the q x k float32 scores here.
    #[arg(long)]
    pub out_scores: Option<PathBuf>,
    /// Captions of the datastore rows: the crate's sidecar `{"images", "captions"}` (its
    /// `images` are then the default query ids when there is one per query row), a COCO
    /// annotations or Karpathy file, or a plain array `[{"image_id", "caption"}, ...]`.
    #[arg(long)]
    pub captions: Option<PathBuf>,
    /// Write SmallCap's retrieved-captions JSON here (needs --captions).
    #[arg(long, requires = "captions")]
    pub out: Option<PathBuf>,
    /// Image id of every query row (JSON array of strings or integers); default: the
    /// sidecar's image ids if there is one per query, else the row numbers 0..q-1.
    #[arg(long)]
    pub query_ids: Option<PathBuf>,
    /// Skip datastore captions whose image id equals the query's (SmallCap's
    /// self-exclusion; needs --captions).
    #[arg(long, requires = "captions")]
    pub exclude_same_image: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Run `recap retrieve`.
pub fn run(args: RetrieveArgs) -> Result<()> {
    args.compute.in_pool(|| run_in_pool(&args))
}

fn run_in_pool(args: &RetrieveArgs) -> Result<()> {
    let t0 = Instant::now();
    let metric = match args.metric {
        MetricArg::Cosine => Similarity::Cosine,
        MetricArg::Ip => Similarity::InnerProduct,
    };
    let mut ds = open_datastore(args, metric)?.on(args.compute.backend()?);
    let mut queries = npy::read_f32(&args.images)?;
    if let Some(w) = &args.map {
        queries = crate::align::LinearMap::load(w)?.apply(&queries)?;
    }
    let mut sidecar_images = None;
    if let Some(path) = &args.captions {
        let (records, images) = read_captions(path)?;
        ds = ds.with_captions(records)?;
        sidecar_images = images;
    }
    let query_ids = match (&args.query_ids, sidecar_images) {
        (None, Some(images)) if images.len() == queries.rows() => images,
        (ids, _) => read_query_ids(ids.as_ref(), queries.rows())?,
    };
    let exclusion = if args.exclude_same_image {
        let rows: Vec<&str> = ds
            .captions()
            .into_iter()
            .flatten()
            .map(|c| c.image_id.as_str())
            .collect();
        let ids: Vec<&str> = query_ids.iter().map(String::as_str).collect();
        Some(Exclusion::same_id(&ids, &rows))
    } else {
        None
    };
    let screen = Screen::from(args.screen);
    let mode = screen
        .resolve(ds.dim())?
        .filter(|_| ds.backend().supports_screening());
    let t_copy = Instant::now();
    if let Some(mode) = mode {
        ds.screen_copy(mode)?;
    }
    let copy_s = t_copy.elapsed().as_secs_f64();
    let load_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let quiet = args.compute.quiet;
    let (matches, stats) =
        search_with_progress(&ds, &queries, args.k, exclusion.as_ref(), screen, quiet)?;
    let search_s = t1.elapsed().as_secs_f64();
    write_outputs(args, &ds, &matches, &query_ids)?;
    let times = Times {
        load_s,
        copy_s,
        search_s,
    };
    summarize(args, &ds, &queries, &matches, stats.as_ref(), &times);
    Ok(())
}

fn open_datastore(args: &RetrieveArgs, metric: Similarity) -> Result<Datastore> {
    let storage = if args.f16 { Storage::F16 } else { Storage::F32 };
    if args.texts.is_dir() {
        let ds = Datastore::load(&args.texts)?;
        if metric == Similarity::Cosine && !ds.is_normalized() {
            return Err(Error::invalid(
                "metric",
                "the saved datastore is not normalized (use --metric ip)",
            ));
        }
        return Ok(ds);
    }
    Datastore::from_npy(&args.texts, metric == Similarity::Cosine, storage)
}

/// Caption records of the datastore rows, and the image ids of the sidecar's image rows
/// when the file is a sidecar / COCO / Karpathy file (a plain array has none).
fn read_captions(path: &PathBuf) -> Result<(Vec<CaptionRecord>, Option<Vec<String>>)> {
    let value = crate::io::captions::read_json(path)?;
    let has_images = value.get("images").is_some() || value.get("captions").is_some();
    if !has_images {
        return Ok((read_records(path)?, None));
    }
    let set = CaptionSet::read_auto(path)?;
    Ok((set.captions().to_vec(), Some(set.images().to_vec())))
}

/// Query ids from a JSON array (strings or integers), or `"0".."q-1"`.
fn read_query_ids(path: Option<&PathBuf>, q: usize) -> Result<Vec<String>> {
    let Some(path) = path else {
        return Ok((0..q).map(|i| i.to_string()).collect());
    };
    let value = crate::io::captions::read_json(path)?;
    let list = value
        .as_array()
        .ok_or_else(|| Error::format(path, "expected a JSON array of ids"))?;
    let ids: Vec<String> = list
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            serde_json::Value::String(s) => Ok(s.clone()),
            serde_json::Value::Number(n) => Ok(n.to_string()),
            _ => Err(Error::format(
                path,
                format!("entry {i} is not a string or integer"),
            )),
        })
        .collect::<Result<_>>()?;
    if ids.len() != q {
        return Err(Error::shape(
            "query ids vs query rows",
            format!("{q} ids"),
            format!("{} ids", ids.len()),
        ));
    }
    Ok(ids)
}

fn search_with_progress(
    ds: &Datastore,
    queries: &RowMatrix<f32>,
    k: usize,
    exclusion: Option<&Exclusion>,
    screen: Screen,
    quiet: bool,
) -> Result<(Matches, Option<ScreenStats>)> {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} searching [{bar:40}] {pos}/{len} tasks, {elapsed} (eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let opts = SearchOptions {
        exclusion,
        progress: Some(&progress),
        screen,
        ..Default::default()
    };
    let result = ds.search_report(queries, k, &opts);
    bar.finish_and_clear();
    result
}

fn write_outputs(args: &RetrieveArgs, ds: &Datastore, m: &Matches, ids: &[String]) -> Result<()> {
    if let Some(p) = &args.out_indices {
        npy::write_i64(p, m.indices.rows(), m.indices.cols(), m.indices.as_slice())?;
    }
    if let Some(p) = &args.out_scores {
        npy::write_f32(p, &m.scores)?;
    }
    if let (Some(p), Some(records)) = (&args.out, ds.captions()) {
        write_retrieved_captions(p, m, records, ids)?;
    }
    Ok(())
}

/// Wall times of the phases of `recap retrieve`.
struct Times {
    /// Reading the inputs, including the screening copy.
    load_s: f64,
    /// Building (or finding) the screening copy.
    copy_s: f64,
    /// The search.
    search_s: f64,
}

fn summarize(
    args: &RetrieveArgs,
    ds: &Datastore,
    queries: &RowMatrix<f32>,
    m: &Matches,
    stats: Option<&ScreenStats>,
    t: &Times,
) {
    let (q, d) = queries.shape();
    let (load_s, search_s) = (t.load_s, t.search_s);
    // GFLOP-equivalent: the f32 search's 2·q·m·d, whatever the screen computed.
    let gflop = 2.0 * q as f64 * ds.rows() as f64 * d as f64 * 1e-9;
    let screen_bytes = stats.and_then(|s| ds.screen_copy(s.mode).ok().map(|c| c.bytes()));
    if args.json {
        let v = serde_json::json!({
            "queries": q, "datastore_rows": ds.rows(), "dim": d, "k": m.indices.cols(),
            "storage": format!("{:?}", ds.storage()), "load_s": load_s, "search_s": search_s,
            "queries_per_s": q as f64 / search_s, "gflops": gflop / search_s,
            "screen": stats.map_or("none", |s| s.mode.name()),
            "screen_kernel": stats.map(|s| s.kernel),
            "screen_copy_s": t.copy_s,
            "screen_copy_bytes": screen_bytes,
            "embedding_bytes": ds.embedding_bytes(),
            "rescored_mean": stats.map(|s| s.rescored_mean),
            "rescored_max": stats.map(|s| s.rescored_max),
            "rescored_fraction": stats.map(|s| s.rescored_mean / ds.rows().max(1) as f64),
            "plain_queries": stats.map(|s| s.plain_queries),
        });
        println!("{v}");
    } else {
        println!(
            "retrieved top-{} of {} rows for {q} queries (d = {d}, {:?}) in {search_s:.3} s: {:.0} queries/s, {:.1} GFLOP/s (load {load_s:.2} s)",
            m.indices.cols(),
            ds.rows(),
            ds.storage(),
            q as f64 / search_s,
            gflop / search_s
        );
        match stats {
            Some(s) => println!(
                "screen {} ({}): rows rescored per query mean {:.1}, max {} ({:.2e} of the datastore); {} queries by the plain search; copy {:.1} MB built in {:.2} s",
                s.mode.name(),
                s.kernel,
                s.rescored_mean,
                s.rescored_max,
                s.rescored_mean / ds.rows().max(1) as f64,
                s.plain_queries,
                screen_bytes.unwrap_or(0) as f64 / 1e6,
                t.copy_s
            ),
            None => println!("screen none (plain f32 search)"),
        }
    }
}
