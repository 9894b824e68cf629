//! Spelling-forgiving search: every place name is matched through one romanised, normalised key
//! (see [`migration::search_key`] for the folding rules), so `sivpur`, `shivpur` and शिवपुर
//! find the same village.
//!
//! Whoever writes a village's names writes its key with [`search_key`]: the seeds, the
//! migration that added the column (for the rows that existed), and imports.

pub use migration::search_key::{query_key, search_key};
