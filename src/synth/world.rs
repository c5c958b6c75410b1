//! The fixed "world" of a synthetic data set: spectrum, rotation, modality directions, the
//! true image→text map and one latent direction per vocabulary word.

use rayon::prelude::*;

use super::grammar::vocabulary_size;
use super::linalg::{matmul_rows, normalize, random_rotation};
use super::rng::Rng;
use super::SynthConfig;

/// Stream domains (see [`Rng::stream`]): one per kind of random draw.
pub(super) mod domain {
    pub const ROTATION: u64 = 1;
    pub const TRUE_MAP: u64 = 2;
    pub const GAP: u64 = 3;
    pub const WORDS: u64 = 4;
    pub const IMAGE: u64 = 5;
    pub const CAPTION_TEXT: u64 = 6;
    pub const CAPTION_NOISE: u64 = 7;
}

/// Everything shared by all rows.
pub(super) struct World {
    pub d: usize,
    /// `M = diag(s) R` (`d x d`, row-major): latent → image space.
    pub m: Vec<f32>,
    /// Image modality direction `u1` (unit).
    pub u1: Vec<f32>,
    /// Text modality direction `u2` (unit).
    pub u2: Vec<f32>,
    /// True map `Wt = a I + sqrt(1 - a²) G / sqrt(d)` (`d x d`, row-major).
    pub wt: Vec<f32>,
    /// `E = e M` for every vocabulary word (`V x d`): word directions in image space.
    pub word_image: Vec<f32>,
    /// `F = E Wt` (`V x d`): word directions in text space.
    pub word_text: Vec<f32>,
}

impl World {
    pub fn new(cfg: &SynthConfig) -> Self {
        let d = cfg.dim;
        let seed = cfg.seed;
        let mut m = random_rotation(seed, domain::ROTATION, d);
        for (j, row) in m.chunks_exact_mut(d).enumerate() {
            let s = ((j + 1) as f64).powf(-cfg.decay / 2.0);
            row.iter_mut().for_each(|v| *v = (*v as f64 * s) as f32);
        }
        let wt = true_map(seed, d, cfg.identity_mix);
        let mut gap = Rng::stream(seed, domain::GAP, 0);
        let mut u1 = vec![0f32; d];
        let mut u2 = vec![0f32; d];
        gap.fill_normal(&mut u1, 1.0);
        gap.fill_normal(&mut u2, 1.0);
        normalize(&mut u1);
        normalize(&mut u2);
        let v = vocabulary_size();
        let mut words = vec![0f32; v * d];
        words
            .chunks_exact_mut(d)
            .enumerate()
            .for_each(|(w, row)| Rng::stream(seed, domain::WORDS, w as u64).fill_normal(row, 1.0));
        let mut word_image = vec![0f32; v * d];
        matmul_rows(&words, &m, d, d, &mut word_image);
        let mut word_text = vec![0f32; v * d];
        matmul_rows(&word_image, &wt, d, d, &mut word_text);
        World {
            d,
            m,
            u1,
            u2,
            wt,
            word_image,
            word_text,
        }
    }

    /// Row `w` of [`World::word_image`].
    pub fn word_image(&self, w: usize) -> &[f32] {
        &self.word_image[w * self.d..(w + 1) * self.d]
    }

    /// Row `w` of [`World::word_text`].
    pub fn word_text(&self, w: usize) -> &[f32] {
        &self.word_text[w * self.d..(w + 1) * self.d]
    }
}

/// `Wt = a I + sqrt(1 - a²) G / sqrt(d)`, `G` standard normal (row `j` from stream `j`).
fn true_map(seed: u64, d: usize, a: f64) -> Vec<f32> {
    let b = (1.0 - a * a).max(0.0).sqrt() / (d as f64).sqrt();
    let mut wt = vec![0f32; d * d];
    wt.par_chunks_mut(d).enumerate().for_each(|(j, row)| {
        let mut rng = Rng::stream(seed, domain::TRUE_MAP, j as u64);
        for (k, v) in row.iter_mut().enumerate() {
            let g = rng.normal();
            *v = (b * g + if k == j { a } else { 0.0 }) as f32;
        }
    });
    wt
}
