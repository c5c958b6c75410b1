//! Pillow's `Image.resize(..., BICUBIC)` on 8-bit RGB, bit for bit (Pillow's `Resample.c`).
//!
//! Two separable passes, horizontal then vertical, each rounding to `u8`. For an axis of
//! `in_size -> out_size`: `scale = in/out`, `filterscale = max(scale, 1)` (the kernel widens
//! when downsampling), `support = 2 * filterscale`; output `i` has centre
//! `c = (i + 0.5) * scale` and reads inputs `x` in `[trunc(c - support + 0.5), trunc(c + support + 0.5))`
//! clamped to the image, with weights `k((x - c + 0.5) / filterscale)` normalized to sum 1,
//! where `k` is the Keys cubic with `a = -0.5`. Weights are then fixed-point with 22 fraction
//! bits (`round half away from zero`), and each output is
//! `clip8((2^21 + Σ w_x p_x) >> 22)`.

/// Fraction bits of the fixed-point weights (`32 - 8 - 2`).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Keys' cubic convolution kernel with `a = -0.5` (support 2).
pub fn bicubic_kernel(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// The taps of one axis: for each output index, the first input index and its fixed-point weights.
#[derive(Debug, Clone)]
pub struct Taps {
    /// `(first input index, weights)` per output index.
    pub taps: Vec<(usize, Vec<i32>)>,
}

impl Taps {
    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for `in_size -> out_size`.
    pub fn new(in_size: usize, out_size: usize) -> Self {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = 2.0 * filterscale;
        let ss = 1.0 / filterscale;
        let taps = (0..out_size)
            .map(|i| {
                let center = (i as f64 + 0.5) * scale;
                // C's (int) cast truncates toward zero.
                let xmin = ((center - support + 0.5) as i64).max(0) as usize;
                let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
                let w: Vec<f64> = (xmin..xmax)
                    .map(|x| bicubic_kernel((x as f64 - center + 0.5) * ss))
                    .collect();
                let total: f64 = w.iter().sum();
                let fixed = w
                    .iter()
                    .map(|&v| {
                        let v = if total != 0.0 { v / total } else { v };
                        let s = v * f64::from(1u32 << PRECISION_BITS);
                        if v < 0.0 {
                            (s - 0.5) as i32
                        } else {
                            (s + 0.5) as i32
                        }
                    })
                    .collect();
                (xmin, fixed)
            })
            .collect();
        Taps { taps }
    }
}

fn clip8(v: i64) -> u8 {
    if v >= (1i64 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// Resize a packed RGB8 image `(w, h)` to `(out_w, out_h)` exactly as Pillow's BICUBIC.
pub fn resize_rgb8(src: &[u8], w: usize, h: usize, out_w: usize, out_h: usize) -> Vec<u8> {
    debug_assert_eq!(src.len(), w * h * 3);
    if out_w != w {
        let tv = Taps::new(h, out_h);
        // Pillow runs the horizontal pass only over the rows the vertical pass reads.
        let (first, last) = if out_h != h {
            let (f, _) = &tv.taps[0];
            let (l0, lw) = &tv.taps[out_h - 1];
            (*f, l0 + lw.len())
        } else {
            (0, h)
        };
        let th = Taps::new(w, out_w);
        let mut out = vec![0u8; out_w * (last - first) * 3];
        for (yo, y) in (first..last).enumerate() {
            let row = &src[y * w * 3..(y + 1) * w * 3];
            let orow = &mut out[yo * out_w * 3..(yo + 1) * out_w * 3];
            for (xo, (x0, k)) in th.taps.iter().enumerate() {
                for c in 0..3 {
                    let mut acc: i64 = 1 << (PRECISION_BITS - 1);
                    for (j, &wt) in k.iter().enumerate() {
                        acc += i64::from(row[(x0 + j) * 3 + c]) * i64::from(wt);
                    }
                    orow[xo * 3 + c] = clip8(acc);
                }
            }
        }
        if out_h == h {
            return out;
        }
        // Shift the vertical taps into the cropped band.
        return vertical(&out, out_w, &tv, first, out_h);
    }
    if out_h != h {
        let tv = Taps::new(h, out_h);
        return vertical(src, w, &tv, 0, out_h);
    }
    src.to_vec()
}

fn vertical(src: &[u8], w: usize, tv: &Taps, offset: usize, out_h: usize) -> Vec<u8> {
    let stride = w * 3;
    let mut out = vec![0u8; stride * out_h];
    for (yo, (y0, k)) in tv.taps.iter().enumerate() {
        let y0 = y0 - offset;
        let orow = &mut out[yo * stride..(yo + 1) * stride];
        for (i, o) in orow.iter_mut().enumerate() {
            let mut acc: i64 = 1 << (PRECISION_BITS - 1);
            for (j, &wt) in k.iter().enumerate() {
                acc += i64::from(src[(y0 + j) * stride + i]) * i64::from(wt);
            }
            *o = clip8(acc);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_is_interpolating_and_weights_sum_to_one() {
        assert_eq!(bicubic_kernel(0.0), 1.0);
        assert_eq!(bicubic_kernel(1.0), 0.0);
        assert_eq!(bicubic_kernel(2.5), 0.0);
        for (i, o) in [(23, 224), (300, 224), (7, 3)] {
            for (_, k) in Taps::new(i, o).taps {
                let s: i64 = k.iter().map(|&v| i64::from(v)).sum();
                assert!((s - (1 << PRECISION_BITS)).abs() <= k.len() as i64, "{s}");
            }
        }
    }

    #[test]
    fn constant_image_stays_constant() {
        let src = vec![77u8; 13 * 9 * 3];
        let out = resize_rgb8(&src, 13, 9, 31, 5);
        assert_eq!(out.len(), 31 * 5 * 3);
        assert!(out.iter().all(|&v| v == 77));
    }
}
