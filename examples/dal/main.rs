//! ReCap's datastore-augmentation loop (DAL), with the library: fit W on the training pairs,
//! then for 3 iterations caption the test images with ReCap, keep the best half of the
//! captions (by aCLIP-S) and append them, with their provenance, to the datastore; an image
//! never retrieves its own synthetic captions. BLEU-4 / CIDEr-D of every iteration's captions,
//! and the state on disk that a re-run resumes from.
//!
//! ```text
//! cargo run --release --features models --example dal
//! cargo run --release --features models --example dal -- --data coco \
//!     --clip openai/clip-vit-base-patch32 --lm google/flan-t5-base
//! ```
//! Without flags it runs on tiny random models and shape images made on the spot (see
//! `examples/common/inputs.rs`); see README.md in this folder.

#[path = "../common/inputs.rs"]
mod inputs;

use recap::io::captions::{Candidates, CaptionSet};
use recap::metrics::{ngram_metrics, EvalSet, Tokenization};
use recap::models::clip::Clip;
use recap::models::resolve;
use recap::pipeline::dal::{Dal, DalHooks, Evaluate, IterationReport, Keep};
use recap::pipeline::local::T5Lm;
use recap::pipeline::recap::{ReCap, ReCapCaptioner, RerankScore};
use recap::pipeline::{Decoding, PromptTemplate};
use serde_json::json;

fn main() -> recap::Result<()> {
    let inputs = inputs::Inputs::from_args()?;
    let clip = Clip::load(&resolve(&inputs.clip)?)?;
    let lm = T5Lm::load(&resolve(&inputs.lm)?, Some(512))?;
    let (map, datastore) = inputs.fit_map(&clip)?;
    let recap = ReCap {
        datastore: &datastore,
        map: Some(&map),
        lm: &lm,
        text_encoder: &clip,
        template: PromptTemplate::default().max_captions(7),
        k: 7,
        n: 5,
        decoding: Decoding::Beam {
            width: 5,
            length_penalty: 1.0,
        },
        max_new_tokens: 20,
        rerank: RerankScore::AClipS,
    };
    let test = inputs.captions("test")?;
    let images = clip.embed_image_files(&inputs.image_paths("test", &test)?)?;

    // The loop: 3 iterations, the best half of each iteration's captions kept.
    let state_dir = tempfile::tempdir().map_err(|e| recap::Error::io("tempdir", e))?;
    let dal = Dal::new(3, 7, Keep::TopFraction(0.5))?;
    let mut captioner = ReCapCaptioner::new(&recap, &images);
    let mut on_iteration = |r: &IterationReport| {
        println!(
            "iteration {}: {} captioned, {} added (mean aCLIP-S {:.3}), datastore {} rows, {}",
            r.iteration,
            r.captioned,
            r.added,
            r.mean_added_score,
            r.datastore_rows,
            r.metrics.as_ref().map_or(String::new(), |m| m.to_string())
        );
    };
    let mut evaluate = |chosen: &[(usize, String)]| score(chosen, &test);
    let hooks = DalHooks {
        on_iteration: &mut on_iteration,
        evaluate: Some(&mut evaluate as &mut Evaluate<'_>),
    };
    let (grown, state) = dal.run_with(
        &images,
        datastore.clone(),
        None,
        &mut captioner,
        state_dir.path(),
        hooks,
    )?;
    println!(
        "datastore: {} → {} rows; the first synthetic captions:",
        state.base_rows,
        grown.rows()
    );
    for s in state.synthetic.iter().take(4) {
        println!(
            "  iteration {} image {} score {:.3}: {}",
            s.iteration,
            test.images()[s.image],
            s.score,
            s.text
        );
    }
    println!("state (resumable) was in {}", state_dir.path().display());
    Ok(())
}

/// BLEU-4 and CIDEr-D of one caption per image against the test references.
fn score(chosen: &[(usize, String)], test: &CaptionSet) -> recap::Result<serde_json::Value> {
    let candidates: Candidates = chosen
        .iter()
        .map(|(image, caption)| (test.images()[*image].clone(), caption.clone()))
        .collect();
    let scores = ngram_metrics(&EvalSet::new(
        &candidates,
        &test.references(),
        Tokenization::Ptb,
    )?);
    Ok(json!({"BLEU-4": scores.bleu.corpus[3], "CIDEr-D": scores.cider.0}))
}
