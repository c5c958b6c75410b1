//! Probing for CUDA and opening a context, without ever panicking.
//!
//! Order: driver library present → `cuInit` + device count → requested ordinal exists →
//! cuBLAS, cuSOLVER and NVRTC libraries present → context. Each failure is
//! [`Error::CudaUnavailable`] with the reason. cudarc panics when a library or symbol is
//! missing at first use, so every probe runs under `catch_unwind`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use cudarc::driver::CudaContext;

use crate::error::{Error, Result};

/// The CUDA major version whose library names this build looks for.
pub const BUILT_FOR_CUDA_MAJOR: u32 = if cfg!(feature = "cuda-13") { 13 } else { 12 };

/// Run `f`, turning a panic (missing library/symbol inside cudarc) into
/// [`Error::CudaUnavailable`].
pub(crate) fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Error::CudaUnavailable {
            reason: format!("{what}: {msg}"),
        }
    })
}

/// Names of `lib` (e.g. "cublas") that other CUDA majors use and that load here, for a
/// hint when this build's names are not found.
fn other_major_hint(lib: &str) -> String {
    let found: Vec<String> = [11u32, 12, 13, 14]
        .into_iter()
        .filter(|&m| m != BUILT_FOR_CUDA_MAJOR)
        .map(|m| format!("lib{lib}.so.{m}"))
        .filter(|name| unsafe { libloading::Library::new(name) }.is_ok())
        .collect();
    if found.is_empty() {
        String::new()
    } else {
        format!(
            "; found {} instead: build with --features {} or put a directory with a lib{lib}.so \
             symlink to it on LD_LIBRARY_PATH",
            found.join(", "),
            if BUILT_FOR_CUDA_MAJOR == 12 {
                "cuda-13"
            } else {
                "cuda"
            }
        )
    }
}

fn require_lib(lib: &str, present: impl FnOnce() -> bool) -> Result<()> {
    if guarded(&format!("probing lib{lib}"), present)? {
        return Ok(());
    }
    let tried = cudarc::get_lib_name_candidates(lib);
    Err(Error::CudaUnavailable {
        reason: format!(
            "the {lib} library was not found (this build is for CUDA {BUILT_FOR_CUDA_MAJOR}; \
             tried {} on the loader path: set LD_LIBRARY_PATH to the toolkit's lib64 or the \
             pip package's lib folder){}",
            tried.join(", "),
            other_major_hint(lib)
        ),
    })
}

/// Check driver, device and libraries, then open the primary context of `ordinal`.
pub(crate) fn open_context(ordinal: usize) -> Result<Arc<CudaContext>> {
    let driver = guarded("probing the CUDA driver", || unsafe {
        cudarc::driver::sys::is_culib_present()
    })?;
    if !driver {
        return Err(Error::CudaUnavailable {
            reason: "no NVIDIA driver library (libcuda.so.1) on this machine".into(),
        });
    }
    let count = guarded("cuInit/cuDeviceGetCount", CudaContext::device_count)?.map_err(|e| {
        Error::CudaUnavailable {
            reason: format!("the CUDA driver did not initialize: {e:?}"),
        }
    })?;
    if count <= 0 {
        return Err(Error::CudaUnavailable {
            reason: "the CUDA driver reports no device".into(),
        });
    }
    if ordinal >= count as usize {
        return Err(Error::CudaUnavailable {
            reason: format!("cuda:{ordinal} requested but only {count} device(s) present"),
        });
    }
    require_lib("cublas", || unsafe {
        cudarc::cublas::sys::is_culib_present()
    })?;
    require_lib("cusolver", || unsafe {
        cudarc::cusolver::sys::is_culib_present()
    })?;
    require_lib("nvrtc", || unsafe {
        cudarc::nvrtc::sys::is_culib_present()
    })?;
    guarded("creating the CUDA context", || CudaContext::new(ordinal))?.map_err(|e| {
        Error::CudaUnavailable {
            reason: format!("cannot create a context on cuda:{ordinal}: {e:?}"),
        }
    })
}

/// Whether the NVRTC library loads (no driver or device needed). `Err` has the reason.
pub fn nvrtc_available() -> Result<()> {
    require_lib("nvrtc", || unsafe {
        cudarc::nvrtc::sys::is_culib_present()
    })
}
