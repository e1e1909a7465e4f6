//! A tiny authoritative DNS server for tests, on 127.0.0.1: answers TXT,
//! A and AAAA queries from a [`Zone`] the test writes, so that no test
//! asks a real resolver anything.
//!
//! It serves UDP and TCP on the same port, as a resolver expects of a
//! server: an answer too long for the query's UDP size (512 bytes, or its
//! EDNS size) goes out truncated, and the client asks again over TCP.
//! Names are matched without regard to case or a final dot; a name the
//! zone does not hold is NXDOMAIN, a name it holds without records of the
//! type asked is an empty NOERROR answer.

use std::{
    collections::HashMap,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use hickory_proto::{
    op::{Message, MessageType, ResponseCode},
    rr::{
        RData, Record,
        rdata::{A, AAAA, TXT},
    },
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, UdpSocket},
    task::JoinHandle,
};

/// The records a [`DnsServer`] answers with, by name.
#[derive(Clone, Debug, Default)]
pub struct Zone {
    records: HashMap<String, Vec<RData>>,
    /// Names whose queries get no answer at all (a lost or slow server).
    silent: std::collections::HashSet<String>,
}

impl Zone {
    /// An empty zone: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a TXT record of one string (split into 255-byte
    /// character-strings if longer, as the format requires).
    #[must_use]
    pub fn txt(mut self, name: &str, text: &str) -> Self {
        let chunks = text.as_bytes().chunks(255).map(|chunk| String::from_utf8_lossy(chunk).into_owned());
        self.records.entry(key(name)).or_default().push(RData::TXT(TXT::new(chunks.collect())));
        self
    }

    /// Adds an A record.
    #[must_use]
    pub fn a(mut self, name: &str, ip: Ipv4Addr) -> Self {
        self.records.entry(key(name)).or_default().push(RData::A(A(ip)));
        self
    }

    /// Adds an AAAA record.
    #[must_use]
    pub fn aaaa(mut self, name: &str, ip: Ipv6Addr) -> Self {
        self.records.entry(key(name)).or_default().push(RData::AAAA(AAAA(ip)));
        self
    }

    /// Never answers queries for `name` (any type): a lookup of it waits
    /// for its timeout.
    #[must_use]
    pub fn silent(mut self, name: &str) -> Self {
        self.silent.insert(key(name));
        self
    }

    /// The answer to one query message, or `None` for bytes that are not
    /// a query (or a query for a silent name).
    fn answer(&self, query: &[u8], over_udp: bool) -> Option<Vec<u8>> {
        let request = Message::from_vec(query).ok()?;
        if request.metadata.message_type != MessageType::Query {
            return None;
        }
        if request.queries.iter().any(|question| self.silent.contains(&key(&question.name.to_ascii()))) {
            return None;
        }
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.authoritative = true;
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        let mut exists = true;
        for question in &request.queries {
            response.add_query(question.clone());
            let Some(records) = self.records.get(&key(&question.name.to_ascii())) else {
                exists = false;
                continue;
            };
            let matching = records.iter().filter(|data| data.record_type() == question.query_type());
            for data in matching {
                response.add_answer(Record::from_rdata(question.name.clone(), 60, data.clone()));
            }
        }
        if !exists {
            response.metadata.response_code = ResponseCode::NXDomain;
        }
        let mut bytes = response.to_vec().ok()?;
        let limit = request.edns.as_ref().map_or(512, |edns| usize::from(edns.max_payload()).max(512));
        if over_udp && bytes.len() > limit {
            response.answers.clear();
            response.metadata.truncation = true;
            bytes = response.to_vec().ok()?;
        }
        Some(bytes)
    }
}

/// `name` as the zone keys it: lower case, no final dot.
fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A DNS server on 127.0.0.1 (UDP and TCP, one port), stopped when
/// dropped.
#[derive(Debug)]
pub struct DnsServer {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

impl DnsServer {
    /// Serves `zone`.
    pub async fn start(zone: Zone) -> Self {
        Self::bind(Some(Arc::new(zone))).await
    }

    /// A server that reads queries and never answers (over UDP; TCP
    /// connections are accepted and left silent): for timeouts.
    pub async fn silent() -> Self {
        Self::bind(None).await
    }

    /// The address to send queries to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many queries have arrived so far (UDP and TCP).
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }

    async fn bind(zone: Option<Arc<Zone>>) -> Self {
        // UDP on a free port, then TCP on the same one (retried, in the
        // rare case another test holds that TCP port).
        let mut attempts = 0;
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.expect("a UDP socket on loopback");
            let addr = udp.local_addr().expect("a bound address");
            match TcpListener::bind(addr).await {
                Ok(tcp) => break (udp, tcp),
                Err(error) => {
                    attempts += 1;
                    assert!(attempts < 32, "no port free for both UDP and TCP on 127.0.0.1: {error}");
                }
            }
        };
        let addr = udp.local_addr().expect("a bound address");
        let queries = Arc::new(AtomicUsize::new(0));
        let tasks = vec![
            tokio::spawn(serve_udp(udp, zone.clone(), Arc::clone(&queries))),
            tokio::spawn(serve_tcp(tcp, zone, Arc::clone(&queries))),
        ];
        Self { addr, queries, tasks }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn serve_udp(socket: UdpSocket, zone: Option<Arc<Zone>>, queries: Arc<AtomicUsize>) {
    let mut buffer = vec![0; 65_535];
    while let Ok((len, from)) = socket.recv_from(&mut buffer).await {
        queries.fetch_add(1, Ordering::Relaxed);
        if let Some(answer) = zone.as_ref().and_then(|zone| zone.answer(&buffer[..len], true)) {
            let _ = socket.send_to(&answer, from).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, zone: Option<Arc<Zone>>, queries: Arc<AtomicUsize>) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let zone = zone.clone();
        let queries = Arc::clone(&queries);
        // Ended with the listener's task only if it ends by itself: a
        // silent server's connections wait for the client to give up.
        tokio::spawn(async move {
            // Each message is prefixed with its length (RFC 1035, 4.2.2).
            while let Ok(len) = stream.read_u16().await {
                let mut query = vec![0; usize::from(len)];
                if stream.read_exact(&mut query).await.is_err() {
                    return;
                }
                queries.fetch_add(1, Ordering::Relaxed);
                let Some(answer) = zone.as_ref().and_then(|zone| zone.answer(&query, false)) else { continue };
                let Ok(len) = u16::try_from(answer.len()) else { return };
                if stream.write_u16(len).await.is_err() || stream.write_all(&answer).await.is_err() {
                    return;
                }
            }
        });
    }
}
