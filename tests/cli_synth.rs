//! `recap synth` end to end: run the binary into a temporary folder and read the files back.

use std::process::Command;

use recap::io::captions::CaptionSet;
use recap::io::npy::read_f32;
use recap::synth::{generate, SynthConfig};

fn recap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_recap"))
}

#[test]
fn synth_writes_consistent_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("set");
    let output = recap()
        .args(["synth", "--out"])
        .arg(&out)
        .args([
            "--images",
            "30",
            "--captions-per-image",
            "4",
            "--dim",
            "24",
            "--seed",
            "11",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("30 images x 4 captions"), "{stdout}");
    assert!(stdout.contains("120 x 24 float32"), "{stdout}");

    let images = read_f32(out.join("images.npy")).unwrap();
    let texts = read_f32(out.join("texts.npy")).unwrap();
    let map = read_f32(out.join("true_map.npy")).unwrap();
    assert_eq!(images.shape(), (30, 24));
    assert_eq!(texts.shape(), (120, 24));
    assert_eq!(map.shape(), (24, 24));
    let captions = CaptionSet::read(out.join("captions.json")).unwrap();
    assert_eq!(captions.n_images(), images.rows());
    assert_eq!(captions.n_captions(), texts.rows());
    let grouping = captions.grouping().unwrap();
    grouping.check_rows(images.rows(), texts.rows()).unwrap();
    assert_eq!(grouping.counts(), vec![4; 30]);

    // The files hold exactly what the library generates for the same options.
    let cfg = SynthConfig {
        n_images: 30,
        captions_per_image: 4,
        dim: 24,
        seed: 11,
        ..SynthConfig::default()
    };
    let data = generate(&cfg).unwrap();
    assert_eq!(images, data.images);
    assert_eq!(texts, data.texts);
    assert_eq!(map, data.true_map);
    assert_eq!(captions, data.captions);
}

#[test]
fn synth_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let output = recap()
        .args(["synth", "--json", "--images", "5", "--dim", "8", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(v["n_images"], 5);
    assert_eq!(v["captions_per_image"], 5);
    assert_eq!(v["files"][0]["shape"], serde_json::json!([5, 8]));
    assert_eq!(v["files"][1]["shape"], serde_json::json!([25, 8]));
    assert_eq!(v["files"][3]["captions"], 25);
}

#[test]
fn synth_rejects_bad_sizes_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let output = recap()
        .args(["synth", "--images", "0", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--images"), "{stderr}");
    assert!(!out.exists());
}
