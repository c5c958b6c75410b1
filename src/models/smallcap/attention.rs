//! GPT-2's causal self-attention and SmallCap's reduced cross-attention to the image.
//!
//! Both compute `softmax(q·kᵀ·s)·v` per head with `s = 1/√(head dim)` (times `1/(i+1)` with
//! `scale_attn_by_inverse_layer_idx`). Cross-attention is SmallCap's: `q_attn: d → d/r`,
//! `c_attn: d → 2·d/r` over the image features (keys | values), head dim `(d/h)/r` (so
//! `s = 1/√((d/h)/r)`), `c_proj: d/r → d`, no mask.
//!
//! Two layouts: the full one, `(b, t, d)` with `(b, h, t, hd)` heads, for teacher forcing
//! and the prompt; and the step one, `n` hypotheses with one new token each, whose heads
//! are laid out `(h, n, hd)` so that keys/values shared by every hypothesis (the prompt's,
//! the image's; `(h, T, hd)`) are used by a plain batched matmul, never copied per
//! hypothesis.

use candle_core::{Result, Tensor, D};
use candle_nn::ops::softmax_last_dim;
use candle_nn::VarBuilder;

use super::config::SmallCapConfig;
use super::layers::Conv1D;

/// Split `x (b, t, h·hd)` into heads `(b, h, t, hd)`.
fn split_heads(x: &Tensor, h: usize) -> Result<Tensor> {
    let (b, t, w) = x.dims3()?;
    x.reshape((b, t, h, w / h))?.transpose(1, 2)?.contiguous()
}

/// Merge heads `(b, h, t, hd) → (b, t, h·hd)`.
fn merge_heads(x: &Tensor) -> Result<Tensor> {
    let (b, h, t, hd) = x.dims4()?;
    x.transpose(1, 2)?.reshape((b, t, h * hd))
}

/// Step layout: `x (n, h·hd) → (h, n, hd)`.
fn step_heads(x: &Tensor, h: usize) -> Result<Tensor> {
    let (n, w) = x.dims2()?;
    x.reshape((n, h, w / h))?.transpose(0, 1)?.contiguous()
}

/// Step layout back: `(h, n, hd) → (n, h·hd)`.
fn unstep_heads(x: &Tensor) -> Result<Tensor> {
    let (h, n, hd) = x.dims3()?;
    x.transpose(0, 1)?.reshape((n, h * hd))
}

/// `(t, t)` additive causal mask: 0 on and below the diagonal, −∞ above.
fn causal_mask(t: usize, device: &candle_core::Device) -> Result<Tensor> {
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| (0..t).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(mask, (t, t), device)
}

/// Keys and values of one attention, `(…, T, hd)` each.
#[derive(Debug, Clone)]
pub struct Kv {
    /// Keys.
    pub k: Tensor,
    /// Values.
    pub v: Tensor,
}

/// GPT-2's causal self-attention (`attn.c_attn: d → 3d`, `attn.c_proj: d → d`).
#[derive(Debug, Clone)]
pub struct SelfAttention {
    c_attn: Conv1D,
    c_proj: Conv1D,
    n_head: usize,
    d: usize,
    scale: f64,
}

impl SelfAttention {
    /// Read `c_attn`, `c_proj` under `vb` (block `layer`).
    pub fn load(vb: VarBuilder, cfg: &SmallCapConfig, layer: usize) -> Result<Self> {
        let d = cfg.n_embd;
        Ok(Self {
            c_attn: Conv1D::load(vb.pp("c_attn"), d, 3 * d)?,
            c_proj: Conv1D::load(vb.pp("c_proj"), d, d)?,
            n_head: cfg.n_head,
            d,
            scale: scale(cfg, cfg.head_dim(), layer),
        })
    }

    /// Full causal attention over `x (b, t, d)`; returns the output `(b, t, d)` and the keys
    /// and values `(b, h, t, hd)` (the prompt's cache).
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Kv)> {
        let qkv = self.c_attn.forward(x)?;
        let q = split_heads(&qkv.narrow(D::Minus1, 0, self.d)?, self.n_head)?;
        let k = split_heads(&qkv.narrow(D::Minus1, self.d, self.d)?, self.n_head)?;
        let v = split_heads(&qkv.narrow(D::Minus1, 2 * self.d, self.d)?, self.n_head)?;
        let t = q.dim(2)?;
        let scores =
            (q.matmul(&k.t()?)? * self.scale)?.broadcast_add(&causal_mask(t, x.device())?)?;
        let out = softmax_last_dim(&scores)?.matmul(&v)?;
        Ok((self.c_proj.forward(&merge_heads(&out)?)?, Kv { k, v }))
    }

    /// One new token per hypothesis, `x (n, d)`. `prefix` holds the prompt's keys/values
    /// `(h, T, hd)`, shared by all hypotheses; `own` each hypothesis' generated ones
    /// `(n, h, g, hd)` (`None` before the first), to which this token's are appended.
    pub fn step(&self, x: &Tensor, prefix: &Kv, own: &mut Option<Kv>) -> Result<Tensor> {
        let qkv = self.c_attn.forward(x)?;
        let (n, _) = x.dims2()?;
        let h = self.n_head;
        let hd = self.d / h;
        let q = step_heads(&qkv.narrow(1, 0, self.d)?, h)?; // (h, n, hd)
        let new_kv =
            |off: usize| -> Result<Tensor> { qkv.narrow(1, off, self.d)?.reshape((n, h, 1, hd)) };
        let (k_new, v_new) = (new_kv(self.d)?, new_kv(2 * self.d)?);
        let kv = match own.take() {
            None => Kv { k: k_new, v: v_new },
            Some(kv) => Kv {
                k: Tensor::cat(&[&kv.k, &k_new], 2)?,
                v: Tensor::cat(&[&kv.v, &v_new], 2)?,
            },
        };
        let t_prefix = prefix.k.dim(1)?;
        let g = kv.k.dim(2)?;
        let s_prefix = q.matmul(&prefix.k.t()?)?; // (h, n, T)
        let q_own = q.transpose(0, 1)?.unsqueeze(2)?.contiguous()?; // (n, h, 1, hd)
        let s_own = q_own.matmul(&kv.k.t()?)?.squeeze(2)?.transpose(0, 1)?; // (h, n, g)
        let scores = (Tensor::cat(&[&s_prefix, &s_own.contiguous()?], 2)? * self.scale)?;
        let w = softmax_last_dim(&scores)?;
        let out_prefix = w.narrow(2, 0, t_prefix)?.contiguous()?.matmul(&prefix.v)?;
        let w_own = w
            .narrow(2, t_prefix, g)?
            .transpose(0, 1)?
            .unsqueeze(2)?
            .contiguous()?; // (n, h, 1, g)
        let out_own = w_own.matmul(&kv.v)?.squeeze(2)?.transpose(0, 1)?; // (h, n, hd)
        *own = Some(kv);
        self.c_proj
            .forward(&unstep_heads(&(out_prefix + out_own)?)?)
    }
}

/// SmallCap's reduced cross-attention (`crossattention.{q_attn, c_attn, c_proj}`).
#[derive(Debug, Clone)]
pub struct CrossAttention {
    q_attn: Conv1D,
    c_attn: Conv1D,
    c_proj: Conv1D,
    n_head: usize,
    width: usize,
    scale: f64,
}

impl CrossAttention {
    /// Read `q_attn (d, d/r)`, `c_attn (d, 2d/r)`, `c_proj (d/r, d)` under `vb`.
    pub fn load(vb: VarBuilder, cfg: &SmallCapConfig, layer: usize) -> Result<Self> {
        let (d, w) = (cfg.n_embd, cfg.cross_dim());
        Ok(Self {
            q_attn: Conv1D::load(vb.pp("q_attn"), d, w)?,
            c_attn: Conv1D::load(vb.pp("c_attn"), d, 2 * w)?,
            c_proj: Conv1D::load(vb.pp("c_proj"), w, d)?,
            n_head: cfg.n_head,
            width: w,
            scale: scale(cfg, cfg.cross_head_dim(), layer),
        })
    }

    /// Keys and values of the image features `enc (b, S, d)`: `(b, h, S, (d/h)/r)` each.
    pub fn image_kv(&self, enc: &Tensor) -> Result<Kv> {
        let kv = self.c_attn.forward(enc)?;
        Ok(Kv {
            k: split_heads(&kv.narrow(D::Minus1, 0, self.width)?, self.n_head)?,
            v: split_heads(&kv.narrow(D::Minus1, self.width, self.width)?, self.n_head)?,
        })
    }

    /// Full layout: `x (b, t, d)` attends to `image (b, h, S, hd_r)`; returns `(b, t, d)`.
    pub fn forward(&self, x: &Tensor, image: &Kv) -> Result<Tensor> {
        let q = split_heads(&self.q_attn.forward(x)?, self.n_head)?;
        let w = softmax_last_dim(&(q.matmul(&image.k.t()?)? * self.scale)?)?;
        self.c_proj.forward(&merge_heads(&w.matmul(&image.v)?)?)
    }

    /// Step layout: `x (n, d)` — every hypothesis attends to the one image, `image (h, S,
    /// hd_r)`, shared; returns `(n, d)`.
    pub fn step(&self, x: &Tensor, image: &Kv) -> Result<Tensor> {
        let q = step_heads(&self.q_attn.forward(x)?, self.n_head)?; // (h, n, hd_r)
        let w = softmax_last_dim(&(q.matmul(&image.k.t()?)? * self.scale)?)?;
        self.c_proj.forward(&unstep_heads(&w.matmul(&image.v)?)?)
    }
}

/// The score scale: `1/√hd` (with `scale_attn_weights`), times `1/(layer+1)` (with
/// `scale_attn_by_inverse_layer_idx`).
fn scale(cfg: &SmallCapConfig, head_dim: usize, layer: usize) -> f64 {
    let mut s = 1.0;
    if cfg.scale_attn_weights {
        s /= (head_dim as f64).sqrt();
    }
    if cfg.scale_attn_by_inverse_layer_idx {
        s /= (layer + 1) as f64;
    }
    s
}
