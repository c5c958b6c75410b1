//! Every NVRTC kernel source compiles (to PTX, for several architectures).
//!
//! Needs only the NVRTC library, no driver or GPU: e.g. the `nvidia-cuda-nvrtc-cu12` wheel's
//! `lib` folder on `LD_LIBRARY_PATH`. Without libnvrtc the test is SKIPPED loudly; with
//! `RECAP_REQUIRE_GPU=1` it fails instead.

#![cfg(any(feature = "cuda", feature = "cuda-13"))]

use recap::backend::cuda::{compile_to_ptx, nvrtc_available, SOURCES};

#[test]
fn every_kernel_compiles_with_nvrtc() {
    if let Err(e) = nvrtc_available() {
        if std::env::var("RECAP_REQUIRE_GPU").is_ok_and(|v| v == "1") {
            panic!("RECAP_REQUIRE_GPU=1 but NVRTC is unavailable: {e}");
        }
        recap::testing::skip(&format!("NVRTC kernel compiles: no NVRTC library ({e})"));
        return;
    }
    // Ampere, Hopper, and the virtual compute_80 (JIT-compiled by newer drivers).
    for arch in ["sm_80", "sm_90", "compute_80"] {
        for (name, source, entries) in SOURCES {
            let ptx = compile_to_ptx(name, source, arch)
                .unwrap_or_else(|e| panic!("{name} for {arch}: {e}"))
                .to_src();
            for entry in *entries {
                assert!(
                    ptx.contains(&format!(".entry {entry}(")),
                    "{name} for {arch}: no entry point {entry} in the PTX"
                );
            }
            eprintln!("{name} -> {arch}: {} bytes of PTX", ptx.len());
        }
    }
}

#[test]
fn a_broken_kernel_reports_the_nvrtc_log() {
    if nvrtc_available().is_err() {
        recap::testing::skip("NVRTC error-log test: no NVRTC library");
        return;
    }
    let err = compile_to_ptx(
        "broken.cu",
        "extern \"C\" __global__ void f() { undeclared_name; }",
        "sm_80",
    )
    .expect_err("must not compile");
    let msg = err.to_string();
    assert!(
        msg.contains("undeclared_name"),
        "log missing from error: {msg}"
    );
}
