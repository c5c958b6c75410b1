//! Against faiss IndexFlatIP golden results (tests/data/retrieve/make_faiss_golden.py).

use recap::retrieve::{Datastore, Storage};
use recap::RowMatrix;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/retrieve");

fn load<T: npyz::Deserialize>(name: &str) -> (Vec<u64>, Vec<T>) {
    let bytes = std::fs::read(format!("{DIR}/{name}")).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec().unwrap())
}

fn matrix(name: &str) -> RowMatrix<f32> {
    let (shape, data) = load::<f32>(name);
    RowMatrix::from_vec(shape[0] as usize, shape[1] as usize, data).unwrap()
}

#[test]
fn same_top_k_as_faiss_flat_ip() {
    let ds = Datastore::cosine(matrix("datastore.npy"), Storage::F32).unwrap();
    let queries = matrix("queries.npy");
    let (shape, want_idx) = load::<i64>("faiss_k10_indices.npy");
    let (_, want_scores) = load::<f32>("faiss_k10_scores.npy");
    let (q, k) = (shape[0] as usize, shape[1] as usize);
    let got = ds.search(&queries, k).unwrap();
    assert_eq!(got.indices.shape(), (q, k));
    // float32 scores of unit vectors in d = 64: both sides are within ~1e-6 of exact.
    let tol = 1e-5f32;
    for i in 0..q {
        let w_idx = &want_idx[i * k..(i + 1) * k];
        let w_s = &want_scores[i * k..(i + 1) * k];
        let (g_idx, g_s) = (got.indices.row(i), got.scores.row(i));
        // Same set (the golden data have a 3e-5 gap at the k boundary, far above rounding).
        let mut a = w_idx.to_vec();
        let mut b = g_idx.to_vec();
        a.sort();
        b.sort();
        assert_eq!(a, b, "query {i}: different top-k sets");
        for c in 0..k {
            assert!(
                (g_s[c] - w_s[c]).abs() <= tol,
                "query {i} rank {c}: {} vs {}",
                g_s[c],
                w_s[c]
            );
            // Same order, except where faiss's own scores are within rounding of each other.
            if g_idx[c] != w_idx[c] {
                let j = w_idx.iter().position(|&x| x == g_idx[c]).unwrap();
                assert!(
                    (w_s[j] - w_s[c]).abs() <= tol,
                    "query {i}: order differs at rank {c}"
                );
            }
        }
    }
}
