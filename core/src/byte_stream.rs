//! `ByteStream`: what every layer hands to the one above it.
//!
//! A TCP socket, a Noise session over it, a muxed substream: each is a
//! reliable, ordered, duplex stream of bytes, and each layer of strata is
//! written against that one shape (tokio's `AsyncRead + AsyncWrite`), so
//! layers compose and each can be tested alone over
//! `tokio::io::duplex`.

use tokio::io::{AsyncRead, AsyncWrite};

/// A duplex byte stream that can move between tasks.
///
/// Implemented for every type with the right bounds; never implement it by
/// hand.
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> ByteStream for T {}
