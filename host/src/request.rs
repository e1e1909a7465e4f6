//! Request/response: one message each way on a fresh stream, the pattern
//! most protocols are made of (identify, Kademlia, a custom RPC).
//!
//! ```text
//! requester                                   responder (Host::serve)
//!   dial if needed, open stream, negotiate ──▶
//!   varint length ‖ request, half-close    ──▶   read it (≤ max_request_len)
//!                                               handler(peer, request) → response
//!                                          ◀──   varint length ‖ response, close
//!   read it (≤ max_response_len)
//! ```
//!
//! A protocol whose requester sends nothing (identify: the stream itself
//! is the question) uses [`RequestConfig::without_request`] on both sides.
//! Each side is bounded in bytes and in time; the responder also bounds how
//! many requests of the protocol it serves at once (more are reset).

use std::{future::Future, io, sync::Arc, time::Duration};

use strata_core::{Multiaddr, PeerId, framing};
use tokio::{io::AsyncWriteExt, sync::Semaphore};

use crate::{ConnectionId, Error, Host};

/// The limits of one request/response protocol, used by both sides.
#[derive(Clone, Debug)]
pub struct RequestConfig {
    max_request_len: usize,
    max_response_len: usize,
    timeout: Duration,
    max_concurrent_inbound: usize,
    has_request: bool,
}

impl Default for RequestConfig {
    fn default() -> Self {
        Self {
            max_request_len: 64 * 1024,
            max_response_len: 64 * 1024,
            timeout: Duration::from_secs(10),
            max_concurrent_inbound: 32,
            has_request: true,
        }
    }
}

impl RequestConfig {
    /// The largest request read, in bytes. Default: 64 KiB; a larger one
    /// fails the exchange (the stream is reset).
    #[must_use]
    pub fn with_max_request_len(mut self, bytes: usize) -> Self {
        self.max_request_len = bytes;
        self
    }

    /// The largest response read or written. Default: 64 KiB.
    #[must_use]
    pub fn with_max_response_len(mut self, bytes: usize) -> Self {
        self.max_response_len = bytes;
        self
    }

    /// How long a whole exchange may take (dial and negotiation included
    /// on the requesting side). Default: 10 s.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many requests of this protocol are served at once. Default: 32;
    /// more are reset at once.
    #[must_use]
    pub fn with_max_concurrent_inbound(mut self, max: usize) -> Self {
        self.max_concurrent_inbound = max.max(1);
        self
    }

    /// The requester sends nothing and the responder answers as soon as
    /// the stream is negotiated (identify's shape).
    #[must_use]
    pub fn without_request(mut self) -> Self {
        self.has_request = false;
        self
    }
}

/// What a request can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Dialing, opening or negotiating the stream failed.
    #[error(transparent)]
    Host(#[from] Error),
    /// The stream failed, or a message broke its size limit.
    #[error("request stream: {0}")]
    Stream(#[from] strata_core::Error),
    /// The exchange took longer than the configured timeout.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The request is larger than the configured limit.
    #[error("a request of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Who asked, for a responder's handler.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Requester {
    /// The remote peer.
    pub peer: PeerId,
    /// The connection it asked on.
    pub connection: ConnectionId,
    /// Its address as this host sees it (identify's observed address).
    pub remote_addr: Multiaddr,
}

impl Host {
    /// Sends `request` to `peer` on `protocol` and returns the response,
    /// dialing the peer (at the addresses the peer store knows) if it is
    /// not connected.
    pub async fn request(
        &self,
        peer: PeerId,
        protocol: &str,
        request: &[u8],
        config: &RequestConfig,
    ) -> Result<Vec<u8>, RequestError> {
        if config.has_request && request.len() > config.max_request_len {
            return Err(RequestError::TooLarge { len: request.len(), max: config.max_request_len });
        }
        let exchange = async {
            self.dial_peer(peer).await?;
            let mut stream = self.open_stream(peer, &[protocol]).await?;
            if config.has_request {
                framing::write_length_prefixed(&mut stream, request).await?;
                stream.shutdown().await.map_err(strata_core::Error::Io)?;
            }
            let response = framing::read_length_prefixed(&mut stream, config.max_response_len).await?;
            // The responder closes after its answer; close our side too
            // (a graceful end rather than a reset).
            let _ = stream.shutdown().await;
            Ok(response)
        };
        tokio::time::timeout(config.timeout, exchange).await.unwrap_or(Err(RequestError::Timeout(config.timeout)))
    }

    /// Serves `protocol` as the responding side of request/response:
    /// `handler` gets who asked and the request, and returns the response.
    /// Replaces any handler the protocol had.
    pub fn serve<F, Fut>(&self, protocol: &str, config: RequestConfig, handler: F) -> Result<(), Error>
    where
        F: Fn(Requester, Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<Vec<u8>>> + Send + 'static,
    {
        let slots = Arc::new(Semaphore::new(config.max_concurrent_inbound));
        let handler = Arc::new(handler);
        let config = Arc::new(config);
        self.handle(protocol, move |mut stream| {
            let (slots, handler, config) = (Arc::clone(&slots), Arc::clone(&handler), Arc::clone(&config));
            async move {
                let Ok(_slot) = slots.try_acquire_owned() else {
                    tracing::debug!("too many requests at once; resetting one");
                    return Ok(());
                };
                let requester = Requester {
                    peer: stream.peer(),
                    connection: stream.connection(),
                    remote_addr: stream.remote_addr().clone(),
                };
                let exchange = async {
                    let request = if config.has_request {
                        framing::read_length_prefixed(&mut stream, config.max_request_len)
                            .await
                            .map_err(io::Error::other)?
                    } else {
                        Vec::new()
                    };
                    let response = handler(requester, request).await?;
                    if response.len() > config.max_response_len {
                        return Err(io::Error::other(format!(
                            "a response of {} bytes exceeds the limit of {}",
                            response.len(),
                            config.max_response_len
                        )));
                    }
                    framing::write_length_prefixed(&mut stream, &response).await.map_err(io::Error::other)?;
                    stream.shutdown().await
                };
                tokio::time::timeout(config.timeout, exchange)
                    .await
                    .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
            }
        })
    }
}
