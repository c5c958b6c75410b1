//! The `recap` command line: one file per subcommand, each with its `Args` and `run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod inspect;
mod synth;

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
    /// Describe an embedding file: shape, dtype, byte/memory order, row norms, NaN/Inf.
    Inspect(inspect::InspectArgs),
    /// Write a synthetic CLIP-like data set (embeddings, captions, true map) to a folder.
    #[command(long_about = synth::LONG_ABOUT)]
    Synth(synth::SynthArgs),
}

/// Parse the command line, run the subcommand, print errors for people, set the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Synth(a) => synth::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
