#![doc = include_str!("../README.md")]

use std::{
    collections::HashMap,
    io,
    sync::{
        Mutex, OnceLock, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use strata_core::{
    Multiaddr,
    multiaddr::Component,
    transport::{Listener, Transport},
};
use tokio::{io::DuplexStream, sync::mpsc};

/// What dialing or listening can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not a `/memory/<n>` address.
    #[error("not a /memory/<n> address: {0}")]
    Unsupported(Multiaddr),
    /// Nobody listens on that number.
    #[error("nothing listens on {0}")]
    Refused(Multiaddr),
    /// Someone listens on that number already.
    #[error("{0} is taken")]
    InUse(Multiaddr),
}

/// As an `io::Error` (the transport's error type), of the kind a host
/// reads: `ConnectionRefused` when nobody listens, as over TCP.
impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        let kind = match error {
            Error::Unsupported(_) => io::ErrorKind::InvalidInput,
            Error::Refused(_) => io::ErrorKind::ConnectionRefused,
            Error::InUse(_) => io::ErrorKind::AddrInUse,
        };
        io::Error::new(kind, error)
    }
}

type Inbox = mpsc::Sender<(DuplexStream, Multiaddr)>;

fn table() -> &'static Mutex<HashMap<u64, Inbox>> {
    static TABLE: OnceLock<Mutex<HashMap<u64, Inbox>>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Numbers handed out for `/memory/0` and to dialers, counting down from
/// the top so they never meet numbers a test picks by hand.
static NEXT: AtomicU64 = AtomicU64::new(u64::MAX);

fn number_of(addr: &Multiaddr) -> Option<u64> {
    let mut components = addr.iter();
    match (components.next(), components.next()) {
        (Some(Component::Memory(name)), None) => name.parse().ok(),
        _ => None,
    }
}

fn addr_of(number: u64) -> Multiaddr {
    Multiaddr::empty().with(Component::Memory(number.to_string().into()))
}

/// The in-memory transport. Cheap to clone.
#[derive(Clone, Copy, Debug)]
pub struct MemoryTransport {
    pipe_bytes: usize,
}

impl Default for MemoryTransport {
    /// Pipes of 64 KiB each way.
    fn default() -> Self {
        Self { pipe_bytes: 64 * 1024 }
    }
}

impl MemoryTransport {
    /// Pipes buffering `bytes` each way.
    #[must_use]
    pub fn with_pipe_bytes(mut self, bytes: usize) -> Self {
        self.pipe_bytes = bytes.max(1);
        self
    }
}

/// A bound `/memory/<n>` listener; dropping it frees the number.
#[derive(Debug)]
pub struct MemoryListener {
    number: u64,
    inbox: mpsc::Receiver<(DuplexStream, Multiaddr)>,
}

impl Drop for MemoryListener {
    fn drop(&mut self) {
        table().lock().unwrap_or_else(PoisonError::into_inner).remove(&self.number);
    }
}

impl Listener for MemoryListener {
    type Stream = DuplexStream;
    type Error = io::Error;

    fn local_addrs(&self) -> Vec<Multiaddr> {
        vec![addr_of(self.number)]
    }

    async fn accept(&mut self) -> Result<(DuplexStream, Multiaddr), io::Error> {
        self.inbox.recv().await.ok_or_else(|| io::Error::other("the memory listener closed"))
    }
}

impl Transport for MemoryTransport {
    type Stream = DuplexStream;
    type Listener = MemoryListener;
    type Error = io::Error;

    fn can_dial(&self, addr: &Multiaddr) -> bool {
        number_of(addr).is_some()
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        number_of(addr).is_some()
    }

    async fn dial(&self, addr: &Multiaddr) -> Result<DuplexStream, io::Error> {
        let number = number_of(addr).ok_or_else(|| Error::Unsupported(addr.clone()))?;
        let inbox = table().lock().unwrap_or_else(PoisonError::into_inner).get(&number).cloned();
        let inbox = inbox.ok_or_else(|| Error::Refused(addr.clone()))?;
        let (ours, theirs) = tokio::io::duplex(self.pipe_bytes);
        let from = addr_of(NEXT.fetch_sub(1, Ordering::Relaxed));
        inbox.send((theirs, from)).await.map_err(|_| Error::Refused(addr.clone()))?;
        Ok(ours)
    }

    async fn listen(&self, addr: &Multiaddr) -> Result<MemoryListener, io::Error> {
        let wanted = number_of(addr).ok_or_else(|| Error::Unsupported(addr.clone()))?;
        let mut table = table().lock().unwrap_or_else(PoisonError::into_inner);
        let number = if wanted == 0 {
            loop {
                let candidate = NEXT.fetch_sub(1, Ordering::Relaxed);
                if !table.contains_key(&candidate) {
                    break candidate;
                }
            }
        } else {
            wanted
        };
        if table.contains_key(&number) {
            return Err(Error::InUse(addr.clone()).into());
        }
        let (sender, inbox) = mpsc::channel(128);
        table.insert(number, sender);
        Ok(MemoryListener { number, inbox })
    }
}
