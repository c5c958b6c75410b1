//! Caption files.
//!
//! Formats read here:
//! - clipscore candidates `{"<id>": "caption"}` and references `{"<id>": ["ref", ...]}`;
//! - COCO results `[{"image_id": 1, "caption": "..."}]` (read as candidates);
//! - COCO captions annotations `{"annotations": [{"image_id": 1, "caption": "..."}], ...}`
//!   (read as references, grouped by image id).
//!
//! - Karpathy split files `dataset_coco.json` / `dataset_flickr30k.json` ([`karpathy`]);
//! - plain text, one caption per line ([`text`]);
//! - the **sidecar** [`CaptionSet`] (`captions.json`) that ties the rows of an image-embedding
//!   file and a text-embedding file to image ids and caption ids ([`sidecar`]); it can also be
//!   built from a Karpathy file, a COCO annotation file, or `images.txt` + `captions.tsv`.
//!
//! Ids are kept as strings (COCO's integer ids are written in decimal). Maps are ordered
//! ([`BTreeMap`]) so every report has a deterministic order.

pub mod karpathy;
pub mod sidecar;
pub mod text;

pub use karpathy::{read_karpathy, KarpathyDataset, KarpathyImage, KarpathySentence, Split};
pub use sidecar::{CaptionRecord, CaptionSet};
pub use text::{read_lines, write_lines};

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// Candidate captions: one per id.
pub type Candidates = BTreeMap<String, String>;
/// Reference captions: several per id.
pub type References = BTreeMap<String, Vec<String>>;

/// Read a JSON file into a [`serde_json::Value`], with the path in every error.
pub fn read_json(path: impl AsRef<Path>) -> Result<Value> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::format(path, format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    serde_json::from_str(text).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        source: e,
    })
}

/// An id as a string: JSON strings as they are, integers in decimal.
pub(crate) fn id_string(v: &Value, path: &Path, ctx: &str) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        other => Err(Error::format(
            path,
            format!("{ctx}: id must be a string or an integer, got {other}"),
        )),
    }
}

pub(crate) fn caption_string(v: &Value, path: &Path, ctx: &str) -> Result<String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::format(path, format!("{ctx}: caption must be a string, got {v}")))
}

/// Read candidates: clipscore `{"id": "caption"}` or COCO results
/// `[{"image_id": .., "caption": ..}]`. A duplicated id in COCO results is an error.
pub fn read_candidates(path: impl AsRef<Path>) -> Result<Candidates> {
    let path = path.as_ref();
    candidates_from_value(&read_json(path)?, path)
}

/// Parse candidates from an already-read JSON value (see [`read_candidates`]).
pub fn candidates_from_value(v: &Value, path: &Path) -> Result<Candidates> {
    let mut out = Candidates::new();
    match v {
        Value::Object(map) => {
            for (id, cap) in map {
                out.insert(
                    id.clone(),
                    caption_string(cap, path, &format!("candidate {id}"))?,
                );
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let ctx = format!("result {i}");
                let id = item
                    .get("image_id")
                    .ok_or_else(|| Error::format(path, format!("{ctx}: missing \"image_id\"")))?;
                let id = id_string(id, path, &ctx)?;
                let cap = item
                    .get("caption")
                    .ok_or_else(|| Error::format(path, format!("{ctx}: missing \"caption\"")))?;
                let cap = caption_string(cap, path, &ctx)?;
                if out.insert(id.clone(), cap).is_some() {
                    return Err(Error::format(
                        path,
                        format!("{ctx}: image_id {id} has more than one result caption"),
                    ));
                }
            }
        }
        _ => {
            return Err(Error::format(
                path,
                "expected {\"id\": \"caption\"} or [{\"image_id\", \"caption\"}]",
            ))
        }
    }
    Ok(out)
}

/// Read references: clipscore `{"id": ["ref", ...]}` or a COCO captions annotation file
/// (`{"annotations": [{"image_id", "caption"}]}`), grouped by image id in file order.
pub fn read_references(path: impl AsRef<Path>) -> Result<References> {
    let path = path.as_ref();
    references_from_value(&read_json(path)?, path)
}

/// Parse references from an already-read JSON value (see [`read_references`]).
pub fn references_from_value(v: &Value, path: &Path) -> Result<References> {
    let mut out = References::new();
    let Value::Object(map) = v else {
        return Err(Error::format(
            path,
            "expected {\"id\": [\"ref\", ...]} or a COCO annotation file",
        ));
    };
    if let Some(Value::Array(anns)) = map.get("annotations") {
        for (i, ann) in anns.iter().enumerate() {
            let ctx = format!("annotation {i}");
            let id = ann
                .get("image_id")
                .ok_or_else(|| Error::format(path, format!("{ctx}: missing \"image_id\"")))?;
            let cap = ann
                .get("caption")
                .ok_or_else(|| Error::format(path, format!("{ctx}: missing \"caption\"")))?;
            out.entry(id_string(id, path, &ctx)?)
                .or_default()
                .push(caption_string(cap, path, &ctx)?);
        }
        return Ok(out);
    }
    for (id, refs) in map {
        let ctx = format!("references of {id}");
        let list = match refs {
            Value::Array(items) => items
                .iter()
                .map(|r| caption_string(r, path, &ctx))
                .collect::<Result<Vec<_>>>()?,
            Value::String(s) => vec![s.clone()],
            other => {
                return Err(Error::format(
                    path,
                    format!("{ctx}: expected a list of captions, got {other}"),
                ))
            }
        };
        out.insert(id.clone(), list);
    }
    Ok(out)
}

/// One caption record per embedding row, in row order, from any caption file recap reads:
/// a plain array `[{"image_id", "caption" | "text", "id"?}, ...]` or COCO annotations without
/// an image list (`{"annotations": [...]}`; ids default to the row number), or — through
/// [`CaptionSet::read_auto`] — the crate's sidecar, a COCO annotations file with `images`,
/// or a Karpathy file.
pub fn read_records(path: impl AsRef<Path>) -> Result<Vec<CaptionRecord>> {
    let path = path.as_ref();
    let value = read_json(path)?;
    let list = match &value {
        Value::Array(a) => a,
        Value::Object(o) if o.get("images").is_none() && o.get("captions").is_none() => {
            match o.get("annotations") {
                Some(Value::Array(a)) => a,
                _ => {
                    return Err(Error::format(
                        path,
                        "expected an array of caption records, {\"annotations\": [...]}, a \
                         caption sidecar or a Karpathy file",
                    ))
                }
            }
        }
        Value::Object(_) => return Ok(CaptionSet::read_auto(path)?.captions().to_vec()),
        _ => return Err(Error::format(path, "expected an array of caption records")),
    };
    list.iter()
        .enumerate()
        .map(|(i, v)| record_from_value(v, i, path))
        .collect()
}

fn record_from_value(v: &Value, row: usize, path: &Path) -> Result<CaptionRecord> {
    let ctx = format!("entry {row}");
    let field = |name: &str| v.get(name);
    let image_id = field("image_id")
        .ok_or_else(|| Error::format(path, format!("{ctx}: no \"image_id\"")))
        .and_then(|id| id_string(id, path, &ctx))?;
    let text = field("caption")
        .or_else(|| field("text"))
        .ok_or_else(|| Error::format(path, format!("{ctx}: no \"caption\" (or \"text\")")))
        .and_then(|t| caption_string(t, path, &ctx))?;
    let id = match field("id") {
        Some(id) => id_string(id, path, &ctx)?,
        None => row.to_string(),
    };
    Ok(CaptionRecord { id, image_id, text })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coco_results_and_clipscore_candidates() {
        let p = Path::new("x.json");
        let a = candidates_from_value(&json!({"a": "one", "b": "two"}), p).unwrap();
        assert_eq!(a["b"], "two");
        let b = candidates_from_value(&json!([{"image_id": 7, "caption": "c"}]), p).unwrap();
        assert_eq!(b["7"], "c");
        assert!(candidates_from_value(
            &json!([{"image_id": 7, "caption": "c"}, {"image_id": 7, "caption": "d"}]),
            p
        )
        .is_err());
    }

    #[test]
    fn coco_annotations_group_by_image() {
        let p = Path::new("x.json");
        let v = json!({"images": [], "annotations": [
            {"image_id": 1, "id": 10, "caption": "a"},
            {"image_id": 2, "id": 11, "caption": "b"},
            {"image_id": 1, "id": 12, "caption": "c"}]});
        let r = references_from_value(&v, p).unwrap();
        assert_eq!(r["1"], vec!["a", "c"]);
        assert_eq!(r["2"], vec!["b"]);
    }
}
