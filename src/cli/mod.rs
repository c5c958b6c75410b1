//! The `recap` command line: one file per subcommand, each with its `Args` and `run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod clip_inputs;
mod correlate;
mod demo;
mod inspect;
mod score;

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
    /// Caption metrics (BLEU, METEOR, ROUGE-L, CIDEr, CLIP-S family) of candidates vs references.
    Score(score::ScoreArgs),
    /// Kendall tau between caption metrics and human judgments (Flickr8k protocol).
    Correlate(correlate::CorrelateArgs),
    /// Describe an embedding file: shape, dtype, byte/memory order, row norms, NaN/Inf.
    Inspect(inspect::InspectArgs),
}

/// Parse the command line, run the subcommand, print errors for people, set the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Score(a) => score::run(a),
        Command::Correlate(a) => correlate::run(a),
        Command::Inspect(a) => inspect::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
