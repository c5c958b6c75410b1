//! SmallCap's retrieved-captions file: `{"<query image id>": [caption, ...]}`, each list in
//! rank order (what SmallCap's `retrieve_caps.py` writes and its training and inference read).

use std::collections::BTreeMap;
use std::path::Path;

use crate::backend::Matches;
use crate::error::{Error, Result};
use crate::io::atomic::write_json_atomic;
use crate::io::captions::CaptionRecord;

/// The retrieved captions per query id: query `i` (id `query_ids[i]`) maps to the texts of its
/// matches, best first (padding left out). `records[r]` is the caption of datastore row `r`.
/// A duplicated query id, a row without a record or a count mismatch is an error.
pub fn retrieved_captions(
    matches: &Matches,
    records: &[CaptionRecord],
    query_ids: &[String],
) -> Result<BTreeMap<String, Vec<String>>> {
    if query_ids.len() != matches.n_queries() {
        return Err(Error::shape(
            "query ids vs queries",
            format!("{} ids", matches.n_queries()),
            format!("{} ids", query_ids.len()),
        ));
    }
    let mut out = BTreeMap::new();
    for (i, id) in query_ids.iter().enumerate() {
        let caps = matches
            .row(i)
            .map(|(r, _)| {
                records
                    .get(r)
                    .map(|c| c.text.clone())
                    .ok_or(Error::IndexOutOfRange {
                        what: "caption record of a datastore row".into(),
                        index: r,
                        len: records.len(),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        if out.insert(id.clone(), caps).is_some() {
            return Err(Error::invalid(
                "query ids",
                format!("duplicate query id {id:?}"),
            ));
        }
    }
    Ok(out)
}

/// Write [`retrieved_captions`] as SmallCap's JSON (atomically).
pub fn write_retrieved_captions(
    path: impl AsRef<Path>,
    matches: &Matches,
    records: &[CaptionRecord],
    query_ids: &[String],
) -> Result<()> {
    write_json_atomic(path, &retrieved_captions(matches, records, query_ids)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::RowMatrix;

    #[test]
    fn rank_order_padding_and_duplicates() {
        let m = Matches {
            indices: RowMatrix::from_vec(2, 2, vec![1i64, 0, 2, -1]).unwrap(),
            scores: RowMatrix::from_vec(2, 2, vec![0.9f32, 0.5, 0.7, f32::NEG_INFINITY]).unwrap(),
        };
        let rec = |t: &str| CaptionRecord {
            id: t.into(),
            image_id: "i".into(),
            text: t.into(),
        };
        let records = vec![rec("a"), rec("b"), rec("c")];
        let ids = vec!["q1".to_string(), "q2".to_string()];
        let got = retrieved_captions(&m, &records, &ids).unwrap();
        assert_eq!(got["q1"], vec!["b", "a"]);
        assert_eq!(got["q2"], vec!["c"], "padding is left out");
        assert!(retrieved_captions(&m, &records, &["x".into(), "x".into()]).is_err());
        assert!(retrieved_captions(&m, &records[..1], &ids).is_err());
    }
}
