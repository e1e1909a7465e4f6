//! `Recorder`: the shared log both taps write to.
//!
//! Records are kept in the order they happened, one lock for all
//! connections, so a reader sees the conversation interleaved as it was.
//! Connection numbers start at 1 and are shared by the raw and secured
//! taps of one connection. The log keeps at most a byte budget of data;
//! chunks past it are counted and dropped, never blocking the connection.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use bytes::Bytes;
use strata_core::{Endpoint, Multiaddr, PeerId, SecurityUpgrade, Transport};

use crate::{RecordingSecurity, RecordingTransport};

/// Which layer a chunk was seen at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tap {
    /// The transport's bytes, as they cross the socket.
    Raw,
    /// The plaintext above the security layer (what the muxer reads and
    /// writes).
    Secured,
}

/// Which way a chunk went, seen from the recording node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Written by this node.
    Outbound,
    /// Read by this node.
    Inbound,
}

/// Bytes that crossed one tap of one connection in one direction, in one
/// read or write.
#[derive(Clone, Debug)]
pub struct Chunk {
    /// The connection's number in this recorder.
    pub connection: u64,
    /// Where they were seen.
    pub tap: Tap,
    /// Which way they went.
    pub direction: Direction,
    /// When, since the recorder was made.
    pub at: Duration,
    /// The bytes.
    pub bytes: Bytes,
}

/// One entry of a recording.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Record {
    /// A transport connection opened.
    Opened {
        /// Its number.
        connection: u64,
        /// Whether this node dialed or accepted it.
        endpoint: Endpoint,
        /// The address dialed, or the address the remote is seen from.
        remote: Multiaddr,
        /// The address a listener accepted it on (`None` for a dial).
        local: Option<Multiaddr>,
    },
    /// The security handshake finished: the connection is now encrypted
    /// and its remote authenticated.
    Secured {
        /// The connection's number.
        connection: u64,
        /// Who the remote proved to be.
        remote: PeerId,
        /// The security protocol (`/noise`).
        protocol: &'static str,
    },
    /// Bytes crossed a tap.
    Data(Chunk),
    /// One side of a tap closed (a write shutdown, or end of stream read).
    Closed {
        /// The connection's number.
        connection: u64,
        /// Where.
        tap: Tap,
        /// Which side: our shutdown, or the remote's end of stream.
        direction: Direction,
    },
}

struct Log {
    started: Instant,
    records: Vec<Record>,
    next_connection: u64,
    kept_bytes: usize,
    budget: usize,
    dropped_bytes: u64,
}

/// The log of everything the taps saw. Cheap to clone; clones share it.
#[derive(Clone)]
pub struct Recorder {
    log: Arc<Mutex<Log>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let log = self.lock();
        f.debug_struct("Recorder")
            .field("records", &log.records.len())
            .field("kept_bytes", &log.kept_bytes)
            .field("dropped_bytes", &log.dropped_bytes)
            .finish()
    }
}

impl Recorder {
    /// An empty recorder keeping up to 64 MiB of data.
    pub fn new() -> Self {
        Self::with_budget(64 << 20)
    }

    /// An empty recorder keeping up to `bytes` of data; later chunks are
    /// counted in [`dropped_bytes`](Self::dropped_bytes) and not kept.
    pub fn with_budget(bytes: usize) -> Self {
        let log = Log {
            started: Instant::now(),
            records: Vec::new(),
            next_connection: 1,
            kept_bytes: 0,
            budget: bytes,
            dropped_bytes: 0,
        };
        Self { log: Arc::new(Mutex::new(log)) }
    }

    /// `transport`, recording every raw byte of every connection.
    pub fn transport<T: Transport>(&self, transport: T) -> RecordingTransport<T> {
        RecordingTransport::new(transport, self.clone())
    }

    /// `security`, recording the plaintext above it.
    pub fn security<U: SecurityUpgrade>(&self, security: U) -> RecordingSecurity<U> {
        RecordingSecurity::new(security, self.clone())
    }

    /// Everything recorded so far, in order.
    pub fn records(&self) -> Vec<Record> {
        self.lock().records.clone()
    }

    /// Bytes of data not kept because the budget was spent.
    pub fn dropped_bytes(&self) -> u64 {
        self.lock().dropped_bytes
    }

    /// Forgets everything recorded (connection numbers keep counting).
    pub fn clear(&self) {
        let mut log = self.lock();
        log.records.clear();
        log.kept_bytes = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A number for a new connection, with its `Opened` record.
    pub(crate) fn open(&self, endpoint: Endpoint, remote: Multiaddr, local: Option<Multiaddr>) -> u64 {
        let mut log = self.lock();
        let connection = log.next_connection;
        log.next_connection += 1;
        log.records.push(Record::Opened { connection, endpoint, remote, local });
        connection
    }

    /// A number for a connection the transport did not record (a security
    /// wrapper used alone).
    pub(crate) fn unnumbered(&self) -> u64 {
        let mut log = self.lock();
        log.next_connection += 1;
        log.next_connection - 1
    }

    pub(crate) fn push(&self, record: Record) {
        self.lock().records.push(record);
    }

    pub(crate) fn data(&self, connection: u64, tap: Tap, direction: Direction, bytes: &[u8]) {
        let mut log = self.lock();
        if log.kept_bytes + bytes.len() > log.budget {
            log.dropped_bytes += bytes.len() as u64;
            return;
        }
        log.kept_bytes += bytes.len();
        let at = log.started.elapsed();
        let chunk = Chunk { connection, tap, direction, at, bytes: Bytes::copy_from_slice(bytes) };
        log.records.push(Record::Data(chunk));
    }
}
