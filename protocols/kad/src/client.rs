//! The client side: requests, and the lookups that drive the sans-IO
//! [`Query`] with them (`libp2p-kad-dht.md`, "DHT operations").
//!
//! ```text
//! lookup(target, request): seeds = the table's k nearest
//!   Query::next ─▶ Request(peer) ─▶ rpc (a stream each, ≤ request_timeout) ─▶ in flight (≤ α)
//!   response ─▶ responder into the table (it serves kad); closer peers' addresses
//!               into the peer store; Query::succeeded; the operation's own check
//!               (a record found, providers found) may end the lookup early
//!   failure  ─▶ Query::failed
//!   ends: Finished, the lookup timeout, or the operation's early stop
//! put_value  = lookup(FIND_NODE key) then PUT_VALUE to the k nearest
//! get_value  = lookup(GET_VALUE key) until `quorum` valid records; the best is
//!              chosen and peers that held worse ones are corrected with PUT_VALUE
//! provide    = lookup(FIND_NODE key) then ADD_PROVIDER to the k nearest
//! providers  = lookup(GET_PROVIDERS key) collecting providers
//! bootstrap  = lookup(our own id), then a random id in each non-empty bucket
//! ```

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{StreamExt as _, stream::FuturesUnordered};
use strata_core::{Multiaddr, PeerId, framing};
use strata_host::{RequestConfig, RequestError};
use tokio::io::AsyncWriteExt;

use crate::{
    Kad, PROTOCOL,
    key::Key,
    proto::{ConnectionType, KadPeer, Message, MessageError, MessageType, Record},
    query::{Query, Step},
    service::{Error, Shared},
    store::Provider,
};

/// What a lookup did (for measurements).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Requests sent.
    pub requests: usize,
    /// Hops from us to the nearest peer that answered (1: a peer of our
    /// own table).
    pub hops: u32,
}

/// Why one request to one peer failed: logged, and the lookup goes on
/// without that peer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RpcError {
    /// Dialing, the stream or its limits failed.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The answer is not a Kademlia message.
    #[error("malformed response: {0}")]
    Malformed(#[from] MessageError),
    /// The answer is of another type than the request.
    #[error("a {sent:?} answered with {got:?}")]
    WrongType {
        /// The request's type.
        sent: MessageType,
        /// The answer's.
        got: MessageType,
    },
    /// A request that gets no answer was not sent in time.
    #[error("not sent within {0:?}")]
    Timeout(Duration),
}

/// Whether a lookup goes on after a response.
enum Flow {
    Continue,
    Stop,
}

impl Shared {
    fn request_config(&self) -> RequestConfig {
        RequestConfig::default()
            .with_max_request_len(self.config.max_message_len)
            .with_max_response_len(self.config.max_message_len)
            .with_timeout(self.config.query.request_timeout)
    }

    /// One request and its response, on a fresh stream.
    pub(crate) async fn rpc(&self, peer: PeerId, request: &Message) -> Result<Message, RpcError> {
        let response = self.host.request(peer, PROTOCOL, &request.encode(), &self.request_config()).await?;
        let response = Message::decode(&response)?;
        if response.kind != request.kind {
            return Err(RpcError::WrongType { sent: request.kind, got: response.kind });
        }
        Ok(response)
    }

    /// A request that gets no answer (`ADD_PROVIDER`).
    async fn send_only(&self, peer: PeerId, request: &Message) -> Result<(), RpcError> {
        let send = async {
            self.host.dial_peer(peer).await.map_err(RequestError::Host)?;
            let mut stream = self.host.open_stream(peer, &[PROTOCOL]).await.map_err(RequestError::Host)?;
            let request = self.addressed_to(request, stream.remote_addr());
            framing::write_length_prefixed(&mut stream, &request.encode()).await.map_err(RequestError::Stream)?;
            stream.shutdown().await.map_err(|error| RequestError::Stream(error.into()))?;
            Ok(())
        };
        let timeout = self.config.query.request_timeout;
        tokio::time::timeout(timeout, send).await.unwrap_or(Err(RpcError::Timeout(timeout)))
    }

    /// An iterative lookup of `key` sending `request` to each peer;
    /// `on_response` sees every answer and may stop the lookup. Returns
    /// the nearest peers that answered and the stats.
    async fn lookup(
        self: &Arc<Self>,
        key: &[u8],
        request: Message,
        mut on_response: impl FnMut(PeerId, &Message) -> Flow,
    ) -> Result<(Vec<PeerId>, LookupStats), Error> {
        let target = Key::new(key);
        let local = self.host.peer_id();
        let seeds: Vec<PeerId> =
            self.table().closest(&target, self.config.query.k).into_iter().map(|entry| entry.peer).collect();
        if seeds.is_empty() {
            return Err(Error::NoPeers);
        }
        let mut query = Query::new(target, seeds, self.config.query);
        let mut in_flight = FuturesUnordered::new();
        let deadline = tokio::time::Instant::now() + self.config.query_timeout;
        'lookup: loop {
            loop {
                match query.next(Instant::now()) {
                    Step::Request(peer) => {
                        let (shared, request) = (Arc::clone(self), request.clone());
                        in_flight.push(async move { (peer, shared.rpc(peer, &request).await) });
                    }
                    Step::Waiting => break,
                    Step::Finished => break 'lookup,
                }
            }
            tokio::select! {
                Some((peer, outcome)) = in_flight.next() => match outcome {
                    Ok(response) => {
                        self.saw_server(peer, &[]);
                        let mut closer = Vec::new();
                        for kad_peer in response.closer_peers.iter().filter(|p| p.id != local) {
                            if !kad_peer.addrs.is_empty() {
                                self.host.update_peer(kad_peer.id, |info| info.addrs.extend(kad_peer.addrs.iter().cloned()));
                            }
                            closer.push(kad_peer.id);
                        }
                        query.succeeded(peer, closer);
                        if let Flow::Stop = on_response(peer, &response) {
                            break 'lookup;
                        }
                    }
                    Err(error) => {
                        tracing::debug!(%peer, %error, "kad: a request failed");
                        query.failed(peer);
                    }
                },
                () = tokio::time::sleep_until(deadline) => {
                    tracing::debug!("kad: a lookup timed out");
                    break 'lookup;
                }
            }
        }
        let stats = LookupStats { requests: query.requests(), hops: query.hops() };
        Ok((query.result(), stats))
    }

    fn valid(&self, record: &Record) -> bool {
        self.config.validator.as_ref().is_none_or(|validator| validator.validate(record))
    }

    /// Our own entry for a provider list, without addresses: each peer it
    /// goes to gets those it may be told (`addressed_to`, and the server's
    /// `GET_PROVIDERS` answers), never one list for everyone.
    fn local_peer(&self) -> KadPeer {
        KadPeer { id: self.host.peer_id(), addrs: Vec::new(), connection: ConnectionType::Connected }
    }

    /// `request` as sent to a peer seen at `remote`: our own entry in it
    /// (an `ADD_PROVIDER`'s) lists only the addresses that peer may be told
    /// ([`strata_host::Host::advertised_addrs`]: no loopback or private
    /// address to a public peer, which would store and hand them out).
    fn addressed_to<'a>(&self, request: &'a Message, remote: &Multiaddr) -> std::borrow::Cow<'a, Message> {
        let local = self.host.peer_id();
        if !request.provider_peers.iter().any(|peer| peer.id == local) {
            return std::borrow::Cow::Borrowed(request);
        }
        let mut request = request.clone();
        for peer in request.provider_peers.iter_mut().filter(|peer| peer.id == local) {
            peer.addrs = self.host.advertised_addrs(remote);
        }
        std::borrow::Cow::Owned(request)
    }
}

impl Kad {
    /// The k peers nearest to `key` that answered (`FIND_NODE`), with the
    /// lookup's stats.
    pub async fn closest_peers(&self, key: &[u8]) -> Result<(Vec<PeerId>, LookupStats), Error> {
        let request = Message::request(MessageType::FindNode, key.to_vec());
        self.shared.lookup(key, request, |_, _| Flow::Continue).await
    }

    /// The addresses of `peer`, found through the DHT (or known already).
    pub async fn find_peer(&self, peer: PeerId) -> Result<Vec<Multiaddr>, Error> {
        let request = Message::request(MessageType::FindNode, peer.to_bytes());
        let mut found = Vec::new();
        self.shared
            .lookup(&peer.to_bytes(), request, |from, response| {
                if from == peer {
                    return Flow::Stop;
                }
                match response.closer_peers.iter().find(|p| p.id == peer && !p.addrs.is_empty()) {
                    Some(entry) => {
                        found.clone_from(&entry.addrs);
                        Flow::Stop
                    }
                    None => Flow::Continue,
                }
            })
            .await?;
        let known = self.shared.host.peer_info(peer).map(|info| info.addrs).unwrap_or_default();
        for addr in known {
            if !found.contains(&addr) {
                found.push(addr);
            }
        }
        if found.is_empty() { Err(Error::NotFound) } else { Ok(found) }
    }

    /// Stores `value` under `key` locally and on the k nearest peers;
    /// returns how many peers stored it (at least the quorum, or an error).
    pub async fn put_value(&self, key: &[u8], value: Vec<u8>) -> Result<usize, Error> {
        let record = Record { key: key.to_vec(), value };
        if !self.shared.valid(&record) {
            return Err(Error::InvalidRecord);
        }
        let now = Instant::now();
        self.shared.store().put(record.clone(), now + self.shared.config.ttls.record_ttl)?;
        self.shared.published().records.insert(record.key.clone(), record.value.clone());
        let (closest, _) = self.closest_peers(key).await?;
        let put = Message { record: Some(record), ..Message::request(MessageType::PutValue, key.to_vec()) };
        let stored = self.put_to(&closest, &put).await;
        let wanted = self.shared.config.quorum;
        if stored < wanted { Err(Error::Quorum { got: stored, wanted }) } else { Ok(stored) }
    }

    async fn put_to(&self, peers: &[PeerId], put: &Message) -> usize {
        let puts = peers.iter().map(|peer| {
            let shared = Arc::clone(&self.shared);
            let put = put.clone();
            let peer = *peer;
            async move { shared.rpc(peer, &put).await.is_ok_and(|echo| echo.record == put.record) }
        });
        futures::future::join_all(puts).await.into_iter().filter(|stored| *stored).count()
    }

    /// The record under `key`: ours if held, else the best of the valid
    /// ones the DHT returns once `quorum` peers answered with one. Peers
    /// that returned a worse record are sent the best.
    pub async fn get_value(&self, key: &[u8]) -> Result<Vec<u8>, Error> {
        if let Some(record) = self.shared.store().get(key, Instant::now())
            && self.shared.config.quorum <= 1
        {
            return Ok(record.value);
        }
        let quorum = self.shared.config.quorum;
        let mut found: Vec<(PeerId, Vec<u8>)> = Vec::new();
        let shared = Arc::clone(&self.shared);
        let request = Message::request(MessageType::GetValue, key.to_vec());
        self.shared
            .lookup(key, request, |peer, response| {
                if let Some(record) = &response.record
                    && record.key == key
                    && shared.valid(record)
                {
                    found.push((peer, record.value.clone()));
                }
                if found.len() >= quorum { Flow::Stop } else { Flow::Continue }
            })
            .await?;
        if let Some(record) = self.shared.store().get(key, Instant::now()) {
            found.push((self.shared.host.peer_id(), record.value));
        }
        if found.is_empty() {
            return Err(Error::NotFound);
        }
        let values: Vec<Vec<u8>> = found.iter().map(|(_, value)| value.clone()).collect();
        let best = self.shared.config.validator.as_ref().map_or(0, |validator| validator.select(key, &values));
        let best = values.get(best).cloned().unwrap_or_else(|| values[0].clone());
        let local = self.shared.host.peer_id();
        let outdated: Vec<PeerId> =
            found.iter().filter(|(peer, value)| *value != best && *peer != local).map(|(peer, _)| *peer).collect();
        if !outdated.is_empty() {
            let record = Record { key: key.to_vec(), value: best.clone() };
            let put = Message { record: Some(record), ..Message::request(MessageType::PutValue, key.to_vec()) };
            self.put_to(&outdated, &put).await;
        }
        Ok(best)
    }

    /// Announces this node as a provider of `key` to the k nearest peers
    /// (and in its own store, without addresses: a `GET_PROVIDERS` answer
    /// fills in what its asker may be told); returns how many were told.
    pub async fn provide(&self, key: &[u8]) -> Result<usize, Error> {
        let local = self.shared.local_peer();
        let expires = Instant::now() + self.shared.config.ttls.provider_ttl;
        let provider = Provider { peer: local.id, addrs: local.addrs.clone(), expires };
        self.shared.store().add_provider(key, provider)?;
        {
            let mut published = self.shared.published();
            if !published.provided.iter().any(|known| known == key) {
                published.provided.push(key.to_vec());
            }
        }
        let (closest, _) = self.closest_peers(key).await?;
        let add = Message { provider_peers: vec![local], ..Message::request(MessageType::AddProvider, key.to_vec()) };
        let sends = closest.iter().map(|peer| {
            let (shared, add, peer) = (Arc::clone(&self.shared), add.clone(), *peer);
            async move { shared.send_only(peer, &add).await.is_ok() }
        });
        Ok(futures::future::join_all(sends).await.into_iter().filter(|sent| *sent).count())
    }

    /// The providers of `key` the DHT knows (at most k), with their
    /// addresses (also put in the host's peer store).
    pub async fn providers(&self, key: &[u8]) -> Result<Vec<(PeerId, Vec<Multiaddr>)>, Error> {
        let k = self.shared.config.query.k;
        let mut found: Vec<(PeerId, Vec<Multiaddr>)> = self
            .shared
            .store()
            .providers(key, Instant::now())
            .into_iter()
            .map(|provider| (provider.peer, provider.addrs))
            .collect();
        let mut seen: HashSet<PeerId> = found.iter().map(|(peer, _)| *peer).collect();
        let host = self.shared.host.clone();
        let request = Message::request(MessageType::GetProviders, key.to_vec());
        let lookup = self.shared.lookup(key, request, |_, response| {
            for provider in &response.provider_peers {
                if seen.insert(provider.id) {
                    if !provider.addrs.is_empty() {
                        host.update_peer(provider.id, |info| info.addrs.extend(provider.addrs.iter().cloned()));
                    }
                    found.push((provider.id, provider.addrs.clone()));
                }
            }
            if found.len() >= k { Flow::Stop } else { Flow::Continue }
        });
        match lookup.await {
            Ok(_) | Err(Error::NoPeers) => {}
            Err(error) => return Err(error),
        }
        Ok(found)
    }

    /// Fills the routing table: a lookup of our own id, then one of a
    /// random id in each non-empty bucket. Returns the table's size.
    pub async fn bootstrap(&self) -> Result<usize, Error> {
        let local = self.shared.host.peer_id();
        self.closest_peers(&local.to_bytes()).await?;
        let buckets = self.shared.table().non_empty_buckets();
        for bucket in buckets {
            let Some(target) = self.shared.table().random_peer_in_bucket(bucket) else { continue };
            if let Err(error) = self.closest_peers(&target.to_bytes()).await {
                tracing::debug!(%error, bucket, "kad: a bucket refresh failed");
            }
        }
        Ok(self.routing_table_len())
    }
}
