//! The client: finds candidate addresses, asks servers to dial them back,
//! serves `/libp2p/autonat/2/dial-back`, and records verdicts on the host.
//!
//! Spec: `libp2p-autonat-v2.md`, "`AutoNAT` V2 Protocol", "Amplification
//! Attack Prevention" (the client's half) and "Implementation
//! Suggestions". A thin driver around [`crate::candidates`]:
//!
//! ```text
//! host Event::AddrObserved (identify's observedAddr) ─▶ translate ─▶ Candidates::observed_by(peer, IP group of its connection)
//! lifecycle ─▶ each connected peer's remote IP (its group; crate::observers, which also keeps early observations)  listen addrs ─▶ Candidates::observe
//! driver (wakes on an observation, a finished request, add_candidate, or the next deadline; ends when the last Client goes):
//!   servers = connected peers whose peer store lists dial-request
//!   Candidates::next_probe ─▶ task: open dial-request (Candidates::request_sent: its connection) ─▶ DialRequest { addrs, nonce }
//!        ◀─ DialDataRequest { idx, n ≤ 100 000 } ─▶ DialDataResponse × ⌈n / 4096⌉
//!        ◀─ DialResponse ─▶ (OK: wait for our nonce) ─▶ Candidates::finish
//!   Change::Reachable ─▶ host.add_external_addr; Unreachable / Expired ─▶ host.remove_external_addr
//! inbound dial-back (not relayed) ─▶ DialBack { nonce } ─▶ Candidates::dial_back (ours? another connection?) ─▶ DialBackResponse OK
//! ```
//!
//! The nonce proves a dial back, never the dialing peer's id (the server
//! dials from another identity), and only on a new direct connection:
//! not the request's own, not a relayed one. The application-facing events are
//! a broadcast, lossy; the verdicts themselves live on the host
//! ([`Host::external_addrs`]) and in [`Client::reachability`].

use std::{
    io,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use strata_core::{Multiaddr, PeerId, random};
use strata_host::{Host, Lifecycle, Stream, WeakHost};
use tokio::{
    io::AsyncWriteExt,
    sync::{Notify, broadcast, oneshot},
};

use crate::{
    ClientConfig, DIAL_BACK_PROTOCOL, DIAL_REQUEST_PROTOCOL, DialDataResponse, DialRequest, DialResponse, DialStatus,
    Error, MAX_DATA_CHUNK, Message, Reachability, ResponseStatus, Result,
    candidates::{Candidates, Change, Outcome, Probe, Source},
    codec,
    observers::{Observers, translate},
};

/// How long a dial back may take to arrive after the server reported it,
/// and how long the dial-back stream may take (go-libp2p's 5 s).
const DIAL_BACK_WAIT: Duration = Duration::from_secs(5);

/// The longest the driver sleeps without a deadline (it also wakes on
/// observations, finished requests and new candidates).
const IDLE: Duration = Duration::from_mins(1);

/// What the client reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An address got a verdict: reachable (now an external address of
    /// the host) or unreachable (no longer one).
    Reachability {
        /// The address.
        addr: Multiaddr,
        /// The verdict.
        reachable: bool,
    },
    /// A reachable address was not confirmed again in time: it is no
    /// longer an external address, and is tested again.
    Expired {
        /// The address.
        addr: Multiaddr,
    },
    /// The overall verdict changed ([`Client::reachability`]).
    ReachabilityChanged(Reachability),
    /// A server dialed one of our addresses.
    Tested {
        /// The server.
        server: PeerId,
        /// The address it dialed.
        addr: Multiaddr,
        /// What it reported.
        dial_status: DialStatus,
        /// Whether our nonce came back (without it, a reported success
        /// counts for nothing).
        verified: bool,
    },
    /// A request brought no verdict: refused, failed, or a success
    /// without our nonce.
    Failed {
        /// The server.
        server: PeerId,
        /// Why.
        error: String,
    },
}

struct Shared {
    host: WeakHost,
    config: ClientConfig,
    state: Mutex<Candidates>,
    events: broadcast::Sender<Event>,
    /// Told when a dial back with one of our nonces arrives.
    dial_backs: Notify,
    /// Told when the driver should look again.
    wake: Notify,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Candidates> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `AutoNAT` v2 client of a host. Cheap to clone.
///
/// It runs until the host shuts down or the last clone is dropped:
/// dropping it stops the driver (no more requests; those in flight end
/// by their timeout) and removes the dial-back handler. Addresses it
/// confirmed stay external addresses of the host until something removes
/// them. Keep it for as long as the node should test its addresses.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    _stop: Arc<Stop>,
}

/// Stops the client when the last [`Client`] goes.
struct Stop {
    host: WeakHost,
    /// Dropped with the last client: the driver's receiver ends.
    _driver: oneshot::Sender<()>,
}

impl Drop for Stop {
    fn drop(&mut self) {
        self.host.remove_handler(DIAL_BACK_PROTOCOL);
    }
}

impl Client {
    /// Serves dial backs on `host` and starts testing its addresses: the
    /// addresses peers observe (identify reports each to the host, as
    /// `strata_host::Event::AddrObserved`: attach identify to the host too),
    /// translated to our listen ports, and our public listen addresses,
    /// with the connected peers that serve [`DIAL_REQUEST_PROTOCOL`].
    pub fn attach(host: &Host, config: ClientConfig) -> Result<Self> {
        let shared = Arc::new(Shared {
            host: host.downgrade(),
            state: Mutex::new(Candidates::new(config.clone())),
            config,
            events: broadcast::channel(64).0,
            dial_backs: Notify::new(),
            wake: Notify::new(),
        });
        let answering = Arc::clone(&shared);
        host.handle(DIAL_BACK_PROTOCOL, move |stream| on_dial_back(Arc::clone(&answering), stream))?;
        let (stop, stopped) = oneshot::channel();
        host.spawn(drive(Arc::clone(&shared), host.events(), host.lifecycle(), stopped));
        Ok(Self { shared, _stop: Arc::new(Stop { host: host.downgrade(), _driver: stop }) })
    }

    /// A new subscription to the client's events (lossy: a subscriber too
    /// far behind misses the oldest).
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// The overall verdict: public once an address is confirmed
    /// reachable, private when none is and one is confirmed unreachable.
    pub fn reachability(&self) -> Reachability {
        self.shared.state().reachability()
    }

    /// The addresses this node appears at from outside: its candidates
    /// (observed by enough peers, or added by hand), confirmed reachable or
    /// not, the reachable first, then addresses seen by fewer observers;
    /// all translated to the listen ports. Behind a NAT none is reachable,
    /// yet they are what a hole punch (`strata-dcutr`) tells the other side
    /// to dial.
    pub fn candidates(&self) -> Vec<Multiaddr> {
        self.shared.state().addrs()
    }

    /// Adds an address to test (a port mapping's, a guess). Returns
    /// whether it is kept: it must start with a public IP (or any IP with
    /// [`ClientConfig::with_private_addrs`]) and fit in the candidate cap.
    pub fn add_candidate(&self, addr: &Multiaddr) -> bool {
        let kept = self.shared.state().observe(addr, Source::Manual, Instant::now());
        self.shared.wake.notify_one();
        kept
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

/// The peers to ask: connected, and serving dial-request as far as the
/// peer store knows; rotated by a random offset to spread the load.
fn servers(host: &Host) -> Vec<PeerId> {
    let mut servers: Vec<PeerId> = host
        .connected_peers()
        .into_iter()
        .filter(|peer| {
            host.peer_info(*peer).is_some_and(|info| info.protocols.iter().any(|p| p == DIAL_REQUEST_PROTOCOL))
        })
        .collect();
    if !servers.is_empty() {
        let offset = random::u64().unwrap_or_default() % servers.len() as u64;
        servers.rotate_left(usize::try_from(offset).unwrap_or_default());
    }
    servers
}

async fn drive(
    shared: Arc<Shared>,
    mut observations: broadcast::Receiver<strata_host::Event>,
    mut lifecycle: Lifecycle,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut observers = Observers::default();
    loop {
        let now = Instant::now();
        let listen = shared.host.listen_addrs();
        let (changes, probes, deadline) = {
            let mut state = shared.state();
            for addr in &listen {
                state.observe(addr, Source::Listen, now);
            }
            let before = state.reachability();
            let changes = state.expire(now);
            let servers = servers(&shared.host);
            let mut probes = Vec::new();
            while let Ok(nonce) = random::u64() {
                let Some(probe) = state.next_probe(now, &servers, nonce) else { break };
                probes.push(probe);
            }
            (Some((before, changes)), probes, state.next_deadline(now))
        };
        if let Some((before, changes)) = changes {
            apply(&shared, before, changes);
        }
        for probe in probes {
            shared.host.spawn(ask(Arc::clone(&shared), probe));
        }
        let sleep = deadline.map_or(IDLE, |at| at.saturating_duration_since(now)).min(IDLE);
        tokio::select! {
            // The lifecycle first: an observer's connection is known before its observation.
            biased;
            _ = &mut stopped => return,
            event = lifecycle.next() => match event {
                Some(event) => {
                    let released = observers.update(&event);
                    let mut state = shared.state();
                    for (peer, observed, group) in released {
                        tracing::debug!(%peer, %observed, "autonat: an observation that came before its connection");
                        for addr in translate(&observed, &listen) {
                            state.observed_by(&addr, peer, group, Instant::now());
                        }
                    }
                }
                None => return,
            },
            event = observations.recv() => match event {
                Ok(strata_host::Event::AddrObserved { peer, addr: observed }) => {
                    if let Some(group) = observers.observed(peer, &observed, Instant::now()) {
                        let mut state = shared.state();
                        for addr in translate(&observed, &listen) {
                            state.observed_by(&addr, peer, group, Instant::now());
                        }
                    } else {
                        tracing::debug!(%peer, %observed, "autonat: an observation before its connection: kept aside");
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => tracing::debug!(n, "autonat: host events lost"),
                Err(broadcast::error::RecvError::Closed) => return,
                Ok(_) => {}
            },
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(sleep) => {}
        }
    }
}

/// Applies verdict changes to the host and reports them.
fn apply(shared: &Shared, before: Reachability, changes: Vec<Change>) {
    for change in changes {
        let event = match change {
            Change::Reachable(addr) => {
                shared.host.add_external_addr(addr.clone());
                Event::Reachability { addr, reachable: true }
            }
            Change::Unreachable { addr, was_reachable } => {
                if was_reachable {
                    shared.host.remove_external_addr(&addr);
                }
                Event::Reachability { addr, reachable: false }
            }
            Change::Expired(addr) => {
                shared.host.remove_external_addr(&addr);
                Event::Expired { addr }
            }
        };
        tracing::info!(?event, "autonat");
        let _ = shared.events.send(event);
    }
    let after = shared.state().reachability();
    if after != before {
        let _ = shared.events.send(Event::ReachabilityChanged(after));
    }
}

/// One request, start to end; its outcome goes to the state.
async fn ask(shared: Arc<Shared>, probe: Probe) {
    let timeout = shared.config.request_timeout;
    let result = tokio::time::timeout(timeout, exchange(&shared, &probe)).await.unwrap_or(Err(Error::Timeout(timeout)));
    let server = probe.server;
    let outcome = match &result {
        Ok(response) => Outcome::Dialed { addr_idx: response.addr_idx, dial_status: response.dial_status },
        Err(_) => Outcome::NoVerdict,
    };
    let (before, tested, changes) = {
        let mut state = shared.state();
        let before = state.reachability();
        let (tested, changes) = state.finish(probe.nonce, outcome, Instant::now());
        (before, tested, changes)
    };
    if let Err(error) = &result {
        tracing::debug!(%server, %error, "autonat: request brought no verdict");
        let _ = shared.events.send(Event::Failed { server, error: error.to_string() });
    }
    if let Some(tested) = tested {
        tracing::debug!(%server, addr = %tested.addr, ?tested.dial_status, tested.verified, "autonat: tested");
        let event =
            Event::Tested { server, addr: tested.addr, dial_status: tested.dial_status, verified: tested.verified };
        let _ = shared.events.send(event);
    }
    apply(&shared, before, changes);
    shared.wake.notify_one();
}

/// The dial-request exchange with one server.
async fn exchange(shared: &Shared, probe: &Probe) -> Result<DialResponse> {
    let mut stream = shared.host.open_stream(probe.server, &[DIAL_REQUEST_PROTOCOL]).await?;
    shared.state().request_sent(probe.nonce, stream.connection());
    let request = DialRequest { addrs: probe.addrs.clone(), nonce: probe.nonce };
    codec::write_message(&mut stream, &Message::DialRequest(request)).await?;
    let response = match codec::read_message(&mut stream).await? {
        Message::DialResponse(response) => response,
        Message::DialDataRequest(asked) => {
            check_index(asked.addr_idx, probe.addrs.len())?;
            if asked.num_bytes > shared.config.max_dial_data {
                // Dropping the stream resets it: the spec's refusal.
                return Err(Error::DialDataTooLarge { asked: asked.num_bytes, max: shared.config.max_dial_data });
            }
            send_dial_data(&mut stream, asked.num_bytes).await?;
            match codec::read_message(&mut stream).await? {
                Message::DialResponse(response) => response,
                _ => return Err(Error::Unexpected { wanted: "DialResponse" }),
            }
        }
        _ => return Err(Error::Unexpected { wanted: "DialResponse or DialDataRequest" }),
    };
    let _ = stream.shutdown().await;
    if response.status != ResponseStatus::Ok {
        return Err(Error::Refused(response.status));
    }
    check_index(response.addr_idx, probe.addrs.len())?;
    if response.dial_status == DialStatus::Ok && !wait_for_dial_back(shared, probe.nonce).await {
        return Err(Error::NoDialBack);
    }
    Ok(response)
}

fn check_index(index: u32, len: usize) -> Result<()> {
    match usize::try_from(index) {
        Ok(i) if i < len => Ok(()),
        _ => Err(Error::AddrIndex { index, len }),
    }
}

/// Sends `amount` bytes of dial data in chunks of at most 4096.
async fn send_dial_data(stream: &mut Stream, amount: u64) -> Result<()> {
    let full = Message::DialDataResponse(DialDataResponse { data: vec![0; MAX_DATA_CHUNK] }).encode();
    let mut left = amount;
    let chunk = MAX_DATA_CHUNK as u64;
    while left > 0 {
        let frame = if left >= chunk {
            full.clone()
        } else {
            let len = usize::try_from(left).unwrap_or(MAX_DATA_CHUNK);
            Message::DialDataResponse(DialDataResponse { data: vec![0; len] }).encode()
        };
        strata_core::framing::write_length_prefixed(stream, &frame).await?;
        left = left.saturating_sub(chunk);
    }
    Ok(())
}

/// Whether the dial back with `nonce` arrives within [`DIAL_BACK_WAIT`]
/// (it normally has: the server waits for our answer before it responds).
async fn wait_for_dial_back(shared: &Shared, nonce: u64) -> bool {
    let wait = async {
        loop {
            let notified = shared.dial_backs.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shared.state().dial_back_received(nonce) {
                return;
            }
            notified.await;
        }
    };
    tokio::time::timeout(DIAL_BACK_WAIT, wait).await.is_ok()
}

/// An inbound dial back: our nonce, on a direct connection other than its
/// request's, is answered `OK`; anything else is reset.
async fn on_dial_back(shared: Arc<Shared>, mut stream: Stream) -> io::Result<()> {
    let peer = stream.peer();
    if stream.is_limited() {
        tracing::debug!(%peer, "autonat: dial back on a relayed connection refused");
        return Ok(()); // dropping the stream resets it
    }
    let answered = tokio::time::timeout(DIAL_BACK_WAIT, async {
        let dial_back = codec::read_dial_back(&mut stream).await?;
        if !shared.state().dial_back(dial_back.nonce, stream.connection(), stream.is_limited()) {
            tracing::debug!(%peer, "autonat: dial back with a nonce we did not send, or on the request's connection");
            return Ok(false);
        }
        shared.dial_backs.notify_waiters();
        codec::write_dial_back_response(&mut stream).await?;
        stream.shutdown().await.map_err(|e| Error::Frame(e.into()))?;
        Ok::<_, Error>(true)
    })
    .await;
    match answered {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::debug!(%peer, %error, "autonat: dial back stream failed"),
        Err(_) => tracing::debug!(%peer, "autonat: dial back stream timed out"),
    }
    Ok(())
}
