//! `recap bench ...`: performance measurements (one subcommand per concern), runnable on the
//! Python peers' files so both sides are measured on the same data in one sitting.

use clap::Subcommand;

use crate::error::Result;

use super::{bench_fit, bench_retrieve, device};

/// What to benchmark.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Alignment fits end to end (streamed read + statistics + solve), with the machine's f32
    /// GEMM rate measured in the same run.
    Fit(bench_fit::BenchFitArgs),
    /// Exact top-k retrieval: queries/s and GFLOP/s for several k and f16 storage, the bare
    /// tile-GEMM rate of the same shape and the machine's f32 GEMM rate, peak RSS.
    Retrieve(bench_retrieve::BenchRetrieveArgs),
    /// The compute backend (--device) on synthetic data in memory: Gram + ridge solve and
    /// top-k search, against the device's GEMM rate measured in the same run.
    Device(device::BackendBenchArgs),
    /// DiCO's objective for one training batch (rewards, weights, log-probs, loss, logit
    /// gradients) at DiCO's sizes.
    Dico(super::bench_dico::BenchDicoArgs),
    /// The ReCap pipeline per image, stage by stage (retrieve, prompt, generate, embed, re-rank,
    /// DAL append) on real-sized models; writes the inputs for the Python side.
    #[cfg(feature = "models")]
    Caption(super::bench_caption::BenchCaptionArgs),
}

/// Run a benchmark subcommand.
pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Fit(a) => bench_fit::run(a),
        BenchCommand::Retrieve(a) => bench_retrieve::run(a),
        BenchCommand::Device(a) => device::run(a),
        BenchCommand::Dico(a) => super::bench_dico::run(a),
        #[cfg(feature = "models")]
        BenchCommand::Caption(a) => super::bench_caption::run(a),
    }
}
