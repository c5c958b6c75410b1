//! jmhessel/clipscore's Flickr8k human-judgment protocol (`flickr8k_example`).
//!
//! Input: the JSON written by its `download.py` (`flickr8k.json` for Flickr8k-Expert,
//! `crowdflower_flickr8k.json` for Flickr8k-CrowdFlower):
//! `{key: {"image_path", "ground_truth": [refs], "human_judgement": [{"caption", "rating"}]}}`.
//! `download.py` already applied the dataset rules (Expert: candidates found among the
//! references skipped, three expert ratings as three judgments; CrowdFlower: the candidate
//! removed from its references, rating = yes-fraction). `compute_metrics.py` then:
//! whitespace-normalizes captions (`' '.join(s.split())`), drops NaN ratings, scores every
//! (candidate, rating) judgment as one item of a single evaluated set (so CIDEr's document
//! frequencies count each item's references), and reports
//! `100 · kendalltau(metric, human, variant)` with τ-c for Expert and τ-b for CrowdFlower.
//!
//! Item order here: keys in sorted (string) order, judgments in file order within a key.
//! Embedding files for the CLIP-based metrics follow the same order (see `recap correlate`).

use std::path::Path;

use serde_json::Value;

use super::text::split_whitespace;
use crate::error::{Error, Result};

/// One scored judgment.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgment {
    /// The image key in the file.
    pub key: String,
    /// The candidate caption (whitespace-normalized).
    pub candidate: String,
    /// The image's references (whitespace-normalized).
    pub references: Vec<String>,
    /// The human rating.
    pub rating: f64,
}

/// The judgments of a file, plus how many NaN ratings were dropped and the image keys.
#[derive(Debug, Clone, PartialEq)]
pub struct HumanJudgments {
    /// Scored items, in protocol order.
    pub items: Vec<Judgment>,
    /// Image keys in order (one image embedding row each).
    pub keys: Vec<String>,
    /// Number of references of each key (same order as `keys`).
    pub ref_counts: Vec<usize>,
    /// Number of NaN ratings dropped.
    pub dropped_nan: usize,
}

fn normalize_ws(s: &str) -> String {
    split_whitespace(s).collect::<Vec<_>>().join(" ")
}

fn field<'a>(v: &'a Value, name: &str, path: &Path, key: &str) -> Result<&'a Value> {
    v.get(name)
        .ok_or_else(|| Error::format(path, format!("entry {key:?}: missing {name:?}")))
}

/// Parse a Flickr8k-Expert / CrowdFlower JSON file (NaN ratings, written by Python's json as
/// `NaN`, are accepted and dropped).
pub fn read_judgments(path: impl AsRef<Path>) -> Result<HumanJudgments> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::format(path, format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    // Python's json writes NaN bare; serde_json does not read it: map to null first.
    let text = replace_bare_nan(text);
    let v: Value = serde_json::from_str(&text).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        source: e,
    })?;
    parse_judgments(&v, path)
}

/// Replace bare `NaN` tokens outside JSON strings by `null`.
fn replace_bare_nan(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_str, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if !in_str && rest.starts_with("NaN") {
            out.push_str("null");
            rest = &rest[3..];
            continue;
        }
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Parse judgments from an already-read JSON value (see [`read_judgments`]).
pub fn parse_judgments(v: &Value, path: &Path) -> Result<HumanJudgments> {
    let map = v
        .as_object()
        .ok_or_else(|| Error::format(path, "expected {key: {ground_truth, human_judgement}}"))?;
    let mut out = HumanJudgments {
        items: Vec::new(),
        keys: Vec::new(),
        ref_counts: Vec::new(),
        dropped_nan: 0,
    };
    for (key, entry) in map {
        let refs = field(entry, "ground_truth", path, key)?
            .as_array()
            .ok_or_else(|| {
                Error::format(path, format!("entry {key:?}: ground_truth must be a list"))
            })?
            .iter()
            .map(|r| {
                r.as_str().map(normalize_ws).ok_or_else(|| {
                    Error::format(path, format!("entry {key:?}: a reference is not a string"))
                })
            })
            .collect::<Result<Vec<String>>>()?;
        if refs.is_empty() {
            return Err(Error::format(path, format!("entry {key:?}: no references")));
        }
        let judgments = field(entry, "human_judgement", path, key)?
            .as_array()
            .ok_or_else(|| {
                Error::format(
                    path,
                    format!("entry {key:?}: human_judgement must be a list"),
                )
            })?;
        out.keys.push(key.clone());
        out.ref_counts.push(refs.len());
        for j in judgments {
            let cap = field(j, "caption", path, key)?.as_str().ok_or_else(|| {
                Error::format(path, format!("entry {key:?}: caption must be a string"))
            })?;
            let rating = match field(j, "rating", path, key)? {
                Value::Null => f64::NAN,
                r => r.as_f64().ok_or_else(|| {
                    Error::format(path, format!("entry {key:?}: rating must be a number"))
                })?,
            };
            if rating.is_nan() {
                out.dropped_nan += 1;
                continue;
            }
            out.items.push(Judgment {
                key: key.clone(),
                candidate: normalize_ws(cap),
                references: refs.clone(),
                rating,
            });
        }
    }
    Ok(out)
}
