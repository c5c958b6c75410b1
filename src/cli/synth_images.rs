//! `recap synth-images --out-dir DIR`: synthetic image files (a shape per image) with COCO
//! captions, clipscore-style references and Flickr8k-style human ratings, in a `train/` and a
//! `test/` split (see [`crate::synth::shapes`]): the inputs of the pipelines' examples and of
//! the paper-repro miniatures, without any download.

use std::path::PathBuf;

use clap::Args;

use crate::error::Result;
use crate::synth::shapes::{write_shapes, ShapesConfig};

/// `recap synth-images` arguments.
#[derive(Args, Debug)]
pub struct SynthImagesArgs {
    /// Folder to write into (train/ and test/ are created; existing files are replaced).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Training images (ids 0..n-train).
    #[arg(long, default_value_t = 200)]
    pub n_train: usize,
    /// Test images (ids n-train..n-train+n-test).
    #[arg(long, default_value_t = 20)]
    pub n_test: usize,
    /// Side of the square PNGs in pixels.
    #[arg(long, default_value_t = 64)]
    pub image_size: usize,
    /// Seed (the same options write byte-identical files).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Do not print what was written.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Run `recap synth-images`.
pub fn run(args: SynthImagesArgs) -> Result<()> {
    let cfg = ShapesConfig {
        n_train: args.n_train,
        n_test: args.n_test,
        image_size: args.image_size,
        seed: args.seed,
    };
    write_shapes(&args.out_dir, &cfg)?;
    if !args.quiet {
        let d = args.out_dir.display();
        println!(
            "{d}/train: {} images, captions.json (COCO), references.json",
            cfg.n_train
        );
        println!(
            "{d}/test: {} images, captions.json (COCO), references.json, judgments.json (Flickr8k layout)",
            cfg.n_test
        );
    }
    Ok(())
}
