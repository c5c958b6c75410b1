//! The options every computing command shares (flatten [`ComputeArgs`] into a command's
//! args): where to compute, on how many CPU threads, and whether to show progress.

use std::sync::Arc;

use clap::Args;

use crate::backend::{Backend, BackendOptions, Device};
use crate::error::{Error, Result};

/// `--device`, `--tf32`, `--threads`, `--quiet`.
#[derive(Args, Debug, Clone)]
pub struct ComputeArgs {
    /// Where to compute: cpu, cuda (= cuda:0), cuda:N, or auto (CUDA device 0 if usable, else
    /// the CPU, with the reason on stderr). cuda needs a build with --features cuda or cuda-13.
    #[arg(long, default_value = "auto")]
    pub device: Device,
    /// Let CUDA GEMMs use TF32 tensor cores (faster, ~1e-3 relative error on products).
    #[arg(long)]
    pub tf32: bool,
    /// CPU threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// No progress bars on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The device part alone (for `recap bench device`, which always prints).
pub type DeviceArgs = ComputeArgs;

impl ComputeArgs {
    /// Open the chosen backend.
    pub fn backend(&self) -> Result<Arc<dyn Backend>> {
        self.device.resolve_with(BackendOptions {
            allow_tf32: self.tf32,
        })
    }

    /// Run `f` on a rayon pool of `--threads` threads (`0`: rayon's global pool, all cores,
    /// with `f` on the calling thread rather than on one of the pool's workers).
    pub fn in_pool<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        if self.threads == 0 {
            return f();
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .build()
            .map_err(|e| Error::invalid("threads", e.to_string()))?;
        pool.install(f)
    }
}
