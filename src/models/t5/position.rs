//! T5's relative position buckets (`T5Attention._relative_position_bucket`).
//!
//! With `r = key_position − query_position`: bidirectional (encoder) attention splits the
//! buckets in two halves, `r > 0` in the upper one, and buckets `|r|`; unidirectional
//! (decoder) attention buckets `max(−r, 0)` (future keys fall in bucket 0; they are masked
//! anyway). Within a half of `n` buckets, distances below `n/2` are exact, larger ones are
//! logarithmic: `n/2 + ⌊ln(d/(n/2)) / ln(max_distance/(n/2)) · (n − n/2)⌋`, capped at `n − 1`,
//! evaluated in `f32` like PyTorch does.

/// The bucket of relative position `relative = key − query`.
pub fn relative_position_bucket(
    relative: i64,
    bidirectional: bool,
    num_buckets: usize,
    max_distance: usize,
) -> usize {
    let mut buckets = num_buckets;
    let mut offset = 0usize;
    let distance = if bidirectional {
        buckets /= 2;
        if relative > 0 {
            offset = buckets;
        }
        relative.unsigned_abs()
    } else {
        (-relative.min(0)) as u64
    };
    let max_exact = buckets / 2;
    if (distance as usize) < max_exact {
        return offset + distance as usize;
    }
    let ratio = (distance as f32 / max_exact as f32).ln();
    let scale = (max_distance as f64 / max_exact as f64).ln() as f32;
    let large = max_exact + (ratio / scale * (buckets - max_exact) as f32) as usize;
    offset + large.min(buckets - 1)
}

/// Bucket ids, row-major `(queries, keys)`, for queries at positions `first_query..` and keys
/// at `0..keys`.
pub fn bucket_grid(
    first_query: usize,
    queries: usize,
    keys: usize,
    bidirectional: bool,
    num_buckets: usize,
    max_distance: usize,
) -> Vec<u32> {
    let mut out = Vec::with_capacity(queries * keys);
    for q in 0..queries {
        for k in 0..keys {
            let rel = k as i64 - (first_query + q) as i64;
            out.push(
                relative_position_bucket(rel, bidirectional, num_buckets, max_distance) as u32,
            );
        }
    }
    out
}
