//! `recap bench dico`: the cost of DiCO's objective for one training batch.
//!
//! For `--images` images × `--k` candidates × `--len` tokens over a `--vocab` vocabulary
//! (default: DiCO's 64 × 5 × 30 × 49,408) it times, on random data: the rewards from
//! `--dim`-wide embeddings, the winners and loser weights, the policy's and the reference's
//! masked sequence log-probabilities from their logits, the loss, and the gradient with
//! respect to the policy's logits — the whole objective of one step. Median of `--repeat`.
//! `benches/peers/dico_torch.py` runs the same computation in PyTorch for the ratio.

use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::bench_retrieve::synthetic;
use super::common::ComputeArgs;
use crate::dico::{rewards, LogSoftmax, Objective, Reward, TokenLogits};
use crate::error::Result;

/// Options of `recap bench dico`.
#[derive(Args, Debug)]
pub struct BenchDicoArgs {
    /// Images per batch.
    #[arg(long, default_value_t = 64)]
    pub images: usize,
    /// Candidates per image.
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    /// Tokens per candidate.
    #[arg(long, default_value_t = 30)]
    pub len: usize,
    /// Vocabulary size (CLIP's BPE: 49,408).
    #[arg(long, default_value_t = 49_408)]
    pub vocab: usize,
    /// Embedding width of the rewards.
    #[arg(long, default_value_t = 768)]
    pub dim: usize,
    /// Timed runs (median reported).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Print JSON instead of the text summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

/// Run `recap bench dico`.
pub fn run(args: BenchDicoArgs) -> Result<()> {
    args.compute.in_pool(|| run_in_pool(&args))
}

fn run_in_pool(args: &BenchDicoArgs) -> Result<()> {
    let rows = args.images * args.k;
    let images = synthetic(args.images, args.dim, 1);
    let cands = synthetic(rows, args.dim, 2);
    let cells = rows * args.len;
    let policy = synthetic(cells, args.vocab, 3).into_vec();
    let reference = synthetic(cells, args.vocab, 4).into_vec();
    // Targets: random ids, the last 5 positions of every other sequence padded (id 0).
    let targets: Vec<u32> = (0..cells)
        .map(|c| {
            let (seq, pos) = (c / args.len, c % args.len);
            if seq % 2 == 1 && pos + 5 >= args.len {
                0
            } else {
                1 + (c as u64 * 2_654_435_761 % (args.vocab as u64 - 1)) as u32
            }
        })
        .collect();
    let view = |data| TokenLogits {
        data,
        targets: &targets,
        batch: rows,
        len: args.len,
        vocab: args.vocab,
        pad_id: 0,
    };
    let mut times = Vec::new();
    let mut loss = 0.0;
    for _ in 0..args.repeat.max(1) {
        let start = Instant::now();
        let r = rewards(&images, &cands, args.k, &Reward::default())?;
        let policy = LogSoftmax::new(view(&policy), args.k)?;
        let lp = policy.sequence_logprobs()?;
        let lr = LogSoftmax::new(view(&reference), args.k)?.sequence_logprobs()?;
        let out = Objective::new().evaluate(&r, args.k, &lp, &lr)?;
        let grad = policy.logits_grad(&out.grad_logp_policy)?;
        times.push(start.elapsed().as_secs_f64());
        loss = out.loss + f64::from(grad[0]) * 0.0;
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let gb = (3 * cells * args.vocab * 4) as f64 / 1e9;
    let report = json!({
        "kind": "dico", "images": args.images, "k": args.k, "len": args.len, "vocab": args.vocab,
        "dim": args.dim, "threads": rayon::current_num_threads(), "median_s": median,
        "times_s": times, "logit_gb_touched": gb, "loss": loss,
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "DiCO objective, {} images x {} candidates x {} tokens x {} vocab: {:.3} s per batch (median of {}), {:.1} GB/s over policy + reference logits + gradient",
            args.images, args.k, args.len, args.vocab, median, times.len(), gb / median
        );
    }
    Ok(())
}
