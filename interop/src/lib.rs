//! Interoperability tests of strata against rust-libp2p.
//!
//! This crate has no library code; its `tests/` run strata's layers against
//! rust-libp2p's. It is the only crate of the workspace that depends on
//! rust-libp2p (as a dev-dependency), and it is not a default workspace
//! member, so building strata never compiles rust-libp2p; `cargo test
//! --workspace` runs these tests.
