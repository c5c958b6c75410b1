//! ReCap (Paischer et al.) on a folder of images, with the library, step by step:
//!
//! 1. embed the training images and captions with CLIP;
//! 2. fit the linear map W (ridge, λ chosen by GCV) from image to text embeddings;
//! 3. caption the test images: retrieve k = 7 training captions through W, prompt FLAN-T5 with
//!    them, generate candidates with beam search, keep the best by aCLIP-S;
//! 4. score the captions against the test references (BLEU-4, ROUGE-L, CIDEr-D).
//!
//! ```text
//! cargo run --release --features models --example recap_caption
//! cargo run --release --features models --example recap_caption -- \
//!     --data coco --clip openai/clip-vit-base-patch32 --lm google/flan-t5-base
//! ```
//! Without flags it runs on tiny random models and shape images made on the spot (see
//! `examples/common/inputs.rs`); see README.md in this folder.

#[path = "../common/inputs.rs"]
mod inputs;

use recap::io::captions::Candidates;
use recap::metrics::{ngram_metrics, EvalSet, Tokenization};
use recap::models::clip::Clip;
use recap::models::resolve;
use recap::pipeline::local::T5Lm;
use recap::pipeline::recap::{ReCap, RerankScore};
use recap::pipeline::{Decoding, PromptTemplate};

fn main() -> recap::Result<()> {
    let inputs = inputs::Inputs::from_args()?;
    let clip = Clip::load(&resolve(&inputs.clip)?)?;
    let lm = T5Lm::load(&resolve(&inputs.lm)?, Some(512))?;

    // 1–2. Training pairs (every caption with its image) embedded; W in closed form (ridge
    //      over a λ grid, chosen by generalized cross-validation); the training captions as
    //      the datastore (examples/common/inputs.rs).
    let (map, datastore) = inputs.fit_map(&clip)?;

    // 3. ReCap captions the test images.
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
    let test_images = clip.embed_image_files(&inputs.image_paths("test", &test)?)?;
    let (captions, times) = recap.caption(&test_images, None, &mut |_, _| {})?;
    for c in captions.iter().take(3) {
        println!("\nimage {}:", test.images()[c.image]);
        for (_, text, cos) in c.retrieved.iter().take(3) {
            println!("  retrieved {cos:.3}  {text}");
        }
        for cand in &c.candidates {
            println!("  candidate aCLIP-S {:.3}  {}", cand.score, cand.text);
        }
        println!("  -> {}", c.caption);
    }
    println!(
        "\nseconds: retrieve {:.3}, prompt {:.3}, generate {:.3}, embed {:.3}, re-rank {:.3}",
        times.retrieve, times.prompt, times.generate, times.embed, times.rerank
    );

    // 4. Scores against the test references (pycocoevalcap's definitions, PTB tokenization).
    let candidates: Candidates = captions
        .iter()
        .map(|c| (test.images()[c.image].clone(), c.caption.clone()))
        .collect();
    let set = EvalSet::new(&candidates, &test.references(), Tokenization::Ptb)?;
    let scores = ngram_metrics(&set);
    println!(
        "{} test images: BLEU-4 {:.4}, ROUGE-L {:.4}, CIDEr-D {:.4}",
        captions.len(),
        scores.bleu.corpus[3],
        scores.rouge_l.0,
        scores.cider.0
    );
    Ok(())
}
