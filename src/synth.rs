//! Synthetic CLIP-like data. (Lands with issue 2.)
