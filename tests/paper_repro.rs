//! Every `paper-repro/*/run.sh --mini`, end to end with this build's `recap` (tiny random
//! models from `recap make-tiny-models`, shape images from `recap synth-images`): the script
//! succeeds and writes every output it documents, the figures as real PNG and SVG files, and
//! the COCO results / metrics reports parse.
#![cfg(feature = "models")]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn run_miniature(folder: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let script = format!("{}/paper-repro/{folder}/run.sh", env!("CARGO_MANIFEST_DIR"));
    let o = Command::new("bash")
        .args([&script, "--mini", "--out", out.path().to_str().unwrap()])
        .env("RECAP", env!("CARGO_BIN_EXE_recap"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{folder}/run.sh --mini failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// `PREFIX.png` starts with the PNG signature and `PREFIX.svg` is an SVG document.
fn assert_figure(dir: &Path, prefix: &str) {
    let png = std::fs::read(dir.join(format!("{prefix}.png"))).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{prefix}.png");
    let svg = std::fs::read_to_string(dir.join(format!("{prefix}.svg"))).unwrap();
    assert!(
        svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
        "{prefix}.svg"
    );
}

fn assert_coco_results(path: &Path, n: usize) {
    let results = json(path);
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), n, "{path:?}");
    for r in results {
        assert!(r["image_id"].is_i64() && r["caption"].is_string(), "{r}");
    }
}

#[test]
fn recap_coco_miniature() {
    let out = run_miniature("recap_coco");
    let d = out.path();
    assert!(d.join("W.npy").is_file() && d.join("W.json").is_file());
    assert!(
        json(&d.join("fit.json"))["selection"]["curve"]
            .as_array()
            .unwrap()
            .len()
            == 6
    );
    assert_figure(d, "lambda");
    assert_figure(d, "recall");
    assert_coco_results(&d.join("results.json"), 8);
    let report = json(&d.join("report.json"));
    assert!(report["summary"]["metrics"]["corpus"]["aCLIP-S"].is_f64());
    assert_eq!(
        json(&d.join("retrieved.json")).as_object().unwrap().len(),
        8
    );
}

#[test]
fn dal_miniature() {
    let out = run_miniature("dal");
    let d = out.path();
    let state = json(&d.join("state/dal.json"));
    let reports = state["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 3);
    for r in reports {
        assert!(r["metrics"]["corpus"]["CIDEr"].is_f64(), "{r}");
    }
    assert_figure(d, "dal");
    // The last iteration's kept captions: the top half of the 8 test images.
    assert_coco_results(&d.join("results.json"), 4);
}

#[test]
fn smallcap_coco_miniature() {
    let out = run_miniature("smallcap_coco");
    let d = out.path();
    assert_coco_results(&d.join("results.json"), 8);
    let report = json(&d.join("report.json"));
    assert_eq!(report["summary"]["system"], "smallcap");
    assert!(report["summary"]["metrics"]["corpus"]["CIDEr"].is_f64());
    for image in report["images"].as_array().unwrap() {
        assert_eq!(image["retrieved"].as_array().unwrap().len(), 7);
    }
}

#[test]
fn flickr8k_correlation_miniature() {
    let out = run_miniature("flickr8k_correlation");
    let d = out.path();
    let c = json(&d.join("correlation.json"));
    assert_eq!(c["n_items"], 24);
    for m in [
        "Bleu_4",
        "CIDEr",
        "CLIP-S",
        "RefCLIP-S",
        "aCLIP-S",
        "RefaCLIP-S",
    ] {
        let tau = c["tau_x100"][m]
            .as_f64()
            .unwrap_or_else(|| panic!("{m}: {c}"));
        assert!((-100.0..=100.0).contains(&tau), "{m} {tau}");
    }
    assert_figure(d, "correlation");
}
