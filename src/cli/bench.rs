//! `recap bench ...`: benchmarks that run against the Python peers' files.

use clap::{Args, Subcommand};

use crate::error::Result;

/// Options of `recap bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

/// What to benchmark.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Alignment fits end to end (streamed read + statistics + solve), with the machine's f32
    /// GEMM rate measured in the same run.
    Fit(super::bench_fit::BenchFitArgs),
}

/// Run `recap bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    match args.command {
        BenchCommand::Fit(a) => super::bench_fit::run(a),
    }
}
