//! `recap score` / `recap correlate` end to end, the Flickr8k protocol against goldens from
//! clipscore's compute_metrics.py protocol run with pycocoevalcap + scipy, and bad input.

use std::process::Command;

use recap::metrics::correlation::{kendall_tau, TauVariant};
use recap::metrics::flickr8k::read_judgments;
use recap::metrics::score::{compute, Metric, ScoreOptions};
use recap::metrics::{EvalSet, Tokenization};
use serde_json::Value;

fn data(name: &str) -> String {
    format!("{}/tests/data/metrics/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn recap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_recap"))
        .args(args)
        .env_remove("RECAP_METEOR_JAR")
        .output()
        .unwrap()
}

#[test]
fn flickr8k_protocol_matches_clipscore_with_pycocoevalcap_and_scipy() {
    let g: Value =
        serde_json::from_str(&std::fs::read_to_string(data("correlate.json")).unwrap()).unwrap();
    let hj = read_judgments(data("flickr8k_small.json")).unwrap();
    assert_eq!(hj.dropped_nan, 1);
    let human: Vec<f64> = hj.items.iter().map(|j| j.rating).collect();
    let want_human: Vec<f64> = g["human"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // Same item multiset (order may differ: keys sorted here, file order there; τ ignores order
    // as long as pairs stay together, and the key order of this file is already sorted).
    assert_eq!(human, want_human);
    let set = EvalSet::from_raw(
        hj.items.iter().map(|j| j.key.clone()).collect(),
        hj.items.iter().map(|j| j.candidate.clone()).collect(),
        hj.items.iter().map(|j| j.references.clone()).collect(),
        Tokenization::Ptb,
    );
    let opts = ScoreOptions {
        metrics: vec![Metric::Bleu, Metric::Rouge, Metric::Cider],
        ..ScoreOptions::default()
    };
    let c = compute(&set, &opts).unwrap();
    let mut checked = 0;
    for (name, _, per) in &c.values {
        let Some(want_per) = g["per_item"].get(name) else {
            continue;
        };
        for (a, b) in per.iter().zip(want_per.as_array().unwrap()) {
            let b = b.as_f64().unwrap();
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1e-300),
                "{name}: {a} vs {b}"
            );
        }
        for (v, key) in [(TauVariant::C, "tau_c"), (TauVariant::B, "tau_b")] {
            let t = kendall_tau(per, &human, v).unwrap();
            let want = g[key][name].as_f64().unwrap();
            assert!((t - want).abs() < 1e-14, "{name} {key}: {t} vs {want}");
        }
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn score_cli_writes_report_and_marks_missing_tools() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let ex = data("clipscore_example");
    let o = recap(&[
        "score",
        "--candidates",
        &format!("{ex}/good_captions.json"),
        "--references",
        &format!("{ex}/refs.json"),
        "--metrics",
        "bleu,rouge,cider,meteor,clip-s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("CIDEr") && stdout.contains("0.5637"),
        "{stdout}"
    );
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!((rep["corpus"]["ROUGE_L"].as_f64().unwrap() - 0.4280).abs() < 5e-5);
    assert!(rep["per_image"]["image2"]["Bleu_4"].is_number());
    assert!(
        rep["corpus"].get("METEOR").is_none(),
        "METEOR must not be a silent value"
    );
    assert!(rep["not_computed"]["METEOR"]
        .as_str()
        .unwrap()
        .contains("jar"));
    assert!(rep["not_computed"]["CLIP-S"].is_string());
}

#[test]
fn correlate_cli_runs_protocol() {
    let o = recap(&[
        "correlate",
        "--judgments",
        &data("flickr8k_small.json"),
        "--tau",
        "c",
        "--metrics",
        "bleu,cider",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let g: Value =
        serde_json::from_str(&std::fs::read_to_string(data("correlate.json")).unwrap()).unwrap();
    let got = v["tau_x100"]["CIDEr"].as_f64().unwrap();
    assert!((got - 100.0 * g["tau_c"]["CIDEr"].as_f64().unwrap()).abs() < 1e-12);
    assert_eq!(v["n_items"], 12);
}

#[test]
fn bad_inputs_are_specific_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    std::fs::write(p("c.json"), r#"{"a": "a cat", "b": "a dog"}"#).unwrap();
    std::fs::write(p("r.json"), r#"{"a": ["a cat on a mat"]}"#).unwrap();
    std::fs::write(p("r_empty.json"), r#"{"a": ["a cat"], "b": []}"#).unwrap();
    std::fs::write(p("bad.json"), b"{\"a\": \"a \xff cat\"}").unwrap();
    let (c, r, r_empty, bad) = (p("c.json"), p("r.json"), p("r_empty.json"), p("bad.json"));
    let cases: [(Vec<&str>, &str); 4] = [
        (
            vec!["--candidates", &c, "--references", &r],
            "has no references",
        ),
        (
            vec!["--candidates", &c, "--references", &r_empty],
            "is empty",
        ),
        (
            vec!["--candidates", &bad, "--references", &r],
            "invalid UTF-8",
        ),
        (
            vec!["--candidates", &c, "--references", &r, "--metrics", "blue"],
            "unknown metric",
        ),
    ];
    for (args, msg) in cases {
        let mut full = vec!["score"];
        full.extend(args.iter().map(|s| &**s));
        let o = recap(&full);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(msg), "{full:?}: {err}");
    }
}

fn rows(v: &Value) -> Vec<Vec<f32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

fn write_npy(path: &std::path::Path, r: &[Vec<f32>]) {
    let m = recap::RowMatrix::from_vec(r.len(), r[0].len(), r.concat()).unwrap();
    recap::io::npy::write_f32(path, &m).unwrap();
}

#[test]
fn score_cli_clip_family_from_npy_matches_clipscore_formulas() {
    let g: Value =
        serde_json::from_str(&std::fs::read_to_string(data("clip.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let images = rows(&g["images"]);
    let n = images.len();
    let refs: Vec<Vec<Vec<f32>>> = g["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(rows)
        .collect();
    write_npy(&p("img.npy"), &images);
    write_npy(&p("cand.npy"), &rows(&g["candidates"]));
    write_npy(&p("ref.npy"), &refs.concat());
    write_npy(&p("W.npy"), &rows(&g["map"]));
    let cands: serde_json::Map<String, Value> = (0..n)
        .map(|i| (i.to_string(), json_str("a caption")))
        .collect();
    let refj: serde_json::Map<String, Value> = (0..n)
        .map(|i| {
            (
                i.to_string(),
                Value::Array(vec![json_str("a reference"); refs[i].len()]),
            )
        })
        .collect();
    std::fs::write(p("c.json"), Value::Object(cands).to_string()).unwrap();
    std::fs::write(p("r.json"), Value::Object(refj).to_string()).unwrap();
    let s = |n: &str| p(n).to_str().unwrap().to_owned();
    let (c, r, img, cand, rf, w) = (
        s("c.json"),
        s("r.json"),
        s("img.npy"),
        s("cand.npy"),
        s("ref.npy"),
        s("W.npy"),
    );
    let base = [
        "score",
        "--candidates",
        &c,
        "--references",
        &r,
        "--metrics",
        "clip-s,refclip-s,pac-s,refpac-s,aclip-s,refaclip-s",
        "--image-emb",
        &img,
        "--cand-emb",
        &cand,
        "--ref-emb",
        &rf,
        "--map",
        &w,
        "--json",
    ];
    let o = recap(&base);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rep: Value = serde_json::from_slice(&o.stdout).unwrap();
    for (metric, golden, key) in [
        ("CLIP-S", "CLIP-S", "per"),
        ("RefCLIP-S", "CLIP-S", "ref_fscore"),
        ("PAC-S", "PAC-S", "per"),
        ("RefPAC-S", "PAC-S", "ref_fscore"),
        ("aCLIP-S", "aCLIP-S", "per"),
        ("RefaCLIP-S", "aCLIP-S", "ref_fscore"),
    ] {
        let want: Vec<f64> = g[golden][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        for (i, w) in want.iter().enumerate() {
            let got = rep["per_image"][i.to_string()][metric].as_f64().unwrap();
            assert!(
                (got - w).abs() <= 2e-6 * w.abs().max(1.0),
                "{metric}[{i}]: {got} vs {w}"
            );
        }
        let mean = want.iter().sum::<f64>() / n as f64;
        assert!(
            (rep["corpus"][metric].as_f64().unwrap() - mean).abs() < 2e-6,
            "{metric}"
        );
    }
    // A NaN image embedding is an error naming the row; a short candidate file is a shape error.
    let mut bad = images.clone();
    bad[4][2] = f32::NAN;
    write_npy(&p("img.npy"), &bad);
    let o = recap(&base);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("row 4"), "{err}");
    write_npy(&p("img.npy"), &images);
    write_npy(&p("cand.npy"), &rows(&g["candidates"])[..n - 1]);
    let o = recap(&base);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("candidate embeddings"),
        "{err}"
    );
}

fn json_str(s: &str) -> Value {
    Value::String(s.to_owned())
}
