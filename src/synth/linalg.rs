//! Small dense kernels with a fixed summation order, so results are bit-identical whatever
//! the number of threads (rows are independent; each sum runs in index order).

use rayon::prelude::*;

use super::rng::Rng;

/// `out = a @ m` for `rows` rows: `a` is `rows x k`, `m` is `k x n` (both row-major).
/// Every output element is `Σ_j a[r, j] m[j, c]` summed in ascending `j`, in f32.
pub fn matmul_rows(a: &[f32], m: &[f32], k: usize, n: usize, out: &mut [f32]) {
    debug_assert_eq!(a.len() % k.max(1), 0);
    debug_assert_eq!(m.len(), k * n);
    out.fill(0.0);
    const BLOCK: usize = 4;
    for (a_block, out_block) in a.chunks(BLOCK * k).zip(out.chunks_mut(BLOCK * n)) {
        let rows = a_block.len() / k;
        for (j, m_row) in m.chunks_exact(n).enumerate() {
            for r in 0..rows {
                let coef = a_block[r * k + j];
                let acc = &mut out_block[r * n..(r + 1) * n];
                for (o, &w) in acc.iter_mut().zip(m_row) {
                    *o += coef * w;
                }
            }
        }
    }
}

/// Dot product in f64 (ascending index order).
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// Euclidean norm in f64.
pub fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

/// Scale `a` to unit norm; returns the norm it had.
pub fn normalize(a: &mut [f32]) -> f64 {
    let n = norm(a);
    let inv = 1.0 / n;
    for v in a.iter_mut() {
        *v = (*v as f64 * inv) as f32;
    }
    n
}

/// A random `d x d` orthogonal matrix (row-major f32): the `Q` factor of the Householder QR
/// of a Gaussian matrix whose column `j` comes from stream `(seed, domain, j)`, with the
/// sign convention `R_jj > 0` (so `Q` is Haar-distributed). Computed in f64.
pub fn random_rotation(seed: u64, domain: u64, d: usize) -> Vec<f32> {
    // Column-major working matrix: column j is cols[j*d..(j+1)*d].
    let mut cols = vec![0f64; d * d];
    cols.par_chunks_mut(d).enumerate().for_each(|(j, col)| {
        let mut rng = Rng::stream(seed, domain, j as u64);
        col.iter_mut().for_each(|v| *v = rng.normal());
    });
    let mut reflectors: Vec<Vec<f64>> = Vec::with_capacity(d);
    let mut signs = vec![1f64; d];
    for k in 0..d {
        let x = &cols[k * d + k..(k + 1) * d];
        let alpha = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let mut v = x.to_vec();
        // H x = -sign(x0) |x| e0; R_kk = -sign(x0) |x|.
        let s = if x[0] >= 0.0 { 1.0 } else { -1.0 };
        v[0] += s * alpha;
        let vn = v.iter().map(|t| t * t).sum::<f64>().sqrt();
        if vn > 0.0 {
            v.iter_mut().for_each(|t| *t /= vn);
        }
        signs[k] = -s;
        cols[(k + 1) * d..]
            .par_chunks_mut(d)
            .for_each(|col| reflect(&v, &mut col[k..]));
        reflectors.push(v);
    }
    // Q = H_0 H_1 ... H_{d-1} diag(signs): apply the reflectors to the identity, last first.
    let mut q = vec![0f64; d * d];
    q.par_chunks_mut(d).enumerate().for_each(|(j, col)| {
        col[j] = signs[j];
        for (k, v) in reflectors.iter().enumerate().rev() {
            reflect(v, &mut col[k..]);
        }
    });
    // q is column-major Q; return row-major Q.
    let mut out = vec![0f32; d * d];
    for (j, col) in q.chunks_exact(d).enumerate() {
        for (i, &val) in col.iter().enumerate() {
            out[i * d + j] = val as f32;
        }
    }
    out
}

/// `x -= 2 v (vᵀ x)` for a unit vector `v`.
fn reflect(v: &[f64], x: &mut [f64]) {
    let proj = 2.0 * v.iter().zip(x.iter()).map(|(a, b)| a * b).sum::<f64>();
    x.iter_mut().zip(v).for_each(|(t, a)| *t -= proj * a);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_matches_naive() {
        let (r, k, n) = (7, 5, 3);
        let a: Vec<f32> = (0..r * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let m: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut out = vec![0f32; r * n];
        matmul_rows(&a, &m, k, n, &mut out);
        for i in 0..r {
            for c in 0..n {
                let want: f64 = (0..k)
                    .map(|j| a[i * k + j] as f64 * m[j * n + c] as f64)
                    .sum();
                assert!((out[i * n + c] as f64 - want).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn rotation_is_orthogonal() {
        let d = 24;
        let q = random_rotation(3, 9, d);
        for i in 0..d {
            for j in 0..d {
                let g = dot(&q[i * d..(i + 1) * d], &q[j * d..(j + 1) * d]);
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((g - want).abs() < 1e-5, "({i},{j}) {g}");
            }
        }
        assert_eq!(q, random_rotation(3, 9, d));
        assert_ne!(q, random_rotation(4, 9, d));
    }
}
