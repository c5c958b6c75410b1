//! `recap make-tiny-models --out DIR`: tiny random models in the real Hugging Face layouts,
//! for smoke tests without any download (`recap embed --model DIR/clip ...`,
//! `recap caption --clip DIR/clip --lm DIR/t5 ...`,
//! `recap caption --system smallcap --clip DIR/clip --lm DIR/smallcap ...`). Each
//! architecture gets a folder; the tiny SmallCap's decoder width equals the tiny CLIP's vision
//! width, so the two run together.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::error::Result;
use crate::models::clip::tiny::write_tiny_clip;
use crate::models::smallcap::tiny::write_tiny_smallcap;
use crate::models::t5::tiny::write_tiny_t5;

/// An architecture `make-tiny-models` can write.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// CLIP (`CLIPModel`: both towers, tokenizer, preprocessor config) in `DIR/clip`.
    Clip,
    /// FLAN-T5 (`T5ForConditionalGeneration`, gated-GELU, untied head, Unigram tokenizer) in
    /// `DIR/t5`.
    T5,
    /// SmallCap (`Yova/SmallCap7M` layout: GPT-2 decoder with reduced cross-attention, GPT-2
    /// byte-level tokenizer) in `DIR/smallcap`, sized for the tiny CLIP's vision tower.
    Smallcap,
}

impl Arch {
    fn folder(self) -> &'static str {
        match self {
            Arch::Clip => "clip",
            Arch::T5 => "t5",
            Arch::Smallcap => "smallcap",
        }
    }
}

/// `recap make-tiny-models` arguments.
#[derive(Args, Debug)]
pub struct MakeTinyModelsArgs {
    /// Folder to write the models into (one subfolder per architecture).
    #[arg(long)]
    pub out: PathBuf,
    /// Architectures to write (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub arch: Vec<Arch>,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Do not print the folders written.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Run `recap make-tiny-models`.
pub fn run(args: MakeTinyModelsArgs) -> Result<()> {
    let archs = if args.arch.is_empty() {
        vec![Arch::Clip, Arch::T5, Arch::Smallcap]
    } else {
        args.arch.clone()
    };
    for arch in archs {
        let dir = args.out.join(arch.folder());
        match arch {
            Arch::Clip => write_tiny_clip(&dir, args.seed)?,
            Arch::T5 => write_tiny_t5(&dir, args.seed)?,
            Arch::Smallcap => write_tiny_smallcap(&dir, args.seed)?,
        }
        if !args.quiet {
            println!("{}", dir.display());
        }
    }
    Ok(())
}
