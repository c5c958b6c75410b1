//! What a search is asked: the metric (fixed by the [`Datastore`](super::Datastore) when it
//! is built) and the per-call [`SearchOptions`]. The search itself runs on the datastore's
//! backend ([`crate::backend::Backend::search`]).

use crate::backend::{Exclusion, Progress, SearchTuning};

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

/// Per-call options of [`Datastore::search_with`](super::Datastore::search_with).
/// `Default`: no exclusion, automatic blocking, no progress.
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
}

impl<'a> SearchOptions<'a> {
    /// Skip `exclusion`'s rows.
    pub fn exclude(mut self, exclusion: &'a Exclusion) -> Self {
        self.exclusion = Some(exclusion);
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
            .finish()
    }
}
