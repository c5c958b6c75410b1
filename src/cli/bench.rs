//! `recap bench ...`: performance measurements (one subcommand per concern).

use clap::Subcommand;

use crate::error::Result;

use super::bench_retrieve;

/// What to benchmark.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Exact top-k retrieval: queries/s and GFLOP/s for several k and f16 storage, the bare
    /// tile-GEMM rate of the same shape and the machine's f32 GEMM rate, peak RSS.
    Retrieve(bench_retrieve::BenchRetrieveArgs),
}

/// Run a benchmark subcommand.
pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Retrieve(a) => bench_retrieve::run(a),
    }
}
