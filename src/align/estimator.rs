//! The estimator-shaped API: one type per solver, configured by builder methods, fitted by
//! the methods of [`Estimator`] (as in linfa / scikit-learn).
//!
//! ```
//! use recap::align::{Estimator, Normalize, Ridge};
//! use recap::RowMatrix;
//! let x = RowMatrix::from_vec(4, 2, vec![1f32, 0., 0., 1., 1., 1., 2., 0.5])?;
//! let y = RowMatrix::from_vec(4, 2, vec![2f32, 0., 0., 2., 2., 2., 4., 1.])?;
//! let map = Ridge::new(1e-6).normalize(Normalize::None).fit(&x, &y)?;
//! let mapped = map.apply(&x)?;                  // X @ W, with the fit's preprocessing
//! assert!((mapped.row(3)[0] - 4.0).abs() < 1e-4);
//! # Ok::<(), recap::Error>(())
//! ```
//!
//! | type | `W` |
//! |---|---|
//! | [`Ols`] | `(X̃ᵀX̃)⁻¹X̃ᵀỸ` (Cholesky of the normal equations) |
//! | [`Ridge`] | `(X̃ᵀX̃ + λI)⁻¹X̃ᵀỸ`, λ fixed or chosen over a grid ([`Ridge::select`]) |
//! | [`Lstsq`] | `argmin ‖X̃W − Ỹ‖_F` by Householder QR of the data (in memory) |
//! | [`Procrustes`] | `U Vᵀ` from the SVD `X̃ᵀỸ = U Σ Vᵀ` (orthogonal `W`) |
//! | [`RobustProcrustes`] | IRLS-reweighted Procrustes, weights `1/(‖ỹ − x̃W‖ + ε)` |
//!
//! `X̃`, `Ỹ` are the rows after [`Estimator::normalize`] / [`Estimator::center`].

use std::path::Path;

use crate::align::fit::{fit, fit_grouped_matrices, fit_matrices};
use crate::align::{Criterion, FitOptions, FittedMap, Lambda, Method, Normalize, Pairing};
use crate::align::{PrecisionChoice, RobustOptions};
use crate::backend::{Device, Progress};
use crate::error::Result;
use crate::io::npy::NpyStream;
use crate::io::rows::RowSource;
use crate::io::Grouping;
use crate::matrix::RowMatrix;

/// What every solver shares: preprocessing, device, precision, and the fits.
pub trait Estimator: Sized {
    /// The options this estimator fits with.
    fn options(&self) -> &FitOptions;

    /// The options, mutable (for the builder methods).
    fn options_mut(&mut self) -> &mut FitOptions;

    /// Row normalization of X and Y before the fit (repeated by [`FittedMap::apply`]).
    fn normalize(mut self, normalize: Normalize) -> Self {
        self.options_mut().preprocess.normalize = normalize;
        self
    }

    /// Subtract the column means of X and Y (an intercept).
    fn center(mut self, center: bool) -> Self {
        self.options_mut().preprocess.center = center;
        self
    }

    /// Where the statistics pass runs (`Device::Cpu` by default).
    fn device(mut self, device: Device) -> Self {
        self.options_mut().device = device;
        self
    }

    /// Arithmetic of the statistics pass (`Auto` by default).
    fn precision(mut self, precision: PrecisionChoice) -> Self {
        self.options_mut().precision = precision;
        self
    }

    /// Rows per streamed chunk (0, the default: the device's choice).
    fn chunk_rows(mut self, rows: usize) -> Self {
        self.options_mut().chunk_rows = rows;
        self
    }

    /// Fit on matrices in memory: row `i` of `x` with row `i` of `y`.
    fn fit(&self, x: &RowMatrix<f32>, y: &RowMatrix<f32>) -> Result<FittedMap> {
        fit_matrices(x, y, self.options())
    }

    /// Fit pair-grouped data in memory: image rows, caption rows and which captions
    /// describe which image (each image row counts once per caption, without repeating it).
    fn fit_grouped(
        &self,
        images: &RowMatrix<f32>,
        captions: &RowMatrix<f32>,
        grouping: &Grouping,
    ) -> Result<FittedMap> {
        fit_grouped_matrices(images, captions, grouping, self.options())
    }

    /// Fit from `.npy` files (or `file.npz:member`s) streamed in chunks, in `O(chunk · d)`
    /// memory; `grouping` pairs caption rows with image rows (`None`: row `i` with row `i`).
    fn fit_files(
        &self,
        x: impl AsRef<Path>,
        y: impl AsRef<Path>,
        grouping: Option<&Grouping>,
    ) -> Result<FittedMap> {
        let chunk = match self.options().chunk_rows {
            0 => self.options().device.resolve()?.chunk_rows(),
            n => n,
        };
        let mut xs = NpyStream::open(x, chunk)?;
        let mut ys = NpyStream::open(y, chunk)?;
        self.fit_sources(&mut xs, &mut ys, grouping, &|_, _| {})
    }

    /// Fit from any [`RowSource`]s; `progress` is called with `(rows read, rows to read)`.
    fn fit_sources(
        &self,
        x: &mut dyn RowSource,
        y: &mut dyn RowSource,
        grouping: Option<&Grouping>,
        progress: Progress<'_>,
    ) -> Result<FittedMap> {
        let pairing = grouping.map_or(Pairing::Rows, Pairing::Grouped);
        fit(x, y, pairing, self.options(), progress)
    }
}

macro_rules! estimator {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            options: FitOptions,
        }

        impl Estimator for $name {
            fn options(&self) -> &FitOptions {
                &self.options
            }
            fn options_mut(&mut self) -> &mut FitOptions {
                &mut self.options
            }
        }
    };
}

estimator!(
    /// Ordinary least squares by Cholesky of the normal equations (rank problems are errors:
    /// use [`Ridge`] or [`Lstsq`]).
    Ols
);
estimator!(
    /// Ridge regression, `λ` as scikit-learn's `alpha`.
    Ridge
);
estimator!(
    /// Least squares by Householder QR of the data (in memory; for ill-conditioned X).
    Lstsq
);
estimator!(
    /// Orthogonal Procrustes: the orthogonal `W` closest to mapping X̃ onto Ỹ.
    Procrustes
);
estimator!(
    /// IRLS-reweighted orthogonal Procrustes (robust to outlier pairs).
    RobustProcrustes
);

impl Ols {
    /// OLS with no preprocessing.
    pub fn new() -> Self {
        Ols {
            options: FitOptions::new(Method::Ols),
        }
    }
}

impl Default for Ols {
    fn default() -> Self {
        Self::new()
    }
}

impl Ridge {
    /// Ridge with a fixed `λ > 0` (checked when fitting).
    pub fn new(lambda: f64) -> Self {
        Ridge {
            options: FitOptions::new(Method::Ridge).lambda(lambda),
        }
    }

    /// Ridge with `λ` chosen over `grid` by `criterion` (GCV and k-fold from the statistics;
    /// LOO loads the pairs into memory).
    pub fn select(grid: impl Into<Vec<f64>>, criterion: Criterion) -> Self {
        let mut options = FitOptions::new(Method::Ridge);
        options.lambda = Lambda::Select {
            grid: grid.into(),
            criterion,
        };
        Ridge { options }
    }
}

impl Lstsq {
    /// QR least squares with no preprocessing.
    pub fn new() -> Self {
        Lstsq {
            options: FitOptions::new(Method::Lstsq),
        }
    }
}

impl Default for Lstsq {
    fn default() -> Self {
        Self::new()
    }
}

impl Procrustes {
    /// Orthogonal Procrustes with no preprocessing.
    pub fn new() -> Self {
        Procrustes {
            options: FitOptions::new(Method::Procrustes),
        }
    }
}

impl Default for Procrustes {
    fn default() -> Self {
        Self::new()
    }
}

impl RobustProcrustes {
    /// Robust Procrustes with the default IRLS options ([`RobustOptions::default`]).
    pub fn new() -> Self {
        RobustProcrustes {
            options: FitOptions::new(Method::RobustProcrustes),
        }
    }

    /// The IRLS options (iterations, `ε`, tolerance).
    pub fn irls(mut self, robust: RobustOptions) -> Self {
        self.options.robust = robust;
        self
    }
}

impl Default for RobustProcrustes {
    fn default() -> Self {
        Self::new()
    }
}
