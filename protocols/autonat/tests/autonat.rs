//! `AutoNAT` v2 between hosts over TCP on 127.0.0.1: a client gets its
//! listen address confirmed, an address nobody listens on refuted, an
//! address of another IP paid for with dial data; a server refuses when
//! rate limited or not publicly reachable, and an address of an IP family
//! it has no address in; a dial back with the wrong nonce, or with the
//! right one on the request's connection, is no success; one server alone
//! does not confirm with the default two confirmations. Loopback addresses
//! are testable only because both sides are configured for labs
//! (`with_private_addrs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_autonat::{
    Client, ClientConfig, DIAL_BACK_PROTOCOL, DIAL_REQUEST_PROTOCOL, DialBack, DialRequest, DialResponse, DialStatus,
    Event, Message, Reachability, ResponseStatus, Server, ServerConfig, ServerEvent, codec,
};
use strata_core::{Keypair, Multiaddr, PeerId, multiaddr::Component};
use strata_host::Host;
use strata_identify::Identify;
use strata_testkit::{address_of, builder, dialer, host, within};
use tokio::{io::AsyncWriteExt, sync::broadcast};

fn lab_server() -> ServerConfig {
    ServerConfig::default().with_private_addrs(true).with_serve_always(true)
}

fn lab_client() -> ClientConfig {
    ClientConfig::default()
        .with_private_addrs(true)
        .with_confirmations(1)
        .with_min_observers(1)
        .with_server_cooldown(Duration::from_millis(50))
}

async fn server(config: ServerConfig) -> (Host, Server) {
    let host = host().await;
    Identify::attach(&host, strata_identify::Config::default()).unwrap();
    let server = Server::attach(&host, dialer().await, config).unwrap();
    (host, server)
}

fn client_on(host: Host, config: ClientConfig) -> (Host, Client) {
    // identify reports what peers observe to the host, where the client reads it.
    Identify::attach(&host, strata_identify::Config::default()).unwrap();
    let client = Client::attach(&host, config).unwrap();
    (host, client)
}

/// An address of 127.0.0.1 where nothing listens.
fn closed_addr() -> Multiaddr {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    drop(socket);
    format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()
}

/// The next verdict on `addr`.
async fn verdict(events: &mut broadcast::Receiver<Event>, addr: &Multiaddr) -> bool {
    within(async {
        loop {
            match events.recv().await.unwrap() {
                Event::Reachability { addr: tested, reachable } if tested == *addr => return reachable,
                _ => {}
            }
        }
    })
    .await
}

/// Asks `server` by hand (the test is the client): one request, the
/// server's final answer, and the dial data it asked for on the way.
async fn ask(from: &Host, server: &Host, addrs: Vec<Multiaddr>, nonce: u64) -> DialResponse {
    within(from.dial(address_of(server))).await.unwrap();
    let mut stream = within(from.open_stream(server.peer_id(), &[DIAL_REQUEST_PROTOCOL])).await.unwrap();
    codec::write_message(&mut stream, &Message::DialRequest(DialRequest { addrs, nonce })).await.unwrap();
    match within(codec::read_message(&mut stream)).await.unwrap() {
        Message::DialResponse(response) => response,
        other => panic!("not a response: {other:?}"),
    }
}

#[tokio::test]
async fn a_listen_address_is_confirmed_and_becomes_external() {
    let (server_host, server) = server(lab_server()).await;
    let mut answers = server.events();
    let (client_host, client) = client_on(host().await, lab_client());
    let mut events = client.events();
    let listen = client_host.listen_addrs()[0].clone();
    assert_eq!(client.reachability(), Reachability::Unknown);

    within(client_host.dial(address_of(&server_host))).await.unwrap();
    assert!(verdict(&mut events, &listen).await);
    assert_eq!(client_host.external_addrs(), std::slice::from_ref(&listen));
    assert_eq!(client.reachability(), Reachability::Public);
    // Same IP as the connection: no dial data was asked.
    let answered = within(answers.recv()).await.unwrap();
    assert_eq!(
        answered,
        ServerEvent::Answered {
            client: client_host.peer_id(),
            status: ResponseStatus::Ok,
            addr: Some(listen),
            dial_data: None,
            dial_status: DialStatus::Ok,
        }
    );
    // The dial back came on a connection of its own, closed after.
    strata_testkit::eventually("the dial-back connection closes", async || {
        !client_host.is_connected(server.dialer_peer_id())
    })
    .await;
    assert!(client_host.is_connected(server_host.peer_id()));
}

#[tokio::test]
async fn an_address_nobody_listens_on_is_unreachable() {
    let (server_host, _server) = server(lab_server()).await;
    let (client_host, client) = client_on(host().await, lab_client());
    let mut events = client.events();
    let closed = closed_addr();
    assert!(client.add_candidate(&closed));

    within(client_host.dial(address_of(&server_host))).await.unwrap();
    assert!(!verdict(&mut events, &closed).await);
    assert!(!client_host.external_addrs().contains(&closed));
    // The real listen address is confirmed meanwhile; reachability follows it.
    let listen = client_host.listen_addrs()[0].clone();
    strata_testkit::eventually("the listen address is confirmed", async || {
        client_host.external_addrs().contains(&listen)
    })
    .await;
    assert_eq!(client.reachability(), Reachability::Public);
}

#[tokio::test]
async fn an_address_of_another_ip_costs_dial_data() {
    let (server_host, server) = server(lab_server()).await;
    let mut answers = server.events();
    // The client listens on 127.0.0.2 but connects from 127.0.0.1.
    let client_host =
        builder(&Keypair::generate_ed25519()).listen("/ip4/127.0.0.2/tcp/0".parse().unwrap()).build().await.unwrap();
    let (client_host, client) = client_on(client_host, lab_client());
    let mut events = client.events();
    let listen = client_host.listen_addrs()[0].clone();

    within(client_host.dial(address_of(&server_host))).await.unwrap();
    assert!(verdict(&mut events, &listen).await);
    let paid = within(async {
        loop {
            if let ServerEvent::Answered { addr: Some(addr), dial_data, .. } = answers.recv().await.unwrap()
                && addr == listen
            {
                return dial_data;
            }
        }
    })
    .await;
    let paid = paid.expect("dial data was asked");
    assert!((30_000..=100_000).contains(&paid), "{paid}");
}

#[tokio::test]
async fn a_client_that_will_not_pay_gets_no_dial() {
    let (server_host, server) = server(lab_server()).await;
    let mut answers = server.events();
    let client_host =
        builder(&Keypair::generate_ed25519()).listen("/ip4/127.0.0.2/tcp/0".parse().unwrap()).build().await.unwrap();
    let (client_host, client) = client_on(client_host, lab_client().with_max_dial_data(1_000));
    let mut events = client.events();
    within(client_host.dial(address_of(&server_host))).await.unwrap();
    let error = within(async {
        loop {
            if let Event::Failed { error, .. } = events.recv().await.unwrap() {
                return error;
            }
        }
    })
    .await;
    assert!(error.contains("dial data"), "{error}");
    assert!(matches!(within(answers.recv()).await.unwrap(), ServerEvent::Dropped { .. }));
    assert!(client_host.external_addrs().is_empty());
}

#[tokio::test]
async fn the_per_peer_rate_limit_rejects_requests() {
    let (server_host, _server) = server(lab_server().with_peer_rate(1)).await;
    let asker = host().await;
    let first = ask(&asker, &server_host, vec![closed_addr()], 1).await;
    assert_eq!((first.status, first.dial_status), (ResponseStatus::Ok, DialStatus::DialError));
    let second = ask(&asker, &server_host, vec![closed_addr()], 2).await;
    assert_eq!(second, DialResponse::refusal(ResponseStatus::RequestRejected));
    // Another peer is still served.
    let other = ask(&host().await, &server_host, vec![closed_addr()], 3).await;
    assert_eq!(other.status, ResponseStatus::Ok);
}

#[tokio::test]
async fn a_server_that_is_not_publicly_reachable_rejects() {
    // Listening on 127.0.0.1 only, no external address, not told to serve always.
    let (server_host, _server) = server(ServerConfig::default().with_private_addrs(true)).await;
    let response = ask(&host().await, &server_host, vec![closed_addr()], 1).await;
    assert_eq!(response.status, ResponseStatus::RequestRejected);
    // Once it has a confirmed external address, it serves.
    server_host.add_external_addr("/ip4/1.2.3.4/tcp/4001".parse().unwrap());
    let response = ask(&host().await, &server_host, vec![closed_addr()], 2).await;
    assert_eq!((response.status, response.dial_status), (ResponseStatus::Ok, DialStatus::DialError));
}

#[tokio::test]
async fn private_addresses_and_unknown_transports_are_refused() {
    let (server_host, _server) = server(ServerConfig::default().with_serve_always(true)).await;
    let asker = host().await;
    let addrs = vec![
        asker.listen_addrs()[0].clone(),                  // loopback
        "/ip4/192.168.1.1/tcp/4001".parse().unwrap(),     // private
        "/ip4/1.2.3.4/udp/4001/quic-v1".parse().unwrap(), // public, but the dialer has no QUIC
    ];
    let response = ask(&asker, &server_host, addrs, 1).await;
    assert_eq!(response.status, ResponseStatus::DialRefused);
}

#[tokio::test]
async fn a_dial_back_with_the_wrong_nonce_is_no_success() {
    // A lying server: it dials back with another nonce and reports OK.
    let liar = host().await;
    Identify::attach(&liar, strata_identify::Config::default()).unwrap();
    let liar_dialer = dialer().await;
    liar.handle(DIAL_REQUEST_PROTOCOL, move |mut stream| {
        let dialer = liar_dialer.clone();
        async move {
            let Ok(Message::DialRequest(request)) = codec::read_message(&mut stream).await else { return Ok(()) };
            let client = stream.peer();
            let target = request.addrs[0].clone().with_p2p(client).unwrap();
            if dialer.dial(target).await.is_ok()
                && let Ok(mut back) = dialer.open_stream(client, &[DIAL_BACK_PROTOCOL]).await
            {
                let _ = codec::write_dial_back(&mut back, DialBack { nonce: request.nonce ^ 1 }).await;
                let _ = codec::read_dial_back_response(&mut back).await; // reset: not ours
            }
            let response = DialResponse { status: ResponseStatus::Ok, addr_idx: 0, dial_status: DialStatus::Ok };
            codec::write_message(&mut stream, &Message::DialResponse(response)).await.map_err(std::io::Error::other)?;
            stream.shutdown().await
        }
    })
    .unwrap();

    let (client_host, client) = client_on(host().await, lab_client());
    let mut events = client.events();
    within(client_host.dial(address_of(&liar))).await.unwrap();
    let error = within(async {
        loop {
            match events.recv().await.unwrap() {
                Event::Failed { server, error } if server == liar.peer_id() => return error,
                Event::Reachability { reachable: true, addr } => panic!("{addr} confirmed by a liar"),
                _ => {}
            }
        }
    })
    .await;
    assert!(error.contains("nonce"), "{error}");
    assert!(client_host.external_addrs().is_empty());
    assert_eq!(client.reachability(), Reachability::Unknown);
}

#[tokio::test]
async fn the_dialer_must_be_another_host() {
    let host = host().await;
    assert!(matches!(
        Server::attach(&host, host.clone(), ServerConfig::default()),
        Err(strata_autonat::Error::SameHost)
    ));
}

#[tokio::test]
async fn a_confirmed_address_is_retested_and_expires_without_servers() {
    let (server_host, _server) = server(lab_server()).await;
    let config =
        lab_client().with_retest_interval(Duration::from_millis(200)).with_expire_after(Duration::from_secs(1));
    let (client_host, client) = client_on(host().await, config);
    let mut events = client.events();
    let listen = client_host.listen_addrs()[0].clone();
    within(client_host.dial(address_of(&server_host))).await.unwrap();
    assert!(verdict(&mut events, &listen).await);
    // Retested while the server is there: a second verified dial.
    within(async {
        loop {
            if let Event::Tested { addr, verified: true, .. } = events.recv().await.unwrap()
                && addr == listen
            {
                return;
            }
        }
    })
    .await;
    assert!(client_host.external_addrs().contains(&listen));
    // No server left: no confirmation, so the address expires.
    server_host.shutdown().await;
    within(async {
        loop {
            match events.recv().await.unwrap() {
                Event::Expired { addr } if addr == listen => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(client_host.external_addrs().is_empty());
    assert_eq!(client.reachability(), Reachability::Unknown);
}

#[tokio::test]
async fn our_nonce_sent_back_on_the_request_connection_is_no_success() {
    // A lying server: it dials nothing, sends our own nonce back over the
    // connection the request came on, and reports OK.
    let liar = host().await;
    Identify::attach(&liar, strata_identify::Config::default()).unwrap();
    let opener = liar.clone();
    liar.handle(DIAL_REQUEST_PROTOCOL, move |mut stream| {
        let liar = opener.clone();
        async move {
            let Ok(Message::DialRequest(request)) = codec::read_message(&mut stream).await else { return Ok(()) };
            if let Ok(mut back) = liar.open_stream(stream.peer(), &[DIAL_BACK_PROTOCOL]).await {
                assert_eq!(back.connection(), stream.connection(), "the request's own connection");
                let _ = codec::write_dial_back(&mut back, DialBack { nonce: request.nonce }).await;
                let _ = codec::read_dial_back_response(&mut back).await; // reset: refused
            }
            let response = DialResponse { status: ResponseStatus::Ok, addr_idx: 0, dial_status: DialStatus::Ok };
            codec::write_message(&mut stream, &Message::DialResponse(response)).await.map_err(std::io::Error::other)?;
            stream.shutdown().await
        }
    })
    .unwrap();

    let (client_host, client) = client_on(host().await, lab_client());
    let mut events = client.events();
    within(client_host.dial(address_of(&liar))).await.unwrap();
    let error = within(async {
        loop {
            match events.recv().await.unwrap() {
                Event::Failed { server, error } if server == liar.peer_id() => return error,
                Event::Reachability { reachable: true, addr } => panic!("{addr} confirmed by a liar"),
                _ => {}
            }
        }
    })
    .await;
    assert!(error.contains("nonce"), "{error}");
    assert!(client_host.external_addrs().is_empty());
    assert_eq!(client.reachability(), Reachability::Unknown);
}

#[tokio::test]
async fn one_server_alone_does_not_confirm_with_the_default_two_confirmations() {
    let (first_host, _first) = server(lab_server()).await;
    let (second_host, _second) = server(lab_server()).await;
    let config = ClientConfig::default().with_private_addrs(true).with_server_cooldown(Duration::from_millis(50));
    let (client_host, client) = client_on(host().await, config);
    let mut events = client.events();
    let listen = client_host.listen_addrs()[0].clone();

    within(client_host.dial(address_of(&first_host))).await.unwrap();
    within(async {
        loop {
            match events.recv().await.unwrap() {
                Event::Tested { addr, verified: true, .. } if addr == listen => return,
                Event::Reachability { addr, .. } => panic!("{addr} got a verdict from one server"),
                _ => {}
            }
        }
    })
    .await;
    assert!(client_host.external_addrs().is_empty());
    assert_eq!(client.reachability(), Reachability::Unknown);

    within(client_host.dial(address_of(&second_host))).await.unwrap();
    assert!(verdict(&mut events, &listen).await);
    assert_eq!(client_host.external_addrs(), std::slice::from_ref(&listen));
    assert_eq!(client.reachability(), Reachability::Public);
}

#[tokio::test]
async fn a_relayed_address_does_not_make_a_server_publicly_reachable() {
    let (server_host, _server) = server(ServerConfig::default().with_private_addrs(true)).await;
    // A reservation's address: the relay's public IP, but not ours.
    let circuit = "/ip4/1.2.3.4/tcp/4001".parse::<Multiaddr>().unwrap().with_p2p(PeerId::random()).unwrap();
    server_host.add_external_addr(circuit.with(Component::P2pCircuit));
    let response = ask(&host().await, &server_host, vec![closed_addr()], 1).await;
    assert_eq!(response.status, ResponseStatus::RequestRejected);
    server_host.add_external_addr("/ip4/1.2.3.4/tcp/4001".parse().unwrap());
    let response = ask(&host().await, &server_host, vec![closed_addr()], 2).await;
    assert_eq!((response.status, response.dial_status), (ResponseStatus::Ok, DialStatus::DialError));
}

#[tokio::test]
async fn an_ipv4_only_server_refuses_ipv6_addresses() {
    let (server_host, _server) = server(lab_server()).await; // on 127.0.0.1 only
    let ipv6: Multiaddr =
        format!("/ip6/::1/tcp/{}", closed_addr().to_string().rsplit('/').next().unwrap()).parse().unwrap();
    let response = ask(&host().await, &server_host, vec![ipv6.clone()], 1).await;
    assert_eq!(response.status, ResponseStatus::DialRefused);
    // Behind an IPv4 address that it can dial, the IPv6 one is skipped.
    let response = ask(&host().await, &server_host, vec![ipv6, closed_addr()], 2).await;
    assert_eq!(
        (response.status, response.addr_idx, response.dial_status),
        (ResponseStatus::Ok, 1, DialStatus::DialError)
    );
}

#[tokio::test]
async fn a_stream_timeout_without_room_for_the_dial_back_is_refused() {
    let host = host().await;
    let config = ServerConfig::default()
        .with_dial_timeout(Duration::from_secs(10))
        .with_dial_back_timeout(Duration::from_secs(5))
        .with_stream_timeout(Duration::from_secs(15));
    assert!(matches!(Server::attach(&host, dialer().await, config), Err(strata_autonat::Error::Timeouts { .. })));
    assert!(Server::attach(&host, dialer().await, ServerConfig::default()).is_ok());
}

#[tokio::test]
async fn a_request_timing_out_in_the_dial_back_closes_the_dial_back_connection() {
    let config = lab_server()
        .with_dial_data(1_000, 1_000)
        .with_dial_timeout(Duration::from_secs(1))
        .with_dial_back_timeout(Duration::from_secs(1))
        .with_stream_timeout(Duration::from_millis(2_500));
    let (server_host, server) = server(config).await;
    let mut answers = server.events();
    // The client listens on 127.0.0.2 (dial data is asked), pays late,
    // and never answers the dial back: the stream timeout fires in it.
    let client_host =
        builder(&Keypair::generate_ed25519()).listen("/ip4/127.0.0.2/tcp/0".parse().unwrap()).build().await.unwrap();
    let (arrived, mut arrivals) = tokio::sync::mpsc::channel(1);
    client_host
        .handle(DIAL_BACK_PROTOCOL, move |mut stream| {
            let arrived = arrived.clone();
            async move {
                let _ = codec::read_dial_back(&mut stream).await;
                let _ = arrived.send(()).await;
                std::future::pending::<()>().await;
                Ok(())
            }
        })
        .unwrap();
    within(client_host.dial(address_of(&server_host))).await.unwrap();
    let mut stream = within(client_host.open_stream(server_host.peer_id(), &[DIAL_REQUEST_PROTOCOL])).await.unwrap();
    let request = DialRequest { addrs: vec![client_host.listen_addrs()[0].clone()], nonce: 1 };
    codec::write_message(&mut stream, &Message::DialRequest(request)).await.unwrap();
    let Message::DialDataRequest(asked) = within(codec::read_message(&mut stream)).await.unwrap() else {
        panic!("no dial data asked")
    };
    tokio::time::sleep(Duration::from_secs(2)).await; // the dial back starts 0.5 s before the stream timeout
    let data = Message::DialDataResponse(strata_autonat::DialDataResponse { data: vec![0; 1_000] });
    assert_eq!(asked.num_bytes, 1_000);
    codec::write_message(&mut stream, &data).await.unwrap();
    within(arrivals.recv()).await.unwrap();
    let dropped = within(answers.recv()).await.unwrap();
    assert!(matches!(&dropped, ServerEvent::Dropped { error, .. } if error.contains("timed out")), "{dropped:?}");
    strata_testkit::eventually("the dial-back connection closes", async || {
        !client_host.is_connected(server.dialer_peer_id())
    })
    .await;
}

#[tokio::test]
async fn dropping_the_client_stops_it() {
    let (client_host, client) = client_on(host().await, lab_client());
    assert!(client_host.protocols().iter().any(|p| p == DIAL_BACK_PROTOCOL));
    let clone = client.clone();
    drop(client);
    assert!(client_host.protocols().iter().any(|p| p == DIAL_BACK_PROTOCOL), "a clone is left");
    drop(clone);
    assert!(!client_host.protocols().iter().any(|p| p == DIAL_BACK_PROTOCOL));
}
