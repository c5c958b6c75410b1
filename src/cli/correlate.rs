//! `recap correlate`: Kendall τ between caption metrics and human judgments, with
//! jmhessel/clipscore's Flickr8k protocol (see [`crate::metrics::flickr8k`]).
//!
//! Embeddings for the CLIP-based metrics: `--images` one row per image key (keys in
//! sorted order, or `--image-ids`), `--ref-emb` the references of each key in order (or
//! `--ref-ids`), `--cand-emb` one row per scored judgment in protocol order (keys sorted,
//! judgments in file order, NaN ratings dropped; `--cand-ids` lists item indices 0..n-1).
//! `--items-out` writes that item order to a JSON file so embeddings can be made to match
//! (before scoring), then again with each item's `scores` (every computed metric's per-item
//! value) once scored: the input of `recap plot correlation`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::clip_inputs::{expand_rows, EmbeddingArgs};
use super::common::ComputeArgs;
use super::score::{RefCosineArg, TokenizeArg};
use crate::error::Result;
use crate::io::atomic::write_json_atomic;
use crate::io::Grouping;
use crate::metrics::clip::RefCosine;
use crate::metrics::correlation::{kendall_tau, TauVariant};
use crate::metrics::flickr8k::read_judgments;
use crate::metrics::score::{compute, ClipInputs, Metric, ScoreOptions};
use crate::metrics::{EvalSet, Tokenization};

/// τ variant on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TauArg {
    /// τ-b (clipscore: Flickr8k-CrowdFlower).
    B,
    /// τ-c (clipscore: Flickr8k-Expert).
    C,
}

/// Options of `recap correlate`.
#[derive(Args, Debug)]
pub struct CorrelateArgs {
    /// Flickr8k-Expert (`flickr8k.json`) or CrowdFlower (`crowdflower_flickr8k.json`) file.
    #[arg(long)]
    pub judgments: PathBuf,
    /// Kendall variant: c for Flickr8k-Expert, b for Flickr8k-CrowdFlower (clipscore's protocol).
    #[arg(long, value_enum)]
    pub tau: TauArg,
    /// Comma-separated metrics (as in `recap score`).
    #[arg(long, default_value = "bleu,meteor,rouge,cider")]
    pub metrics: String,
    /// Tokenization before the n-gram metrics.
    #[arg(long, value_enum, default_value_t = TokenizeArg::Ptb)]
    pub tokenize: TokenizeArg,
    /// METEOR 1.5 jar (default: $RECAP_METEOR_JAR).
    #[arg(long)]
    pub meteor_jar: Option<PathBuf>,
    /// Reference cosine in RefCLIP-S-type scores.
    #[arg(long, value_enum, default_value_t = RefCosineArg::Clipscore)]
    pub ref_cosine: RefCosineArg,
    /// Embeddings for the CLIP-based metrics.
    #[command(flatten)]
    pub emb: EmbeddingArgs,
    /// Write the item order (key, candidate, rating) as JSON here, with each item's metric
    /// scores once computed (`recap plot correlation` draws it).
    #[arg(long)]
    pub items_out: Option<PathBuf>,
    /// Write the result JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the result JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

/// Run `recap correlate`.
pub fn run(args: CorrelateArgs) -> Result<()> {
    args.compute.in_pool(|| run_in_pool(&args))
}

fn run_in_pool(args: &CorrelateArgs) -> Result<()> {
    let metrics = Metric::parse_list(&args.metrics)?;
    let hj = read_judgments(&args.judgments)?;
    // The item order first, so embeddings can be made to match even if scoring fails.
    if let Some(p) = &args.items_out {
        write_json_atomic(p, &items_json(&hj, None))?;
    }
    let ids: Vec<String> = hj.items.iter().map(|j| j.key.clone()).collect();
    let tok = match args.tokenize {
        TokenizeArg::Ptb => Tokenization::Ptb,
        TokenizeArg::None => Tokenization::None,
    };
    let set = EvalSet::from_raw(
        ids,
        hj.items.iter().map(|j| j.candidate.clone()).collect(),
        hj.items.iter().map(|j| j.references.clone()).collect(),
        tok,
    );
    let opts = ScoreOptions {
        metrics,
        meteor_jar: args.meteor_jar.clone(),
        clip: clip_inputs(&args.emb, &hj)?,
        ref_cosine: match args.ref_cosine {
            RefCosineArg::Clipscore => RefCosine::Clipscore,
            RefCosineArg::Paper => RefCosine::Paper,
        },
        device: args.compute.device,
    };
    let computed = compute(&set, &opts)?;
    if let Some(p) = &args.items_out {
        write_json_atomic(p, &items_json(&hj, Some(&computed.values)))?;
    }
    let human: Vec<f64> = hj.items.iter().map(|j| j.rating).collect();
    let variant = match args.tau {
        TauArg::B => TauVariant::B,
        TauArg::C => TauVariant::C,
    };
    let mut taus = serde_json::Map::new();
    let mut table = format!(
        "{} judgments ({} NaN ratings dropped), {} images\n{:<12}  {:>10}\n",
        human.len(),
        hj.dropped_nan,
        hj.keys.len(),
        "metric",
        format!(
            "100*tau-{}",
            if variant == TauVariant::B { "b" } else { "c" }
        )
    );
    for (name, _, per) in &computed.values {
        let t = kendall_tau(per, &human, variant)?;
        taus.insert(name.clone(), json!(100.0 * t));
        table += &format!("{name:<12}  {:>10.3}\n", 100.0 * t);
    }
    let mut skipped = serde_json::Map::new();
    for (name, why) in &computed.skipped {
        skipped.insert(name.clone(), json!(why));
        table += &format!("{name:<12}  not computed ({why})\n");
    }
    let out = json!({
        "tau_variant": if variant == TauVariant::B { "b" } else { "c" },
        "n_items": human.len(),
        "dropped_nan": hj.dropped_nan,
        "tau_x100": taus,
        "not_computed": skipped,
    });
    if let Some(p) = &args.out {
        write_json_atomic(p, &out)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print!("{table}");
    }
    Ok(())
}

/// The items in protocol order: key, candidate, rating and (once computed) each metric's
/// per-item score.
fn items_json(
    hj: &crate::metrics::flickr8k::HumanJudgments,
    values: Option<&[(String, f64, Vec<f64>)]>,
) -> Vec<serde_json::Value> {
    hj.items
        .iter()
        .enumerate()
        .map(|(i, j)| {
            let mut item = json!({"key": j.key, "candidate": j.candidate, "rating": j.rating});
            if let Some(values) = values {
                let scores: serde_json::Map<_, _> = values
                    .iter()
                    .map(|(name, _, per)| (name.clone(), json!(per.get(i))))
                    .collect();
                item["scores"] = serde_json::Value::Object(scores);
            }
            item
        })
        .collect()
}

/// Per-key image and reference rows expanded to one image and reference group per item.
fn clip_inputs(
    emb: &EmbeddingArgs,
    hj: &crate::metrics::flickr8k::HumanJudgments,
) -> Result<Option<ClipInputs>> {
    let key_index: std::collections::HashMap<&str, usize> = hj
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let key_refs = &hj.ref_counts;
    let item_ids: Vec<String> = (0..hj.items.len()).map(|i| i.to_string()).collect();
    let Some(mut inputs) = emb.load(&hj.keys, &item_ids, key_refs)? else {
        return Ok(None);
    };
    let item_key: Vec<usize> = hj.items.iter().map(|j| key_index[j.key.as_str()]).collect();
    inputs.images = expand_rows(&inputs.images, &item_key)?;
    if let Some((refs, grouping)) = &inputs.references {
        let mut rows = Vec::new();
        let mut counts = Vec::with_capacity(item_key.len());
        for &k in &item_key {
            rows.extend_from_slice(grouping.captions_of(k));
            counts.push(grouping.captions_of(k).len());
        }
        inputs.references = Some((expand_rows(refs, &rows)?, Grouping::from_counts(&counts)));
    }
    Ok(Some(inputs))
}
