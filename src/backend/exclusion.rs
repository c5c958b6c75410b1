//! Per-query exclusion sets: datastore rows a query must never return.
//!
//! SmallCap's self-exclusion (skip the captions of the query image itself) is
//! [`Exclusion::from_grouping`]. The search applies the sets inside its tile loop (the
//! excluded lanes are masked before selection), so it never over-fetches: a query still gets
//! `k` results whenever `k` non-excluded rows exist.

use crate::error::{Error, Result};
use crate::io::Grouping;

/// For every query row, a sorted set of datastore rows to skip (CSR layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusion {
    offsets: Vec<usize>,
    rows: Vec<usize>,
}

impl Exclusion {
    /// Build from one list of datastore rows per query (any order, duplicates allowed).
    pub fn per_query(lists: Vec<Vec<usize>>) -> Self {
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        offsets.push(0);
        let mut rows = Vec::new();
        for mut list in lists {
            list.sort_unstable();
            list.dedup();
            rows.extend_from_slice(&list);
            offsets.push(rows.len());
        }
        Exclusion { offsets, rows }
    }

    /// Query row `i` is image row `i` of `grouping`; it skips every caption row of that
    /// image (SmallCap's "exclude the query image's own captions").
    pub fn from_grouping(grouping: &Grouping) -> Self {
        let lists = (0..grouping.n_images())
            .map(|i| grouping.captions_of(i).to_vec())
            .collect();
        Exclusion::per_query(lists)
    }

    /// Query `i` skips every datastore row whose image id equals `query_ids[i]`.
    /// `row_ids[r]` is the image id of datastore row `r`.
    pub fn same_id<T: Eq + std::hash::Hash>(query_ids: &[T], row_ids: &[T]) -> Self {
        let mut by_id: std::collections::HashMap<&T, Vec<usize>> = Default::default();
        for (r, id) in row_ids.iter().enumerate() {
            by_id.entry(id).or_default().push(r);
        }
        let lists = query_ids
            .iter()
            .map(|id| by_id.get(id).cloned().unwrap_or_default())
            .collect();
        Exclusion::per_query(lists)
    }

    /// Number of query rows covered.
    pub fn n_queries(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The excluded datastore rows of query `query`, ascending.
    pub fn rows_of(&self, query: usize) -> &[usize] {
        &self.rows[self.offsets[query]..self.offsets[query + 1]]
    }

    /// CSR offsets (`n_queries + 1` entries) into [`Self::indices`].
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// All excluded datastore rows, query after query.
    pub fn indices(&self) -> &[usize] {
        &self.rows
    }

    /// The sets of queries `start..end` as their own `Exclusion`.
    pub fn row_range(&self, start: usize, end: usize) -> Exclusion {
        let base = self.offsets[start];
        Exclusion {
            offsets: self.offsets[start..=end].iter().map(|o| o - base).collect(),
            rows: self.rows[base..self.offsets[end]].to_vec(),
        }
    }

    /// Check that this exclusion fits `n_queries` queries and a datastore of `n_rows` rows.
    pub fn check(&self, n_queries: usize, n_rows: usize) -> Result<()> {
        if self.n_queries() != n_queries {
            return Err(Error::shape(
                "exclusion sets vs queries",
                format!("{n_queries} query rows"),
                format!("{} sets", self.n_queries()),
            ));
        }
        if let Some(&r) = self.rows.iter().find(|&&r| r >= n_rows) {
            return Err(Error::IndexOutOfRange {
                what: "excluded datastore row".into(),
                index: r,
                len: n_rows,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_and_ids_agree() {
        let g = Grouping::from_counts(&[2, 3]);
        let a = Exclusion::from_grouping(&g);
        let b = Exclusion::same_id(&[0usize, 1], g.image_of_caption());
        assert_eq!(a, b);
        assert_eq!(a.rows_of(1), &[2, 3, 4]);
        assert!(a.check(2, 5).is_ok());
        assert!(a.check(2, 4).is_err());
        assert!(a.check(3, 5).is_err());
    }
}
