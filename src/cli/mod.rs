//! The `recap` command line: one file per subcommand, each with its `Args` and `run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod bench_fit;
mod demo;
mod fit;
mod inspect;
mod progress;

/// recap: closed-form CLIP alignment, exact caption retrieval and caption metrics.
#[derive(Parser, Debug)]
#[command(name = "recap", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Benchmarks against the Python peers' files.
    Bench(bench::BenchArgs),
    /// Run the main job end to end on synthetic data generated in memory.
    Demo(demo::DemoArgs),
    /// Fit a closed-form alignment map W (X @ W ≈ Y) from .npy files.
    Fit(fit::FitArgs),
    /// Describe an embedding file: shape, dtype, byte/memory order, row norms, NaN/Inf.
    Inspect(inspect::InspectArgs),
}

/// Parse the command line, run the subcommand, print errors for people, set the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(a) => bench::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Fit(a) => fit::run(a),
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
