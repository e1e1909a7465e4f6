//! The server side (`libp2p-kad-dht.md`, "RPC messages"): an inbound
//! stream carries one or more requests, each answered in turn, until the
//! remote closes it or stays silent too long.
//!
//! ```text
//! FIND_NODE     ─▶ the k nearest peers we know (never the asker, never us)
//! GET_VALUE     ─▶ our record, if any, and the k nearest peers
//! PUT_VALUE     ─▶ validated, stored, the request echoed (else the stream is reset)
//! GET_PROVIDERS ─▶ the providers we hold, and the k nearest peers
//!                  (our own entry with what the asker may be told)
//! ADD_PROVIDER  ─▶ the provider entries that name the sender, stored; no answer
//! PING          ─▶ echoed (deprecated)
//! ```

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use strata_core::{Multiaddr, PeerId, framing};
use strata_host::{Host, Stream};
use tokio::{io::AsyncWriteExt, sync::Semaphore};

use crate::{
    PROTOCOL,
    key::Key,
    proto::{ConnectionType, KadPeer, Message, MessageType},
    service::{Error, Shared},
    store::Provider,
};

/// How long an inbound stream may stay silent between requests.
const IDLE: Duration = Duration::from_secs(30);

pub(crate) fn serve(host: &Host, shared: &Arc<Shared>) -> Result<(), Error> {
    let slots = Arc::new(Semaphore::new(shared.config.max_inbound_streams));
    // The handler holds the DHT: a server answers as long as its host
    // runs, whether or not the application keeps a handle.
    let shared = Arc::clone(shared);
    host.handle(PROTOCOL, move |stream| {
        let (shared, slots) = (Arc::clone(&shared), Arc::clone(&slots));
        async move {
            let Ok(_slot) = slots.try_acquire_owned() else {
                tracing::debug!("kad: too many inbound streams; resetting one");
                return Ok(());
            };
            answer_stream(&shared, stream).await
        }
    })?;
    Ok(())
}

async fn answer_stream(shared: &Arc<Shared>, mut stream: Stream) -> std::io::Result<()> {
    let (peer, remote) = (stream.peer(), stream.remote_addr().clone());
    loop {
        let read = framing::try_read_length_prefixed(&mut stream, shared.config.max_message_len);
        let request = match tokio::time::timeout(IDLE, read).await {
            Ok(Ok(Some(bytes))) => bytes,
            Ok(Ok(None)) => return stream.shutdown().await,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "kad: inbound stream failed");
                return Ok(());
            }
            Err(_) => return Ok(()),
        };
        let request = match Message::decode(&request) {
            Ok(request) => request,
            Err(error) => {
                tracing::debug!(%peer, %error, "kad: a malformed request; resetting the stream");
                return Ok(());
            }
        };
        match answer(shared, peer, &remote, request) {
            Answer::Reply(response) => {
                if framing::write_length_prefixed(&mut stream, &response.encode()).await.is_err() {
                    return Ok(());
                }
            }
            Answer::Nothing => {}
            Answer::Refuse => return Ok(()),
        }
    }
}

/// What a request gets.
enum Answer {
    /// This response.
    Reply(Message),
    /// No response (`ADD_PROVIDER`); the stream stays open for more.
    Nothing,
    /// The request is refused: the stream is dropped.
    Refuse,
}

/// The k nearest peers to `key` that we know, for an answer to `asker`
/// (seen at `remote`).
pub(crate) fn closer_peers(shared: &Shared, key: &[u8], asker: PeerId, remote: &Multiaddr) -> Vec<KadPeer> {
    let k = shared.config.query.k;
    let entries = shared.table().closest(&Key::new(key), k + 1);
    entries
        .into_iter()
        .filter(|entry| entry.peer != asker)
        .take(k)
        .map(|entry| {
            let connected = shared.host.is_connected(entry.peer);
            let mut addrs = entry.addrs;
            if entry.peer == shared.host.peer_id() {
                addrs = shared.host.advertised_addrs(remote);
            } else if addrs.is_empty() {
                addrs = shared.host.peer_info(entry.peer).map(|info| info.addrs).unwrap_or_default();
            }
            let connection = if connected { ConnectionType::Connected } else { ConnectionType::NotConnected };
            KadPeer { id: entry.peer, addrs, connection }
        })
        .collect()
}

/// The answer to one request from `peer`, seen at `remote`.
fn answer(shared: &Arc<Shared>, peer: PeerId, remote: &Multiaddr, request: Message) -> Answer {
    let now = Instant::now();
    match request.kind {
        MessageType::FindNode => {
            let closer_peers = closer_peers(shared, &request.key, peer, remote);
            Answer::Reply(Message { closer_peers, ..Message::request(MessageType::FindNode, request.key) })
        }
        MessageType::GetValue => {
            let record = shared.store().get(&request.key, now);
            let closer_peers = closer_peers(shared, &request.key, peer, remote);
            Answer::Reply(Message { record, closer_peers, ..Message::request(MessageType::GetValue, request.key) })
        }
        MessageType::PutValue => {
            let Some(record) = request.record.clone() else { return Answer::Refuse };
            let valid = record.key == request.key
                && shared.config.validator.as_ref().is_none_or(|validator| validator.validate(&record));
            if !valid {
                tracing::debug!(%peer, "kad: an invalid PUT_VALUE; resetting the stream");
                return Answer::Refuse;
            }
            if let Err(error) = shared.store().put(record, now + shared.config.ttls.record_ttl) {
                tracing::debug!(%peer, %error, "kad: a record not stored");
                return Answer::Refuse;
            }
            Answer::Reply(request)
        }
        MessageType::GetProviders => {
            let providers = shared.store().providers(&request.key, now);
            let provider_peers = providers
                .into_iter()
                .map(|provider| KadPeer {
                    connection: if shared.host.is_connected(provider.peer) {
                        ConnectionType::Connected
                    } else {
                        ConnectionType::NotConnected
                    },
                    id: provider.peer,
                    // Our own record is stored without addresses: the asker
                    // gets what it may be told now (no loopback or private
                    // address to a public peer, no circuit that expired).
                    addrs: if provider.peer == shared.host.peer_id() {
                        shared.host.advertised_addrs(remote)
                    } else {
                        provider.addrs
                    },
                })
                .collect();
            let closer_peers = closer_peers(shared, &request.key, peer, remote);
            Answer::Reply(Message {
                closer_peers,
                provider_peers,
                ..Message::request(MessageType::GetProviders, request.key)
            })
        }
        MessageType::AddProvider => {
            let expires = now + shared.config.ttls.provider_ttl;
            for provider in request.provider_peers.into_iter().filter(|provider| provider.id == peer) {
                let addrs = provider.addrs.clone();
                shared.host.update_peer(peer, |info| info.addrs.extend(addrs.iter().cloned()));
                let stored =
                    shared.store().add_provider(&request.key, Provider { peer, addrs: provider.addrs, expires });
                if let Err(error) = stored {
                    tracing::debug!(%peer, %error, "kad: a provider record not stored");
                }
            }
            Answer::Nothing
        }
        MessageType::Ping => Answer::Reply(request),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::{Config, Kad};

    /// Our own provider entry in a `GET_PROVIDERS` answer to a peer seen at `remote`.
    fn our_entry(kad: &Kad, key: &[u8], remote: &str) -> Vec<Multiaddr> {
        let host = kad.shared.host.clone();
        let request = Message::request(MessageType::GetProviders, key.to_vec());
        let Answer::Reply(reply) = answer(&kad.shared, PeerId::random(), &remote.parse().unwrap(), request) else {
            panic!("GET_PROVIDERS unanswered");
        };
        let ours = reply.provider_peers.into_iter().find(|provider| provider.id == host.peer_id());
        ours.unwrap().addrs
    }

    #[tokio::test]
    async fn our_provider_entry_lists_what_the_asker_may_be_told() {
        let host = strata_testkit::host().await;
        let kad = Kad::attach(&host, Config::default()).unwrap();
        let (public, private): (Multiaddr, Multiaddr) =
            ("/ip4/198.18.0.9/tcp/4001".parse().unwrap(), "/ip4/192.168.1.2/tcp/4001".parse().unwrap());
        host.add_external_addr(public.clone());
        host.add_external_addr(private.clone());
        // No peer to tell: the record still goes to our own store.
        assert!(matches!(kad.provide(b"topic").await, Err(Error::NoPeers)));
        let loopback = host.listen_addrs()[0].clone();

        let to_public = our_entry(&kad, b"topic", "/ip4/198.18.0.2/tcp/5");
        assert_eq!(to_public, std::slice::from_ref(&public), "no loopback or private address to a public peer");
        let to_lan = our_entry(&kad, b"topic", "/ip4/192.168.1.3/tcp/5");
        assert_eq!(to_lan, [public.clone(), private.clone()]);
        let to_local = our_entry(&kad, b"topic", "/ip4/127.0.0.1/tcp/5");
        assert_eq!(to_local, [public, private, loopback]);
        // Told as the host's addresses are now, not as they were at `provide`.
        host.stop_listening(&host.listen_addrs()[0]);
        assert!(
            our_entry(&kad, b"topic", "/ip4/127.0.0.1/tcp/5")
                .iter()
                .all(|addr| addr.ip() != Some([127, 0, 0, 1].into()))
        );
    }
}
