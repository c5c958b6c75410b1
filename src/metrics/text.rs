//! Small pieces of Python/numpy semantics the COCO scorers depend on.

/// Whitespace as Python's `str.isspace` defines it (what `str.split()` splits on).
pub fn is_python_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{1C}'..='\u{1F}')
}

/// Python's `s.split()`: runs of whitespace separate words; no empty words.
pub fn split_whitespace(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_python_space).filter(|w| !w.is_empty())
}

/// `np.mean` of a contiguous 1-D float64 array: numpy's pairwise summation, divided by `n`.
/// An empty slice gives NaN, as numpy does.
pub fn numpy_mean(x: &[f64]) -> f64 {
    pairwise_sum(x) / x.len() as f64
}

/// numpy's `pairwise_sum` for doubles (blocks of 128, eight accumulators).
pub fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &v in a {
            res += v;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}
