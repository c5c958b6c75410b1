//! The library's estimator API and device choice: the builders fit what the option structs
//! fit, ridge needs a λ, the statistics pass falls back to f64 products where f32 would move
//! W, and a fit or a search gives the same answer on every backend present.

use std::sync::Arc;

use recap::align::{
    fit_matrices, Criterion, Estimator, FitOptions, Lambda, Lstsq, Method, Normalize, Ols,
    PrecisionChoice, Procrustes, Ridge, RobustProcrustes,
};
use recap::backend::{Backend, CpuBackend, Device};
use recap::io::npy;
use recap::retrieve::{Datastore, Storage};
use recap::synth::{generate, SynthConfig};
use recap::{Error, RowMatrix};

fn synth(n_images: usize, dim: usize, seed: u64) -> recap::synth::SynthData {
    generate(&SynthConfig {
        n_images,
        captions_per_image: 2,
        dim,
        seed,
        ..SynthConfig::default()
    })
    .unwrap()
}

fn max_rel(a: &RowMatrix<f64>, b: &RowMatrix<f64>) -> f64 {
    let scale = b.as_slice().iter().fold(0f64, |m, v| m.max(v.abs()));
    let diff = a
        .as_slice()
        .iter()
        .zip(b.as_slice())
        .fold(0f64, |m, (x, y)| m.max((x - y).abs()));
    diff / scale
}

/// Rows of `x` repeated per caption (the plain pairs of a grouped set).
fn repeated_images(data: &recap::synth::SynthData) -> RowMatrix<f32> {
    let g = &data.grouping;
    let rows: Vec<f32> = (0..g.n_captions())
        .flat_map(|c| data.images.row(g.image_of(c)).to_vec())
        .collect();
    RowMatrix::from_vec(g.n_captions(), data.images.cols(), rows).unwrap()
}

/// A fit to run, built with the estimator API.
type Fitter<'a> = Box<dyn Fn() -> recap::Result<recap::align::FittedMap> + 'a>;

#[test]
fn builders_fit_exactly_what_the_options_fit() {
    let data = synth(400, 24, 1);
    let x = repeated_images(&data);
    let y = &data.texts;
    let cases: Vec<(Fitter<'_>, FitOptions)> = vec![
        (
            Box::new(|| Ridge::new(0.5).normalize(Normalize::L2).fit(&x, y)),
            FitOptions::new(Method::Ridge)
                .lambda(0.5)
                .preprocess(Normalize::L2, false),
        ),
        (
            Box::new(|| Ols::new().center(true).fit(&x, y)),
            FitOptions::new(Method::Ols).preprocess(Normalize::None, true),
        ),
        (
            Box::new(|| Procrustes::new().fit(&x, y)),
            FitOptions::new(Method::Procrustes),
        ),
        (
            Box::new(|| Lstsq::new().fit(&x, y)),
            FitOptions::new(Method::Lstsq),
        ),
        (
            Box::new(|| RobustProcrustes::new().fit(&x, y)),
            FitOptions::new(Method::RobustProcrustes),
        ),
    ];
    for (built, opts) in cases {
        let a = built().unwrap();
        let b = fit_matrices(&x, y, &opts).unwrap();
        assert_eq!(a.w, b.w, "{:?}", opts.method);
        assert_eq!(a.method, opts.method);
    }
}

#[test]
fn ridge_select_grouped_and_from_files_agree_with_plain_rows() {
    let data = synth(500, 16, 2);
    let grid = vec![1e-3, 1e-1, 10.0];
    let est = Ridge::select(grid.clone(), Criterion::Gcv);
    let grouped = est
        .fit_grouped(&data.images, &data.texts, &data.grouping)
        .unwrap();
    let plain = est.fit(&repeated_images(&data), &data.texts).unwrap();
    assert_eq!(grouped.lambda, plain.lambda, "GCV picks the same λ");
    assert!(grid.contains(&grouped.lambda.unwrap()));
    assert!(max_rel(&grouped.w, &plain.w) < 1e-5);

    let dir = tempfile::tempdir().unwrap();
    let (xp, yp) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    npy::write_f32(&xp, &data.images).unwrap();
    npy::write_f32(&yp, &data.texts).unwrap();
    let from_files = est
        .chunk_rows(64)
        .fit_files(&xp, &yp, Some(&data.grouping))
        .unwrap();
    let rel = max_rel(&from_files.w, &grouped.w);
    assert!(rel < 1e-5, "files (64-row chunks) vs memory: {rel:e}");
}

#[test]
fn ridge_without_lambda_is_an_error_not_zero() {
    let data = synth(50, 8, 3);
    let x = repeated_images(&data);
    let err = fit_matrices(&x, &data.texts, &FitOptions::new(Method::Ridge)).unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { .. }) && err.to_string().contains("λ"),
        "{err}"
    );
    // The other methods need no λ.
    assert!(fit_matrices(&x, &data.texts, &FitOptions::new(Method::Ols)).is_ok());
    let opts = FitOptions {
        lambda: Lambda::Fixed(-1.0),
        ..FitOptions::new(Method::Ridge)
    };
    assert!(fit_matrices(&x, &data.texts, &opts).is_err());
}

/// Columns of X scaled over three decades: cond(XᵀX) ≈ 1e6, where f32 products could move
/// W by more than `AUTO_TOLERANCE`.
fn ill_conditioned(n: usize, d: usize) -> (RowMatrix<f32>, RowMatrix<f32>) {
    let data = synth(n, d, 4);
    let mut x = data.images.clone();
    for i in 0..x.rows() {
        for (j, v) in x.row_mut(i).iter_mut().enumerate() {
            *v *= 10f32.powf(-3.0 * j as f32 / (d - 1) as f32);
        }
    }
    // The first caption of each image as its pair.
    let y: Vec<f32> = (0..n)
        .flat_map(|i| data.texts.row(data.grouping.captions_of(i)[0]).to_vec())
        .collect();
    (x, RowMatrix::from_vec(n, d, y).unwrap())
}

#[test]
fn auto_precision_recomputes_in_f64_when_f32_products_could_move_w() {
    let (x, y) = ill_conditioned(2000, 32);
    let auto = Ridge::new(1e-9).fit(&x, &y).unwrap();
    assert_eq!(auto.report.gram_passes, 2, "the second, f64 pass ran");
    assert_eq!(auto.report.gram_precision, "f64");
    let f64_only = Ridge::new(1e-9)
        .precision(PrecisionChoice::F64)
        .fit(&x, &y)
        .unwrap();
    assert!(max_rel(&auto.w, &f64_only.w) < 1e-12);
    let f32_only = Ridge::new(1e-9)
        .precision(PrecisionChoice::F32)
        .fit(&x, &y)
        .unwrap();
    assert_eq!(f32_only.report.gram_passes, 1);
    // A well-conditioned set needs one pass.
    let data = synth(500, 16, 5);
    let easy = Ridge::new(1.0)
        .fit(&repeated_images(&data), &data.texts)
        .unwrap();
    assert_eq!(easy.report.gram_passes, 1);
    assert_eq!(easy.report.gram_precision, "f32");
}

#[test]
fn fits_and_searches_agree_on_every_backend() {
    let mut backends: Vec<Arc<dyn Backend>> = vec![
        Device::Cpu.resolve().unwrap(),
        Arc::new(CpuBackend::portable()),
    ];
    let require = std::env::var("RECAP_REQUIRE_GPU").is_ok_and(|v| v == "1");
    match Device::Cuda(0).resolve() {
        Ok(b) => backends.push(b),
        Err(e) if require => panic!("RECAP_REQUIRE_GPU=1 but no CUDA device: {e}"),
        Err(e) => recap::testing::skip(&format!("fit/search parity on CUDA: {e}")),
    }
    let data = synth(600, 32, 6);
    let reference = Ridge::new(0.1)
        .fit_grouped(&data.images, &data.texts, &data.grouping)
        .unwrap();
    let ds = Datastore::cosine(data.texts.clone(), Storage::F16).unwrap();
    let want = ds.search(&data.images, 5).unwrap();
    for b in backends {
        let mut x = recap::io::MemSource::new(&data.images, "x");
        let mut y = recap::io::MemSource::new(&data.texts, "y");
        let pairing = recap::align::Pairing::Grouped(&data.grouping);
        let opts = FitOptions::new(Method::Ridge).lambda(0.1);
        let map = recap::align::fit_on(&b, &mut x, &mut y, pairing, &opts, &|_, _| {}).unwrap();
        assert!(max_rel(&map.w, &reference.w) < 1e-5, "fit on {}", b.name());
        let got = ds.clone().on(b.clone()).search(&data.images, 5).unwrap();
        assert_eq!(got.indices, want.indices, "search on {}", b.name());
    }
}
