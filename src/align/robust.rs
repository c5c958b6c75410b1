//! Robust orthogonal Procrustes by iteratively reweighted least squares (IRLS).
//!
//! Starting from the plain Procrustes `W₀`, each iteration streams the pairs once:
//! residual norms `r_i = ‖ỹ_i − x̃_i W‖`, weights `w_i = 1/(r_i + ε)` normalized by their
//! maximum, and the rows of X̃ and Ỹ scaled by `√w_i` — so the weighted cross product is
//! `Σ w_i x̃_iᵀ ỹ_i` — then `W = U Vᵀ` from its SVD. (The max-normalization is a common
//! positive factor, which leaves `U Vᵀ` unchanged; it is applied after the pass.)
//! Iterations stop after `iterations` passes or when `‖W_new − W‖_F ≤ tol·√d_y`.

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::align::pairs::{for_each_pair_chunk, Pairing};
use crate::align::preprocess::{Affine, Preprocess};
use crate::align::procrustes::procrustes;
use crate::backend::{Backend, GramStats, Op, RowsMut, RowsRef};
use crate::error::{Error, Result};
use crate::io::rows::RowSource;
use crate::matrix::RowMatrix;

/// Options of the IRLS iterations.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RobustOptions {
    /// Maximum number of reweighting passes over the data.
    pub iterations: usize,
    /// `ε` in the weight `1/(‖y − xW‖ + ε)` (avoids division by zero for exact pairs).
    pub epsilon: f64,
    /// Stop when `‖W_new − W‖_F ≤ tol·√d_y`.
    pub tol: f64,
}

impl Default for RobustOptions {
    fn default() -> Self {
        RobustOptions {
            iterations: 10,
            epsilon: 1e-6,
            tol: 1e-7,
        }
    }
}

/// Run the IRLS iterations from `w0`; returns the final `W` and the iterations run.
#[allow(clippy::too_many_arguments)]
pub fn robust_procrustes(
    x: &mut dyn RowSource,
    y: &mut dyn RowSource,
    pairing: Pairing<'_>,
    pre: &Preprocess,
    aff: &Affine,
    w0: RowMatrix<f64>,
    opts: &RobustOptions,
    chunk: usize,
    backend: &Arc<dyn Backend>,
) -> Result<(RowMatrix<f64>, usize)> {
    if !(opts.epsilon > 0.0 && opts.epsilon.is_finite()) {
        return Err(Error::invalid(
            "epsilon",
            format!("must be > 0, got {}", opts.epsilon),
        ));
    }
    let (dx, dy) = (x.cols(), y.cols());
    let mut w = w0;
    for it in 0..opts.iterations {
        let wf: Vec<f32> = w.as_slice().iter().map(|&v| v as f32).collect();
        let wm = RowsRef::new(&wf, dx, dy)?;
        // Σ wᵢ xᵢᵀyᵢ as the XᵀY of reweighted rows, on the chosen backend.
        let mut cross = GramStats::new(dx, dy, false).on(Arc::clone(backend));
        let mut wmax = 0f64;
        let (mut pred, mut xw) = (Vec::new(), Vec::new());
        for_each_pair_chunk(x, y, pairing, pre, aff, chunk, &mut |_, bx, by, r| {
            pred.resize(r * dy, 0.0);
            let out = RowsMut::new(&mut pred, r, dy)?;
            backend.gemm(1.0, RowsRef::new(bx, r, dx)?, Op::N, wm, Op::N, 0.0, out)?;
            xw.clear();
            xw.extend_from_slice(bx);
            for i in 0..r {
                let res: f64 = by[i * dy..(i + 1) * dy]
                    .iter()
                    .zip(&pred[i * dy..(i + 1) * dy])
                    .map(|(a, b)| ((a - b) as f64).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let wi = 1.0 / (res + opts.epsilon);
                wmax = wmax.max(wi);
                xw[i * dx..(i + 1) * dx]
                    .iter_mut()
                    .for_each(|v| *v = (*v as f64 * wi) as f32);
            }
            cross.accumulate(&xw, by, r)
        })?;
        let mut acc = cross.xty().into_vec();
        acc.iter_mut().for_each(|v| *v /= wmax);
        let next = procrustes(&RowMatrix::from_vec(dx, dy, acc)?)?;
        let change: f64 = next
            .as_slice()
            .iter()
            .zip(w.as_slice())
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        w = next;
        if change <= opts.tol * (dy as f64).sqrt() {
            return Ok((w, it + 1));
        }
    }
    Ok((w, opts.iterations))
}
