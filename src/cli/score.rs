//! `recap score`: caption metrics of candidates against references.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::clip_inputs::EmbeddingArgs;
use super::common::ComputeArgs;
use crate::error::Result;
use crate::io::atomic::write_json_atomic;
use crate::io::captions::{read_candidates, read_references};
use crate::metrics::clip::RefCosine;
use crate::metrics::score::{score, Metric, ScoreOptions};
use crate::metrics::{EvalSet, Tokenization};

/// Tokenization choice on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenizeArg {
    /// pycocoevalcap's PTB tokenizer pipeline (in Rust).
    Ptb,
    /// Use the captions as given.
    None,
}

/// Reference-cosine variant on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefCosineArg {
    /// jmhessel/clipscore's code: raw maximum cosine.
    Clipscore,
    /// The paper: maximum cosine clipped at 0.
    Paper,
}

/// Options of `recap score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Candidates: clipscore `{"id": "caption"}` or COCO results `[{"image_id", "caption"}]`.
    #[arg(long)]
    pub candidates: PathBuf,
    /// References: clipscore `{"id": ["ref", ...]}` or a COCO captions annotation file.
    #[arg(long)]
    pub references: PathBuf,
    /// Tokenization before the n-gram metrics.
    #[arg(long, value_enum, default_value_t = TokenizeArg::Ptb)]
    pub tokenize: TokenizeArg,
    /// Comma-separated metrics: bleu, meteor, rouge, cider, spice, clip-s, refclip-s, pac-s,
    /// refpac-s, aclip-s, refaclip-s.
    #[arg(long, default_value = "bleu,meteor,rouge,cider")]
    pub metrics: String,
    /// METEOR 1.5 jar (default: $RECAP_METEOR_JAR; scripts/fetch_meteor.sh prints one).
    #[arg(long)]
    pub meteor_jar: Option<PathBuf>,
    /// Reference cosine in RefCLIP-S-type scores.
    #[arg(long, value_enum, default_value_t = RefCosineArg::Clipscore)]
    pub ref_cosine: RefCosineArg,
    /// Embeddings for the CLIP-based metrics.
    #[command(flatten)]
    pub emb: EmbeddingArgs,
    /// Write the report JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the report JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

/// Run `recap score`.
pub fn run(args: ScoreArgs) -> Result<()> {
    args.compute.in_pool(|| run_in_pool(&args))
}

fn run_in_pool(args: &ScoreArgs) -> Result<()> {
    let metrics = Metric::parse_list(&args.metrics)?;
    let cands = read_candidates(&args.candidates)?;
    let refs = read_references(&args.references)?;
    let tok = match args.tokenize {
        TokenizeArg::Ptb => Tokenization::Ptb,
        TokenizeArg::None => Tokenization::None,
    };
    let set = EvalSet::new(&cands, &refs, tok)?;
    let ref_counts: Vec<usize> = set.refs.iter().map(Vec::len).collect();
    let opts = ScoreOptions {
        metrics,
        meteor_jar: args.meteor_jar.clone(),
        clip: args.emb.load(&set.ids, &set.ids, &ref_counts)?,
        ref_cosine: match args.ref_cosine {
            RefCosineArg::Clipscore => RefCosine::Clipscore,
            RefCosineArg::Paper => RefCosine::Paper,
        },
        device: args.compute.device,
    };
    let report = score(&set, &opts)?;
    let json = report.to_json();
    if let Some(out) = &args.out {
        write_json_atomic(out, &json)?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    } else {
        println!("{} candidates", set.len());
        print!("{}", report.table());
    }
    Ok(())
}
