//! The identify service: answers identify requests, asks every new peer,
//! pushes changes.
//!
//! Spec: `libp2p-identify.md`, "identify" and "identify/push".
//!
//! ```text
//! new connection ──▶ request "/ipfs/id/1.0.0" ──▶ one Identify ──▶ verify ──▶ peer store, Event::Received
//! inbound "/ipfs/id/1.0.0"      ──▶ respond with our Identify (observedAddr = the stream's remote address,
//!                                  listenAddrs = Host::advertised_addrs for that address: confirmed
//!                                  external addresses, and no loopback/private one to a public peer)
//! listen/external addrs, protocols change ──▶ open "/ipfs/id/push/1.0.0" to each peer ──▶ write our Identify, close
//! inbound "/ipfs/id/push/1.0.0" ──▶ read one Identify ──▶ verify ──▶ peer store, Event::Received
//! ```
//!
//! identify is the host's request/response with no request
//! ([`strata_host::RequestConfig::without_request`]): the stream itself is
//! the question. New connections come from the host's reliable lifecycle
//! (one query per connection); pushes follow the lossy event stream (a
//! missed push is made good by the next one, or the next connection).

use std::{io, sync::Arc, time::Duration};

use strata_core::{PeerId, framing};
use strata_host::{ConnectionEvent, Host, Lifecycle, RequestConfig, RequestError, Requester, Stream, WeakHost};
use tokio::{io::AsyncWriteExt, sync::broadcast};

use crate::{Config, Info, InfoError, PROTOCOL, PUSH_PROTOCOL};

/// What an identify exchange can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening the stream failed (not connected, or identify not served).
    #[error("cannot open an identify stream: {0}")]
    Host(#[from] strata_host::Error),
    /// The request failed (stream, size limit, or time).
    #[error("identify request failed: {0}")]
    Request(#[from] RequestError),
    /// Reading or writing failed, or the message exceeded the size limit.
    #[error("identify stream failed: {0}")]
    Stream(#[from] strata_core::Error),
    /// The message was refused.
    #[error(transparent)]
    Info(#[from] InfoError),
    /// The exchange took too long.
    #[error("identify timed out after {0:?}")]
    Timeout(Duration),
}

/// What the identify service reports.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A peer's info arrived (an answer to our request, or a push).
    Received {
        /// The peer.
        peer: PeerId,
        /// What it says of itself.
        info: Box<Info>,
    },
    /// Asking a peer failed, or its info was refused.
    Failed {
        /// The peer.
        peer: PeerId,
        /// Why.
        error: String,
    },
}

struct Shared {
    host: WeakHost,
    config: Config,
    events: broadcast::Sender<Event>,
}

/// The identify service of a host. Cheap to clone.
#[derive(Clone)]
pub struct Identify {
    shared: Arc<Shared>,
}

impl Identify {
    /// Serves identify and identify/push on `host`, and starts asking every
    /// peer that connects (and pushing changes, if configured).
    pub fn attach(host: &Host, config: Config) -> Result<Self, Error> {
        let shared = Arc::new(Shared { host: host.downgrade(), config, events: broadcast::channel(256).0 });
        let answering = Arc::clone(&shared);
        host.serve(PROTOCOL, shared.request_config(), move |requester, _| {
            std::future::ready(Ok(answer(&answering, &requester)))
        })?;
        let receiving = Arc::clone(&shared);
        host.handle(PUSH_PROTOCOL, move |stream| receive_push(Arc::clone(&receiving), stream))?;
        host.spawn(follow(Arc::clone(&shared), host.lifecycle(), host.events()));
        Ok(Self { shared })
    }

    /// Asks `peer` who it is (identify runs on every new connection by
    /// itself; this is for asking again).
    pub async fn identify(&self, peer: PeerId) -> Result<Info, Error> {
        query(&self.shared, peer).await
    }

    /// A new subscription to the service's events.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// What this host says of itself to a peer seen at `observed`.
    pub fn local_info(&self, observed: Option<strata_core::Multiaddr>) -> Info {
        local_info(&self.shared, observed)
    }
}

impl std::fmt::Debug for Identify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identify").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

impl Shared {
    /// identify as request/response: no request, one bounded answer.
    fn request_config(&self) -> RequestConfig {
        RequestConfig::default()
            .without_request()
            .with_max_response_len(self.config.max_message_len)
            .with_timeout(self.config.timeout)
    }
}

fn local_info(shared: &Shared, observed: Option<strata_core::Multiaddr>) -> Info {
    let host = &shared.host;
    Info {
        public_key: Some(host.public_key()),
        protocol_version: Some(shared.config.protocol_version.clone()),
        agent_version: Some(shared.config.agent_version.clone()),
        listen_addrs: observed.as_ref().map_or_else(|| host.listen_addrs(), |remote| host.advertised_addrs(remote)),
        observed_addr: observed,
        protocols: host.protocols(),
    }
}

/// Applies a peer's info: peer store and events.
fn learned(shared: &Shared, peer: PeerId, info: &Info) {
    shared.host.update_peer(peer, |known| {
        known.addrs.extend(info.listen_addrs.iter().cloned());
        known.protocols.clone_from(&info.protocols);
        if info.agent_version.is_some() {
            known.agent_version.clone_from(&info.agent_version);
        }
        if info.protocol_version.is_some() {
            known.protocol_version.clone_from(&info.protocol_version);
        }
        if info.public_key.is_some() {
            known.public_key.clone_from(&info.public_key);
        }
    });
    if let Some(observed) = &info.observed_addr {
        shared.host.report_observed_addr(peer, observed.clone());
    }
    let _ = shared.events.send(Event::Received { peer, info: Box::new(info.clone()) });
}

fn failed(shared: &Shared, peer: PeerId, error: &Error) {
    tracing::debug!(%peer, %error, "identify: failed");
    let _ = shared.events.send(Event::Failed { peer, error: error.to_string() });
}

async fn read_info(shared: &Shared, stream: &mut Stream) -> Result<Info, Error> {
    let bytes = framing::read_length_prefixed(stream, shared.config.max_message_len).await?;
    Ok(Info::decode(&bytes, stream.peer())?)
}

async fn write_info(stream: &mut Stream, info: &Info) -> Result<(), Error> {
    framing::write_length_prefixed(stream, &info.encode()).await?;
    stream.shutdown().await.map_err(|e| Error::Stream(e.into()))
}

async fn query(shared: &Shared, peer: PeerId) -> Result<Info, Error> {
    let asked = shared.host.request(peer, PROTOCOL, &[], &shared.request_config()).await;
    let outcome = asked.map_err(Error::from).and_then(|bytes| Ok(Info::decode(&bytes, peer)?));
    match &outcome {
        Ok(info) => learned(shared, peer, info),
        Err(error) => failed(shared, peer, error),
    }
    outcome
}

/// Our answer to `requester`: our info, with the address we see it at.
fn answer(shared: &Shared, requester: &Requester) -> Vec<u8> {
    local_info(shared, Some(requester.remote_addr.clone())).encode()
}

async fn receive_push(shared: Arc<Shared>, mut stream: Stream) -> io::Result<()> {
    let peer = stream.peer();
    let timeout = shared.config.timeout;
    let outcome =
        tokio::time::timeout(timeout, read_info(&shared, &mut stream)).await.unwrap_or(Err(Error::Timeout(timeout)));
    match outcome {
        Ok(info) => learned(&shared, peer, &info),
        Err(error) => failed(&shared, peer, &error),
    }
    Ok(())
}

async fn push(shared: Arc<Shared>, peer: PeerId) {
    let timeout = shared.config.timeout;
    let exchange = async {
        let mut stream = shared.host.open_stream(peer, &[PUSH_PROTOCOL]).await?;
        let info = local_info(&shared, Some(stream.remote_addr().clone()));
        write_info(&mut stream, &info).await
    };
    if let Err(error) = tokio::time::timeout(timeout, exchange).await.unwrap_or(Err(Error::Timeout(timeout))) {
        // A peer without identify/push is common; not worth an event.
        tracing::debug!(%peer, %error, "identify: push failed");
    }
}

/// Asks the peer of every new connection (told reliably by the lifecycle);
/// pushes changes to every peer.
async fn follow(shared: Arc<Shared>, mut lifecycle: Lifecycle, mut events: broadcast::Receiver<strata_host::Event>) {
    loop {
        tokio::select! {
            event = lifecycle.next() => match event {
                Some(ConnectionEvent::Established { peer, .. }) => {
                    let querying = Arc::clone(&shared);
                    shared.host.spawn(async move { drop(query(&querying, peer).await) });
                }
                Some(_) => {}
                None => return, // shut down
            },
            event = events.recv() => match event {
                Ok(
                    strata_host::Event::ListenAddr { .. }
                    | strata_host::Event::ListenAddrExpired { .. }
                    | strata_host::Event::ExternalAddrConfirmed { .. }
                    | strata_host::Event::ExternalAddrExpired { .. }
                    | strata_host::Event::ProtocolsChanged,
                ) if shared.config.push => {
                    for peer in shared.host.connected_peers() {
                        shared.host.spawn(push(Arc::clone(&shared), peer));
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            },
        }
    }
}
