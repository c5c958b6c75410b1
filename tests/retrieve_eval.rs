//! Recall@K and median rank vs a brute-force ranking (exact arithmetic, tie-heavy data).

use proptest::prelude::*;
use recap::io::Grouping;
use recap::retrieve::eval::{evaluate, summarize};
use recap::RowMatrix;

/// Rows with exactly four nonzero entries of ±1: unit norm after scaling by 1/2 (exact),
/// so every cosine is an exact multiple of 1/4 and ties are everywhere.
fn sparse_signs(rows: usize, d: usize, seed: u64) -> RowMatrix<f32> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut data = vec![0f32; rows * d];
    for r in 0..rows {
        let mut placed = 0;
        while placed < 4 {
            let c = (next() % d as u64) as usize;
            if data[r * d + c] == 0.0 {
                data[r * d + c] = if next() % 2 == 0 { 1.0 } else { -1.0 };
                placed += 1;
            }
        }
    }
    RowMatrix::from_vec(rows, d, data).unwrap()
}

/// 1-based rank of the best hit under (score desc, index asc), by full sort in f64.
fn brute_ranks(
    q: &RowMatrix<f32>,
    x: &RowMatrix<f32>,
    hits: &dyn Fn(usize) -> Vec<usize>,
) -> Vec<Option<usize>> {
    (0..q.rows())
        .map(|i| {
            let mut order: Vec<(usize, f64)> = (0..x.rows())
                .map(|r| {
                    (
                        r,
                        q.row(i)
                            .iter()
                            .zip(x.row(r))
                            .map(|(&a, &b)| a as f64 * b as f64)
                            .sum(),
                    )
                })
                .collect();
            order.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
            let h = hits(i);
            order.iter().position(|(r, _)| h.contains(r)).map(|p| p + 1)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn recall_and_median_rank_match_brute_force(
        counts in proptest::collection::vec(0usize..4, 1..40), d in 6usize..20, seed in any::<u64>(),
    ) {
        let g = Grouping::from_counts(&counts);
        prop_assume!(g.n_captions() > 0);
        let images = sparse_signs(g.n_images(), d, seed);
        let texts = sparse_signs(g.n_captions(), d, seed.wrapping_add(9));
        let report = evaluate(&images, &texts, &g).unwrap();
        let i2t = brute_ranks(&images, &texts, &|i| g.captions_of(i).to_vec());
        let t2i = brute_ranks(&texts, &images, &|c| vec![g.image_of(c)]);
        prop_assert_eq!(report.image_to_text, summarize(&i2t));
        prop_assert_eq!(report.text_to_image, summarize(&t2i));
    }
}

#[test]
fn summary_statistics() {
    let s = summarize(&[Some(1), Some(3), None, Some(12), Some(6)]);
    assert_eq!(s.queries, 4);
    assert_eq!(s.skipped, 1);
    assert_eq!(s.recall, vec![(1, 0.25), (5, 0.5), (10, 0.75)]);
    assert_eq!(s.median_rank, 4.5);
    assert_eq!(s.mean_rank, 5.5);
}

#[test]
fn perfect_alignment_has_recall_one() {
    let images = sparse_signs(30, 64, 5);
    // Captions identical to their image: the image's own captions tie at score 1 and rank
    // first (unless another row is identical too, which these random rows are not).
    let mut texts = RowMatrix::zeros(60, 64);
    for c in 0..60 {
        texts.row_mut(c).copy_from_slice(images.row(c / 2));
    }
    let g = Grouping::from_counts(&[2; 30]);
    let r = evaluate(&images, &texts, &g).unwrap();
    assert_eq!(r.image_to_text.recall[0], (1, 1.0));
    assert_eq!(r.image_to_text.median_rank, 1.0);
}
