//! Where cargo puts the examples, for the tests that run them as a person
//! would (cargo builds examples before integration tests). Included by path.

use std::path::PathBuf;

/// The binary of example `name`, beside this test's binary.
pub(crate) fn example_binary(name: &str) -> PathBuf {
    let mut path = std::env::current_exe().unwrap_or_default();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.join("examples").join(name)
}
