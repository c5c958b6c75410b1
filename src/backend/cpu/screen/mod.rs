//! Exact top-k at low-precision speed: screen every (query, row) pair with an int8 or bf16
//! score `ŝ` and a proven error bound `B` ([`bound`]), rescore only the rows that can still
//! be in the top-k with the f32 kernel of the plain search, select with the crate's tie rule.
//!
//! ## Algorithm
//!
//! 1. The datastore's [`QuantizedRows`] copy (int8 with a per-row scale, or bf16; built once,
//!    saved with the datastore) is packed in the panels of the search (`NR` rows).
//! 2. Queries are quantized the same way per search ([`quantize`]).
//! 3. *Screening pass* (blocked like [`crate::backend::cpu::search`]: query blocks x row
//!    ranges, `MR x NR` tiles in registers — `32 x NR` tiles in AMX tile registers — never a
//!    `q x m` matrix; kernels chosen at run time: AMX `tdpbusd` ([`amx`]), AVX512-VNNI
//!    `vpdpbusd` ([`vnni`]), AVX512-BF16 `vdpbf16ps` ([`bf16`]), or [`portable`]): for each
//!    pair,
//!    `lower = ŝ − B ≤ s ≤ ŝ + B = upper` ([`bound`]). Per query, the k largest lower bounds
//!    over non-excluded rows give a running threshold `L`; a row is a candidate while
//!    `upper ≥ L`. Candidate lists are pruned against the rising threshold.
//! 4. After the pass, `L` is the k-th largest lower bound over all non-excluded rows and
//!    exactly the candidates with `upper ≥ L` are kept.
//! 5. *Rescoring*: every kept row is scored by the f32 micro-kernel of the plain search on
//!    the f32 (or f16) rows — the same FMA chain, so the same bits — and the top-k is
//!    selected by [`TopK`] (higher score, then lower index).
//!
//! **Why the result equals the plain search.** Let `s_k` be the k-th best true score among
//! the non-excluded rows. The k rows behind `L` have `s ≥ lower ≥ L`, so `s_k ≥ L`. Every row
//! of the true top-k has `upper ≥ s ≥ s_k ≥ L` and is kept; the rescored scores are the plain
//! search's bits; the top-k of a superset of the top-k under a total order is the top-k.
//! With fewer than k non-excluded rows, `L = −∞`, every row is kept and the padding is the
//! plain search's. A query whose candidate list would exceed [`CANDIDATE_CAP`] rows (e.g.
//! thousands of duplicates of its k-th row), or whose norm is outside the bound's range, is
//! searched by the plain f32 search instead (reported as `plain_queries`).

pub(crate) mod amx;
pub(crate) mod bf16;
pub(crate) mod bound;
pub(crate) mod epilogue;
pub(crate) mod file;
pub(crate) mod portable;
pub(crate) mod quantize;
pub(crate) mod vnni;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::kernel::{self, MR, NR};
use super::search::{self, ExclusionCursors, Plan};
use crate::backend::topk::TopK;
use crate::backend::{Base, Exclusion, Matches, RowsRef, SearchTuning};
use crate::error::{Error, Result};
use crate::matrix::RowMatrix;
use epilogue::{Acc, QueryPanel, RowPanel};
use quantize::Quantized;

/// Most candidate rows one query may keep per task before it is searched by the plain f32
/// search instead (bounds the memory of adversarial data: `q x m` never exists).
pub const CANDIDATE_CAP: usize = 1 << 15;

/// Low-precision format of a datastore's screening copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScreenMode {
    /// int8 rows with a per-row scale (a quarter of the f32 bytes); `vpdpbusd` (AVX512-VNNI).
    Int8,
    /// bf16 rows (half of the f32 bytes); `vdpbf16ps` (AVX512-BF16).
    Bf16,
}

impl ScreenMode {
    /// `"int8"` or `"bf16"`.
    pub fn name(self) -> &'static str {
        match self {
            ScreenMode::Int8 => "int8",
            ScreenMode::Bf16 => "bf16",
        }
    }

    /// The kernel this CPU runs for the mode (`"amx-int8"`, `"avx512-vnni"`, `"avx512-bf16"`,
    /// `"portable"`); AMX needs `d` to be a multiple of 64 ([`Self::kernel_for_dim`]).
    pub fn kernel(self) -> &'static str {
        self.kernel_for_dim(64)
    }

    /// The kernel this CPU runs for the mode on rows of dimension `dim`.
    pub fn kernel_for_dim(self, dim: usize) -> &'static str {
        match self {
            ScreenMode::Int8 if amx::usable(dim.div_ceil(4)) => "amx-int8",
            ScreenMode::Int8 if vnni::available() => "avx512-vnni",
            ScreenMode::Bf16 if bf16::available() => "avx512-bf16",
            _ => "portable",
        }
    }

    /// Whether this CPU has the SIMD instruction of the mode (else the portable kernel runs).
    pub fn accelerated(self) -> bool {
        self.kernel() != "portable"
    }

    /// The fastest exact screening mode of this CPU: int8 with VNNI, else bf16 with
    /// AVX512-BF16, else none (the plain f32 search is faster than a portable screen).
    pub fn fastest() -> Option<ScreenMode> {
        if vnni::available() {
            Some(ScreenMode::Int8)
        } else if bf16::available() {
            Some(ScreenMode::Bf16)
        } else {
            None
        }
    }

    /// Whether a datastore of dimension `dim` can be screened in this mode.
    pub fn supports_dim(self, dim: usize) -> bool {
        dim > 0 && (self == ScreenMode::Bf16 || dim <= bound::MAX_DIM_INT8)
    }
}

impl std::str::FromStr for ScreenMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "int8" => Ok(ScreenMode::Int8),
            "bf16" => Ok(ScreenMode::Bf16),
            _ => Err(Error::invalid(
                "screen",
                format!("{s:?} is not int8 or bf16"),
            )),
        }
    }
}

/// What a screened search did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScreenStats {
    /// The screening format.
    pub mode: ScreenMode,
    /// The kernel that ran (`avx512-vnni`, `avx512-bf16`, `portable`).
    pub kernel: &'static str,
    /// Queries searched.
    pub queries: usize,
    /// Mean number of rows rescored in f32 per screened query.
    pub rescored_mean: f64,
    /// Most rows rescored for one query.
    pub rescored_max: usize,
    /// Queries searched by the plain f32 search (candidate cap or norm out of range).
    pub plain_queries: usize,
}

/// The low-precision copy of a datastore's rows, packed for the screening kernels, with the
/// per-row terms of the bound. Built once ([`QuantizedRows::build`]), saved with the
/// datastore.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedRows {
    mode: ScreenMode,
    rows: usize,
    dim: usize,
    pub(crate) groups: usize,
    /// Panels of NR rows, `[group][NR]` words.
    pub(crate) panels: Vec<u32>,
    /// Per row (padded to whole panels): int8 scale, `128·Σx̂`, `α`, `β`.
    pub(crate) scale: Vec<f32>,
    pub(crate) colsum128: Vec<i32>,
    pub(crate) alpha: Vec<f32>,
    pub(crate) beta: Vec<f32>,
}

impl QuantizedRows {
    /// Quantize every row of `base` (checked finite when the datastore was built).
    pub fn build(base: Base<'_>, mode: ScreenMode) -> Result<Self> {
        let (m, d) = (base.n_rows(), base.dim);
        if !mode.supports_dim(d) {
            return Err(Error::invalid(
                "screen",
                format!(
                    "{} screening supports 1 ≤ d ≤ {} (got d = {d})",
                    mode.name(),
                    bound::MAX_DIM_INT8
                ),
            ));
        }
        if m >= u32::MAX as usize {
            return Err(Error::invalid("screen", "more than 2^32 - 1 rows"));
        }
        let groups = d.div_ceil(quantize::per_word(mode));
        let n_panels = m.div_ceil(NR);
        let mut q = QuantizedRows {
            mode,
            rows: m,
            dim: d,
            groups,
            panels: vec![0u32; n_panels * groups * NR],
            scale: vec![0.0; n_panels * NR],
            colsum128: vec![0; n_panels * NR],
            alpha: vec![0.0; n_panels * NR],
            beta: vec![0.0; n_panels * NR],
        };
        q.panels
            .par_chunks_mut(groups * NR)
            .zip(q.scale.par_chunks_mut(NR))
            .zip(q.colsum128.par_chunks_mut(NR))
            .zip(q.alpha.par_chunks_mut(NR))
            .zip(q.beta.par_chunks_mut(NR))
            .enumerate()
            .for_each(|(p, ((((panel, scale), colsum), alpha), beta))| {
                for j in 0..NR.min(m - p * NR) {
                    let row = p * NR + j;
                    let x = base.rows.to_f32(row * d, (row + 1) * d);
                    let qx = quantize::quantize(&x, mode, true);
                    quantize::put_row(panel, j, &qx.words);
                    scale[j] = qx.scale;
                    colsum[j] = qx.sum * 128;
                    alpha[j] = qx.terms.alpha(mode, d);
                    beta[j] = qx.terms.beta();
                }
            });
        Ok(q)
    }

    /// The format.
    pub fn mode(&self) -> ScreenMode {
        self.mode
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Dimension of the rows.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Bytes held (packed values and per-row terms).
    pub fn bytes(&self) -> usize {
        4 * (self.panels.len()
            + self.scale.len()
            + self.colsum128.len()
            + self.alpha.len()
            + self.beta.len())
    }

    fn row_panel(&self, p: usize) -> RowPanel<'_> {
        let r = p * NR..(p + 1) * NR;
        RowPanel {
            scale: &self.scale[r.clone()],
            colsum128: &self.colsum128[r.clone()],
            alpha: &self.alpha[r.clone()],
            beta: &self.beta[r],
        }
    }
}

/// Per-query quantized data of one search.
struct Queries {
    words: Vec<Quantized>,
    sq: Vec<f32>,
    nq: Vec<f32>,
    eq: Vec<f32>,
}

/// The k largest lower bounds of each query (values only), descending.
struct LowerK {
    k: usize,
    len: Vec<usize>,
    vals: Vec<f32>,
    thr: Vec<f32>,
}

impl LowerK {
    fn new(rows: usize, k: usize) -> Self {
        LowerK {
            k,
            len: vec![0; rows],
            vals: vec![f32::NEG_INFINITY; rows * k],
            thr: vec![f32::NEG_INFINITY; rows],
        }
    }

    /// Offer `v` to row `r` (kept if among its k largest).
    fn push(&mut self, r: usize, v: f32) {
        let k = self.k;
        let len = self.len[r];
        let s = &mut self.vals[r * k..(r + 1) * k];
        if len == k && v <= s[k - 1] {
            return;
        }
        let mut pos = len.min(k - 1);
        while pos > 0 && v > s[pos - 1] {
            s[pos] = s[pos - 1];
            pos -= 1;
        }
        s[pos] = v;
        if len < k {
            self.len[r] = len + 1;
        }
        if self.len[r] == k {
            self.thr[r] = s[k - 1];
        }
    }

    fn row(&self, r: usize) -> &[f32] {
        &self.vals[r * self.k..r * self.k + self.len[r]]
    }
}

/// What one screening task found for its queries.
struct Screened {
    lower: LowerK,
    cands: Vec<Vec<(u32, f32)>>,
    plain: Vec<bool>,
}

/// The screened search on the CPU: same contract and results as
/// [`crate::backend::cpu::search::search`] (see the module docs), plus [`ScreenStats`].
pub(crate) fn search(
    queries: RowsRef<'_, f32>,
    base: Base<'_>,
    quantized: &QuantizedRows,
    k: usize,
    exclusion: Option<&Exclusion>,
    tuning: &SearchTuning<'_>,
) -> Result<(Matches, ScreenStats)> {
    let m = search::check_inputs(queries, base, k, exclusion)?;
    let (q, d) = (queries.rows(), base.dim);
    if quantized.rows != m || quantized.dim != d {
        return Err(Error::shape(
            "screening copy vs datastore",
            format!("{m} x {d}"),
            format!("{} x {}", quantized.rows, quantized.dim),
        ));
    }
    let mode = quantized.mode;
    let k_eff = k.min(m);
    let qs = quantize_queries(queries, mode);
    let plan = Plan::new(q, m, tuning);
    let n_tasks = plan.n_tasks();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let parts: Vec<Screened> = (0..n_tasks)
        .into_par_iter()
        .map(|t| {
            let (q0, q1, r0, r1) = plan.task(t);
            let s = screen_task(quantized, &qs, q0, q1, r0, r1, k_eff, exclusion);
            let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if let Some(p) = tuning.progress {
                p(finished as u64, n_tasks as u64);
            }
            s
        })
        .collect();
    // Merge the tasks of each query: the global threshold, then the kept candidates.
    let mut kept: Vec<Option<Vec<u32>>> = Vec::with_capacity(q);
    let mut parts = parts.into_iter();
    for b in 0..plan.n_blocks() {
        let blocks: Vec<Screened> = parts.by_ref().take(plan.n_ranges()).collect();
        let (q0, q1) = plan.block(b);
        for r in 0..q1 - q0 {
            if blocks.iter().any(|s| s.plain[r]) {
                kept.push(None);
                continue;
            }
            let mut lower = LowerK::new(1, k_eff);
            for s in &blocks {
                s.lower.row(r).iter().for_each(|&v| lower.push(0, v));
            }
            let l = lower.thr[0];
            let mut rows: Vec<u32> = blocks
                .iter()
                .flat_map(|s| s.cands[r].iter().filter(|c| c.1 >= l).map(|c| c.0))
                .collect();
            rows.sort_unstable();
            kept.push(Some(rows));
        }
    }
    // Rescore with the f32 micro-kernel, select with the tie rule.
    let qdata = queries.as_slice();
    let rescored: Vec<Option<TopK>> = kept
        .par_iter()
        .enumerate()
        .map(|(i, rows)| {
            rows.as_ref()
                .map(|rows| rescore(&qdata[i * d..(i + 1) * d], base, rows, k_eff))
        })
        .collect();
    let plain: Vec<usize> = (0..q).filter(|&i| kept[i].is_none()).collect();
    let counts: Vec<usize> = kept.iter().flatten().map(Vec::len).collect();
    let mut indices = vec![-1i64; q * k_eff];
    let mut scores = vec![f32::NEG_INFINITY; q * k_eff];
    for (i, top) in rescored.iter().enumerate() {
        if let Some(top) = top {
            let (s, ix) = top.row(0);
            let at = i * k_eff;
            scores[at..at + s.len()].copy_from_slice(s);
            for (o, &j) in indices[at..at + ix.len()].iter_mut().zip(ix) {
                *o = j as i64;
            }
        }
    }
    if !plain.is_empty() {
        let sub: Vec<f32> = plain
            .iter()
            .flat_map(|&i| qdata[i * d..(i + 1) * d].iter().copied())
            .collect();
        let sub_ex = exclusion.map(|ex| {
            Exclusion::per_query(plain.iter().map(|&i| ex.rows_of(i).to_vec()).collect())
        });
        let quiet = SearchTuning {
            progress: None,
            ..*tuning
        };
        let found = search::search(
            RowsRef::new(&sub, plain.len(), d)?,
            base,
            k,
            sub_ex.as_ref(),
            &quiet,
        )?;
        for (n, &i) in plain.iter().enumerate() {
            let at = i * k_eff;
            indices[at..at + k_eff].copy_from_slice(found.indices.row(n));
            scores[at..at + k_eff].copy_from_slice(found.scores.row(n));
        }
    }
    let stats = ScreenStats {
        mode,
        kernel: mode.kernel_for_dim(d),
        queries: q,
        rescored_mean: if counts.is_empty() {
            0.0
        } else {
            counts.iter().sum::<usize>() as f64 / counts.len() as f64
        },
        rescored_max: counts.iter().copied().max().unwrap_or(0),
        plain_queries: plain.len(),
    };
    let matches = Matches {
        indices: RowMatrix::from_vec(q, k_eff, indices)?,
        scores: RowMatrix::from_vec(q, k_eff, scores)?,
    };
    Ok((matches, stats))
}

fn quantize_queries(queries: RowsRef<'_, f32>, mode: ScreenMode) -> Queries {
    let words: Vec<Quantized> = (0..queries.rows())
        .into_par_iter()
        .map(|i| quantize::quantize(queries.row(i), mode, false))
        .collect();
    let mut qs = Queries {
        sq: Vec::with_capacity(words.len()),
        nq: Vec::with_capacity(words.len()),
        eq: Vec::with_capacity(words.len()),
        words: Vec::new(),
    };
    for w in &words {
        let (n, e) = w.terms.query();
        qs.sq.push(w.scale);
        qs.nq.push(n);
        qs.eq.push(e);
    }
    qs.words = words;
    qs
}

/// Screen queries `q0..q1` against rows `r0..r1` (`r0` a multiple of `NR`).
#[allow(clippy::too_many_arguments)]
fn screen_task(
    qr: &QuantizedRows,
    qs: &Queries,
    q0: usize,
    q1: usize,
    r0: usize,
    r1: usize,
    k: usize,
    exclusion: Option<&Exclusion>,
) -> Screened {
    let nq = q1 - q0;
    let groups = qr.groups;
    let delta = bound::delta(qr.dim);
    let mut out = Screened {
        lower: LowerK::new(nq, k),
        cands: vec![Vec::new(); nq],
        plain: (q0..q1).map(|i| !qs.words[i].terms.in_range).collect(),
    };
    if nq == 0 || r0 >= r1 {
        return out;
    }
    // AMX: tiles of 32 queries, row-major query words; else MR-query panels [group][MR].
    let amx = match qr.mode {
        ScreenMode::Int8 => amx::Session::start(groups),
        ScreenMode::Bf16 => None,
    };
    let pr = if amx.is_some() { amx::M } else { MR };
    let n_qp = nq.div_ceil(pr);
    let mut qpanels = vec![0u32; n_qp * groups * pr];
    for (p, panel) in qpanels.chunks_exact_mut(groups * pr).enumerate() {
        let members: Vec<&[u32]> = (q0 + p * pr..(q0 + (p + 1) * pr).min(q1))
            .map(|i| &qs.words[i].words[..])
            .collect();
        if amx.is_some() {
            for (r, w) in members.iter().enumerate() {
                panel[r * groups..(r + 1) * groups].copy_from_slice(w);
            }
        } else {
            quantize::pack_query_panel(&members, groups, panel);
        }
    }
    let mut cursors = ExclusionCursors::new(exclusion, q0, nq, r0);
    let mut next_prune = vec![1024usize; nq];
    let mut acc_i = vec![0i32; pr * NR];
    let mut acc_f = vec![0f32; pr * NR];
    let mut s_tile = vec![0f32; pr * NR];
    let mut b_tile = vec![0f32; pr * NR];
    let mut masks = vec![0u32; pr];
    for j0 in (r0..r1).step_by(NR) {
        let p = j0 / NR;
        let n = NR.min(r1 - j0);
        let valid = if n == NR { u32::MAX } else { (1u32 << n) - 1 };
        let rpanel = &qr.panels[p * groups * NR..(p + 1) * groups * NR];
        let rows = qr.row_panel(p);
        for (qp, qpanel) in qpanels.chunks_exact(groups * pr).enumerate() {
            let a = qp * pr;
            let nr = pr.min(nq - a);
            let acc = match qr.mode {
                ScreenMode::Int8 if amx.is_some() => {
                    if let Some(session) = &amx {
                        session.tile(groups, qpanel, rpanel, &mut acc_i);
                    }
                    Acc::Int8(&acc_i)
                }
                ScreenMode::Int8 => {
                    vnni::kernel_int8(groups, qpanel, rpanel, &mut acc_i);
                    Acc::Int8(&acc_i)
                }
                ScreenMode::Bf16 => {
                    bf16::kernel_bf16(groups, qpanel, rpanel, &mut acc_f);
                    Acc::Bf16(&acc_f)
                }
            };
            let (g0, g1) = (q0 + a, q0 + a + nr);
            let qpanel_terms = QueryPanel {
                sq: &qs.sq[g0..g1],
                nq: &qs.nq[g0..g1],
                eq: &qs.eq[g0..g1],
                thr: &out.lower.thr[a..a + nr],
            };
            epilogue::epilogue(
                acc,
                rows,
                qpanel_terms,
                delta,
                &mut s_tile,
                &mut b_tile,
                &mut masks[..nr],
            );
            for (r, &mask) in masks[..nr].iter().enumerate() {
                let ri = a + r;
                let mut mask = cursors.mask(ri, j0, j0 + n, mask & valid);
                if mask == 0 || out.plain[ri] {
                    continue;
                }
                while mask != 0 {
                    let j = mask.trailing_zeros() as usize;
                    mask &= mask - 1;
                    let (s, b) = (s_tile[r * NR + j], b_tile[r * NR + j]);
                    let lower = s - b;
                    if lower >= out.lower.thr[ri] {
                        out.lower.push(ri, lower);
                    }
                    out.cands[ri].push(((j0 + j) as u32, s + b));
                }
                if out.cands[ri].len() >= next_prune[ri].min(CANDIDATE_CAP + 1) {
                    let l = out.lower.thr[ri];
                    out.cands[ri].retain(|c| c.1 >= l);
                    let len = out.cands[ri].len();
                    if len > CANDIDATE_CAP {
                        out.plain[ri] = true;
                        out.cands[ri] = Vec::new();
                    } else {
                        next_prune[ri] = (2 * len).max(1024);
                    }
                }
            }
        }
    }
    out
}

/// The f32 scores of `query` against `rows` (ascending), by the plain search's packing and
/// FMA chains ([`kernel::query_panels`], bit-identical to the search's micro-kernel), and the
/// top `k` of them under the tie rule.
fn rescore(query: &[f32], base: Base<'_>, rows: &[u32], k: usize) -> TopK {
    const PANELS: usize = 4;
    let d = base.dim;
    let mut top = TopK::new(1, k);
    let mut panels = vec![0f32; PANELS * d * NR];
    let mut scores = [0f32; PANELS * NR];
    for group in rows.chunks(PANELS * NR) {
        let np = group.len().div_ceil(NR);
        for (p, chunk) in group.chunks(NR).enumerate() {
            let panel = &mut panels[p * d * NR..(p + 1) * d * NR];
            kernel::pack_rows_indexed(base.rows, d, chunk, panel);
        }
        kernel::query_panels(d, query, &panels, np, &mut scores);
        for (j, &row) in group.iter().enumerate() {
            top.push(0, scores[j], row as usize);
        }
    }
    top
}
