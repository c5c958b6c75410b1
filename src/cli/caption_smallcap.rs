//! `recap caption --system smallcap`: SmallCap end to end (see [`crate::pipeline::smallcap`]).
//!
//! ```text
//! recap caption --system smallcap --images DIR|LIST.txt|FILE --clip DIR|ORG/NAME
//!     --lm SMALLCAP_DIR|ORG/NAME [--tokenizer gpt2] --texts datastore.npy
//!     --captions captions.json [-k 7] [--prompt-k 4] [--decode beam|greedy|sample]
//!     [--beams 3] [--max-new-tokens 25] --out results.json [--retrieved-out retrieved.json]
//!     [--report report.json] [--references refs.json]
//! ```
//!
//! `--clip` is the CLIP whose vision tower SmallCap was trained on (ViT-B/32 for the published
//! checkpoints) and whose embeddings built the datastore: one pass gives the decoder's input
//! and the retrieval query. Captions whose record names the query's image id (the file stem)
//! are never retrieved for it. Outputs as for ReCap: COCO results, SmallCap's retrieved-caps
//! JSON, a report (per image: retrieved captions with cosines, the prompt, the caption with
//! its log-probability; seconds per stage).

use std::time::Instant;

use serde_json::{json, Value};

use super::caption::{
    coco_id, decoding, print_stages, retrieved_json, write_outputs, CaptionArgs, DecodingDefaults,
    Written,
};
use super::caption_metrics::{score_captions, ScoringParts};
use super::embed::image_inputs;
use super::progress::bar;
use crate::error::{Error, Result};
use crate::io::atomic::write_json_atomic;
use crate::models::clip::Clip;
use crate::models::resolve;
use crate::models::smallcap::{self, SmallCapTokenizer};
use crate::pipeline::smallcap::{
    SmallCapCaption, SmallCapPipeline, SmallCapSettings, SmallCapTimes,
};

/// SmallCap's decoding (`infer.py`): one caption, 3 beams, length penalty 0, 25 tokens.
const SMALLCAP_DECODING: DecodingDefaults = DecodingDefaults {
    n: 1,
    beams: 3,
    length_penalty: 0.0,
    max_new_tokens: 25,
};

/// Run `recap caption --system smallcap`.
pub fn run(args: &CaptionArgs) -> Result<()> {
    refuse_recap_flags(args)?;
    let p = &args.pipeline;
    let quiet = p.compute.quiet || args.json;
    let start = Instant::now();
    let lm = p.lm.as_deref().unwrap_or_default();
    let files = resolve(lm)?;
    let decoder = smallcap::load(&files)?;
    let tokenizer = match &args.tokenizer {
        Some(t) => SmallCapTokenizer::load(&resolve(t)?)?,
        None => SmallCapTokenizer::load(&files)?,
    };
    let clip = Clip::load(&resolve(&p.clip)?)?;
    let datastore = super::caption::open_datastore(p)?;
    let (paths, ids) = image_inputs(&p.images)?;
    let settings = SmallCapSettings {
        k: p.k,
        prompt_k: p.prompt_k.unwrap_or(SmallCapSettings::default().prompt_k),
        decoding: decoding(p, SMALLCAP_DECODING),
        max_new_tokens: p.max_new_tokens.unwrap_or(SMALLCAP_DECODING.max_new_tokens),
    };
    let pipeline = SmallCapPipeline::new(&clip, &decoder, &tokenizer, &datastore, settings)?;
    let load_seconds = start.elapsed().as_secs_f64();
    let progress = bar(paths.len() as u64, "images", quiet);
    let (results, images, times) =
        pipeline.caption_files(&paths, &ids, p.batch, &mut |done, _| {
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
    write_outputs(args, &written, &ids)?;
    let metrics = match &args.references {
        Some(path) => {
            let chosen: Vec<(usize, String)> = results
                .iter()
                .map(|r| (r.image, r.caption.clone()))
                .collect();
            let scoring = ScoringParts {
                clip: &clip,
                images: &images,
                map: None,
            };
            let report = score_captions(&chosen, &ids, &scoring, path, args.meteor_jar.as_deref())?;
            Some((report.to_json(), report.table()))
        }
        None => None,
    };
    let total = start.elapsed().as_secs_f64();
    let summary = json!({
        "system": "smallcap", "images": results.len(), "lm": files.name, "k": pipeline.settings.k,
        "prompt_k": pipeline.settings.prompt_k,
        "seconds": { "load_models": load_seconds, "stages": times, "total": total },
        "images_per_second": results.len() as f64 / total,
        "out": args.out,
        "metrics": metrics.as_ref().map(|(json, _)| json),
    });
    if let Some(path) = &args.report {
        write_json_atomic(path, &report(&summary, &results, &ids))?;
    }
    print_summary(&summary, &times, args.json);
    if let (Some((_, table)), false) = (&metrics, args.json) {
        print!("{table}");
    }
    Ok(())
}

/// ReCap's flags mean nothing to SmallCap: say so instead of ignoring them.
fn refuse_recap_flags(args: &CaptionArgs) -> Result<()> {
    let p = &args.pipeline;
    let given = [
        ("map", p.map.is_some()),
        ("rerank", p.rerank.is_some()),
        ("prompt-template", p.prompt_template.is_some()),
        ("lm-url", p.lm_url.is_some()),
    ];
    if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
        return Err(Error::invalid(
            *flag,
            format!("--{flag} is a ReCap option; --system smallcap does not use it"),
        ));
    }
    if p.n.is_some_and(|n| n != 1) {
        return Err(Error::invalid(
            "n",
            "--system smallcap writes one caption per image (-n 1)",
        ));
    }
    if p.images.extension().is_some_and(|x| x == "npy") {
        return Err(Error::invalid(
            "images",
            "--system smallcap reads image files: its decoder attends to the vision tower's patch features, which an embedding .npy does not hold",
        ));
    }
    Ok(())
}

fn report(summary: &Value, results: &[SmallCapCaption], ids: &[String]) -> Value {
    let per_image: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "image_id": coco_id(&ids[r.image]), "caption": r.caption, "logprob": r.logprob,
                "prompt": r.prompt,
                "retrieved": retrieved_json(&r.retrieved),
            })
        })
        .collect();
    json!({ "summary": summary, "images": per_image })
}

fn print_summary(summary: &Value, t: &SmallCapTimes, json: bool) {
    let stages = [
        ("load images", t.load),
        ("encode", t.encode),
        ("retrieve", t.retrieve),
        ("prompt", t.prompt),
        ("generate", t.generate),
    ];
    print_stages(summary, "SmallCap ", &stages, json);
}
