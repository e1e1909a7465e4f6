//! Peers for the relay's hostile tests (`tests/relay_hostile.rs`), beside
//! the hop helpers of `protocols/relay/tests/common` (reserve, connect, an
//! echoing target), which the tests include by path:
//!
//! - hosts that dial from an address of their own on loopback
//!   (127.0.x.y), so that the relay's per-IP rules see each as a machine
//!   apart (a host of [`strata_testkit::host`] dials from 127.0.0.1);
//! - targets that hand their half of each circuit to the test, or answer
//!   the relay's stop request with garbage;
//! - a writer that counts what it got through, and a reader that says how
//!   a circuit ended.
//!
//! Included by path.

#![allow(dead_code)] // each includer uses a part

use std::{
    io,
    net::{Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use strata::{
    Host, Keypair, Multiaddr, PeerId, Stream,
    core::Transport,
    host::{Builder, Upgrader},
    multiaddr::Component,
    noise,
    relay::{STOP_PROTOCOL, StopMessage, client, codec},
    tcp, yamux,
};
use strata_testkit::within;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    sync::mpsc,
    task::JoinHandle,
};

/// Fails the test if `body` takes longer than `limit` in all: every test
/// of the file ends by itself, whatever it waits on.
pub(crate) async fn bounded<F: Future>(limit: Duration, body: F) -> F::Output {
    match tokio::time::timeout(limit, body).await {
        Ok(output) => output,
        Err(elapsed) => panic!("the test took longer than {limit:?} in all ({elapsed})"),
    }
}

/// The `n`th loopback address, 127.0.x.y with x.y = `n` (`n` ≥ 2: 127.0.0.1
/// is the testkit hosts' own).
pub(crate) fn loopback(n: u16) -> Ipv4Addr {
    let [high, low] = n.to_be_bytes();
    Ipv4Addr::new(127, 0, high, low)
}

/// TCP that dials from a source address of its own (and never listens).
struct FromIp(Ipv4Addr);

fn socket_of(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut parts = addr.iter();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Component::Ip4(ip)), Some(Component::Tcp(port)), None) => Some(SocketAddr::from((ip, port))),
        _ => None,
    }
}

impl Transport for FromIp {
    type Stream = TcpStream;
    type Listener = tcp::TcpListener;
    type Error = tcp::Error;

    fn can_dial(&self, addr: &Multiaddr) -> bool {
        socket_of(addr).is_some()
    }

    fn can_listen(&self, _addr: &Multiaddr) -> bool {
        false
    }

    async fn dial(&self, addr: &Multiaddr) -> Result<TcpStream, tcp::Error> {
        let to = socket_of(addr).ok_or_else(|| tcp::Error::UnsupportedAddress(addr.clone()))?;
        let connect = async {
            let socket = TcpSocket::new_v4()?;
            socket.bind(SocketAddr::from((self.0, 0)))?;
            let stream = socket.connect(to).await?;
            stream.set_nodelay(true)?;
            Ok::<_, io::Error>(stream)
        };
        connect.await.map_err(|source| tcp::Error::Connect { addr: addr.clone(), source })
    }

    async fn listen(&self, addr: &Multiaddr) -> Result<tcp::TcpListener, tcp::Error> {
        Err(tcp::Error::UnsupportedAddress(addr.clone()))
    }
}

/// A host with a fresh identity whose connections come from `ip` (TCP,
/// Noise, yamux, as the testkit hosts). It does not listen.
pub(crate) async fn peer_from(ip: Ipv4Addr) -> Host {
    let upgrader = Upgrader::new(FromIp(ip)).security(noise::Config::new).muxer(yamux::Config::default());
    Builder::new(&Keypair::generate_ed25519()).upgrader(upgrader).build().await.unwrap()
}

/// Makes `target` accept every circuit and hand its half to the returned
/// channel, with the initiator's id: the test reads and writes it (or
/// never does).
pub(crate) fn hand_over(target: &Host) -> mpsc::UnboundedReceiver<(PeerId, Stream)> {
    let (tx, rx) = mpsc::unbounded_channel();
    target
        .handle(STOP_PROTOCOL, move |mut stream| {
            let tx = tx.clone();
            async move {
                let (initiator, _limit) = client::accept_stop(&mut stream).await.map_err(io::Error::other)?;
                let _ = tx.send((initiator, stream));
                Ok(())
            }
        })
        .unwrap();
    rx
}

/// How a target answers the relay's stop `CONNECT` when it misbehaves.
#[derive(Clone, Debug)]
pub(crate) enum StopAnswer {
    /// These bytes (a frame or garbage), then it waits for the relay to
    /// close the stream.
    Bytes(Vec<u8>),
    /// Nothing: it waits for the relay to close the stream.
    Silence,
    /// It drops the stream at once.
    HangUp,
}

/// Makes `target` read each stop `CONNECT` and answer it with `answer`.
pub(crate) fn misbehave_on_stop(target: &Host, answer: StopAnswer) {
    target
        .handle(STOP_PROTOCOL, move |mut stream| {
            let answer = answer.clone();
            async move {
                let connect = codec::read_stop(&mut stream).await.map_err(io::Error::other)?;
                assert!(matches!(connect, StopMessage::Connect { .. }), "the relay sent {connect:?}");
                match answer {
                    StopAnswer::Bytes(bytes) => stream.write_all(&bytes).await?,
                    StopAnswer::Silence => {}
                    StopAnswer::HangUp => return Ok(()),
                }
                stream.flush().await?;
                let mut sink = Vec::new();
                drop(stream.read_to_end(&mut sink).await); // until the relay closes it
                Ok(())
            }
        })
        .unwrap();
}

/// How a read of a circuit to its end went: the bytes that came, and
/// whether it ended with an EOF (`Ok`) or a reset (`Err`).
pub(crate) async fn drain(circuit: &mut (impl AsyncRead + Unpin)) -> (usize, io::Result<()>) {
    let mut got = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    within(async {
        loop {
            match circuit.read(&mut buffer).await {
                Ok(0) => return (got, Ok(())),
                Ok(n) => got += n,
                Err(error) => return (got, Err(error)),
            }
        }
    })
    .await
}

/// Writes `total` bytes to `writer` in 16 KiB pieces, in a task, counting
/// the bytes each completed write took: the counter says how far a writer
/// got when it stalls.
pub(crate) fn counting_writer<W>(mut writer: W, total: usize) -> (Arc<AtomicUsize>, JoinHandle<io::Result<W>>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let written = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&written);
    let task = tokio::spawn(async move {
        let piece = vec![0x5a; 16 * 1024];
        while counter.load(Ordering::Relaxed) < total {
            let n = writer.write(&piece).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            counter.fetch_add(n, Ordering::Relaxed);
        }
        Ok(writer)
    });
    (written, task)
}

/// Sends `bytes` through an echoing circuit and checks they come back,
/// writing and reading at once (so that a large amount cannot deadlock
/// on full windows).
pub(crate) async fn echoes(circuit: &mut Stream, bytes: usize) {
    let sent: Vec<u8> = (0..bytes).map(|i| u8::try_from(i % 251).unwrap()).collect();
    let (mut reader, mut writer) = tokio::io::split(circuit);
    let mut back = vec![0u8; bytes];
    let (wrote, read) = within(async { tokio::join!(writer.write_all(&sent), reader.read_exact(&mut back)) }).await;
    wrote.unwrap();
    read.unwrap();
    assert!(back == sent, "the echo differs from what was sent");
}
