//! The one CLI vocabulary and the device flags, end to end through the binary: the new flag
//! names and their old aliases give identical outputs, `--threads` does not change results,
//! `--device` is checked, `recap demo` shows what it claims, and `eval-retrieval`'s recall
//! equals a brute-force ranking.

use std::path::Path;
use std::process::{Command, Output};

use recap::io::npy;
use recap::synth::{generate, SynthConfig};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recap"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "recap {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// A synthetic set on disk: images.npy, texts.npy, captions.json (sidecar).
fn synth_dir(dir: &Path, n_images: usize) {
    ok(&[
        "synth",
        "--out-dir",
        &s(dir),
        "--n-images",
        &n_images.to_string(),
        "--dim",
        "32",
        "--captions-per-image",
        "2",
        "--json",
    ]);
}

#[test]
fn fit_new_names_and_old_aliases_agree_and_threads_do_not_change_w() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    synth_dir(d, 300);
    let (img, txt, caps) = (
        d.join("images.npy"),
        d.join("texts.npy"),
        d.join("captions.json"),
    );
    let base = |out: &str| {
        vec![
            "fit".to_string(),
            "--method".into(),
            "ridge".into(),
            "--lambda".into(),
            "0.3".into(),
            "--out".into(),
            s(&d.join(out)),
            "--quiet".into(),
            "--device".into(),
            "cpu".into(),
        ]
    };
    let mut new = base("new.npy");
    new.extend(
        [
            "--images",
            &s(&img),
            "--texts",
            &s(&txt),
            "--captions",
            &s(&caps),
        ]
        .map(String::from),
    );
    let mut old = base("old.npy");
    old.extend(["--x", &s(&img), "--y", &s(&txt), "--groups", &s(&caps)].map(String::from));
    let mut one = base("one.npy");
    one.extend(
        [
            "--images",
            &s(&img),
            "--texts",
            &s(&txt),
            "--captions",
            &s(&caps),
            "--threads",
            "1",
        ]
        .map(String::from),
    );
    for a in [&new, &old, &one] {
        let args: Vec<&str> = a.iter().map(String::as_str).collect();
        ok(&args);
    }
    let w = |f: &str| npy::read_f32(d.join(f)).unwrap();
    assert_eq!(w("new.npy"), w("old.npy"), "aliases give the same fit");
    assert_eq!(
        w("new.npy"),
        w("one.npy"),
        "one thread gives the same W bit for bit"
    );
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("new.json")).unwrap()).unwrap();
    assert_eq!(side["n"], 600, "300 images x 2 captions, pair-grouped");
}

#[test]
fn device_flag_is_checked_and_cuda_without_the_feature_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    synth_dir(d, 50);
    let (img, txt) = (s(&d.join("images.npy")), s(&d.join("texts.npy")));
    let bad = run(&[
        "retrieve", "--texts", &txt, "--images", &img, "--device", "tpu",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cpu, cuda, cuda:N, auto"));
    let cuda = run(&[
        "retrieve", "--texts", &txt, "--images", &img, "--device", "cuda:0",
    ]);
    let err = String::from_utf8_lossy(&cuda.stderr);
    if cfg!(any(feature = "cuda", feature = "cuda-13")) {
        recap::testing::skip("--device cuda without the feature: this build has the CUDA feature");
    } else {
        assert!(!cuda.status.success());
        assert!(err.contains("feature"), "{err}");
    }
    // auto in a build without CUDA is the CPU, silently.
    if !cfg!(any(feature = "cuda", feature = "cuda-13")) {
        let auto = run(&[
            "retrieve", "--texts", &txt, "--images", &img, "--device", "auto", "--json",
        ]);
        assert!(auto.status.success());
        assert!(!String::from_utf8_lossy(&auto.stderr).contains("using the CPU"));
    }
}

#[test]
fn retrieve_new_names_match_old_aliases_and_exclusion_applies() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    synth_dir(d, 80);
    let (img, txt, caps) = (
        s(&d.join("images.npy")),
        s(&d.join("texts.npy")),
        s(&d.join("captions.json")),
    );
    let out = |n: &str| s(&d.join(n));
    ok(&[
        "retrieve",
        "--texts",
        &txt,
        "--images",
        &img,
        "-k",
        "4",
        "--captions",
        &caps,
        "--exclude-same-image",
        "--out-indices",
        &out("a.npy"),
        "--out",
        &out("a.json"),
        "--quiet",
    ]);
    ok(&[
        "retrieve",
        "--datastore",
        &txt,
        "--queries",
        &img,
        "-k",
        "4",
        "--captions",
        &caps,
        "--exclude-same-image",
        "--out-indices",
        &out("b.npy"),
        "--out",
        &out("b.json"),
        "--threads",
        "1",
    ]);
    let (a, b) = (
        npy::read_i64(out("a.npy")).unwrap(),
        npy::read_i64(out("b.npy")).unwrap(),
    );
    assert_eq!(a, b);
    // Self-exclusion: image i never retrieves its own captions (rows 2i, 2i+1).
    for i in 0..a.rows() {
        for &r in a.row(i) {
            assert!(
                r >= 0 && r as usize / 2 != i,
                "image {i} retrieved its own caption {r}"
            );
        }
    }
    assert_eq!(
        std::fs::read(out("a.json")).unwrap(),
        std::fs::read(out("b.json")).unwrap()
    );
}

/// 1-based rank of image `i`'s best-ranked own caption among all captions, by f64 cosine
/// (ties: lower row first).
fn brute_rank(
    images: &recap::RowMatrix<f32>,
    texts: &recap::RowMatrix<f32>,
    i: usize,
    own: &[usize],
) -> usize {
    let norm = |v: &[f32]| v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    let q = images.row(i);
    let cos = |r: usize| {
        let t = texts.row(r);
        q.iter()
            .zip(t)
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum::<f64>()
            / (norm(q) * norm(t))
    };
    let scores: Vec<f64> = (0..texts.rows()).map(cos).collect();
    let best = own
        .iter()
        .copied()
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a)))
        .unwrap();
    1 + (0..texts.rows())
        .filter(|&r| scores[r] > scores[best] || (scores[r] == scores[best] && r < best))
        .count()
}

#[test]
fn eval_retrieval_recall_equals_brute_force() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    synth_dir(d, 120);
    let json = ok(&[
        "eval-retrieval",
        "--images",
        &s(&d.join("images.npy")),
        "--texts",
        &s(&d.join("texts.npy")),
        "--captions",
        &s(&d.join("captions.json")),
        "--json",
        "--device",
        "cpu",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let images = npy::read_f32(d.join("images.npy")).unwrap();
    let texts = npy::read_f32(d.join("texts.npy")).unwrap();
    let ranks: Vec<usize> = (0..images.rows())
        .map(|i| brute_rank(&images, &texts, i, &[2 * i, 2 * i + 1]))
        .collect();
    let recall = |k: usize| ranks.iter().filter(|&&r| r <= k).count() as f64 / ranks.len() as f64;
    for (j, k) in [1usize, 5, 10].iter().enumerate() {
        let got = v["image_to_text"]["recall"][j][1].as_f64().unwrap();
        assert_eq!(v["image_to_text"]["recall"][j][0], *k as u64);
        assert!(
            (got - recall(*k)).abs() < 1e-12,
            "R@{k}: {got} vs {}",
            recall(*k)
        );
    }
    let mut sorted = ranks.clone();
    sorted.sort();
    let n = sorted.len();
    let median = (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0;
    assert_eq!(v["image_to_text"]["median_rank"].as_f64().unwrap(), median);
}

#[test]
fn demo_shows_alignment_lifting_recall_and_acclip() {
    let json = ok(&[
        "demo",
        "--n-images",
        "6000",
        "--held-out",
        "500",
        "--dim",
        "256",
        "--json",
        "--quiet",
        "--device",
        "cpu",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let r = |which: &str, k: &str| v["retrieval"][which][k].as_f64().unwrap();
    assert!(
        r("aligned", "recall@1") > r("raw", "recall@1") + 0.1,
        "aligned R@1 {} vs raw {}",
        r("aligned", "recall@1"),
        r("raw", "recall@1")
    );
    assert!(r("aligned", "recall@10") >= r("raw", "recall@10"));
    let c = |which: &str, m: &str| v["captioning"][which][m].as_f64().unwrap();
    assert!(c("aligned", "CIDEr") > c("raw", "CIDEr"));
    assert!(c("aligned", "aCLIP-S") > c("raw", "aCLIP-S"));
    assert_eq!(v["map"]["method"], "ridge");
    let cfg = SynthConfig::default();
    assert_eq!(
        v["data"]["captions_per_image"],
        cfg.captions_per_image as u64
    );
    // The same demo data through the library.
    let data = generate(&SynthConfig {
        n_images: 10,
        dim: 64,
        ..cfg
    })
    .unwrap();
    assert_eq!(data.images.cols(), 64);
}
