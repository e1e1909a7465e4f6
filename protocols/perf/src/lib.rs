#![doc = include_str!("../README.md")]

mod client;
mod server;
pub mod stream;

pub use client::{Params, Report, run};
pub use server::{ServedStream, ServerConfig, serve};

/// The protocol id.
pub const PROTOCOL: &str = "/perf/1.0.0";

/// What a perf run or the server can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream failed (reset, closed early, timed out).
    #[error("perf stream: {0}")]
    Io(#[from] std::io::Error),
    /// The host could not open the stream or register the protocol.
    #[error("perf: {0}")]
    Host(#[from] strata_host::Error),
    /// The server sent a different number of bytes than asked for.
    #[error("perf: asked for {asked} bytes, got {got}")]
    ShortDownload {
        /// Bytes asked for.
        asked: u64,
        /// Bytes received.
        got: u64,
    },
    /// `streams` was 0.
    #[error("perf: at least one stream is needed")]
    NoStreams,
}
