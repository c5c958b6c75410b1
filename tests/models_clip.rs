#![cfg(feature = "models")]
//! CLIP parity with `transformers` on tiny random models (tests/data/models/clip, built by
//! make_fixtures.py): preprocessing (also at the real 224 setting), tokens, image and text
//! embeddings, the vision last_hidden_state; batching; weight errors naming the tensor;
//! `recap embed`. Real weights when RECAP_CLIP_DIR is set.

use std::path::{Path, PathBuf};

use recap::io::npy::read_f32;
use recap::models::clip::{preprocess, Clip, PreprocessConfig};
use recap::models::resolve;
use recap::RowMatrix;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/models/clip")
        .join(rel)
}

fn image_names() -> Vec<String> {
    serde_json::from_slice(&std::fs::read(fixture("ref/images.json")).unwrap()).unwrap()
}

fn image_paths() -> Vec<PathBuf> {
    image_names()
        .iter()
        .map(|n| fixture(&format!("images/{n}")))
        .collect()
}

fn load(dir: &Path) -> Clip {
    Clip::load(&resolve(dir.to_str().unwrap()).unwrap()).unwrap()
}

/// tiny/ with tiny-eos/config.json (gelu, first-EOS pooling) in a temporary directory.
fn tiny_eos_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture("tiny")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, d.path().join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        fixture("tiny-eos/config.json"),
        d.path().join("config.json"),
    )
    .unwrap();
    d
}

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * scale, "{what}[{i}]: {g} vs {w}");
    }
}

fn texts_and_ids() -> (Vec<String>, Vec<Vec<u32>>) {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("ref/tokens.json")).unwrap()).unwrap();
    let texts = serde_json::from_value(v["texts"].clone()).unwrap();
    let ids = serde_json::from_value(v["ids"].clone()).unwrap();
    (texts, ids)
}

fn is_jpeg(name: &str) -> bool {
    name.ends_with(".jpg")
}

/// The decoded image, as Pillow decodes it (JPEGs: Pillow's own decoding, committed as PNG).
fn pillow_decoded(name: &str) -> image::DynamicImage {
    let stem = name.rsplit_once('.').unwrap().0;
    if is_jpeg(name) {
        preprocess::open_image(&fixture(&format!("pil_decoded/{stem}.png"))).unwrap()
    } else {
        preprocess::open_image(&fixture(&format!("images/{name}"))).unwrap()
    }
}

#[test]
fn jpeg_decoding_is_within_a_few_levels_of_pillow() {
    for (name, path) in image_names().iter().zip(image_paths()) {
        if !is_jpeg(name) {
            continue;
        }
        let ours = preprocess::to_rgb(&preprocess::open_image(&path).unwrap());
        let pil = preprocess::to_rgb(&pillow_decoded(name));
        assert_eq!((ours.width, ours.height), (pil.width, pil.height));
        let d: Vec<i32> = ours
            .data
            .iter()
            .zip(&pil.data)
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .collect();
        let max = d.iter().max().copied().unwrap();
        let mean = d.iter().sum::<i32>() as f64 / d.len() as f64;
        eprintln!("{name}: JPEG decoding vs Pillow: max {max} levels, mean {mean:.3}");
        assert!(max <= 8 && mean < 1.0, "{name}: max {max}, mean {mean}");
    }
}

#[test]
fn preprocessing_at_224_matches_pillow_bicubic_bit_for_bit() {
    let cfg = PreprocessConfig::for_size(224);
    for name in image_names() {
        let name = &name;
        let img = pillow_decoded(name);
        let crop = preprocess::resize_and_crop(&preprocess::to_rgb(&img), &cfg).unwrap();
        let stem = name.rsplit_once('.').unwrap().0;
        let want = image::open(fixture(&format!("crop224/{stem}.png")))
            .unwrap()
            .to_rgb8();
        assert_eq!((crop.width, crop.height), (224, 224));
        let diff = crop
            .data
            .iter()
            .zip(want.as_raw())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            diff, 0,
            "{name}: {diff} bytes differ from CLIPImageProcessorPil"
        );
    }
}

#[test]
fn pixel_values_match_clip_image_processor() {
    let clip = load(&fixture("tiny"));
    let imgs: Vec<_> = image_names().iter().map(|n| pillow_decoded(n)).collect();
    let got = clip.pixel_values(&imgs).unwrap();
    let want = read_f32(fixture("ref/pixels.npy")).unwrap();
    assert_close(&got, want.as_slice(), 1e-6, "pixel_values");
}

#[test]
fn tokens_match_clip_tokenizer_with_truncation() {
    let clip = load(&fixture("tiny"));
    let (texts, ids) = texts_and_ids();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let t = clip.tokenize(&refs).unwrap();
    assert_eq!(t.ids, ids);
    assert_eq!(t.truncated, vec![4], "only the long text is cut");
    assert_eq!(t.ids[4].len(), 77);
    assert_eq!(t.ids[2].len(), 2, "empty text is [BOS, EOS]");
}

fn check_embeddings(clip: &Clip, tag: &str) {
    let (texts, _) = texts_and_ids();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let txt = clip.embed_texts(&refs).unwrap();
    let want = read_f32(fixture(&format!("ref/{tag}_text_embeds.npy"))).unwrap();
    assert_eq!(txt.shape(), want.shape());
    assert_close(txt.as_slice(), want.as_slice(), 1e-5, "text_embeds");

    // The model on transformers' own pixel values.
    let pixels = read_f32(fixture("ref/pixels.npy")).unwrap();
    let want = read_f32(fixture(&format!("ref/{tag}_image_embeds.npy"))).unwrap();
    let img = clip.embed_pixels(pixels.as_slice(), pixels.rows()).unwrap();
    assert_eq!(img.shape(), want.shape());
    assert_close(img.as_slice(), want.as_slice(), 1e-5, "image_embeds");

    // End to end from the files: exact for PNGs; JPEGs within the decoders' difference.
    let img = clip.embed_image_files(&image_paths()).unwrap();
    for (r, name) in image_names().iter().enumerate() {
        if is_jpeg(name) {
            let cos: f32 = img.row(r).iter().zip(want.row(r)).map(|(a, b)| a * b).sum();
            assert!(cos > 0.999, "{name}: cosine {cos}");
        } else {
            assert_close(img.row(r), want.row(r), 1e-5, name);
        }
    }

    let hs = clip
        .vision_hidden_states(pixels.as_slice(), pixels.rows())
        .unwrap();
    let dims = hs.dims().to_vec();
    assert_eq!(dims, vec![pixels.rows(), 17, 32]);
    let got: Vec<f32> = hs.flatten_all().unwrap().to_vec1().unwrap();
    let want = read_f32(fixture(&format!("ref/{tag}_vision_last_hidden.npy"))).unwrap();
    assert_close(&got, want.as_slice(), 1e-5, "last_hidden_state");
}

#[test]
fn embeddings_match_transformers_argmax_pooling_quick_gelu() {
    check_embeddings(&load(&fixture("tiny")), "tiny");
}

#[test]
fn embeddings_match_transformers_first_eos_pooling_gelu() {
    let d = tiny_eos_dir();
    check_embeddings(&load(d.path()), "tiny-eos");
}

#[test]
fn batched_equals_one_at_a_time() {
    let (texts, _) = texts_and_ids();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let all = load(&fixture("tiny"));
    let one = load(&fixture("tiny")).with_batch_size(1);
    let two = load(&fixture("tiny")).with_batch_size(2);
    let a = all.embed_texts(&refs).unwrap();
    for m in [&one, &two] {
        assert_close(
            m.embed_texts(&refs).unwrap().as_slice(),
            a.as_slice(),
            1e-6,
            "texts",
        );
    }
    let paths = image_paths();
    let a = all.embed_image_files(&paths).unwrap();
    for m in [&one, &two] {
        let b = m.embed_image_files(&paths).unwrap();
        assert_close(b.as_slice(), a.as_slice(), 1e-6, "images");
    }
    let norms = a.row_norms();
    assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5), "{norms:?}");
}

/// Rewrite the safetensors header of a copy of tiny/ with `edit`, keeping its byte length.
fn edited_model(
    edit: impl Fn(&mut serde_json::Map<String, serde_json::Value>),
) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture("tiny")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, d.path().join(p.file_name().unwrap())).unwrap();
    }
    let path = d.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    edit(&mut header);
    let mut text = serde_json::to_vec(&header).unwrap();
    assert!(text.len() <= n);
    text.resize(n, b' ');
    let mut out = bytes[..8].to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    std::fs::write(&path, out).unwrap();
    d
}

#[test]
fn missing_and_misshaped_tensors_are_errors_naming_them() {
    for name in [
        "vision_model.embeddings.class_embedding",
        "text_model.final_layer_norm.bias",
        "logit_scale",
    ] {
        let d = edited_model(|h| {
            // Same length, so the header keeps its size.
            let v = h.remove(name).unwrap();
            h.insert(format!("{}X", &name[..name.len() - 1]), v);
        });
        let e = Clip::load(&resolve(d.path().to_str().unwrap()).unwrap())
            .err()
            .expect("a missing tensor must fail");
        assert!(e.to_string().contains(name), "{e}");
    }
    let d = edited_model(|h| {
        h["visual_projection.weight"]["shape"] = serde_json::json!([32, 16]);
    });
    let e = Clip::load(&resolve(d.path().to_str().unwrap()).unwrap())
        .err()
        .expect("a mis-shaped tensor must fail");
    assert!(e.to_string().contains("visual_projection.weight"), "{e}");
}

#[test]
fn undecodable_image_is_an_error_naming_the_file() {
    let clip = load(&fixture("tiny"));
    let mut paths = image_paths();
    paths.push(fixture("images/not_an_image.jpg"));
    let e = clip.embed_image_files(&paths).unwrap_err();
    assert!(e.to_string().contains("not_an_image.jpg"), "{e}");
}

#[test]
fn real_weights_when_available() {
    let Ok(dir) = std::env::var("RECAP_CLIP_DIR") else {
        recap::testing::skip("models_clip real weights: RECAP_CLIP_DIR not set");
        return;
    };
    let clip = Clip::load(&resolve(&dir).unwrap()).unwrap();
    let img = clip.embed_image_files(&image_paths()[..2]).unwrap();
    let txt = clip
        .embed_texts(&["a photo of a cat", "a colorful gradient"])
        .unwrap();
    assert_eq!(img.cols(), txt.cols());
    let _: &RowMatrix<f32> = &img;
    assert!(img.row_norms().iter().all(|n| (n - 1.0).abs() < 1e-4));
}

// ---- the CLI ----

fn recap(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_recap"))
        .args(args)
        .output()
        .unwrap()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn cli_embed_images_writes_npy_and_ids_equal_to_the_library() {
    let out_dir = tempfile::tempdir().unwrap();
    let imgs = tempfile::tempdir().unwrap();
    for p in image_paths() {
        std::fs::copy(&p, imgs.path().join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        imgs.path().join("notes.md"),
        "not an image, ignored by extension",
    )
    .unwrap();
    let out = out_dir.path().join("img.npy");
    let o = recap(&[
        "embed",
        "--model",
        fixture("tiny").to_str().unwrap(),
        "--images",
        imgs.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--batch",
        "2",
        "--json",
        "--threads",
        "2",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["rows"], 5);
    assert_eq!(report["dim"], 16);
    assert_eq!(report["kind"], "images");
    let got = read_f32(&out).unwrap();
    let mut sorted = image_paths();
    sorted.sort_by_key(|p| p.file_name().unwrap().to_owned());
    let want = load(&fixture("tiny"))
        .with_batch_size(2)
        .embed_image_files(&sorted)
        .unwrap();
    assert_close(got.as_slice(), want.as_slice(), 1e-6, "cli images");
    let ids = read_json(&out_dir.path().join("img.ids.json"));
    let want_ids: Vec<String> = sorted
        .iter()
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, serde_json::json!(want_ids));
}

#[test]
fn cli_embed_texts_from_a_sidecar_and_from_lines() {
    let d = tempfile::tempdir().unwrap();
    let (texts, _) = texts_and_ids();
    let lines: Vec<&str> = texts
        .iter()
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .collect();
    let clip = load(&fixture("tiny")).with_batch_size(3);
    // Lines: a .txt with one caption per line.
    let txt = d.path().join("caps.txt");
    std::fs::write(&txt, lines.join("\n")).unwrap();
    let out = d.path().join("t.npy");
    let o = recap(&[
        "embed",
        "--model",
        fixture("tiny").to_str().unwrap(),
        "--texts",
        txt.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--batch",
        "3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        report["truncated"],
        serde_json::json!([3]),
        "the long caption is reported"
    );
    assert_eq!(
        read_f32(&out).unwrap().as_slice(),
        clip.embed_texts(&lines).unwrap().as_slice()
    );
    assert_eq!(
        read_json(&d.path().join("t.texts.json")),
        serde_json::json!(lines)
    );
    // A caption sidecar: rows in caption order, the sidecar written back beside the output.
    let sidecar = serde_json::json!({
        "images": ["1", "2"],
        "captions": [
            {"id": "10", "image_id": "1", "text": lines[0]},
            {"id": "11", "image_id": "2", "text": lines[1]},
            {"id": "12", "image_id": "1", "text": lines[2]}
        ]
    });
    let caps = d.path().join("caps.json");
    std::fs::write(&caps, sidecar.to_string()).unwrap();
    let out = d.path().join("s.npy");
    let o = recap(&[
        "embed",
        "--model",
        fixture("tiny").to_str().unwrap(),
        "--texts",
        caps.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = load(&fixture("tiny")).embed_texts(&lines[..3]).unwrap();
    assert_close(
        read_f32(&out).unwrap().as_slice(),
        want.as_slice(),
        1e-6,
        "cli sidecar",
    );
    assert_eq!(read_json(&d.path().join("s.captions.json")), sidecar);
}

#[test]
fn cli_embed_stops_on_a_bad_image_naming_it_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let list = d.path().join("list.txt");
    let bad = fixture("images/not_an_image.jpg");
    let good = fixture("images/rgb_37x23.png");
    std::fs::write(&list, format!("{}\n{}\n", good.display(), bad.display())).unwrap();
    let out = d.path().join("img.npy");
    let o = recap(&[
        "embed",
        "--model",
        fixture("tiny").to_str().unwrap(),
        "--images",
        list.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not_an_image.jpg"), "{err}");
    assert_eq!(
        std::fs::read_dir(d.path()).unwrap().count(),
        1,
        "only the list remains"
    );
}

#[test]
fn cli_tiny_models_work_with_embed() {
    let d = tempfile::tempdir().unwrap();
    let o = recap(&["make-tiny-models", "--out", d.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let model = d.path().join("clip");
    for f in [
        "config.json",
        "tokenizer.json",
        "preprocessor_config.json",
        "model.safetensors",
    ] {
        assert!(model.join(f).is_file(), "{f}");
    }
    let clip = load(&model);
    let t = clip.tokenize(&["A photo", ""]).unwrap();
    assert_eq!(t.ids[1], vec![512, 513]);
    // No merges: BOS, "a</w>", p h o t "o</w>", EOS.
    assert_eq!(t.ids[0].len(), 1 + 1 + 5 + 1);
    let out = d.path().join("i.npy");
    let o = recap(&[
        "embed",
        "--model",
        model.to_str().unwrap(),
        "--images",
        fixture("images/large_300x257.jpg").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = read_f32(&out).unwrap();
    assert_eq!(m.shape(), (1, 16));
    assert!((m.row_norms()[0] - 1.0).abs() < 1e-5);
}
