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
