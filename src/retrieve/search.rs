//! What a search is asked: the metric (fixed by the [`Datastore`](super::Datastore) when it
//! is built) and the per-call [`SearchOptions`]. The search itself runs on the datastore's
//! backend ([`crate::backend::Backend::search`]).

use crate::backend::{Exclusion, Progress, ScreenMode, SearchTuning};
use crate::error::{Error, Result};

/// How a query and a datastore row are scored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Similarity {
    /// Cosine similarity: queries are L2-normalized (a zero query is an error) and the
    /// datastore rows are unit-norm ([`Datastore::cosine`](super::Datastore::cosine)).
    #[default]
    Cosine,
    /// The raw inner product `q · x` of the rows as given
    /// ([`Datastore::inner_product`](super::Datastore::inner_product)).
    InnerProduct,
}

/// Whether a search screens the datastore at low precision before rescoring in f32
/// ([`crate::backend::ScreenMode`]). Every choice returns exactly the plain f32 search's
/// result (same indices, scores and order); only the speed differs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Screen {
    /// The fastest exact mode of this CPU ([`ScreenMode::fastest`]: int8 with AVX512-VNNI,
    /// bf16 with AVX512-BF16, else the plain search); the plain search on a non-CPU backend
    /// or a dimension the mode does not support.
    #[default]
    Auto,
    /// The plain f32 search.
    None,
    /// int8 screening (portable kernel without AVX512-VNNI).
    Int8,
    /// bf16 screening (portable kernel without AVX512-BF16).
    Bf16,
}

impl Screen {
    /// The mode to screen with for rows of dimension `dim` (`None`: plain search). An
    /// explicit mode the dimension does not support is an error.
    pub fn resolve(self, dim: usize) -> Result<Option<ScreenMode>> {
        let explicit = |mode: ScreenMode| {
            if mode.supports_dim(dim) {
                Ok(Some(mode))
            } else {
                Err(Error::invalid(
                    "screen",
                    format!("{} screening does not support dimension {dim}", mode.name()),
                ))
            }
        };
        match self {
            Screen::Auto => Ok(ScreenMode::fastest().filter(|m| m.supports_dim(dim))),
            Screen::None => Ok(None),
            Screen::Int8 => explicit(ScreenMode::Int8),
            Screen::Bf16 => explicit(ScreenMode::Bf16),
        }
    }
}

impl std::fmt::Display for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Screen::Auto => "auto",
            Screen::None => "none",
            Screen::Int8 => "int8",
            Screen::Bf16 => "bf16",
        })
    }
}

impl std::str::FromStr for Screen {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Screen::Auto),
            "none" => Ok(Screen::None),
            "int8" => Ok(Screen::Int8),
            "bf16" => Ok(Screen::Bf16),
            _ => Err(Error::invalid(
                "screen",
                format!("{s:?} is not auto, none, int8 or bf16"),
            )),
        }
    }
}

/// Per-call options of [`Datastore::search_with`](super::Datastore::search_with).
/// `Default`: no exclusion, automatic blocking, no progress, automatic screening.
#[derive(Clone, Copy, Default)]
pub struct SearchOptions<'a> {
    /// Datastore rows each query must skip.
    pub exclusion: Option<&'a Exclusion>,
    /// Queries per block (0 = automatic). Results do not depend on it.
    pub query_block: usize,
    /// Datastore rows per task (0 = automatic). Results do not depend on it.
    pub rows_per_task: usize,
    /// Called after each finished task with `(done, total)`.
    pub progress: Option<Progress<'a>>,
    /// Low-precision screening (results identical for every choice).
    pub screen: Screen,
}

impl<'a> SearchOptions<'a> {
    /// Skip `exclusion`'s rows.
    pub fn exclude(mut self, exclusion: &'a Exclusion) -> Self {
        self.exclusion = Some(exclusion);
        self
    }

    /// Screen with `screen`.
    pub fn screen(mut self, screen: Screen) -> Self {
        self.screen = screen;
        self
    }

    pub(crate) fn tuning(&self) -> SearchTuning<'a> {
        SearchTuning {
            query_block: self.query_block,
            rows_per_task: self.rows_per_task,
            progress: self.progress,
        }
    }
}

impl std::fmt::Debug for SearchOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchOptions")
            .field("exclusion", &self.exclusion.map(|e| e.n_queries()))
            .field("query_block", &self.query_block)
            .field("rows_per_task", &self.rows_per_task)
            .field("screen", &self.screen)
            .finish()
    }
}
