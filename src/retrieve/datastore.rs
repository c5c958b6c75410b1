//! The caption datastore: unit-norm embeddings (f32 or f16) plus optional caption records.
//!
//! Rows are L2-normalized once when added (cosine search then only normalizes queries);
//! raw inner-product datastores keep rows as given. A row with a NaN/Inf value is rejected
//! when it is added ([`Error::NonFinite`] naming the row), so a search can never produce a
//! NaN score from the datastore side. With [`Storage::F16`] the rows are rounded to f16
//! (half the memory); scores are still accumulated in f32 from the f16 values.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use half::f16;
use serde::{Deserialize, Serialize};

use super::search::{SearchOptions, Similarity};
use crate::backend::cpu::screen::file as screen_file;
use crate::backend::{
    Backend, Base, Device, Matches, QuantizedRows, RowsMut, RowsRef, ScreenMode, ScreenStats,
    StoredRows,
};
use crate::error::{Error, Result};
use crate::io::atomic::write_json_atomic;
use crate::io::captions::{read_records, CaptionRecord};
use crate::matrix::{check_finite_rows, l2_normalize_rows, RowMatrix};

/// Element type of the stored embeddings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Storage {
    /// 4 bytes per value (exact).
    #[default]
    F32,
    /// 2 bytes per value; values rounded to the nearest f16 (relative error ≤ 2⁻¹¹), scores
    /// accumulated in f32 from the rounded values. For unit-norm rows and queries a cosine
    /// score moves by at most `2⁻¹¹ + 1e-6·√d` from the f32 score (Cauchy–Schwarz), so the
    /// top-k equals the f32 top-k except for rows whose scores are within twice that of the
    /// k-th score (near-ties). Values beyond ±65504 are rejected.
    F16,
}

#[derive(Clone, Debug)]
enum Embeddings {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

/// The low-precision screening copies of the rows, built on first use (or loaded).
#[derive(Clone, Default)]
struct Screens {
    int8: OnceLock<Arc<QuantizedRows>>,
    bf16: OnceLock<Arc<QuantizedRows>>,
}

impl Screens {
    fn slot(&self, mode: ScreenMode) -> &OnceLock<Arc<QuantizedRows>> {
        match mode {
            ScreenMode::Int8 => &self.int8,
            ScreenMode::Bf16 => &self.bf16,
        }
    }
}

/// Embeddings of the captions a query can retrieve, with their records, and the device its
/// searches run on (the CPU unless [`Datastore::on`] says otherwise).
///
/// A datastore also keeps the low-precision copies of its rows that screened searches use
/// ([`Datastore::screen_copy`]: int8, a quarter of the f32 bytes, or bf16), built once on
/// first use and saved with it.
#[derive(Clone)]
pub struct Datastore {
    dim: usize,
    normalized: bool,
    embeddings: Embeddings,
    captions: Option<Vec<CaptionRecord>>,
    backend: Arc<dyn Backend>,
    screens: Screens,
}

impl std::fmt::Debug for Datastore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Datastore")
            .field("rows", &self.rows())
            .field("dim", &self.dim)
            .field("similarity", &self.similarity())
            .field("storage", &self.storage())
            .field("captions", &self.captions.as_ref().map(|c| c.len()))
            .field("backend", &self.backend.name())
            .finish()
    }
}

impl Datastore {
    /// A datastore of unit-norm rows for cosine search: every row of `embeddings` is checked
    /// for NaN/Inf and L2-normalized (a zero row is [`Error::ZeroVector`] naming it).
    pub fn cosine(embeddings: RowMatrix<f32>, storage: Storage) -> Result<Self> {
        Self::build(embeddings, storage, true)
    }

    /// A datastore for raw inner-product search: rows kept as given (checked finite).
    pub fn inner_product(embeddings: RowMatrix<f32>, storage: Storage) -> Result<Self> {
        Self::build(embeddings, storage, false)
    }

    /// Build from an `.npy` file (or `file.npz:member`) streamed in chunks of rows, so the
    /// peak memory is the final datastore plus one chunk (an f16 datastore never holds the
    /// f32 matrix). `normalize` picks [`Datastore::cosine`] or
    /// [`Datastore::inner_product`] semantics.
    pub fn from_npy(path: impl AsRef<Path>, normalize: bool, storage: Storage) -> Result<Self> {
        let mut reader = crate::io::npy::RowChunkReader::open(path.as_ref(), 16_384)?;
        let dim = reader.cols();
        if dim == 0 {
            return Err(Error::invalid("datastore", "embedding dimension is 0"));
        }
        let total = reader.rows() * dim;
        let mut ds = Datastore {
            dim,
            normalized: normalize,
            embeddings: match storage {
                Storage::F32 => Embeddings::F32(Vec::with_capacity(total)),
                Storage::F16 => Embeddings::F16(Vec::with_capacity(total)),
            },
            captions: None,
            backend: crate::backend::cpu(),
            screens: Screens::default(),
        };
        while let Some(chunk) = reader.next_chunk()? {
            ds.append_rows(chunk.data.to_vec(), dim)?;
        }
        Ok(ds)
    }

    fn build(embeddings: RowMatrix<f32>, storage: Storage, normalize: bool) -> Result<Self> {
        let dim = embeddings.cols();
        if dim == 0 {
            return Err(Error::invalid("datastore", "embedding dimension is 0"));
        }
        let mut ds = Datastore {
            dim,
            normalized: normalize,
            embeddings: match storage {
                Storage::F32 => Embeddings::F32(Vec::new()),
                Storage::F16 => Embeddings::F16(Vec::new()),
            },
            captions: None,
            backend: crate::backend::cpu(),
            screens: Screens::default(),
        };
        ds.append_rows(embeddings.into_vec(), dim)?;
        Ok(ds)
    }

    /// Attach one caption record per row (replacing any). Fails if the count differs.
    pub fn with_captions(mut self, captions: Vec<CaptionRecord>) -> Result<Self> {
        self.check_caption_count(captions.len(), self.rows())?;
        self.captions = Some(captions);
        Ok(self)
    }

    /// Attach the captions of a [`CaptionSet`](crate::io::captions::CaptionSet) sidecar
    /// (caption row `r` = datastore row `r`).
    pub fn with_caption_set(self, set: &crate::io::captions::CaptionSet) -> Result<Self> {
        self.with_captions(set.captions().to_vec())
    }

    /// Number of rows (`m`).
    pub fn rows(&self) -> usize {
        match &self.embeddings {
            Embeddings::F32(v) => v.len() / self.dim,
            Embeddings::F16(v) => v.len() / self.dim,
        }
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Whether rows are unit-norm (cosine datastore).
    pub fn is_normalized(&self) -> bool {
        self.normalized
    }

    /// The metric every search of this datastore uses (fixed when it is built).
    pub fn similarity(&self) -> Similarity {
        if self.normalized {
            Similarity::Cosine
        } else {
            Similarity::InnerProduct
        }
    }

    /// Search on `backend` from now on (results are the same on every backend up to f32
    /// rounding of the scores).
    pub fn on(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = backend;
        self
    }

    /// Search on `device` from now on ([`Device::resolve`]: `auto` falls back to the CPU
    /// with the reason on stderr; `cuda` without a usable GPU is an error).
    pub fn with_device(self, device: Device) -> Result<Self> {
        Ok(self.on(device.resolve()?))
    }

    /// The backend searches run on.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The storage type.
    pub fn storage(&self) -> Storage {
        match self.embeddings {
            Embeddings::F32(_) => Storage::F32,
            Embeddings::F16(_) => Storage::F16,
        }
    }

    /// Bytes held by the embeddings.
    pub fn embedding_bytes(&self) -> usize {
        match &self.embeddings {
            Embeddings::F32(v) => v.len() * 4,
            Embeddings::F16(v) => v.len() * 2,
        }
    }

    /// The caption records, if attached.
    pub fn captions(&self) -> Option<&[CaptionRecord]> {
        self.captions.as_deref()
    }

    /// The stored rows as the backend sees them.
    pub fn base(&self) -> Base<'_> {
        let rows = match &self.embeddings {
            Embeddings::F32(v) => StoredRows::F32(v),
            Embeddings::F16(v) => StoredRows::F16(v),
        };
        Base {
            rows,
            dim: self.dim,
        }
    }

    /// Row `i` as f32 (converted from f16 if stored so).
    pub fn row_f32(&self, i: usize) -> Result<Vec<f32>> {
        if i >= self.rows() {
            return Err(Error::IndexOutOfRange {
                what: "datastore row".into(),
                index: i,
                len: self.rows(),
            });
        }
        let (a, b) = (i * self.dim, (i + 1) * self.dim);
        Ok(match &self.embeddings {
            Embeddings::F32(v) => v[a..b].to_vec(),
            Embeddings::F16(v) => v[a..b].iter().map(|x| x.to_f32()).collect(),
        })
    }

    /// All rows as an f32 matrix (a copy).
    pub fn to_f32(&self) -> RowMatrix<f32> {
        let data = match &self.embeddings {
            Embeddings::F32(v) => v.clone(),
            Embeddings::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
        };
        RowMatrix::from_vec(self.rows(), self.dim, data).expect("consistent by construction")
    }

    /// The same datastore with another storage type (f32 → f16 rounds every value to the
    /// nearest f16; f16 → f32 is exact). Converts row by row: no f32 copy of an f16 store.
    pub fn to_storage(&self, storage: Storage) -> Result<Datastore> {
        let embeddings = match (&self.embeddings, storage) {
            (Embeddings::F32(v), Storage::F16) => {
                if let Some(pos) = v.iter().position(|x| x.abs() > f16::MAX.to_f32()) {
                    return Err(Error::invalid(
                        "datastore",
                        format!(
                            "row {} has a value beyond the f16 range (|x| > 65504)",
                            pos / self.dim
                        ),
                    ));
                }
                Embeddings::F16(v.iter().map(|&x| f16::from_f32(x)).collect())
            }
            (Embeddings::F16(v), Storage::F32) => {
                Embeddings::F32(v.iter().map(|x| x.to_f32()).collect())
            }
            (e, _) => e.clone(),
        };
        Ok(Datastore {
            dim: self.dim,
            normalized: self.normalized,
            embeddings,
            captions: self.captions.clone(),
            backend: Arc::clone(&self.backend),
            screens: Screens::default(),
        })
    }

    /// Append rows (the datastore-augmentation loop): checked, normalized like the rest.
    /// With caption records attached, `captions` must give one per new row; without, it must
    /// be `None`.
    pub fn append(
        &mut self,
        embeddings: RowMatrix<f32>,
        captions: Option<Vec<CaptionRecord>>,
    ) -> Result<()> {
        if embeddings.cols() != self.dim {
            return Err(Error::shape(
                "appended rows vs datastore dimension",
                format!("{} columns", self.dim),
                format!("{} columns", embeddings.cols()),
            ));
        }
        match (&self.captions, &captions) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::invalid(
                    "captions",
                    "append must give caption records exactly when the datastore has them",
                ))
            }
            (Some(_), Some(c)) => self.check_caption_count(c.len(), embeddings.rows())?,
            (None, None) => {}
        }
        self.append_rows(embeddings.into_vec(), self.dim)?;
        if let (Some(all), Some(new)) = (&mut self.captions, captions) {
            all.extend(new);
        }
        Ok(())
    }

    /// Replace all rows and records (domain transfer: same dimension, new corpus), keeping
    /// the storage type and metric. Returns the previous datastore.
    pub fn swap(&mut self, other: Datastore) -> Result<Datastore> {
        if other.dim != self.dim || other.normalized != self.normalized {
            return Err(Error::invalid(
                "datastore",
                "swap needs the same dimension and metric",
            ));
        }
        Ok(std::mem::replace(self, other))
    }

    /// The `k` best rows for every query under the datastore's [`Similarity`], best first (see
    /// [`Matches`] for the layout and padding).
    ///
    /// Errors: `k = 0`; a query width other than [`Self::dim`]; a NaN/Inf query
    /// ([`Error::NonFinite`] naming the row); a zero query under cosine
    /// ([`Error::ZeroVector`] naming the row).
    ///
    /// ```
    /// use recap::retrieve::{Datastore, Storage};
    /// use recap::RowMatrix;
    /// let captions = RowMatrix::from_vec(3, 2, vec![1f32, 0., 0., 1., 1., 1.])?;
    /// let ds = Datastore::cosine(captions, Storage::F32)?;
    /// let query = RowMatrix::from_vec(1, 2, vec![0.9f32, 0.1])?;
    /// let found = ds.search(&query, 2)?;
    /// assert_eq!(found.indices.row(0), &[0, 2]);
    /// # Ok::<(), recap::Error>(())
    /// ```
    pub fn search(&self, queries: &RowMatrix<f32>, k: usize) -> Result<Matches> {
        self.search_with(queries, k, &SearchOptions::default())
    }

    /// [`Self::search`] with exclusion sets, blocking, progress or a screening choice.
    pub fn search_with(
        &self,
        queries: &RowMatrix<f32>,
        k: usize,
        opts: &SearchOptions<'_>,
    ) -> Result<Matches> {
        self.search_report(queries, k, opts).map(|(m, _)| m)
    }

    /// The low-precision copy of the rows for `mode`: built on first use (one pass over the
    /// rows), then kept (and written by [`Self::save`]). Appending rows drops it.
    pub fn screen_copy(&self, mode: ScreenMode) -> Result<&QuantizedRows> {
        let slot = self.screens.slot(mode);
        if slot.get().is_none() {
            let built = Arc::new(QuantizedRows::build(self.base(), mode)?);
            // Another thread may have built it meanwhile: both copies are equal.
            let _ = slot.set(built);
        }
        Ok(slot.get().expect("set above"))
    }

    /// Whether the copy for `mode` exists (built or loaded).
    pub fn has_screen_copy(&self, mode: ScreenMode) -> bool {
        self.screens.slot(mode).get().is_some()
    }

    /// [`Self::search_with`], also saying what the screen did (`None`: the plain f32 search
    /// ran, because `opts.screen` asked for it, [`crate::retrieve::Screen::Auto`] found no fast mode, or
    /// the backend has no screened search). Results are identical either way.
    pub fn search_report(
        &self,
        queries: &RowMatrix<f32>,
        k: usize,
        opts: &SearchOptions<'_>,
    ) -> Result<(Matches, Option<ScreenStats>)> {
        let (q, d) = queries.shape();
        if d != self.dim {
            return Err(Error::shape(
                "queries vs datastore dimension",
                format!("{} columns", self.dim),
                format!("{d} columns"),
            ));
        }
        let normalized;
        let rows: &[f32] = match self.similarity() {
            Similarity::Cosine => {
                let mut copy = queries.as_slice().to_vec();
                check_finite_rows(&copy, d, "queries", 0)?;
                self.backend
                    .normalize_rows(RowsMut::new(&mut copy, q, d)?, "queries", 0)?;
                normalized = copy;
                &normalized
            }
            Similarity::InnerProduct => queries.as_slice(),
        };
        let queries = RowsRef::new(rows, q, d)?;
        let tuning = opts.tuning();
        let mode = opts.screen.resolve(d)?;
        if let Some(mode) = mode.filter(|_| self.backend.supports_screening()) {
            if k == 0 {
                return Err(Error::invalid("k", "must be at least 1"));
            }
            let copy = self.screen_copy(mode)?;
            if let Some((m, stats)) = self.backend.screened_search(
                queries,
                self.base(),
                copy,
                k,
                opts.exclusion,
                &tuning,
            )? {
                return Ok((m, Some(stats)));
            }
        }
        let m = self
            .backend
            .search(queries, self.base(), k, opts.exclusion, &tuning)?;
        Ok((m, None))
    }

    fn append_rows(&mut self, mut data: Vec<f32>, dim: usize) -> Result<()> {
        let offset = self.rows();
        self.screens = Screens::default();
        check_finite_rows(&data, dim, "datastore", offset)?;
        if self.normalized {
            l2_normalize_rows(&mut data, dim, "datastore", offset)?;
        }
        match &mut self.embeddings {
            Embeddings::F32(v) => {
                if v.is_empty() && v.capacity() < data.len() {
                    *v = data;
                } else {
                    v.extend_from_slice(&data);
                }
            }
            Embeddings::F16(v) => {
                if let Some(pos) = data.iter().position(|x| x.abs() > f16::MAX.to_f32()) {
                    return Err(Error::invalid(
                        "datastore",
                        format!(
                            "row {} has a value beyond the f16 range (|x| > 65504); use f32 storage",
                            offset + pos / dim
                        ),
                    ));
                }
                v.reserve(data.len());
                v.extend(data.iter().map(|&x| f16::from_f32(x)));
            }
        }
        Ok(())
    }

    fn check_caption_count(&self, records: usize, rows: usize) -> Result<()> {
        if records != rows {
            return Err(Error::shape(
                "caption records vs datastore rows",
                format!("{rows} records"),
                format!("{records} records"),
            ));
        }
        Ok(())
    }

    /// Save to a directory (created if missing): `embeddings.npy` (f32, the stored values;
    /// f16 storage is widened exactly), `datastore.json` (format, rows, dim, metric,
    /// storage, screening copies) and, with records, `captions.json`
    /// (`[{"id", "image_id", "text"}, ...]`), and each screening copy that exists
    /// (`screen_int8.bin`, `screen_bf16.bin`; see [`Self::screen_copy`]). Every file is
    /// written atomically.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        crate::io::npy::write_f32(dir.join("embeddings.npy"), &self.to_f32())?;
        if let Some(c) = &self.captions {
            write_json_atomic(dir.join("captions.json"), c)?;
        }
        let mut screens = Vec::new();
        for mode in [ScreenMode::Int8, ScreenMode::Bf16] {
            if let Some(copy) = self.screens.slot(mode).get() {
                let fp = screen_file::rows_fingerprint(self.base().rows);
                screen_file::save(copy, fp, &dir.join(screen_file_name(mode)))?;
                screens.push(mode);
            }
        }
        let meta = SavedMeta {
            format: SAVED_FORMAT.to_string(),
            rows: self.rows(),
            dim: self.dim,
            normalized: self.normalized,
            storage: self.storage(),
            captions: self.captions.is_some(),
            screens,
        };
        write_json_atomic(dir.join("datastore.json"), &meta)
    }

    /// Load a directory written by [`Datastore::save`]. Rows are taken as saved (not
    /// re-normalized, so a round trip is bit-exact) after a finiteness check.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let meta_path = dir.join("datastore.json");
        let meta: SavedMeta = serde_json::from_value(crate::io::captions::read_json(&meta_path)?)
            .map_err(|e| Error::Json {
            path: meta_path.clone(),
            source: e,
        })?;
        if meta.format != SAVED_FORMAT {
            return Err(Error::format(
                &meta_path,
                format!("unknown format {:?}", meta.format),
            ));
        }
        let emb = crate::io::npy::read_f32(dir.join("embeddings.npy"))?;
        if emb.shape() != (meta.rows, meta.dim) {
            return Err(Error::shape(
                "embeddings.npy vs datastore.json",
                format!("{} x {}", meta.rows, meta.dim),
                format!("{} x {}", emb.rows(), emb.cols()),
            ));
        }
        let mut ds = Datastore {
            dim: meta.dim,
            normalized: false,
            embeddings: match meta.storage {
                Storage::F32 => Embeddings::F32(Vec::new()),
                Storage::F16 => Embeddings::F16(Vec::new()),
            },
            captions: None,
            backend: crate::backend::cpu(),
            screens: Screens::default(),
        };
        ds.append_rows(emb.into_vec(), meta.dim)?;
        ds.normalized = meta.normalized;
        if !meta.screens.is_empty() {
            let fp = screen_file::rows_fingerprint(ds.base().rows);
            for &mode in &meta.screens {
                let path = dir.join(screen_file_name(mode));
                let copy = screen_file::load(&path, ds.rows(), ds.dim, fp)?;
                if copy.mode() != mode {
                    return Err(Error::format(&path, "holds another screening mode"));
                }
                let _ = ds.screens.slot(mode).set(Arc::new(copy));
            }
        }
        if meta.captions {
            ds = ds.with_captions(read_records(dir.join("captions.json"))?)?;
        }
        Ok(ds)
    }
}

const SAVED_FORMAT: &str = "recap-datastore-1";

#[derive(Serialize, Deserialize)]
struct SavedMeta {
    format: String,
    rows: usize,
    dim: usize,
    normalized: bool,
    storage: Storage,
    captions: bool,
    /// Screening copies saved next to the embeddings (absent in older files).
    #[serde(default)]
    screens: Vec<ScreenMode>,
}

fn screen_file_name(mode: ScreenMode) -> String {
    format!("screen_{}.bin", mode.name())
}
