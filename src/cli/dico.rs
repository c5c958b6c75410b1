//! `recap dico`: DiCO's objective for a batch of candidates, from embeddings (or rewards) and
//! the sequence log-probabilities of the policy and the reference (see [`crate::dico`]).
//!
//! Inputs are `.npy` files with the candidates image-major (`K` consecutive rows per image):
//! `--images` (n x d), `--cand-emb` (n·K x d) or `--rewards` (n·K values), `--policy-logp` and
//! `--ref-logp` (n·K values, any shape with that many elements: `(n·K,)`, `(n, K)`, ...).

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use crate::dico::{defaults, rewards, Objective, Reward};
use crate::error::{Error, Result};
use crate::io::atomic::write_json_atomic;
use crate::io::npy;

/// Options of `recap dico`.
#[derive(Args, Debug)]
pub struct DicoArgs {
    /// Image embeddings (.npy, n x d): one row per image.
    #[arg(long, alias = "image-emb", value_name = "FILE", requires = "cand_emb")]
    pub images: Option<PathBuf>,
    /// Candidate text embeddings (.npy, n·K x d): the K candidates of image i in rows i·K..i·K+K.
    #[arg(long, value_name = "FILE", requires = "images")]
    pub cand_emb: Option<PathBuf>,
    /// Rewards (.npy, n·K values) instead of --images/--cand-emb (any evaluator).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["images", "cand_emb"], required_unless_present = "images")]
    pub rewards: Option<PathBuf>,
    /// Sequence log-probabilities of the trained policy (.npy, n·K values, natural log).
    #[arg(long, value_name = "FILE")]
    pub policy_logp: PathBuf,
    /// Sequence log-probabilities of the frozen reference model (.npy, n·K values).
    #[arg(long, value_name = "FILE")]
    pub ref_logp: PathBuf,
    /// Candidates per image, K (≥ 2).
    #[arg(long, short = 'k', default_value_t = defaults::CANDIDATES)]
    pub candidates_per_image: usize,
    /// Loser-weight temperature τ (≥ 0).
    #[arg(long, default_value_t = defaults::TAU)]
    pub tau: f64,
    /// Margin scale β (> 0).
    #[arg(long, default_value_t = defaults::BETA)]
    pub beta: f64,
    /// Reward weight w in r = w·cos (PAC-S: 2.0).
    #[arg(long, default_value_t = defaults::PAC_S_WEIGHT)]
    pub weight: f64,
    /// Clip the cosine at 0 before weighting (CLIP-S style; DiCO does not).
    #[arg(long)]
    pub clip_at_zero: bool,
    /// Write the full result (JSON) here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the full result JSON on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
}

/// Run `recap dico`.
pub fn run(args: DicoArgs) -> Result<()> {
    let k = args.candidates_per_image;
    let r = match (&args.rewards, &args.images, &args.cand_emb) {
        (Some(path), _, _) => read_values(path)?,
        (None, Some(images), Some(cands)) => {
            let reward = Reward::new(args.weight).clip_at_zero(args.clip_at_zero);
            rewards(&npy::read_f32(images)?, &npy::read_f32(cands)?, k, &reward)?
        }
        _ => {
            return Err(Error::invalid(
                "rewards",
                "give --rewards, or --images with --cand-emb",
            ))
        }
    };
    let policy = read_values(&args.policy_logp)?;
    let reference = read_values(&args.ref_logp)?;
    let out = Objective::new()
        .tau(args.tau)
        .beta(args.beta)
        .evaluate(&r, k, &policy, &reference)?;
    let report = json!({
        "candidates_per_image": k,
        "tau": args.tau,
        "beta": args.beta,
        "rewards": r,
        "winners": out.winners,
        "loser_weights": out.loser_weights,
        "margins": out.margins,
        "loss_terms": out.loss_terms,
        "loss": out.loss,
        "grad_logp_policy": out.grad_logp_policy,
        "chosen_rewards": out.chosen_rewards,
        "rejected_rewards": out.rejected_rewards,
    });
    if let Some(path) = &args.out {
        write_json_atomic(path, &report)?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        println!(
            "{} images x {k} candidates (tau {}, beta {})",
            out.winners.len(),
            args.tau,
            args.beta
        );
        println!("loss            {:.6}", out.loss);
        println!("mean reward     {:.6}", mean(&r));
        println!(
            "chosen reward   {:.6} (mean beta·(logp_policy − logp_ref) of the winners)",
            mean(&out.chosen_rewards)
        );
        println!(
            "rejected reward {:.6} (mean gamma-weighted, losers)",
            mean(&out.rejected_rewards)
        );
    }
    Ok(())
}

/// All values of a float `.npy` file, flattened in row-major order, as f64.
fn read_values(path: &Path) -> Result<Vec<f64>> {
    Ok(npy::read_f64(path)?.into_vec())
}
