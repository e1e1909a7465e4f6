//! The layer traits are implementable with plain `async fn`, and generic
//! code over them yields `Send` futures that tokio can spawn: the shape the
//! upgrader in `host/` relies on.
//!
//! The implementations here are test fixtures, not layers: an in-memory
//! transport over `tokio::io::duplex`, and an "upgrade" that exchanges
//! public keys in the clear and proves possession with a signature (no
//! encryption: enough to exercise the `expected` peer check).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use strata_core::{
    ByteStream, Endpoint, Keypair, Listener, Multiaddr, MuxedConnection, PeerId, PublicKey, SecurityUpgrade,
    StreamMuxer, Transport, framing, multiaddr::Component, multistream,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, DuplexStream},
    sync::mpsc,
};

#[derive(Debug, thiserror::Error)]
enum FixtureError {
    #[error("no listener at {0}")]
    NoListener(Multiaddr),
    #[error("listener closed")]
    Closed,
    #[error("authentication failed: {0}")]
    Auth(&'static str),
    #[error(transparent)]
    Core(#[from] strata_core::Error),
}

/// Listeners by `/memory/<name>` address.
#[derive(Clone, Default)]
struct MemoryTransport {
    listeners: Arc<Mutex<HashMap<Multiaddr, mpsc::Sender<DuplexStream>>>>,
}

struct MemoryListener {
    addr: Multiaddr,
    inbound: mpsc::Receiver<DuplexStream>,
}

fn is_memory(addr: &Multiaddr) -> bool {
    matches!(addr.iter().collect::<Vec<_>>().as_slice(), [Component::Memory(_)])
}

impl Transport for MemoryTransport {
    type Stream = DuplexStream;
    type Listener = MemoryListener;
    type Error = FixtureError;

    fn can_dial(&self, addr: &Multiaddr) -> bool {
        is_memory(addr)
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        is_memory(addr)
    }

    async fn dial(&self, addr: &Multiaddr) -> Result<DuplexStream, FixtureError> {
        let sender = self.listeners.lock().unwrap().get(addr).cloned();
        let sender = sender.ok_or_else(|| FixtureError::NoListener(addr.clone()))?;
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        sender.send(theirs).await.map_err(|_| FixtureError::Closed)?;
        Ok(ours)
    }

    async fn listen(&self, addr: &Multiaddr) -> Result<MemoryListener, FixtureError> {
        let (sender, inbound) = mpsc::channel(8);
        self.listeners.lock().unwrap().insert(addr.clone(), sender);
        Ok(MemoryListener { addr: addr.clone(), inbound })
    }
}

impl Listener for MemoryListener {
    type Stream = DuplexStream;
    type Error = FixtureError;

    fn local_addrs(&self) -> Vec<Multiaddr> {
        vec![self.addr.clone()]
    }

    async fn accept(&mut self) -> Result<(DuplexStream, Multiaddr), FixtureError> {
        let stream = self.inbound.recv().await.ok_or(FixtureError::Closed)?;
        Ok((stream, "/memory/dialer".parse().unwrap()))
    }
}

/// Sends our public key and a signature of the remote's; no encryption.
#[derive(Clone)]
struct SignedHello(Arc<Keypair>);

impl SignedHello {
    async fn run<S: ByteStream>(&self, mut io: S) -> Result<(PeerId, S), FixtureError> {
        framing::write_length_prefixed(&mut io, &self.0.public().encode_protobuf()).await?;
        let theirs = PublicKey::decode_protobuf(&framing::read_length_prefixed(&mut io, 64).await?)?;
        framing::write_length_prefixed(&mut io, &self.0.sign(&theirs.encode_protobuf())).await?;
        let signature = framing::read_length_prefixed(&mut io, 64).await?;
        if !theirs.verify(&self.0.public().encode_protobuf(), &signature) {
            return Err(FixtureError::Auth("bad signature"));
        }
        Ok((theirs.to_peer_id(), io))
    }
}

impl SecurityUpgrade for SignedHello {
    const PROTOCOL_NAME: &'static str = "/signed-hello/1.0.0";
    type Output<S: ByteStream> = S;
    type Error = FixtureError;

    async fn secure_outbound<S: ByteStream>(
        &self,
        stream: S,
        expected: Option<PeerId>,
    ) -> Result<(PeerId, S), FixtureError> {
        let (remote, stream) = self.run(stream).await?;
        match expected {
            Some(expected) if expected != remote => Err(FixtureError::Auth("unexpected peer")),
            _ => Ok((remote, stream)),
        }
    }

    async fn secure_inbound<S: ByteStream>(&self, stream: S) -> Result<(PeerId, S), FixtureError> {
        self.run(stream).await
    }
}

/// The generic dial path of an upgrader: transport, negotiation, security.
async fn dial_and_secure<T: Transport, U: SecurityUpgrade>(
    transport: &T,
    upgrade: &U,
    addr: &Multiaddr,
) -> Result<(PeerId, U::Output<T::Stream>), Box<dyn std::error::Error + Send + Sync>> {
    let mut stream = transport.dial(&addr.without_peer_id()).await?;
    multistream::dialer_select(&mut stream, [U::PROTOCOL_NAME]).await?;
    Ok(upgrade.secure_outbound(stream, addr.peer_id()).await?)
}

async fn accept_and_secure<L: Listener, U: SecurityUpgrade>(
    listener: &mut L,
    upgrade: &U,
) -> Result<(PeerId, U::Output<L::Stream>), Box<dyn std::error::Error + Send + Sync>> {
    let (mut stream, _remote_addr) = listener.accept().await?;
    multistream::listener_select(&mut stream, &[U::PROTOCOL_NAME]).await?;
    Ok(upgrade.secure_inbound(stream).await?)
}

/// Compiles only if a muxer's futures can be spawned: checked for any
/// implementation, without needing one here.
#[allow(dead_code)]
fn muxer_futures_are_send<M: StreamMuxer, S: ByteStream>(muxer: M, stream: S) {
    drop(tokio::spawn(async move {
        let connection = muxer.upgrade(stream, Endpoint::Dialer).await.ok()?;
        let mut outbound = connection.open_stream().await.ok()?;
        outbound.write_all(b"x").await.ok()?;
        let _inbound = connection.accept_stream().await.ok()??;
        connection.close().await.ok()
    }));
}

#[tokio::test]
async fn transport_and_security_compose_in_spawned_tasks() {
    let transport = MemoryTransport::default();
    let server_key = Keypair::ed25519_from_secret([1; 32]);
    let server_id = server_key.peer_id();
    let client_key = Keypair::ed25519_from_secret([2; 32]);
    let client_id = client_key.peer_id();
    let addr: Multiaddr = "/memory/server".parse().unwrap();
    assert!(transport.can_dial(&addr) && !transport.can_dial(&"/ip4/1.2.3.4/tcp/1".parse().unwrap()));

    let mut listener = transport.listen(&addr).await.unwrap();
    assert_eq!(listener.local_addrs(), std::slice::from_ref(&addr));
    let server_upgrade = SignedHello(Arc::new(server_key));
    let server = tokio::spawn(async move {
        let (peer, mut stream) = accept_and_secure(&mut listener, &server_upgrade).await.unwrap();
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).await.unwrap();
        stream.write_all(&buf).await.unwrap();
        peer
    });

    let client_upgrade = SignedHello(Arc::new(client_key));
    let dial_addr = addr.clone().with_p2p(server_id).unwrap();
    let client = tokio::spawn({
        let transport = transport.clone();
        async move {
            let (peer, mut stream) = dial_and_secure(&transport, &client_upgrade, &dial_addr).await.unwrap();
            stream.write_all(b"hello").await.unwrap();
            let mut buf = [0u8; 5];
            stream.read_exact(&mut buf).await.unwrap();
            (peer, buf)
        }
    });

    let limit = Duration::from_secs(5);
    let (seen_by_client, echoed) = tokio::time::timeout(limit, client).await.unwrap().unwrap();
    let seen_by_server = tokio::time::timeout(limit, server).await.unwrap().unwrap();
    assert_eq!(seen_by_client, server_id);
    assert_eq!(seen_by_server, client_id);
    assert_eq!(&echoed, b"hello");
}

#[tokio::test]
async fn an_unexpected_peer_fails_the_outbound_upgrade() {
    let transport = MemoryTransport::default();
    let addr: Multiaddr = "/memory/impostor".parse().unwrap();
    let mut listener = transport.listen(&addr).await.unwrap();
    let server_upgrade = SignedHello(Arc::new(Keypair::ed25519_from_secret([3; 32])));
    let server = tokio::spawn(async move { accept_and_secure(&mut listener, &server_upgrade).await.map(|_| ()) });

    let expected = Keypair::ed25519_from_secret([4; 32]).peer_id();
    let upgrade = SignedHello(Arc::new(Keypair::ed25519_from_secret([5; 32])));
    let result = tokio::time::timeout(
        Duration::from_secs(5),
        dial_and_secure(&transport, &upgrade, &addr.with_p2p(expected).unwrap()),
    )
    .await
    .unwrap();
    assert!(result.unwrap_err().to_string().contains("unexpected peer"));
    drop(tokio::time::timeout(Duration::from_secs(5), server).await);
}

#[tokio::test]
async fn a_transport_refuses_what_it_cannot_serve() {
    let transport = MemoryTransport::default();
    let err = transport.dial(&"/memory/nobody".parse().unwrap()).await.unwrap_err();
    assert!(matches!(err, FixtureError::NoListener(_)));
}
