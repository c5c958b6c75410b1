//! Text embeddings of arbitrary captions (e.g. generated ones) by the synthetic world's rule.
//!
//! A reference caption's embedding (see the [module docs](super)) depends on its image: the
//! image's latent `g_i` (its words plus a private part) minus the words the caption leaves
//! out. A caption on its own only names words. [`TextEncoder`] embeds any text by the same
//! formula with the words it names (see [`named_words`]) as the whole content, the private
//! part at its expected value 0 and no caption noise: with `S` the named words,
//! `α = sqrt(ω/4)` and `E_w` the word directions in image space,
//! ```text
//! ḡ_S = sqrt( α² |Σ_{w∈S} E_w|² + (1 - ω) Σ_j s_j² )     (E|g|² given the words; s the spectrum)
//! q   = α Σ_{w∈S} E_w / ḡ_S + c1 u1
//! y   = normalize( normalize(q Wt) + c2 u2 )
//! ```
//! With `ω = 1`, `σ = 0` and a caption naming all four words of its image this is exactly
//! the image's reference caption embedding. Words named twice count once; words of other
//! images add their own directions, so wrong words lower the cosine with the image.

use super::grammar::named_words;
use super::linalg::{matmul_rows, normalize};
use super::world::World;
use super::SynthConfig;
use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// Embeds caption texts into a synthetic data set's text space (see the module docs).
pub struct TextEncoder {
    world: World,
    /// `α = sqrt(ω/4)`.
    word_scale: f64,
    /// `(1 - ω) Σ_j s_j²`: the expected squared norm of the private part of `g`.
    private_sq: f64,
    c1: f64,
    c2: f64,
}

impl TextEncoder {
    /// The encoder of the world of `cfg` (the same seed and parameters as the data set; one
    /// `O(d³)` rotation, as [`super::generate`]). Fails only on an invalid configuration.
    pub fn new(cfg: &SynthConfig) -> Result<Self> {
        cfg.validate()?;
        let spectrum_sq: f64 = (0..cfg.dim)
            .map(|j| ((j + 1) as f64).powf(-cfg.decay))
            .sum();
        Ok(TextEncoder {
            world: World::new(cfg),
            word_scale: (cfg.content_weight / 4.0).sqrt(),
            private_sq: (1.0 - cfg.content_weight) * spectrum_sq,
            c1: cfg.gap / (1.0 - cfg.gap * cfg.gap).sqrt(),
            c2: cfg.gap_text / (1.0 - cfg.gap_text * cfg.gap_text).sqrt(),
        })
    }

    /// The embedding dimension `d`.
    pub fn dim(&self) -> usize {
        self.world.d
    }

    /// The unit-norm embedding `y` of `text` (module docs). Errors with
    /// [`Error::ZeroVector`] only when it is zero: a text naming no word while both gaps
    /// are 0.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>> {
        let d = self.world.d;
        let mut content = vec![0f64; d];
        for w in named_words(text) {
            let e = self.world.word_image(w);
            content
                .iter_mut()
                .zip(e)
                .for_each(|(c, &v)| *c += f64::from(v));
        }
        let content_sq: f64 = content.iter().map(|v| v * v).sum();
        let g_bar = (self.word_scale * self.word_scale * content_sq + self.private_sq).sqrt();
        let scale = if g_bar > 0.0 {
            self.word_scale / g_bar
        } else {
            0.0
        };
        let q: Vec<f32> = content
            .iter()
            .zip(&self.world.u1)
            .map(|(c, &u)| (scale * c + self.c1 * f64::from(u)) as f32)
            .collect();
        let mut y = vec![0f32; d];
        matmul_rows(&q, &self.world.wt, d, d, &mut y);
        normalize(&mut y);
        let c2 = self.c2 as f32;
        y.iter_mut()
            .zip(&self.world.u2)
            .for_each(|(v, &u)| *v += c2 * u);
        if normalize(&mut y) == 0.0 {
            return Err(Error::ZeroVector {
                what: format!("synthetic text embedding of {text:?}"),
                row: 0,
            });
        }
        Ok(y)
    }

    /// [`TextEncoder::embed`] of every text, one row each.
    pub fn embed_all<S: AsRef<str>>(&self, texts: &[S]) -> Result<RowMatrix<f32>> {
        let mut data = Vec::with_capacity(texts.len() * self.world.d);
        for t in texts {
            data.extend(self.embed(t.as_ref())?);
        }
        RowMatrix::from_vec(texts.len(), self.world.d, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noiseless() -> SynthConfig {
        SynthConfig {
            n_images: 40,
            dim: 32,
            noise: 0.0,
            content_weight: 1.0,
            ..SynthConfig::default()
        }
    }

    #[test]
    fn full_captions_match_their_reference_embedding_without_noise() {
        let cfg = noiseless();
        let data = super::super::generate(&cfg).unwrap();
        let enc = TextEncoder::new(&cfg).unwrap();
        let mut full = 0;
        for (row, rec) in data.captions.captions().iter().enumerate() {
            let image = row / cfg.captions_per_image;
            let named = named_words(&rec.text);
            if named.len() < 4 {
                continue;
            }
            full += 1;
            let content = &data.contents[image];
            assert!((0..4).all(|s| named.contains(&content.vocabulary_index(s))));
            let y = enc.embed(&rec.text).unwrap();
            for (a, b) in y.iter().zip(data.texts.row(row)) {
                assert!((a - b).abs() < 1e-5, "{}: {a} vs {b}", rec.text);
            }
        }
        assert!(full > 50, "{full} full captions");
    }

    #[test]
    fn right_words_score_higher_than_wrong_ones() {
        let cfg = SynthConfig {
            dim: 64,
            ..SynthConfig::default()
        };
        let data = super::super::generate(&cfg).unwrap();
        let enc = TextEncoder::new(&cfg).unwrap();
        let mut wins = 0;
        for i in 0..100 {
            let right = data.contents[i].canonical().join(" ");
            let wrong = data.contents[(i + 1) % 100].canonical().join(" ");
            let x = data.images.row(i);
            let cos = |t: &str| super::super::linalg::dot(x, &enc.embed(t).unwrap());
            wins += usize::from(cos(&right) > cos(&wrong));
        }
        assert!(wins > 70, "{wins}/100");
        assert_eq!(enc.embed("").unwrap().len(), 64);
    }
}
