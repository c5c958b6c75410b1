//! `recap demo`: the main job end to end on synthetic data generated in memory.
//!
//! 1. Generate a CLIP-like set (images with several captions each) and hold out the last
//!    images.
//! 2. Fit a ridge map `W` (λ chosen by GCV) on the training (image, caption) pairs.
//! 3. Retrieval on the held-out images, raw CLIP space vs through `W`: recall@1/5/10.
//! 4. Captioning by retrieval (SmallCap-style, the held-out images' own captions are not in
//!    the datastore): the top caption from the training captions, raw vs aligned (ReCap),
//!    scored against the image's own captions with BLEU-4, ROUGE-L, CIDEr-D, CLIP-S,
//!    RefCLIP-S and aCLIP-S.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use serde_json::{json, Value};

use crate::align::{fit_on, Criterion, FitOptions, FittedMap, Lambda, Method, Pairing};
use crate::backend::Backend;
use crate::error::Result;
use crate::io::Grouping;
use crate::io::MemSource;
use crate::matrix::RowMatrix;
use crate::metrics::clip::{clip_s, ref_clip_s, ref_max_cosine, RefCosine, CLIP_S_WEIGHT};
use crate::metrics::{ngram_metrics, EvalSet, Tokenization};
use crate::retrieve::{evaluate_on, Datastore, RetrievalReport, Storage};
use crate::synth::{generate, SynthConfig, SynthData};

use super::common::ComputeArgs;

/// Options of `recap demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Number of synthetic images (the last `--held-out` are queries, the rest train the map).
    #[arg(long, alias = "images", value_name = "N", default_value_t = 11000)]
    pub n_images: usize,
    /// Captions per image.
    #[arg(long, default_value_t = 5)]
    pub captions_per_image: usize,
    /// Embedding dimension.
    #[arg(long, default_value_t = 512)]
    pub dim: usize,
    /// Held-out query images.
    #[arg(long, default_value_t = 1000)]
    pub held_out: usize,
    /// Random seed for the synthetic data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

/// Wall time of each phase, in seconds.
#[derive(Default)]
struct Clock(Vec<(&'static str, f64)>);

impl Clock {
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let t = Instant::now();
        let out = f()?;
        self.0.push((name, t.elapsed().as_secs_f64()));
        Ok(out)
    }
}

/// Run the demo.
pub fn run(args: DemoArgs) -> Result<()> {
    args.compute.in_pool(|| run_in_pool(&args))
}

fn run_in_pool(args: &DemoArgs) -> Result<()> {
    let backend = args.compute.backend()?;
    let mut clock = Clock::default();
    let cfg = SynthConfig {
        n_images: args.n_images,
        captions_per_image: args.captions_per_image,
        dim: args.dim,
        seed: args.seed,
        ..SynthConfig::default()
    };
    let data = clock.time("generate synthetic data", || generate(&cfg))?;
    let n_train = args.n_images.saturating_sub(args.held_out);
    let (train, test) = data.split_at(n_train)?;
    let map = clock.time("fit ridge map (GCV over λ)", || fit_map(&backend, &train))?;
    let mapped_test = map.apply(&test.images)?;
    let recall_raw = clock.time("retrieval eval, raw", || {
        evaluate_on(&backend, &test.images, &test.texts, &test.grouping)
    })?;
    let recall_aligned = clock.time("retrieval eval, aligned", || {
        evaluate_on(&backend, &mapped_test, &test.texts, &test.grouping)
    })?;
    let datastore = Datastore::cosine(train.texts.clone(), Storage::F32)?.on(backend.clone());
    let raw = clock.time("caption by retrieval + score, raw", || {
        caption_and_score(&datastore, &train, &test, &test.images, &mapped_test)
    })?;
    let aligned = clock.time("caption by retrieval + score, aligned", || {
        caption_and_score(&datastore, &train, &test, &mapped_test, &mapped_test)
    })?;
    let report = Report {
        args,
        map: &map,
        recall: [&recall_raw, &recall_aligned],
        captioning: [&raw, &aligned],
        clock: &clock,
        n_train,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).unwrap()
        );
    } else {
        report.print();
    }
    Ok(())
}

/// Ridge on all training (image, caption) pairs, λ by GCV over a log grid.
fn fit_map(backend: &Arc<dyn Backend>, train: &SynthData) -> Result<FittedMap> {
    let grid: Vec<f64> = (-3..=3).map(|e| 10f64.powi(e)).collect();
    let mut opts = FitOptions::new(Method::Ridge);
    opts.lambda = Lambda::Select {
        grid,
        criterion: Criterion::Gcv,
    };
    let mut x = MemSource::new(&train.images, "train images");
    let mut y = MemSource::new(&train.texts, "train captions");
    let pairing = Pairing::Grouped(&train.grouping);
    fit_on(backend, &mut x, &mut y, pairing, &opts, &|_, _| {})
}

/// Caption metrics of retrieval-based captioning.
struct Captioning {
    bleu4: f64,
    rouge_l: f64,
    cider: f64,
    clip_s: f64,
    ref_clip_s: f64,
    aclip_s: f64,
}

/// Caption every test image with its top-1 training caption (queries: `queries`), then
/// score against the image's own captions. `mapped` are the test images through `W`
/// (for aCLIP-S).
fn caption_and_score(
    datastore: &Datastore,
    train: &SynthData,
    test: &SynthData,
    queries: &RowMatrix<f32>,
    mapped: &RowMatrix<f32>,
) -> Result<Captioning> {
    let matches = datastore.search(queries, 1)?;
    let best: Vec<usize> = (0..queries.rows())
        .map(|q| matches.indices.row(q)[0] as usize)
        .collect();
    let train_texts: Vec<&str> = train.captions.texts().collect();
    let test_texts: Vec<&str> = test.captions.texts().collect();
    let ids: Vec<String> = (0..best.len()).map(|i| i.to_string()).collect();
    let cands: Vec<String> = best.iter().map(|&r| train_texts[r].to_owned()).collect();
    let refs: Vec<Vec<String>> = (0..best.len())
        .map(|i| {
            let rows = test.grouping.captions_of(i);
            rows.iter().map(|&r| test_texts[r].to_owned()).collect()
        })
        .collect();
    let set = EvalSet::from_raw(ids, cands, refs, Tokenization::Ptb);
    let ngram = ngram_metrics(&set);
    let cand_emb = gather_rows(&train.texts, &best);
    let clip = clip_s(&test.images, &cand_emb, CLIP_S_WEIGHT)?;
    let aclip = clip_s(mapped, &cand_emb, CLIP_S_WEIGHT)?;
    let ref_grouping = Grouping::new(test.grouping.image_of_caption().to_vec(), best.len())?;
    let ref_max = ref_max_cosine(&cand_emb, &test.texts, &ref_grouping)?;
    let ref_clip = ref_clip_s(&clip, &ref_max, RefCosine::Clipscore)?;
    Ok(Captioning {
        bleu4: ngram.bleu.corpus[3],
        rouge_l: ngram.rouge_l.0,
        cider: ngram.cider.0,
        clip_s: clip.corpus,
        ref_clip_s: ref_clip.corpus,
        aclip_s: aclip.corpus,
    })
}

fn gather_rows(m: &RowMatrix<f32>, rows: &[usize]) -> RowMatrix<f32> {
    let data = rows
        .iter()
        .flat_map(|&r| m.row(r).iter().copied())
        .collect();
    RowMatrix::from_vec(rows.len(), m.cols(), data).expect("shape by construction")
}

struct Report<'a> {
    args: &'a DemoArgs,
    map: &'a FittedMap,
    recall: [&'a RetrievalReport; 2],
    captioning: [&'a Captioning; 2],
    clock: &'a Clock,
    n_train: usize,
}

fn recall_at(r: &RetrievalReport, k: usize) -> f64 {
    r.image_to_text
        .recall
        .iter()
        .find(|(kk, _)| *kk == k)
        .map_or(f64::NAN, |(_, v)| *v)
}

impl Report<'_> {
    fn print(&self) {
        let a = self.args;
        let m = self.map;
        println!("recap demo: synthetic CLIP-like data, d = {}", a.dim);
        println!(
            "  {} training images x {} captions, {} held-out query images (seed {})\n",
            self.n_train, a.captions_per_image, a.held_out, a.seed
        );
        println!(
            "Fitted map: {} with λ = {} (GCV), n = {} pairs, R² = {:.3}, relative residual {:.3}",
            m.method.name(),
            m.lambda.map_or("-".into(), |l| format!("{l}")),
            m.n,
            m.report.r2,
            m.report.relative_residual
        );
        println!("\nImage -> caption retrieval on held-out images (hit = any own caption):");
        println!(
            "  {:<10} {:>9} {:>9} {:>9} {:>12}",
            "", "R@1", "R@5", "R@10", "median rank"
        );
        for (name, r) in ["raw CLIP", "aligned"].iter().zip(self.recall) {
            println!(
                "  {:<10} {:>9.3} {:>9.3} {:>9.3} {:>12}",
                name,
                recall_at(r, 1),
                recall_at(r, 5),
                recall_at(r, 10),
                r.image_to_text.median_rank
            );
        }
        println!("\nCaptioning by retrieval (top-1 training caption vs the image's own captions):");
        println!(
            "  {:<10} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8}",
            "", "BLEU-4", "ROUGE-L", "CIDEr", "CLIP-S", "RefCLIP-S", "aCLIP-S"
        );
        for (name, c) in ["raw CLIP", "aligned"].iter().zip(self.captioning) {
            println!(
                "  {:<10} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>10.4} {:>8.4}",
                name, c.bleu4, c.rouge_l, c.cider, c.clip_s, c.ref_clip_s, c.aclip_s
            );
        }
        println!("\nTimings:");
        for (name, s) in &self.clock.0 {
            println!("  {name:<40} {:>8.3} s", s);
        }
        println!("  {:<40} {:>8.3} s", "total", self.total());
    }

    fn total(&self) -> f64 {
        self.clock.0.iter().map(|(_, s)| s).sum()
    }

    fn to_json(&self) -> Value {
        let rec = |r: &RetrievalReport| {
            json!({"recall@1": recall_at(r, 1), "recall@5": recall_at(r, 5),
                   "recall@10": recall_at(r, 10), "median_rank": r.image_to_text.median_rank})
        };
        let cap = |c: &Captioning| {
            json!({"Bleu_4": c.bleu4, "ROUGE_L": c.rouge_l, "CIDEr": c.cider,
                   "CLIP-S": c.clip_s, "RefCLIP-S": c.ref_clip_s, "aCLIP-S": c.aclip_s})
        };
        let timings: serde_json::Map<String, Value> = self
            .clock
            .0
            .iter()
            .map(|(n, s)| (n.to_string(), json!(s)))
            .collect();
        json!({
            "data": {"train_images": self.n_train, "held_out": self.args.held_out,
                     "captions_per_image": self.args.captions_per_image, "dim": self.args.dim,
                     "seed": self.args.seed},
            "map": {"method": self.map.method.name(), "lambda": self.map.lambda,
                    "r2": self.map.report.r2,
                    "relative_residual": self.map.report.relative_residual},
            "retrieval": {"raw": rec(self.recall[0]), "aligned": rec(self.recall[1])},
            "captioning": {"raw": cap(self.captioning[0]), "aligned": cap(self.captioning[1])},
            "timings_s": timings,
            "total_s": self.total(),
        })
    }
}
