//! recap's own CUDA kernels (`kernels/*.cu`, embedded with `include_str!`), compiled by
//! NVRTC at first use for the device's compute capability and cached per backend.
//!
//! Each source is prefixed with `kernels/common.cuh` (NVRTC sees no host headers). A compile
//! failure is [`Error::Cuda`] carrying the NVRTC log.

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaFunction, CudaModule};
use cudarc::nvrtc::{CompileError, CompileOptions};

use super::context::guarded;
use crate::error::{Error, Result};

/// Shared device helpers, prepended to every kernel source.
pub const COMMON_SOURCE: &str = include_str!("../../../kernels/common.cuh");

/// Every kernel source: (file name, source, kernel entry points).
pub const SOURCES: &[(&str, &str, &[&str])] = &[
    (
        "normalize.cu",
        include_str!("../../../kernels/normalize.cu"),
        &["row_norms_f64", "scale_rows_inv"],
    ),
    (
        "topk.cu",
        include_str!("../../../kernels/topk.cu"),
        &["topk_merge_small", "topk_merge_large"],
    ),
];

/// Compile one kernel file to PTX for `arch` (`"sm_90"`, `"compute_80"`, ...). Needs only
/// the NVRTC library, no driver or GPU.
pub fn compile_to_ptx(name: &str, source: &str, arch: &str) -> Result<cudarc::nvrtc::Ptx> {
    let full = format!("{COMMON_SOURCE}\n#line 1 \"{name}\"\n{source}");
    let opts = CompileOptions {
        options: vec![format!("--gpu-architecture={arch}"), "--std=c++17".into()],
        name: Some(name.to_string()),
        ..Default::default()
    };
    let compiled = guarded(&format!("NVRTC compile of {name}"), || {
        cudarc::nvrtc::compile_ptx_with_opts(full, opts)
    })?;
    compiled.map_err(|e| Error::Cuda {
        operation: format!("NVRTC compile of kernels/{name} for {arch}"),
        problem: match e {
            CompileError::CompileError { nvrtc, log, .. } => {
                format!("{nvrtc:?}:\n{}", log.to_string_lossy())
            }
            other => format!("{other:?}"),
        },
    })
}

/// The NVRTC target for a compute capability: `sm_XY`, so the driver loads it as is.
pub fn arch_for(cc: (i32, i32)) -> String {
    format!("sm_{}{}", cc.0, cc.1)
}

/// Loaded kernels of one context.
pub(crate) struct Kernels {
    _modules: Vec<Arc<CudaModule>>,
    pub row_norms_f64: CudaFunction,
    pub scale_rows_inv: CudaFunction,
    pub topk_merge_small: CudaFunction,
    pub topk_merge_large: CudaFunction,
}

impl Kernels {
    /// Compile every source for `cc` and load it into `ctx`.
    pub(crate) fn load(ctx: &Arc<CudaContext>, cc: (i32, i32)) -> Result<Kernels> {
        let arch = arch_for(cc);
        let mut modules = Vec::new();
        let mut funcs = std::collections::HashMap::new();
        for (name, src, entries) in SOURCES {
            let ptx = compile_to_ptx(name, src, &arch)?;
            let module = ctx.load_module(ptx).map_err(|e| Error::Cuda {
                operation: format!("loading kernels/{name} (cuModuleLoadData)"),
                problem: format!("{e:?}"),
            })?;
            for entry in *entries {
                let f = module.load_function(entry).map_err(|e| Error::Cuda {
                    operation: format!("looking up kernel {entry} in kernels/{name}"),
                    problem: format!("{e:?}"),
                })?;
                funcs.insert(*entry, f);
            }
            modules.push(module);
        }
        let mut take = |n: &str| funcs.remove(n).expect("every entry point was loaded above");
        Ok(Kernels {
            row_norms_f64: take("row_norms_f64"),
            scale_rows_inv: take("scale_rows_inv"),
            topk_merge_small: take("topk_merge_small"),
            topk_merge_large: take("topk_merge_large"),
            _modules: modules,
        })
    }
}
