//! (Lands with its issue.)
