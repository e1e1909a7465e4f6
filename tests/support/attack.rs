//! Attackers and the well-behaved peer, shared by the hostile-peer tests.
//! Attackers speak raw TCP from their own loopback addresses (127.0.0.x,
//! x ≥ 2), so per-address limits apply to them and not to the
//! well-behaved peer on 127.0.0.1. Included by path.

#![allow(dead_code)] // each includer uses a part

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use strata::{
    Host, Keypair, Multiaddr, PeerId,
    core::{SecurityUpgrade, multistream},
    host::Config,
    identify, noise, ping,
};
use tokio::{
    io::AsyncReadExt,
    net::{TcpSocket, TcpStream},
    task::JoinHandle,
};

use strata_testkit::within;

/// The node under attack: ping and identify attached, short handshake
/// deadlines so the quick versions stay quick.
pub(crate) async fn victim(config: Config) -> (Host, ping::Ping, SocketAddr) {
    let config = config.with_first_step_timeout(Duration::from_secs(1)).with_upgrade_timeout(Duration::from_secs(2));
    let host = strata::builder(&Keypair::generate_ed25519())
        .config(config)
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    let ping = ping::Ping::attach(&host, ping::Config::default()).unwrap();
    identify::Identify::attach(&host, identify::Config::default()).unwrap();
    let addr = socket_of(&host.listen_addrs()[0]);
    (host, ping, addr)
}

pub(crate) fn socket_of(addr: &Multiaddr) -> SocketAddr {
    let text = addr.to_string(); // /ip4/127.0.0.1/tcp/PORT
    let port: u16 = text.rsplit('/').next().unwrap().parse().unwrap();
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A raw TCP connection to `to` from 127.0.0.`from`.
pub(crate) async fn raw_from(from: u8, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from(([127, 0, 0, from], 0)))?;
    socket.connect(to).await
}

/// A well-behaved peer that, until stopped, dials the node afresh and
/// pings it every `every`; returns how many rounds it ran and the failures.
pub(crate) fn well_behaved(
    victim: &Host,
    every: Duration,
) -> (tokio::sync::oneshot::Sender<()>, JoinHandle<(usize, Vec<String>)>) {
    let addr = victim.listen_addrs()[0].clone().with_p2p(victim.peer_id()).unwrap();
    let (stop, mut stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let (mut rounds, mut failures) = (0, Vec::new());
        loop {
            let round = async {
                let host = strata::builder(&Keypair::generate_ed25519()).build().await.map_err(|e| e.to_string())?;
                let ping = ping::Ping::attach(&host, ping::Config::default()).map_err(|e| e.to_string())?;
                let peer = host.dial(addr.clone()).await.map_err(|e| format!("dial: {e}"))?;
                let outcome = ping.ping(peer).await.map_err(|e| format!("ping: {e}"));
                host.shutdown().await;
                outcome.map(|_| ())
            };
            match tokio::time::timeout(Duration::from_secs(5), round).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => failures.push(error),
                Err(_) => failures.push("round timed out".into()),
            }
            rounds += 1;
            tokio::select! {
                _ = &mut stopped => return (rounds, failures),
                // The well-behaved peer's pace between rounds (a peer
                // that comes back every `every`), not a wait on anything.
                () = tokio::time::sleep(every) => {}
            }
        }
    });
    (stop, task)
}

pub(crate) async fn served_throughout(stop: tokio::sync::oneshot::Sender<()>, task: JoinHandle<(usize, Vec<String>)>) {
    let _ = stop.send(());
    let (rounds, failures) = within(task).await.unwrap();
    assert!(rounds >= 3, "only {rounds} rounds");
    assert!(failures.is_empty(), "the well-behaved peer failed {} of {rounds} rounds: {failures:?}", failures.len());
}

/// Whether the node closed `stream` (EOF or reset) within `wait`, reading
/// and discarding what it sent.
pub(crate) async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut sink = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut sink)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// An authenticated connection to `to` from 127.0.0.`from`, Noise and
/// `/mplex/6.7.0` agreed, left raw: the attacker writes mplex frames.
pub(crate) async fn wire(from: u8, to: SocketAddr) -> (PeerId, noise::NoiseStream<TcpStream>) {
    wire_with(from, to, "/mplex/6.7.0").await
}

/// [`wire`] with the muxer `muxer` agreed instead.
pub(crate) async fn wire_with(from: u8, to: SocketAddr, muxer: &str) -> (PeerId, noise::NoiseStream<TcpStream>) {
    let mut tcp = raw_from(from, to).await.unwrap();
    multistream::dialer_select(&mut tcp, ["/noise"]).await.unwrap();
    let keypair = Keypair::generate_ed25519();
    let (_, mut secure) = noise::Config::new(&keypair).secure_outbound(tcp, None).await.unwrap();
    multistream::dialer_select(&mut secure, [muxer]).await.unwrap();
    (keypair.peer_id(), secure)
}

/// One mplex frame (`varint(id << 3 | flag)`, `varint(len)`, data).
pub(crate) fn frame(id: u64, flag: u64, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    strata::core::varint::encode(id << 3 | flag, &mut out);
    strata::core::varint::encode(data.len() as u64, &mut out);
    out.extend_from_slice(data);
    out
}

/// The process's resident memory, KiB.
pub(crate) fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
