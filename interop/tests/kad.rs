//! strata's Kademlia against rust-libp2p's (`libp2p-kad` 0.49, server
//! mode, with identify as real nodes run it): strata answers rust's
//! `FIND_NODE`, `GET_VALUE`, `PUT_VALUE`, `ADD_PROVIDER` and `GET_PROVIDERS` and asks
//! rust the same; a mixed network of three strata and two rust nodes
//! resolves a record put by either side.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::collections::HashSet;

use strata_testkit::{eventually, within};

use futures::StreamExt as _;
use libp2p::{
    identify,
    kad::{self, store::RecordStore as _},
    swarm::{NetworkBehaviour, SwarmEvent},
};
use strata::{
    Host, Keypair,
    identify::Identify,
    kad::{Config, Kad},
};
use tokio::sync::{mpsc, oneshot};

#[path = "support/rust_peer.rs"]
mod rust_peer;

use rust_peer::{ours, theirs};

#[derive(NetworkBehaviour)]
struct RustBehaviour {
    kad: kad::Behaviour<kad::store::MemoryStore>,
    identify: identify::Behaviour,
}

enum Command {
    AddAddress(libp2p::PeerId, libp2p::Multiaddr),
    /// Bootstraps; answers (if asked) when the bootstrap has ended.
    Bootstrap(Option<oneshot::Sender<()>>),
    PutRecord(Vec<u8>, Vec<u8>),
    GetRecord(Vec<u8>, oneshot::Sender<Option<Vec<u8>>>),
    StoredRecord(Vec<u8>, oneshot::Sender<Option<Vec<u8>>>),
    ClosestPeers(Vec<u8>, oneshot::Sender<Vec<libp2p::PeerId>>),
    StartProviding(Vec<u8>),
    GetProviders(Vec<u8>, oneshot::Sender<HashSet<libp2p::PeerId>>),
    LocalProviders(Vec<u8>, oneshot::Sender<Vec<libp2p::PeerId>>),
}

/// A rust-libp2p node with kad (server mode) and identify; identify's
/// listen addresses of kad servers go into kad, as applications do.
struct RustNode {
    peer: libp2p::PeerId,
    addr: libp2p::Multiaddr,
    commands: mpsc::UnboundedSender<Command>,
}

impl RustNode {
    async fn start() -> Self {
        let keypair = libp2p_identity::Keypair::generate_ed25519();
        let peer = keypair.public().to_peer_id();
        let mut swarm = rust_peer::swarm(keypair, |key| {
            let local = key.public().to_peer_id();
            let mut kad = kad::Behaviour::new(local, kad::store::MemoryStore::new(local));
            kad.set_mode(Some(kad::Mode::Server));
            let identify = identify::Behaviour::new(identify::Config::new("/ipfs/id/1.0.0".into(), key.public()));
            RustBehaviour { kad, identify }
        });
        swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap()).unwrap();
        let addr = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                break address;
            }
        };
        let (commands, mut command_rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut pending = Pending::default();
            loop {
                tokio::select! {
                    command = command_rx.recv() => match command {
                        Some(command) => pending.command(&mut swarm.behaviour_mut().kad, command),
                        None => return,
                    },
                    event = swarm.select_next_some() => match event {
                        SwarmEvent::Behaviour(RustBehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }))
                            if info.protocols.iter().any(|p| p.as_ref() == "/ipfs/kad/1.0.0") =>
                        {
                            for addr in info.listen_addrs {
                                swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                            }
                        }
                        SwarmEvent::Behaviour(RustBehaviourEvent::Kad(kad::Event::OutboundQueryProgressed { id, result, step, .. })) => {
                            pending.progressed(id, result, step.last);
                        }
                        _ => {}
                    },
                }
            }
        });
        Self { peer, addr, commands }
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> T {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).unwrap();
        within(answer).await.unwrap()
    }
}

/// The rust node's queries waiting for their results.
#[derive(Default)]
struct Pending {
    records: Vec<(kad::QueryId, oneshot::Sender<Option<Vec<u8>>>)>,
    closest: Vec<(kad::QueryId, oneshot::Sender<Vec<libp2p::PeerId>>)>,
    providers: Vec<(kad::QueryId, oneshot::Sender<HashSet<libp2p::PeerId>>, HashSet<libp2p::PeerId>)>,
    bootstraps: Vec<(kad::QueryId, oneshot::Sender<()>)>,
}

impl Pending {
    fn command(&mut self, kad: &mut kad::Behaviour<kad::store::MemoryStore>, command: Command) {
        match command {
            Command::AddAddress(peer, addr) => {
                kad.add_address(&peer, addr);
            }
            Command::Bootstrap(reply) => match (kad.bootstrap(), reply) {
                (Ok(id), Some(reply)) => self.bootstraps.push((id, reply)),
                (Err(_), Some(reply)) => drop(reply.send(())), // no peer known: nothing to do
                (_, None) => {}
            },
            Command::PutRecord(key, value) => {
                kad.put_record(kad::Record::new(key, value), kad::Quorum::One).unwrap();
            }
            Command::GetRecord(key, reply) => self.records.push((kad.get_record(kad::RecordKey::new(&key)), reply)),
            Command::StoredRecord(key, reply) => {
                let _ = reply.send(kad.store_mut().get(&kad::RecordKey::new(&key)).map(|r| r.value.clone()));
            }
            Command::ClosestPeers(key, reply) => self.closest.push((kad.get_closest_peers(key), reply)),
            Command::StartProviding(key) => {
                kad.start_providing(kad::RecordKey::new(&key)).unwrap();
            }
            Command::GetProviders(key, reply) => {
                self.providers.push((kad.get_providers(kad::RecordKey::new(&key)), reply, HashSet::new()));
            }
            Command::LocalProviders(key, reply) => {
                let found = kad.store_mut().providers(&kad::RecordKey::new(&key));
                let _ = reply.send(found.into_iter().map(|record| record.provider).collect());
            }
        }
    }

    fn progressed(&mut self, id: kad::QueryId, result: kad::QueryResult, last: bool) {
        match result {
            kad::QueryResult::GetRecord(outcome) => {
                let Some(at) = self.records.iter().position(|(query, _)| *query == id) else { return };
                let value = match outcome {
                    Ok(kad::GetRecordOk::FoundRecord(found)) => Some(found.record.value),
                    _ => None,
                };
                if value.is_some() || last {
                    let (_, reply) = self.records.remove(at);
                    let _ = reply.send(value);
                }
            }
            kad::QueryResult::GetClosestPeers(outcome) => {
                let Some(at) = self.closest.iter().position(|(query, _)| *query == id) else { return };
                let (_, reply) = self.closest.remove(at);
                let peers =
                    outcome.map(|ok| ok.peers.into_iter().map(|info| info.peer_id).collect()).unwrap_or_default();
                let _ = reply.send(peers);
            }
            kad::QueryResult::GetProviders(outcome) => {
                let Some(at) = self.providers.iter().position(|(query, _, _)| *query == id) else { return };
                if let Ok(kad::GetProvidersOk::FoundProviders { providers: found, .. }) = outcome {
                    self.providers[at].2.extend(found);
                }
                if last {
                    let (_, reply, found) = self.providers.remove(at);
                    let _ = reply.send(found);
                }
            }
            kad::QueryResult::Bootstrap(_) if last => {
                if let Some(at) = self.bootstraps.iter().position(|(query, _)| *query == id) {
                    let (_, reply) = self.bootstraps.remove(at);
                    let _ = reply.send(());
                }
            }
            _ => {}
        }
    }
}

struct StrataNode {
    host: Host,
    kad: Kad,
    _identify: Identify,
}

async fn strata_node() -> StrataNode {
    let host = strata::builder(&Keypair::generate_ed25519())
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    let identify = Identify::attach(&host, strata::identify::Config::default()).unwrap();
    let kad = Kad::attach(&host, Config::default().with_bootstrap_interval(None)).unwrap();
    StrataNode { host, kad, _identify: identify }
}

fn strata_addr(node: &StrataNode) -> libp2p::Multiaddr {
    node.host.listen_addrs()[0].to_string().parse().unwrap()
}

#[tokio::test]
async fn strata_asks_rust_libp2p() {
    let rust = RustNode::start().await;
    rust.commands.send(Command::PutRecord(b"from rust".to_vec(), b"rust value".to_vec())).unwrap();
    let strata = strata_node().await;
    strata.kad.add_address(ours(rust.peer), &rust.addr.to_string().parse().unwrap());

    let (closest, _) = within(strata.kad.closest_peers(b"anything")).await.unwrap();
    assert_eq!(closest, [ours(rust.peer)], "FIND_NODE answered");
    assert_eq!(within(strata.kad.get_value(b"from rust")).await.unwrap(), b"rust value", "GET_VALUE answered");
    assert_eq!(within(strata.kad.put_value(b"from strata", b"strata value".to_vec())).await.unwrap(), 1);
    let stored = rust.ask(|reply| Command::StoredRecord(b"from strata".to_vec(), reply)).await;
    assert_eq!(stored.as_deref(), Some(&b"strata value"[..]), "PUT_VALUE stored by rust");
    assert_eq!(within(strata.kad.provide(b"content")).await.unwrap(), 1);
    // ADD_PROVIDER has no answer: rust stores it when it reads it.
    let local_providers = async || rust.ask(|reply| Command::LocalProviders(b"content".to_vec(), reply)).await;
    eventually("rust stores strata's provider record", async || !local_providers().await.is_empty()).await;
    let providers = local_providers().await;
    assert_eq!(providers, [theirs(strata.host.peer_id())], "ADD_PROVIDER stored by rust");
    rust.commands.send(Command::StartProviding(b"rust content".to_vec())).unwrap();
    let found = within(strata.kad.providers(b"rust content")).await.unwrap();
    assert!(found.iter().any(|(peer, _)| *peer == ours(rust.peer)), "GET_PROVIDERS answered: {found:?}");
}

#[tokio::test]
async fn rust_libp2p_asks_strata() {
    let strata = strata_node().await;
    // Stored locally (no peer to replicate to yet).
    assert!(within(strata.kad.put_value(b"from strata", b"strata value".to_vec())).await.is_err());
    within(strata.kad.provide(b"strata content")).await.unwrap_err();
    let rust = RustNode::start().await;
    rust.commands.send(Command::AddAddress(theirs(strata.host.peer_id()), strata_addr(&strata))).unwrap();

    let closest = rust.ask(|reply| Command::ClosestPeers(b"anything".to_vec(), reply)).await;
    assert!(closest.contains(&theirs(strata.host.peer_id())), "FIND_NODE answered: {closest:?}");
    let value = rust.ask(|reply| Command::GetRecord(b"from strata".to_vec(), reply)).await;
    assert_eq!(value.as_deref(), Some(&b"strata value"[..]), "GET_VALUE answered");
    let providers = rust.ask(|reply| Command::GetProviders(b"strata content".to_vec(), reply)).await;
    assert!(providers.contains(&theirs(strata.host.peer_id())), "GET_PROVIDERS answered: {providers:?}");

    rust.commands.send(Command::PutRecord(b"from rust".to_vec(), b"rust value".to_vec())).unwrap();
    rust.commands.send(Command::StartProviding(b"rust content".to_vec())).unwrap();
    eventually("strata gets the record rust put", async || {
        strata.kad.get_value(b"from rust").await.ok().as_deref() == Some(&b"rust value"[..])
    })
    .await;
    let found = within(strata.kad.providers(b"rust content")).await.unwrap();
    assert!(found.iter().any(|(peer, _)| *peer == ours(rust.peer)), "ADD_PROVIDER stored by strata: {found:?}");
}

#[tokio::test]
async fn a_mixed_network_resolves_records_put_by_either_side() {
    let mut stratas = Vec::new();
    for _ in 0..3 {
        stratas.push(strata_node().await);
    }
    let rusts = [RustNode::start().await, RustNode::start().await];
    let (hub, hub_addr) = (stratas[0].host.peer_id(), stratas[0].host.listen_addrs()[0].clone());
    for node in &stratas[1..] {
        node.kad.add_address(hub, &hub_addr);
    }
    for rust in &rusts {
        rust.commands.send(Command::AddAddress(theirs(hub), hub_addr.to_string().parse().unwrap())).unwrap();
        rust.commands.send(Command::Bootstrap(None)).unwrap();
    }
    for node in &stratas[1..] {
        within(node.kad.bootstrap()).await.unwrap();
    }
    // Identify runs on every connection: tables fill on both sides.
    eventually("the hub's table holds the four others", async || stratas[0].kad.routing_table_len() >= 4).await;
    for node in &stratas {
        within(node.kad.bootstrap()).await.unwrap();
    }
    for rust in &rusts {
        rust.ask(|reply| Command::Bootstrap(Some(reply))).await;
    }

    within(stratas[1].kad.put_value(b"put by strata", b"s".to_vec())).await.unwrap();
    let got = rusts[1].ask(|reply| Command::GetRecord(b"put by strata".to_vec(), reply)).await;
    assert_eq!(got.as_deref(), Some(&b"s"[..]), "a rust node gets strata's record");

    rusts[0].commands.send(Command::PutRecord(b"put by rust".to_vec(), b"r".to_vec())).unwrap();
    eventually("a strata node gets rust's record", async || {
        stratas[2].kad.get_value(b"put by rust").await.ok().as_deref() == Some(&b"r"[..])
    })
    .await;
}
