//! Cost estimates.
