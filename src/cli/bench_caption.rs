//! `recap bench caption`: the per-image cost of each stage of the ReCap pipeline and of the
//! DAL append, on real-sized models with random weights (FLAN-T5-base, CLIP ViT-B/32 sized:
//! `benches/models/*.py` make them) and a synthetic datastore; the same stages in Python
//! (transformers + numpy + faiss, as the papers' code runs them) are
//! `benches/models/pipeline_stages.py`, which reads the inputs this command writes to
//! `--out-dir` (so both sides caption the same images from the same datastore with the same
//! prompts) and prints the ratios (`benches/models/compare_pipeline.sh` runs both).
//!
//! Stages per image: retrieval (`x W`, cosine top-k), prompt, generation (FLAN-T5, n
//! candidates by beam search), candidate embedding (CLIP text tower), re-ranking (aCLIP-S),
//! DAL append (the chosen caption's row and record added to the datastore).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::common::ComputeArgs;
use crate::align::LinearMap;
use crate::error::Result;
use crate::io::atomic::write_json_atomic;
use crate::io::captions::CaptionRecord;
use crate::io::npy::write_f32;
use crate::models::clip::Clip;
use crate::models::resolve;
use crate::pipeline::local::T5Lm;
use crate::pipeline::recap::{ReCap, RerankScore};
use crate::pipeline::{Decoding, PromptTemplate};
use crate::retrieve::{Datastore, Storage};
use crate::synth::{generate, SynthConfig};

/// `recap bench caption` arguments.
#[derive(Args, Debug)]
pub struct BenchCaptionArgs {
    /// CLIP model (its text tower embeds the candidates; its width sets the embeddings').
    #[arg(long, value_name = "MODEL")]
    pub clip: String,
    /// FLAN-T5 model.
    #[arg(long, value_name = "MODEL")]
    pub lm: String,
    /// Folder for the inputs (images.npy, datastore.npy, captions.json, W.npy) and
    /// recap_stages.json.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Images captioned.
    #[arg(long, default_value_t = 8)]
    pub images: usize,
    /// Datastore captions (synthetic, 5 per synthetic image).
    #[arg(long, default_value_t = 100_000)]
    pub rows: usize,
    /// Captions retrieved per image.
    #[arg(short, long, default_value_t = 7)]
    pub k: usize,
    /// Candidates per image (beam search with as many beams).
    #[arg(short, long, default_value_t = 10)]
    pub n: usize,
    /// Tokens per candidate at most.
    #[arg(long, default_value_t = 30)]
    pub max_new_tokens: usize,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

/// Run `recap bench caption`.
pub fn run(args: BenchCaptionArgs) -> Result<()> {
    args.compute.in_pool(|| run_in_pool(&args))
}

fn run_in_pool(args: &BenchCaptionArgs) -> Result<()> {
    let clip = Clip::load(&resolve(&args.clip)?)?;
    let lm = T5Lm::load(&resolve(&args.lm)?, Some(512))?;
    let d = clip.dim();
    let store = generate(&SynthConfig {
        n_images: args.rows.div_ceil(5),
        dim: d,
        seed: 1,
        ..SynthConfig::default()
    })?;
    let queries = generate(&SynthConfig {
        n_images: args.images,
        dim: d,
        seed: 2,
        ..SynthConfig::default()
    })?;
    std::fs::create_dir_all(&args.out_dir).map_err(|e| crate::Error::io(&args.out_dir, e))?;
    write_f32(args.out_dir.join("images.npy"), &queries.images)?;
    write_f32(args.out_dir.join("datastore.npy"), &store.texts)?;
    write_f32(args.out_dir.join("W.npy"), &store.true_map)?;
    let records = store.captions.captions().to_vec();
    let texts: Vec<&str> = records.iter().map(|r| r.text.as_str()).collect();
    write_json_atomic(args.out_dir.join("captions.json"), &texts)?;
    let map = LinearMap::Plain(store.true_map.clone());
    let mut datastore = Datastore::cosine(store.texts, Storage::F32)?.with_captions(records)?;
    let template = PromptTemplate::default().max_captions(args.k);
    let recap = ReCap {
        datastore: &datastore,
        map: Some(&map),
        lm: &lm,
        text_encoder: &clip,
        template: template.clone(),
        k: args.k,
        n: args.n,
        decoding: Decoding::Beam {
            width: args.n,
            length_penalty: 1.0,
        },
        max_new_tokens: args.max_new_tokens,
        rerank: RerankScore::AClipS,
    };
    let start = Instant::now();
    let (captions, times) = recap.caption(&queries.images, None, &mut |_, _| {})?;
    let pipeline_s = start.elapsed().as_secs_f64();
    // DAL append: each image's chosen caption (embedded with the rest of its candidates
    // above; re-embedded here as DAL's captioner does) becomes a datastore row.
    let t = Instant::now();
    for (i, c) in captions.iter().enumerate() {
        let row = clip.embed_texts(&[c.caption.as_str()])?;
        let record = CaptionRecord {
            id: format!("synthetic-{i}"),
            image_id: format!("query-{i}"),
            text: c.caption.clone(),
        };
        datastore.append(row, Some(vec![record]))?;
    }
    let append_s = t.elapsed().as_secs_f64();
    let n = captions.len() as f64;
    let stages = json!({
        "retrieve": times.retrieve / n, "prompt": times.prompt / n, "generate": times.generate / n,
        "embed_candidates": times.embed / n, "rerank": times.rerank / n, "dal_append": append_s / n,
    });
    let total =
        times.retrieve + times.prompt + times.generate + times.embed + times.rerank + append_s;
    let prompts: Vec<&str> = captions.iter().map(|c| c.prompt.as_str()).collect();
    let chosen: Vec<&str> = captions.iter().map(|c| c.caption.as_str()).collect();
    let candidates: Vec<usize> = captions.iter().map(|c| c.candidates.len()).collect();
    let out = json!({
        "side": "recap", "images": captions.len(), "datastore_rows": datastore.rows() - captions.len(),
        "dim": d, "k": args.k, "n": args.n, "max_new_tokens": args.max_new_tokens,
        "threads": rayon::current_num_threads(),
        "seconds_per_image": stages, "total_seconds_per_image": total / n,
        "images_per_second": n / (pipeline_s + append_s),
        "prompts": prompts, "chosen": chosen, "distinct_candidates": candidates,
    });
    write_json_atomic(args.out_dir.join("recap_stages.json"), &out)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print_table(&out);
    }
    Ok(())
}

fn print_table(out: &serde_json::Value) {
    let total = out["total_seconds_per_image"].as_f64().unwrap_or(0.0);
    println!(
        "recap, {} images, datastore {} x {}, k = {}, n = {} beams, ≤ {} tokens, {} threads",
        out["images"],
        out["datastore_rows"],
        out["dim"],
        out["k"],
        out["n"],
        out["max_new_tokens"],
        out["threads"]
    );
    for stage in [
        "retrieve",
        "prompt",
        "generate",
        "embed_candidates",
        "rerank",
        "dal_append",
    ] {
        let s = out["seconds_per_image"][stage].as_f64().unwrap_or(0.0);
        println!(
            "  {stage:<17} {:>10.3} ms/image  {:>5.1} %",
            1000.0 * s,
            100.0 * s / total.max(f64::MIN_POSITIVE)
        );
    }
    println!(
        "  total             {:>10.3} ms/image  ({:.3} images/s)",
        1000.0 * total,
        out["images_per_second"].as_f64().unwrap_or(0.0)
    );
}
