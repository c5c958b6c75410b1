//! `recap synth`: write a synthetic CLIP-like data set to a folder.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::json;

use crate::error::{Error, Result};
use crate::synth::{generate, SynthConfig};

/// Long help of `recap synth`.
pub const LONG_ABOUT: &str =
    "Write a synthetic CLIP-like data set: unit-norm image and caption embeddings \
with a modality gap, a known true image->text map, and caption texts from a small grammar.\n\n\
Files written to DIR:\n  images.npy     N x d float32 image embeddings\n  \
texts.npy      N*C x d float32 caption embeddings (rows i*C..(i+1)*C describe image i)\n  \
captions.json  image ids, caption ids, image of each caption, caption texts (row order)\n  \
true_map.npy   d x d float32 map W used to generate the captions (apply as X @ W)\n\n\
The same options and seed always give the same files.";

/// Options of `recap synth`.
#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Folder to write into (created if missing; existing files are replaced).
    #[arg(long, alias = "out", value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Number of images N.
    #[arg(long, alias = "images", value_name = "N", default_value_t = SynthConfig::default().n_images)]
    pub n_images: usize,
    /// Captions per image C.
    #[arg(long, value_name = "C", default_value_t = SynthConfig::default().captions_per_image)]
    pub captions_per_image: usize,
    /// Embedding dimension d.
    #[arg(long, value_name = "D", default_value_t = SynthConfig::default().dim)]
    pub dim: usize,
    /// Random seed.
    #[arg(long, value_name = "S", default_value_t = SynthConfig::default().seed)]
    pub seed: u64,
    /// Caption noise sigma (larger: harder retrieval).
    #[arg(long, value_name = "SIGMA", default_value_t = SynthConfig::default().noise)]
    pub noise: f64,
    /// Weight a of the identity in the true map W = a I + sqrt(1 - a^2) G / sqrt(d)
    /// (smaller: raw image-caption cosine ranks worse, so alignment matters more).
    #[arg(long, value_name = "A", default_value_t = SynthConfig::default().identity_mix)]
    pub identity_mix: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Generate and write the data set, then report what was written.
pub fn run(args: SynthArgs) -> Result<()> {
    let cfg = SynthConfig {
        n_images: args.n_images,
        captions_per_image: args.captions_per_image,
        dim: args.dim,
        seed: args.seed,
        noise: args.noise,
        identity_mix: args.identity_mix,
        ..SynthConfig::default()
    };
    let start = Instant::now();
    let data = generate(&cfg).map_err(flag_names)?;
    let generated = start.elapsed().as_secs_f64();
    let files = data.write(&args.out_dir)?;
    let seconds = start.elapsed().as_secs_f64();
    let shapes = [
        data.images.shape(),
        data.texts.shape(),
        data.true_map.shape(),
    ];
    if args.json {
        let mut file_list: Vec<_> = files
            .iter()
            .zip(shapes)
            .map(|(p, (r, c))| json!({"path": p, "shape": [r, c]}))
            .collect();
        file_list.push(json!({"path": files[3], "captions": data.captions.n_captions()}));
        let report = json!({
            "out": args.out_dir,
            "n_images": cfg.n_images,
            "captions_per_image": cfg.captions_per_image,
            "dim": cfg.dim,
            "seed": cfg.seed,
            "noise": cfg.noise,
            "files": file_list,
            "generate_seconds": generated,
            "total_seconds": seconds,
        });
        println!("{report}");
        return Ok(());
    }
    println!(
        "recap synth: {} images x {} captions, d = {}, seed {} (generated in {:.2} s, written in {:.2} s)",
        cfg.n_images, cfg.captions_per_image, cfg.dim, cfg.seed, generated, seconds - generated
    );
    for (path, (r, c)) in files.iter().zip(shapes) {
        println!("  {:<40} {r} x {c} float32", path.display());
    }
    println!(
        "  {:<40} {} image ids, {} captions",
        files[3].display(),
        data.captions.n_images(),
        data.captions.n_captions()
    );
    println!(
        "  e.g. caption 0 of image 0: {:?}",
        data.captions.captions()[0].text
    );
    Ok(())
}

/// Name the command-line flag (`--images`) rather than the config field (`n_images`).
fn flag_names(e: Error) -> Error {
    match e {
        Error::InvalidArgument { name, problem } => {
            let flag = match name.as_str() {
                "n_images" => "--images",
                "captions_per_image" => "--captions-per-image",
                "dim" => "--dim",
                "noise" => "--noise",
                "identity_mix" => "--identity-mix",
                other => other,
            };
            Error::invalid(flag, problem)
        }
        other => other,
    }
}
