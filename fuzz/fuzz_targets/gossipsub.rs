//! gossipsub's control decoder and router (strata-gossipsub): the input is
//! a control message, then whole RPCs from a peer in a mesh. No panic; a
//! control message that decodes encodes and decodes again to the same
//! value; the router takes any bytes (and a heartbeat after them) without
//! panicking.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use strata_core::Keypair;
use strata_gossipsub::{Config, GossipRouter, control::ControlMessage};
use strata_pubsub::{PeerConnection, Router as _, Rpc};

fuzz_target!(|data: &[u8]| {
    if let Ok(control) = ControlMessage::decode(data) {
        assert_eq!(ControlMessage::decode(&control.encode()).ok(), Some(control));
    }
    let now = Instant::now();
    let mut router = GossipRouter::new(Config::default().with_seed(1));
    let peer = Keypair::ed25519_from_secret([1; 32]).peer_id();
    let connection =
        PeerConnection { remote_addr: "/ip4/10.0.0.1/tcp/1".parse().expect("an address"), outbound: true };
    router.peer_connected(peer, &connection, now);
    router.peer_protocol(peer, "/meshsub/1.2.0");
    router.receive(peer, &Rpc::subscriptions([("t", true)]).encode(), now);
    router.set_local("t", true, now);
    let _ = router.receive(peer, data, now);
    let _ = router.receive(peer, &Rpc { control: Some(data.to_vec()), ..Rpc::default() }.encode(), now);
    router.heartbeat(now + Duration::from_secs(1));
});
