//! Numeric primitives shared by the modules above them (vectorized exponentials and the
//! activations built on them).

#[cfg(feature = "models")]
pub(crate) mod activation;
pub(crate) mod exp;
