//! The captioner: a small word-level transformer decoder on candle that reads the image
//! embedding as `prefix` learned tokens (a linear map of the embedding), then the caption,
//! with causal self-attention; and its [`Decoder`] for recap's beam search.
//!
//! Parameters are plain named tensors initialized from recap's seeded generator (candle's
//! CPU random numbers cannot be seeded), so a run is reproducible.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor, Var, D};
use recap::models::generate::{Decoder, Rng};

use crate::data::BOS;

/// `Result` of the example: candle's and recap's errors alike.
pub type Res<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Sizes of the captioner.
#[derive(Debug, Clone, Copy)]
pub struct ModelConfig {
    /// Vocabulary size (specials included).
    pub vocab: usize,
    /// Image embedding dimension.
    pub image_dim: usize,
    /// Width of the transformer.
    pub d_model: usize,
    /// Attention heads.
    pub heads: usize,
    /// Transformer layers.
    pub layers: usize,
    /// Hidden width of the feed-forward blocks.
    pub ff: usize,
    /// Image prefix tokens.
    pub prefix: usize,
    /// Caption positions at most (BOS included).
    pub max_len: usize,
}

/// The captioner's weights: trainable ([`Captioner::init`], [`Captioner::trainable_copy`])
/// or frozen ([`Captioner::frozen_copy`]).
pub struct Captioner {
    /// Its sizes.
    pub cfg: ModelConfig,
    params: BTreeMap<String, Tensor>,
}

impl Captioner {
    /// Names and shapes of every parameter.
    fn shapes(c: &ModelConfig) -> Vec<(String, Vec<usize>)> {
        let (dm, v) = (c.d_model, c.vocab);
        let mut s = vec![
            ("tok".to_string(), vec![v, dm]),
            ("pos".into(), vec![c.prefix + c.max_len, dm]),
            ("prefix.w".into(), vec![c.prefix * dm, c.image_dim]),
            ("prefix.b".into(), vec![c.prefix * dm]),
            ("lnf.g".into(), vec![dm]),
            ("lnf.b".into(), vec![dm]),
            ("head.w".into(), vec![v, dm]),
            ("head.b".into(), vec![v]),
        ];
        for l in 0..c.layers {
            for (name, shape) in [
                ("ln1.g", vec![dm]),
                ("ln1.b", vec![dm]),
                ("qkv.w", vec![3 * dm, dm]),
                ("qkv.b", vec![3 * dm]),
                ("out.w", vec![dm, dm]),
                ("out.b", vec![dm]),
                ("ln2.g", vec![dm]),
                ("ln2.b", vec![dm]),
                ("fc1.w", vec![c.ff, dm]),
                ("fc1.b", vec![c.ff]),
                ("fc2.w", vec![dm, c.ff]),
                ("fc2.b", vec![dm]),
            ] {
                s.push((format!("l{l}.{name}"), shape));
            }
        }
        s
    }

    /// A fresh trainable model: gains 1, biases 0, matrices uniform in `±1/sqrt(columns)`
    /// from `Rng::new(seed)`. Returns the model and its variables (for the optimizer).
    pub fn init(cfg: ModelConfig, seed: u64) -> Res<(Captioner, Vec<Var>)> {
        let mut rng = Rng::new(seed);
        let mut params = BTreeMap::new();
        let mut vars = Vec::new();
        for (name, shape) in Self::shapes(&cfg) {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = if name.ends_with(".g") {
                vec![1.0; n]
            } else if name.ends_with(".b") {
                vec![0.0; n]
            } else {
                let a = 1.0 / (shape[1] as f64).sqrt();
                (0..n)
                    .map(|_| ((2.0 * rng.uniform() - 1.0) * a) as f32)
                    .collect()
            };
            let var = Var::from_tensor(&Tensor::from_vec(values, shape, &Device::Cpu)?)?;
            params.insert(name, var.as_tensor().clone());
            vars.push(var);
        }
        Ok((Captioner { cfg, params }, vars))
    }

    /// A frozen deep copy (no gradient, unaffected by later updates of `self`).
    pub fn frozen_copy(&self) -> Res<Captioner> {
        let mut params = BTreeMap::new();
        for (name, t) in &self.params {
            params.insert(name.clone(), t.copy()?.detach());
        }
        Ok(Captioner {
            cfg: self.cfg,
            params,
        })
    }

    /// A trainable deep copy and its variables.
    pub fn trainable_copy(&self) -> Res<(Captioner, Vec<Var>)> {
        let mut params = BTreeMap::new();
        let mut vars = Vec::new();
        for (name, t) in &self.params {
            let var = Var::from_tensor(&t.copy()?.detach())?;
            params.insert(name.clone(), var.as_tensor().clone());
            vars.push(var);
        }
        Ok((
            Captioner {
                cfg: self.cfg,
                params,
            },
            vars,
        ))
    }

    fn p(&self, name: &str) -> &Tensor {
        &self.params[name]
    }

    /// `x W^T + b` over the last dimension of `x`.
    fn linear(&self, x: &Tensor, name: &str) -> Res<Tensor> {
        let w = self.p(&format!("{name}.w"));
        let b = self.p(&format!("{name}.b"));
        let dims = x.dims().to_vec();
        let last = dims[dims.len() - 1];
        let rows = x.elem_count() / last;
        let y = x.reshape((rows, last))?.matmul(&w.t()?)?.broadcast_add(b)?;
        let mut out = dims;
        *out.last_mut().expect("rank >= 1") = w.dim(0)?;
        Ok(y.reshape(out)?)
    }

    fn norm(&self, x: &Tensor, name: &str) -> Res<Tensor> {
        let g = self.p(&format!("{name}.g"));
        let b = self.p(&format!("{name}.b"));
        Ok(candle_nn::ops::layer_norm_slow(x, g, b, 1e-5)?)
    }

    /// Causal self-attention of layer `l` on `x` `(B, L, dm)` with the additive `mask`.
    fn attention(&self, x: &Tensor, l: usize, mask: &Tensor) -> Res<Tensor> {
        let (b, len, dm) = x.dims3()?;
        let h = self.cfg.heads;
        let hd = dm / h;
        let qkv = self
            .linear(x, &format!("l{l}.qkv"))?
            .reshape((b, len, 3, h, hd))?
            .permute((2, 0, 3, 1, 4))?;
        let q = qkv.get(0)?.contiguous()?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let att = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?.broadcast_add(mask)?;
        let att = candle_nn::ops::softmax(&att, D::Minus1)?;
        let y = att.matmul(&v)?.transpose(1, 2)?.reshape((b, len, dm))?;
        self.linear(&y, &format!("l{l}.out"))
    }

    /// Next-token logits `(B, T, vocab)` for `images` `(B, image_dim)` and the input tokens
    /// `(B, T)` (u32, starting with BOS): position `t` predicts token `t + 1` of the caption.
    pub fn forward(&self, images: &Tensor, tokens: &Tensor) -> Res<Tensor> {
        let c = self.cfg;
        let (b, t) = tokens.dims2()?;
        let len = c.prefix + t;
        if t > c.max_len {
            return Err(format!("{t} positions exceed max_len {}", c.max_len).into());
        }
        let prefix = self
            .linear(images, "prefix")?
            .reshape((b, c.prefix, c.d_model))?;
        let tok = self
            .p("tok")
            .index_select(&tokens.flatten_all()?, 0)?
            .reshape((b, t, c.d_model))?;
        let pos = self.p("pos").narrow(0, 0, len)?;
        let mut x = Tensor::cat(&[&prefix, &tok], 1)?.broadcast_add(&pos)?;
        let mask = causal_mask(len)?;
        for l in 0..c.layers {
            let a = self.attention(&self.norm(&x, &format!("l{l}.ln1"))?, l, &mask)?;
            x = (x + a)?;
            let hdn = self.linear(&self.norm(&x, &format!("l{l}.ln2"))?, &format!("l{l}.fc1"))?;
            let f = self.linear(&hdn.relu()?, &format!("l{l}.fc2"))?;
            x = (x + f)?;
        }
        let x = self.norm(&x.narrow(1, c.prefix, t)?, "lnf")?;
        self.linear(&x, "head")
    }
}

/// `(L, L)`: 0 on and below the diagonal, −∞ above.
fn causal_mask(len: usize) -> Res<Tensor> {
    let m: Vec<f32> = (0..len * len)
        .map(|i| {
            if i % len > i / len {
                f32::NEG_INFINITY
            } else {
                0.0
            }
        })
        .collect();
    Ok(Tensor::from_vec(m, (len, len), &Device::Cpu)?)
}

/// The captioner bound to one image, for recap's generation. Hypotheses are re-run in full
/// at every step (captions are under 25 tokens), so the state is just their tokens.
pub struct Prompt<'a> {
    model: &'a Captioner,
    image: Tensor,
    eos: u32,
}

impl<'a> Prompt<'a> {
    /// Bind `model` to one image embedding.
    pub fn new(model: &'a Captioner, image: &[f32], eos: u32) -> Res<Self> {
        let image = Tensor::from_slice(image, (1, image.len()), &Device::Cpu)?;
        Ok(Prompt { model, image, eos })
    }

    fn last_logits(&self, state: &[Vec<u32>]) -> recap::Result<Tensor> {
        let run = || -> Res<Tensor> {
            let n = state.len();
            let t = state[0].len();
            let flat: Vec<u32> = state.iter().flatten().copied().collect();
            let tokens = Tensor::from_vec(flat, (n, t), &Device::Cpu)?;
            let images = self.image.repeat((n, 1))?;
            let logits = self.model.forward(&images, &tokens)?;
            Ok(logits
                .narrow(1, t - 1, 1)?
                .squeeze(1)?
                .to_dtype(DType::F32)?)
        };
        run().map_err(|e| recap::Error::InvalidArgument {
            name: "captioner".into(),
            problem: e.to_string(),
        })
    }
}

impl Decoder for Prompt<'_> {
    type State = Vec<Vec<u32>>;

    fn start(&self, n: usize) -> recap::Result<(Self::State, Tensor)> {
        let state = vec![vec![BOS]; n];
        let logits = self.last_logits(&state)?;
        Ok((state, logits))
    }

    fn step(&self, state: &mut Self::State, tokens: &[u32]) -> recap::Result<Tensor> {
        state.iter_mut().zip(tokens).for_each(|(s, &t)| s.push(t));
        self.last_logits(state)
    }

    fn reorder(&self, state: &mut Self::State, rows: &[usize]) -> recap::Result<()> {
        *state = rows.iter().map(|&r| state[r].clone()).collect();
        Ok(())
    }

    fn eos_token_id(&self) -> u32 {
        self.eos
    }

    fn vocab_size(&self) -> usize {
        self.model.cfg.vocab
    }
}
