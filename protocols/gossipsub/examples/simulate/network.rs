//! An in-process pubsub network on a virtual clock: `n` routers (any
//! [`Router`]: gossipsub's, floodsub's) on a seeded random sparse graph,
//! links with fixed seeded latencies, every node subscribed to one topic,
//! messages published by random nodes. Routers are driven through the
//! same sans-IO interface the real service uses; RPCs travel as bytes.
//!
//! ```text
//! event queue (time order, FIFO per link):
//!   Receive { to, from, rpc } ─▶ router.receive ─▶ actions
//!   Heartbeat { node }        ─▶ router.heartbeat ─▶ actions   (every second)
//!   Publish { node, message } ─▶ router.publish ─▶ actions
//! actions: Send ─▶ Receive after the link's latency (bytes counted, split
//!          into message and control bytes) · Deliver ─▶ recorded
//! ```
//!
//! What it measures, per message and subscriber: copies received (the
//! duplicates are copies − 1), first arrival in hops and in virtual time,
//! deliveries to the application (must be exactly one), and the control
//! bytes (everything in an RPC that is not a message) sent per message.

use std::{
    cmp::Reverse,
    collections::{BTreeSet, BinaryHeap, HashMap},
    time::{Duration, Instant},
};

use strata_core::{Keypair, Multiaddr, PeerId, multiaddr::Component};
use strata_pubsub::{Action, PeerConnection, Router, Rpc, SignaturePolicy, message};
use strata_testkit::sim::{Rng, percentile};

/// The topic every node subscribes to.
pub(crate) const TOPIC: &str = "sim";

/// What to simulate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    /// How many nodes.
    pub(crate) nodes: usize,
    /// The mean degree aimed at (a random spanning tree, then random edges).
    pub(crate) degree: usize,
    /// How many messages are published.
    pub(crate) messages: usize,
    /// Time between two publishes.
    pub(crate) publish_every: Duration,
    /// Link latencies are drawn from this range (milliseconds).
    pub(crate) latency_ms: (u64, u64),
    /// Seeds the graph, the latencies, the publishers and the routers.
    pub(crate) seed: u64,
}

/// What a run measured.
#[derive(Debug)]
pub(crate) struct Report {
    /// (subscriber, message) pairs not delivered to the application.
    pub(crate) missing: usize,
    /// Deliveries to the application beyond the first.
    pub(crate) extra: usize,
    /// Copies beyond the first, per (subscriber, message): mean and max.
    pub(crate) duplicates_mean: f64,
    /// See `duplicates_mean`.
    pub(crate) duplicates_max: u32,
    /// First arrival, in hops from the publisher: p50, p99.
    pub(crate) hops: (u32, u32),
    /// First arrival, in virtual time after the publish: p50, p99.
    pub(crate) latency: (Duration, Duration),
    /// Control bytes sent by all nodes, per message published (the
    /// publishing phase and its drain, not the warm-up).
    pub(crate) control_bytes_per_message: f64,
    /// Message bytes sent by all nodes, per message published.
    pub(crate) message_bytes_per_message: f64,
}

enum Event {
    Receive { to: usize, from: usize, rpc: Vec<u8>, hops: Vec<u32> },
    Heartbeat { node: usize },
    Publish { node: usize, message: usize },
}

struct Scheduled {
    at: Duration,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The graph: undirected edges, each with its dialer and latency.
fn graph(params: &Params, rng: &mut Rng) -> HashMap<(usize, usize), (Duration, bool)> {
    fn add(edges: &mut HashMap<(usize, usize), (Duration, bool)>, a: usize, b: usize, latency: Duration) {
        if a != b && !edges.contains_key(&(a, b)) {
            edges.insert((a, b), (latency, true)); // a dialed b
            edges.insert((b, a), (latency, false));
        }
    }
    let mut edges = HashMap::new();
    let (low, high) = params.latency_ms;
    for node in 1..params.nodes {
        let other = rng.below(node);
        let latency = Duration::from_millis(low + rng.next_u64() % (high - low + 1));
        add(&mut edges, node, other, latency);
    }
    let wanted = (params.nodes * params.degree).min(params.nodes * (params.nodes - 1));
    while edges.len() < wanted {
        let (a, b) = (rng.below(params.nodes), rng.below(params.nodes));
        let latency = Duration::from_millis(low + rng.next_u64() % (high - low + 1));
        add(&mut edges, a, b, latency);
    }
    edges
}

struct Net<R> {
    routers: Vec<R>,
    index: HashMap<PeerId, usize>,
    links: HashMap<(usize, usize), (Duration, bool)>,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    start: Instant,
    /// A message by its raw bytes, and by (author, seqno).
    by_raw: HashMap<Vec<u8>, usize>,
    by_author: HashMap<(PeerId, Vec<u8>), usize>,
    published_at: Vec<Duration>,
    /// Per node, per message: copies received, first arrival (hops,
    /// time), deliveries to the application.
    copies: Vec<Vec<u32>>,
    first_hops: Vec<Vec<u32>>,
    first_at: Vec<Vec<Duration>>,
    delivered: Vec<Vec<u32>>,
    counting: bool,
    control_bytes: u64,
    message_bytes: u64,
}

impl<R: Router> Net<R> {
    fn schedule(&mut self, at: Duration, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled { at, seq: self.seq, event }));
    }

    fn apply(&mut self, node: usize, at: Duration, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send { peer, rpc } => {
                    let Some(&to) = self.index.get(&peer) else { continue };
                    let Some(&(latency, _)) = self.links.get(&(node, to)) else { continue };
                    let Ok(decoded) = Rpc::decode(&rpc) else { continue };
                    let mut hops = Vec::new();
                    let mut message_bytes = 0;
                    for raw in &decoded.publish {
                        message_bytes += raw.len();
                        let carried = self.by_raw.get(raw).map_or(0, |m| self.first_hops[node][*m] + 1);
                        hops.push(carried);
                    }
                    if self.counting {
                        self.message_bytes += message_bytes as u64;
                        self.control_bytes += (rpc.len() - message_bytes) as u64;
                    }
                    self.schedule(at + latency, Event::Receive { to, from: node, rpc, hops });
                }
                Action::Deliver(delivered) => {
                    let key = delivered.source.zip(delivered.seqno);
                    if let Some(m) = key.and_then(|key| self.by_author.get(&key)) {
                        self.delivered[node][*m] += 1;
                    }
                }
                _ => {}
            }
        }
    }

    fn step(&mut self, scheduled: Scheduled, keys: &[Keypair]) {
        let Scheduled { at, event, .. } = scheduled;
        let now = self.start + at;
        match event {
            Event::Receive { to, from, rpc, hops } => {
                if let Ok(decoded) = Rpc::decode(&rpc) {
                    for (raw, hops) in decoded.publish.iter().zip(hops) {
                        let Some(&m) = self.by_raw.get(raw) else { continue };
                        self.copies[to][m] += 1;
                        if self.copies[to][m] == 1 {
                            self.first_hops[to][m] = hops;
                            self.first_at[to][m] = at.saturating_sub(self.published_at[m]);
                        }
                    }
                }
                let (actions, _) = self.routers[to].receive(keys[from].peer_id(), &rpc, now);
                self.apply(to, at, actions);
            }
            Event::Heartbeat { node } => {
                let actions = self.routers[node].heartbeat(now);
                self.apply(node, at, actions);
                self.schedule(at + Duration::from_secs(1), Event::Heartbeat { node });
            }
            Event::Publish { node, message: m } => {
                let key = &keys[node];
                let data = format!("message {m} from node {node}");
                let seqno = m as u64;
                let (raw, published) = message::publish(
                    SignaturePolicy::StrictSign,
                    &key.public(),
                    |bytes| key.sign(bytes),
                    seqno,
                    TOPIC,
                    data.as_bytes(),
                );
                self.by_raw.insert(raw.clone(), m);
                self.by_author.insert((key.peer_id(), seqno.to_be_bytes().to_vec()), m);
                self.published_at[m] = at;
                self.copies[node][m] = 1;
                self.delivered[node][m] = 1; // a publisher is not delivered its own message
                let actions = self.routers[node].publish(raw, &published, key.peer_id(), now);
                self.apply(node, at, actions);
            }
        }
    }
}

/// Runs the simulation with a router per node made by `router(node)`,
/// announcing the protocol id `protocol` on every link.
pub(crate) fn run<R: Router>(params: Params, protocol: &str, router: impl FnMut(usize) -> R) -> Report {
    let mut rng = Rng::new(params.seed);
    let links = graph(&params, &mut rng);
    let keys: Vec<Keypair> = (0..params.nodes)
        .map(|n| {
            let mut secret = [0u8; 32];
            secret[..8].copy_from_slice(&(n as u64 + 1).to_be_bytes());
            secret[8..16].copy_from_slice(&params.seed.to_be_bytes());
            Keypair::ed25519_from_secret(secret)
        })
        .collect();
    let mut net = Net {
        routers: (0..params.nodes).map(router).collect(),
        index: keys.iter().enumerate().map(|(n, key)| (key.peer_id(), n)).collect(),
        links,
        queue: BinaryHeap::new(),
        seq: 0,
        start: Instant::now(),
        by_raw: HashMap::new(),
        by_author: HashMap::new(),
        published_at: vec![Duration::ZERO; params.messages],
        copies: vec![vec![0; params.messages]; params.nodes],
        first_hops: vec![vec![0; params.messages]; params.nodes],
        first_at: vec![vec![Duration::ZERO; params.messages]; params.nodes],
        delivered: vec![vec![0; params.messages]; params.nodes],
        counting: false,
        control_bytes: 0,
        message_bytes: 0,
    };
    // Connections (each node its own IP, as on a real network), then
    // every node subscribes.
    let mut edges: Vec<(usize, usize, bool)> =
        net.links.iter().map(|((a, b), (_, dialer))| (*a, *b, *dialer)).collect();
    edges.sort_unstable();
    for (a, b, outbound) in edges {
        let [.., high, low] = u32::try_from(b).unwrap_or(u32::MAX).to_be_bytes();
        let remote_addr = Multiaddr::empty().with(Component::Ip4([10, high, low, 1].into())).with(Component::Tcp(4001));
        let peer = keys[b].peer_id();
        let actions = net.routers[a].peer_connected(peer, &PeerConnection { remote_addr, outbound }, net.start);
        net.routers[a].peer_protocol(peer, protocol);
        net.apply(a, Duration::ZERO, actions);
    }
    for node in 0..params.nodes {
        let actions = net.routers[node].set_local(TOPIC, true, net.start);
        net.apply(node, Duration::ZERO, actions);
        let first_beat = Duration::from_millis(rng.next_u64() % 1000);
        net.schedule(first_beat, Event::Heartbeat { node });
    }
    let warm_up = Duration::from_secs(5);
    for m in 0..params.messages {
        let publisher = rng.below(params.nodes);
        let at = warm_up + params.publish_every * u32::try_from(m).unwrap_or(u32::MAX);
        net.schedule(at, Event::Publish { node: publisher, message: m });
    }
    let end =
        warm_up + params.publish_every * u32::try_from(params.messages).unwrap_or(u32::MAX) + Duration::from_secs(10);
    while let Some(Reverse(next)) = net.queue.pop() {
        if next.at > end {
            break;
        }
        net.counting = next.at >= warm_up;
        net.step(next, &keys);
    }
    report(&net, params)
}

fn report<R>(net: &Net<R>, params: Params) -> Report {
    let (mut missing, mut extra, mut duplicates_total, mut duplicates_max) = (0, 0, 0u64, 0);
    let (mut hops, mut latencies) = (Vec::new(), Vec::new());
    for node in 0..params.nodes {
        for m in 0..params.messages {
            match net.delivered[node][m] {
                0 => missing += 1,
                n => extra += (n - 1) as usize,
            }
            if net.first_hops[node][m] == 0 {
                continue; // the publisher itself
            }
            let duplicates = net.copies[node][m].saturating_sub(1);
            duplicates_total += u64::from(duplicates);
            duplicates_max = duplicates_max.max(duplicates);
            hops.push(net.first_hops[node][m]);
            latencies.push(net.first_at[node][m]);
        }
    }
    hops.sort_unstable();
    latencies.sort_unstable();
    let receivers = hops.len().max(1) as f64;
    let messages = params.messages.max(1) as f64;
    Report {
        missing,
        extra,
        duplicates_mean: duplicates_total as f64 / receivers,
        duplicates_max,
        hops: (percentile(&hops, 50), percentile(&hops, 99)),
        latency: (percentile(&latencies, 50), percentile(&latencies, 99)),
        control_bytes_per_message: net.control_bytes as f64 / messages,
        message_bytes_per_message: net.message_bytes as f64 / messages,
    }
}

/// The graph's edges (each direction counted once), for the report.
pub(crate) fn edge_count(params: &Params) -> usize {
    graph(params, &mut Rng::new(params.seed)).len() / 2
}

/// Nodes in the graph reachable from node 0 (all of them: it is built on
/// a spanning tree).
pub(crate) fn reachable(params: &Params) -> usize {
    let edges = graph(params, &mut Rng::new(params.seed));
    let mut seen = BTreeSet::from([0]);
    let mut frontier = vec![0];
    while let Some(node) = frontier.pop() {
        for (a, b) in edges.keys() {
            if *a == node && seen.insert(*b) {
                frontier.push(*b);
            }
        }
    }
    seen.len()
}
