//! Synthetic CLIP-like data: image and caption embeddings with a modality gap, a known true
//! image→text map, and caption texts that describe the images.
//!
//! [`generate`] is deterministic: the same [`SynthConfig`] gives bit-identical output on any
//! number of threads and with any version of any crate (the random numbers come from the
//! documented generator in [`rng`]; every image and caption has its own stream).
//!
//! # The generative model
//!
//! With `d` = `dim`, `ω` = `content_weight`, `ρ` = `drop_strength`, `σ` = `noise`,
//! `a` = `identity_mix`, and `normalize(v) = v / |v|`:
//!
//! **World** (fixed by the seed):
//! - spectrum `s_j = (j + 1)^(-decay/2)` and a random rotation `R` (Householder QR of a
//!   Gaussian matrix): `M = diag(s) R`, so image embeddings are anisotropic like CLIP's,
//!   with variance `∝ (j + 1)^-decay` along rotated axes;
//! - modality directions `u1` (images) and `u2` (texts): random unit vectors, `u2`
//!   orthogonalized against `u1`;
//! - the true map `Wt = a I + sqrt(1 - a²) G / sqrt(d)`, `G_jk ~ N(0, 1)`
//!   ([`SynthData::true_map`], applied as `X @ Wt`);
//! - one latent direction `e_w ~ N(0, I_d)` per vocabulary word `w` (see [`grammar`]).
//!
//! **Image** `i`: content words `w_1..w_4` (object, attribute, action, place; see
//! [`grammar`]) and private noise `ε_i ~ N(0, I_d)`:
//! ```text
//! z_i = sqrt(ω/4) Σ_s e_{w_s} + sqrt(1 - ω) ε_i          (latent: content + the rest)
//! g_i = z_i M,    p_i = g_i / |g_i| + c1 u1,    x_i = p_i / |p_i|
//! ```
//! with `c1 = gap / sqrt(1 - gap²)`, so `cos(x_i, u1) ≈ gap`: all images lie in a cone
//! around `u1` (the modality gap) and random image pairs have `cos ≈ gap²`.
//!
//! **Caption** `k` of image `i` realizes the content with a template (see [`grammar`]); let
//! `D` be the slots it leaves out. Its embedding removes (a fraction `ρ` of) those words
//! from the image before mapping it, then adds noise and the text offset:
//! ```text
//! q  = p_i - ρ sqrt(ω/4) Σ_{s∈D} e_{w_s} M / |g_i|        (the image as this caption sees it)
//! t  = q Wt / |q| + σ ξ / sqrt(d),   ξ ~ N(0, I_d)
//! y  = normalize( normalize(t) + c2 u2 ),   c2 = gap_text / sqrt(1 - gap_text²)
//! ```
//! For a caption that names every detail, `q = p_i` and `y = normalize(normalize(x_i Wt +
//! σ ξ/√d) + c2 u2)`: a linear relation through the true map plus noise, up to the two
//! normalizations and the text offset. Images and captions live in different cones (around
//! `u1` and `u2`), so raw image→caption cosine ranks poorly and a fitted linear map helps a
//! lot, as with real CLIP.
//!
//! **Generated captions**: [`TextEncoder`] embeds any text (e.g. a captioner's output) by the
//! same rule, with the words it names ([`grammar::named_words`]) as the content.
//!
//! **Rows and ids**: image row `i` has id `"i"`; caption rows `i·C .. (i+1)·C` belong to
//! image `i`, caption row `r` has id `"r"`.
//!
//! **Defaults**: `gap` 0.55, `gap_text` 0.60 and `decay` 1 as in `peers/gen.py` (its fit
//! benchmark data); `a` = 0.4 and `σ` = 2.5 (gen.py: 0.7 and 1, where retrieval is trivial)
//! so that alignment has real work. Measured at the default size (1000 images × 5 captions,
//! d = 512, seeds 0–2): image→caption recall@1 ≈ 0.23–0.26 with raw cosine and ≈ 0.99
//! through the true map. With 5000 images, an OLS map fitted on the pairs of the first 4000
//! (numpy `lstsq`) takes recall@1 of the other 1000 images against their 5000 captions from
//! 0.26 (raw) to 0.73 (true map: 0.98). Centroid norms ≈ 0.58 (images) and ≈ 0.63 (texts),
//! cosine between the two centroids ≈ 0.1 (the modality gap: two cones); mean matched
//! image–caption cosine ≈ 0.12, mismatched ≈ 0.04 (real CLIP has larger absolute values,
//! ≈ 0.3 and ≈ 0.15; rankings, not offsets, are what matter here).
//! `examples/synth_stats.rs` prints these numbers for any size and parameters.
//!
//! **Cost**: two `d x d` products per image (`ε M`, `x Wt`) plus `O(d)` per caption, and one
//! `O(d³)` QR for the world; 10k images × 5 captions × 512 dims take well under a second.

pub mod grammar;
mod linalg;
pub mod rng;
#[cfg(feature = "models")]
pub mod shapes;
mod text;
mod world;

pub use text::TextEncoder;

use std::path::Path;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::io::captions::{CaptionRecord, CaptionSet};
use crate::io::Grouping;
use crate::matrix::RowMatrix;

use grammar::{choose_templates, realize, Content};
use linalg::{matmul_rows, normalize};
use rng::Rng;
use world::{domain, World};

/// Parameters of the synthetic data (see the module docs for the model).
#[derive(Clone, Debug, PartialEq)]
pub struct SynthConfig {
    /// Number of images `N` (≥ 1).
    pub n_images: usize,
    /// Captions per image `C` (≥ 1).
    pub captions_per_image: usize,
    /// Embedding dimension `d` (≥ 2).
    pub dim: usize,
    /// Seed of everything.
    pub seed: u64,
    /// Caption noise `σ` relative to the unit-norm mapped image (≥ 0).
    pub noise: f64,
    /// Image modality gap: `cos(x, u1)`, in `[0, 1)`.
    pub gap: f64,
    /// Text modality gap: `cos(y, u2)`, in `[0, 1)`.
    pub gap_text: f64,
    /// Spectrum decay: variance of latent axis `j` `∝ (j + 1)^-decay` (≥ 0).
    pub decay: f64,
    /// Weight `a` of the identity in the true map, in `[0, 1]`.
    pub identity_mix: f64,
    /// Share `ω` of latent variance that comes from the content words, in `[0, 1]`.
    pub content_weight: f64,
    /// How much of a left-out word a caption embedding loses, `ρ` in `[0, 1]`.
    pub drop_strength: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            n_images: 1000,
            captions_per_image: 5,
            dim: 512,
            seed: 0,
            noise: 2.5,
            gap: 0.55,
            gap_text: 0.60,
            decay: 1.0,
            identity_mix: 0.4,
            content_weight: 0.5,
            drop_strength: 1.0,
        }
    }
}

impl SynthConfig {
    /// Check every parameter; errors are [`Error::InvalidArgument`] naming the field.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("n_images", self.n_images, 1),
            ("captions_per_image", self.captions_per_image, 1),
            ("dim", self.dim, 2),
        ];
        for (name, value, min) in positive {
            if value < min {
                return Err(Error::invalid(
                    name,
                    format!("must be at least {min}, got {value}"),
                ));
            }
        }
        let size = self
            .n_images
            .checked_mul(self.captions_per_image)
            .and_then(|m| m.checked_mul(self.dim))
            .and_then(|m| m.checked_mul(std::mem::size_of::<f32>()));
        if size.is_none() || self.dim.checked_mul(self.dim).is_none() {
            return Err(Error::invalid(
                "n_images",
                "the data would not fit in memory",
            ));
        }
        let ranges = [
            ("noise", self.noise, 0.0, f64::INFINITY, true),
            ("gap", self.gap, 0.0, 1.0, false),
            ("gap_text", self.gap_text, 0.0, 1.0, false),
            ("decay", self.decay, 0.0, f64::INFINITY, true),
            ("identity_mix", self.identity_mix, 0.0, 1.0, true),
            ("content_weight", self.content_weight, 0.0, 1.0, true),
            ("drop_strength", self.drop_strength, 0.0, 1.0, true),
        ];
        for (name, v, lo, hi, hi_inclusive) in ranges {
            let ok = v.is_finite() && v >= lo && (v < hi || (hi_inclusive && v <= hi));
            if !ok {
                let close = if hi_inclusive { "]" } else { ")" };
                return Err(Error::invalid(
                    name,
                    format!("must be a finite number in [{lo}, {hi}{close}, got {v}"),
                ));
            }
        }
        Ok(())
    }
}

/// A generated data set.
#[derive(Clone, Debug)]
pub struct SynthData {
    /// The configuration it was generated from.
    pub config: SynthConfig,
    /// Image embeddings, `N x d`, unit rows.
    pub images: RowMatrix<f32>,
    /// Caption embeddings, `N·C x d`, unit rows; rows `i·C..(i+1)·C` describe image `i`.
    pub texts: RowMatrix<f32>,
    /// Ids and texts of images and captions, in row order.
    pub captions: CaptionSet,
    /// Caption row → image row.
    pub grouping: Grouping,
    /// The true map `Wt` (`d x d`, applied as `X @ Wt`).
    pub true_map: RowMatrix<f32>,
    /// The content of every image (word indices per slot, see [`grammar`]).
    pub contents: Vec<Content>,
}

/// Images per parallel work item.
const BLOCK: usize = 32;

/// Generate a data set (see the module docs). Fails only on an invalid configuration.
pub fn generate(cfg: &SynthConfig) -> Result<SynthData> {
    cfg.validate()?;
    let (n, c, d) = (cfg.n_images, cfg.captions_per_image, cfg.dim);
    let world = World::new(cfg);
    let mut images = vec![0f32; n * d];
    let mut texts = vec![0f32; n * c * d];
    let blocks: Vec<(Vec<Content>, Vec<String>)> = images
        .par_chunks_mut(BLOCK * d)
        .zip(texts.par_chunks_mut(BLOCK * c * d))
        .enumerate()
        .map(|(b, (img, txt))| generate_block(cfg, &world, b * BLOCK, img, txt))
        .collect();
    let mut contents = Vec::with_capacity(n);
    let mut records = Vec::with_capacity(n * c);
    for (block_contents, block_texts) in blocks {
        for text in block_texts {
            let row = records.len();
            records.push(CaptionRecord {
                id: row.to_string(),
                image_id: (row / c).to_string(),
                text,
            });
        }
        contents.extend(block_contents);
    }
    let captions = CaptionSet::new((0..n).map(|i| i.to_string()).collect(), records)?;
    Ok(SynthData {
        config: cfg.clone(),
        images: RowMatrix::from_vec(n, d, images)?,
        texts: RowMatrix::from_vec(n * c, d, texts)?,
        grouping: Grouping::from_counts(&vec![c; n]),
        captions,
        true_map: RowMatrix::from_vec(d, d, world.wt)?,
        contents,
    })
}

/// Generate images `first..first + img.len()/d` into `img` and their captions into `txt`.
fn generate_block(
    cfg: &SynthConfig,
    world: &World,
    first: usize,
    img: &mut [f32],
    txt: &mut [f32],
) -> (Vec<Content>, Vec<String>) {
    let d = cfg.dim;
    let rows = img.len() / d;
    let omega = cfg.content_weight;
    let word_scale = (omega / 4.0).sqrt() as f32;
    let c1 = (cfg.gap / (1.0 - cfg.gap * cfg.gap).sqrt()) as f32;
    // Content and private noise ε of every image; then g = z M.
    let mut contents = Vec::with_capacity(rows);
    let mut eps = vec![0f32; rows * d];
    for (r, e) in eps.chunks_exact_mut(d).enumerate() {
        let mut rng = Rng::stream(cfg.seed, domain::IMAGE, (first + r) as u64);
        contents.push(Content::sample(&mut rng));
        rng.fill_normal(e, (1.0 - omega).sqrt());
    }
    matmul_rows(&eps, &world.m, d, d, img);
    // x = normalize(g/|g| + c1 u1); keep |g| and |p| for the captions.
    let mut g_norm = vec![0f64; rows];
    let mut p_norm = vec![0f64; rows];
    for (r, x) in img.chunks_exact_mut(d).enumerate() {
        for slot in 0..4 {
            let e = world.word_image(contents[r].vocabulary_index(slot));
            x.iter_mut().zip(e).for_each(|(v, w)| *v += word_scale * w);
        }
        g_norm[r] = normalize(x);
        x.iter_mut().zip(&world.u1).for_each(|(v, u)| *v += c1 * u);
        p_norm[r] = normalize(x);
    }
    let mut mapped = vec![0f32; rows * d];
    matmul_rows(img, &world.wt, d, d, &mut mapped);
    let mut texts = Vec::with_capacity(rows * cfg.captions_per_image);
    for r in 0..rows {
        let image = ImageState {
            index: first + r,
            content: &contents[r],
            x: &img[r * d..(r + 1) * d],
            mapped: &mapped[r * d..(r + 1) * d],
            g_norm: g_norm[r],
            p_norm: p_norm[r],
        };
        let c = cfg.captions_per_image;
        let out = &mut txt[r * c * d..(r + 1) * c * d];
        texts.extend(generate_captions(cfg, world, &image, out));
    }
    (contents, texts)
}

/// What the captions of one image need from it.
struct ImageState<'a> {
    index: usize,
    content: &'a Content,
    /// `x_i` (unit).
    x: &'a [f32],
    /// `x_i Wt`.
    mapped: &'a [f32],
    g_norm: f64,
    p_norm: f64,
}

/// Texts and embeddings (into `out`, `C x d`) of the captions of one image.
fn generate_captions(
    cfg: &SynthConfig,
    world: &World,
    im: &ImageState,
    out: &mut [f32],
) -> Vec<String> {
    let d = cfg.dim;
    let c = cfg.captions_per_image;
    let c2 = (cfg.gap_text / (1.0 - cfg.gap_text * cfg.gap_text).sqrt()) as f32;
    let kappa = cfg.drop_strength * (cfg.content_weight / 4.0).sqrt() / im.g_norm;
    let noise_scale = cfg.noise / (d as f64).sqrt();
    let mut text_rng = Rng::stream(cfg.seed, domain::CAPTION_TEXT, im.index as u64);
    let templates = choose_templates(&mut text_rng, c);
    let mut q = vec![0f32; d];
    let mut texts = Vec::with_capacity(c);
    for (k, y) in out.chunks_exact_mut(d).enumerate() {
        let realization = realize(im.content, templates[k], &mut text_rng);
        // q = p_i - κ Σ_D E_w  (only its norm is needed); y ← q Wt = |p| x Wt - κ Σ_D F_w.
        for ((qv, &xv), (yv, &mv)) in q.iter_mut().zip(im.x).zip(y.iter_mut().zip(im.mapped)) {
            *qv = (xv as f64 * im.p_norm) as f32;
            *yv = (mv as f64 * im.p_norm) as f32;
        }
        for slot in (0..4).filter(|&s| !realization.mentioned[s]) {
            let w = im.content.vocabulary_index(slot);
            let k32 = kappa as f32;
            q.iter_mut()
                .zip(world.word_image(w))
                .for_each(|(v, e)| *v -= k32 * e);
            y.iter_mut()
                .zip(world.word_text(w))
                .for_each(|(v, f)| *v -= k32 * f);
        }
        let q_norm = linalg::norm(&q);
        let row = (im.index * c + k) as u64;
        let mut noise_rng = Rng::stream(cfg.seed, domain::CAPTION_NOISE, row);
        for v in y.iter_mut() {
            *v = (*v as f64 / q_norm + noise_scale * noise_rng.normal()) as f32;
        }
        normalize(y);
        y.iter_mut().zip(&world.u2).for_each(|(v, u)| *v += c2 * u);
        normalize(y);
        texts.push(realization.text);
    }
    texts
}

impl SynthData {
    /// Split into the first `n_first` images (with their captions) and the rest, e.g. a
    /// training set to fit a map on and held-out query images. Ids, texts and the true map
    /// are kept; each part gets its own grouping. `n_first` must be in `1..n_images`.
    pub fn split_at(&self, n_first: usize) -> Result<(SynthData, SynthData)> {
        let n = self.images.rows();
        if n_first == 0 || n_first >= n {
            return Err(Error::invalid(
                "n_first",
                format!("must be in 1..{n} (both parts non-empty), got {n_first}"),
            ));
        }
        Ok((self.rows(0..n_first)?, self.rows(n_first..n)?))
    }

    /// The images in `range` and their captions.
    fn rows(&self, range: std::ops::Range<usize>) -> Result<SynthData> {
        let (c, d) = (self.config.captions_per_image, self.images.cols());
        let caption_range = range.start * c..range.end * c;
        let images = self.images.as_slice()[range.start * d..range.end * d].to_vec();
        let texts = self.texts.as_slice()[caption_range.start * d..caption_range.end * d].to_vec();
        let captions = CaptionSet::new(
            self.captions.images()[range.clone()].to_vec(),
            self.captions.captions()[caption_range.clone()].to_vec(),
        )?;
        Ok(SynthData {
            config: SynthConfig {
                n_images: range.len(),
                ..self.config.clone()
            },
            images: RowMatrix::from_vec(range.len(), d, images)?,
            texts: RowMatrix::from_vec(caption_range.len(), d, texts)?,
            grouping: captions.grouping()?,
            captions,
            true_map: self.true_map.clone(),
            contents: self.contents[range].to_vec(),
        })
    }

    /// Write `DIR/images.npy` (`N x d` f32), `DIR/texts.npy` (`N·C x d`), `DIR/true_map.npy`
    /// (`d x d`) and `DIR/captions.json` (the sidecar, see [`CaptionSet`]), each atomically;
    /// `dir` is created if missing. Returns the paths written.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<Vec<std::path::PathBuf>> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let files = [
            ("images.npy", &self.images),
            ("texts.npy", &self.texts),
            ("true_map.npy", &self.true_map),
        ];
        let mut written = Vec::new();
        for (name, m) in files {
            let path = dir.join(name);
            crate::io::npy::write_f32(&path, m)?;
            written.push(path);
        }
        let path = dir.join("captions.json");
        self.captions.write(&path)?;
        written.push(path);
        Ok(written)
    }
}
