//! Kendall τ against scipy and the CLIP-S family against clipscore's formulas (goldens by
//! `tests/data/metrics/make_goldens.py`).

use recap::io::Grouping;
use recap::metrics::clip::{self, RefCosine};
use recap::metrics::correlation::{kendall_tau, pairwise_accuracy, TauVariant};
use recap::RowMatrix;
use serde_json::Value;

fn golden(name: &str) -> Value {
    let path = format!("{}/tests/data/metrics/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn matrix(v: &Value) -> RowMatrix<f32> {
    let rows: Vec<Vec<f64>> = v.as_array().unwrap().iter().map(floats).collect();
    let d = rows[0].len();
    let data = rows.iter().flatten().map(|&x| x as f32).collect();
    RowMatrix::from_vec(rows.len(), d, data).unwrap()
}

#[test]
fn kendall_tau_b_and_c_match_scipy_with_ties() {
    let g = golden("kendall.json");
    for (i, case) in g["cases"].as_array().unwrap().iter().enumerate() {
        let (x, y) = (floats(&case["x"]), floats(&case["y"]));
        for (variant, key) in [(TauVariant::B, "tau_b"), (TauVariant::C, "tau_c")] {
            let got = kendall_tau(&x, &y, variant).unwrap();
            let want = case[key].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-14 * want.abs().max(1.0),
                "case {i} {key}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn kendall_edge_cases() {
    assert!(
        kendall_tau(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0], TauVariant::B)
            .unwrap()
            .is_nan()
    );
    assert!(kendall_tau(&[], &[], TauVariant::C).unwrap().is_nan());
    assert!(kendall_tau(&[1.0, f64::NAN], &[1.0, 2.0], TauVariant::B).is_err());
    assert!(kendall_tau(&[1.0, 2.0], &[1.0], TauVariant::B).is_err());
    // -0.0 ties with 0.0 as in scipy: x tied, so no discordant pair.
    let t = kendall_tau(&[-0.0, 0.0, 1.0], &[5.0, 1.0, 6.0], TauVariant::B).unwrap();
    let u = kendall_tau(&[0.0, 0.0, 1.0], &[5.0, 1.0, 6.0], TauVariant::B).unwrap();
    assert_eq!(t, u);
}

#[test]
fn pairwise_accuracy_counts_agreements() {
    let acc = pairwise_accuracy(
        &[0.9, 0.2, 0.5, 0.4],
        &[0.1, 0.3, 0.5, 0.1],
        &[true, true, true, false],
        0.5,
    )
    .unwrap();
    assert!((acc - (1.0 + 0.0 + 0.5 + 0.0) / 4.0).abs() < 1e-15);
    assert!(pairwise_accuracy(&[1.0], &[f64::NAN], &[true], 0.0).is_err());
}

#[test]
fn clip_family_matches_clipscore_formulas() {
    let g = golden("clip.json");
    let images = matrix(&g["images"]);
    let cands = matrix(&g["candidates"]);
    let ref_lists: Vec<RowMatrix<f32>> = g["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(matrix)
        .collect();
    let counts: Vec<usize> = ref_lists.iter().map(RowMatrix::rows).collect();
    let d = cands.cols();
    let refs = RowMatrix::from_vec(
        counts.iter().sum(),
        d,
        ref_lists
            .iter()
            .flat_map(|m| m.as_slice().to_vec())
            .collect(),
    )
    .unwrap();
    let grouping = Grouping::from_counts(&counts);
    let w = matrix(&g["map"]);
    let mapped = clip::map_images(&images, &w).unwrap();
    let ref_max = clip::ref_max_cosine(&cands, &refs, &grouping).unwrap();
    for (name, imgs, weight) in [
        ("CLIP-S", &images, clip::CLIP_S_WEIGHT),
        ("PAC-S", &images, clip::PAC_S_WEIGHT),
        ("aCLIP-S", &mapped, clip::CLIP_S_WEIGHT),
    ] {
        let want = &g[name];
        let s = clip::clip_s(imgs, &cands, weight).unwrap();
        close(name, &s.per_item, &floats(&want["per"]));
        close("ref max", &ref_max, &floats(&want["ref_max"]));
        for (variant, key) in [
            (RefCosine::Clipscore, "ref_fscore"),
            (RefCosine::Paper, "ref_fscore_paper"),
        ] {
            let f = clip::ref_clip_s(&s, &ref_max, variant).unwrap();
            let expect: Vec<f64> = want[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap_or(0.0))
                .collect();
            close(&format!("Ref{name} {key}"), &f.per_item, &expect);
            let mean = expect.iter().sum::<f64>() / expect.len() as f64;
            assert!((f.corpus - mean).abs() < 1e-6);
        }
    }
}

fn close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        // f32 inputs; the mapped images are rounded to f32 once.
        assert!(
            (a - b).abs() <= 2e-6 * b.abs().max(1.0),
            "{what}[{i}]: {a} vs {b}"
        );
    }
}

#[test]
fn clip_bad_inputs_are_errors() {
    let a = RowMatrix::from_vec(2, 2, vec![1.0, 0.0, f32::NAN, 1.0]).unwrap();
    let b = RowMatrix::from_vec(2, 2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    assert!(matches!(
        clip::clip_s(&a, &b, 2.5),
        Err(recap::Error::NonFinite { row: 1, .. })
    ));
    let z = RowMatrix::from_vec(2, 2, vec![1.0, 0.0, 0.0, 0.0]).unwrap();
    assert!(matches!(
        clip::clip_s(&z, &b, 2.5),
        Err(recap::Error::ZeroVector { row: 1, .. })
    ));
    let short = RowMatrix::from_vec(1, 2, vec![1.0, 0.0]).unwrap();
    assert!(clip::clip_s(&short, &b, 2.5).is_err());
    let g = Grouping::from_counts(&[1, 1]);
    assert!(clip::ref_max_cosine(&b, &short, &g).is_err());
}
