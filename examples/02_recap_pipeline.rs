//! ReCap's numeric pipeline on synthetic CLIP-like data, step by step:
//! fit a closed-form map W (ridge, λ by GCV), retrieve captions for held-out images through
//! W with SmallCap's self-exclusion convention, and score the captions (BLEU-4, CIDEr-D,
//! aCLIP-S). The language-model step (FLAN-T5 prompted with the retrieved captions) is outside
//! recap; here the top retrieved caption stands in for the generated one.
//!
//! `cargo run --release --example 02_recap_pipeline`

use recap::align::{fit_grouped_matrices, Criterion, FitOptions, Lambda, Method};
use recap::metrics::clip::{clip_s, CLIP_S_WEIGHT};
use recap::metrics::{ngram_metrics, EvalSet, Tokenization};
use recap::retrieve::{Datastore, Storage};
use recap::synth::{generate, SynthConfig};

fn main() -> recap::Result<()> {
    let data = generate(&SynthConfig {
        n_images: 6000,
        ..SynthConfig::default()
    })?;
    let (train, test) = data.split_at(5000)?;

    // 1. Closed-form alignment on every (image, caption) pair of the training set.
    let mut opts = FitOptions::new(Method::Ridge);
    opts.lambda = Lambda::Select {
        grid: vec![0.1, 1.0, 10.0, 100.0],
        criterion: Criterion::Gcv,
    };
    let map = fit_grouped_matrices(&train.images, &train.texts, &train.grouping, &opts)?;
    println!("ridge map: λ = {:?}, R² = {:.3}", map.lambda, map.report.r2);

    // 2. Retrieve k = 4 captions per held-out image from the training captions, through W.
    let datastore = Datastore::cosine(train.texts.clone(), Storage::F32)?;
    let queries = map.apply(&test.images)?;
    let matches = datastore.search(&queries, 4)?;
    let texts: Vec<&str> = train.captions.texts().collect();
    let test_texts: Vec<&str> = test.captions.texts().collect();
    for q in 0..2 {
        println!(
            "image {q}: own caption {:?}",
            test_texts[test.grouping.captions_of(q)[0]]
        );
        for (row, score) in matches.row(q) {
            println!("   {score:.3}  {}", texts[row]);
        }
    }

    // 3. Score the top caption against each image's own captions.
    let best: Vec<usize> = (0..queries.rows())
        .map(|q| matches.indices.row(q)[0] as usize)
        .collect();
    let set = EvalSet::from_raw(
        (0..best.len()).map(|i| i.to_string()).collect(),
        best.iter().map(|&r| texts[r].to_owned()).collect(),
        (0..best.len())
            .map(|i| {
                test.grouping
                    .captions_of(i)
                    .iter()
                    .map(|&r| test_texts[r].to_owned())
                    .collect()
            })
            .collect(),
        Tokenization::Ptb,
    );
    let ngram = ngram_metrics(&set);
    let cand = recap::RowMatrix::from_vec(
        best.len(),
        train.texts.cols(),
        best.iter()
            .flat_map(|&r| train.texts.row(r).to_vec())
            .collect(),
    )?;
    let aclip = clip_s(&queries, &cand, CLIP_S_WEIGHT)?;
    println!(
        "BLEU-4 {:.4}  CIDEr {:.4}  aCLIP-S {:.4}",
        ngram.bleu.corpus[3], ngram.cider.0, aclip.corpus
    );
    Ok(())
}
