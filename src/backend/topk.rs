//! Per-row top-k selection under the crate's total order, the same on every backend.
//!
//! Candidates are `(score, index)` pairs. `a` ranks before `b` when `a.score > b.score`, or
//! the scores are equal and `a.index < b.index`. This is a strict total order on distinct
//! indices, so the k best of a set are unique: merging partial results in any order, from
//! any split of the datastore, gives the same answer. NaN scores are never kept.

/// `(score, index)` ranks strictly before `(other_score, other_index)`.
#[inline]
pub fn ranks_before(score: f32, index: usize, other_score: f32, other_index: usize) -> bool {
    score > other_score || (score == other_score && index < other_index)
}

/// Total order on `(score, index)` candidates (no NaN): best first.
#[cfg(any(feature = "cuda", feature = "cuda-13"))]
#[inline]
pub(crate) fn rank_cmp(a: &(f32, usize), b: &(f32, usize)) -> std::cmp::Ordering {
    b.0.partial_cmp(&a.0)
        .unwrap_or(std::cmp::Ordering::Equal)
        .then(a.1.cmp(&b.1))
}

/// The k best candidates of each of `rows` rows, each row kept sorted best first.
#[derive(Clone, Debug)]
pub(crate) struct TopK {
    k: usize,
    len: Vec<usize>,
    /// `threshold(row)` for every row, kept up to date by `push`.
    thresholds: Vec<f32>,
    scores: Vec<f32>,
    indices: Vec<usize>,
}

impl TopK {
    /// Empty selections for `rows` rows of capacity `k`.
    pub fn new(rows: usize, k: usize) -> Self {
        TopK {
            k,
            len: vec![0; rows],
            thresholds: vec![f32::NEG_INFINITY; rows],
            scores: vec![f32::NEG_INFINITY; rows * k],
            indices: vec![usize::MAX; rows * k],
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.len.len()
    }

    /// The score a new candidate must reach (`>=`) to possibly enter row `row`:
    /// `-inf` while the row is not full, else the current k-th best score.
    #[cfg(test)]
    #[inline]
    pub fn threshold(&self, row: usize) -> f32 {
        self.thresholds[row]
    }

    /// [`TopK::threshold`] of every row.
    pub fn thresholds(&self) -> &[f32] {
        &self.thresholds
    }

    /// Offer a candidate to row `row`; it is kept if it ranks among the k best so far.
    /// NaN scores are ignored.
    #[inline]
    pub fn push(&mut self, row: usize, score: f32, index: usize) {
        if score.is_nan() || self.k == 0 {
            return;
        }
        let k = self.k;
        let len = self.len[row];
        let s = &mut self.scores[row * k..(row + 1) * k];
        let ix = &mut self.indices[row * k..(row + 1) * k];
        if len == k && !ranks_before(score, index, s[k - 1], ix[k - 1]) {
            return;
        }
        // Insertion point: after every entry that ranks before the candidate.
        let end = len.min(k - 1);
        let mut pos = end;
        while pos > 0 && ranks_before(score, index, s[pos - 1], ix[pos - 1]) {
            s[pos] = s[pos - 1];
            ix[pos] = ix[pos - 1];
            pos -= 1;
        }
        s[pos] = score;
        ix[pos] = index;
        if len < k {
            self.len[row] = len + 1;
        }
        if self.len[row] == k {
            self.thresholds[row] = s[k - 1];
        }
    }

    /// Offer every kept candidate of `other` (same shape) to `self`.
    pub fn merge(&mut self, other: &TopK) {
        debug_assert_eq!((self.rows(), self.k), (other.rows(), other.k));
        for row in 0..other.rows() {
            let (s, ix) = other.row(row);
            for (&score, &index) in s.iter().zip(ix) {
                self.push(row, score, index);
            }
        }
    }

    /// The kept candidates of row `row`, best first: `(scores, indices)`.
    pub fn row(&self, row: usize) -> (&[f32], &[usize]) {
        let a = row * self.k;
        let b = a + self.len[row];
        (&self.scores[a..b], &self.indices[a..b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_best_with_lower_index_on_ties() {
        let mut t = TopK::new(1, 3);
        for (i, s) in [0.5f32, 0.9, 0.5, f32::NAN, 0.9, 0.1, 0.5]
            .iter()
            .enumerate()
        {
            t.push(0, *s, i);
        }
        assert_eq!(t.row(0), (&[0.9f32, 0.9, 0.5][..], &[1usize, 4, 0][..]));
        assert_eq!(t.threshold(0), 0.5);
    }

    #[test]
    fn merge_is_order_independent() {
        let data = [(0.3f32, 7usize), (0.3, 2), (0.8, 9), (0.1, 1), (0.3, 5)];
        let mut a = TopK::new(1, 2);
        let mut b = TopK::new(1, 2);
        for (i, &(s, ix)) in data.iter().enumerate() {
            if i % 2 == 0 {
                a.push(0, s, ix)
            } else {
                b.push(0, s, ix)
            }
        }
        let mut ab = a.clone();
        ab.merge(&b);
        b.merge(&a);
        assert_eq!(ab.row(0), b.row(0));
        assert_eq!(ab.row(0).1, &[9, 2]);
    }
}
