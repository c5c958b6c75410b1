//! T5 multi-head attention: no `1/√d` scaling (T5 folds it into the initialisation), an
//! additive relative-position bias computed by the first layer of a stack and reused by the
//! others, and cached keys/values.
//!
//! `attention(Q, K, V) = softmax(Q Kᵀ + bias + mask) V` per head.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::config::T5Config;
use super::layers::{linear, RmsNorm};
use super::position::bucket_grid;

/// The additive value of a masked score (`torch.finfo(float32).min`, as transformers uses).
pub const MASKED: f32 = f32::MIN;

/// The learned relative-position bias of a stack (`relative_attention_bias`, first layer).
#[derive(Debug, Clone)]
pub struct PositionBias {
    /// `(num_buckets, heads)` row-major.
    table: Vec<f32>,
    heads: usize,
    num_buckets: usize,
    max_distance: usize,
    bidirectional: bool,
}

impl PositionBias {
    /// Read `<vb>.relative_attention_bias.weight` `(num_buckets, heads)`.
    pub fn load(vb: &VarBuilder, cfg: &T5Config, bidirectional: bool) -> Result<Self> {
        let nb = cfg.relative_attention_num_buckets;
        let t = vb
            .pp("relative_attention_bias")
            .get((nb, cfg.num_heads), "weight")?;
        Ok(Self {
            table: t.flatten_all()?.to_vec1::<f32>()?,
            heads: cfg.num_heads,
            num_buckets: nb,
            max_distance: cfg.relative_attention_max_distance,
            bidirectional,
        })
    }

    /// The bias `(1, heads, queries, keys)` for queries at `first_query..first_query+queries`
    /// and keys at `0..keys`; with `causal`, keys after their query get [`MASKED`].
    pub fn bias(
        &self,
        first_query: usize,
        queries: usize,
        keys: usize,
        causal: bool,
    ) -> Result<Tensor> {
        let buckets = bucket_grid(
            first_query,
            queries,
            keys,
            self.bidirectional,
            self.num_buckets,
            self.max_distance,
        );
        let mut out = vec![0f32; self.heads * queries * keys];
        for h in 0..self.heads {
            let plane = &mut out[h * queries * keys..(h + 1) * queries * keys];
            for (i, (v, b)) in plane.iter_mut().zip(&buckets).enumerate() {
                let (q, k) = (i / keys, i % keys);
                *v = if causal && k > first_query + q {
                    MASKED
                } else {
                    self.table[*b as usize * self.heads + h]
                };
            }
        }
        Tensor::from_vec(
            out,
            (1, self.heads, queries, keys),
            &candle_core::Device::Cpu,
        )
    }
}

/// The projections of one attention block (`SelfAttention` / `EncDecAttention`).
#[derive(Debug, Clone)]
pub struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    heads: usize,
    d_kv: usize,
}

/// Keys and values `(batch, heads, len, d_kv)`.
#[derive(Debug, Clone)]
pub struct KeyValues {
    /// Keys.
    pub k: Tensor,
    /// Values.
    pub v: Tensor,
}

impl Attention {
    /// Read `<vb>.{q,k,v,o}.weight`.
    pub fn load(vb: &VarBuilder, cfg: &T5Config) -> Result<Self> {
        let inner = cfg.num_heads * cfg.d_kv;
        Ok(Self {
            q: linear(vb, cfg.d_model, inner, "q")?,
            k: linear(vb, cfg.d_model, inner, "k")?,
            v: linear(vb, cfg.d_model, inner, "v")?,
            o: linear(vb, inner, cfg.d_model, "o")?,
            heads: cfg.num_heads,
            d_kv: cfg.d_kv,
        })
    }

    /// `(b, t, heads·d_kv)` → `(b, heads, t, d_kv)`, contiguous.
    fn split(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        x.reshape((b, t, self.heads, self.d_kv))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// Keys and values of `x` `(b, t, d_model)`.
    pub fn key_values(&self, x: &Tensor) -> Result<KeyValues> {
        Ok(KeyValues {
            k: self.split(&self.k.forward(x)?)?,
            v: self.split(&self.v.forward(x)?)?,
        })
    }

    /// Queries `(b, heads, t, d_kv)`.
    pub fn queries(&self, x: &Tensor) -> Result<Tensor> {
        self.split(&self.q.forward(x)?)
    }

    /// `o · concat_h softmax(Q Kᵀ + bias) V` with `q (b, H, t, d)`, `kv (b, H, s, d)` and `bias`
    /// broadcastable to `(b, H, t, s)`; returns `(b, t, d_model)`.
    pub fn attend(&self, q: &Tensor, kv: &KeyValues, bias: &Tensor) -> Result<Tensor> {
        let (b, _, t, _) = q.dims4()?;
        let scores = q.matmul(&kv.k.t()?)?.broadcast_add(bias)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs.matmul(&kv.v)?; // (b, H, t, d)
        let out = out
            .transpose(1, 2)?
            .reshape((b, t, self.heads * self.d_kv))?;
        self.o.forward(&out)
    }

    /// Attention of `n` hypotheses' queries `q (n, H, t, d)` over ONE prompt's keys/values
    /// `kv (1, H, s, d)` (broadcast, never copied) with `bias` broadcastable to `(1, H, 1, s)`:
    /// the hypotheses are folded into the query rows, `(H, n·t, d) × (H, d, s)`.
    pub fn attend_shared(&self, q: &Tensor, kv: &KeyValues, bias: &Tensor) -> Result<Tensor> {
        let (n, h, t, d) = q.dims4()?;
        let qf = q.transpose(0, 1)?.reshape((h, n * t, d))?; // (H, n·t, d)
        let k = kv.k.squeeze(0)?; // (H, s, d)
        let v = kv.v.squeeze(0)?;
        let bias = bias.squeeze(0)?; // (H|1, 1, s)
        let scores = qf.matmul(&k.t()?)?.broadcast_add(&bias)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs.matmul(&v)?; // (H, n·t, d)
        let out = out
            .reshape((h, n, t, d))?
            .permute((1, 2, 0, 3))?
            .reshape((n, t, h * d))?;
        self.o.forward(&out)
    }
}

/// Pre-norm residual attention sub-layer: `x + attn(norm(x), ...)`.
#[derive(Debug, Clone)]
pub struct AttentionLayer {
    /// `layer_norm`.
    pub norm: RmsNorm,
    /// The attention block.
    pub attn: Attention,
}

impl AttentionLayer {
    /// Read `<vb>.layer_norm` and `<vb>.<block>` (`SelfAttention` / `EncDecAttention`).
    pub fn load(vb: &VarBuilder, cfg: &T5Config, block: &str) -> Result<Self> {
        Ok(Self {
            norm: RmsNorm::load(&vb.pp("layer_norm"), cfg.d_model, cfg.layer_norm_epsilon)?,
            attn: Attention::load(&vb.pp(block), cfg)?,
        })
    }
}

/// Concatenate cached keys/values with new ones along the time axis.
pub fn append(cache: Option<&KeyValues>, new: KeyValues) -> Result<KeyValues> {
    match cache {
        None => Ok(new),
        Some(c) => Ok(KeyValues {
            k: Tensor::cat(&[&c.k, &new.k], 2)?,
            v: Tensor::cat(&[&c.v, &new.v], 2)?,
        }),
    }
}

/// The additive padding mask `(b, 1, 1, s)` of a `(b, s)` 0/1 mask: 0 where 1, [`MASKED`]
/// where 0.
pub fn padding_bias(mask: &Tensor) -> Result<Tensor> {
    let (b, s) = mask.dims2()?;
    let m = mask.to_dtype(candle_core::DType::F32)?;
    let bias = ((m - 1.0)? * (-(MASKED as f64)))?; // 0 → MASKED, 1 → 0
    bias.reshape((b, 1, 1, s))
}
