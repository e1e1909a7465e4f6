//! The mDNS packets of `libp2p-discovery-mdns.md`, encoded and decoded
//! with `hickory-proto` (names, compression, records). Pure functions, no
//! I/O; every packet received is untrusted input: size-limited, never a
//! panic.
//!
//! ```text
//! query:    question  _p2p._udp.local PTR
//! response: answer    _p2p._udp.local PTR <peer-name>._p2p._udp.local   (TTL)
//!           additional <peer-name>._p2p._udp.local TXT "dnsaddr=/ip4/…/tcp/…/p2p/<id>"  (one per address)
//! DNS-SD:   question  _services._dns-sd._udp.local PTR
//!           answer    _services._dns-sd._udp.local PTR _p2p._udp.local
//! ```
//!
//! Liberal on receipt, as real responders differ (see INTEROP.md): TXT
//! records are taken from the answers and the additionals alike, a TXT
//! record may hold several strings, names compare without case, strings
//! that are not `dnsaddr=` are skipped, and every address must end in the
//! same `/p2p/<id>`.

use std::time::Duration;

use hickory_proto::{
    op::{Message, MessageType, OpCode, Query},
    rr::{
        Name, RData, Record, RecordType,
        rdata::{PTR, TXT},
    },
};
use strata_core::{Multiaddr, PeerId};

/// The service name of libp2p peers.
pub const SERVICE_NAME: &str = "_p2p._udp.local.";
/// The DNS-SD meta-query name.
pub const META_QUERY: &str = "_services._dns-sd._udp.local.";
/// The largest packet read; larger ones are dropped unread.
pub const MAX_PACKET: usize = 9000;
/// The most we put in one packet: under an Ethernet MTU, unfragmented.
const MAX_SENT: usize = 1400;
/// The longest TXT string (RFC 1035 `<character-string>`).
const MAX_TXT: usize = 255;

/// What a received packet says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// A query: for libp2p peers, for the DNS-SD service list, or both.
    Query {
        /// Asks for `_p2p._udp.local`.
        peers: bool,
        /// Asks for `_services._dns-sd._udp.local`.
        services: bool,
    },
    /// A response: the peers it announces.
    Response(Vec<Announcement>),
}

/// One peer announced in a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// Its peer id (from the `/p2p/` suffix of its addresses).
    pub peer: PeerId,
    /// Its addresses, without the `/p2p/` suffix.
    pub addrs: Vec<Multiaddr>,
    /// How long the announcement holds; zero says the peer is leaving.
    pub ttl: Duration,
}

/// Why a packet was dropped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// Larger than [`MAX_PACKET`].
    #[error("a packet of {0} bytes")]
    TooLarge(usize),
    /// Not a DNS message.
    #[error("malformed DNS message: {0}")]
    Malformed(String),
}

fn name(text: &str) -> Name {
    // The constants and the names we make are valid: a failure would be a
    // bug, and it yields the root name rather than a panic.
    Name::from_ascii(text).unwrap_or_else(|_| Name::root())
}

/// The query for every peer.
pub fn query() -> Vec<u8> {
    let mut message = Message::new(0, MessageType::Query, OpCode::Query);
    message.add_query(Query::query(name(SERVICE_NAME), RecordType::PTR));
    message.to_vec().unwrap_or_default()
}

/// The responses announcing `peer` at `addrs` (each with `/p2p/<peer>`
/// added) under `peer_name` (a random DNS label), valid for `ttl`: as many
/// packets as the addresses need, each under 1,400 bytes. Addresses whose
/// TXT string would pass 255 bytes are left out.
pub fn response(peer_name: &str, peer: PeerId, addrs: &[Multiaddr], ttl: Duration) -> Vec<Vec<u8>> {
    let ttl = u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX);
    let instance = name(&format!("{peer_name}.{SERVICE_NAME}"));
    let start = || {
        let mut message = Message::new(0, MessageType::Response, OpCode::Query);
        message.metadata.authoritative = true;
        message.add_answer(Record::from_rdata(name(SERVICE_NAME), ttl, RData::PTR(PTR(instance.clone()))));
        message
    };
    let mut packets = Vec::new();
    let mut message = start();
    for addr in addrs {
        let text = format!("dnsaddr={}", addr.clone().with_p2p(peer).unwrap_or_else(|addr| addr));
        if text.len() > MAX_TXT {
            tracing::debug!(%addr, "mdns: an address too long for a TXT string; not announced");
            continue;
        }
        let mut record = Record::from_rdata(instance.clone(), ttl, RData::TXT(TXT::new(vec![text])));
        record.mdns_cache_flush = true;
        message.add_additional(record.clone());
        let len = message.to_vec().map_or(usize::MAX, |bytes| bytes.len());
        if len > MAX_SENT && message.additionals.len() > 1 {
            message.additionals.pop();
            packets.push(message.to_vec().unwrap_or_default());
            message = start();
            message.add_additional(record);
        }
    }
    packets.push(message.to_vec().unwrap_or_default());
    packets.retain(|packet| !packet.is_empty());
    packets
}

/// The DNS-SD answer: this host offers `_p2p._udp.local`.
pub fn services_response(ttl: Duration) -> Vec<u8> {
    let ttl = u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX);
    let mut message = Message::new(0, MessageType::Response, OpCode::Query);
    message.metadata.authoritative = true;
    message.add_answer(Record::from_rdata(name(META_QUERY), ttl, RData::PTR(PTR(name(SERVICE_NAME)))));
    message.to_vec().unwrap_or_default()
}

/// Reads a received packet, keeping at most `max_addrs` addresses per
/// announced peer.
pub fn parse(bytes: &[u8], max_addrs: usize) -> Result<Packet, PacketError> {
    if bytes.len() > MAX_PACKET {
        return Err(PacketError::TooLarge(bytes.len()));
    }
    let message = Message::from_vec(bytes).map_err(|error| PacketError::Malformed(error.to_string()))?;
    let (service, meta) = (name(SERVICE_NAME), name(META_QUERY));
    if message.metadata.message_type == MessageType::Query {
        let asks = |wanted: &Name| {
            message
                .queries
                .iter()
                .any(|query| query.name() == wanted && matches!(query.query_type(), RecordType::PTR | RecordType::ANY))
        };
        return Ok(Packet::Query { peers: asks(&service), services: asks(&meta) });
    }
    let records = || message.answers.iter().chain(&message.additionals);
    let mut announcements = Vec::new();
    for answer in &message.answers {
        let RData::PTR(PTR(instance)) = &answer.data else { continue };
        if answer.name != service {
            continue;
        }
        let strings = records()
            .filter(|record| &record.name == instance)
            .filter_map(|record| if let RData::TXT(txt) = &record.data { Some(txt) } else { None })
            .flat_map(|txt| txt.txt_data.iter());
        if let Some(announcement) = announcement(strings, answer.ttl, max_addrs) {
            announcements.push(announcement);
        }
    }
    Ok(Packet::Response(announcements))
}

/// The peer the `dnsaddr=` strings of one instance describe: the peer id
/// of the first address, and the addresses that agree with it.
fn announcement<'a>(strings: impl Iterator<Item = &'a Box<[u8]>>, ttl: u32, max_addrs: usize) -> Option<Announcement> {
    let mut peer = None;
    let mut addrs = Vec::new();
    for string in strings {
        let Some(text) = std::str::from_utf8(string).ok().and_then(|text| text.strip_prefix("dnsaddr=")) else {
            continue;
        };
        let Ok(addr) = text.parse::<Multiaddr>() else { continue };
        let Some(id) = addr.peer_id() else { continue };
        if *peer.get_or_insert(id) != id {
            continue;
        }
        let addr = addr.without_peer_id();
        if addrs.len() < max_addrs && !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    Some(Announcement { peer: peer?, addrs, ttl: Duration::from_secs(u64::from(ttl)) })
}

/// A random peer name: 32 lower-case letters and digits (the spec's
/// advice; not the peer id, which may not fit a DNS label).
pub fn random_peer_name() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 32];
    if let Err(error) = strata_core::random::fill(&mut bytes) {
        tracing::warn!(%error, "mdns: no randomness for the peer name");
    }
    bytes.iter().map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()])).collect()
}

#[cfg(test)]
mod tests;
