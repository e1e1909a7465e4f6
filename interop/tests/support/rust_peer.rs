//! rust-libp2p 0.57 nodes for tests and benchmarks: [`swarm_with`] builds a
//! swarm on TCP + Noise + yamux (libp2p-yamux 0.48, rust-libp2p's default)
//! or libp2p-mplex 0.44 with any behaviour;
//! [`RustPeer`] is one with the `libp2p-stream` behaviour, driven by a task
//! of its own. Included by path where needed.

#![allow(dead_code)] // each includer uses a part

use std::time::Duration;

use futures::StreamExt as _;
use libp2p::swarm::SwarmEvent;
use tokio::sync::mpsc;

enum Command {
    Dial(libp2p::Multiaddr),
    Disconnect(libp2p::PeerId),
}

/// A rust-libp2p peer id as strata's.
pub(crate) fn ours(peer: libp2p::PeerId) -> strata::PeerId {
    strata::PeerId::from_bytes(&peer.to_bytes()).expect("a peer id reads the same in both")
}

/// A strata peer id as rust-libp2p's.
pub(crate) fn theirs(peer: strata::PeerId) -> libp2p::PeerId {
    libp2p::PeerId::from_bytes(&peer.to_bytes()).expect("a peer id reads the same in both")
}

/// A rust-libp2p address as strata's.
pub(crate) fn ours_addr(addr: &libp2p::Multiaddr) -> strata::Multiaddr {
    strata::Multiaddr::from_bytes(&addr.to_vec()).expect("an address reads the same in both")
}

/// A strata address as rust-libp2p's.
pub(crate) fn theirs_addr(addr: &strata::Multiaddr) -> libp2p::Multiaddr {
    libp2p::Multiaddr::try_from(addr.to_vec()).expect("an address reads the same in both")
}

/// The muxer a rust-libp2p node offers (only that one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TheirMuxer {
    /// libp2p-yamux 0.48: what rust-libp2p offers by default.
    Yamux,
    /// libp2p-mplex 0.44.
    Mplex,
    /// Not TCP at all: QUIC (libp2p-quic), whose own streams stand in for
    /// a muxer.
    Quic,
}

/// A rust-libp2p swarm on TCP + Noise + yamux running `behaviour`, with
/// connections kept while idle for an hour.
pub(crate) fn swarm<B: libp2p::swarm::NetworkBehaviour>(
    keypair: libp2p_identity::Keypair,
    behaviour: impl FnOnce(&libp2p_identity::Keypair) -> B,
) -> libp2p::Swarm<B> {
    swarm_with(keypair, TheirMuxer::Yamux, behaviour)
}

/// [`swarm`] with the muxer chosen (or QUIC instead of TCP).
pub(crate) fn swarm_with<B: libp2p::swarm::NetworkBehaviour>(
    keypair: libp2p_identity::Keypair,
    muxer: TheirMuxer,
    behaviour: impl FnOnce(&libp2p_identity::Keypair) -> B,
) -> libp2p::Swarm<B> {
    let idle = |c: libp2p::swarm::Config| c.with_idle_connection_timeout(Duration::from_hours(1));
    if muxer == TheirMuxer::Quic {
        return swarm_quic(keypair, behaviour);
    }
    let builder = libp2p::SwarmBuilder::with_existing_identity(keypair).with_tokio();
    match muxer {
        TheirMuxer::Yamux | TheirMuxer::Quic => builder
            .with_tcp(libp2p::tcp::Config::default(), libp2p::noise::Config::new, libp2p::yamux::Config::default)
            .expect("TCP + Noise + yamux")
            .with_behaviour(behaviour)
            .expect("the behaviour")
            .with_swarm_config(idle)
            .build(),
        TheirMuxer::Mplex => builder
            .with_tcp(libp2p::tcp::Config::default(), libp2p::noise::Config::new, libp2p_mplex::Config::default)
            .expect("TCP + Noise + mplex")
            .with_behaviour(behaviour)
            .expect("the behaviour")
            .with_swarm_config(idle)
            .build(),
    }
}

/// A rust-libp2p swarm on QUIC (libp2p-quic: quinn and libp2p-tls) running
/// `behaviour`, with connections kept while idle for an hour.
pub(crate) fn swarm_quic<B: libp2p::swarm::NetworkBehaviour>(
    keypair: libp2p_identity::Keypair,
    behaviour: impl FnOnce(&libp2p_identity::Keypair) -> B,
) -> libp2p::Swarm<B> {
    libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_quic()
        .with_behaviour(behaviour)
        .expect("the behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_hours(1)))
        .build()
}

/// A running rust-libp2p node.
pub(crate) struct RustPeer {
    /// Its peer id.
    pub(crate) peer: libp2p::PeerId,
    /// Opens and accepts protocol streams.
    pub(crate) control: libp2p_stream::Control,
    /// The addresses it starts listening on, as they come.
    pub(crate) listening: mpsc::UnboundedReceiver<libp2p::Multiaddr>,
    /// The peers of connections as they are established.
    pub(crate) established: mpsc::UnboundedReceiver<libp2p::PeerId>,
    /// Why dials failed, as they fail.
    pub(crate) dial_failed: mpsc::UnboundedReceiver<String>,
    commands: mpsc::UnboundedSender<Command>,
}

impl RustPeer {
    /// A node on yamux, listening on a free loopback port if `listen`.
    pub(crate) fn new(listen: bool) -> Self {
        Self::with_muxer(listen, TheirMuxer::Yamux)
    }

    /// A node offering `muxer`, listening on a free loopback port if `listen`.
    pub(crate) fn with_muxer(listen: bool, muxer: TheirMuxer) -> Self {
        let keypair = libp2p_identity::Keypair::generate_ed25519();
        let peer = keypair.public().to_peer_id();
        let mut swarm = swarm_with(keypair, muxer, |_| libp2p_stream::Behaviour::new());
        if listen {
            let addr = if muxer == TheirMuxer::Quic { "/ip4/127.0.0.1/udp/0/quic-v1" } else { "/ip4/127.0.0.1/tcp/0" };
            swarm.listen_on(addr.parse().expect("a multiaddr")).expect("a loopback listener");
        }
        let control = swarm.behaviour().new_control();
        let (commands, mut command_rx) = mpsc::unbounded_channel();
        let (listen_tx, listening) = mpsc::unbounded_channel();
        let (established_tx, established) = mpsc::unbounded_channel();
        let (failed_tx, dial_failed) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    command = command_rx.recv() => match command {
                        Some(Command::Dial(addr)) => swarm.dial(addr).expect("a dialable address"),
                        Some(Command::Disconnect(peer)) => drop(swarm.disconnect_peer_id(peer)),
                        None => return, // the RustPeer is gone
                    },
                    event = swarm.select_next_some() => match event {
                        SwarmEvent::NewListenAddr { address, .. } => drop(listen_tx.send(address)),
                        SwarmEvent::ConnectionEstablished { peer_id, .. } => drop(established_tx.send(peer_id)),
                        SwarmEvent::OutgoingConnectionError { error, .. } => drop(failed_tx.send(error.to_string())),
                        _ => {}
                    },
                }
            }
        });
        Self { peer, control, listening, established, dial_failed, commands }
    }

    /// Dials `addr` (completion shows in `established`).
    pub(crate) fn dial(&self, addr: libp2p::Multiaddr) {
        self.commands.send(Command::Dial(addr)).expect("the swarm task runs");
    }

    /// Closes every connection to `peer`.
    pub(crate) fn disconnect(&self, peer: libp2p::PeerId) {
        self.commands.send(Command::Disconnect(peer)).expect("the swarm task runs");
    }
}
