//! Properties of the synthetic data generator (`recap::synth`).

use recap::io::captions::CaptionSet;
use recap::synth::grammar::SLOTS;
use recap::synth::{generate, SynthConfig, SynthData};
use recap::{Error, RowMatrix};

fn small(seed: u64) -> SynthConfig {
    SynthConfig {
        n_images: 200,
        captions_per_image: 5,
        dim: 128,
        seed,
        ..SynthConfig::default()
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

fn centroid(m: &RowMatrix<f32>) -> Vec<f64> {
    let mut c = vec![0f64; m.cols()];
    for row in m.iter_rows() {
        c.iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64);
    }
    c.iter_mut().for_each(|s| *s /= m.rows() as f64);
    c
}

fn norm64(a: &[f64]) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// `X @ W`, brute force in f64.
fn map_rows(x: &RowMatrix<f32>, w: &RowMatrix<f32>) -> RowMatrix<f32> {
    let d = w.cols();
    let mut out = Vec::with_capacity(x.rows() * d);
    for row in x.iter_rows() {
        let mut acc = vec![0f64; d];
        for (k, &a) in row.iter().enumerate() {
            acc.iter_mut()
                .zip(w.row(k))
                .for_each(|(s, &b)| *s += a as f64 * b as f64);
        }
        out.extend(acc.iter().map(|&v| v as f32));
    }
    RowMatrix::from_vec(x.rows(), d, out).unwrap()
}

/// Image→caption recall@1 by brute-force cosine: the best caption belongs to the image.
fn recall_at_1(queries: &RowMatrix<f32>, data: &SynthData) -> f64 {
    let hits = queries
        .iter_rows()
        .enumerate()
        .filter(|(i, q)| {
            let mut best = (0usize, f64::NEG_INFINITY);
            for (j, t) in data.texts.iter_rows().enumerate() {
                let s = dot(q, t);
                if s > best.1 {
                    best = (j, s);
                }
            }
            data.grouping.image_of(best.0) == *i
        })
        .count();
    hits as f64 / queries.rows() as f64
}

#[test]
fn same_seed_is_bit_identical_different_seed_differs() {
    let a = generate(&small(7)).unwrap();
    let b = generate(&small(7)).unwrap();
    let c = generate(&small(8)).unwrap();
    assert_eq!(a.images, b.images);
    assert_eq!(a.texts, b.texts);
    assert_eq!(a.true_map, b.true_map);
    assert_eq!(a.captions, b.captions);
    assert_ne!(a.images, c.images);
    assert_ne!(a.texts, c.texts);
    assert_ne!(a.true_map, c.true_map);
    let differing = a
        .captions
        .texts()
        .zip(c.captions.texts())
        .filter(|(x, y)| x != y)
        .count();
    assert!(differing > a.captions.n_captions() / 2, "{differing}");
}

#[test]
fn thread_count_does_not_change_the_data() {
    let cfg = SynthConfig {
        n_images: 100,
        dim: 40,
        ..small(3)
    };
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| generate(&cfg).unwrap())
    };
    let (one, three) = (run(1), run(3));
    assert_eq!(one.images, three.images);
    assert_eq!(one.texts, three.texts);
    assert_eq!(one.captions, three.captions);
}

#[test]
fn a_prefix_of_images_does_not_depend_on_n() {
    // Every image draws from its own stream: image i is the same in a larger data set.
    let a = generate(&SynthConfig {
        n_images: 40,
        ..small(5)
    })
    .unwrap();
    let b = generate(&SynthConfig {
        n_images: 75,
        ..small(5)
    })
    .unwrap();
    assert_eq!(a.images.as_slice(), &b.images.as_slice()[..40 * 128]);
    assert_eq!(a.texts.as_slice(), &b.texts.as_slice()[..200 * 128]);
}

#[test]
fn shapes_norms_and_grouping() {
    let cfg = small(1);
    let data = generate(&cfg).unwrap();
    assert_eq!(data.images.shape(), (200, 128));
    assert_eq!(data.texts.shape(), (1000, 128));
    assert_eq!(data.true_map.shape(), (128, 128));
    for n in data
        .images
        .row_norms()
        .iter()
        .chain(&data.texts.row_norms())
    {
        assert!((n - 1.0).abs() < 1e-5, "norm {n}");
    }
    assert_eq!(data.grouping, data.captions.grouping().unwrap());
    assert_eq!(data.grouping.counts(), vec![5; 200]);
    for i in [0, 17, 199] {
        assert_eq!(
            data.grouping.captions_of(i),
            &[5 * i, 5 * i + 1, 5 * i + 2, 5 * i + 3, 5 * i + 4]
        );
        assert_eq!(data.captions.images()[i], i.to_string());
    }
    for (r, c) in data.captions.captions().iter().enumerate() {
        assert_eq!(c.id, r.to_string());
        assert_eq!(c.image_id, (r / 5).to_string());
    }
    assert_eq!(data.contents.len(), 200);
}

#[test]
fn modality_gap_and_pair_similarity() {
    let data = generate(&SynthConfig {
        n_images: 400,
        ..small(2)
    })
    .unwrap();
    let (cx, cy) = (centroid(&data.images), centroid(&data.texts));
    let (nx, ny) = (norm64(&cx), norm64(&cy));
    // The module docs: |mean x| ≈ 0.57, |mean y| ≈ 0.62, cos(centroids) ≈ 0.1 (0.05..0.15).
    assert!((0.5..0.65).contains(&nx), "image centroid norm {nx}");
    assert!((0.55..0.7).contains(&ny), "text centroid norm {ny}");
    let cos = cx.iter().zip(&cy).map(|(a, b)| a * b).sum::<f64>() / (nx * ny);
    assert!((0.03..0.2).contains(&cos), "cos(centroids) {cos}");
    let c = 5;
    let n = data.images.rows();
    let mean = |shift: usize| {
        (0..n * c)
            .map(|r| dot(data.images.row((r / c + shift) % n), data.texts.row(r)))
            .sum::<f64>()
            / (n * c) as f64
    };
    let (matched, mismatched) = (mean(0), mean(1));
    assert!(matched > mismatched + 0.05, "{matched} vs {mismatched}");
}

#[test]
fn the_true_map_improves_recall() {
    let data = generate(&small(4)).unwrap();
    let raw = recall_at_1(&data.images, &data);
    let mapped = recall_at_1(&map_rows(&data.images, &data.true_map), &data);
    // Measured: raw ≈ 0.1, mapped ≈ 0.45 at 200 images, d = 128.
    assert!(mapped > raw + 0.2, "raw {raw}, mapped {mapped}");
    assert!(
        raw > 1.0 / 200.0,
        "raw retrieval is still better than chance: {raw}"
    );
}

#[test]
fn captions_describe_their_image() {
    let data = generate(&small(6)).unwrap();
    let caps = data.captions.captions();
    for (i, content) in data.contents.iter().enumerate() {
        let texts: Vec<&str> = (0..5).map(|k| caps[5 * i + k].text.as_str()).collect();
        let mut distinct = texts.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() >= 4, "image {i}: {texts:?}");
        for t in &texts {
            let named = (0..SLOTS.len())
                .filter(|&s| content.forms(s).iter().any(|f| t.contains(f)))
                .count();
            // The object is always named, and at most one detail is left out.
            assert!(
                content.forms(0).iter().any(|f| t.contains(f)),
                "{t:?} vs {content:?}"
            );
            assert!(
                named >= 3,
                "{t:?} names {named} of {:?}",
                content.canonical()
            );
        }
    }
}

#[test]
fn images_sharing_content_are_closer() {
    // Images with the same object word are more similar than images with nothing in common.
    let data = generate(&SynthConfig {
        n_images: 300,
        ..small(9)
    })
    .unwrap();
    let (mut same, mut none) = (Vec::new(), Vec::new());
    for i in 0..300 {
        for j in i + 1..300 {
            let (a, b) = (data.contents[i].words, data.contents[j].words);
            let shared = (0..4).filter(|&s| a[s] == b[s]).count();
            let cos = dot(data.images.row(i), data.images.row(j));
            if a[0] == b[0] && shared == 1 {
                same.push(cos);
            } else if shared == 0 {
                none.push(cos);
            }
        }
    }
    let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        avg(&same) > avg(&none) + 0.02,
        "{} vs {}",
        avg(&same),
        avg(&none)
    );
}

#[test]
fn invalid_configurations_are_named() {
    let cases: Vec<(SynthConfig, &str)> = vec![
        (
            SynthConfig {
                n_images: 0,
                ..small(0)
            },
            "n_images",
        ),
        (
            SynthConfig {
                captions_per_image: 0,
                ..small(0)
            },
            "captions_per_image",
        ),
        (SynthConfig { dim: 1, ..small(0) }, "dim"),
        (
            SynthConfig {
                n_images: usize::MAX / 2,
                ..small(0)
            },
            "n_images",
        ),
        (
            SynthConfig {
                gap: 1.0,
                ..small(0)
            },
            "gap",
        ),
        (
            SynthConfig {
                gap_text: -0.1,
                ..small(0)
            },
            "gap_text",
        ),
        (
            SynthConfig {
                noise: f64::NAN,
                ..small(0)
            },
            "noise",
        ),
        (
            SynthConfig {
                decay: f64::INFINITY,
                ..small(0)
            },
            "decay",
        ),
        (
            SynthConfig {
                identity_mix: 1.5,
                ..small(0)
            },
            "identity_mix",
        ),
        (
            SynthConfig {
                content_weight: -1.0,
                ..small(0)
            },
            "content_weight",
        ),
        (
            SynthConfig {
                drop_strength: 2.0,
                ..small(0)
            },
            "drop_strength",
        ),
    ];
    for (cfg, field) in cases {
        match generate(&cfg) {
            Err(Error::InvalidArgument { name, .. }) => assert_eq!(name, field),
            other => panic!("{field}: expected InvalidArgument, got {other:?}"),
        }
    }
    // Edge values that are valid.
    let ok = SynthConfig {
        n_images: 1,
        captions_per_image: 1,
        dim: 2,
        noise: 0.0,
        gap: 0.0,
        identity_mix: 1.0,
        content_weight: 1.0,
        ..small(0)
    };
    let data = generate(&ok).unwrap();
    assert_eq!(data.texts.shape(), (1, 2));
}

#[test]
fn write_produces_readable_files() {
    let data = generate(&SynthConfig {
        n_images: 12,
        captions_per_image: 3,
        dim: 16,
        ..small(0)
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/set");
    let written = data.write(&out).unwrap();
    assert_eq!(written.len(), 4);
    let images = recap::io::npy::read_f32(out.join("images.npy")).unwrap();
    let texts = recap::io::npy::read_f32(out.join("texts.npy")).unwrap();
    let map = recap::io::npy::read_f32(out.join("true_map.npy")).unwrap();
    assert_eq!(images, data.images);
    assert_eq!(texts, data.texts);
    assert_eq!(map, data.true_map);
    let sidecar = CaptionSet::read(out.join("captions.json")).unwrap();
    assert_eq!(sidecar, data.captions);
    assert_eq!(sidecar.grouping().unwrap(), data.grouping);
}
