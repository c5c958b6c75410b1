//! `recap caption --system smallcap` end to end on the models `recap make-tiny-models` writes
//! (no download): valid COCO results; the retrieved captions equal an independent brute-force
//! cosine top-k over `recap embed` outputs with the query image's own captions removed; the
//! prompt byte-identical to SmallCap's template; greedy captions equal an argmax loop written
//! here over the decoder's start/step; the beam caption equals the library's; flags ReCap owns
//! and embedding inputs are refused; real SmallCap7M + CLIP ViT-B/32 when given.
#![cfg(feature = "models")]

use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::IndexOp;
use recap::io::captions::read_records;
use recap::io::npy::read_f32;
use recap::models::clip::Clip;
use recap::models::generate::Decoder;
use recap::models::resolve;
use recap::models::smallcap::{self, SmallCapTokenizer};
use recap::pipeline::smallcap::{SmallCapPipeline, SmallCapSettings};
use recap::pipeline::Decoding;
use recap::retrieve::{Datastore, Storage};
use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/models");
const IMAGES: [&str; 4] = [
    "gray_29x29.png",
    "large_300x257.jpg",
    "photo_45x61.jpg",
    "rgb_37x23.png",
];

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_recap"))
        .args(args)
        .arg("--quiet")
        .output()
        .unwrap()
}

fn recap(args: &[&str]) -> Value {
    let out = run(args);
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
}

impl Setup {
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn clip(&self) -> String {
        s(&self.p("models/clip")).to_string()
    }
    fn smallcap(&self) -> String {
        s(&self.p("models/smallcap")).to_string()
    }
}

/// Tiny models, four images, and a datastore in which two of the images have captions of
/// their own (records naming their file stems), which SmallCap must never retrieve for them.
fn setup() -> Setup {
    let st = Setup {
        dir: tempfile::tempdir().unwrap(),
    };
    recap(&[
        "make-tiny-models",
        "--out",
        s(&st.p("models")),
        "--arch",
        "clip,smallcap",
    ]);
    std::fs::create_dir(st.p("images")).unwrap();
    for name in IMAGES {
        std::fs::copy(
            format!("{DATA}/clip/images/{name}"),
            st.p("images").join(name),
        )
        .unwrap();
    }
    let captions = [
        ("gray_29x29", "a gray square on a gray wall"),
        ("gray_29x29", "an empty gray picture"),
        ("rgb_37x23", "a colorful small image"),
        ("coco_1", "a dog on the grass"),
        ("coco_1", "a brown dog running on a lawn"),
        ("coco_2", "a red car parked on a street"),
        ("coco_3", "two cats sleeping on a sofa"),
        ("coco_4", "a plate of food with vegetables"),
        ("coco_5", "a man riding a horse on a beach"),
        ("coco_6", "a city street at night with lights"),
        ("coco_7", "a bowl of fruit on a table"),
        ("coco_8", "a child flying a kite in a park"),
    ];
    let records: Vec<Value> = captions
        .iter()
        .enumerate()
        .map(|(i, (img, c))| serde_json::json!({"id": i, "image_id": img, "text": c}))
        .collect();
    std::fs::write(
        st.p("captions.json"),
        serde_json::to_string(&records).unwrap(),
    )
    .unwrap();
    let clip = st.clip();
    recap(&[
        "embed",
        "--model",
        &clip,
        "--texts",
        s(&st.p("captions.json")),
        "--out",
        s(&st.p("ds.npy")),
    ]);
    recap(&[
        "embed",
        "--model",
        &clip,
        "--images",
        s(&st.p("images")),
        "--out",
        s(&st.p("img.npy")),
    ]);
    st
}

fn smallcap_args(st: &Setup, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "caption",
        "--system",
        "smallcap",
        "--images",
        s(&st.p("images")),
        "--clip",
        &st.clip(),
        "--lm",
        &st.smallcap(),
        "--texts",
        s(&st.p("ds.npy")),
        "--captions",
        s(&st.p("captions.json")),
        "--out",
        s(&st.p("results.json")),
        "--retrieved-out",
        s(&st.p("retrieved.json")),
        "--report",
        s(&st.p("report.json")),
        "--max-new-tokens",
        "12",
        "--json",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    args.extend(extra.iter().map(|x| x.to_string()));
    args
}

fn caption(st: &Setup, extra: &[&str]) -> (Value, Value) {
    let args = smallcap_args(st, extra);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let summary = recap(&refs);
    let report =
        serde_json::from_str(&std::fs::read_to_string(st.p("report.json")).unwrap()).unwrap();
    (summary, report)
}

/// Brute-force cosine top-k of each image over the datastore, rows of the same image id
/// removed, ties to the lower row.
fn expected_retrieval(st: &Setup, k: usize) -> Vec<Vec<usize>> {
    let img = read_f32(st.p("img.npy")).unwrap();
    let ds = read_f32(st.p("ds.npy")).unwrap();
    let records = read_records(st.p("captions.json")).unwrap();
    let ids: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(st.p("img.ids.json")).unwrap()).unwrap();
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    (0..img.rows())
        .map(|i| {
            let id = ids[i].as_str().unwrap();
            let q = img.row(i);
            let mut scored: Vec<(f64, usize)> = (0..ds.rows())
                .filter(|&r| records[r].image_id != id)
                .map(|r| {
                    let row = ds.row(r);
                    let dot: f64 = q.iter().zip(row).map(|(a, b)| *a as f64 * *b as f64).sum();
                    (dot / (norm(q) * norm(row)), r)
                })
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            scored.into_iter().take(k).map(|(_, r)| r).collect()
        })
        .collect()
}

fn smallcap_prompt(captions: &[&str]) -> String {
    format!(
        "Similar images show\n\n{}.\n\nThis image shows ",
        captions.join("\n\n")
    )
}

#[test]
fn smallcap_end_to_end_retrieves_without_self_and_prompts_with_its_template() {
    let st = setup();
    let (summary, report) = caption(&st, &[]);
    assert_eq!(summary["system"], "smallcap");
    assert_eq!(summary["images"], 4);
    assert_eq!(
        (summary["k"].as_u64(), summary["prompt_k"].as_u64()),
        (Some(7), Some(4))
    );
    // COCO results: one {"image_id", "caption"} per image, ids the file stems.
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(st.p("results.json")).unwrap()).unwrap();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 4);
    let stems: Vec<&str> = IMAGES
        .iter()
        .map(|n| n.split('.').next().unwrap())
        .collect();
    for (r, stem) in results.iter().zip(&stems) {
        assert_eq!(r["image_id"], *stem);
        assert!(r["caption"].is_string());
        assert_eq!(r.as_object().unwrap().len(), 2);
    }
    let expected = expected_retrieval(&st, 7);
    let retrieved_file: Value =
        serde_json::from_str(&std::fs::read_to_string(st.p("retrieved.json")).unwrap()).unwrap();
    let records = read_records(st.p("captions.json")).unwrap();
    for (i, image) in report["images"].as_array().unwrap().iter().enumerate() {
        let rows: Vec<usize> = image["retrieved"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["row"].as_u64().unwrap() as usize)
            .collect();
        assert_eq!(rows, expected[i], "image {}", stems[i]);
        assert!(rows.iter().all(|&r| records[r].image_id != stems[i]));
        let texts: Vec<&str> = rows.iter().map(|&r| records[r].text.as_str()).collect();
        assert_eq!(
            image["prompt"],
            smallcap_prompt(&texts[..4]),
            "image {}",
            stems[i]
        );
        assert_eq!(retrieved_file[stems[i]], serde_json::json!(texts));
        assert_eq!(image["caption"], results[i]["caption"]);
        assert!(image["logprob"].as_f64().unwrap() <= 0.0);
    }
    for stage in ["load", "encode", "retrieve", "prompt", "generate"] {
        assert!(
            summary["seconds"]["stages"][stage].as_f64().unwrap() >= 0.0,
            "{stage}"
        );
    }
}

/// Greedy captions equal an argmax loop over the decoder written here, fed with the tiny
/// CLIP's `last_hidden_state` and the prompt of the report; the default (beam 3) captions
/// equal the library's pipeline.
#[test]
fn captions_equal_the_decoder_run_by_hand_and_the_library() {
    let st = setup();
    let (_, greedy_report) = caption(&st, &["--decode", "greedy"]);
    let clip = Clip::load(&resolve(&st.clip()).unwrap()).unwrap();
    let files = resolve(&st.smallcap()).unwrap();
    let decoder = smallcap::load(&files).unwrap();
    let tokenizer = SmallCapTokenizer::load(&files).unwrap();
    let paths: Vec<PathBuf> = IMAGES.iter().map(|n| st.p("images").join(n)).collect();
    let pixels = clip.pixel_values_of_files(&paths).unwrap();
    let hidden = clip.vision_hidden_states(&pixels, paths.len()).unwrap();
    for (i, image) in greedy_report["images"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let texts: Vec<String> = image["retrieved"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["caption"].as_str().unwrap().to_string())
            .collect();
        let prompt = tokenizer.prompt(Some(&texts), 4).unwrap();
        let bound = decoder.bind(&hidden.i(i).unwrap(), &prompt).unwrap();
        let (mut state, mut logits) = bound.start(1).unwrap();
        let mut tokens = Vec::new();
        while tokens.len() < 12 {
            let row: Vec<f32> = logits.i(0).unwrap().to_vec1().unwrap();
            let next =
                (0..row.len()).fold(0, |best, j| if row[j] > row[best] { j } else { best }) as u32;
            tokens.push(next);
            if next == prompt.eos_token_id {
                break;
            }
            logits = bound.step(&mut state, &[next]).unwrap();
        }
        let want = tokenizer.caption(&prompt.ids, &tokens).unwrap();
        assert_eq!(image["caption"], want, "image {i}");
    }
    // The default decoding (SmallCap's beam search) through the library equals the CLI's.
    let (_, beam_report) = caption(&st, &[]);
    let ds = Datastore::from_npy(st.p("ds.npy"), true, Storage::F32)
        .unwrap()
        .with_captions(read_records(st.p("captions.json")).unwrap())
        .unwrap();
    let settings = SmallCapSettings {
        max_new_tokens: 12,
        ..SmallCapSettings::default()
    };
    assert_eq!(
        settings.decoding,
        Decoding::Beam {
            width: 3,
            length_penalty: 0.0
        }
    );
    let pipeline = SmallCapPipeline::new(&clip, &decoder, &tokenizer, &ds, settings).unwrap();
    let ids: Vec<String> = IMAGES
        .iter()
        .map(|n| n.split('.').next().unwrap().into())
        .collect();
    let (caps, emb, _) = pipeline
        .caption_files(&paths, &ids, 3, &mut |_, _| {})
        .unwrap();
    assert_eq!(emb.shape(), (4, clip.dim()));
    for (c, image) in caps.iter().zip(beam_report["images"].as_array().unwrap()) {
        assert_eq!(image["caption"], c.caption.as_str());
        assert_eq!(image["prompt"], c.prompt.as_str());
    }
}

#[test]
fn references_are_scored_in_the_same_run() {
    let st = setup();
    let refs: Value = serde_json::json!({
        "gray_29x29": ["a gray square", "a plain gray image"],
        "rgb_37x23": ["a small colorful picture"],
    });
    std::fs::write(st.p("refs.json"), refs.to_string()).unwrap();
    let (summary, report) = caption(&st, &["--references", s(&st.p("refs.json"))]);
    let metrics = &summary["metrics"];
    assert_eq!(metrics["per_image"].as_object().unwrap().len(), 2);
    assert!(metrics["corpus"]["CLIP-S"].as_f64().is_some(), "{metrics}");
    assert!(metrics["corpus"]["CIDEr"].as_f64().is_some(), "{metrics}");
    assert_eq!(report["summary"]["metrics"], *metrics);
}

#[test]
fn recap_flags_embedding_inputs_and_mismatched_widths_are_refused() {
    let st = setup();
    let fails = |extra: &[&str], swap: Option<(&str, &str)>| {
        let mut args = smallcap_args(&st, extra);
        if let Some((flag, value)) = swap {
            let i = args.iter().position(|a| a == flag).unwrap();
            args[i + 1] = value.to_string();
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&refs);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!st.p("results.json").exists(), "no output on failure");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    std::fs::write(st.p("W.npy"), b"unused").unwrap();
    let e = fails(&["--map", s(&st.p("W.npy"))], None);
    assert!(e.contains("--map is a ReCap option"), "{e}");
    let e = fails(&["--rerank", "clip-s"], None);
    assert!(e.contains("--rerank"), "{e}");
    let e = fails(&["-n", "3"], None);
    assert!(e.contains("one caption per image"), "{e}");
    let img = st.p("img.npy");
    let e = fails(&[], Some(("--images", s(&img))));
    assert!(e.contains("patch features"), "{e}");
    // The SmallCap fixture's decoder is 48 wide; the tiny CLIP's vision tower is 32.
    let other = format!("{DATA}/smallcap");
    let e = fails(&[], Some(("--lm", &other)));
    assert!(
        e.contains("n_embd") && e.contains("32") && e.contains("48"),
        "{e}"
    );
}

/// SmallCap7M with CLIP ViT-B/32 and GPT-2's tokenizer on the fixture images, when the
/// weights are given: `RECAP_SMALLCAP_DIR` (Yova/SmallCap7M), `RECAP_CLIP_DIR`
/// (openai/clip-vit-base-patch32), `RECAP_GPT2_TOKENIZER_DIR` (gpt2's tokenizer.json).
#[test]
fn real_smallcap7m_pipeline_when_available() {
    let vars = [
        "RECAP_SMALLCAP_DIR",
        "RECAP_CLIP_DIR",
        "RECAP_GPT2_TOKENIZER_DIR",
    ];
    let Ok(dirs) = vars
        .iter()
        .map(std::env::var)
        .collect::<Result<Vec<_>, _>>()
    else {
        recap::testing::skip(
            "SmallCap7M pipeline on real weights: RECAP_SMALLCAP_DIR, RECAP_CLIP_DIR and RECAP_GPT2_TOKENIZER_DIR are not all set",
        );
        return;
    };
    let st = Setup {
        dir: tempfile::tempdir().unwrap(),
    };
    std::fs::create_dir(st.p("images")).unwrap();
    for name in IMAGES {
        std::fs::copy(
            format!("{DATA}/clip/images/{name}"),
            st.p("images").join(name),
        )
        .unwrap();
    }
    let records: Vec<Value> = [
        "a dog on the grass",
        "a red car",
        "a plate of food",
        "a cat",
    ]
    .iter()
    .enumerate()
    .map(|(i, c)| serde_json::json!({"id": i, "image_id": i, "text": c}))
    .collect();
    std::fs::write(
        st.p("captions.json"),
        serde_json::to_string(&records).unwrap(),
    )
    .unwrap();
    let c = st.p("captions.json");
    let ds = st.p("ds.npy");
    recap(&[
        "embed",
        "--model",
        &dirs[1],
        "--texts",
        s(&c),
        "--out",
        s(&ds),
    ]);
    let summary = recap(&[
        "caption",
        "--system",
        "smallcap",
        "--images",
        s(&st.p("images")),
        "--clip",
        &dirs[1],
        "--lm",
        &dirs[0],
        "--tokenizer",
        &dirs[2],
        "--texts",
        s(&ds),
        "--captions",
        s(&c),
        "-k",
        "4",
        "--out",
        s(&st.p("results.json")),
        "--json",
    ]);
    assert_eq!(summary["images"], 4);
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(st.p("results.json")).unwrap()).unwrap();
    for r in results.as_array().unwrap() {
        assert!(!r["caption"].as_str().unwrap().trim().is_empty(), "{r}");
    }
}
