//! Bulk conversion of raw `.npy` data bytes into f32 / f64 / i64, in blocks the compiler
//! vectorizes (fixed-size `chunks_exact`, no per-element dispatch), and the byte views used
//! to read native-order data straight into the output buffer.

use half::slice::HalfFloatSliceExt;

use super::header::DType;

/// An element type recap produces from `.npy` data.
pub trait Element: Copy + Default + Send + Sync + 'static {
    /// The dtype whose little-endian bytes are exactly this type's memory layout.
    const NATIVE: DType;
    /// What a caller asked for, for error messages ("float32", ...).
    const NAME: &'static str;
    /// Can data of `dtype` be converted to this type?
    fn accepts(dtype: DType) -> bool;
    /// Convert `src` (whole elements of `dtype`, byte order `big_endian`) into `dst`
    /// (`dst.len() == src.len() / itemsize`).
    fn convert(src: &[u8], dtype: DType, big_endian: bool, dst: &mut [Self]);
    /// Is the value finite (always true for integers)?
    fn is_finite(self) -> bool;
}

/// Does data of `dtype` stored with `big_endian` have the memory layout of `T` on this
/// machine (so bytes can be copied, not converted)?
pub fn is_native<T: Element>(dtype: DType, big_endian: bool) -> bool {
    dtype == T::NATIVE && big_endian == cfg!(target_endian = "big")
}

/// View a slice of plain numbers as bytes, for reading native data in place.
pub fn as_bytes_mut<T: Element>(v: &mut [T]) -> &mut [u8] {
    let len = std::mem::size_of_val(v);
    // SAFETY: `Element` is implemented only for f32, f64, i64: plain-old-data types with no
    // padding and no invalid bit patterns, so any bytes written through this view are valid
    // values. The view covers exactly the slice's memory and borrows it mutably.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), len) }
}

/// View a slice of plain numbers as bytes, for writing native data without a copy.
pub fn as_bytes<T: Element>(v: &[T]) -> &[u8] {
    // SAFETY: see `as_bytes_mut`; reading the bytes of plain-old-data is always valid.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

macro_rules! from_bytes {
    ($src:expr, $dst:expr, $n:literal, $ty:ty, $big:expr, $map:expr) => {{
        let map = $map;
        if $big {
            for (d, c) in $dst.iter_mut().zip($src.chunks_exact($n)) {
                *d = map(<$ty>::from_be_bytes(c.try_into().unwrap()));
            }
        } else {
            for (d, c) in $dst.iter_mut().zip($src.chunks_exact($n)) {
                *d = map(<$ty>::from_le_bytes(c.try_into().unwrap()));
            }
        }
    }};
}

/// f16 bytes to f32 in blocks: bytes -> u16 bits -> `half`'s slice conversion (F16C
/// instructions when the CPU has them).
fn f16_to_f32(src: &[u8], big_endian: bool, dst: &mut [f32]) {
    const BLOCK: usize = 1024;
    let mut bits = [half::f16::ZERO; BLOCK];
    for (s, d) in src.chunks(BLOCK * 2).zip(dst.chunks_mut(BLOCK)) {
        let b = &mut bits[..d.len()];
        from_bytes!(s, b, 2, u16, big_endian, half::f16::from_bits);
        b.convert_to_f32_slice(d);
    }
}

impl Element for f32 {
    const NATIVE: DType = DType::F32;
    const NAME: &'static str = "float32";
    fn accepts(dtype: DType) -> bool {
        dtype.is_float()
    }
    fn convert(src: &[u8], dtype: DType, big: bool, dst: &mut [f32]) {
        match dtype {
            DType::F16 => f16_to_f32(src, big, dst),
            DType::F32 => from_bytes!(src, dst, 4, f32, big, |v| v),
            DType::F64 => from_bytes!(src, dst, 8, f64, big, |v: f64| v as f32),
            DType::I64 => from_bytes!(src, dst, 8, i64, big, |v: i64| v as f32),
        }
    }
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Element for f64 {
    const NATIVE: DType = DType::F64;
    const NAME: &'static str = "float64";
    fn accepts(dtype: DType) -> bool {
        dtype.is_float()
    }
    fn convert(src: &[u8], dtype: DType, big: bool, dst: &mut [f64]) {
        match dtype {
            DType::F16 => {
                from_bytes!(src, dst, 2, u16, big, |v| half::f16::from_bits(v).to_f64())
            }
            DType::F32 => from_bytes!(src, dst, 4, f32, big, |v: f32| v as f64),
            DType::F64 => from_bytes!(src, dst, 8, f64, big, |v| v),
            DType::I64 => from_bytes!(src, dst, 8, i64, big, |v: i64| v as f64),
        }
    }
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

impl Element for i64 {
    const NATIVE: DType = DType::I64;
    const NAME: &'static str = "int64";
    fn accepts(dtype: DType) -> bool {
        dtype == DType::I64
    }
    fn convert(src: &[u8], dtype: DType, big: bool, dst: &mut [i64]) {
        debug_assert_eq!(dtype, DType::I64);
        from_bytes!(src, dst, 8, i64, big, |v| v)
    }
    fn is_finite(self) -> bool {
        true
    }
}

/// Transpose a column-major `rows x cols` buffer (`src[j*rows + i]`) into row-major
/// (`dst[i*cols + j]`), in cache-sized tiles.
pub fn transpose_into<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    const TILE: usize = 32;
    debug_assert_eq!(src.len(), rows * cols);
    debug_assert_eq!(dst.len(), rows * cols);
    for j0 in (0..cols).step_by(TILE) {
        let j1 = (j0 + TILE).min(cols);
        for i0 in (0..rows).step_by(TILE) {
            let i1 = (i0 + TILE).min(rows);
            for j in j0..j1 {
                let col = &src[j * rows..(j + 1) * rows];
                for i in i0..i1 {
                    dst[i * cols + j] = col[i];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_each_dtype_and_order() {
        let vals = [1.5f64, -2.25, 0.0, 65504.0];
        for big in [false, true] {
            let f16b: Vec<u8> = vals
                .iter()
                .flat_map(|&v| {
                    let h = half::f16::from_f64(v);
                    if big {
                        h.to_be_bytes()
                    } else {
                        h.to_le_bytes()
                    }
                })
                .collect();
            let f64b: Vec<u8> = vals
                .iter()
                .flat_map(|&v| {
                    if big {
                        v.to_be_bytes()
                    } else {
                        v.to_le_bytes()
                    }
                })
                .collect();
            let mut out = [0f32; 4];
            f32::convert(&f16b, DType::F16, big, &mut out);
            assert_eq!(out, [1.5, -2.25, 0.0, 65504.0]);
            let mut out = [0f64; 4];
            f64::convert(&f64b, DType::F64, big, &mut out);
            assert_eq!(out, vals);
        }
    }

    #[test]
    fn transpose_matches_definition() {
        let (r, c) = (37, 70);
        let src: Vec<u32> = (0..(r * c) as u32).collect();
        let mut dst = vec![0; r * c];
        transpose_into(&src, r, c, &mut dst);
        for i in 0..r {
            for j in 0..c {
                assert_eq!(dst[i * c + j], src[j * r + i]);
            }
        }
    }
}
