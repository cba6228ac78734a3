//! Integration tests live in tests/tests/*.rs; this crate holds shared helpers.
