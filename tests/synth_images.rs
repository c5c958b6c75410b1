//! `recap synth-images`: deterministic files, readable by the crate's own readers (COCO
//! captions, references, Flickr8k judgments), images that show what their captions say.
#![cfg(feature = "models")]

use std::path::Path;
use std::process::Command;

use recap::io::captions::{read_references, CaptionSet};
use recap::metrics::flickr8k::read_judgments;
use recap::synth::shapes::{write_shapes, ShapesConfig};

fn synth(dir: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_recap"))
        .args([
            "synth-images",
            "--out-dir",
            dir.to_str().unwrap(),
            "--quiet",
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for split in ["train", "test"] {
        for sub in ["", "images"] {
            let d = dir.join(split).join(sub);
            let mut names: Vec<_> = std::fs::read_dir(&d)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
                .collect();
            names.sort();
            for p in names {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

#[test]
fn the_same_options_write_the_same_bytes_and_the_readers_accept_them() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = ["--n-train", "12", "--n-test", "4", "--image-size", "32"];
    assert!(synth(a.path(), &args).status.success());
    assert!(synth(b.path(), &args).status.success());
    let (fa, fb) = (files(a.path()), files(b.path()));
    assert_eq!(fa.len(), 12 + 4 + 2 + 3);
    for ((_, x), (_, y)) in fa.iter().zip(&fb) {
        assert_eq!(x, y);
    }
    let train = CaptionSet::read_auto(a.path().join("train/captions.json")).unwrap();
    assert_eq!(train.captions().len(), 12 * 5);
    let refs = read_references(a.path().join("test/references.json")).unwrap();
    assert_eq!(refs.len(), 4);
    assert!(refs.contains_key("12") && refs.contains_key("15"));
    let j = read_judgments(a.path().join("test/judgments.json")).unwrap();
    assert_eq!(j.items.len(), 4 * 3);
    let ratings: Vec<f64> = j.items.iter().map(|i| i.rating).collect();
    assert_eq!(&ratings[..3], &[4.0, 2.0, 1.0]);
    // The correct candidate names what the first reference names, in other words.
    let first = &j.items[0].references[0];
    let (colour, shape) = (
        first.split(' ').nth(2).unwrap(),
        first.split(' ').nth(3).unwrap(),
    );
    let correct = &j.items[0].candidate;
    assert!(
        correct.contains(colour) && correct.contains(shape),
        "{correct} / {first}"
    );
    assert!(!j.items[0].references.contains(correct));
    assert_ne!(j.items[1].candidate, j.items[0].candidate);
}

#[test]
fn images_show_their_captions() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ShapesConfig {
        n_train: 30,
        n_test: 1,
        image_size: 48,
        seed: 3,
    };
    write_shapes(dir.path(), &cfg).unwrap();
    let set = CaptionSet::read_auto(dir.path().join("train/captions.json")).unwrap();
    let colours = [
        ("red", [220, 40, 40]),
        ("green", [40, 180, 60]),
        ("blue", [40, 70, 220]),
        ("yellow", [235, 220, 50]),
        ("white", [245, 245, 245]),
        ("black", [15, 15, 15]),
    ];
    for id in 0..30 {
        let caption = &set
            .captions()
            .iter()
            .find(|c| c.image_id == id.to_string())
            .unwrap()
            .text;
        // "a {size} {colour} {shape} on a {background} background"
        let words: Vec<&str> = caption.split(' ').collect();
        let rgb = |name: &str| colours.iter().find(|c| c.0 == name).unwrap().1;
        let (fg, bg) = (rgb(words[2]), rgb(words[6]));
        let img = image::open(dir.path().join(format!("train/images/{id}.png")))
            .unwrap()
            .to_rgb8();
        assert_eq!(img.dimensions(), (48, 48));
        let close = |p: &image::Rgb<u8>, c: [u8; 3]| {
            p.0.iter()
                .zip(c)
                .all(|(a, b)| (*a as i32 - b as i32).abs() <= 6)
        };
        // The corner is background; some pixel shows the shape's colour.
        assert!(close(img.get_pixel(0, 0), bg), "image {id}: {caption}");
        assert!(img.pixels().any(|p| close(p, fg)), "image {id}: {caption}");
    }
}

#[test]
fn bad_sizes_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = synth(dir.path(), &["--n-test", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("n_test >= 1"));
}
