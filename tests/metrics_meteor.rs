//! METEOR through the official jar against pycocoevalcap 1.2's `Meteor` (goldens by
//! `tests/data/metrics/make_goldens.py`). The jar comes from `$RECAP_METEOR_JAR`
//! (`scripts/fetch_meteor.sh` provides it; CI exports it).

use recap::metrics::meteor::{find_jar, meteor, METEOR_JAR_ENV};
use serde_json::Value;

fn golden(name: &str) -> Value {
    let path = format!("{}/tests/data/metrics/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn missing_jar_is_tool_unavailable_not_zero() {
    let e = find_jar(Some(std::path::Path::new("/nonexistent/meteor-1.5.jar"))).unwrap_err();
    assert!(matches!(e, recap::Error::ToolUnavailable { .. }), "{e}");
    let cands = vec!["a cat".to_owned()];
    let refs = vec![vec!["a cat".to_owned()]];
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("meteor-1.5.jar");
    std::fs::write(&fake, b"not a jar").unwrap();
    let e = meteor(&fake, &cands, &refs).unwrap_err();
    assert!(matches!(e, recap::Error::ToolUnavailable { .. }), "{e}");
}

#[test]
fn meteor_matches_pycocoevalcap() {
    let Ok(jar) = find_jar(None) else {
        assert!(
            std::env::var("RECAP_REQUIRE_METEOR").map_or(true, |v| v != "1"),
            "RECAP_REQUIRE_METEOR=1 but no METEOR jar was found"
        );
        recap::testing::skip(&format!(
            "METEOR parity: METEOR jar not found (set {METEOR_JAR_ENV}=$(scripts/fetch_meteor.sh))"
        ));
        return;
    };
    let g = golden("ngram.json");
    // One jar run over the items of every set (per-item scores do not depend on the other
    // items), then one per set whose corpus value is checked (each run loads the paraphrase
    // table: ~6 s).
    let (mut cands, mut refs, mut want) = (Vec::new(), Vec::new(), Vec::new());
    for (_, set) in g["sets"].as_object().unwrap() {
        let (c, r, w) = items(set);
        cands.extend(c);
        refs.extend(r);
        want.extend(w);
    }
    let s = meteor(&jar, &cands, &refs).unwrap();
    for (i, (got, want)) in s.per_item.iter().zip(&want).enumerate() {
        close(&format!("item {i}"), *got, *want);
    }
    let good = &g["sets"]["good_captions"];
    let (c, r, _) = items(good);
    let s = meteor(&jar, &c, &r).unwrap();
    close(
        "good_captions",
        s.corpus,
        good["corpus"]["METEOR"].as_f64().unwrap(),
    );
    assert!((s.corpus - 0.3444).abs() < 5e-5, "clipscore README value");
}

/// Equal to the jar's printed precision (the jar's last digit can vary between runs).
fn close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1e-3),
        "{what}: {got} vs {want}"
    );
}

type Items = (Vec<String>, Vec<Vec<String>>, Vec<f64>);

fn items(set: &Value) -> Items {
    let ids = strings(&set["ids"]);
    let tok = &set["tokenized"];
    (
        ids.iter()
            .map(|k| tok[k]["cand"].as_str().unwrap().to_owned())
            .collect(),
        ids.iter().map(|k| strings(&tok[k]["refs"])).collect(),
        ids.iter()
            .map(|k| set["per_image"][k]["METEOR"].as_f64().unwrap())
            .collect(),
    )
}
