//! Small dense kernels with a fixed summation order, so results are bit-identical whatever
//! the number of threads (rows are independent; each sum runs in index order).

use rayon::prelude::*;

use super::rng::Rng;

/// `out = a @ m` for `rows` rows: `a` is `rows x k`, `m` is `k x n` (both row-major).
/// Every output element is `Σ_j a[r, j] m[j, c]` summed in ascending `j`, in f32 (separate
/// multiply and add, no fused multiply-add, so the result does not depend on the CPU).
pub fn matmul_rows(a: &[f32], m: &[f32], k: usize, n: usize, out: &mut [f32]) {
    debug_assert_eq!(a.len() % k.max(1), 0);
    debug_assert_eq!(m.len(), k * n);
    let rows = a.len() / k.max(1);
    let mut r = 0;
    while r + 4 <= rows {
        let a4 = &a[r * k..(r + 4) * k];
        let o4 = &mut out[r * n..(r + 4) * n];
        let mut c = 0;
        while c + TILE <= n {
            tile_4xt(a4, m, k, n, c, o4);
            c += TILE;
        }
        for col in c..n {
            for i in 0..4 {
                o4[i * n + col] = column_dot(&a4[i * k..(i + 1) * k], m, n, col);
            }
        }
        r += 4;
    }
    for i in r..rows {
        for col in 0..n {
            out[i * n + col] = column_dot(&a[i * k..(i + 1) * k], m, n, col);
        }
    }
}

/// Output columns per register tile.
const TILE: usize = 8;

/// Columns `c..c+TILE` of 4 output rows, accumulated in registers over ascending `j`.
#[inline(always)]
fn tile_4xt(a4: &[f32], m: &[f32], k: usize, n: usize, c: usize, o4: &mut [f32]) {
    let mut acc = [[0f32; TILE]; 4];
    for j in 0..k {
        let w: &[f32; TILE] = m[j * n + c..j * n + c + TILE].try_into().unwrap();
        for (i, acc_row) in acc.iter_mut().enumerate() {
            let coef = a4[i * k + j];
            for l in 0..TILE {
                acc_row[l] += coef * w[l];
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate() {
        o4[i * n + c..i * n + c + TILE].copy_from_slice(acc_row);
    }
}

/// `Σ_j a[j] m[j, col]` in ascending `j` (the same order as the tiles).
fn column_dot(a: &[f32], m: &[f32], n: usize, col: usize) -> f32 {
    let mut s = 0f32;
    for (j, &coef) in a.iter().enumerate() {
        s += coef * m[j * n + col];
    }
    s
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
        let alpha = dot_f64(x, x).sqrt();
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
            .with_min_len(64)
            .for_each(|col| reflect(&v, &mut col[k..]));
        reflectors.push(v);
    }
    // Q = H_0 H_1 ... H_{d-1} diag(signs): apply the reflectors to the identity, last first.
    let mut q = vec![0f64; d * d];
    q.par_chunks_mut(d)
        .with_min_len(16)
        .enumerate()
        .for_each(|(j, col)| {
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
    let proj = 2.0 * dot_f64(v, x);
    x.iter_mut().zip(v).for_each(|(t, a)| *t -= proj * a);
}

/// Dot product with four interleaved partial sums (a fixed order that vectorizes).
fn dot_f64(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0f64; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a4.zip(b4) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_matches_naive() {
        let (r, k, n) = (11, 5, 19);
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
