//! Support for the test suite (not part of the API): a check that cannot run on this machine
//! (no GPU, no AVX-512, no Java, ...) records itself here, so the suite's summary lists it as
//! skipped instead of letting it pass silently.
//!
//! `skip(reason)` prints `SKIPPED: reason` on stderr and, when `RECAP_SKIP_LOG` names a file
//! (`scripts/test.sh` sets it), appends the reason there; `scripts/test.sh` prints the
//! skipped checks after `cargo test`.

use std::io::Write;

/// Record that the calling check was skipped, and why.
pub fn skip(reason: &str) {
    eprintln!("SKIPPED: {reason}");
    let Some(path) = std::env::var_os("RECAP_SKIP_LOG") else {
        return;
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    if let Ok(mut f) = file {
        let _ = writeln!(f, "{reason}");
    }
}

/// Hooks into the screened search's kernels for `tests/screen_bound.rs` (not API).
pub mod screen {
    use crate::backend::cpu::kernel::{MR, NR};
    use crate::backend::cpu::screen::epilogue::{self, Acc, QueryPanel, RowPanel};
    use crate::backend::cpu::screen::{bf16, bound, portable, quantize, vnni};
    use crate::backend::{Base, QuantizedRows, ScreenMode, StoredRows};

    /// Query rows and row lanes of one screening tile.
    pub const TILE: (usize, usize) = (MR, NR);

    /// `(ŝ, B)` of the pair `(q, x)` as the screened search computes them (quantization,
    /// packing, the SIMD kernel of this CPU or the portable one, the epilogue); `None` when
    /// `q` is outside the bound's norm range (the search then runs the plain search).
    pub fn pair(q: &[f32], x: &[f32], mode: ScreenMode, simd: bool) -> Option<(f32, f32)> {
        let d = q.len();
        assert_eq!(d, x.len());
        let base = Base {
            rows: StoredRows::F32(x),
            dim: d,
        };
        let qr = QuantizedRows::build(base, mode).ok()?;
        let qq = quantize::quantize(q, mode, false);
        if !qq.terms.in_range {
            return None;
        }
        let groups = qr.groups;
        let mut qpanel = vec![0u32; groups * MR];
        quantize::pack_query_panel(&[&qq.words], groups, &mut qpanel);
        let rpanel = &qr.panels[..groups * NR];
        let (mut ai, mut af) = (vec![0i32; MR * NR], vec![0f32; MR * NR]);
        let acc = match (mode, simd) {
            (ScreenMode::Int8, true) => {
                vnni::kernel_int8(groups, &qpanel, rpanel, &mut ai);
                Acc::Int8(&ai)
            }
            (ScreenMode::Int8, false) => {
                portable::kernel_int8(groups, &qpanel, rpanel, &mut ai);
                Acc::Int8(&ai)
            }
            (ScreenMode::Bf16, true) => {
                bf16::kernel_bf16(groups, &qpanel, rpanel, &mut af);
                Acc::Bf16(&af)
            }
            (ScreenMode::Bf16, false) => {
                portable::kernel_bf16(groups, &qpanel, rpanel, &mut af);
                Acc::Bf16(&af)
            }
        };
        let (nq, eq) = qq.terms.query();
        let qs = QueryPanel {
            sq: &[qq.scale],
            nq: &[nq],
            eq: &[eq],
            thr: &[f32::NEG_INFINITY],
        };
        let rows = RowPanel {
            scale: &qr.scale[..NR],
            colsum128: &qr.colsum128[..NR],
            alpha: &qr.alpha[..NR],
            beta: &qr.beta[..NR],
        };
        let (mut s, mut b, mut masks) = (vec![0f32; NR], vec![0f32; NR], [0u32; 1]);
        let delta = bound::delta(d);
        if simd {
            epilogue::epilogue(acc, rows, qs, delta, &mut s, &mut b, &mut masks);
        } else {
            epilogue::epilogue_portable(acc, rows, qs, delta, &mut s, &mut b, &mut masks);
        }
        Some((s[0], b[0]))
    }

    /// Which SIMD screening kernels this CPU runs: `(VNNI int8, BF16, AVX-512 epilogue)`.
    /// Without one, its "SIMD" side in the tile tests is the portable kernel again.
    pub fn simd_kernels() -> (bool, bool, bool) {
        #[cfg(target_arch = "x86_64")]
        let avx512 = std::arch::is_x86_feature_detected!("avx512f");
        #[cfg(not(target_arch = "x86_64"))]
        let avx512 = false;
        (vnni::available(), bf16::available(), avx512)
    }

    /// The int8 tile of `groups` word groups: `(SIMD kernel, portable kernel)`.
    pub fn int8_tiles(groups: usize, a: &[u32], b: &[u32]) -> (Vec<i32>, Vec<i32>) {
        let (mut x, mut y) = (vec![0; MR * NR], vec![0; MR * NR]);
        vnni::kernel_int8(groups, a, b, &mut x);
        portable::kernel_int8(groups, a, b, &mut y);
        (x, y)
    }

    /// The bf16 tile: `(SIMD kernel, portable kernel)`.
    pub fn bf16_tiles(groups: usize, a: &[u32], b: &[u32]) -> (Vec<f32>, Vec<f32>) {
        let (mut x, mut y) = (vec![0.0; MR * NR], vec![0.0; MR * NR]);
        bf16::kernel_bf16(groups, a, b, &mut x);
        portable::kernel_bf16(groups, a, b, &mut y);
        (x, y)
    }

    /// The epilogue on an int8 tile with the given per-row (`NR` each: scale, 128·Σx̂, α, β)
    /// and per-query (`MR` each: s_q, N_q, E_q, threshold) terms: `(SIMD, portable)` outputs
    /// `(ŝ, B, masks)`.
    #[allow(clippy::type_complexity)]
    pub fn epilogues(
        acc: &[i32],
        row_terms: [&[f32]; 3],
        colsum128: &[i32],
        query_terms: [&[f32]; 4],
    ) -> [(Vec<f32>, Vec<f32>, Vec<u32>); 2] {
        let rows = RowPanel {
            scale: row_terms[0],
            colsum128,
            alpha: row_terms[1],
            beta: row_terms[2],
        };
        let qs = QueryPanel {
            sq: query_terms[0],
            nq: query_terms[1],
            eq: query_terms[2],
            thr: query_terms[3],
        };
        let run = |simd: bool| {
            let (mut s, mut b, mut m) = (vec![0f32; MR * NR], vec![0f32; MR * NR], vec![0; MR]);
            let delta = bound::delta(64);
            if simd {
                epilogue::epilogue(Acc::Int8(acc), rows, qs, delta, &mut s, &mut b, &mut m);
            } else {
                epilogue::epilogue_portable(
                    Acc::Int8(acc),
                    rows,
                    qs,
                    delta,
                    &mut s,
                    &mut b,
                    &mut m,
                );
            }
            (s, b, m)
        };
        [run(true), run(false)]
    }
}

/// The AMX int8 tile against its scalar reference: `Some((AMX, reference))`, `None` when AMX
/// is not usable here (`groups` must be a multiple of 16).
pub fn screen_amx_tiles(groups: usize, a: &[u32], b: &[u32]) -> Option<(Vec<i32>, Vec<i32>)> {
    use crate::backend::cpu::screen::amx;
    let session = amx::Session::start(groups)?;
    let n = amx::M * crate::backend::cpu::kernel::NR;
    let (mut x, mut y) = (vec![0i32; n], vec![0i32; n]);
    session.tile(groups, a, b, &mut x);
    drop(session);
    amx::tile_reference(groups, a, b, &mut y);
    Some((x, y))
}
