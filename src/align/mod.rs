//! Closed-form alignment of image embeddings to text embeddings.
//!
//! A linear map `W` (`d_x x d_y`, applied as `X @ W`) is fitted in closed form from
//! streaming, mergeable sufficient statistics ([`GramStats`]): ordinary least squares and
//! ridge by Cholesky of the normal equations, orthogonal Procrustes by an SVD of `XᵀY`,
//! robust (IRLS) Procrustes, and QR least squares on the data (in memory) for
//! ill-conditioned problems. Pair-grouped data (one image row, several caption rows) is
//! fitted without repeating image rows. λ for ridge can be chosen by GCV, exact LOO or
//! k-fold CV over a grid (`select`).
//!
//! ```
//! use recap::align::{fit_matrices, FitOptions, Method};
//! use recap::RowMatrix;
//! let x = RowMatrix::from_vec(4, 2, vec![1f32, 0., 0., 1., 1., 1., 2., 0.5])?;
//! let y = RowMatrix::from_vec(4, 2, vec![2f32, 0., 0., 2., 2., 2., 4., 1.])?;
//! let map = fit_matrices(&x, &y, &FitOptions::new(Method::Ridge).lambda(1e-9))?;
//! assert!((map.w.row(0)[0] - 2.0).abs() < 1e-6);
//! # Ok::<(), recap::Error>(())
//! ```

mod accumulate;
mod caption_pass;
pub mod estimator;
pub mod fit;
pub mod from_stats;
pub mod linear_map;
mod lstsq;
pub mod map;
mod ols;
mod pairs;
pub mod preprocess;
pub mod procrustes;
pub mod report;
mod ridge;
mod robust;
mod select;

pub use crate::backend::{GramPrecision, GramStats};
pub use estimator::{Estimator, Lstsq, Ols, Procrustes, Ridge, RobustProcrustes};
pub use fit::{
    fit, fit_grouped_matrices, fit_matrices, fit_on, Criterion, FitOptions, Lambda, Method,
    PrecisionChoice,
};
pub use from_stats::fit_stats;
pub use linear_map::LinearMap;
pub use map::FittedMap;
pub use pairs::Pairing;
pub use preprocess::{Normalize, Preprocess};
pub use report::FitReport;
pub use report::LambdaSelection;
pub use robust::RobustOptions;
