//! A rust-libp2p 0.57 circuit relay (libp2p-relay's server, identify and
//! ping) on 127.0.0.1, driven by a task of its own: [`start`]. Included by
//! path where needed, beside `rust_peer.rs`.

use futures::StreamExt as _;
use libp2p::{
    identify, ping,
    swarm::{NetworkBehaviour, SwarmEvent},
};
use strata_testkit::within;
use tokio::sync::mpsc;

/// A rust-libp2p relay: the relay server, identify and ping.
#[derive(NetworkBehaviour)]
struct RelayBehaviour {
    relay: libp2p::relay::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

/// A rust-libp2p relay listening on 127.0.0.1 (TCP); its address,
/// `/p2p/<id>` included, once it listens. Its listen address is made its
/// confirmed external address: rust-libp2p's relay serves the hop protocol
/// only with one, and hands it out in reservations.
pub(crate) async fn start() -> libp2p::Multiaddr {
    let keypair = libp2p_identity::Keypair::generate_ed25519();
    let peer = keypair.public().to_peer_id();
    let mut swarm = super::rust_peer::swarm(keypair, |key| RelayBehaviour {
        relay: libp2p::relay::Behaviour::new(key.public().to_peer_id(), libp2p::relay::Config::default()),
        identify: identify::Behaviour::new(identify::Config::new("ipfs/0.1.0".into(), key.public())),
        ping: ping::Behaviour::new(ping::Config::new()),
    });
    swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("a multiaddr")).expect("a loopback listener");
    let (listening, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => {
                    swarm.add_external_address(address.clone());
                    drop(listening.send(address));
                }
                SwarmEvent::Behaviour(RelayBehaviourEvent::Relay(event)) => eprintln!("rust relay: {event:?}"),
                _ => {}
            }
        }
    });
    within(rx.recv()).await.expect("the relay listens").with_p2p(peer).expect("no peer id in a listen address")
}
