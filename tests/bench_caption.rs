//! `recap bench caption` on the tiny models: it writes the inputs the Python side reads
//! (images, datastore, W, captions) and a stage report whose prompts are ReCap's and whose
//! stage costs are non-negative and sum to the total. (Speed is measured by the benchmark
//! itself, `benches/models/compare_pipeline.sh`, not here.)
#![cfg(feature = "models")]

use std::process::Command;

use recap::io::npy::read_f32;
use serde_json::Value;

#[test]
fn bench_caption_writes_the_shared_inputs_and_a_consistent_report() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let bin = env!("CARGO_BIN_EXE_recap");
    let ok = |args: &[&str]| {
        let o = Command::new(bin).args(args).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    ok(&[
        "make-tiny-models",
        "--out",
        models.to_str().unwrap(),
        "--quiet",
    ]);
    let out = dir.path().join("bench");
    let stdout = ok(&[
        "bench",
        "caption",
        "--clip",
        models.join("clip").to_str().unwrap(),
        "--lm",
        models.join("t5").to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--images",
        "3",
        "--rows",
        "50",
        "-k",
        "4",
        "-n",
        "3",
        "--max-new-tokens",
        "6",
        "--json",
    ]);
    let report: Value = serde_json::from_slice(&stdout).unwrap();
    let saved: Value =
        serde_json::from_slice(&std::fs::read(out.join("recap_stages.json")).unwrap()).unwrap();
    assert_eq!(report, saved);
    assert_eq!(read_f32(out.join("images.npy")).unwrap().shape(), (3, 16));
    assert_eq!(
        read_f32(out.join("datastore.npy")).unwrap().shape(),
        (50, 16)
    );
    assert_eq!(read_f32(out.join("W.npy")).unwrap().shape(), (16, 16));
    let captions: Vec<String> =
        serde_json::from_slice(&std::fs::read(out.join("captions.json")).unwrap()).unwrap();
    assert_eq!(captions.len(), 50);
    let prompts = report["prompts"].as_array().unwrap();
    assert_eq!(prompts.len(), 3);
    for p in prompts {
        let p = p.as_str().unwrap();
        assert!(p.starts_with("Similar images show:\n") && p.ends_with("\nThis image shows:"));
        assert_eq!(p.lines().count(), 2 + 4, "{p}");
    }
    let stages = report["seconds_per_image"].as_object().unwrap();
    assert_eq!(stages.len(), 6);
    let sum: f64 = stages.values().map(|v| v.as_f64().unwrap()).sum();
    assert!(stages.values().all(|v| v.as_f64().unwrap() >= 0.0));
    let total = report["total_seconds_per_image"].as_f64().unwrap();
    assert!(
        (sum - total).abs() <= 1e-9 * total.max(1.0),
        "{sum} vs {total}"
    );
}
