//! `recap caption` end to end on the tiny CLIP and FLAN-T5 fixtures (no download): valid COCO
//! results, SmallCap-format retrieved captions, a report whose chosen caption is the argmax
//! of CLIP-S recomputed independently from `recap embed` outputs, and aCLIP-S through an
//! identity map equal to CLIP-S.
#![cfg(feature = "models")]

use std::path::{Path, PathBuf};
use std::process::Command;

use recap::io::npy::{read_f32, write_f32};
use recap::RowMatrix;
use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/models");

fn recap(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_recap"))
        .args(args)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "recap {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

struct Setup {
    dir: tempfile::TempDir,
    clip: String,
    t5: String,
}

impl Setup {
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Images (the decodable fixtures), a caption datastore embedded with the tiny CLIP.
fn setup() -> Setup {
    setup_with(|_| (format!("{DATA}/clip/tiny"), format!("{DATA}/t5")))
}

/// [`setup`] with the CLIP and FLAN-T5 that `models(dir)` names.
fn setup_with(models: impl FnOnce(&Path) -> (String, String)) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (clip, t5) = models(dir.path());
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    for name in [
        "gray_29x29.png",
        "large_300x257.jpg",
        "photo_45x61.jpg",
        "rgb_37x23.png",
    ] {
        std::fs::copy(format!("{DATA}/clip/images/{name}"), images.join(name)).unwrap();
    }
    let captions: Vec<String> = [
        "a dog on the grass",
        "a red car",
        "two cats sleeping",
        "a plate of food",
        "a man riding a horse",
        "a city street at night",
    ]
    .iter()
    .map(|c| c.to_string())
    .collect();
    let records: Vec<Value> = captions
        .iter()
        .enumerate()
        .map(|(i, c)| serde_json::json!({"id": i, "image_id": i / 2, "text": c}))
        .collect();
    std::fs::write(
        dir.path().join("captions.json"),
        serde_json::to_string(&records).unwrap(),
    )
    .unwrap();
    let setup = Setup { dir, clip, t5 };
    recap(&[
        "embed",
        "--model",
        &setup.clip,
        "--texts",
        s(&setup.p("captions.json")),
        "--out",
        s(&setup.p("ds.npy")),
    ]);
    recap(&[
        "embed",
        "--model",
        &setup.clip,
        "--images",
        s(&setup.p("images")),
        "--out",
        s(&setup.p("img.npy")),
    ]);
    setup
}

/// The pipeline flags `recap caption` and `recap dal` share, for the setup's data and models.
fn pipeline_args(st: &Setup, images: &Path) -> Vec<String> {
    [
        "--images",
        s(images),
        "--clip",
        &st.clip,
        "--texts",
        s(&st.p("ds.npy")),
        "--captions",
        s(&st.p("captions.json")),
        "--lm",
        &st.t5,
        "-k",
        "3",
        "-n",
        "4",
        "--beams",
        "4",
        "--max-new-tokens",
        "8",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect()
}

fn caption(st: &Setup, images: &Path, extra: &[&str]) -> (Value, Value) {
    let mut args: Vec<String> = vec!["caption".into()];
    args.extend(pipeline_args(st, images));
    args.extend(
        [
            "--out",
            s(&st.p("res.json")),
            "--report",
            s(&st.p("report.json")),
            "--retrieved-out",
            s(&st.p("retrieved.json")),
            "--json",
        ]
        .iter()
        .map(|x| x.to_string()),
    );
    args.extend(extra.iter().map(|x| x.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let summary = recap(&refs);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(st.p("report.json")).unwrap()).unwrap();
    (summary, report)
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let n = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

#[test]
fn caption_writes_coco_results_and_picks_the_clip_s_argmax() {
    let st = setup();
    let (summary, report) = caption(&st, &st.p("images"), &["--rerank", "clip-s"]);
    assert_eq!(summary["images"], 4);
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(st.p("res.json")).unwrap()).unwrap();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 4);
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["image_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec!["gray_29x29", "large_300x257", "photo_45x61", "rgb_37x23"]
    );
    let retrieved: Value =
        serde_json::from_str(&std::fs::read_to_string(st.p("retrieved.json")).unwrap()).unwrap();
    assert_eq!(retrieved["photo_45x61"].as_array().unwrap().len(), 3);
    let images = read_f32(st.p("img.npy")).unwrap();
    for (i, img) in report["images"].as_array().unwrap().iter().enumerate() {
        assert_eq!(img["caption"], results[i]["caption"]);
        assert!(img["prompt"]
            .as_str()
            .unwrap()
            .starts_with("Similar images show:"));
        // Independent CLIP-S of every candidate from `recap embed`.
        let texts: Vec<String> = img["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["text"].as_str().unwrap().to_string())
            .collect();
        std::fs::write(st.p("cands.txt"), texts.join("\n") + "\n").unwrap();
        recap(&[
            "embed",
            "--model",
            &st.clip,
            "--texts",
            s(&st.p("cands.txt")),
            "--out",
            s(&st.p("cands.npy")),
        ]);
        let cands = read_f32(st.p("cands.npy")).unwrap();
        let scores: Vec<f64> = (0..cands.rows())
            .map(|r| 2.5 * cosine(images.row(i), cands.row(r)).max(0.0))
            .collect();
        for (c, want) in img["candidates"].as_array().unwrap().iter().zip(&scores) {
            assert!(
                (c["score"].as_f64().unwrap() - want).abs() < 1e-5,
                "{c} vs {want}"
            );
        }
        let best =
            (1..scores.len()).fold(0, |b, j| if scores[j] > scores[b] + 1e-9 { j } else { b });
        assert_eq!(img["caption"].as_str().unwrap(), texts[best]);
    }
}

/// Reference captions for four of the setup's images, written to `refs.json`.
fn write_references(st: &Setup) -> PathBuf {
    let refs = serde_json::json!({
        "gray_29x29": ["a gray square", "a plain gray picture"],
        "large_300x257": ["a large photo of a street", "a city street"],
        "photo_45x61": ["a small photo"],
        "rgb_37x23": ["red green and blue stripes"],
    });
    let path = st.p("refs.json");
    std::fs::write(&path, refs.to_string()).unwrap();
    path
}

/// `--references`: the summary scores the chosen captions exactly as `recap score` scores the
/// written results, and adds CLIP-S / RefCLIP-S from the pipeline's own CLIP.
#[test]
fn references_score_the_chosen_captions_as_recap_score_does() {
    let st = setup();
    write_references(&st);
    let (summary, report) = caption(
        &st,
        &st.p("images"),
        &["--references", s(&st.p("refs.json"))],
    );
    let ours = &summary["metrics"]["corpus"];
    let scored = recap(&[
        "score",
        "--candidates",
        s(&st.p("res.json")),
        "--references",
        s(&st.p("refs.json")),
        "--metrics",
        "bleu,meteor,rouge,cider",
        "--json",
    ]);
    for name in ["Bleu_1", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"] {
        assert_eq!(ours[name], scored["corpus"][name], "{name}");
    }
    let clip_s = ours["CLIP-S"].as_f64().unwrap();
    assert!((0.0..=2.5).contains(&clip_s), "{clip_s}");
    assert!(ours["RefCLIP-S"].as_f64().unwrap().is_finite());
    assert!(ours.get("aCLIP-S").is_none(), "no --map, no aCLIP-S");
    assert_eq!(
        summary["metrics"]["per_image"].as_object().unwrap().len(),
        4
    );
    assert_eq!(report["summary"]["metrics"], summary["metrics"]);
}

/// `recap make-tiny-models` writes a CLIP and a FLAN-T5 that the whole pipeline runs on.
#[test]
fn caption_runs_on_the_models_make_tiny_models_writes() {
    let st = setup_with(|dir| {
        let models = dir.join("models");
        recap(&["make-tiny-models", "--out", s(&models)]);
        let name = |m: &str| s(&models.join(m)).to_string();
        (name("clip"), name("t5"))
    });
    let (summary, report) = caption(&st, &st.p("images"), &[]);
    assert_eq!(summary["images"], 4);
    for image in report["images"].as_array().unwrap() {
        assert_eq!(image["candidates"].as_array().unwrap().len(), 4, "{image}");
        assert!(image["caption"].is_string());
        let retrieved = image["retrieved"].as_array().unwrap();
        assert_eq!(retrieved.len(), 3);
        let first = retrieved[0]["caption"].as_str().unwrap();
        assert!(image["prompt"].as_str().unwrap().contains(first), "{image}");
    }
}

#[test]
fn aclip_through_an_identity_map_equals_clip_s_and_npy_images_work() {
    let st = setup();
    let d = read_f32(st.p("ds.npy")).unwrap().cols();
    let mut eye = RowMatrix::zeros(d, d);
    for i in 0..d {
        eye.row_mut(i)[i] = 1.0;
    }
    write_f32(st.p("W.npy"), &eye).unwrap();
    let (_, plain) = caption(&st, &st.p("images"), &["--rerank", "clip-s"]);
    let (_, mapped) = caption(&st, &st.p("images"), &["--map", s(&st.p("W.npy"))]);
    assert_eq!(mapped["summary"]["rerank"], "AClipS");
    for (a, b) in plain["images"]
        .as_array()
        .unwrap()
        .iter()
        .zip(mapped["images"].as_array().unwrap())
    {
        assert_eq!(a["caption"], b["caption"]);
        assert_eq!(a["retrieved"], b["retrieved"]);
    }
    // Precomputed image embeddings (.npy with the ids sidecar) give the same captions.
    let (_, from_npy) = caption(&st, &st.p("img.npy"), &["--rerank", "clip-s"]);
    let caps = |r: &Value| {
        r["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["caption"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(caps(&from_npy), caps(&plain));
}

#[test]
fn refaclip_without_a_map_and_a_missing_model_are_errors() {
    let st = setup();
    let out = Command::new(env!("CARGO_BIN_EXE_recap"))
        .args([
            "caption",
            "--images",
            s(&st.p("images")),
            "--clip",
            &st.clip,
            "--texts",
            s(&st.p("ds.npy")),
            "--captions",
            s(&st.p("captions.json")),
            "--lm",
            &st.t5,
            "--rerank",
            "refaclip-s",
            "--out",
            s(&st.p("x.json")),
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("need the alignment map"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!st.p("x.json").exists(), "no output on failure");
    let out = Command::new(env!("CARGO_BIN_EXE_recap"))
        .args([
            "caption",
            "--images",
            s(&st.p("images")),
            "--clip",
            &st.clip,
            "--texts",
            s(&st.p("ds.npy")),
            "--captions",
            s(&st.p("captions.json")),
            "--lm",
            "/nonexistent/t5",
            "--out",
            s(&st.p("x.json")),
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("/nonexistent/t5")
    );
}

#[test]
fn dal_runs_the_loop_with_recap_and_resumes() {
    let st = setup();
    let state = st.p("dal");
    let dal_out = st.p("dal.json");
    let run = |iterations: &str| {
        let mut args = vec!["dal".to_string()];
        args.extend(pipeline_args(&st, &st.p("images")));
        let rest = [
            "--iterations",
            iterations,
            "--top-fraction",
            "0.5",
            "--state-dir",
            s(&state),
            "--out",
            s(&dal_out),
            "--json",
        ];
        args.extend(rest.iter().map(|x| x.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        recap(&refs)
    };
    let first = run("1");
    assert_eq!(first["datastore_rows"], 6 + 2);
    let second = run("2");
    assert_eq!(
        second["iterations"].as_array().unwrap().len(),
        2,
        "resumed at iteration 2"
    );
    assert_eq!(
        (
            second["datastore_rows"].as_u64(),
            second["synthetic"].as_u64()
        ),
        (Some(10), Some(4))
    );
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("dal.json")).unwrap()).unwrap();
    assert_eq!(saved["completed"], 2);
    let last: Value =
        serde_json::from_str(&std::fs::read_to_string(st.p("dal.json")).unwrap()).unwrap();
    assert_eq!(last.as_array().unwrap().len(), 2);
    assert!(state.join("iter-2/embeddings.npy").exists() && !state.join("iter-1").exists());
}

/// `recap dal --references`: every iteration's chosen captions are scored into its report
/// (kept in `dal.json`); iteration 1 captions from the base datastore, so its scores equal
/// `recap caption --references` on the same inputs.
#[test]
fn dal_scores_every_iteration_against_the_references() {
    let st = setup();
    let refs_path = write_references(&st);
    let state = st.p("dal-scored");
    let mut args = vec!["dal".to_string()];
    args.extend(pipeline_args(&st, &st.p("images")));
    let rest = [
        "--iterations",
        "2",
        "--top-fraction",
        "0.5",
        "--state-dir",
        s(&state),
        "--references",
        s(&refs_path),
        "--json",
    ];
    args.extend(rest.iter().map(|x| x.to_string()));
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let summary = recap(&arg_refs);
    let iterations = summary["iterations"].as_array().unwrap();
    assert_eq!(iterations.len(), 2);
    for it in iterations {
        let corpus = &it["metrics"]["corpus"];
        for name in ["Bleu_4", "ROUGE_L", "CIDEr", "CLIP-S", "RefCLIP-S"] {
            assert!(
                corpus[name].as_f64().is_some_and(f64::is_finite),
                "{name}: {it}"
            );
        }
    }
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("dal.json")).unwrap()).unwrap();
    assert_eq!(saved["reports"][1]["metrics"], iterations[1]["metrics"]);
    let (captioned, _) = caption(
        &st,
        &st.p("images"),
        &["--references", s(&st.p("refs.json"))],
    );
    let want = captioned["metrics"]["corpus"].as_object().unwrap();
    assert_eq!(
        iterations[0]["metrics"]["corpus"].as_object().unwrap(),
        want
    );
}
