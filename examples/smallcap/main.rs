//! SmallCap (Ramos et al.) end to end, with the library: CLIP features and retrieval of
//! k = 7 training captions (never one of the image's own), SmallCap's prompt with the first
//! 4, its decoder (beam 3, length penalty 0, ≤ 25 tokens); then training-free domain
//! transfer: the same model with another datastore.
//!
//! ```text
//! cargo run --release --features models --example smallcap
//! cargo run --release --features models --example smallcap -- --data coco \
//!     --clip openai/clip-vit-base-patch32 --smallcap Yova/SmallCap7M --tokenizer gpt2
//! ```
//! Without flags it runs on tiny random models and shape images made on the spot (see
//! `examples/common/inputs.rs`); see README.md in this folder.

#[path = "../common/inputs.rs"]
mod inputs;

use recap::io::captions::{Candidates, CaptionRecord};
use recap::metrics::{ngram_metrics, EvalSet, Tokenization};
use recap::models::clip::Clip;
use recap::models::resolve;
use recap::models::smallcap::{self, SmallCapTokenizer};
use recap::pipeline::smallcap::{SmallCapCaption, SmallCapPipeline, SmallCapSettings};
use recap::retrieve::{Datastore, Storage};

fn main() -> recap::Result<()> {
    let inputs = inputs::Inputs::from_args()?;
    let clip = Clip::load(&resolve(&inputs.clip)?)?;
    let files = resolve(&inputs.smallcap)?;
    let decoder = smallcap::load(&files)?;
    let tokenizer = match &inputs.tokenizer {
        Some(t) => SmallCapTokenizer::load(&resolve(t)?)?,
        None => SmallCapTokenizer::load(&files)?,
    };

    // The datastore: CLIP text embeddings of the training captions, with their records (the
    // records' image ids drive the self-exclusion).
    let train = inputs.captions("train")?;
    let datastore = Datastore::cosine(inputs.embed_captions(&clip, &train)?, Storage::F32)?
        .with_captions(train.captions().to_vec())?;
    let test = inputs.captions("test")?;
    let paths = inputs.image_paths("test", &test)?;
    let ids = test.images().to_vec();

    let pipeline = SmallCapPipeline::new(
        &clip,
        &decoder,
        &tokenizer,
        &datastore,
        SmallCapSettings::default(),
    )?;
    let (captions, _, times) = pipeline.caption_files(&paths, &ids, 16, &mut |_, _| {})?;
    for c in captions.iter().take(3) {
        println!("image {}:", ids[c.image]);
        print!(
            "  prompt: {:?}\n  -> {:?} (log p {:.2})\n",
            c.prompt, c.caption, c.logprob
        );
    }
    println!(
        "seconds: load {:.3}, encode {:.3}, retrieve {:.3}, prompt {:.3}, generate {:.3}",
        times.load, times.encode, times.retrieve, times.prompt, times.generate
    );
    report("COCO-style datastore", &captions, &ids, &test)?;

    // Training-free domain transfer: swap the datastore, keep the model. Here the "new
    // domain" is the training captions rewritten in another register (a stand-in for, e.g.,
    // a Flickr30k or nocaps datastore).
    let shifted: Vec<CaptionRecord> = train
        .captions()
        .iter()
        .map(|r| CaptionRecord {
            text: format!("a photo showing {}", r.text),
            ..r.clone()
        })
        .collect();
    let texts: Vec<&str> = shifted.iter().map(|r| r.text.as_str()).collect();
    let other =
        Datastore::cosine(clip.embed_texts(&texts)?, Storage::F32)?.with_captions(shifted)?;
    let pipeline = SmallCapPipeline::new(
        &clip,
        &decoder,
        &tokenizer,
        &other,
        SmallCapSettings::default(),
    )?;
    let (captions, _, _) = pipeline.caption_files(&paths, &ids, 16, &mut |_, _| {})?;
    println!("image {} with the other datastore:", ids[0]);
    println!(
        "  prompt: {:?}\n  -> {:?}",
        captions[0].prompt, captions[0].caption
    );
    report("swapped datastore", &captions, &ids, &test)
}

fn report(
    what: &str,
    captions: &[SmallCapCaption],
    ids: &[String],
    test: &recap::io::captions::CaptionSet,
) -> recap::Result<()> {
    let candidates: Candidates = captions
        .iter()
        .map(|c| (ids[c.image].clone(), c.caption.clone()))
        .collect();
    let scores = ngram_metrics(&EvalSet::new(
        &candidates,
        &test.references(),
        Tokenization::Ptb,
    )?);
    println!(
        "{what}: {} images, BLEU-4 {:.4}, ROUGE-L {:.4}, CIDEr-D {:.4}\n",
        captions.len(),
        scores.bleu.corpus[3],
        scores.rouge_l.0,
        scores.cider.0
    );
    Ok(())
}
