//! Identify between hosts over TCP + Noise + mplex on loopback, and
//! against peers that answer wrongly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use strata_core::{Keypair, PeerId, framing, multiaddr::Component};
use strata_host::{Host, Stream};
use strata_identify::{Config, Event, Identify, Info, PROTOCOL, PUSH_PROTOCOL};
use tokio::{io::AsyncWriteExt, sync::broadcast};

use strata_testkit::{address_of, host, within};

/// The next `Received` (or `Failed`) event about `peer`.
async fn next_about(events: &mut broadcast::Receiver<Event>, peer: PeerId) -> Result<Info, String> {
    within(async {
        loop {
            match events.recv().await.unwrap() {
                Event::Received { peer: p, info } if p == peer => return Ok(*info),
                Event::Failed { peer: p, error } if p == peer => return Err(error),
                _ => {}
            }
        }
    })
    .await
}

#[tokio::test]
async fn both_sides_identify_each_other() {
    let (server, client) = (host().await, host().await);
    let server_identify = Identify::attach(&server, Config::default()).unwrap();
    let client_identify = Identify::attach(&client, Config::default().with_agent_version("test-agent/1.0")).unwrap();
    let (mut server_events, mut client_events) = (server_identify.events(), client_identify.events());
    within(client.dial(address_of(&server))).await.unwrap();

    let of_server = next_about(&mut client_events, server.peer_id()).await.unwrap();
    assert_eq!(of_server.public_key, Some(server.public_key()));
    assert_eq!(of_server.agent_version.as_deref(), Some(concat!("strata/", env!("CARGO_PKG_VERSION"))));
    assert_eq!(of_server.protocol_version.as_deref(), Some("ipfs/0.1.0"));
    assert_eq!(of_server.listen_addrs, server.listen_addrs());
    assert!(
        of_server.protocols.contains(&PROTOCOL.to_owned()) && of_server.protocols.contains(&PUSH_PROTOCOL.to_owned())
    );
    // The server sees us at our connection's source: loopback, an ephemeral port.
    let observed: Vec<_> = of_server.observed_addr.as_ref().unwrap().iter().collect();
    assert!(
        matches!(observed.as_slice(), [Component::Ip4(ip), Component::Tcp(port)] if ip.is_loopback() && *port != 0)
    );

    let of_client = next_about(&mut server_events, client.peer_id()).await.unwrap();
    assert_eq!(of_client.agent_version.as_deref(), Some("test-agent/1.0"));
    assert_eq!(of_client.listen_addrs, client.listen_addrs());
    // We dialed the server at its listen address: that is what it is seen at.
    assert_eq!(of_client.observed_addr.as_ref(), Some(&server.listen_addrs()[0]));

    let stored = client.peer_info(server.peer_id()).unwrap();
    assert_eq!(stored.agent_version, of_server.agent_version);
    assert_eq!(stored.public_key, Some(server.public_key()));
    assert_eq!(stored.protocols, of_server.protocols);
}

#[tokio::test]
async fn changes_are_pushed() {
    let (server, client) = (host().await, host().await);
    Identify::attach(&server, Config::default()).unwrap();
    let client_identify = Identify::attach(&client, Config::default()).unwrap();
    let mut events = client_identify.events();
    within(client.dial(address_of(&server))).await.unwrap();
    next_about(&mut events, server.peer_id()).await.unwrap();

    server.handle("/new/1.0.0", |_stream: Stream| async { Ok(()) }).unwrap();
    let pushed = next_about(&mut events, server.peer_id()).await.unwrap();
    assert!(pushed.protocols.contains(&"/new/1.0.0".to_owned()));
    assert!(client.peer_info(server.peer_id()).unwrap().protocols.contains(&"/new/1.0.0".to_owned()));
}

/// A host whose identify handler sends `bytes` (length-prefixed).
async fn rogue(bytes: Vec<u8>) -> Host {
    let host = host().await;
    host.handle(PROTOCOL, move |mut stream: Stream| {
        let bytes = bytes.clone();
        async move {
            framing::write_length_prefixed(&mut stream, &bytes).await.map_err(std::io::Error::other)?;
            stream.shutdown().await
        }
    })
    .unwrap();
    host
}

#[tokio::test]
async fn wrong_answers_are_refused() {
    let impostor = Keypair::generate_ed25519();
    let mut wrong_key = Info::default();
    wrong_key.public_key = Some(impostor.public());
    wrong_key.agent_version = Some("impostor".into());
    for (bytes, expected) in
        [(wrong_key.encode(), "names"), (vec![0xff; 16], "malformed"), (vec![0x32; 100 * 1024], "exceeds the limit")]
    {
        let server = rogue(bytes).await;
        let client = host().await;
        let identify = Identify::attach(&client, Config::default()).unwrap();
        let mut events = identify.events();
        within(client.dial(address_of(&server))).await.unwrap();
        let error = next_about(&mut events, server.peer_id()).await.unwrap_err();
        assert!(error.contains(expected), "{error}");
        let stored = client.peer_info(server.peer_id()).unwrap();
        assert_eq!(stored.agent_version, None, "nothing of a refused message is stored");
    }
}
