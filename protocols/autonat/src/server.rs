//! The server: a host serving `/libp2p/autonat/2/dial-request`, dialing
//! back from a second host.
//!
//! Spec: `libp2p-autonat-v2.md`, "`AutoNAT` V2 Protocol", "Requirements for
//! `DialStatus`", "Requirements for `ResponseStatus`", "Amplification Attack
//! Prevention". A thin driver around [`crate::limiter`]:
//!
//! ```text
//! dial-request stream ─▶ read DialRequest (bounded, the whole exchange timed)
//!   over a relay (limited) ─▶ E_REQUEST_REJECTED      not publicly reachable ─▶ E_REQUEST_REJECTED
//!   rate/concurrency limit ─▶ E_REQUEST_REJECTED
//!   select_address (public, of an IP family we have) ── none ─▶ E_DIAL_REFUSED
//!   another IP than the stream's ─▶ DialDataRequest { idx, 30k..100k } ─▶ DialDataResponse … until paid
//!   dialer host: dial addr/p2p/<client> (a NEW connection, fresh identity) ── fails ─▶ E_DIAL_ERROR
//!     └─ open dial-back ─▶ DialBack { nonce } ─▶ close our side ─▶ DialBackResponse ── fails ─▶ E_DIAL_BACK_ERROR
//!     └─ close that connection (a guard: also when the stream timeout cuts the dial back short)
//!   DialResponse { OK, idx, dial status } ─▶ close
//! ```
//!
//! The dial back comes from the `dialer` host, as go-libp2p's does: the
//! client's existing connection to the server cannot carry it (a dial on
//! the server host to a connected peer reuses that connection, which
//! would prove nothing), and a separate identity on a port that is not
//! our listen port avoids accidental hole punches (the spec's
//! "Implementation Suggestions"). One request per client at a time (the
//! limiter) means the dialer holds at most one connection per client,
//! closed after each dial back.
//!
//! Timeouts nest: the stream timeout bounds the whole request, so it must
//! exceed the dial timeout plus the dial-back timeout
//! ([`Server::attach`] checks), with room left for the request and its
//! dial data.

use std::{
    io,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Instant,
};

use strata_core::{Multiaddr, PeerId, multiaddr::Scope, random};
use strata_host::{Host, Stream, WeakHost, is_relayed};
use tokio::{io::AsyncWriteExt, sync::broadcast};

use crate::{
    DIAL_BACK_PROTOCOL, DIAL_REQUEST_PROTOCOL, DialBack, DialDataRequest, DialResponse, DialStatus, Error, Message,
    ResponseStatus, Result, ServerConfig, codec,
    limiter::{self, DialDataTally, Families, Limiter, Paid},
};

/// What the server reports of each request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A request was answered.
    Answered {
        /// The client.
        client: PeerId,
        /// The answer.
        status: ResponseStatus,
        /// The address dialed back, if one was.
        addr: Option<Multiaddr>,
        /// The dial data asked for before dialing, if any was.
        dial_data: Option<u64>,
        /// The outcome of the dial back.
        dial_status: DialStatus,
    },
    /// A request was dropped without an answer (malformed, timed out,
    /// dial data refused or too thin).
    Dropped {
        /// The client.
        client: PeerId,
        /// Why.
        error: String,
    },
}

struct Shared {
    host: WeakHost,
    dialer: Host,
    config: ServerConfig,
    limiter: Mutex<Limiter>,
    events: broadcast::Sender<ServerEvent>,
}

impl Shared {
    fn limiter(&self) -> MutexGuard<'_, Limiter> {
        self.limiter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the host is reachable from the internet, as far as it
    /// knows: a confirmed external address, or a public listen address.
    /// Relayed addresses do not count: a circuit address has the relay's
    /// public IP, and a node behind a NAT with a reservation would serve.
    fn publicly_reachable(&self) -> bool {
        publicly_reachable(&self.host.external_addrs(), &self.host.listen_addrs())
    }

    /// The IP families the host has an address in (listen or external).
    fn families(&self) -> Families {
        let (listen, external) = (self.host.listen_addrs(), self.host.external_addrs());
        Families::of(listen.iter().chain(&external))
    }
}

/// See [`Shared::publicly_reachable`].
fn publicly_reachable(external: &[Multiaddr], listen: &[Multiaddr]) -> bool {
    external.iter().any(|a| !is_relayed(a)) || listen.iter().any(|a| a.scope() == Scope::Public && !is_relayed(a))
}

/// The `AutoNAT` v2 server of a host. Cheap to clone.
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

impl Server {
    /// Serves dial requests on `host`, dialing back from `dialer`: a
    /// second host, built with the same transports (an address only
    /// `host` could dial is refused, not misreported) and its own fresh
    /// identity, that does not listen. The server keeps `dialer` running
    /// as long as `host` serves.
    ///
    /// Fails with [`Error::SameHost`] if `dialer` is `host` (the dial back
    /// would not be a new connection), [`Error::Timeouts`] if the stream
    /// timeout does not exceed the dial timeout plus the dial-back timeout,
    /// and [`Error::Host`] if the handler cannot be installed (shut down).
    pub fn attach(host: &Host, dialer: Host, config: ServerConfig) -> Result<Self> {
        if dialer.peer_id() == host.peer_id() {
            return Err(Error::SameHost);
        }
        let (stream, dial, dial_back) = (config.stream_timeout, config.dial_timeout, config.dial_back_timeout);
        if stream <= dial.saturating_add(dial_back) {
            return Err(Error::Timeouts { stream, dial, dial_back });
        }
        let shared = Arc::new(Shared {
            host: host.downgrade(),
            dialer,
            limiter: Mutex::new(Limiter::new(&config)),
            config,
            events: broadcast::channel(64).0,
        });
        let serving = Arc::clone(&shared);
        host.handle(DIAL_REQUEST_PROTOCOL, move |stream| serve(Arc::clone(&serving), stream))?;
        Ok(Self { shared })
    }

    /// A new subscription to the server's events (lossy: a subscriber too
    /// far behind misses the oldest).
    pub fn events(&self) -> broadcast::Receiver<ServerEvent> {
        self.shared.events.subscribe()
    }

    /// The peer id the dial backs come from (the dialer host's).
    pub fn dialer_peer_id(&self) -> PeerId {
        self.shared.dialer.peer_id()
    }

    /// How many requests are in progress now.
    pub fn in_progress(&self) -> usize {
        self.shared.limiter().in_progress()
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("dialer", &self.shared.dialer.peer_id()).finish_non_exhaustive()
    }
}

/// Ends a client's request in the limiter, however the request ends.
struct InProgress<'a> {
    shared: &'a Shared,
    client: PeerId,
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.shared.limiter().complete(self.client);
    }
}

/// How a request was answered (for the event).
struct Answer {
    response: DialResponse,
    addr: Option<Multiaddr>,
    dial_data: Option<u64>,
}

impl Answer {
    fn refusal(status: ResponseStatus) -> Self {
        Self { response: DialResponse::refusal(status), addr: None, dial_data: None }
    }
}

async fn serve(shared: Arc<Shared>, mut stream: Stream) -> io::Result<()> {
    let client = stream.peer();
    let timeout = shared.config.stream_timeout;
    let outcome =
        tokio::time::timeout(timeout, exchange(&shared, &mut stream)).await.unwrap_or(Err(Error::Timeout(timeout)));
    let event = match outcome {
        Ok(answer) => {
            tracing::debug!(%client, ?answer.response, addr = ?answer.addr, "autonat: answered");
            ServerEvent::Answered {
                client,
                status: answer.response.status,
                addr: answer.addr,
                dial_data: answer.dial_data,
                dial_status: answer.response.dial_status,
            }
        }
        Err(error) => {
            tracing::debug!(%client, %error, "autonat: request dropped");
            ServerEvent::Dropped { client, error: error.to_string() }
        }
    };
    let _ = shared.events.send(event);
    Ok(()) // dropping an unanswered stream resets it
}

/// Reads the request, answers it, closes the stream.
async fn exchange(shared: &Shared, stream: &mut Stream) -> Result<Answer> {
    let Message::DialRequest(request) = codec::read_message(stream).await? else {
        return Err(Error::Unexpected { wanted: "DialRequest" });
    };
    let client = stream.peer();
    let answer = if stream.is_limited() {
        // Over a relay: its IP is the relay's, and the data a dial back
        // costs would go through it (go-libp2p refuses these too).
        Answer::refusal(ResponseStatus::RequestRejected)
    } else if !shared.config.serve_always && !shared.publicly_reachable() {
        Answer::refusal(ResponseStatus::RequestRejected)
    } else if let Err(refusal) = shared.limiter().admit(client, Instant::now()) {
        tracing::debug!(%client, ?refusal, "autonat: rate limited");
        Answer::refusal(ResponseStatus::RequestRejected)
    } else {
        let _in_progress = InProgress { shared, client };
        dial_request(shared, stream, &request.addrs, request.nonce).await?
    };
    codec::write_message(stream, &Message::DialResponse(answer.response)).await?;
    stream.shutdown().await.map_err(|e| Error::Frame(e.into()))?;
    Ok(answer)
}

/// An admitted request: select, charge, dial back.
async fn dial_request(shared: &Shared, stream: &mut Stream, addrs: &[Multiaddr], nonce: u64) -> Result<Answer> {
    let client = stream.peer();
    let config = &shared.config;
    let (max, private, families) = (config.max_addrs_inspected, config.allow_private_addrs, shared.families());
    let selected = limiter::select_address(client, addrs, max, private, families, |a| shared.dialer.can_dial(a));
    let Some((index, addr)) = selected else {
        return Ok(Answer::refusal(ResponseStatus::DialRefused));
    };
    let addr_idx = u32::try_from(index).unwrap_or(u32::MAX); // index < max_addrs_inspected
    let mut dial_data = None;
    if limiter::needs_dial_data(stream.remote_addr(), &addr) {
        if !shared.limiter().admit_dial_data(Instant::now()) {
            return Ok(Answer::refusal(ResponseStatus::RequestRejected));
        }
        let random = random::u64().unwrap_or_default();
        let amount = limiter::dial_data_amount(random, config.dial_data_min, config.dial_data_max);
        receive_dial_data(stream, addr_idx, amount).await?;
        dial_data = Some(amount);
    }
    let dial_status = dial_back(shared, client, &addr, nonce).await;
    Ok(Answer {
        response: DialResponse { status: ResponseStatus::Ok, addr_idx, dial_status },
        addr: Some(addr),
        dial_data,
    })
}

/// Asks for `amount` bytes and reads `DialDataResponse`s until they came.
async fn receive_dial_data(stream: &mut Stream, addr_idx: u32, amount: u64) -> Result<()> {
    let request = Message::DialDataRequest(DialDataRequest { addr_idx, num_bytes: amount });
    codec::write_message(stream, &request).await?;
    let mut tally = DialDataTally::new(amount);
    loop {
        let Message::DialDataResponse(chunk) = codec::read_message(stream).await? else {
            return Err(Error::Unexpected { wanted: "DialDataResponse" });
        };
        match tally.add(chunk.data.len()) {
            Paid::Done => return Ok(()),
            Paid::More => {}
            Paid::TooSmall => return Err(Error::DialDataTooSmall(chunk.data.len())),
        }
    }
}

/// Closes the dialer's connections to a client if dropped before the
/// dial back closed them itself: when the stream timeout drops the
/// request in the middle of the dial back (no `await` after it runs).
struct Disconnect<'a> {
    dialer: &'a Host,
    client: PeerId,
    done: bool,
}

impl Drop for Disconnect<'_> {
    fn drop(&mut self) {
        if !self.done {
            let (dialer, client) = (self.dialer.clone(), self.client);
            self.dialer.spawn(async move { dialer.disconnect(client).await });
        }
    }
}

/// Dials `addr` from the dialer host on a new connection and delivers
/// `nonce`; closes that connection (when it returns, or is dropped).
async fn dial_back(shared: &Shared, client: PeerId, addr: &Multiaddr, nonce: u64) -> DialStatus {
    let dialer = &shared.dialer;
    // A connection left from before would stand in for the dial.
    if dialer.is_connected(client) {
        dialer.disconnect(client).await;
    }
    let mut disconnect = Disconnect { dialer, client, done: false };
    let Ok(target) = addr.clone().with_p2p(client) else { return DialStatus::DialError };
    let connected = tokio::time::timeout(shared.config.dial_timeout, dialer.dial(target)).await;
    let status = match connected {
        Ok(Ok(_)) => {
            let timeout = shared.config.dial_back_timeout;
            let delivered = tokio::time::timeout(timeout, deliver(dialer, client, nonce)).await;
            match delivered {
                Ok(Ok(())) => DialStatus::Ok,
                Ok(Err(error)) => {
                    tracing::debug!(%client, %addr, %error, "autonat: dial back stream failed");
                    DialStatus::DialBackError
                }
                Err(_) => DialStatus::DialBackError,
            }
        }
        Ok(Err(error)) => {
            tracing::debug!(%client, %addr, %error, "autonat: dial back failed");
            DialStatus::DialError
        }
        Err(_) => DialStatus::DialError,
    };
    dialer.disconnect(client).await;
    disconnect.done = true;
    status
}

/// The dial-back stream: nonce out, our side closed, the answer in.
async fn deliver(dialer: &Host, client: PeerId, nonce: u64) -> Result<()> {
    let mut stream = dialer.open_stream(client, &[DIAL_BACK_PROTOCOL]).await?;
    codec::write_dial_back(&mut stream, DialBack { nonce }).await?;
    stream.shutdown().await.map_err(|e| Error::Frame(e.into()))?;
    codec::read_dial_back_response(&mut stream).await?;
    Ok(())
}
