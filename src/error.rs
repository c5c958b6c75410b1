//! The crate's one error type.
//!
//! Every fallible function returns [`Result<T>`]. Variants carry the data a user needs to
//! act on the problem: the file path, the offending shape, the row index.

use std::path::PathBuf;

/// Result alias used throughout recap.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in recap.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error on a file.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A `.npy`/`.npz` file (or member) that is malformed or unsupported.
    #[error("{path}: {problem}")]
    Npy {
        /// The file (for `.npz` members: `file.npz:member`).
        path: PathBuf,
        /// What is wrong: a matchable kind whose `Display` is the message.
        problem: crate::io::npy::NpyProblem,
    },

    /// A JSON or text caption file that does not have the expected structure.
    #[error("{path}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words.
        problem: String,
    },

    /// A non-finite value (NaN or ±Inf) in input that must be finite.
    #[error("{what}: row {row} contains a non-finite value (column {col})")]
    NonFinite {
        /// Which input (file path or argument name).
        what: String,
        /// Row index (0-based).
        row: usize,
        /// Column index (0-based) of the first non-finite value in that row.
        col: usize,
    },

    /// A zero-norm row where a direction is needed (L2 normalization, cosine).
    #[error("{what}: row {row} has zero norm and cannot be normalized")]
    ZeroVector {
        /// Which input.
        what: String,
        /// Row index (0-based).
        row: usize,
    },

    /// Two inputs whose shapes do not fit together.
    #[error("shape mismatch: {what}: expected {expected}, got {got}")]
    Shape {
        /// What was being combined.
        what: String,
        /// The shape that was needed.
        expected: String,
        /// The shape that was given.
        got: String,
    },

    /// An argument outside its valid range (k = 0, λ < 0, empty input, ...).
    #[error("invalid argument {name}: {problem}")]
    InvalidArgument {
        /// The argument's name as the user wrote it.
        name: String,
        /// Why it is invalid.
        problem: String,
    },

    /// An index (row, id, member) that does not exist.
    #[error("{what}: index {index} out of range (len {len})")]
    IndexOutOfRange {
        /// Which collection.
        what: String,
        /// The index given.
        index: usize,
        /// The collection's length.
        len: usize,
    },

    /// A numerical failure: singular or indefinite matrix, no convergence.
    #[error("numerical failure in {operation}: {problem}")]
    Numerical {
        /// The operation (e.g. "Cholesky of XᵀX").
        operation: String,
        /// What happened and what to do about it.
        problem: String,
    },

    /// Cholesky factorization met a non-positive pivot: the matrix is not (numerically)
    /// symmetric positive definite.
    #[error("{operation}: matrix is not positive definite (pivot {pivot}); add a ridge penalty or check for duplicate/constant columns")]
    NotPositiveDefinite {
        /// The factorization (e.g. "Cholesky (cuSOLVER potrf)").
        operation: String,
        /// 0-based index of the failing pivot.
        pivot: usize,
    },

    /// A requested external tool (e.g. the METEOR jar, Java) is not available.
    #[error("{tool} unavailable: {reason}")]
    ToolUnavailable {
        /// The tool.
        tool: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// The CUDA backend cannot be used (no feature, driver, device or library).
    #[error("CUDA unavailable: {reason}")]
    CudaUnavailable {
        /// Why.
        reason: String,
    },

    /// A CUDA call that failed after the backend was up.
    #[error("CUDA error in {operation}: {problem}")]
    Cuda {
        /// The call.
        operation: String,
        /// The driver/library message, or the NVRTC compile log.
        problem: String,
    },

    /// A model that cannot be loaded or run: a missing or mis-shaped weight tensor, a missing
    /// file of the model directory, an unsupported architecture, a tensor operation that
    /// failed. `model` names the model (its directory or Hugging Face id).
    #[error("model {model}: {problem}")]
    Model {
        /// The model directory or id.
        model: String,
        /// What is wrong (for a tensor: its full name and the shapes).
        problem: String,
    },

    /// A language-model server that could not be used: connection refused, an HTTP error
    /// status, a timeout, a malformed reply, fewer candidates than asked.
    #[error("LM server {url}: {problem}")]
    Http {
        /// The endpoint.
        url: String,
        /// What went wrong (with the server's status and message where there was one).
        problem: String,
    },

    /// An image file that cannot be read or decoded.
    #[error("{path}: cannot decode image: {problem}")]
    Image {
        /// The image file.
        path: PathBuf,
        /// The decoder's message.
        problem: String,
    },

    /// JSON (de)serialization failure with the file it came from.
    #[error("{path}: JSON error: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// Build an [`Error::Io`] from a path and an I/O error.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Build an [`Error::Npy`] (a `&str`/`String` problem becomes `NpyProblem::Other`).
    pub fn npy(path: impl Into<PathBuf>, problem: impl Into<crate::io::npy::NpyProblem>) -> Self {
        Error::Npy {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// Build an [`Error::Format`].
    pub fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// Build an [`Error::InvalidArgument`].
    pub fn invalid(name: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::InvalidArgument {
            name: name.into(),
            problem: problem.into(),
        }
    }

    /// Build an [`Error::Shape`].
    pub fn shape(
        what: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        Error::Shape {
            what: what.into(),
            expected: expected.into(),
            got: got.into(),
        }
    }

    /// Build an [`Error::Numerical`].
    pub fn numerical(operation: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Numerical {
            operation: operation.into(),
            problem: problem.into(),
        }
    }
}
