//! `recap make-tiny-models --out DIR`: tiny random models in the real Hugging Face layouts,
//! for smoke tests (`recap embed --model DIR/clip ...`). Each architecture gets a folder;
//! CLIP is the only one so far (the `Arch` list is where FLAN-T5 and SmallCap go).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::error::Result;
use crate::models::clip::tiny::write_tiny_clip;

/// An architecture `make-tiny-models` can write.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// CLIP (`CLIPModel`: both towers, tokenizer, preprocessor config) in `DIR/clip`.
    Clip,
}

impl Arch {
    fn folder(self) -> &'static str {
        match self {
            Arch::Clip => "clip",
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
}

/// Run `recap make-tiny-models`.
pub fn run(args: MakeTinyModelsArgs) -> Result<()> {
    let archs = if args.arch.is_empty() {
        vec![Arch::Clip]
    } else {
        args.arch.clone()
    };
    for arch in archs {
        let dir = args.out.join(arch.folder());
        match arch {
            Arch::Clip => write_tiny_clip(&dir, args.seed)?,
        }
        println!("{}", dir.display());
    }
    Ok(())
}
