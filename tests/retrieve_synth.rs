//! Retrieval on the synthetic CLIP-like data: the true map improves recall, self-exclusion
//! from the sidecar, and the CLI on a written synth folder (SmallCap's retrieved.json).

use std::process::Command;

use recap::retrieve::{apply_map, evaluate, Datastore, Exclusion, SearchOptions, Storage};
use recap::synth::{generate, SynthConfig};

fn small() -> recap::synth::SynthData {
    generate(&SynthConfig {
        n_images: 150,
        dim: 48,
        seed: 3,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn true_map_improves_recall() {
    let data = small();
    let raw = evaluate(&data.images, &data.texts, &data.grouping).unwrap();
    let mapped = apply_map(&data.images, &data.true_map).unwrap();
    let aligned = evaluate(&mapped, &data.texts, &data.grouping).unwrap();
    let r5 = |r: &recap::retrieve::RetrievalReport| r.image_to_text.recall[1].1;
    assert!(
        r5(&aligned) > r5(&raw),
        "aligned {aligned:?} vs raw {raw:?}"
    );
    assert!(aligned.image_to_text.median_rank <= raw.image_to_text.median_rank);
}

#[test]
fn sidecar_self_exclusion_matches_grouping() {
    let data = small();
    let ds = Datastore::cosine(data.texts.clone(), Storage::F32)
        .unwrap()
        .with_caption_set(&data.captions)
        .unwrap();
    let ids: Vec<&str> = ds
        .captions()
        .unwrap()
        .iter()
        .map(|c| c.image_id.as_str())
        .collect();
    let images: Vec<&str> = data.captions.images().iter().map(String::as_str).collect();
    let by_id = Exclusion::same_id(&images, &ids);
    assert_eq!(by_id, Exclusion::from_grouping(&data.grouping));
    let opts = SearchOptions {
        exclusion: Some(&by_id),
        ..Default::default()
    };
    let m = ds.search_with(&data.images, 7, &opts).unwrap();
    for i in 0..data.images.rows() {
        assert_eq!(m.count(i), 7);
        assert!(m.row(i).all(|(r, _)| data.grouping.image_of(r) != i));
    }
}

#[test]
fn cli_writes_smallcap_json_from_a_synth_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small();
    data.write(tmp.path()).unwrap();
    let p = |n: &str| tmp.path().join(n).to_str().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_recap"))
        .args([
            "retrieve",
            "--datastore",
            &p("texts.npy"),
            "--queries",
            &p("images.npy"),
            "-k",
            "4",
        ])
        .args([
            "--map",
            &p("true_map.npy"),
            "--captions",
            &p("captions.json"),
            "--exclude-same-image",
        ])
        .args(["--out", &p("retrieved.json")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("retrieved.json")).unwrap()).unwrap();
    let captions = data.captions.captions();
    for (i, image) in data.captions.images().iter().enumerate() {
        let got = v[image].as_array().unwrap();
        assert_eq!(got.len(), 4, "image {i}");
        for c in got {
            // Never one of the image's own captions.
            assert!(!data
                .grouping
                .captions_of(i)
                .iter()
                .any(
                    |&r| captions[r].text == c.as_str().unwrap() && captions[r].image_id == *image
                ));
        }
    }
    let eval = Command::new(env!("CARGO_BIN_EXE_recap"))
        .args([
            "eval-retrieval",
            "--images",
            &p("images.npy"),
            "--texts",
            &p("texts.npy"),
        ])
        .args([
            "--captions",
            &p("captions.json"),
            "--map",
            &p("true_map.npy"),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(r["image_to_text"]["queries"], 150);
}
