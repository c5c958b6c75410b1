//! `recap retrieve` and `recap eval-retrieval` end to end on the faiss golden data.

use std::process::Command;

use recap::io::npy;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/retrieve");

fn recap(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_recap"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "recap {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn retrieve_writes_faiss_compatible_npy_and_smallcap_json() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n).to_str().unwrap().to_string();
    let (ds, qs) = (format!("{DIR}/datastore.npy"), format!("{DIR}/queries.npy"));
    recap(&[
        "retrieve",
        "--datastore",
        &ds,
        "--queries",
        &qs,
        "-k",
        "10",
        "--out-indices",
        &p("I.npy"),
        "--out-scores",
        &p("S.npy"),
    ]);
    let got = npy::read_i64(p("I.npy")).unwrap();
    let want = npy::read_i64(format!("{DIR}/faiss_k10_indices.npy")).unwrap();
    assert_eq!(got.shape(), want.shape());
    for i in 0..got.rows() {
        let (mut a, mut b) = (got.row(i).to_vec(), want.row(i).to_vec());
        a.sort();
        b.sort();
        assert_eq!(a, b, "query {i}");
    }
    assert_eq!(npy::read_f32(p("S.npy")).unwrap().shape(), (40, 10));

    // Captions: datastore row r describes image r / 50; query i is image i.
    let records: Vec<_> = (0..2000)
        .map(|r| serde_json::json!({"image_id": r / 50, "caption": format!("c{r}")}))
        .collect();
    std::fs::write(p("caps.json"), serde_json::to_string(&records).unwrap()).unwrap();
    recap(&[
        "retrieve",
        "--datastore",
        &ds,
        "--queries",
        &qs,
        "-k",
        "7",
        "--captions",
        &p("caps.json"),
        "--out",
        &p("ret.json"),
        "--exclude-same-image",
        "--out-indices",
        &p("J.npy"),
    ]);
    let ret: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("ret.json")).unwrap()).unwrap();
    let idx = npy::read_i64(p("J.npy")).unwrap();
    for i in 0..40usize {
        let caps = ret[i.to_string()].as_array().unwrap();
        assert_eq!(caps.len(), 7);
        for (c, &r) in caps.iter().zip(idx.row(i)) {
            assert_eq!(c.as_str().unwrap(), format!("c{r}"));
            assert_ne!(r as usize / 50, i, "query {i} got its own image's caption");
        }
    }
}

#[test]
fn eval_retrieval_prints_recall() {
    let (ds, qs) = (format!("{DIR}/datastore.npy"), format!("{DIR}/queries.npy"));
    // 40 "images" (queries) x 50 "captions" each.
    let out = recap(&[
        "eval-retrieval",
        "--images",
        &qs,
        "--texts",
        &ds,
        "--captions-per-image",
        "50",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["image_to_text"]["queries"], 40);
    assert_eq!(v["text_to_image"]["queries"], 2000);
    let text = recap(&[
        "eval-retrieval",
        "--images",
        &qs,
        "--texts",
        &ds,
        "--captions-per-image",
        "50",
    ]);
    assert!(text.contains("R@1") && text.contains("image→text"));
}
