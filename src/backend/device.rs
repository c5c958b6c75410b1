//! [`Device`]: which backend to compute on, chosen at run time (`--device cpu|cuda[:N]|auto`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::Backend;
use crate::error::{Error, Result};

/// Where to compute. The library's default is the CPU (a GPU is used only when asked for);
/// the command line's default is `auto`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Device {
    /// The CPU backend (recap's AVX-512/AVX2 kernels, faer, rayon). Always available.
    #[default]
    Cpu,
    /// CUDA device with this ordinal (needs the `cuda` or `cuda-13` feature, a driver, a
    /// device and the cuBLAS/cuSOLVER/NVRTC libraries).
    Cuda(usize),
    /// CUDA device 0 if usable, otherwise the CPU (saying why on stderr; silently in a build
    /// without the CUDA feature).
    Auto,
}

/// Options that change numerics, passed to [`Device::resolve_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackendOptions {
    /// Let GEMMs use TF32 tensor cores (CUDA only; ~1e-3 relative error on products,
    /// faster). Off by default: f32 products are computed in f32.
    pub allow_tf32: bool,
}

impl FromStr for Device {
    type Err = Error;

    /// Parse `cpu`, `cuda` (= `cuda:0`), `cuda:N` or `auto` (case-insensitive).
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "cpu" => Ok(Device::Cpu),
            "auto" => Ok(Device::Auto),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            other => match other.strip_prefix("cuda:") {
                Some(n) => n.parse().map(Device::Cuda).map_err(|_| bad_device(s)),
                None => Err(bad_device(s)),
            },
        }
    }
}

fn bad_device(s: &str) -> Error {
    Error::invalid(
        "device",
        format!("{s:?} is not one of cpu, cuda, cuda:N, auto"),
    )
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
            Device::Auto => write!(f, "auto"),
        }
    }
}

impl Device {
    /// The backend for this device with default options.
    ///
    /// `Cpu` always succeeds; `Cuda(n)` is [`Error::CudaUnavailable`] (with the reason) when
    /// the feature, driver, device or a library is missing; `Auto` tries CUDA device 0 and
    /// falls back to the CPU, printing the reason on stderr.
    pub fn resolve(self) -> Result<Arc<dyn Backend>> {
        self.resolve_with(BackendOptions::default())
    }

    /// [`Device::resolve`] with explicit [`BackendOptions`].
    pub fn resolve_with(self, options: BackendOptions) -> Result<Arc<dyn Backend>> {
        match self {
            Device::Cpu => Ok(super::cpu()),
            Device::Cuda(n) => open_cuda(n, options),
            // A build without CUDA has no GPU to fall back from: the CPU, silently.
            Device::Auto if !cfg!(any(feature = "cuda", feature = "cuda-13")) => Ok(super::cpu()),
            Device::Auto => match open_cuda(0, options) {
                Ok(b) => Ok(b),
                Err(e) => {
                    eprintln!("recap: --device auto: using the CPU ({e})");
                    Ok(super::cpu())
                }
            },
        }
    }

    /// Whether CUDA device `ordinal` can be opened, with the reason if not (for tests and
    /// `recap` diagnostics). Opens and drops a context.
    pub fn cuda_probe(ordinal: usize) -> std::result::Result<String, String> {
        open_cuda(ordinal, BackendOptions::default())
            .map(|b| b.name())
            .map_err(|e| e.to_string())
    }
}

#[cfg(any(feature = "cuda", feature = "cuda-13"))]
fn open_cuda(ordinal: usize, options: BackendOptions) -> Result<Arc<dyn Backend>> {
    Ok(Arc::new(super::cuda::CudaBackend::open(ordinal, options)?))
}

#[cfg(not(any(feature = "cuda", feature = "cuda-13")))]
fn open_cuda(_ordinal: usize, _options: BackendOptions) -> Result<Arc<dyn Backend>> {
    Err(Error::CudaUnavailable {
        reason: "this recap was built without the `cuda` feature (cargo build --features cuda)"
            .into(),
    })
}
