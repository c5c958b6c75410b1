//! `recap caption`: the ReCap pipeline end to end (see [`crate::pipeline::recap`]).
//!
//! ```text
//! recap caption --images DIR|LIST.txt|FILE|img.npy --clip DIR|ORG/NAME [--map W.npy]
//!     --texts datastore.npy --captions captions.json [-k 7]
//!     (--lm DIR|ORG/NAME | --lm-url URL --lm-model NAME [--lm-api completions|chat])
//!     [-n 10] [--decode beam|sample|greedy] [--rerank aclip-s|clip-s|refaclip-s]
//!     --out results.json [--retrieved-out retrieved.json] [--report report.json]
//!     [--references refs.json [--meteor-jar meteor-1.5.jar]]
//! ```
//!
//! Images are files (embedded with `--clip`'s image tower; ids are the file stems) or a
//! `.npy` of CLIP image embeddings (ids from its `X.ids.json` sidecar when present, else the
//! row numbers). Outputs, each written atomically: the COCO results JSON
//! `[{"image_id", "caption"}]` (integer ids when every id is an integer), SmallCap's
//! retrieved-captions JSON, and a report with, per image, the retrieved captions, the
//! prompt, every candidate with its score, and the seconds per stage.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use super::caption_metrics::{score_captions, ScoringParts};
use super::caption_smallcap;
use super::common::ComputeArgs;
use super::embed::{image_inputs, sidecar_path};
use super::progress::bar;
use crate::align::LinearMap;
use crate::backend::Device;
use crate::error::{Error, Result};
use crate::io::atomic::write_json_atomic;
use crate::io::captions::{read_json, read_records, CaptionSet};
use crate::io::npy;
use crate::models::clip::Clip;
use crate::models::resolve;
use crate::pipeline::lm::CaptionLm;
use crate::pipeline::local::T5Lm;
use crate::pipeline::recap::{ImageCaption, ReCap, RerankScore, StageTimes};
use crate::pipeline::{Decoding, PromptTemplate};
use crate::retrieve::{Datastore, Storage};
use crate::RowMatrix;

/// Decoding on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeArg {
    /// Beam search (--beams, --length-penalty), n best returned.
    Beam,
    /// Seeded sampling (--temperature, --top-k, --top-p, --seed).
    Sample,
    /// Greedy decoding (one candidate).
    Greedy,
}

/// Re-ranking score on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RerankArg {
    /// aCLIP-S (needs --map).
    #[value(name = "aclip-s")]
    AClipS,
    /// CLIP-S.
    #[value(name = "clip-s")]
    ClipS,
    /// RefaCLIP-S against the retrieved captions (needs --map).
    #[value(name = "refaclip-s")]
    RefAClipS,
}

/// HTTP API on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiArg {
    /// /v1/completions.
    Completions,
    /// /v1/chat/completions.
    Chat,
}

/// The pipeline's inputs and settings, shared by `recap caption` and `recap dal`.
#[derive(Args, Debug)]
pub struct PipelineArgs {
    /// Images: a folder, a .txt list, one image file, or a .npy of CLIP image embeddings.
    #[arg(long, value_name = "PATH")]
    pub images: PathBuf,
    /// CLIP model (directory or Hugging Face id in the local cache): embeds the images (when
    /// they are files) and the candidates.
    #[arg(long, value_name = "MODEL")]
    pub clip: String,
    /// Alignment map W.npy (d_x x d_y, with its W.json when written by `recap fit`).
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Datastore: caption text embeddings (.npy, one row per caption).
    #[arg(long, alias = "datastore", value_name = "FILE")]
    pub texts: PathBuf,
    /// Captions of the datastore rows (sidecar, COCO, Karpathy or a records array).
    #[arg(long, value_name = "FILE")]
    pub captions: PathBuf,
    /// Captions retrieved per image.
    #[arg(short, long, default_value_t = 7)]
    pub k: usize,
    /// Local language model (FLAN-T5 directory or Hugging Face id in the local cache).
    #[arg(
        long,
        value_name = "MODEL",
        required_unless_present = "lm_url",
        conflicts_with = "lm_url"
    )]
    pub lm: Option<String>,
    /// An OpenAI-compatible server instead (vLLM, llama.cpp, TGI, ollama); needs --features http.
    #[arg(long, value_name = "URL", requires = "lm_model")]
    pub lm_url: Option<String>,
    /// The model name the server knows.
    #[arg(long, value_name = "NAME")]
    pub lm_model: Option<String>,
    /// The server's endpoint.
    #[arg(long, value_enum, default_value = "completions")]
    pub lm_api: ApiArg,
    /// Bearer token for the server (or the RECAP_LM_API_KEY environment variable).
    #[arg(long)]
    pub lm_api_key: Option<String>,
    /// Candidates per image [default: 10; --system smallcap: 1, its only choice].
    #[arg(short, long)]
    pub n: Option<usize>,
    /// Decoding.
    #[arg(long, value_enum, default_value = "beam")]
    pub decode: DecodeArg,
    /// Beams for --decode beam (at least n) [default: 10; --system smallcap: 3].
    #[arg(long)]
    pub beams: Option<usize>,
    /// Length penalty exponent of beam search (Hugging Face's) [default: 1.0; --system
    /// smallcap: 0.0].
    #[arg(long)]
    pub length_penalty: Option<f64>,
    /// Sampling temperature.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Sampling: keep the k most likely tokens (0 = all).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Sampling: nucleus mass.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Tokens per candidate at most [default: 30; --system smallcap: 25].
    #[arg(long)]
    pub max_new_tokens: Option<usize>,
    /// Retrieved captions put in the prompt [default: all k; --system smallcap: 4].
    #[arg(long)]
    pub prompt_k: Option<usize>,
    /// Re-ranking score (default: aclip-s with --map, else clip-s).
    #[arg(long, value_enum)]
    pub rerank: Option<RerankArg>,
    /// Prompt template with one {captions} slot (default: recap's, see `pipeline::prompt`).
    #[arg(long)]
    pub prompt_template: Option<String>,
    /// Images embedded per batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

/// The captioning system on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemArg {
    /// ReCap: retrieve through W, prompt the LM (--lm FLAN-T5 or --lm-url), re-rank in CLIP
    /// space.
    Recap,
    /// SmallCap: CLIP retrieval with self-exclusion (by image id), its prompt (4 of the k = 7
    /// retrieved captions), its decoder (--lm: a SmallCap checkpoint; beam 3, 25 tokens).
    Smallcap,
}

/// Options of `recap caption`.
#[derive(Args, Debug)]
pub struct CaptionArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// The captioning system.
    #[arg(long, value_enum, default_value = "recap")]
    pub system: SystemArg,
    /// --system smallcap: GPT-2's tokenizer (a directory or Hugging Face id holding
    /// tokenizer.json; default: the --lm checkpoint's own).
    #[arg(long, value_name = "MODEL")]
    pub tokenizer: Option<String>,
    /// COCO results JSON: [{"image_id", "caption"}].
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// SmallCap's retrieved-captions JSON.
    #[arg(long, value_name = "FILE")]
    pub retrieved_out: Option<PathBuf>,
    /// The full report (per image: retrieved, prompt, candidates with scores; stage times).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Reference captions (COCO captions annotations or clipscore's `{"id": [refs]}`): the
    /// summary and report then score the chosen captions as `recap score` would (BLEU-1..4,
    /// METEOR, ROUGE-L, CIDEr-D, CLIP-S, RefCLIP-S; aCLIP-S and RefaCLIP-S with --map).
    #[arg(long, value_name = "FILE")]
    pub references: Option<PathBuf>,
    /// METEOR 1.5 jar for --references (default: $RECAP_METEOR_JAR; without one METEOR is
    /// listed as skipped).
    #[arg(long, value_name = "FILE")]
    pub meteor_jar: Option<PathBuf>,
    /// Print the report summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The loaded parts of a ReCap pipeline.
pub struct Parts {
    /// CLIP (image tower for files, text tower for candidates).
    pub clip: Clip,
    /// The images' CLIP embeddings and their ids.
    pub images: RowMatrix<f32>,
    /// Image ids (file stems, the .npy's ids sidecar, or row numbers).
    pub ids: Vec<String>,
    /// The alignment map.
    pub map: Option<LinearMap>,
    /// The caption datastore with its records.
    pub datastore: Datastore,
    /// The language model.
    pub lm: Box<dyn CaptionLm>,
    /// The re-ranking score.
    pub rerank: RerankScore,
    /// The prompt.
    pub template: PromptTemplate,
}

impl Parts {
    /// Load everything `p` names (images embedded with a progress bar unless `quiet`).
    pub fn load(p: &PipelineArgs, quiet: bool) -> Result<Self> {
        let clip = Clip::load(&resolve(&p.clip)?)?.with_batch_size(p.batch.max(1));
        let (images, ids) = image_embeddings(p, &clip, quiet)?;
        let map = p.map.as_ref().map(LinearMap::load).transpose()?;
        let rerank = match (p.rerank, &map) {
            (Some(RerankArg::ClipS), _) | (None, None) => RerankScore::ClipS,
            (Some(RerankArg::AClipS), _) | (None, Some(_)) => RerankScore::AClipS,
            (Some(RerankArg::RefAClipS), _) => RerankScore::RefAClipS,
        };
        let template = match &p.prompt_template {
            Some(t) => PromptTemplate::new(t)?,
            None => PromptTemplate::default(),
        }
        .max_captions(p.prompt_k.unwrap_or(p.k));
        Ok(Parts {
            datastore: open_datastore(p)?,
            lm: language_model(p)?,
            clip,
            images,
            ids,
            map,
            rerank,
            template,
        })
    }

    /// What the CLIP-based metrics of `--references` need.
    pub fn scoring(&self) -> ScoringParts<'_> {
        ScoringParts {
            clip: &self.clip,
            images: &self.images,
            map: self.map.as_ref(),
        }
    }

    /// The pipeline over these parts.
    pub fn recap<'a>(&'a self, p: &PipelineArgs) -> ReCap<'a> {
        ReCap {
            datastore: &self.datastore,
            map: self.map.as_ref(),
            lm: self.lm.as_ref(),
            text_encoder: &self.clip,
            template: self.template.clone(),
            k: p.k,
            n: p.candidates(),
            decoding: decoding(p, RECAP_DECODING),
            max_new_tokens: p.max_new_tokens.unwrap_or(RECAP_DECODING.max_new_tokens),
            rerank: self.rerank,
        }
    }
}

/// Refuse CUDA (the models run on the CPU), then run `f` on `--threads` threads.
pub fn on_cpu<T: Send>(p: &PipelineArgs, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    if matches!(p.compute.device, Device::Cuda(_)) {
        return Err(Error::invalid(
            "device",
            "the models run on the CPU only (use --device cpu)",
        ));
    }
    p.compute.in_pool(f)
}

/// Run `recap caption`.
pub fn run(args: CaptionArgs) -> Result<()> {
    match args.system {
        SystemArg::Recap => {
            if args.tokenizer.is_some() {
                return Err(Error::invalid(
                    "tokenizer",
                    "--tokenizer is for --system smallcap (FLAN-T5 reads its own)",
                ));
            }
            on_cpu(&args.pipeline, || run_in_pool(&args))
        }
        SystemArg::Smallcap => on_cpu(&args.pipeline, || caption_smallcap::run(&args)),
    }
}

fn run_in_pool(args: &CaptionArgs) -> Result<()> {
    let p = &args.pipeline;
    let quiet = p.compute.quiet || args.json;
    let start = Instant::now();
    let parts = Parts::load(p, quiet)?;
    let load_seconds = start.elapsed().as_secs_f64();
    let progress = bar(parts.images.rows() as u64, "images", quiet);
    let (results, times) = parts
        .recap(p)
        .caption(&parts.images, None, &mut |done, _| {
            progress.set_position(done as u64)
        })?;
    progress.finish_and_clear();
    let written: Vec<Written> = results
        .iter()
        .map(|r| Written {
            image: r.image,
            caption: &r.caption,
            retrieved: r.retrieved.iter().map(|x| x.1.as_str()).collect(),
        })
        .collect();
    write_outputs(args, &written, &parts.ids)?;
    let metrics = match &args.references {
        Some(path) => {
            let chosen: Vec<(usize, String)> = results
                .iter()
                .map(|r| (r.image, r.caption.clone()))
                .collect();
            let jar = args.meteor_jar.as_deref();
            let report = score_captions(&chosen, &parts.ids, &parts.scoring(), path, jar)?;
            Some((report.to_json(), report.table()))
        }
        None => None,
    };
    let summary = json!({
        "images": results.len(), "lm": parts.lm.describe(), "rerank": parts.rerank, "k": p.k, "n": p.candidates(),
        "seconds": { "load_and_embed_images": load_seconds, "stages": times, "total": start.elapsed().as_secs_f64() },
        "images_per_second": results.len() as f64 / start.elapsed().as_secs_f64(),
        "out": args.out,
        "metrics": metrics.as_ref().map(|(json, _)| json),
    });
    if let Some(path) = &args.report {
        write_json_atomic(path, &report(&summary, &results, &parts.ids))?;
    }
    print_summary(&summary, &times, args.json);
    if let (Some((_, table)), false) = (&metrics, args.json) {
        print!("{table}");
    }
    Ok(())
}

fn image_embeddings(
    args: &PipelineArgs,
    clip: &Clip,
    quiet: bool,
) -> Result<(RowMatrix<f32>, Vec<String>)> {
    if args.images.extension().is_some_and(|x| x == "npy") {
        let m = npy::read_f32_finite(&args.images)?;
        let sidecar = sidecar_path(&args.images, "ids.json");
        let ids = if sidecar.exists() {
            read_ids(&sidecar)?
        } else {
            (0..m.rows()).map(|i| i.to_string()).collect()
        };
        if ids.len() != m.rows() {
            return Err(Error::shape(
                sidecar.display().to_string(),
                format!("{} ids (one per row)", m.rows()),
                ids.len().to_string(),
            ));
        }
        return Ok((m, ids));
    }
    let (paths, ids) = image_inputs(&args.images)?;
    let progress = bar(paths.len() as u64, "images embedded", quiet);
    let mut data = Vec::with_capacity(paths.len() * clip.dim());
    for chunk in paths.chunks(args.batch.max(1)) {
        data.extend_from_slice(clip.embed_image_files(chunk)?.as_slice());
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    Ok((RowMatrix::from_vec(paths.len(), clip.dim(), data)?, ids))
}

/// A JSON list of ids (strings or integers).
fn read_ids(path: &std::path::Path) -> Result<Vec<String>> {
    let value = read_json(path)?;
    let list = value
        .as_array()
        .ok_or_else(|| Error::format(path, "expected a JSON list of ids"))?;
    list.iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(Error::format(
                path,
                format!("an id must be a string or an integer, got {other}"),
            )),
        })
        .collect()
}

/// The caption datastore of `--texts` with the records of `--captions` (cosine, f32).
pub fn open_datastore(args: &PipelineArgs) -> Result<Datastore> {
    let value = read_json(&args.captions)?;
    let records = if value.get("images").is_some()
        || value.get("captions").is_some()
        || value.get("annotations").is_some()
    {
        CaptionSet::read_auto(&args.captions)?.captions().to_vec()
    } else {
        read_records(&args.captions)?
    };
    Datastore::from_npy(&args.texts, true, Storage::F32)?.with_captions(records)
}

fn language_model(args: &PipelineArgs) -> Result<Box<dyn CaptionLm>> {
    if let Some(model) = &args.lm {
        return Ok(Box::new(T5Lm::load(&resolve(model)?, Some(512))?));
    }
    http_lm(args)
}

#[cfg(feature = "http")]
fn http_lm(args: &PipelineArgs) -> Result<Box<dyn CaptionLm>> {
    use crate::pipeline::http::{Api, HttpLm};
    let api = match args.lm_api {
        ApiArg::Completions => Api::Completions,
        ApiArg::Chat => Api::Chat,
    };
    let (url, model) = (
        args.lm_url.as_deref().unwrap_or_default(),
        args.lm_model.as_deref().unwrap_or_default(),
    );
    Ok(Box::new(
        HttpLm::new(url, model, api).api_key(
            args.lm_api_key
                .clone()
                .or_else(|| std::env::var("RECAP_LM_API_KEY").ok()),
        ),
    ))
}

#[cfg(not(feature = "http"))]
fn http_lm(_: &PipelineArgs) -> Result<Box<dyn CaptionLm>> {
    Err(Error::invalid(
        "lm-url",
        "this recap was built without the `http` feature (cargo build --features models,http)",
    ))
}

/// A system's decoding defaults (for the flags left out).
#[derive(Debug, Clone, Copy)]
pub struct DecodingDefaults {
    /// Candidates per image.
    pub n: usize,
    /// Beams.
    pub beams: usize,
    /// Beam search's length penalty.
    pub length_penalty: f64,
    /// Tokens per candidate at most.
    pub max_new_tokens: usize,
}

/// ReCap's defaults: 10 candidates from 10 beams, length penalty 1, 30 tokens.
pub const RECAP_DECODING: DecodingDefaults = DecodingDefaults {
    n: 10,
    beams: 10,
    length_penalty: 1.0,
    max_new_tokens: 30,
};

impl PipelineArgs {
    /// Candidates per image (`-n`, ReCap's default 10).
    pub fn candidates(&self) -> usize {
        self.n.unwrap_or(RECAP_DECODING.n)
    }
}

/// The decoding the flags ask for, `defaults` filling the ones left out.
pub fn decoding(args: &PipelineArgs, defaults: DecodingDefaults) -> Decoding {
    let n = args.n.unwrap_or(defaults.n);
    match args.decode {
        DecodeArg::Greedy => Decoding::Greedy,
        DecodeArg::Beam => Decoding::Beam {
            width: args.beams.unwrap_or(defaults.beams).max(n),
            length_penalty: args.length_penalty.unwrap_or(defaults.length_penalty),
        },
        DecodeArg::Sample => Decoding::Sample {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            seed: args.seed,
        },
    }
}

/// An id as COCO results want it: the integer when it is one.
pub fn coco_id(id: &str) -> Value {
    id.parse::<i64>().map_or_else(|_| json!(id), |n| json!(n))
}

/// One image's lines in the outputs: its row, the chosen caption, the retrieved captions.
pub struct Written<'a> {
    /// Row of the image (index into the ids).
    pub image: usize,
    /// The chosen caption.
    pub caption: &'a str,
    /// The retrieved captions, best first.
    pub retrieved: Vec<&'a str>,
}

/// The COCO results JSON (`--out`) and SmallCap's retrieved-captions JSON
/// (`--retrieved-out`), each written atomically.
pub fn write_outputs(args: &CaptionArgs, rows: &[Written], ids: &[String]) -> Result<()> {
    let coco: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "image_id": coco_id(&ids[r.image]), "caption": r.caption }))
        .collect();
    write_json_atomic(&args.out, &coco)?;
    if let Some(path) = &args.retrieved_out {
        let by_id: serde_json::Map<String, Value> = rows
            .iter()
            .map(|r| (ids[r.image].clone(), json!(r.retrieved)))
            .collect();
        write_json_atomic(path, &by_id)?;
    }
    Ok(())
}

fn report(summary: &Value, results: &[ImageCaption], ids: &[String]) -> Value {
    let per_image: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "image_id": coco_id(&ids[r.image]), "caption": r.caption, "prompt": r.prompt,
                "retrieved": retrieved_json(&r.retrieved),
                "candidates": r.candidates,
            })
        })
        .collect();
    json!({ "summary": summary, "images": per_image })
}

fn print_summary(summary: &Value, t: &StageTimes, json: bool) {
    let stages = [
        ("retrieve", t.retrieve),
        ("prompt", t.prompt),
        ("generate", t.generate),
        ("embed candidates", t.embed),
        ("re-rank", t.rerank),
    ];
    print_stages(summary, "", &stages, json);
}

/// The summary as pretty JSON (`json`), else the images, model, output and each stage's
/// seconds with its share of their sum; `model_prefix` goes before the model's name.
pub fn print_stages(summary: &Value, model_prefix: &str, stages: &[(&str, f64)], json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(summary).unwrap_or_default()
        );
        return;
    }
    let total: f64 = stages.iter().map(|s| s.1).sum();
    let pct = |x: f64| if total > 0.0 { 100.0 * x / total } else { 0.0 };
    println!(
        "{} images captioned with {model_prefix}{} -> {}",
        summary["images"],
        summary["lm"].as_str().unwrap_or(""),
        summary["out"].as_str().unwrap_or("")
    );
    let parts: Vec<String> = stages
        .iter()
        .map(|(name, x)| format!("{name} {x:.3} s ({:.1} %)", pct(*x)))
        .collect();
    println!("stages: {}", parts.join(", "));
}

/// Retrieved captions as the reports list them: `{"row", "caption", "cosine"}`, best first.
pub fn retrieved_json(retrieved: &[(usize, String, f32)]) -> Vec<Value> {
    retrieved
        .iter()
        .map(|(row, text, score)| json!({"row": row, "caption": text, "cosine": score}))
        .collect()
}
