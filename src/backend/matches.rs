//! The result of a search, laid out like faiss's `(D, I)`.

use crate::matrix::RowMatrix;

/// The result of a search: `q x k'` indices and scores, best first, where
/// `k' = min(k, m)`.
///
/// Row `i` holds the matches of query `i` in rank order (higher score first, ties by lower
/// datastore row). When exclusion leaves a query fewer than `k'` candidates, its row ends
/// with padding: index `-1` and score `-inf` (faiss's convention); [`Matches::count`] gives
/// the number of real matches. Without exclusion there is never padding.
#[derive(Clone, Debug, PartialEq)]
pub struct Matches {
    /// Datastore row of every match (`-1` = padding), int64 like faiss.
    pub indices: RowMatrix<i64>,
    /// Score of every match (`-inf` for padding), never NaN.
    pub scores: RowMatrix<f32>,
}

impl Matches {
    /// Number of queries.
    pub fn n_queries(&self) -> usize {
        self.indices.rows()
    }

    /// Number of real (non-padding) matches of query `query`.
    pub fn count(&self, query: usize) -> usize {
        self.indices
            .row(query)
            .iter()
            .take_while(|&&i| i >= 0)
            .count()
    }

    /// The real matches of query `query`: `(datastore row, score)` best first.
    pub fn row(&self, query: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let n = self.count(query);
        self.indices.row(query)[..n]
            .iter()
            .zip(&self.scores.row(query)[..n])
            .map(|(&i, &s)| (i as usize, s))
    }
}

impl Matches {
    /// Merge the results of searching datastore shards into the result of searching them all:
    /// `parts` holds each shard's matches with the shard's first global row (`offset`), so a
    /// match `i` of a shard is global row `offset + i`. Exact: under the crate's order (higher
    /// score first, then lower global row) the top `k` of the union of every shard's top `k`
    /// is the global top `k`. The result has `min(k, Σ shard widths)` columns (= `min(k, m)`
    /// when each shard was searched with `k`), padded with `-1` / `-inf` where the shards
    /// together hold fewer real matches for a query.
    ///
    /// Errors: no parts, `k = 0`, parts with different numbers of queries.
    pub fn merge_shards(parts: &[(&Matches, usize)], k: usize) -> crate::Result<Matches> {
        use crate::error::Error;
        let Some((first, _)) = parts.first() else {
            return Err(Error::invalid("shards", "no shard results to merge"));
        };
        if k == 0 {
            return Err(Error::invalid("k", "k must be at least 1"));
        }
        let q = first.n_queries();
        if let Some((i, (m, _))) = parts
            .iter()
            .enumerate()
            .find(|(_, (m, _))| m.n_queries() != q)
        {
            return Err(Error::shape(
                format!("queries of shard result {i}"),
                format!("{q} rows"),
                format!("{} rows", m.n_queries()),
            ));
        }
        let width = k.min(parts.iter().map(|(m, _)| m.indices.cols()).sum());
        let mut indices = RowMatrix::from_vec(q, width, vec![-1i64; q * width])?;
        let mut scores = RowMatrix::from_vec(q, width, vec![f32::NEG_INFINITY; q * width])?;
        let mut pool: Vec<(f32, i64)> = Vec::new();
        for query in 0..q {
            pool.clear();
            for (m, offset) in parts {
                pool.extend(m.row(query).map(|(i, s)| (s, (offset + i) as i64)));
            }
            pool.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for (j, &(s, i)) in pool.iter().take(width).enumerate() {
                indices.row_mut(query)[j] = i;
                scores.row_mut(query)[j] = s;
            }
        }
        Ok(Matches { indices, scores })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(rows: &[&[(i64, f32)]]) -> Matches {
        let w = rows[0].len();
        let idx = rows.iter().flat_map(|r| r.iter().map(|p| p.0)).collect();
        let sc = rows.iter().flat_map(|r| r.iter().map(|p| p.1)).collect();
        Matches {
            indices: RowMatrix::from_vec(rows.len(), w, idx).unwrap(),
            scores: RowMatrix::from_vec(rows.len(), w, sc).unwrap(),
        }
    }

    #[test]
    fn merge_shards_orders_by_score_then_global_row_and_pads() {
        // Shard A holds global rows 0..3, shard B rows 3..5; a tie at 0.5 goes to the lower row.
        let a = matches(&[&[(2, 0.9), (0, 0.5)], &[(1, 0.3), (-1, f32::NEG_INFINITY)]]);
        let b = matches(&[
            &[(1, 0.5), (0, 0.1)],
            &[(-1, f32::NEG_INFINITY), (-1, f32::NEG_INFINITY)],
        ]);
        let m = Matches::merge_shards(&[(&a, 0), (&b, 3)], 3).unwrap();
        assert_eq!(m.indices.row(0), &[2, 0, 4]);
        assert_eq!(m.scores.row(0), &[0.9, 0.5, 0.5]);
        assert_eq!(m.indices.row(1), &[1, -1, -1]);
        assert_eq!(m.count(1), 1);
        let wide = Matches::merge_shards(&[(&a, 0), (&b, 3)], 10).unwrap();
        assert_eq!(wide.indices.cols(), 4);
        assert!(Matches::merge_shards(&[], 3).is_err());
        assert!(Matches::merge_shards(&[(&a, 0)], 0).is_err());
    }
}
