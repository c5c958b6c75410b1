//! The `recap` command line: one file per subcommand, each with its `Args` and `run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
#[cfg(feature = "models")]
mod bench_caption;
mod bench_dico;
mod bench_fit;
mod bench_retrieve;
#[cfg(feature = "models")]
mod caption;
#[cfg(feature = "models")]
mod caption_metrics;
#[cfg(feature = "models")]
mod caption_smallcap;
mod clip_inputs;
mod common;
mod correlate;
#[cfg(feature = "models")]
mod dal;
mod demo;
mod device;
mod dico;
#[cfg(feature = "models")]
mod embed;
mod eval_retrieval;
mod fit;
mod inspect;
#[cfg(feature = "models")]
mod make_tiny_models;
mod plot;
mod progress;
mod retrieve;
mod score;
mod synth;
#[cfg(feature = "models")]
mod synth_images;

/// recap: closed-form CLIP alignment, exact caption retrieval and caption metrics.
#[derive(Parser, Debug)]
#[command(name = "recap", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the main job end to end on synthetic data generated in memory.
    Demo(demo::DemoArgs),
    /// Performance measurements.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Caption metrics (BLEU, METEOR, ROUGE-L, CIDEr, CLIP-S family) of candidates vs references.
    Score(score::ScoreArgs),
    /// Kendall tau between caption metrics and human judgments (Flickr8k protocol).
    Correlate(correlate::CorrelateArgs),
    /// Fit a closed-form alignment map W (X @ W ≈ Y) from .npy files.
    Fit(fit::FitArgs),
    /// Describe an embedding file: shape, dtype, byte/memory order, row norms, NaN/Inf.
    Inspect(inspect::InspectArgs),
    /// Exact top-k caption retrieval (cosine or inner product, optional map and self-exclusion).
    Retrieve(retrieve::RetrieveArgs),
    /// Image→text and text→image recall@1/5/10 and median rank.
    EvalRetrieval(eval_retrieval::EvalRetrievalArgs),
    /// Caption images with ReCap: retrieve through W, prompt an LM, re-rank in CLIP space.
    #[cfg(feature = "models")]
    Caption(caption::CaptionArgs),
    /// ReCap's datastore-augmentation loop: caption, keep the best, add them, repeat (resumable).
    #[cfg(feature = "models")]
    Dal(dal::DalArgs),
    /// DiCO's objective (rewards, winners, loser weights, loss, gradients) for a batch of candidates.
    Dico(dico::DicoArgs),
    /// Draw a figure (PNG + SVG) from the JSON of correlate, dal, eval-retrieval or fit.
    Plot(plot::PlotArgs),
    /// Write a synthetic CLIP-like data set (embeddings, captions, true map) to a folder.
    #[command(long_about = synth::LONG_ABOUT)]
    Synth(synth::SynthArgs),
    /// Write synthetic image files (a shape each) with captions, references and human-style ratings.
    #[cfg(feature = "models")]
    SynthImages(synth_images::SynthImagesArgs),
    /// CLIP embeddings of images or texts into .npy, with a sidecar naming the rows.
    #[cfg(feature = "models")]
    Embed(embed::EmbedArgs),
    /// Write tiny random models in the real Hugging Face layouts (for smoke tests).
    #[cfg(feature = "models")]
    MakeTinyModels(make_tiny_models::MakeTinyModelsArgs),
}

/// Parse the command line, run the subcommand, print errors for people, set the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Bench(c) => bench::run(c),
        Command::Score(a) => score::run(a),
        Command::Correlate(a) => correlate::run(a),
        Command::Fit(a) => fit::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Retrieve(a) => retrieve::run(a),
        Command::EvalRetrieval(a) => eval_retrieval::run(a),
        Command::Synth(a) => synth::run(a),
        #[cfg(feature = "models")]
        Command::SynthImages(a) => synth_images::run(a),
        Command::Dico(a) => dico::run(a),
        Command::Plot(a) => plot::run(a),
        #[cfg(feature = "models")]
        Command::Caption(a) => caption::run(a),
        #[cfg(feature = "models")]
        Command::Dal(a) => dal::run(a),
        #[cfg(feature = "models")]
        Command::Embed(a) => embed::run(a),
        #[cfg(feature = "models")]
        Command::MakeTinyModels(a) => make_tiny_models::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
