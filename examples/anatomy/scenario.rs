//! The run the anatomy example records: two nodes, one connection, a few
//! protocols, one at a time.
//!
//! ```text
//! seed the process's randomness ─▶ two identities ─▶ two Noise static keys
//! listener: TCP 127.0.0.1, identify, ping, pubsub, "/strata/anatomy/hello/1.0.0"
//! dialer:   the same, over a *recording* transport and security (strata-record)
//! dial ─▶ both identify each other ─▶ ping ─▶ hello stream (2.0.0? na; 1.0.0) ─▶ subscribe, publish ─▶ shut down
//! ```
//!
//! Only the dialer records: its outbound bytes are the dialer's, its
//! inbound bytes the listener's, so one recording holds both sides. The
//! Noise observers of both nodes report the handshake's plaintext (the
//! recording sees only ciphertext there). Steps wait for each other, so
//! every random draw happens in the same order each run and a run with
//! the same seed puts the same bytes on the wire (the ports aside, which
//! the OS picks).

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use strata::{
    Host, Keypair, PeerId, PubSub,
    core::{StreamMuxer, random},
    floodsub, gossipsub, identify, mplex,
    noise::{self, HandshakeMessage},
    ping,
    pubsub::Subscription,
    record::{Record, Recorder, RecordingSecurity, RecordingTransport},
    tcp::TcpTransport,
    yamux,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The custom protocol: the dialer says hello, the listener answers.
pub(crate) const HELLO: &str = "/strata/anatomy/hello/1.0.0";
/// A newer version the dialer proposes first, which the listener does not
/// serve: its `na` shows how multistream-select falls back.
pub(crate) const HELLO_V2: &str = "/strata/anatomy/hello/2.0.0";
/// The pubsub topic.
pub(crate) const TOPIC: &str = "anatomy";
/// What the dialer publishes.
pub(crate) const PUBLISHED: &str = "hello, pubsub";
/// What the dialer writes on the hello stream.
pub(crate) const HELLO_REQUEST: &str = "hello from the dialer\n";
/// What the listener answers.
pub(crate) const HELLO_RESPONSE: &str = "hello from the listener\n";

/// How long any one step may take.
const STEP: Duration = Duration::from_secs(10);

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Which muxer both nodes use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Muxer {
    /// `/yamux/1.0.0`.
    Yamux,
    /// `/mplex/6.7.0`.
    Mplex,
}

/// Which pubsub router both nodes use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Router {
    /// `/floodsub/1.0.0`.
    Floodsub,
    /// `/meshsub/1.2.0`.
    Gossipsub,
}

/// Which node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Side {
    /// The node that dials (and records).
    Dialer,
    /// The node that listens.
    Listener,
}

/// A handshake message one node's Noise observer reported.
pub(crate) type Observed = (Side, HandshakeMessage);

/// Everything the run produced.
pub(crate) struct Capture {
    /// The dialer's recording.
    pub(crate) records: Vec<Record>,
    /// Both nodes' Noise observers, in order.
    pub(crate) handshake: Vec<Observed>,
    /// The dialer's identity.
    pub(crate) dialer: Keypair,
    /// The listener's identity.
    pub(crate) listener: Keypair,
    /// The Noise static public keys of the dialer and the listener.
    pub(crate) statics: (Vec<u8>, Vec<u8>),
}

/// One node's protocols.
struct Node {
    host: Host,
    pubsub: PubSub,
    ping: ping::Ping,
    identified: tokio::sync::broadcast::Receiver<identify::Event>,
}

/// Runs the whole scenario.
pub(crate) async fn run(seed: u64, muxer: Muxer, router: Router) -> Result<Capture, Error> {
    random::seed_insecurely(seed);
    let (dialer_key, listener_key) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let handshake: Arc<Mutex<Vec<Observed>>> = Arc::default();
    // Each host makes its Noise from its identity when built; kept here to
    // read the static keys.
    let made: Arc<Mutex<Vec<noise::Config>>> = Arc::default();
    let noise_of = |side: Side| {
        let (log, made) = (Arc::clone(&handshake), Arc::clone(&made));
        move |key: &Keypair| {
            let config = noise::Config::new(key).with_handshake_observer(move |message| {
                log.lock().unwrap_or_else(PoisonError::into_inner).push((side, message.clone()));
            });
            // Drawn as each host is built, the dialer's first, not at the
            // first handshake (where the two nodes' draws would race).
            if let Err(error) = config.static_public_key() {
                tracing::warn!(%error, "no Noise static key");
            }
            made.lock().unwrap_or_else(PoisonError::into_inner).push(config.clone());
            config
        }
    };

    let recorder = Recorder::new();
    let dialer_noise = noise_of(Side::Dialer);
    let recording = recorder.clone();
    let layers = Layers {
        dialer_key: &dialer_key,
        dialer_transport: recorder.transport(TcpTransport::default()),
        dialer_security: Box::new(move |key| recording.security(dialer_noise(key))),
        listener_key: &listener_key,
        listener_security: Box::new(noise_of(Side::Listener)),
    };
    let (dialer_host, listener_host) = match muxer {
        Muxer::Yamux => build(layers, yamux::Config::default()).await?,
        Muxer::Mplex => build(layers, mplex::Config::default()).await?,
    };
    let made = made.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let [dialer_noise, listener_noise] = made.as_slice() else { return Err("two Noise configurations".into()) };
    let statics = (dialer_noise.static_public_key()?, listener_noise.static_public_key()?);
    let dialer = attach(dialer_host, router)?;
    let mut listener = attach(listener_host, router)?;
    listener.host.handle(HELLO, |mut stream| async move {
        let mut request = vec![0; HELLO_REQUEST.len()];
        stream.read_exact(&mut request).await?;
        stream.write_all(HELLO_RESPONSE.as_bytes()).await?;
        stream.shutdown().await
    })?;

    // The subscriptions live until the end: no unsubscription races the
    // shutdown.
    let subscriptions = converse(&dialer, &mut listener).await?;
    // The dialer hangs up first: its muxer's goodbye is in the recording.
    dialer.host.shutdown().await;
    listener.host.shutdown().await;
    drop(subscriptions);
    let handshake = handshake.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Ok(Capture { records: recorder.records(), handshake, dialer: dialer_key, listener: listener_key, statics })
}

/// What the two hosts are made of, but for the muxer.
struct Layers<'a> {
    dialer_key: &'a Keypair,
    dialer_transport: RecordingTransport<TcpTransport>,
    dialer_security: SecurityOf<RecordingSecurity<noise::Config>>,
    listener_key: &'a Keypair,
    listener_security: SecurityOf<noise::Config>,
}

/// A security upgrade, made from the host's identity as it is built.
type SecurityOf<S> = Box<dyn FnOnce(&Keypair) -> S + Send>;

/// The two hosts: the dialer over the recording layers, the listener
/// listening on a free port of 127.0.0.1.
async fn build<M: StreamMuxer + Clone>(layers: Layers<'_>, muxer: M) -> Result<(Host, Host), Error> {
    let dialer = Host::builder(layers.dialer_key, layers.dialer_transport, layers.dialer_security, muxer.clone())
        .build()
        .await?;
    let listener = Host::builder(layers.listener_key, TcpTransport::default(), layers.listener_security, muxer)
        .listen("/ip4/127.0.0.1/tcp/0".parse()?)
        .build()
        .await?;
    Ok((dialer, listener))
}

/// identify, ping and pubsub on a host; everything before the dial, so
/// that no identify push follows a change of protocols.
fn attach(host: Host, router: Router) -> Result<Node, Error> {
    let identify = identify::Identify::attach(&host, identify::Config::default())?;
    let identified = identify.events();
    let ping = ping::Ping::attach(&host, ping::Config::default())?;
    let pubsub = match router {
        Router::Floodsub => floodsub::Floodsub::attach(&host, floodsub::Config::default())?.into(),
        Router::Gossipsub => gossipsub::Gossipsub::attach(&host, gossipsub::Config::default())?.into(),
    };
    Ok(Node { host, pubsub, ping, identified })
}

/// The steps, each waiting for the last.
async fn converse(dialer: &Node, listener: &mut Node) -> Result<[Subscription; 2], Error> {
    let mut dialer_identified = dialer.identified.resubscribe();
    let addr = listener.host.listen_addrs()[0].clone().with_p2p(listener.host.peer_id()).map_err(|_| "no p2p")?;
    within(dialer.host.dial(addr)).await??;
    // identify runs by itself on a new connection, both ways at once.
    within(identified(&mut dialer_identified, listener.host.peer_id())).await??;
    within(identified(&mut listener.identified, dialer.host.peer_id())).await??;

    within(dialer.ping.ping(listener.host.peer_id())).await??;

    let mut hello = within(dialer.host.open_stream(listener.host.peer_id(), &[HELLO_V2, HELLO])).await??;
    hello.write_all(HELLO_REQUEST.as_bytes()).await?;
    hello.shutdown().await?;
    let mut answer = Vec::new();
    within(hello.read_to_end(&mut answer)).await??;

    let dialer_subscription = dialer.pubsub.subscribe(TOPIC);
    let mut received = listener.pubsub.subscribe(TOPIC);
    within(async {
        while !dialer.pubsub.peers(TOPIC).contains(&listener.host.peer_id())
            || !listener.pubsub.peers(TOPIC).contains(&dialer.host.peer_id())
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await?;
    dialer.pubsub.publish(TOPIC, PUBLISHED)?;
    within(received.next()).await?.ok_or("the subscription ended")?;
    Ok([dialer_subscription, received])
}

async fn identified(events: &mut tokio::sync::broadcast::Receiver<identify::Event>, peer: PeerId) -> Result<(), Error> {
    loop {
        match events.recv().await? {
            identify::Event::Received { peer: from, .. } if from == peer => return Ok(()),
            identify::Event::Failed { peer: from, error } if from == peer => return Err(error.into()),
            _ => {}
        }
    }
}

async fn within<T>(step: impl Future<Output = T>) -> Result<T, Error> {
    tokio::time::timeout(STEP, step).await.map_err(|_| "a step of the scenario took more than 10 s".into())
}
